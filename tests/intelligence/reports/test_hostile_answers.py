"""Hostile model answers and hostile GitHub text through the whole report pipeline.

The model is a fake OpenAI-compatible server on 127.0.0.1; facts arrive through the real fact store.
"""

from __future__ import annotations

import json

import pytest

from gitpulse_app.intelligence.reports.llm import ReportModelChain
from gitpulse_app.intelligence.reports.models import LOCAL_MODEL, SECTION_TITLES
from gitpulse_app.intelligence.reports.service import generate_report
from gitpulse_app.intelligence.reports.validate import AnswerError, validate_answer
from gitpulse_app.normalization.models import ActorRef, NormalizedFact
from tests.intelligence.reports.conftest import (
    DEC4,
    GITHUB,
    NOW,
    _repo_ref,
    assert_inert,
    at,
    by_model,
    completion,
    html_elements,
    pr,
    urls_in_prompt,
)

TITLES = SECTION_TITLES["daily"]
PR1, PR2 = f"{GITHUB}/acme/app/pull/1", f"{GITHUB}/acme/app/pull/2"


@pytest.fixture
def alice_day(world):
    alice = world.user("alice")
    app = world.repo("acme/app", seen_by=(alice,))
    world.add(pr(app, alice, 1, "Add search", at(3)), pr(app, alice, 2, "Fix login", at(5)))
    return alice


def hostile_answer(request) -> str:
    first, second = sorted(urls_in_prompt(request))
    bullets = [
        f"Shipped [search [beta] flag](https://evil.example/n) in [PR #1]({first})",
        f"Fixed login ([PR #2]({second} 'merged')) ![px](https://tracker.example/p.gif)",
        f"Also [docs](https://evil.example/t 'x') <https://evil.example/a> www.evil.com "
        f"[ref][r] <img src=https://tracker.example/i.gif> ([PR #2]({second}))\n\n"
        f"[r]: https://evil.example/ref",
        "Invented [PR #9](https://github.com/acme/app/pull/9)",
    ]
    return json.dumps({"sections": [{"title": TITLES[0], "bullets": bullets,
                                     "citations": [first, "https://evil.example/c"]}]})


def test_a_hostile_answer_is_saved_with_only_cited_links(fake_llm, alice_day, sleeps):
    fake_llm.answer(lambda request: completion(hostile_answer(request)))

    report = generate_report(alice_day.id, "daily", *DEC4, origin="manual", now=NOW,
                             sleep=sleeps).report

    pr1, pr2 = PR1, PR2
    assert report.provider == "openai"
    assert report.citations == [pr1, pr2]
    assert report.sections[0]["bullets"] == [
        f"Shipped search \\[beta\\] flag in [PR #1]({pr1})",
        f"Fixed login ([PR #2]({pr2}))",
        f"Also docs ref \\<img src=\\> ([PR #2]({pr2}))",
    ]
    assert_inert(report.html)
    hrefs = [attrs["href"] for tag, attrs in html_elements(report.html) if tag == "a"]
    assert hrefs == [pr1, pr2, pr2]
    for stored in (report.markdown, report.html):
        assert "evil" not in stored and "tracker" not in stored


def test_nul_and_the_old_placeholder_shape_are_stripped_and_never_raise(
        fake_llm, alice_day, sleeps):
    def answer(request):
        first, second = sorted(urls_in_prompt(request))
        body = json.dumps({"sections": [{"title": TITLES[0], "bullets": [
            f"Merged \u0000 5 \u0000 [PR #1]({first}) \u00000\u0000",
            f"\u0000 1 \u0000 [PR #2]({second})\u0000 99999999999999999999 \u0000",
        ], "citations": [first, second]}]})
        return completion(body.replace('"bullets"', '\u0000"bullets"', 1) + "\u0000")

    fake_llm.answer(answer)

    outcome = generate_report(alice_day.id, "daily", *DEC4, origin="manual", now=NOW,
                              sleep=sleeps)

    report = outcome.report
    assert (report.provider, report.model) == ("openai", "gpt-4.1-mini")
    assert report.sections[0]["bullets"] == [
        f"Merged 5 [PR #1]({GITHUB}/acme/app/pull/1) 0",
        f"1 [PR #2]({GITHUB}/acme/app/pull/2) 99999999999999999999",
    ]
    assert "\u0000" not in report.markdown and report.coverage_score == 1.0


def test_an_error_while_validating_means_the_next_model(fake_llm, alice_day, sleeps):
    fake_llm.answer(by_model({
        "gpt-4.1-mini": lambda request: completion("first model", model="gpt-4.1-mini"),
        "gpt-4o-mini": lambda request: completion("second model", model="gpt-4o-mini"),
    }))
    chain = ReportModelChain("sk-test", fake_llm.server.url + "/v1",
                             ["gpt-4.1-mini", "gpt-4o-mini"], sleep=sleeps)

    def parse(text: str) -> str:
        if text == "first model":
            raise IndexError("the validator broke on this answer")
        return text

    result = chain.run([{"role": "user", "content": "hi"}], parse)

    assert (result.value, result.model) == ("second model", "gpt-4o-mini")
    assert [body["model"] for body in fake_llm.bodies()] == ["gpt-4.1-mini", "gpt-4o-mini"]
    assert sleeps == []  # a broken validation is not retried on the same model


def test_every_model_failing_validation_ends_with_the_local_writer(
        fake_llm, alice_day, sleeps, configure):
    configure(GITPULSE_LLM_FALLBACK_MODEL="gpt-4o-mini")
    fake_llm.answer(lambda request: completion("not json at all"))

    report = generate_report(alice_day.id, "daily", *DEC4, origin="manual", now=NOW,
                             sleep=sleeps).report

    assert (report.provider, report.model) == ("local", LOCAL_MODEL)
    assert report.coverage_score == 1.0


def test_a_git_author_name_with_link_syntax_is_text_in_a_repository_report(world):
    alice = world.user("alice")
    app = world.repo("acme/app", seen_by=(alice,))
    sha = "c0ffee" + "0" * 34
    author = ActorRef(git_email="mallory@example.com",
                      git_name="[Mallory](https://evil.example/a) ![t](https://tracker.example/t)")
    world.add(NormalizedFact(
        type="commit", repo=_repo_ref(app), actor=author, ts=at(2),
        source_url=f"{GITHUB}/acme/app/commit/{sha}", gh_id=sha,
        metadata={"sha": sha, "message": "Fix **[docs](https://evil.example/m)** <b>now</b>",
                  "branch": "feature/[x](https://evil.example/b)"}))

    report = generate_report(alice.id, "daily", *DEC4, origin="manual", now=NOW,
                             repo="acme/app").report

    assert report.provider == "local" and report.scope_repo == "acme/app"
    assert_inert(report.html)
    hrefs = [attrs["href"] for tag, attrs in html_elements(report.html) if tag == "a"]
    assert hrefs == [f"{GITHUB}/acme/app/commit/{sha}"]
    for stored in (report.markdown, report.html):
        assert "evil" not in stored and "tracker" not in stored


def test_validate_answer_refuses_an_answer_without_expected_titles():
    with pytest.raises(AnswerError):
        validate_answer('{"sections": [{"title": "Summary", "bullets": ["x"]}]}', TITLES, {})


def test_github_text_in_the_prompt_is_escaped_markdown_text():
    from markdown_it import MarkdownIt

    from gitpulse_app.intelligence.reports.models import CollectedFact
    from gitpulse_app.intelligence.reports.prompt import event_line

    hostile = CollectedFact(
        event_id=1, type="review_comment", ts=NOW, repo="acme/app",
        actor="[m](https://evil.example/a)", source_url=f"{PR1}#discussion_r1",
        canonical_text="t", content_hash="0" * 64,
        meta={"pr_number": 1, "path": "src/[x](https://evil.example/p).py",
              "body": "![t](https://tracker.example/t.gif) <img src=x> *now*"})

    line = event_line(hostile, team=True)

    assert line == (
        "- **Review comment on PR #1** @\\[m\\](https://evil.example/a) "
        "(src/\\[x\\](https://evil.example/p).py): "
        '"!\\[t\\](https://tracker.example/t.gif) \\<img src=x\\> \\*now\\*" '
        f"[{PR1}#discussion_r1]")
    tokens = [child for block in MarkdownIt("commonmark").parse(line) for child in
              block.children or []]
    assert not [t for t in tokens if t.type in ("link_open", "image", "html_inline")]
