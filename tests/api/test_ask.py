"""Ask: retrieval by what the question names, model answers validated like report citations, and
the extractive answer when there is no model or it fails. The model is a fake OpenAI-compatible
server on 127.0.0.1; nothing of ours is mocked."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest

from gitpulse_app.experience.http.api_v1 import PREFIX
from gitpulse_app.intelligence.ask import AskError, ask, retrieve
from gitpulse_app.intelligence.ask.question import named_window
from tests.api.conftest import MARCH, World, bearer
from tests.support.fake_openai import completion, start_fake_openai
from tests.support.fake_http import FakeResponse

NOW = dt.datetime(2025, 12, 5, 15, 0, tzinfo=dt.UTC)


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def fake_model(fake_http_factory, configure):
    return start_fake_openai(fake_http_factory, configure, "sk-test-ask",
                             GITPULSE_LLM_MODEL="gpt-4.1-mini")


def _answer(*bullets: str) -> FakeResponse:
    return completion(json.dumps({"sections": [{"title": "Answer", "bullets": list(bullets),
                                                "citations": []}]}))


def test_a_question_naming_a_repository_and_a_month_retrieves_from_them(world: World):
    alice = world.alice
    repo_name = alice.side.repo_full_name.split("/")[1]
    in_repo = retrieve(alice.side.user_id, f"What did we merge in {repo_name} in March 2025?",
                       now=NOW)
    assert [fact.source_url for fact in in_repo.facts] == [alice.march_url]
    assert in_repo.scope.repos == (alice.side.repo_full_name,)
    assert in_repo.scope.window.start == MARCH.replace(day=1, hour=0)

    other_repo = retrieve(alice.side.user_id, f"What happened in {alice.second_repo} in March?",
                          now=NOW)
    assert [fact.source_url for fact in other_repo.facts] == [alice.other_repo_march_url]

    april = retrieve(alice.side.user_id, "ledger work in 2025-04", now=NOW)
    assert [fact.source_url for fact in april.facts] == [alice.april_url]


def test_i_and_my_mean_the_asker():
    window = named_window("What did I ship last month?", NOW, "UTC")
    assert (window.start, window.end) == (dt.datetime(2025, 11, 1, tzinfo=dt.UTC),
                                          dt.datetime(2025, 12, 1, tzinfo=dt.UTC))
    # "may" alone is a verb, not a month.
    assert named_window("What may have broken the build?", NOW, "UTC") is None


def test_no_key_gives_an_extractive_answer_citing_the_top_facts(world: World):
    alice = world.alice
    result = ask(alice.side.user_id, "Which ledger cleanup happened in March 2025?", now=NOW)
    assert result.provider == "local"
    assert result.citations and set(result.citations) <= alice.private_urls
    assert alice.march_url in result.citations
    for bullet in result.bullets:
        assert "](https://github.com/" in bullet
    assert [source.url for source in result.sources] == result.citations


def test_a_model_inventing_a_url_keeps_only_allowed_links(http: httpx.Client, world: World,
                                                         fake_model):
    alice = world.alice
    fake_model.add("POST", "/v1/chat/completions", _answer(
        f"Merged the March ledger cleanup ([PR #301]({alice.march_url})), see also "
        "[the design](https://evil.example/steal?token=1).",
        "Shipped a secret project ([PR #9](https://github.com/acme/invented/pull/9)).",
    ))
    response = http.post(f"{PREFIX}/ask", headers=bearer(alice.read_token),
                         json={"question": "What ledger work was merged in March 2025?"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["provider"] == "openai"
    assert body["citations"] == [alice.march_url]
    assert "evil.example" not in body["answer"] and "invented" not in body["answer"]
    assert body["bullets"] == [
        f"Merged the March ledger cleanup ([PR #301]({alice.march_url})), see also the design."]
    assert [source["url"] for source in body["sources"]] == [alice.march_url]
    # The model saw only alice's facts, each with its URL.
    prompt = fake_model.requests_to("/v1/chat/completions", "POST")[0].json()["messages"][1]
    assert alice.march_url in prompt["content"]
    assert world.bob.march_url not in prompt["content"]


def test_a_model_whose_every_link_is_invented_falls_back_to_extractive(world: World, fake_model):
    fake_model.add("POST", "/v1/chat/completions",
                   _answer("Did it all ([x](https://github.com/acme/invented/pull/1))."))
    result = ask(world.alice.side.user_id, "ledger work in March 2025", now=NOW)
    assert result.provider == "local"
    assert set(result.citations) == {world.alice.march_url, world.alice.other_repo_march_url}


def test_a_failing_model_falls_back_to_extractive(world: World, fake_model):
    fake_model.add("POST", "/v1/chat/completions",
                   FakeResponse(500, json={"error": {"message": "down"}}))
    sleeps = Sleeps()
    result = ask(world.alice.side.user_id, "ledger work in March 2025", now=NOW, sleep=sleeps)
    assert result.provider == "local"
    assert set(result.citations) == {world.alice.march_url, world.alice.other_repo_march_url}
    assert sleeps == [1.0, 2.0, 4.0]


def test_nothing_visible_gives_an_empty_uncited_answer(world: World):
    result = ask(world.bob.side.user_id, f"What happened in {world.alice.side.repo_full_name}?",
                 now=NOW)
    # Naming alice's repository does not narrow bob's search to it: bob only sees his own facts.
    assert set(result.citations) <= world.bob.private_urls


@pytest.mark.parametrize("question", ["", "   ", "x" * 1001])
def test_bad_questions_are_refused(world: World, question):
    with pytest.raises(AskError):
        ask(world.alice.side.user_id, question, now=NOW)


@pytest.mark.parametrize("text, first, last", [
    ("what shipped in December?", "2025-12-01", "2026-01-01"),
    ("what shipped in jan", "2025-01-01", "2025-02-01"),  # the latest January that has begun
    ("in Sept. 2024", "2024-09-01", "2024-10-01"),
    ("on 2025-03-14", "2025-03-14", "2025-03-15"),
    ("during 2025-02", "2025-02-01", "2025-03-01"),
    ("yesterday", "2025-12-04", "2025-12-05"),
    ("last week", "2025-11-24", "2025-12-01"),
])
def test_named_windows_are_local_calendar_ranges(text, first, last):
    window = named_window(text, NOW, "UTC")
    assert (window.start.date().isoformat(), window.end.date().isoformat()) == (first, last)


def test_named_windows_follow_the_askers_zone():
    window = named_window("March 2025", NOW, "America/Chicago")
    assert window.start == dt.datetime(2025, 3, 1, 6, tzinfo=dt.UTC)  # local midnight, CST
    assert window.end == dt.datetime(2025, 4, 1, 5, tzinfo=dt.UTC)  # after the DST change


def test_repositories_and_people_are_named_only_among_visible_ones():
    from gitpulse_app.intelligence.ask.question import named_logins, named_repos

    visible = ["acme/api", "acme/ui", "acme/web-app"]
    assert named_repos("What broke in acme/ui?", visible) == ("acme/ui",)
    assert named_repos("news from web-app and the API", visible) == ("acme/api", "acme/web-app")
    assert named_repos("what did the ui team do", visible) == ()  # too short to be a bare name
    assert named_repos("other/secret", visible) == ()
    assert named_logins("what did @octocat and Hubot do?", ["octocat", "hubot", "bob"],
                        None) == ("hubot", "octocat")
    assert named_logins("What did I ship?", ["octocat"], "me-login") == ("me-login",)
