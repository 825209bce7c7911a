"""The model chain against a fake OpenAI-compatible server (real HTTP, chat-completions format)."""

import json

import pytest

from gitpulse_app.intelligence.reports.llm import estimate_cost
from gitpulse_app.intelligence.reports.models import LOCAL_MODEL, NO_ACTIVITY
from gitpulse_app.intelligence.reports.service import generate_report
from tests.intelligence.reports.conftest import (
    DEC4,
    NOW,
    answer_citing,
    at,
    by_model,
    completion,
    good_answer,
    openai_error,
    pr,
    urls_in_prompt,
)
from tests.support.fake_http import FakeResponse

INVENTED = "https://github.com/acme/app/pull/999"


@pytest.fixture
def alice_day(world):
    """alice with two merged PRs on Dec 4 (Chicago) in a repo she can see."""
    alice = world.user("alice")
    app = world.repo("acme/app", seen_by=(alice,))
    world.add(pr(app, alice, 1, "Add search", at(3), additions=10, deletions=2, files=3),
              pr(app, alice, 2, "Fix login", at(5)))
    return alice


def run(alice, sleeps, **kwargs):
    return generate_report(alice.id, "daily", *DEC4, origin="manual", now=NOW, sleep=sleeps,
                           **kwargs)


def test_a_good_answer_is_saved_with_the_model_as_analyst(fake_llm, alice_day, sleeps):
    report = run(alice_day, sleeps).report

    assert (report.provider, report.model) == ("openai", "gpt-4.1-mini")
    assert report.coverage_score == 1.0 and report.citation_count == 2
    assert report.input_tokens == 1200 and report.output_tokens == 300
    assert report.cost_usd == pytest.approx((1200 * 0.40 + 300 * 1.60) / 1e6)
    assert len(fake_llm.calls) == 1 and sleeps == []


def test_the_request_uses_the_chat_completions_wire_format(fake_llm, alice_day, sleeps):
    run(alice_day, sleeps)

    [request] = fake_llm.calls
    body = request.json()
    assert request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == "Bearer sk-test-reports"
    assert body["model"] == "gpt-4.1-mini"
    assert body["temperature"] == 0.3 and body["max_tokens"] == 4000
    assert body["response_format"] == {"type": "json_object"}
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert body["messages"][1]["content"].startswith(
        "Generate a daily report for **alice** covering **December 4, 2025**.")
    assert urls_in_prompt(request) == ["https://github.com/acme/app/pull/2",
                                       "https://github.com/acme/app/pull/1"]


def test_an_invented_url_is_removed_and_coverage_counts_only_real_citations(
        fake_llm, alice_day, sleeps):
    def invent(request):
        real = urls_in_prompt(request)[0]
        content = json.dumps({"sections": [{"title": "Work Completed", "bullets": [
            f"Fixed login ([PR #2]({real}))",
            f"Rewrote the billing engine ([PR #999]({INVENTED}))",
            f"Also touched [PR #2]({real}) and [ghost]({INVENTED})",
        ], "citations": [real, INVENTED]}]})
        return completion(content)

    fake_llm.answer(invent)

    report = run(alice_day, sleeps).report

    assert INVENTED not in report.markdown and INVENTED not in report.html
    assert INVENTED not in json.dumps(report.sections) and INVENTED not in report.citations
    assert report.sections[0]["bullets"] == [
        "Fixed login ([PR #2](https://github.com/acme/app/pull/2))",
        "Also touched [PR #2](https://github.com/acme/app/pull/2) and ghost"]
    assert report.citations == ["https://github.com/acme/app/pull/2"]
    assert report.coverage_score == 0.5


def test_fenced_json_is_accepted(fake_llm, alice_day, sleeps):
    fake_llm.answer(lambda request: completion(
        "```json\n" + answer_citing(urls_in_prompt(request)) + "\n```"))

    report = run(alice_day, sleeps).report

    assert report.provider == "openai" and report.coverage_score == 1.0 and sleeps == []


def test_garbage_is_retried_then_the_local_writer_takes_over(fake_llm, alice_day, sleeps):
    fake_llm.answer(completion("I'm sorry, I can't produce JSON today."))

    report = run(alice_day, sleeps).report

    assert (report.provider, report.model) == ("local", LOCAL_MODEL)
    assert report.coverage_score == 1.0 and report.event_count == 2
    assert len(fake_llm.calls) == 4 and sleeps == [1, 2, 4]
    assert report.input_tokens == 4 * 1200  # every call made is accounted for


def test_a_truncated_answer_is_retried(fake_llm, alice_day, sleeps):
    fake_llm.answer([completion('{"sections": [{"title": "Work Compl', finish_reason="length"),
                     good_answer])

    report = run(alice_day, sleeps).report

    assert report.provider == "openai" and len(fake_llm.calls) == 2 and sleeps == [1]


def test_server_errors_then_success(fake_llm, alice_day, sleeps):
    fake_llm.answer([FakeResponse(500, json={"error": {"message": "boom"}}),
                     FakeResponse(503, body="upstream down"),
                     openai_error(429, "Rate limit reached"), good_answer])

    report = run(alice_day, sleeps).report

    assert report.provider == "openai" and len(fake_llm.calls) == 4 and sleeps == [1, 2, 4]


def test_empty_content_is_retried(fake_llm, alice_day, sleeps):
    fake_llm.answer([completion(None), completion(""), good_answer])

    assert run(alice_day, sleeps).report.provider == "openai"
    assert sleeps == [1, 2]


def test_primary_failing_falls_back_to_the_fallback_model(fake_llm, configure, alice_day, sleeps):
    configure(GITPULSE_LLM_FALLBACK_MODEL="gpt-4o-mini")
    fake_llm.answer(by_model({"gpt-4.1-mini": lambda r: completion("{invalid json"),
                              "gpt-4o-mini": good_answer}))

    report = run(alice_day, sleeps).report

    assert (report.provider, report.model) == ("openai", "gpt-4o-mini")
    assert [b["model"] for b in fake_llm.bodies()] == ["gpt-4.1-mini"] * 4 + ["gpt-4o-mini"]


def test_an_answer_with_no_expected_title_moves_to_the_next_model(
        fake_llm, configure, alice_day, sleeps):
    configure(GITPULSE_LLM_FALLBACK_MODEL="gpt-4o-mini")
    wrong = json.dumps({"sections": [{"title": "Summary", "bullets": ["x"]}]})
    fake_llm.answer(by_model({"gpt-4.1-mini": lambda r: completion(wrong),
                              "gpt-4o-mini": good_answer}))

    assert run(alice_day, sleeps).report.model == "gpt-4o-mini"


def test_wrong_case_titles_are_mapped(fake_llm, alice_day, sleeps):
    def lower_titles(request):
        url = urls_in_prompt(request)[0]
        return completion(json.dumps({"sections": [
            {"title": "work completed", "bullets": [f"Did it ([PR]({url}))"]},
            {"title": "## MOMENTUM & NEXT STEPS", "bullets": ["No activity recorded"]}]}))

    fake_llm.answer(lower_titles)

    report = run(alice_day, sleeps).report

    assert [s["title"] for s in report.sections] == [
        "Work Completed", "Key Decisions & Context", "Momentum & Next Steps"]
    assert report.sections[1]["bullets"] == [NO_ACTIVITY]


def test_both_models_failing_gives_a_local_report_citing_every_fact(
        fake_llm, configure, alice_day, sleeps):
    configure(GITPULSE_LLM_FALLBACK_MODEL="gpt-4o-mini")
    fake_llm.answer(FakeResponse(500, json={"error": {"message": "down"}}))

    report = run(alice_day, sleeps).report

    assert (report.provider, report.model) == ("local", LOCAL_MODEL)
    assert report.coverage_score == 1.0 and report.citation_count == 2
    assert len(fake_llm.calls) == 8


def test_unauthorized_ends_a_model_at_once(fake_llm, configure, alice_day, sleeps):
    configure(GITPULSE_LLM_FALLBACK_MODEL="gpt-4o-mini")
    fake_llm.answer(by_model({"gpt-4.1-mini": openai_error(401, "Incorrect API key"),
                              "gpt-4o-mini": openai_error(404, "The model does not exist")}))

    report = run(alice_day, sleeps).report

    assert report.provider == "local" and len(fake_llm.calls) == 2 and sleeps == []


def test_a_400_naming_response_format_is_retried_without_it(fake_llm, alice_day, sleeps):
    fake_llm.answer([openai_error(400, "Invalid parameter: 'response_format' of type "
                                       "'json_object' is not supported with this model.",
                                  param="response_format"), good_answer])

    report = run(alice_day, sleeps).report

    first, second = fake_llm.bodies()
    assert "response_format" in first and "response_format" not in second
    assert report.provider == "openai" and sleeps == []


def test_a_400_naming_max_tokens_or_temperature_is_retried_once_adjusted(
        fake_llm, alice_day, sleeps):
    fake_llm.answer([
        openai_error(400, "Unsupported parameter: 'max_tokens' is not supported with this model. "
                          "Use 'max_completion_tokens' instead.", param="max_tokens"),
        openai_error(400, "Unsupported value: 'temperature' does not support 0.3.",
                     param="temperature"),
        good_answer])

    report = run(alice_day, sleeps).report

    bodies = fake_llm.bodies()
    assert bodies[1]["max_completion_tokens"] == 4000 and "max_tokens" not in bodies[1]
    assert "temperature" not in bodies[2] and bodies[2]["max_completion_tokens"] == 4000
    assert report.provider == "openai"


def test_another_400_ends_the_model_without_retries(fake_llm, alice_day, sleeps):
    fake_llm.answer(openai_error(400, "Your prompt was flagged."))

    assert run(alice_day, sleeps).report.provider == "local"
    assert len(fake_llm.calls) == 1


def test_a_cache_hit_makes_no_model_call(fake_llm, alice_day, sleeps):
    first = run(alice_day, sleeps)
    second = run(alice_day, sleeps)

    assert not first.cache_hit and second.cache_hit
    assert second.report.id == first.report.id
    assert len(fake_llm.calls) == 1


def test_a_local_report_written_while_a_key_is_configured_is_not_a_cache_hit(
        fake_llm, alice_day, sleeps):
    fake_llm.answer([FakeResponse(500, json={"error": {"message": "down"}})] * 4 + [good_answer])

    assert run(alice_day, sleeps).report.provider == "local"
    again = run(alice_day, sleeps)

    assert not again.cache_hit and again.report.provider == "openai"


def test_prices_per_million_tokens():
    assert estimate_cost("gpt-4.1", 1_000_000, 1_000_000) == 10.0
    assert estimate_cost("openai/gpt-4o-mini", 1_000_000, 0) == pytest.approx(0.15)
    assert estimate_cost("llama-3-70b", 10, 10) is None


def test_the_whole_report_deadline_stops_retries(fake_llm):
    from gitpulse_app.intelligence.reports.llm import ChainFailed, ReportModelChain

    fake_llm.answer(FakeResponse(500, json={"error": {"message": "slow and broken"}}))
    clock = iter([0.0, 10.0, 100.0, 179.5, 181.0, 200.0])
    waits = []
    chain = ReportModelChain("sk-test-reports", fake_llm.server.url + "/v1", ["gpt-4.1-mini"],
                             sleep=waits.append, clock=lambda: next(clock))

    with pytest.raises(ChainFailed, match="deadline"):
        chain.run([{"role": "user", "content": "hi"}], lambda text: text)

    assert len(fake_llm.calls) == 2 and waits == [1.0]
