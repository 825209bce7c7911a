"""Sixty days of the `acme` team's GitHub activity, as the webhook deliveries GitHub would send.

The story is planned first — pull requests opened, reviewed, fixed up and merged or closed; pushes
with commits; issues opened, discussed and closed; a release every two weeks per repository — then
told in time order, so ids, numbers, head commits and counters evolve as they would on GitHub.
Everything is drawn from one seeded `random.Random` and placed relative to `now`: the same `now`
gives the same deliveries, byte for byte, delivery ids included. Nothing later than `now` is sent
(a pull request opened yesterday may still be waiting for review). Weekdays are busy, weekends
quiet, and follow-ups slip into working hours.

The story is laid out backwards from `now` so the workspace looks alive whenever it is opened: the
demo user works Monday to Friday and, on each of the last `GUARANTEED_WORK_DAYS` weekdays, opens a
pull request (with its commits) and an issue; teammates do something on each recent weekend day; and
on a weekday the demo user pushes a commit shortly before `now` and at the same time a week before,
so "this week so far" and "the same time last week" both have work even minutes after Monday 00:00.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gitpulse_app.experience.demo import catalog
from gitpulse_app.experience.demo.catalog import Person, RepoSpec
from gitpulse_app.experience.demo.work import Change, IssueTopic
from gitpulse_app.experience.demo.objects import Commit, IssueState, Objects, PullState
from gitpulse_app.experience.demo.shapes import Shapes
from gitpulse_app.experience.demo.story import Story

DAYS = 60
DAYS_PER_WEEK = 7
SEED = 20_240_917
WEEKEND_FACTOR = 0.08
GUARANTEED_WORK_DAYS = 10  # two weeks: the latest daily and the latest completed week cite work
RECENT_WEEKEND_DAYS = 14
_DELIVERY_NAMESPACE = uuid.UUID("6f1c2b9e-51a4-4f0c-9d55-0d6f3b8f8a01")


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery: the `X-GitHub-Event`, `X-GitHub-Delivery` and JSON body to send.

    Attributes:
        event: The `X-GitHub-Event` header.
        action: `payload.action` (None for pushes).
        delivery_id: A deterministic UUID for the `X-GitHub-Delivery` header.
        payload: The JSON body.
        at: When the activity happened.
    """

    event: str
    action: str | None
    delivery_id: str
    payload: dict[str, Any]
    at: dt.datetime

    def body(self) -> bytes:
        """The exact bytes to sign and send."""
        return json.dumps(self.payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def generate_deliveries(now: dt.datetime, *, github_url: str = "https://github.com",
                        api_url: str = "https://api.github.com") -> list[Delivery]:
    """The demo workspace's deliveries for the 60 days up to `now`, oldest first.

    Args:
        now: The end of the story (aware); nothing happens after it.
        github_url: Web base of every `html_url` (`GITHUB_URL`).
        api_url: REST base of every API `url` (`GITHUB_API_URL`).

    Returns:
        Deliveries in the order GitHub would send them.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(dt.UTC)
    rng = random.Random(SEED)
    story = Story(Objects(Shapes(github_url.rstrip("/"), api_url.rstrip("/"))),
                   random.Random(SEED + 1), start=_window_start(now))
    planner = _Planner(rng, now, story.start)
    planner.plan()
    for step in sorted(planner.steps, key=lambda s: (s.at, s.seq)):
        story.clock = step.at
        step.tell(story)
    anchor = now.isoformat()
    return [
        Delivery(event, action, str(uuid.uuid5(_DELIVERY_NAMESPACE, f"{anchor}|{index}")),
                 payload, at)
        for index, (event, action, payload, at) in enumerate(story.told)
    ]


def _window_start(now: dt.datetime) -> dt.datetime:
    first_day = now.date() - dt.timedelta(days=DAYS - 1)
    return dt.datetime.combine(first_day, dt.time(), tzinfo=dt.UTC)


def _person(login: str) -> Person:
    return next(person for person in catalog.PEOPLE if person.login == login)


def _demo_repo(rng: random.Random) -> RepoSpec:
    """One of the repositories the demo user mostly works in."""
    demo = _person(catalog.DEMO_LOGIN)
    return rng.choices(catalog.REPOS, [demo.focus.get(repo.name, 0.0) for repo in catalog.REPOS])[0]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].rstrip("-")


# Planning ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Step:
    at: dt.datetime
    seq: int
    tell: Callable[[Story], None]


@dataclass
class _Planner:
    """Decides what happens when; `Story` later tells it in time order."""

    rng: random.Random
    now: dt.datetime
    start: dt.datetime
    steps: list[_Step] = field(default_factory=list)
    _pools: dict[str, list[Any]] = field(default_factory=dict)
    _refills: dict[str, int] = field(default_factory=dict)

    def plan(self) -> None:
        for offset in range(DAYS):
            day = self.start + dt.timedelta(days=offset)
            busy = 1.0 if day.weekday() < 5 else WEEKEND_FACTOR
            for repo in catalog.REPOS:
                for _ in range(self._poisson(repo.pr_rate * busy)):
                    self._plan_pull(repo, day + dt.timedelta(hours=self.rng.uniform(9, 18)))
                for _ in range(self._poisson(repo.issue_rate * busy)):
                    self._plan_issue(repo, day + dt.timedelta(hours=self.rng.uniform(9, 18)))
                if (offset - repo.release_offset) % 14 == 0:
                    self._plan_release(repo, day)
        self._plan_recent_work()

    def _plan_recent_work(self) -> None:
        """What the demo must show whatever the day and hour it is generated at (module doc)."""
        rng, demo = self.rng, _person(catalog.DEMO_LOGIN)
        today = self.now.date()
        recent = [today - dt.timedelta(days=back) for back in range(3 * DAYS_PER_WEEK)]
        work_days = [day for day in recent if day.weekday() < 5][:GUARANTEED_WORK_DAYS]
        for day in reversed(work_days):
            midnight = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
            repo = _demo_repo(rng)
            self._plan_pull(repo, midnight + dt.timedelta(hours=rng.uniform(9.5, 11.5)),
                            author=demo)
            self._plan_issue(repo, midnight + dt.timedelta(hours=rng.uniform(13, 16)),
                             author=demo)
        team = [person for person in catalog.PEOPLE if person.login != catalog.DEMO_LOGIN]
        for day in reversed(recent[:RECENT_WEEKEND_DAYS]):
            if day.weekday() >= 5:
                at = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) + dt.timedelta(
                    hours=rng.uniform(10, 17))
                self._plan_issue(rng.choice(catalog.REPOS), at, author=rng.choice(team))
        if self.now.weekday() < 5:
            midnight = dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC)
            at = max(midnight + (self.now - midnight) / 2, self.now - dt.timedelta(minutes=5))
            for when in (at - dt.timedelta(days=DAYS_PER_WEEK), at):
                repo = _demo_repo(rng)
                change: Change = self._next(repo, "change")
                commit = self._commit(change.commits[0], demo, when, change)
                self._add(when, lambda s, r=repo, c=commit: s.push(r, "main", demo, [c], None))

    def _add(self, at: dt.datetime, tell: Callable[[Story], None]) -> None:
        # Only what has happened by now is sent; each chain's times only grow, so a pull request
        # whose next step lies in the future simply stays where it is.
        if at <= self.now:
            self.steps.append(_Step(at, len(self.steps), tell))

    # Time -------------------------------------------------------------------------------------
    def _poisson(self, rate: float) -> int:
        limit, count, product = math.exp(-rate), 0, self.rng.random()
        while product > limit:
            count += 1
            product *= self.rng.random()
        return count

    def _later(self, at: dt.datetime, low_h: float, high_h: float) -> dt.datetime:
        """A moment `low_h`–`high_h` hours after `at`, moved into working hours."""
        moment = at + dt.timedelta(hours=self.rng.uniform(low_h, high_h))
        if moment.hour >= 19:
            moment = (moment + dt.timedelta(days=1)).replace(hour=9,
                                                              minute=self.rng.randint(0, 59))
        elif moment.hour < 8:
            moment = moment.replace(hour=8, minute=self.rng.randint(30, 59))
        if moment.weekday() >= 5 and self.rng.random() < 0.85:
            moment = (moment + dt.timedelta(days=7 - moment.weekday())).replace(
                hour=9, minute=self.rng.randint(0, 59))
        return moment

    # Who and what -----------------------------------------------------------------------------
    def _pick(self, repo: RepoSpec, *, exclude: tuple[Person, ...] = (),
              base: float = 0.0) -> Person:
        people = [p for p in catalog.PEOPLE if p not in exclude]
        weights = [(p.focus.get(repo.name, 0.0) + base) * p.activity for p in people]
        return self.rng.choices(people, weights)[0]

    def _next(self, repo: RepoSpec, kind: str) -> Any:
        key = f"{repo.name}:{kind}"
        pool = self._pools.get(key)
        if not pool:
            source = repo.changes if kind == "change" else repo.issues
            pool = self._pools[key] = self.rng.sample(list(source), len(source))
            self._refills[key] = self._refills.get(key, 0) + 1
        item = pool.pop()
        if self._refills[key] > 1:  # the catalogue ran out: the same work comes back
            prefix = "Follow-up: " if kind == "change" else "Regression: "
            item = dataclasses.replace(item, title=prefix + item.title)
        return item

    def _sha(self) -> str:
        return f"{self.rng.getrandbits(160):040x}"

    # Pull requests ----------------------------------------------------------------------------
    def _plan_pull(self, repo: RepoSpec, opened_at: dt.datetime,
                   author: Person | None = None) -> None:
        rng = self.rng
        author = author or self._pick(repo)
        change: Change = self._next(repo, "change")
        reviewers = (self._pick(repo, exclude=(author,), base=0.05),)
        if rng.random() < 0.35:
            reviewers += (self._pick(repo, exclude=(author, *reviewers), base=0.05),)
        additions = max(3, min(900, int(rng.lognormvariate(4.0, 0.9))))
        pull = PullState(repo, 0, author, change, change.title,
                         f"{author.login}/{_slug(change.title)}", additions,
                         int(additions * rng.uniform(0.05, 0.6)),
                         len(change.files) + rng.randint(0, 3), reviewers)

        count = min(len(change.commits), rng.choice((1, 2, 2, 3)))
        pushed_at = opened_at - dt.timedelta(minutes=rng.uniform(4, 40))
        commits, at = [], pushed_at
        for message in reversed(change.commits[:count]):
            at -= dt.timedelta(minutes=rng.uniform(15, 150))
            commits.insert(0, self._commit(message, author, max(at, self.start), change))
        self._add(pushed_at, lambda s: s.push(repo, pull.branch, author, commits, pull))
        self._add(opened_at, lambda s: s.open_pull(pull))

        first = reviewers[0]
        reviewed_at = self._later(opened_at, 0.5, 20)
        state = rng.choices(("approved", "changes_requested", "commented"), (55, 30, 15))[0]
        self._plan_review(pull, first, state, reviewed_at)
        settled = reviewed_at
        if state != "approved":
            fixed_at = self._later(reviewed_at, 0.5, 5)
            fixup = self._commit(rng.choice(catalog.FIXUP_COMMITS), author, fixed_at, change)
            self._add(fixed_at, lambda s: s.push(repo, pull.branch, author, [fixup], pull))
            settled = self._later(fixed_at, 0.3, 6)
            self._plan_review(pull, first, "approved", settled)
        for reviewer in reviewers[1:]:
            second_at = self._later(opened_at, 1, 30)
            self._plan_review(pull, reviewer, rng.choices(("approved", "commented"), (7, 3))[0],
                              second_at)
            settled = max(settled, second_at)

        if rng.random() < 0.08:
            closed_at = self._later(opened_at, 6, 72)
            note = rng.choice(catalog.CLOSE_COMMENTS)
            self._add(closed_at - dt.timedelta(minutes=2),
                      lambda s: s.comment_on_pull(pull, author, note))
            self._add(closed_at, lambda s: s.close_pull(pull, author, None))
            return
        merged_at = self._later(settled, 0.2, 5)
        if rng.random() < 0.25:
            talk_at = self._later(opened_at, 0.5, 10)
            if talk_at < merged_at:
                note = rng.choice(catalog.PR_COMMENTS).format(reviewer=first.login)
                self._add(talk_at, lambda s: s.comment_on_pull(pull, author, note))
        merger = author if rng.random() < 0.7 else first
        squash = self._commit(f"{change.title}", author, merged_at, change, via_github=True)
        self._add(merged_at, lambda s: s.close_pull(pull, merger, squash))
        self._add(merged_at + dt.timedelta(seconds=3),
                  lambda s: s.push(repo, "main", merger, [squash], None))

    def _commit(self, message: str, author: Person, at: dt.datetime, change: Change,
                via_github: bool = False) -> Commit:
        files = tuple(self.rng.sample(change.files, self.rng.randint(1, len(change.files))))
        return Commit(self._sha(), self._sha(), message, author, at, files, via_github)

    def _plan_review(self, pull: PullState, reviewer: Person, state: str,
                     at: dt.datetime) -> None:
        rng = self.rng
        body = rng.choice(catalog.REVIEW_BODIES[state])
        wanted = {"approved": rng.random() < 0.2, "commented": True,
                  "changes_requested": True}[state]
        notes = []
        for _ in range(rng.randint(1, 3 if state == "changes_requested" else 1) if wanted else 0):
            other = rng.choice([c for c in pull.repo.changes if c is not pull.change]).files[0]
            text = rng.choice(catalog.REVIEW_COMMENTS).format(
                other=other, word=rng.choice(("isSubmitting", "retryAfter", "nextCursor")))
            notes.append((rng.choice(pull.change.files), rng.randint(12, 240), text))
        self._add(at, lambda s: s.review(pull, reviewer, state, body, notes))

    # Issues and releases ----------------------------------------------------------------------
    def _plan_issue(self, repo: RepoSpec, opened_at: dt.datetime,
                    author: Person | None = None) -> None:
        rng = self.rng
        topic: IssueTopic = self._next(repo, "issue")
        author = author or self._pick(repo, base=0.05)
        assignee = self._pick(repo)
        issue = IssueState(repo, 0, author, topic.title, topic.body, topic.label, assignee)
        self._add(opened_at, lambda s: s.open_issue(issue))
        at = opened_at
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            at = self._later(at, 1, 30)
            person = self._pick(repo, exclude=(author,), base=0.1)
            text = rng.choice(catalog.ISSUE_COMMENTS)
            self._add(at, lambda s, p=person, t=text: s.comment_on_issue(issue, p, t))
        if rng.random() < 0.65:
            closed_at = self._later(at, 3, 100)
            if rng.random() < 0.5:
                text = rng.choice(catalog.ISSUE_CLOSE_COMMENTS)
                self._add(closed_at - dt.timedelta(minutes=1),
                          lambda s: s.comment_on_issue(issue, assignee, text))
            self._add(closed_at, lambda s: s.close_issue(issue, assignee))

    def _plan_release(self, repo: RepoSpec, day: dt.datetime) -> None:
        while day.weekday() >= 5:
            day += dt.timedelta(days=1)
        at = day + dt.timedelta(hours=self.rng.uniform(15, 17.5))
        manager = {"web": catalog.DEMO_LOGIN, "api": "sam-okafor", "mobile": "priya-natarajan"}
        author = _person(manager[repo.name])
        self._add(at, lambda s: s.release(repo, author))
