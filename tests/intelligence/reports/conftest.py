"""Factories and a fake OpenAI-compatible server for the report tests.

Facts are created through the real fact store (`ingest_facts`), so they carry real canonical texts,
hashes and `fact_changed` signals. `fake_llm` is a real HTTP server on 127.0.0.1 speaking the
chat-completions wire format; the app reaches it through `OPENAI_BASE_URL`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

import gitpulse_app.intelligence.delivery  # noqa: F401 — connects the delivery receiver
import gitpulse_app.intelligence.reports.receivers  # noqa: F401 — connects the staleness receiver
from gitpulse_app.core.models import (
    Installation,
    Repo,
    Report,
    ReportRegeneration,
    User,
)
from gitpulse_app.intelligence.embeddings.providers import reset_providers
from gitpulse_app.intelligence.reports.models import SECTION_TITLES
from gitpulse_app.normalization.models import ActorRef, Metrics, NormalizedFact, RepoRef
from gitpulse_app.normalization.store import ingest_facts
from tests.support.fake_http import FakeHTTPServer, FakeResponse, RecordedRequest

# Re-exported: the test modules import these answers from here.
from tests.support.fake_openai import (  # noqa: F401
    CHAT_PATH,
    completion,
    openai_error,
    start_fake_openai,
)
from tests.support.rows import make_app_source, make_repo, make_user

GITHUB = "https://github.com"
_serial = itertools.count(1)

# Thursday 2025-12-04 in Chicago is [06:00Z, 06:00Z next day); tests run "on" Dec 5 15:00Z.
NOW = dt.datetime(2025, 12, 5, 15, 0, tzinfo=dt.UTC)
DEC4 = (dt.datetime(2025, 12, 4, 6, tzinfo=dt.UTC), dt.datetime(2025, 12, 5, 6, tzinfo=dt.UTC))


@pytest.fixture(autouse=True)
def fresh_providers():
    reset_providers()
    yield
    reset_providers()


# People, repositories, facts ---------------------------------------------------------------------
@dataclass
class World:
    """A database with signed-up users who see repositories, and a way to add facts."""

    session: Session
    installations: dict[int, Installation] = field(default_factory=dict)

    def user(self, login: str, *, timezone: str | None = "America/Chicago", **fields: Any) -> User:
        return make_user(self.session, login, timezone=timezone,
                         signed_up_at=NOW - dt.timedelta(days=30), **fields)

    def repo(self, full_name: str, *, seen_by: tuple[User, ...] = ()) -> Repo:
        row = make_repo(self.session, full_name)
        for user in seen_by:
            self.show(user, row)
        return row

    def show(self, user: User, repo: Repo) -> None:
        """Let `user` see `repo` through their App installation (opt-out: every repo tracked)."""
        installation = self.installations.get(user.id)
        if installation is None:
            installation = make_app_source(self.session, user, account_login=user.gh_login)
            self.installations[user.id] = installation
        installation.repositories = [*installation.repositories, repo.full_name]
        installation.repository_ids = [*installation.repository_ids, repo.gh_id]
        self.session.add(installation)
        self.session.commit()

    def add(self, *facts: NormalizedFact) -> None:
        ingest_facts(list(facts), observed_via="webhook")

    def reports(self) -> list[Report]:
        self.session.expire_all()
        return list(self.session.scalars(sa.select(Report).order_by(Report.id)))

    def report(self, report_id: int) -> Report:
        self.session.expire_all()
        return self.session.get(Report, report_id)

    def regenerations(self) -> list[ReportRegeneration]:
        self.session.expire_all()
        return list(self.session.scalars(
            sa.select(ReportRegeneration).order_by(ReportRegeneration.id)))


@pytest.fixture
def world(session: Session) -> World:
    return World(session)


def _repo_ref(repo: Repo) -> RepoRef:
    return RepoRef(gh_id=repo.gh_id, full_name=repo.full_name, owner=repo.owner, name=repo.name,
                   raw={"id": repo.gh_id, "full_name": repo.full_name, "name": repo.name,
                        "owner": {"login": repo.owner}})


def _actor(user: User) -> ActorRef:
    return ActorRef(gh_id=user.gh_id, login=user.gh_login)


def at(hours: float, base: dt.datetime = DEC4[0]) -> dt.datetime:
    """An instant `hours` after the start of Dec 4 in Chicago (by default)."""
    return base + dt.timedelta(hours=hours)


def pr(repo: Repo, user: User, number: int, title: str, ts: dt.datetime, *,
       kind: str = "pr_merged", additions: int | None = None, deletions: int | None = None,
       files: int | None = None) -> NormalizedFact:
    return NormalizedFact(
        type=kind, repo=_repo_ref(repo), actor=_actor(user), ts=ts,
        source_url=f"{GITHUB}/{repo.full_name}/pull/{number}",
        metrics=Metrics(additions, deletions, files),
        metadata={"number": number, "title": title, "state": "closed", "body": "Details"})


def commit(repo: Repo, user: User, message: str, ts: dt.datetime) -> NormalizedFact:
    sha = f"{next(_serial):07x}" + "a" * 33
    return NormalizedFact(
        type="commit", repo=_repo_ref(repo), actor=_actor(user), ts=ts,
        source_url=f"{GITHUB}/{repo.full_name}/commit/{sha}", gh_id=sha,
        metadata={"sha": sha, "message": message, "branch": "main"})


def review(repo: Repo, user: User, pr_number: int, state: str, ts: dt.datetime,
           body: str = "") -> NormalizedFact:
    review_id = 900 + next(_serial)
    return NormalizedFact(
        type="review_submitted", repo=_repo_ref(repo), actor=_actor(user), ts=ts,
        source_url=f"{GITHUB}/{repo.full_name}/pull/{pr_number}#pullrequestreview-{review_id}",
        metadata={"pr_number": pr_number, "review_id": review_id, "state": state, "body": body})


def issue(repo: Repo, user: User, number: int, title: str, ts: dt.datetime, *,
          kind: str = "issue_opened") -> NormalizedFact:
    return NormalizedFact(
        type=kind, repo=_repo_ref(repo), actor=_actor(user), ts=ts,
        source_url=f"{GITHUB}/{repo.full_name}/issues/{number}",
        metadata={"issue_number": number, "title": title, "state": "open", "body": ""})


def comment(repo: Repo, user: User, number: int, body: str, ts: dt.datetime, *,
            on_pr: bool = False) -> NormalizedFact:
    comment_id = 5000 + next(_serial)
    kind = "pull" if on_pr else "issues"
    return NormalizedFact(
        type="issue_comment", repo=_repo_ref(repo), actor=_actor(user), ts=ts,
        source_url=f"{GITHUB}/{repo.full_name}/{kind}/{number}#issuecomment-{comment_id}",
        metadata={"issue_number": number, "is_pull_request": on_pr, "comment_id": comment_id,
                  "body": body})


def release(repo: Repo, user: User, tag: str, name: str, ts: dt.datetime) -> NormalizedFact:
    return NormalizedFact(
        type="release", repo=_repo_ref(repo), actor=_actor(user), ts=ts,
        source_url=f"{GITHUB}/{repo.full_name}/releases/tag/{tag}",
        metadata={"tag_name": tag, "name": name, "prerelease": False, "body": ""})


# The fake OpenAI-compatible server ----------------------------------------------------------------
EVENT_URL = re.compile(r"\[(https?://[^\]\s]+)\]$")


def prompt_of(request: RecordedRequest) -> str:
    return next(m["content"] for m in request.json()["messages"] if m["role"] == "user")


def urls_in_prompt(request: RecordedRequest) -> list[str]:
    """The event URLs the prompt listed, in order."""
    urls = []
    for line in prompt_of(request).splitlines():
        found = EVENT_URL.search(line)
        if line.startswith("- **") and found:
            urls.append(found.group(1))
    return urls


def kind_of(request: RecordedRequest) -> str:
    return "weekly" if "Generate a weekly report" in prompt_of(request) else "daily"


def answer_citing(urls: list[str], kind: str = "daily", *, extra: str = "") -> str:
    """A well-formed answer whose first section cites every URL."""
    titles = SECTION_TITLES[kind]
    bullets = [f"Shipped change ([link {n}]({url})){extra}" for n, url in enumerate(urls, 1)]
    sections = [{"title": titles[0], "bullets": bullets[:5], "citations": urls}]
    sections += [{"title": title, "bullets": ["No activity recorded"], "citations": []}
                 for title in titles[1:]]
    return json.dumps({"sections": sections})


def good_answer(request: RecordedRequest) -> FakeResponse:
    """Cites every event of the prompt."""
    return completion(answer_citing(urls_in_prompt(request), kind_of(request)),
                      model=request.json()["model"])


def by_model(answers: dict[str, Callable[[RecordedRequest], FakeResponse] | list]
             ) -> Callable[[RecordedRequest], FakeResponse]:
    """Answer per requested model; a list is used in order, its last entry repeating."""
    counters: dict[str, int] = {}

    def respond(request: RecordedRequest) -> FakeResponse:
        model = request.json()["model"]
        script = answers[model]
        if isinstance(script, list):
            index = counters.get(model, 0)
            counters[model] = index + 1
            step = script[min(index, len(script) - 1)]
        else:
            step = script
        return step(request) if callable(step) else step

    return respond


@dataclass
class FakeLLM:
    server: FakeHTTPServer

    def answer(self, responder: Callable[[RecordedRequest], FakeResponse] | list | FakeResponse
               ) -> None:
        self.server.add("POST", CHAT_PATH, responder)

    @property
    def calls(self) -> list[RecordedRequest]:
        return self.server.requests_to(CHAT_PATH, "POST")

    def bodies(self) -> list[dict[str, Any]]:
        return [request.json() for request in self.calls]


@pytest.fixture
def fake_llm(fake_http_factory, configure) -> FakeLLM:
    """A fake OpenAI-compatible API (good answers by default) and the settings pointing at it."""
    server = start_fake_openai(fake_http_factory, configure, "sk-test-reports",
                               GITPULSE_LLM_MODEL="gpt-4.1-mini")
    server.add("POST", CHAT_PATH, good_answer)
    return FakeLLM(server)


class Sleeps(list):
    """An injected `sleep` that records the delays instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


# Inspecting stored HTML ---------------------------------------------------------------------------
def html_elements(markup: str) -> list[tuple[str, dict[str, str | None]]]:
    """Every element of `markup` as a browser's tokenizer sees it: (tag, attributes)."""
    from html.parser import HTMLParser

    found: list[tuple[str, dict[str, str | None]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, dict(attrs)))

    collector = Collector()
    collector.feed(markup)
    collector.close()
    return found


def assert_inert(markup: str) -> None:
    """No script-capable element, no event handler, only http(s) links with rel/target."""
    allowed = {"h2", "h3", "p", "ul", "ol", "li", "a", "strong", "em", "code", "pre",
               "blockquote", "br"}
    for tag, attrs in html_elements(markup):
        assert tag in allowed, f"<{tag}> survived"
        if tag == "a":
            assert set(attrs) == {"href", "rel", "target"}, attrs
            assert attrs["href"].startswith(("http://", "https://")), attrs
            assert attrs["rel"] == "noopener noreferrer" and attrs["target"] == "_blank"
        else:
            assert attrs == {}, (tag, attrs)
