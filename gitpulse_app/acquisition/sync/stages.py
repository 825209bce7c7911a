"""The eight stages of one repository's backfill (docs/ARCHITECTURE.md).

`RepoSync` walks `repo → pulls → reviews → issues → issue_comments → review_comments → commits →
releases` for one claimed job. After every page it saves the resumable cursor
`{stage, next_url, pending_prs, stats_done}` with the job's heartbeat (and a keep-alive task beats at
least every 30 s), so a blocked, restarted or re-claimed job continues from the page it reached:
`next_url` is always the page to fetch next, saved *before* it is fetched, which matters because the
client raises `RateLimited` on the call after a low-budget response. The `repo` stage runs on every
attempt (a 304 with the stored ETag costs nothing) because the later stages need the repository.

Window rules: a fact is kept when its own ts is in `[since, until)`; a comment created before
`since` but edited since updates the stored fact and is otherwise skipped. Details (PR detail for
metrics and merged_by, commit stats) are fetched only for signed-up users' items whose facts lack
metrics, at most 200 per job; the rest are skipped and counted. Issues disabled (410) or an empty
repository (409) skip their stage; a detail or a PR's reviews that vanished meanwhile are skipped.

The cursor, the window, the writes and the heartbeat are `walk.JobWalk`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from gitpulse_app.acquisition import access
from gitpulse_app.acquisition.github import AuthError, GitHubError, NotModified, RateLimited
from gitpulse_app.acquisition.sync.walk import STAGES, JobFailed, JobWalk, SignedUp, fact_key
from gitpulse_app.core.clock import iso_z
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import Event, Repo, User
from gitpulse_app.normalization.canonicalize import (
    git_actor,
    pick_actor,
    repo_ref,
    user_actor,
)
from gitpulse_app.normalization.canonicalize_rest import (
    canonicalize_rest_commit,
    canonicalize_rest_issue,
    canonicalize_rest_issue_comment,
    canonicalize_rest_pull,
    canonicalize_rest_release,
    canonicalize_rest_review,
    canonicalize_rest_review_comment,
)
from gitpulse_app.normalization.readers import first_timestamp, get_bool, get_int, get_str
from gitpulse_app.normalization.models import NormalizedFact, RepoRef
from gitpulse_app.normalization.service import save_repo

MAX_DETAIL_REQUESTS = 200
REPO_GONE_MESSAGE = "Repository not found or access revoked"
REPO_ETAG, PULLS_ETAG = "repo", "pulls"
LOOKUP_CHUNK = 500
# A detail or sub-list that vanished meanwhile (deleted PR, commit gone after a force-push).
_GONE = (404, 409, 410, 422)
ISSUES_DISABLED, EMPTY_REPOSITORY = 410, 409


class RepoSync(JobWalk):
    """One job's walk through the stages; raises what ends it early.

    Args:
        job: The claimed job.
        client: A GitHub client for the job's source.
        holder: The claim id; heartbeats from anyone else are refused.
        clock: The clock for every time written.
        github_url: Web base of fact URLs (`GITHUB_URL`).

    Raises (from `run`):
        JobLost: The job stopped being ours.
        JobFailed: A failure with a sentence for people (e.g. the repository is gone).
        RateLimited: The budget is spent until `reset`; block the job with `cursor`.
        GitHubError: Any other failure of a call to GitHub.
    """
    # The walk ------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Walk the stages from the saved cursor to the end."""
        keepalive = asyncio.create_task(self._keepalive())
        try:
            await self._walk()
        finally:
            keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keepalive

    async def _walk(self) -> None:
        handlers = {
            "pulls": self._pulls, "reviews": self._reviews, "issues": self._issues,
            "issue_comments": self._issue_comments, "review_comments": self._review_comments,
            "commits": self._commits, "releases": self._releases,
        }
        self.repo = await self._repo_stage()
        self._signed_up = await asyncio.to_thread(_signed_up_users)
        index = max(1, STAGES.index(self.cursor.stage))
        if self.cursor.stage == STAGES[0]:
            await self._enter(index)
        while index < len(STAGES):
            skip_to = await handlers[STAGES[index]]()
            index = STAGES.index(skip_to) if skip_to else index + 1
            if index < len(STAGES):
                await self._enter(index)

    # Stages --------------------------------------------------------------------------------------
    async def _repo_stage(self) -> RepoRef:
        stored = await asyncio.to_thread(_stored_repo, self.job.repo_full_name)
        etag = stored[1].get(REPO_ETAG) if stored else None
        try:
            response = await self.client.get_json(f"/repos/{self.job.repo_full_name}", etag=etag)
        except NotModified:
            assert stored is not None
            self._etags = stored[1]
            return stored[0]
        except (RateLimited, AuthError):
            raise
        except GitHubError as exc:
            if exc.status in (403, 404, 410):
                raise JobFailed(REPO_GONE_MESSAGE) from exc
            raise
        ref = repo_ref(response.data) if isinstance(response.data, dict) else None
        if ref is None:
            raise JobFailed(f"GitHub returned no readable repository for {self.job.repo_full_name}.")
        self._etags = await asyncio.to_thread(
            _save_repo, response.data, self.github_url, response.etag
        )
        await asyncio.to_thread(_confirm_listed, self.job.installation_id,
                                self.job.repo_full_name, ref.gh_id)
        return RepoRef(ref.gh_id, ref.full_name, ref.owner, ref.name)

    async def _pulls(self) -> str | None:
        fresh = self.cursor.next_url is None
        params = {"state": "all", "sort": "updated", "direction": "desc"}
        etag = self._etags.get(PULLS_ETAG) if fresh else None
        try:
            async with contextlib.aclosing(self._pages(self._path("/pulls"), params, etag=etag)
                                           ) as pages:
                async for page in pages:
                    if fresh and page.page_number == 1 and self._pulls_etag is None:
                        self._pulls_etag = page.etag
                    recent, stop = [], False
                    for pull in page.items:
                        updated = first_timestamp(pull, "updated_at")
                        if updated is None or get_int(pull, "number") is None:
                            continue
                        if updated < self.job.since:
                            stop = True  # sorted by updated_at, newest first: the rest are older
                            break
                        recent.append(pull)
                    pulls = await self._with_pull_details(recent)
                    await self._ingest(
                        fact for pull in pulls
                        for fact in canonicalize_rest_pull(pull, self.repo, self.job.since,
                                                           github_url=self.github_url)
                    )
                    for pull in recent:
                        number = get_int(pull, "number")
                        self._pull_titles[number] = get_str(pull, "title")
                        if number not in self.cursor.pending_prs:
                            self.cursor.pending_prs.append(number)
                    if stop:
                        return None
                    await self._page_done(page)
        except NotModified:
            self._pulls_etag = None
            return "issues"  # pulls page 1 unchanged: no PR (nor review) changed since
        return None

    async def _reviews(self) -> None:
        pending = self.cursor.pending_prs
        total = max(len(pending), 1)
        while pending:
            number = pending[0]
            pull = {"number": number, "title": self._pull_titles.get(number)}
            share = 1 - len(pending) / total
            try:
                async for page in self._pages(self._path(f"/pulls/{number}/reviews")):
                    await self._ingest(
                        fact for review in page.items
                        for fact in canonicalize_rest_review(review, pull, self.repo,
                                                             github_url=self.github_url)
                    )
                    await self._page_done(page, share)
            except (RateLimited, AuthError):
                raise
            except GitHubError as exc:
                if exc.status not in _GONE:
                    raise
            pending.pop(0)
            self.cursor.next_url = None
            await self.beat(1 - len(pending) / total)
        if self._pulls_etag:
            await asyncio.to_thread(_save_etag, self.repo.gh_id, PULLS_ETAG, self._pulls_etag)

    async def _issues(self) -> None:
        params = {"since": iso_z(self.job.since, "seconds"), "state": "all", "sort": "updated",
                  "direction": "asc"}
        try:
            async for page in self._pages(self._path("/issues"), params):
                await self._ingest(
                    fact for issue in page.items
                    for fact in canonicalize_rest_issue(issue, self.repo, self.job.since,
                                                        github_url=self.github_url)
                )
                await self._page_done(page)
        except GitHubError as exc:
            if exc.status != ISSUES_DISABLED:
                raise

    async def _issue_comments(self) -> None:
        await self._comments("/issues/comments", canonicalize_rest_issue_comment)

    async def _review_comments(self) -> None:
        await self._comments("/pulls/comments", canonicalize_rest_review_comment)

    async def _comments(
        self, suffix: str, canonicalize: Callable[[Any, RepoRef], list[NormalizedFact]]
    ) -> None:
        params = {"since": iso_z(self.job.since, "seconds"), "sort": "updated", "direction": "asc"}
        try:
            async for page in self._pages(self._path(suffix), params):
                facts = [fact for item in page.items for fact in canonicalize(item, self.repo)]
                edited = [fact_key(fact) for fact in facts if fact.ts < self.job.since]
                # Created before the window, edited in it: only a fact we already hold changes.
                stored = await asyncio.to_thread(_stored_keys, edited) if edited else set()
                await self._ingest(facts, also=stored)
                await self._page_done(page)
        except GitHubError as exc:
            if exc.status != ISSUES_DISABLED:
                raise

    async def _commits(self) -> None:
        params = {"since": iso_z(self.job.since, "seconds")}
        if self.job.until is not None:
            params["until"] = iso_z(self.job.until, "seconds")
        try:
            async for page in self._pages(self._path("/commits"), params):
                commits = await self._with_commit_stats(page.items)
                await self._ingest(
                    fact for commit in commits
                    for fact in canonicalize_rest_commit(commit, self.repo,
                                                         github_url=self.github_url)
                )
                await self._page_done(page)
        except GitHubError as exc:
            if exc.status != EMPTY_REPOSITORY:  # details never raise it: they skip it as gone
                raise

    async def _releases(self) -> None:
        async with contextlib.aclosing(self._pages(self._path("/releases"))) as pages:
            async for page in pages:
                kept, stop = [], False
                for release in page.items:
                    if get_bool(release, "draft") is True:
                        continue
                    published = first_timestamp(release, "published_at")
                    if published is not None and published < self.job.since:
                        stop = True  # newest first: everything after is older still
                        break
                    kept.append(release)
                await self._ingest(
                    fact for release in kept
                    for fact in canonicalize_rest_release(release, self.repo, self.job.since,
                                                          github_url=self.github_url)
                )
                if stop:
                    return
                await self._page_done(page)

    # Details -------------------------------------------------------------------------------------
    async def _with_pull_details(self, pulls: list[Any]) -> list[Any]:
        """The pulls, each replaced by its detail (metrics, merged_by) where a fact needs one."""
        needs = [
            self._window_keys(canonicalize_rest_pull(pull, self.repo, self.job.since,
                                                     github_url=self.github_url))
            if self._signed_up.includes(user_actor(pull.get("user"))) else []
            for pull in pulls
        ]
        return await self._with_details(
            pulls, needs, lambda pull: f"/pulls/{pull['number']}",
            lambda pull: canonicalize_rest_pull(pull, self.repo, self.job.since,
                                                github_url=self.github_url),
        )

    async def _with_commit_stats(self, items: list[Any]) -> list[Any]:
        """The commits, each signed-up author's replaced by its detail (stats) where needed."""
        commits = [c for c in items if isinstance(c, Mapping) and isinstance(c.get("sha"), str)]
        needs = []
        for commit in commits:
            git = commit.get("commit")
            git_author = git.get("author") if isinstance(git, Mapping) else None
            actor = pick_actor(user_actor(commit.get("author")), git_actor(git_author))
            needs.append(
                self._window_keys(canonicalize_rest_commit(commit, self.repo,
                                                           github_url=self.github_url))
                if self._signed_up.includes(actor) else []
            )
        return await self._with_details(
            commits, needs, lambda commit: f"/commits/{commit['sha']}",
            lambda commit: canonicalize_rest_commit(commit, self.repo, github_url=self.github_url),
        )

    async def _with_details(
        self, items: list[Any], needs: list[list[tuple[str, str]]],
        path_of: Callable[[Any], str], canonicalize: Callable[[Any], list[NormalizedFact]],
    ) -> list[Any]:
        """Each item whose facts are not all stored with metrics yet, replaced by its detail."""
        wanted = [key for keys in needs for key in keys]
        measured = await asyncio.to_thread(_stored_keys, wanted, True) if wanted else set()
        result, fetched = [], []
        for item, keys in zip(items, needs, strict=True):
            if any(key not in measured for key in keys):
                try:
                    detail = await self._detail(self._path(path_of(item)))
                except RateLimited:
                    # The page is fetched again after the block; keep what was already paid for.
                    await self._ingest(fact for got in fetched for fact in canonicalize(got))
                    raise
                if detail is not None:
                    item = detail
                    fetched.append(detail)
            result.append(item)
        return result

    async def _detail(self, path: str) -> dict[str, Any] | None:
        if self.cursor.stats_done >= MAX_DETAIL_REQUESTS:
            self.cursor.details_skipped += 1  # saved with the cursor at the page's heartbeat
            return None
        try:
            response = await self.client.get_json(path)
        except (RateLimited, AuthError):
            raise  # a refused reserve check sent nothing; a retry sends it then
        except GitHubError as exc:
            self.cursor.stats_done += 1
            if exc.status in _GONE:
                return None
            raise
        self.cursor.stats_done += 1
        return response.data if isinstance(response.data, dict) else None


# Store helpers (run in worker threads) -----------------------------------------------------------
def _stored_repo(full_name: str) -> tuple[RepoRef, dict[str, str]] | None:
    with session_scope() as session:
        row = session.exec(
            select(Repo).where(sa.func.lower(Repo.full_name) == full_name.lower())
        ).first()
        if row is None:
            return None
        return RepoRef(row.gh_id, row.full_name, row.owner, row.name), dict(row.etags or {})


def _save_repo(raw: dict[str, Any], github_url: str, etag: str | None) -> dict[str, str]:
    row = save_repo(raw, github_url=github_url)
    return _save_etag(row.gh_id, REPO_ETAG, etag) if etag else dict(row.etags or {})


def _confirm_listed(installation_id: int, full_name: str, gh_id: int) -> None:
    with session_scope() as session:
        access.confirm_listed(session, installation_id, full_name, gh_id)


def _save_etag(repo_gh_id: int, endpoint: str, etag: str) -> dict[str, str]:
    with session_scope() as session:
        row = session.exec(select(Repo).where(Repo.gh_id == repo_gh_id)).first()
        if row is None:
            return {}
        row.etags = {**(row.etags or {}), endpoint: etag}  # a new dict: JSON columns need one
        session.add(row)
        return dict(row.etags)


def _signed_up_users() -> SignedUp:
    with session_scope() as session:
        rows = session.exec(
            select(User.gh_id, User.gh_login, User.git_email, User.email)
            .where(col(User.signed_up_at).is_not(None))
        ).all()
    return SignedUp(
        gh_ids=frozenset(r[0] for r in rows if r[0] is not None),
        logins=frozenset(r[1].lower() for r in rows if r[1]),
        emails=frozenset(e.lower() for r in rows for e in r[2:] if e),
    )


def _stored_keys(keys: list[tuple[str, str]], with_metrics: bool = False) -> set[tuple[str, str]]:
    """Which `(type, source_url)` are stored (with any metric, when `with_metrics`)."""
    found: set[tuple[str, str]] = set()
    if not keys:
        return found
    wanted = set(keys)
    urls = sorted({url for _, url in keys})
    metric_known = sa.or_(col(Event.additions).is_not(None), col(Event.deletions).is_not(None),
                          col(Event.files_changed).is_not(None))
    with session_scope() as session:
        for start in range(0, len(urls), LOOKUP_CHUNK):
            statement = select(Event.type, Event.source_url).where(
                col(Event.source_url).in_(urls[start:start + LOOKUP_CHUNK])
            )
            if with_metrics:
                statement = statement.where(metric_known)
            found.update(
                (fact_type, url) for fact_type, url in session.exec(statement).all()
                if (fact_type, url) in wanted
            )
    return found
