"""REST canonicalizers for the backfill: one REST item → zero or more facts.

Shapes follow GitHub's REST API (list pulls / pull detail, reviews, issues, issue comments, pulls
comments, commits list / commit detail, releases). `repo` is the repository object the sync job
fetched in its `repo` stage (or a `RepoRef`). Each function returns a list so the sync worker can
simply extend; none raises, whatever the item's shape. Window filtering beyond `since` (`until`,
"edited in the window") is the worker's business.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from gitpulse_app.normalization.canonicalize import (
    DEFAULT_GITHUB_URL,
    as_repo_ref,
    commit_fact,
    git_actor,
    issue_comment_fact,
    issue_fact,
    pick_actor,
    pull_is_merged,
    pull_request_fact,
    release_fact,
    review_comment_fact,
    review_fact,
    user_actor,
)
from gitpulse_app.normalization.models import FactType, Metrics, NormalizedFact, RepoRef
from gitpulse_app.normalization.readers import (
    first_timestamp,
    get_bool,
    get_dict,
    get_int,
    get_str,
    get_text,
)

RepoInput = RepoRef | Mapping[str, Any]

_PULL_API_URL = re.compile(r"/pulls/(\d+)/?$")
_PULL_HTML_URL = re.compile(r"/pull/(\d+)(?:[/#?]|$)")
_ISSUE_API_URL = re.compile(r"/issues/(\d+)/?$")
_ISSUE_HTML_URL = re.compile(r"/(?:issues|pull)/(\d+)(?:[/#?]|$)")


def canonicalize_rest_pull(
    pull: Mapping[str, Any],
    repo: RepoInput,
    since: datetime | None = None,
    *,
    github_url: str = DEFAULT_GITHUB_URL,
) -> list[NormalizedFact]:
    """Facts for a pull request from the list or detail endpoint.

    `pr_opened` when `created_at ≥ since`, `pr_merged` when `merged_at ≥ since` (actor
    `merged_by`, only in the detail, else the author), `pr_closed` when `closed_at ≥ since` and not
    merged. Metrics come from the detail's `additions`, `deletions`, `changed_files`; the list has
    none.

    Args:
        pull: A pull request object.
        repo: The repository.
        since: Window start; None keeps every fact.
        github_url: Web base for fallback URLs.

    Returns:
        Zero to two facts (opened, then merged or closed).
    """
    if not isinstance(pull, Mapping):
        return []
    ref = as_repo_ref(repo)
    author = user_actor(pull.get("user"))
    facts = []
    if _since_ok(pull, "created_at", since):
        ts = first_timestamp(pull, "created_at", "updated_at")
        facts.append(pull_request_fact(FactType.PR_OPENED, pull, ref, author, ts, github_url))
    if pull_is_merged(pull):
        if _since_ok(pull, "merged_at", since):
            actor = pick_actor(user_actor(pull.get("merged_by")), author)
            ts = first_timestamp(pull, "merged_at", "closed_at", "updated_at")
            facts.append(pull_request_fact(FactType.PR_MERGED, pull, ref, actor, ts, github_url))
    elif _since_ok(pull, "closed_at", since, required=True):
        ts = first_timestamp(pull, "closed_at", "updated_at")
        facts.append(pull_request_fact(FactType.PR_CLOSED, pull, ref, author, ts, github_url))
    return [fact for fact in facts if fact is not None]


def canonicalize_rest_review(
    review: Mapping[str, Any],
    pull: Mapping[str, Any],
    repo: RepoInput,
    *,
    github_url: str = DEFAULT_GITHUB_URL,
) -> list[NormalizedFact]:
    """The `review_submitted` fact for one item of `/pulls/{n}/reviews` (none while PENDING).

    Args:
        review: A review object (`state` in upper case, lower-cased in the fact).
        pull: The pull request it belongs to (number, title, html_url, updated_at are read).
        repo: The repository.
        github_url: Web base for fallback URLs.
    """
    if not isinstance(review, Mapping) or not isinstance(pull, Mapping):
        return []
    return _listed(review_fact(review, pull, as_repo_ref(repo), github_url))


def canonicalize_rest_issue(
    issue: Mapping[str, Any],
    repo: RepoInput,
    since: datetime | None = None,
    *,
    github_url: str = DEFAULT_GITHUB_URL,
) -> list[NormalizedFact]:
    """Facts for an item of `/issues`: `issue_opened` when `created_at ≥ since`, `issue_closed` when
    `closed_at ≥ since` (actor `closed_by`, else the author). Pull requests (items with a
    `pull_request` key) yield nothing; the pulls stage covers them.
    """
    if not isinstance(issue, Mapping) or issue.get("pull_request") is not None:
        return []
    ref = as_repo_ref(repo)
    author = user_actor(issue.get("user"))
    facts = []
    if _since_ok(issue, "created_at", since):
        ts = first_timestamp(issue, "created_at", "updated_at")
        facts.append(issue_fact(FactType.ISSUE_OPENED, issue, ref, author, ts, github_url))
    if _since_ok(issue, "closed_at", since, required=True):
        actor = pick_actor(user_actor(issue.get("closed_by")), author)
        ts = first_timestamp(issue, "closed_at", "updated_at")
        facts.append(issue_fact(FactType.ISSUE_CLOSED, issue, ref, actor, ts, github_url))
    return [fact for fact in facts if fact is not None]


def canonicalize_rest_issue_comment(
    comment: Mapping[str, Any], repo: RepoInput
) -> list[NormalizedFact]:
    """The `issue_comment` fact for an item of `/issues/comments`.

    The issue number comes from `issue_url`; the target is "pull request" when `html_url` contains
    `/pull/`.
    """
    if not isinstance(comment, Mapping):
        return []
    html_url = get_str(comment, "html_url")
    number = _number_in_url(get_str(comment, "issue_url"), _ISSUE_API_URL)
    if number is None:
        number = _number_in_url(html_url, _ISSUE_HTML_URL)
    is_pull_request = html_url is not None and "/pull/" in html_url
    actor = user_actor(comment.get("user"))
    return _listed(issue_comment_fact(comment, number, is_pull_request, as_repo_ref(repo), actor))


def canonicalize_rest_review_comment(
    comment: Mapping[str, Any], repo: RepoInput
) -> list[NormalizedFact]:
    """The `review_comment` fact for an item of `/pulls/comments` (PR number from
    `pull_request_url`, else `html_url`)."""
    if not isinstance(comment, Mapping):
        return []
    number = _number_in_url(get_str(comment, "pull_request_url"), _PULL_API_URL)
    if number is None:
        number = _number_in_url(get_str(comment, "html_url"), _PULL_HTML_URL)
    actor = user_actor(comment.get("user"))
    return _listed(review_comment_fact(comment, number, as_repo_ref(repo), actor))


def canonicalize_rest_commit(
    commit: Mapping[str, Any],
    repo: RepoInput,
    *,
    github_url: str = DEFAULT_GITHUB_URL,
) -> list[NormalizedFact]:
    """The `commit` fact for an item of `/commits` or the `/commits/{sha}` detail.

    The actor is the linked GitHub user (`author`), else the git identity in `commit.author` (a
    git-only actor). Metrics only from the detail: `stats.additions`, `stats.deletions`,
    `len(files)`.
    """
    if not isinstance(commit, Mapping):
        return []
    git = get_dict(commit, "commit")
    git_author = get_dict(git, "author")
    stats = get_dict(commit, "stats")
    files = commit.get("files")
    metrics = Metrics.of(
        additions=get_int(stats, "additions"),
        deletions=get_int(stats, "deletions"),
        files_changed=len(files) if isinstance(files, list) else None,
    )
    return _listed(
        commit_fact(
            get_text(commit, "sha"),
            get_str(git, "message"),
            as_repo_ref(repo),
            # The git identity is read only without a linked user (`pick_actor`, lazily).
            user_actor(commit.get("author")) or git_actor(git_author),
            first_timestamp(git_author, "date"),
            github_url,
            metrics=metrics,
            node_id=get_text(commit, "node_id"),
        )
    )


def canonicalize_rest_release(
    release: Mapping[str, Any],
    repo: RepoInput,
    since: datetime | None = None,
    *,
    github_url: str = DEFAULT_GITHUB_URL,
) -> list[NormalizedFact]:
    """The `release` fact for an item of `/releases`: not a draft, `published_at ≥ since`."""
    if not isinstance(release, Mapping) or get_bool(release, "draft") is True:
        return []
    if not _since_ok(release, "published_at", since):
        return []
    ts = first_timestamp(release, "published_at", "created_at")
    actor = user_actor(release.get("author"))
    return _listed(release_fact(release, as_repo_ref(repo), actor, ts, github_url))


def _since_ok(
    item: Mapping[str, Any], key: str, since: datetime | None, *, required: bool = False
) -> bool:
    """Whether `item[key] ≥ since`; without `since`, whether the timestamp exists when required."""
    moment = first_timestamp(item, key)
    if since is None:
        return moment is not None or not required
    return moment is not None and moment >= _since_utc(since)


def _number_in_url(url: str | None, pattern: re.Pattern[str]) -> int | None:
    match = pattern.search(url) if url else None
    return int(match.group(1)) if match else None


def _since_utc(since: datetime) -> datetime:
    # A naive `since` is taken as UTC rather than refused: the window came from our own clock.
    return since.replace(tzinfo=UTC) if since.tzinfo is None else since.astimezone(UTC)


def _listed(fact: NormalizedFact | None) -> list[NormalizedFact]:
    return [] if fact is None else [fact]
