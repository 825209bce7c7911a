"""Webhook canonicalizers: one GitHub delivery → zero or more normalized facts.

Only the seven fact events and the actions `_HANDLERS` lists yield facts; every other event or
action (labeled, edited issue, dismissed review, deleted comment, release created/edited, …) yields
none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from gitpulse_app.normalization.canonicalize import (
    DEFAULT_GITHUB_URL,
    commit_fact,
    git_actor,
    issue_comment_fact,
    issue_fact,
    pick_actor,
    pull_is_merged,
    pull_request_fact,
    release_fact,
    repo_ref,
    review_comment_fact,
    review_fact,
    user_actor,
)
from gitpulse_app.normalization.models import ActorRef, FactType, NormalizedFact, RepoRef
from gitpulse_app.normalization.readers import (
    first_timestamp,
    get_dict,
    get_int,
    get_list,
    get_str,
    get_text,
)

FACT_EVENTS = frozenset(
    {
        "pull_request",
        "pull_request_review",
        "pull_request_review_comment",
        "issues",
        "issue_comment",
        "push",
        "release",
    }
)
_OPENING_PR_ACTIONS = frozenset({"opened", "reopened", "ready_for_review"})
_BRANCH_PREFIX = "refs/heads/"

_Handler = Callable[[Mapping[str, Any], RepoRef, str], Iterator[NormalizedFact | None]]


def canonicalize_webhook(
    event: str, payload: Mapping[str, Any], github_url: str = DEFAULT_GITHUB_URL
) -> list[NormalizedFact]:
    """Turns one webhook delivery into normalized facts.

    Never raises, whatever the payload's shape; run `check_webhook_schema` first to tell a malformed
    payload from one that simply yields nothing.

    Args:
        event: The `X-GitHub-Event` header.
        payload: The parsed JSON body.
        github_url: Web base for fallback and commit URLs (`GITHUB_URL`).

    Returns:
        The facts in payload order (push: one per distinct commit); empty for other events and
        actions.
    """
    handler = _HANDLERS.get(event)
    if handler is None or not isinstance(payload, Mapping):
        return []
    repo = repo_ref(payload.get("repository"))
    if repo is None:
        return []
    return [fact for fact in handler(payload, repo, github_url) if fact is not None]


def _sender(payload: Mapping[str, Any]) -> ActorRef | None:
    return user_actor(payload.get("sender"))


def _pull_request(
    payload: Mapping[str, Any], repo: RepoRef, github_url: str
) -> Iterator[NormalizedFact | None]:
    action = get_str(payload, "action")
    pull = get_dict(payload, "pull_request")
    if pull is None:
        return
    if action in _OPENING_PR_ACTIONS:
        actor = pick_actor(_sender(payload), user_actor(pull.get("user")))
        ts = first_timestamp(pull, "created_at", "updated_at")
        yield pull_request_fact(FactType.PR_OPENED, pull, repo, actor, ts, github_url)
    elif action == "closed" and pull_is_merged(pull):
        ts = first_timestamp(pull, "merged_at", "closed_at", "updated_at")
        yield pull_request_fact(FactType.PR_MERGED, pull, repo, _sender(payload), ts, github_url)
    elif action == "closed":
        ts = first_timestamp(pull, "closed_at", "updated_at")
        yield pull_request_fact(FactType.PR_CLOSED, pull, repo, _sender(payload), ts, github_url)


def _pull_request_review(
    payload: Mapping[str, Any], repo: RepoRef, github_url: str
) -> Iterator[NormalizedFact | None]:
    review = get_dict(payload, "review")
    pull = get_dict(payload, "pull_request")
    if get_str(payload, "action") == "submitted" and review is not None and pull is not None:
        yield review_fact(review, pull, repo, github_url)


def _pull_request_review_comment(
    payload: Mapping[str, Any], repo: RepoRef, github_url: str
) -> Iterator[NormalizedFact | None]:
    comment = get_dict(payload, "comment")
    pull = get_dict(payload, "pull_request")
    if get_str(payload, "action") in ("created", "edited") and comment is not None:
        actor = pick_actor(user_actor(comment.get("user")), _sender(payload))
        yield review_comment_fact(comment, get_int(pull, "number"), repo, actor)


def _issues(
    payload: Mapping[str, Any], repo: RepoRef, github_url: str
) -> Iterator[NormalizedFact | None]:
    action = get_str(payload, "action")
    issue = get_dict(payload, "issue")
    if issue is None:
        return
    actor = pick_actor(_sender(payload), user_actor(issue.get("user")))
    if action in ("opened", "reopened"):
        ts = first_timestamp(issue, "created_at", "updated_at")
        yield issue_fact(FactType.ISSUE_OPENED, issue, repo, actor, ts, github_url)
    elif action == "closed":
        ts = first_timestamp(issue, "closed_at", "updated_at")
        yield issue_fact(FactType.ISSUE_CLOSED, issue, repo, actor, ts, github_url)


def _issue_comment(
    payload: Mapping[str, Any], repo: RepoRef, github_url: str
) -> Iterator[NormalizedFact | None]:
    comment = get_dict(payload, "comment")
    issue = get_dict(payload, "issue")
    if get_str(payload, "action") in ("created", "edited") and comment is not None:
        actor = pick_actor(user_actor(comment.get("user")), _sender(payload))
        is_pull_request = issue is not None and issue.get("pull_request") is not None
        yield issue_comment_fact(
            comment,
            get_int(issue, "number"),
            is_pull_request,
            repo,
            actor,
            issue_title=get_str(issue, "title"),
        )


def _push(
    payload: Mapping[str, Any], repo: RepoRef, github_url: str
) -> Iterator[NormalizedFact | None]:
    ref = get_str(payload, "ref")
    branch = ref[len(_BRANCH_PREFIX) :] if ref and ref.startswith(_BRANCH_PREFIX) else None
    sender = _sender(payload)
    seen: set[str] = set()
    for commit in get_list(payload, "commits") or []:
        sha = get_text(commit, "id")
        # `distinct: false` marks a commit already pushed elsewhere (e.g. another branch).
        if sha is None or sha in seen or commit.get("distinct") is False:
            continue
        seen.add(sha)
        yield commit_fact(
            sha,
            get_str(commit, "message"),
            repo,
            _push_author(get_dict(commit, "author"), sender),
            first_timestamp(commit, "timestamp"),
            github_url,
            branch=branch,
        )


def _push_author(author: Mapping[str, Any] | None, sender: ActorRef | None) -> ActorRef | None:
    username = get_text(author, "username")
    if username is None:
        return git_actor(author)
    # The pusher is often the author: then the sender object adds the gh_id to the bare login.
    if sender is not None and sender.login is not None and sender.login.lower() == username.lower():
        return sender
    return ActorRef(login=username)


def _release(
    payload: Mapping[str, Any], repo: RepoRef, github_url: str
) -> Iterator[NormalizedFact | None]:
    release = get_dict(payload, "release")
    if get_str(payload, "action") == "published" and release is not None:
        actor = pick_actor(user_actor(release.get("author")), _sender(payload))
        ts = first_timestamp(release, "published_at", "created_at")
        yield release_fact(release, repo, actor, ts, github_url)


_HANDLERS: dict[str, _Handler] = {
    "pull_request": _pull_request,
    "pull_request_review": _pull_request_review,
    "pull_request_review_comment": _pull_request_review_comment,
    "issues": _issues,
    "issue_comment": _issue_comment,
    "push": _push,
    "release": _release,
}
