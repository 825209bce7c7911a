"""Who and what the demo workspace is about: the `acme` organisation, its people and its work.

Everything here is fixed data; `generator` draws from it with a seeded random generator. The GitHub
ids are far from the ids of the accounts people sign in with today, and they are what `seed`
recognises demo rows by when it resets the workspace.
"""

from __future__ import annotations

from dataclasses import dataclass

from gitpulse_app.experience.demo.work import (
    API_CHANGES,
    API_ISSUES,
    MOBILE_CHANGES,
    MOBILE_ISSUES,
    WEB_CHANGES,
    WEB_ISSUES,
    Change,
    IssueTopic,
)

ORG_LOGIN = "acme"
ORG_ID = 88_120_001
INSTALLATION_ID = 51_234_567
DEMO_LOGIN = "demo"


@dataclass(frozen=True)
class Person:
    """A member of the demo team.

    Attributes:
        login: GitHub login.
        name: Display name (commit author name).
        gh_id: GitHub user id.
        focus: Repository name → how much of their work happens there.
        activity: How busy they are relative to the others.
    """

    login: str
    name: str
    gh_id: int
    focus: dict[str, float]
    activity: float = 1.0

    @property
    def email(self) -> str:
        """The commit email GitHub gives people who keep theirs private."""
        return f"{self.gh_id}+{self.login}@users.noreply.github.com"


@dataclass(frozen=True)
class RepoSpec:
    """One demo repository and the work drawn for it.

    Attributes:
        name: Repository name under the organisation.
        gh_id: GitHub repository id.
        description: Repository description.
        language: Main language.
        homepage: Project homepage, if any.
        topics: GitHub topics.
        created: When the repository was created (ISO-8601).
        first_number: The next issue/PR number (GitHub numbers both in one sequence).
        pr_rate: Pull requests opened per weekday on average.
        issue_rate: Issues opened per weekday on average.
        release_offset: Day (within each 14-day cycle) of the repository's release.
        first_version: (major, minor) of the first release in the window.
        changes: Pull requests to draw from.
        issues: Issues to draw from.
    """

    name: str
    gh_id: int
    description: str
    language: str
    homepage: str | None
    topics: tuple[str, ...]
    created: str
    first_number: int
    pr_rate: float
    issue_rate: float
    release_offset: int
    first_version: tuple[int, int]
    changes: tuple[Change, ...]
    issues: tuple[IssueTopic, ...]

    @property
    def full_name(self) -> str:
        return f"{ORG_LOGIN}/{self.name}"


PEOPLE: tuple[Person, ...] = (
    # The demo user comes first: `/auth/demo` signs into the first `is_demo` user.
    Person(DEMO_LOGIN, "Demo User", 88_120_101, {"web": 0.45, "api": 0.45, "mobile": 0.1}, 1.4),
    Person("maya-chen", "Maya Chen", 88_120_102, {"web": 0.8, "mobile": 0.2}),
    Person("diego-ramos", "Diego Ramos", 88_120_103, {"api": 0.85, "web": 0.15}),
    Person("priya-natarajan", "Priya Natarajan", 88_120_104, {"mobile": 0.85, "api": 0.15}),
    Person("sam-okafor", "Sam Okafor", 88_120_105, {"api": 0.5, "web": 0.3, "mobile": 0.2}, 0.8),
)

REPOS: tuple[RepoSpec, ...] = (
    RepoSpec("web", 712_450_101, "Customer-facing web app: dashboard, billing and settings",
             "TypeScript", "https://app.acme.example", ("nextjs", "react", "typescript"),
             "2021-03-02T10:14:07Z", 1841, 0.55, 0.18, 3, (2, 14), WEB_CHANGES, WEB_ISSUES),
    RepoSpec("api", 712_450_102, "Public REST API, webhooks and background jobs",
             "Python", "https://docs.acme.example/api", ("api", "python", "fastapi"),
             "2020-11-18T08:51:33Z", 962, 0.5, 0.15, 8, (1, 31), API_CHANGES, API_ISSUES),
    RepoSpec("mobile", 712_450_103, "Android and iOS apps (Kotlin Multiplatform)",
             "Kotlin", None, ("android", "ios", "kotlin-multiplatform"),
             "2022-06-09T14:02:51Z", 418, 0.33, 0.12, 11, (4, 8), MOBILE_CHANGES, MOBILE_ISSUES),
)

REVIEW_BODIES = {
    "approved": (
        "LGTM, thanks!",
        "Looks good to me. Nice test coverage.",
        "Approved, one nit inline but not blocking.",
        "Ship it 🚀",
        "Clean change, thanks for splitting it into small commits.",
        "",
    ),
    "changes_requested": (
        "A couple of things before we merge, see inline.",
        "This needs a test for the failure path before it goes in.",
        "I think this breaks the existing behaviour for older clients, see comments.",
        "Close, but the error handling needs another look.",
    ),
    "commented": (
        "Left a few questions inline.",
        "Not blocking, but curious about the approach here.",
        "Did a first pass, will look again after lunch.",
    ),
}

REVIEW_COMMENTS = (
    "Can we extract this into a helper? The same logic lives in {other}.",
    "Nit: this name is a bit vague, maybe `{word}`?",
    "What happens here when the list is empty?",
    "This will run on every render; worth memoizing?",
    "Should this be behind the feature flag until the rollout?",
    "Could we log the id here? It would make support tickets much easier.",
    "I think we need to handle the timeout case as well.",
    "Let's add a test for this branch.",
    "Is this safe to run twice? The retry path may call it again.",
    "Minor: the comment above no longer matches what the code does.",
)

FIXUP_COMMITS = (
    "Address review feedback",
    "Handle the empty case and add a test",
    "Rename per review",
    "Add the missing error handling",
    "Fix lint",
)

PR_COMMENTS = (
    "Rebased on main, ready for another look.",
    "Deployed to staging, works as expected.",
    "@{reviewer} could you take another look when you get a chance?",
    "CI is green now, the flaky test was unrelated.",
    "I split the migration into a separate PR so this one stays small.",
)

CLOSE_COMMENTS = (
    "Closing in favour of a smaller change, this grew too big.",
    "Superseded by a different approach we agreed on in the design review.",
    "Closing: product decided to drop this for now.",
)

ISSUE_COMMENTS = (
    "I can reproduce this on the latest build.",
    "Looks like this started with the last release.",
    "I'll take this one.",
    "Customer reported the same thing through support today.",
    "Added some details from the logs: it only happens for workspaces created after the migration.",
    "Is this still happening after yesterday's deploy?",
    "+1, this is confusing a lot of people.",
)

ISSUE_CLOSE_COMMENTS = (
    "Fixed on main, will go out with the next release.",
    "Confirmed fixed on staging.",
    "Closing, this works as intended after the latest change.",
)
