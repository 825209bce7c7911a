"""A GitHub world for sync tests: repositories full of REST items, served by the fake GitHub.

Items are built with the REST factories of `tests.support.payloads` (the shapes of the recorded
webhook objects and of GitHub's REST docs), re-pointed at each repository. `serve` answers every
endpoint the backfill reads the way GitHub does: `since`/`until` filters, the documented sort
orders, `page` with `Link` headers (`next`, `last`), and details by number or sha. `expected_facts`
says which facts a correct backfill stores for a window, computed from the items alone.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from tests.support.fake_github import FakeGitHub
from tests.support.fake_http import FakeResponse, RecordedRequest, Route
from tests.support.payloads import (
    rest_commit,
    rest_commit_detail,
    rest_issue,
    rest_issue_comment,
    rest_pull,
    rest_pull_detail,
    rest_release,
    rest_repo,
    rest_review,
    rest_review_comment,
    user,
)

HTML = "https://github.com"
API = "https://api.github.com"
PAGE_SIZE = 25


def iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class World:
    """One repository's items."""

    full_name: str
    gh_id: int
    author: dict[str, Any] = field(default_factory=lambda: user("octocat", 583231))
    pulls: list[dict[str, Any]] = field(default_factory=list)
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    issues: list[dict[str, Any]] = field(default_factory=list)
    issue_comments: list[dict[str, Any]] = field(default_factory=list)
    review_comments: list[dict[str, Any]] = field(default_factory=list)
    commits: list[dict[str, Any]] = field(default_factory=list)
    releases: list[dict[str, Any]] = field(default_factory=list)
    raw_repo: dict[str, Any] = field(default_factory=dict)
    _ids: Iterable[int] = field(default_factory=lambda: iter(range(10_000, 10_000_000)))

    def __post_init__(self) -> None:
        owner, name = self.full_name.split("/")
        self.raw_repo = rest_repo(id=self.gh_id, name=name, full_name=self.full_name,
                                  owner=user(owner, self.gh_id + 1),
                                  html_url=f"{HTML}/{self.full_name}")

    def _id(self) -> int:
        return next(self._ids) + self.gh_id * 100_000  # type: ignore[call-overload]

    # Builders ----------------------------------------------------------------------------------
    def pull(self, number: int, created: dt.datetime, *, merged: dt.datetime | None = None,
             closed: dt.datetime | None = None, updated: dt.datetime | None = None,
             author: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        closed = closed or merged
        updated = updated or max(t for t in (created, merged, closed) if t is not None)
        item = rest_pull(
            number, id=self._id(), title=f"Change {number} of {self.full_name}",
            url=f"{API}/repos/{self.full_name}/pulls/{number}",
            html_url=f"{HTML}/{self.full_name}/pull/{number}",
            user=author or self.author, state="closed" if closed else "open",
            created_at=iso(created), updated_at=iso(updated), closed_at=iso(closed),
            merged_at=iso(merged), **extra,
        )
        self.pulls.append(item)
        return item

    def review(self, number: int, submitted: dt.datetime | None, state: str = "APPROVED"
               ) -> dict[str, Any]:
        review_id = self._id()
        item = rest_review(
            number, review_id, user=user("reviewer", 42), state=state,
            submitted_at=iso(submitted), body=f"Review {review_id}",
            html_url=f"{HTML}/{self.full_name}/pull/{number}#pullrequestreview-{review_id}",
            pull_request_url=f"{API}/repos/{self.full_name}/pulls/{number}",
        )
        self.reviews.setdefault(number, []).append(item)
        return item

    def issue(self, number: int, created: dt.datetime, *, closed: dt.datetime | None = None,
              updated: dt.datetime | None = None, is_pull: bool = False) -> dict[str, Any]:
        item = rest_issue(
            number, id=self._id(), title=f"Problem {number} in {self.full_name}",
            url=f"{API}/repos/{self.full_name}/issues/{number}",
            html_url=f"{HTML}/{self.full_name}/{'pull' if is_pull else 'issues'}/{number}",
            user=self.author, state="closed" if closed else "open", created_at=iso(created),
            updated_at=iso(updated or closed or created), closed_at=iso(closed),
        )
        if is_pull:
            item["pull_request"] = {"url": f"{API}/repos/{self.full_name}/pulls/{number}"}
        self.issues.append(item)
        return item

    def issue_comment(self, number: int, created: dt.datetime, *,
                      updated: dt.datetime | None = None, body: str | None = None
                      ) -> dict[str, Any]:
        comment_id = self._id()
        item = rest_issue_comment(
            number, comment_id, user=self.author, body=body or f"Comment {comment_id}",
            url=f"{API}/repos/{self.full_name}/issues/comments/{comment_id}",
            html_url=f"{HTML}/{self.full_name}/issues/{number}#issuecomment-{comment_id}",
            issue_url=f"{API}/repos/{self.full_name}/issues/{number}",
            created_at=iso(created), updated_at=iso(updated or created),
        )
        self.issue_comments.append(item)
        return item

    def review_comment(self, number: int, created: dt.datetime) -> dict[str, Any]:
        comment_id = self._id()
        item = rest_review_comment(
            number, comment_id, user=self.author, body=f"Nit {comment_id}",
            url=f"{API}/repos/{self.full_name}/pulls/comments/{comment_id}",
            html_url=f"{HTML}/{self.full_name}/pull/{number}#discussion_r{comment_id}",
            pull_request_url=f"{API}/repos/{self.full_name}/pulls/{number}",
            created_at=iso(created), updated_at=iso(created),
        )
        self.review_comments.append(item)
        return item

    def commit(self, authored: dt.datetime, *, author: dict[str, Any] | None = None,
               git_only: bool = False) -> dict[str, Any]:
        sha = f"{self._id():040x}"
        item = rest_commit(sha, url=f"{API}/repos/{self.full_name}/commits/{sha}",
                           html_url=f"{HTML}/{self.full_name}/commit/{sha}",
                           author=None if git_only else (author or self.author))
        item["commit"]["author"]["date"] = iso(authored)
        item["commit"]["committer"]["date"] = iso(authored)
        item["commit"]["message"] = f"Commit {sha[:7]} in {self.full_name}"
        if git_only:
            item["commit"]["author"].update(name="Git Only", email="git-only@example.com")
        self.commits.append(item)
        return item

    def release(self, tag: str, published: dt.datetime | None, *, draft: bool = False
                ) -> dict[str, Any]:
        item = rest_release(self._id(), tag, html_url=f"{HTML}/{self.full_name}/releases/tag/{tag}",
                            url=f"{API}/repos/{self.full_name}/releases/{tag}",
                            author=self.author, draft=draft, published_at=iso(published),
                            created_at=iso(published or dt.datetime.now(dt.UTC)))
        self.releases.append(item)
        return item

    # What a correct backfill stores ------------------------------------------------------------
    def expected_facts(self, since: dt.datetime, until: dt.datetime | None = None,
                       ) -> set[tuple[str, str]]:
        def inside(value: str | None) -> bool:
            moment = parse(value)
            return moment is not None and moment >= since and (until is None or moment < until)

        facts: set[tuple[str, str]] = set()
        for pull in self.pulls:
            url = pull["html_url"]
            if parse(pull["updated_at"]) < since:
                continue
            if inside(pull["created_at"]):
                facts.add(("pr_opened", url))
            if pull["merged_at"] and inside(pull["merged_at"]):
                facts.add(("pr_merged", url))
            if not pull["merged_at"] and pull["closed_at"] and inside(pull["closed_at"]):
                facts.add(("pr_closed", url))
            for review in self.reviews.get(pull["number"], []):
                if review["state"] != "PENDING" and inside(review["submitted_at"]):
                    facts.add(("review_submitted", review["html_url"]))
        for issue in self.issues:
            if "pull_request" in issue:
                continue
            if inside(issue["created_at"]):
                facts.add(("issue_opened", issue["html_url"]))
            if issue["closed_at"] and inside(issue["closed_at"]):
                facts.add(("issue_closed", issue["html_url"]))
        facts |= {("issue_comment", c["html_url"]) for c in self.issue_comments
                  if inside(c["created_at"])}
        facts |= {("review_comment", c["html_url"]) for c in self.review_comments
                  if inside(c["created_at"])}
        facts |= {("commit", f"{HTML}/{self.full_name}/commit/{c['sha']}") for c in self.commits
                  if inside(c["commit"]["author"]["date"])}
        facts |= {("release", r["html_url"]) for r in self.releases
                  if not r["draft"] and inside(r["published_at"])}
        return facts

    @property
    def item_count(self) -> int:
        return (len(self.pulls) + sum(map(len, self.reviews.values())) + len(self.issues)
                + len(self.issue_comments) + len(self.review_comments) + len(self.commits)
                + len(self.releases))


def populate(world: World, now: dt.datetime) -> World:
    """A few hundred items around a 30-day window ending at `now`, with the edge cases that matter.
    """
    hours = lambda n: now - dt.timedelta(hours=n)  # noqa: E731
    for n in range(1, 51):  # in the window; some merged, some closed unmerged
        created = hours(n * 12)
        merged = created + dt.timedelta(hours=2) if n % 3 == 0 else None
        closed = created + dt.timedelta(hours=3) if n % 5 == 0 and not merged else None
        world.pull(n, created, merged=merged, closed=closed)
    for n in range(51, 61):  # updated before the window: the pulls stage stops at the first
        world.pull(n, hours(24 * 40 + n), updated=hours(24 * 35 + n))
    world.pull(61, hours(24 * 40), merged=hours(48))  # opened before the window, merged in it
    for n in range(1, 11):
        created = parse(world.pulls[n - 1]["created_at"])
        world.review(n, created + dt.timedelta(hours=1))
        world.review(n, created + dt.timedelta(hours=1, minutes=30), state="CHANGES_REQUESTED")
    world.review(1, None, state="PENDING")
    world.review(61, hours(50), state="COMMENTED")
    for n in range(100, 170):
        created = hours((n - 99) * 9)
        world.issue(n, created, closed=created + dt.timedelta(hours=5) if n % 4 == 0 else None)
    for n in range(1, 6):
        world.issue(n, hours(n * 12), is_pull=True)  # pull requests in /issues are skipped
    world.issue(200, hours(24 * 40), closed=hours(72))  # closed in the window only
    world.issue(201, hours(24 * 60), updated=hours(24 * 50))  # outside: GitHub filters it out
    for n in range(60):
        world.issue_comment(100 + n % 20, hours(n * 10 + 1))
    world.issue_comment(100, hours(24 * 40), updated=hours(24))  # edited in the window, unknown
    for n in range(40):
        world.review_comment(1 + n % 10, hours(n * 15 + 2))
    for n in range(80):
        world.commit(hours(n * 7 + 3))
    world.commit(hours(5), git_only=True)
    for n in range(1, 7):
        world.release(f"v1.{n}", now - dt.timedelta(days=4 * n))
    world.release("v2.0-draft", None, draft=True)
    world.release("v0.9", now - dt.timedelta(days=40))
    world.release("v0.8", now - dt.timedelta(days=45))
    world.releases.sort(key=lambda r: r["created_at"], reverse=True)
    return world


# Serving -------------------------------------------------------------------------------------------
def _links(fake: FakeGitHub, request: RecordedRequest, page: int, last: int) -> str:
    pairs = [(k, v) for k, v in parse_qsl(urlsplit(request.target).query, keep_blank_values=True)
             if k != "page"]

    def url(number: int) -> str:
        return f"{fake.url}{request.path}?{urlencode(pairs + [('page', str(number))], quote_via=quote)}"

    links = []
    if page < last:
        links += [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
    if page > 1:
        links += [f'<{url(page - 1)}>; rel="prev"', f'<{url(1)}>; rel="first"']
    return ", ".join(links)


def paged(fake: FakeGitHub, items: Callable[[RecordedRequest], list[Any]],
          page_size: int = PAGE_SIZE) -> Callable[[RecordedRequest], FakeResponse]:
    """A responder serving `items(request)` in pages of `page_size` with GitHub's Link header."""

    def respond(request: RecordedRequest) -> FakeResponse:
        chosen = items(request)
        page = max(1, int(request.param("page") or 1))
        last = max(1, math.ceil(len(chosen) / page_size))
        body = chosen[(page - 1) * page_size: page * page_size]
        link = _links(fake, request, page, last)
        return FakeResponse(200, json=body, headers={"Link": link} if link else {})

    return respond


def _since_filter(items: list[dict[str, Any]], key: Callable[[dict[str, Any]], str | None],
                  request: RecordedRequest) -> list[dict[str, Any]]:
    since, until = parse(request.param("since")), parse(request.param("until"))
    return [item for item in items
            if (since is None or parse(key(item)) >= since)
            and (until is None or parse(key(item)) <= until)]


def serve(fake: FakeGitHub, world: World, page_size: int = PAGE_SIZE) -> dict[str, Route]:
    """Answer every endpoint the backfill reads for this repository."""
    base = f"/repos/{world.full_name}"
    updated = lambda item: item["updated_at"]  # noqa: E731
    routes = {
        "repo": fake.add_json(base, world.raw_repo),
        "pulls": fake.add("GET", f"{base}/pulls", paged(fake, lambda r: sorted(
            world.pulls, key=updated, reverse=True), page_size)),
        "issues": fake.add("GET", f"{base}/issues", paged(fake, lambda r: sorted(
            _since_filter(world.issues, updated, r), key=updated), page_size)),
        "issue_comments": fake.add("GET", f"{base}/issues/comments", paged(fake, lambda r: sorted(
            _since_filter(world.issue_comments, updated, r), key=updated), page_size)),
        "review_comments": fake.add("GET", f"{base}/pulls/comments", paged(fake, lambda r: sorted(
            _since_filter(world.review_comments, updated, r), key=updated), page_size)),
        "commits": fake.add("GET", f"{base}/commits", paged(fake, lambda r: sorted(
            _since_filter(world.commits, lambda c: c["commit"]["committer"]["date"], r),
            key=lambda c: c["commit"]["committer"]["date"], reverse=True), page_size)),
        "releases": fake.add("GET", f"{base}/releases", paged(
            fake, lambda r: list(world.releases), page_size)),
    }
    escaped = re.escape(base)
    routes["reviews"] = fake.add("GET", re.compile(rf"{escaped}/pulls/(?P<number>\d+)/reviews"),
                                 paged(fake, lambda r: world.reviews.get(
                                     int(r.path_params["number"]), []), page_size))

    def pull_detail(request: RecordedRequest) -> FakeResponse:
        number = int(request.path_params["number"])
        pull = next((p for p in world.pulls if p["number"] == number), None)
        if pull is None:
            return FakeResponse(404, json={"message": "Not Found"})
        detail = rest_pull_detail(number)
        detail.update(pull)
        detail.update(merged=pull["merged_at"] is not None, additions=number, deletions=1,
                      changed_files=2, merged_by=user("merger", 777) if pull["merged_at"] else None)
        return FakeResponse(200, json=detail)

    def commit_detail(request: RecordedRequest) -> FakeResponse:
        sha = request.path_params["sha"]
        commit = next((c for c in world.commits if c["sha"] == sha), None)
        if commit is None:
            return FakeResponse(422, json={"message": f"No commit found for SHA: {sha}"})
        detail = rest_commit_detail(sha, additions=7, deletions=3, files=2)
        detail.update({k: v for k, v in commit.items() if k not in ("stats", "files")})
        return FakeResponse(200, json=detail)

    routes["pull_detail"] = fake.add("GET", re.compile(rf"{escaped}/pulls/(?P<number>\d+)"),
                                     pull_detail)
    routes["commit_detail"] = fake.add("GET", re.compile(rf"{escaped}/commits/(?P<sha>[0-9a-f]+)"),
                                       commit_detail)
    return routes
