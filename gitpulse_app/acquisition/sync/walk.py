"""What one repository backfill job carries through its stages (`stages.RepoSync`): the job's
spec and resumable cursor, the window, the writes and the heartbeat (docs/ARCHITECTURE.md).

After every page the cursor `{stage, next_url, pending_prs, stats_done}` is saved with the job's
heartbeat (and a keep-alive task beats at least every 30 s), so a blocked, restarted or re-claimed
job continues from the page it reached. A fact is kept when its own ts is in `[since, until)`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from gitpulse_app.acquisition.github import GitHubClient, Page
from gitpulse_app.acquisition.sync.lifecycle import heartbeat
from gitpulse_app.core.clock import Clock
from gitpulse_app.core.models import IngestionJob
from gitpulse_app.normalization.models import ActorRef, NormalizedFact, RepoRef
from gitpulse_app.normalization.store import ingest_facts

STAGES = (
    "repo", "pulls", "reviews", "issues", "issue_comments", "review_comments", "commits", "releases",
)
HEARTBEAT_EVERY_S = 30.0
UNKNOWN_PAGE_SHARE = 0.5
IDENTITY_RACE_RETRIES_S = (0.05, 0.2, 0.5)



class JobLost(Exception):  # noqa: N818 - an outcome, not an error
    """The job is no longer ours (re-queued by the zombie sweep, or ended elsewhere): stop quietly."""


class JobFailed(Exception):
    """The job cannot go on; the message is the sentence stored on the job."""


def progress_percent(stage_index: int, share: float) -> int:
    """`⌊100 × (stage_index + f)/8⌋`, capped at 99 until the job completes."""
    share = min(max(share, 0.0), 1.0)
    return min(99, math.floor(100 * (stage_index + share) / len(STAGES)))


@dataclass
class Cursor:
    """Where a job resumes: the stage, the next page's URL, the PRs whose reviews are still due,
    the detail requests spent (the 200 cap holds across attempts) and those skipped past the cap
    (`details_skipped`, stored only once non-zero)."""

    stage: str = STAGES[0]
    next_url: str | None = None
    pending_prs: list[int] = field(default_factory=list)
    stats_done: int = 0
    details_skipped: int = 0

    @classmethod
    def load(cls, raw: Any) -> Cursor:
        """The saved cursor; anything unreadable starts the job from the beginning."""
        if not isinstance(raw, Mapping) or raw.get("stage") not in STAGES:
            return cls()
        next_url = raw.get("next_url")
        pending = raw.get("pending_prs")
        stats = raw.get("stats_done")
        skipped = raw.get("details_skipped")
        return cls(
            stage=raw["stage"],
            next_url=next_url if isinstance(next_url, str) and next_url else None,
            pending_prs=[n for n in pending if isinstance(n, int)] if isinstance(pending, list) else [],
            stats_done=stats if isinstance(stats, int) and stats >= 0 else 0,
            details_skipped=skipped if isinstance(skipped, int) and skipped >= 0 else 0,
        )

    def as_json(self) -> dict[str, Any]:
        saved: dict[str, Any] = {"stage": self.stage, "next_url": self.next_url,
                                 "pending_prs": list(self.pending_prs),
                                 "stats_done": self.stats_done}
        if self.details_skipped:
            saved["details_skipped"] = self.details_skipped
        return saved


@dataclass(frozen=True)
class JobSpec:
    """The claimed job's fields the stages read (a detached copy of the row)."""

    id: int
    installation_id: int
    repo_full_name: str
    since: dt.datetime
    until: dt.datetime | None = None
    cursor: dict[str, Any] | None = None
    progress: int = 0
    events_ingested: int = 0
    events_updated: int = 0
    duplicates: int = 0

    @classmethod
    def of(cls, job: IngestionJob) -> JobSpec:
        assert job.id is not None
        return cls(job.id, job.installation_id, job.repo_full_name, job.since, job.until,
                   job.cursor, job.progress, job.events_ingested, job.events_updated,
                   job.duplicates)


@dataclass(frozen=True)
class SignedUp:
    """Who counts as a signed-up user when deciding on detail requests."""

    gh_ids: frozenset[int] = frozenset()
    logins: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()

    def includes(self, actor: ActorRef | None) -> bool:
        if actor is None:
            return False
        return (
            (actor.gh_id is not None and actor.gh_id in self.gh_ids)
            or (actor.login is not None and actor.login.lower() in self.logins)
            or (actor.git_email is not None and actor.git_email in self.emails)
        )

class JobWalk:
    """The state of one job's walk and its writes; `RepoSync` adds the stages."""

    def __init__(
        self, job: JobSpec, client: GitHubClient, *, holder: str, clock: Clock, github_url: str
    ) -> None:
        self.job = job
        self.client = client
        self.holder = holder
        self.clock = clock
        self.github_url = github_url.rstrip("/")
        self.cursor = Cursor.load(job.cursor)
        self.inserted = job.events_ingested
        self.updated = job.events_updated
        self.duplicates = job.duplicates
        self.progress = job.progress
        self.repo: RepoRef | None = None
        self._etags: dict[str, str] = {}
        self._pulls_etag: str | None = None
        self._pull_titles: dict[int, str | None] = {}
        self._signed_up = SignedUp()
        self._last_beat = time.monotonic()
        self._lost = False

    async def _enter(self, index: int) -> None:
        self.cursor = Cursor(STAGES[index], None, self.cursor.pending_prs, self.cursor.stats_done,
                             self.cursor.details_skipped)
        await self.beat(0.0)

    def _path(self, suffix: str = "") -> str:
        assert self.repo is not None
        return f"/repos/{self.repo.full_name}{suffix}"

    def _pages(self, path: str, params: Mapping[str, Any] | None = None, *,
               etag: str | None = None) -> AsyncIterator[Page]:
        """The stage's pages from the saved next URL (verbatim), else from its first page."""
        if self.cursor.next_url:
            return self.client.paginate(self.cursor.next_url)
        return self.client.paginate(path, params, etag=etag)

    async def _page_done(self, page: Page, share: float | None = None) -> None:
        self.cursor.next_url = page.next_url
        if page.next_url is None:
            return  # the stage ends here; entering the next one saves the cursor
        if share is None:
            share = page.page_number / page.last_page if page.last_page else UNKNOWN_PAGE_SHARE
        await self.beat(share)

    def _window_keys(self, facts: list[NormalizedFact]) -> list[tuple[str, str]]:
        return [fact_key(fact) for fact in facts if self._in_window(fact)]

    # Writes --------------------------------------------------------------------------------------
    def _in_window(self, fact: NormalizedFact) -> bool:
        until = self.job.until
        return fact.ts >= self.job.since and (until is None or fact.ts < until)

    async def _ingest(
        self, facts: Iterable[NormalizedFact], *, also: set[tuple[str, str]] | None = None
    ) -> None:
        """Store the facts in the window, plus earlier ones whose key is in `also`."""
        if self._lost:
            raise JobLost()
        until = self.job.until
        kept = [f for f in facts if self._in_window(f)
                or (also and fact_key(f) in also and (until is None or f.ts < until))]
        if not kept:
            return
        result = await asyncio.to_thread(self._store, kept)
        self.inserted += result.inserted
        self.updated += result.updated
        self.duplicates += result.duplicates

    def _store(self, facts: list[NormalizedFact]) -> Any:
        for delay in (*IDENTITY_RACE_RETRIES_S, None):
            try:
                return ingest_facts(facts, observed_via="backfill",
                                    installation_id=self.job.installation_id,
                                    github_url=self.github_url, now=self.clock())
            except sa.exc.IntegrityError:
                # Another job (or a webhook) inserted the same new user or repository between our
                # lookup and our insert; the store is an upsert, so a retry finds and uses it.
                if delay is None:
                    raise
                time.sleep(delay)
        raise AssertionError("unreachable")

    async def beat(self, share: float | None = None) -> None:
        """Save cursor, progress and counters with the heartbeat (the budget has its own writer).

        Raises:
            JobLost: The job is no longer running under our claim.
        """
        if share is not None:
            index = STAGES.index(self.cursor.stage)
            self.progress = max(self.progress, progress_percent(index, share))
        alive = await asyncio.to_thread(self._save, self.cursor.as_json())
        if not alive:
            self._lost = True
            raise JobLost()

    def _save(self, cursor: dict[str, Any]) -> bool:
        self._last_beat = time.monotonic()
        return heartbeat(
            self.job.id, cursor, self.progress, events_ingested=self.inserted,
            events_updated=self.updated, duplicates=self.duplicates,
            detail_requests=cursor["stats_done"], holder=self.holder, now=self.clock(),
        )

    async def _keepalive(self) -> None:
        """Beat at least every 30 s, also while a call sleeps through a short rate limit."""
        while True:
            await asyncio.sleep(HEARTBEAT_EVERY_S / 3)
            if time.monotonic() - self._last_beat >= HEARTBEAT_EVERY_S * 2 / 3:
                try:
                    await self.beat()
                except JobLost:
                    return


def fact_key(fact: NormalizedFact) -> tuple[str, str]:
    return fact.type, fact.source_url
