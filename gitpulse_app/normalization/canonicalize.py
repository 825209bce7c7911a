"""Shared pieces of the canonicalizers: references and a fact builder per GitHub object.

Webhook payloads (`canonicalize_webhook.py`) and REST responses (`canonicalize_rest.py`) carry the
same objects in slightly different envelopes; both pick the actor and timestamp from the fields
their fact type names, then build the fact here, so a webhook and a backfill sighting render the
same text and URL.

Every field is read through the typed readers of `readers.py`, so no input shape can make a
canonicalizer raise: a missing repository, actor, timestamp or source URL just means no fact.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gitpulse_app.normalization.models import (
    NO_METRICS,
    ActorRef,
    FactType,
    Metrics,
    NormalizedFact,
    RepoRef,
)
from gitpulse_app.normalization.readers import (
    first_timestamp,
    get_bool,
    get_dict,
    get_int,
    get_list,
    get_str,
    get_text,
    id_text,
    parse_timestamp,
    stored_body,
)
from gitpulse_app.normalization.text import is_blank

DEFAULT_GITHUB_URL = "https://github.com"


# References ------------------------------------------------------------------------------------


def repo_ref(repo: Any) -> RepoRef | None:
    """Builds the repository reference: `id` plus `full_name` or `owner.login` + `name`."""
    gh_id = get_int(repo, "id")
    if gh_id is None:
        return None
    full_name = get_text(repo, "full_name")
    owner = get_text(get_dict(repo, "owner"), "login")
    name = get_text(repo, "name")
    if full_name is None:
        if owner is None or name is None:
            return None
        full_name = f"{owner}/{name}"
    split_owner, _, split_name = full_name.partition("/")
    return RepoRef(
        gh_id=gh_id,
        full_name=full_name,
        owner=owner or split_owner,
        name=name or split_name,
        raw=dict(repo),
    )


def as_repo_ref(repo: RepoRef | Mapping[str, Any] | None) -> RepoRef | None:
    """Accepts a `RepoRef` or a repository object as GitHub returns it."""
    return repo if isinstance(repo, RepoRef) else repo_ref(repo)


def user_actor(user: Any) -> ActorRef | None:
    """The actor for a GitHub user object; None without a login."""
    login = get_text(user, "login")
    if login is None:
        return None
    return _user_actor(
        get_int(user, "id"), login, get_text(user, "node_id"), get_text(user, "avatar_url")
    )


@functools.lru_cache(maxsize=1024, typed=True)
def _user_actor(
    gh_id: int | None, login: str, node_id: str | None, avatar_url: str | None
) -> ActorRef:
    # One shared (immutable) reference per account: a batch names the same few people again and
    # again, and thousands of equal copies only feed the garbage collector.
    return ActorRef(gh_id=gh_id, login=login, node_id=node_id, avatar_url=avatar_url)


def git_actor(identity: Any) -> ActorRef | None:
    """The git-only actor for a commit's `{name, email}`; None without an email."""
    email = get_text(identity, "email")
    if email is None:
        return None
    return ActorRef(git_email=email, git_name=get_text(identity, "name"))


def pick_actor(*candidates: ActorRef | None) -> ActorRef | None:
    """The first available actor (`a ?? b`)."""
    return next((actor for actor in candidates if actor is not None), None)


def base_url(github_url: str) -> str:
    """The web base without a trailing slash."""
    return github_url.rstrip("/")


# Fact builders -----------------------------------------------------------------------------------


def make_fact(
    fact_type: FactType,
    repo: RepoRef | None,
    actor: ActorRef | None,
    ts: datetime | None,
    source_url: str | None,
    *,
    metadata: dict[str, Any],
    metrics: Metrics | None = None,
    gh_id: str | None = None,
    gh_node_id: str | None = None,
    source_updated_at: datetime | None = None,
) -> NormalizedFact | None:
    """Builds a fact, or None when the repository, actor, timestamp or source URL is missing."""
    if repo is None or actor is None or ts is None or is_blank(source_url):
        return None
    if not actor.has_identity or actor.display_login is None:
        return None
    return NormalizedFact(
        type=fact_type.value,
        repo=repo,
        actor=actor,
        ts=ts,
        source_url=source_url,
        metrics=metrics or NO_METRICS,
        metadata=metadata,
        gh_id=gh_id,
        gh_node_id=gh_node_id,
        source_updated_at=source_updated_at or ts,
    )


def pull_is_merged(pull: Mapping[str, Any]) -> bool:
    """`merged` when sent (webhooks, PR detail), else whether `merged_at` is set (list item)."""
    merged = get_bool(pull, "merged")
    if merged is not None:
        return merged
    return parse_timestamp(pull.get("merged_at")) is not None


def _numbered_url(obj: Any, repo: RepoRef, github_url: str, segment: str) -> str | None:
    """The object's `html_url`, else `{GITHUB_URL}/{full_name}/{segment}/{number}`."""
    number = get_int(obj, "number")
    if number is None:
        return get_text(obj, "html_url")
    return get_text(obj, "html_url") or f"{base_url(github_url)}/{repo.full_name}/{segment}/{number}"


def pull_url(pull: Any, repo: RepoRef, github_url: str) -> str | None:
    """The PR's `html_url`, else `{GITHUB_URL}/{full_name}/pull/{n}`."""
    return _numbered_url(pull, repo, github_url, "pull")


def pull_request_fact(
    fact_type: FactType,
    pull: Mapping[str, Any],
    repo: RepoRef | None,
    actor: ActorRef | None,
    ts: datetime | None,
    github_url: str,
) -> NormalizedFact | None:
    """A `pr_opened`, `pr_merged` or `pr_closed` fact for a pull request object."""
    number = get_int(pull, "number")
    if repo is None or number is None:
        return None
    metadata = {
        "number": number,
        "title": get_str(pull, "title"),
        "state": get_str(pull, "state"),
        "merged": pull_is_merged(pull),
        "draft": get_bool(pull, "draft"),
        "base_branch": get_str(get_dict(pull, "base"), "ref"),
        "head_branch": get_str(get_dict(pull, "head"), "ref"),
        "body": stored_body(pull),
    }
    metrics = Metrics.of(
        additions=get_int(pull, "additions"),
        deletions=get_int(pull, "deletions"),
        files_changed=get_int(pull, "changed_files"),
    )
    return make_fact(
        fact_type,
        repo,
        actor,
        ts,
        pull_url(pull, repo, github_url),
        metadata=metadata,
        metrics=metrics,
        gh_id=id_text(pull, "id"),
        gh_node_id=get_text(pull, "node_id"),
        source_updated_at=first_timestamp(pull, "updated_at"),
    )


def review_fact(
    review: Mapping[str, Any], pull: Mapping[str, Any], repo: RepoRef | None, github_url: str
) -> NormalizedFact | None:
    """A `review_submitted` fact; pending (unsubmitted) reviews yield none."""
    number = get_int(pull, "number")
    review_id = get_int(review, "id")
    state = get_text(review, "state")
    if repo is None or number is None or (state is not None and state.lower() == "pending"):
        return None
    pr_url = pull_url(pull, repo, github_url)
    fallback = None if review_id is None else f"{pr_url}#pullrequestreview-{review_id}"
    metadata: dict[str, Any] = {
        "pr_number": number,
        "review_id": review_id,
        "state": state.lower() if state else None,
        "body": stored_body(review),
    }
    title = get_str(pull, "title")
    if title is not None:
        metadata["pr_title"] = title
    ts = first_timestamp(review, "submitted_at") or first_timestamp(pull, "updated_at")
    return make_fact(
        FactType.REVIEW_SUBMITTED,
        repo,
        user_actor(review.get("user")),
        ts,
        get_text(review, "html_url") or fallback,
        metadata=metadata,
        gh_id=id_text(review, "id"),
        gh_node_id=get_text(review, "node_id"),
        source_updated_at=first_timestamp(review, "updated_at"),
    )


def review_comment_fact(
    comment: Mapping[str, Any],
    pr_number: int | None,
    repo: RepoRef | None,
    actor: ActorRef | None,
) -> NormalizedFact | None:
    """A `review_comment` fact (a comment on a PR's diff)."""
    if pr_number is None:
        return None
    metadata = {
        "pr_number": pr_number,
        "comment_id": get_int(comment, "id"),
        "path": get_str(comment, "path"),
        "body": stored_body(comment),
    }
    return make_fact(
        FactType.REVIEW_COMMENT,
        repo,
        actor,
        first_timestamp(comment, "created_at"),
        get_text(comment, "html_url"),
        metadata=metadata,
        gh_id=id_text(comment, "id"),
        gh_node_id=get_text(comment, "node_id"),
        source_updated_at=first_timestamp(comment, "updated_at"),
    )


def issue_url(issue: Any, repo: RepoRef, github_url: str) -> str | None:
    """The issue's `html_url`, else `{GITHUB_URL}/{full_name}/issues/{n}`."""
    return _numbered_url(issue, repo, github_url, "issues")


def issue_fact(
    fact_type: FactType,
    issue: Mapping[str, Any],
    repo: RepoRef | None,
    actor: ActorRef | None,
    ts: datetime | None,
    github_url: str,
) -> NormalizedFact | None:
    """An `issue_opened` or `issue_closed` fact."""
    number = get_int(issue, "number")
    if repo is None or number is None:
        return None
    labels = []
    for label in get_list(issue, "labels") or []:
        name = label if isinstance(label, str) else get_str(label, "name")
        if name is not None:
            labels.append(name)
    metadata = {
        "issue_number": number,
        "title": get_str(issue, "title"),
        "state": get_str(issue, "state"),
        "body": stored_body(issue),
        "labels": labels,
    }
    return make_fact(
        fact_type,
        repo,
        actor,
        ts,
        issue_url(issue, repo, github_url),
        metadata=metadata,
        gh_id=id_text(issue, "id"),
        gh_node_id=get_text(issue, "node_id"),
        source_updated_at=first_timestamp(issue, "updated_at"),
    )


def issue_comment_fact(
    comment: Mapping[str, Any],
    issue_number: int | None,
    is_pull_request: bool,
    repo: RepoRef | None,
    actor: ActorRef | None,
    issue_title: str | None = None,
) -> NormalizedFact | None:
    """An `issue_comment` fact (a conversation comment on an issue or a pull request)."""
    if issue_number is None:
        return None
    metadata: dict[str, Any] = {
        "issue_number": issue_number,
        "is_pull_request": is_pull_request,
        "comment_id": get_int(comment, "id"),
        "body": stored_body(comment),
    }
    if issue_title is not None:
        metadata["issue_title"] = issue_title
    return make_fact(
        FactType.ISSUE_COMMENT,
        repo,
        actor,
        first_timestamp(comment, "created_at"),
        get_text(comment, "html_url"),
        metadata=metadata,
        gh_id=id_text(comment, "id"),
        gh_node_id=get_text(comment, "node_id"),
        source_updated_at=first_timestamp(comment, "updated_at"),
    )


def commit_fact(
    sha: str | None,
    message: str | None,
    repo: RepoRef | None,
    actor: ActorRef | None,
    ts: datetime | None,
    github_url: str,
    *,
    metrics: Metrics | None = None,
    branch: str | None = None,
    node_id: str | None = None,
) -> NormalizedFact | None:
    """A `commit` fact; its URL is always `{GITHUB_URL}/{full_name}/commit/{sha}`."""
    if repo is None or is_blank(sha):
        return None
    metadata: dict[str, Any] = {"sha": sha, "message": message}
    if branch is not None:
        metadata["branch"] = branch
    return make_fact(
        FactType.COMMIT,
        repo,
        actor,
        ts,
        f"{base_url(github_url)}/{repo.full_name}/commit/{sha}",
        metadata=metadata,
        metrics=metrics,
        gh_id=sha,
        gh_node_id=node_id,
    )


def release_fact(
    release: Mapping[str, Any],
    repo: RepoRef | None,
    actor: ActorRef | None,
    ts: datetime | None,
    github_url: str,
) -> NormalizedFact | None:
    """A `release` fact; the URL falls back to `{GITHUB_URL}/{full_name}/releases/tag/{tag}`."""
    tag = get_text(release, "tag_name")
    if repo is None or tag is None:
        return None
    fallback = f"{base_url(github_url)}/{repo.full_name}/releases/tag/{tag}"
    metadata = {
        "tag_name": tag,
        "name": get_str(release, "name"),
        "prerelease": get_bool(release, "prerelease"),
        "body": stored_body(release),
    }
    return make_fact(
        FactType.RELEASE,
        repo,
        actor,
        ts,
        get_text(release, "html_url") or fallback,
        metadata=metadata,
        gh_id=id_text(release, "id"),
        gh_node_id=get_text(release, "node_id"),
        source_updated_at=first_timestamp(release, "updated_at"),
    )
