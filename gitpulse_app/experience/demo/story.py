"""Telling the demo's planned steps as webhook deliveries, in time order (see `generator`).

`Story` keeps GitHub's side of the state while it tells: ids and issue/PR numbers handed out in
the order things happen, each branch's head commit, main's head, counters of commits and comments,
the pull requests merged since each repository's last release (its release notes).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import ClassVar

from gitpulse_app.experience.demo.catalog import Person, RepoSpec
from gitpulse_app.experience.demo.objects import Commit, IssueState, Objects, PullState
from gitpulse_app.experience.demo.shapes import Json

ZERO_SHA = "0" * 40


@dataclass
class Story:
    """Sends the planned steps as deliveries, keeping GitHub's side of the state."""

    objects: Objects
    rng: random.Random
    start: dt.datetime
    clock: dt.datetime = dt.datetime.min.replace(tzinfo=dt.UTC)  # the step being told
    told: list[tuple[str, str | None, Json, dt.datetime]] = field(default_factory=list)
    _ids: dict[str, int] = field(default_factory=dict)
    _numbers: dict[str, int] = field(default_factory=dict)
    _main: dict[str, str] = field(default_factory=dict)
    _pushed: dict[str, dt.datetime] = field(default_factory=dict)
    _merged: dict[str, list[PullState]] = field(default_factory=dict)
    _versions: dict[str, tuple[int, int]] = field(default_factory=dict)

    _ID_BASES: ClassVar[dict[str, int]] = {
        "pull": 1_880_000_000, "issue": 2_480_000_000, "comment": 2_310_000_000,
        "review": 2_090_000_000, "review_comment": 1_610_000_000, "release": 172_000_000,
    }

    def _id(self, kind: str) -> int:
        value = self._ids.get(kind, self._ID_BASES[kind]) + self.rng.randint(1, 4000)
        self._ids[kind] = value
        return value

    def _number(self, repo: RepoSpec) -> int:
        number = self._numbers.get(repo.name, repo.first_number)
        self._numbers[repo.name] = number + 1
        return number

    def _main_sha(self, repo: RepoSpec) -> str:
        return self._main.setdefault(repo.name, f"{self.rng.getrandbits(160):040x}")

    def _send(self, event: str, payload: Json, at: dt.datetime, repo: RepoSpec,
              sender: Person) -> None:
        shapes = self.objects.shapes
        pushed_at = self._pushed.get(repo.name, self.start - dt.timedelta(days=1))
        payload.update({  # the keys every delivery of an organisation's App carries
            "repository": shapes.repository(repo, pushed_at, push=event == "push"),
            "organization": shapes.organization(),
            "sender": shapes.user(sender),
            "installation": shapes.installation(),
        })
        self.told.append((event, payload.get("action"), payload, at))

    def push(self, repo: RepoSpec, branch: str, pusher: Person, commits: list[Commit],
             pull: PullState | None) -> None:
        at = self.clock
        before = (pull.head_sha or ZERO_SHA) if pull is not None else self._main_sha(repo)
        after = commits[-1].sha
        if pull is not None:
            pull.head_sha = after
            pull.commits += len(commits)
        else:
            self._main[repo.name] = after
        self._pushed[repo.name] = at
        web = f"{self.objects.shapes.web}/{repo.full_name}"
        rendered = [self.objects.commit(repo, commit) for commit in commits]
        payload: Json = {
            "ref": f"refs/heads/{branch}",
            "before": before,
            "after": after,
            "pusher": {"name": pusher.login, "email": pusher.email},
            "created": before == ZERO_SHA,
            "deleted": False,
            "forced": False,
            "base_ref": None,
            "compare": (f"{web}/commit/{after}" if before == ZERO_SHA
                        else f"{web}/compare/{before[:12]}...{after[:12]}"),
            "commits": rendered,
            "head_commit": rendered[-1],
        }
        self._send("push", payload, at, repo, pusher)

    def open_pull(self, pull: PullState) -> None:
        at = pull.created_at = pull.updated_at = self.clock
        pull.number = self._number(pull.repo)
        pull.gh_id = self._id("pull")
        pull.base_sha = self._main_sha(pull.repo)
        payload = {"action": "opened", "number": pull.number,
                   "pull_request": self.objects.pull_request(pull, at=at)}
        self._send("pull_request", payload, at, pull.repo, pull.author)

    def review(self, pull: PullState, reviewer: Person, state: str, body: str,
               notes: list[tuple[str, int, str]]) -> None:
        at = self.clock
        review_id = self._id("review")
        payload = {"action": "submitted",
                   "review": self.objects.review(pull, review_id, reviewer, state, body, at),
                   "pull_request": self.objects.pull_request(pull, at=at, variant="review")}
        self._send("pull_request_review", payload, at, pull.repo, reviewer)
        for path, line, text in notes:
            pull.review_comments += 1
            comment = self.objects.review_comment(pull, self._id("review_comment"), review_id,
                                                  reviewer, path, line, text, at)
            payload = {"action": "created", "comment": comment,
                       "pull_request": self.objects.pull_request(pull, at=at,
                                                                  variant="comment")}
            self._send("pull_request_review_comment", payload, at, pull.repo, reviewer)

    def comment_on_pull(self, pull: PullState, person: Person, text: str) -> None:
        at = self.clock
        pull.comments += 1
        html = f"{self.objects.shapes.web}/{pull.repo.full_name}/pull/{pull.number}"
        payload = {"action": "created", "issue": self.objects.pull_as_issue(pull, at),
                   "comment": self.objects.issue_comment(pull.repo, html, self._id("comment"),
                                                         person, text, at)}
        self._send("issue_comment", payload, at, pull.repo, person)

    def close_pull(self, pull: PullState, closer: Person, squash: Commit | None) -> None:
        at = pull.closed_at = self.clock
        if squash is not None:
            squash.message = f"{pull.title} (#{pull.number})"
            pull.merged_at, pull.merged_by, pull.merge_sha = at, closer, squash.sha
            self._merged.setdefault(pull.repo.name, []).append(pull)
        payload = {"action": "closed", "number": pull.number,
                   "pull_request": self.objects.pull_request(pull, at=at)}
        self._send("pull_request", payload, at, pull.repo, closer)

    def open_issue(self, issue: IssueState) -> None:
        at = issue.created_at = self.clock
        issue.number = self._number(issue.repo)
        issue.gh_id = self._id("issue")
        payload = {"action": "opened", "issue": self.objects.issue(issue, at)}
        self._send("issues", payload, at, issue.repo, issue.author)

    def comment_on_issue(self, issue: IssueState, person: Person, text: str) -> None:
        at = self.clock
        issue.comments += 1
        html = f"{self.objects.shapes.web}/{issue.repo.full_name}/issues/{issue.number}"
        comment = self.objects.issue_comment(issue.repo, html, self._id("comment"), person,
                                             text, at)
        payload = {"action": "created", "issue": self.objects.issue(issue, at), "comment": comment}
        self._send("issue_comment", payload, at, issue.repo, person)

    def close_issue(self, issue: IssueState, closer: Person) -> None:
        at = issue.closed_at = self.clock
        payload = {"action": "closed", "issue": self.objects.issue(issue, at)}
        self._send("issues", payload, at, issue.repo, closer)

    def release(self, repo: RepoSpec, author: Person) -> None:
        at = self.clock
        major, minor = self._versions.get(repo.name, repo.first_version)
        self._versions[repo.name] = (major, minor + 1)
        tag, previous = f"v{major}.{minor}.0", f"v{major}.{minor - 1}.0"
        merged = self._merged.pop(repo.name, [])
        lines = [f"* {p.title} by @{p.author.login} in {self.objects.shapes.web}/"
                 f"{repo.full_name}/pull/{p.number}" for p in merged]
        body = ("## What's Changed\n" + ("\n".join(lines) or "* Dependency updates")
                + f"\n\n**Full Changelog**: {self.objects.shapes.web}/{repo.full_name}/compare/"
                f"{previous}...{tag}")
        release = self.objects.release(repo, self._id("release"), tag, author, body,
                                       at - dt.timedelta(minutes=6), at)
        self._send("release", {"action": "published", "release": release}, at, repo, author)
