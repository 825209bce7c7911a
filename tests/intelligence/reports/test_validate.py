import datetime as dt
import json

import pytest

from gitpulse_app.intelligence.reports.models import NO_ACTIVITY, CollectedFact, Section
from gitpulse_app.intelligence.reports.validate import (
    AnswerError,
    allowed_urls,
    extract_json,
    filter_citations,
    measure_coverage,
    parse_answer,
    report_citations,
)

DAILY = ("Work Completed", "Key Decisions & Context", "Momentum & Next Steps")
PR1 = "https://github.com/acme/app/pull/1"
PR2 = "https://github.com/acme/app/pull/2"
EVIL = "https://evil.example/steal"


def fact(event_id: int, url: str, repo: str = "acme/app") -> CollectedFact:
    return CollectedFact(event_id=event_id, type="pr_merged",
                         ts=dt.datetime(2025, 12, 4, tzinfo=dt.UTC), repo=repo, actor="alice",
                         source_url=url, canonical_text="x", content_hash=f"{event_id:064x}",
                         meta={})


def answer(*sections: dict) -> str:
    return json.dumps({"sections": list(sections)})


def test_fenced_json_is_parsed():
    body = answer({"title": "Work Completed", "bullets": ["a"]})
    text = "Here you go:\n```json\n" + body + "\n```"

    sections = parse_answer(text, DAILY)

    assert sections[0] == Section("Work Completed", ["a"], [])


def test_plain_fence_and_prose_around_the_object_are_tolerated():
    fenced = "```\n" + answer({"title": "Work Completed", "bullets": ["a"]}) + "\n```"
    prose = ('Sure! {"note": "ignore me"} The report: ' +
             answer({"title": "Work Completed", "bullets": ["b {with braces}"]}) + " Thanks.")

    assert parse_answer(fenced, DAILY)[0].bullets == ["a"]
    assert parse_answer(prose, DAILY)[0].bullets == ["b {with braces}"]


def test_the_last_balanced_object_with_sections_wins():
    first = answer({"title": "Work Completed", "bullets": ["draft"]})
    second = answer({"title": "Work Completed", "bullets": ["final"]})

    assert extract_json(f"draft: {first}\nfinal: {second}")["sections"][0]["bullets"] == ["final"]


@pytest.mark.parametrize("garbage", ["", "I cannot help with that.", "{not json}",
                                     '{"sections": "nope"}', "[1, 2, 3]", '{"sections": [}'])
def test_garbage_is_an_answer_error(garbage):
    with pytest.raises(AnswerError):
        parse_answer(garbage, DAILY)


def test_titles_map_case_insensitively_after_trimming_hashes_numbers_and_spaces():
    text = answer(
        {"title": "  ## 1. work completed ", "bullets": ["done"]},
        {"title": "3) MOMENTUM & NEXT STEPS", "bullets": ["next"]},
        {"title": "Bonus Section", "bullets": ["dropped"]},
    )

    sections = parse_answer(text, DAILY)

    assert [s.title for s in sections] == list(DAILY)
    assert [s.bullets for s in sections] == [["done"], [NO_ACTIVITY], ["next"]]


def test_sections_come_out_in_the_expected_order():
    text = answer({"title": "Momentum & Next Steps", "bullets": ["n"]},
                  {"title": "Work Completed", "bullets": ["w"]})

    assert [s.bullets for s in parse_answer(text, DAILY)] == [["w"], [NO_ACTIVITY], ["n"]]


def test_no_expected_title_is_a_parse_failure():
    with pytest.raises(AnswerError, match="expected title"):
        parse_answer(answer({"title": "Summary", "bullets": ["x"]}), DAILY)


def test_bullets_are_non_empty_strings_and_at_most_five():
    text = answer({"title": "Work Completed",
                   "bullets": ["", "  ", 7, None, "- one", "two", "3", "4", "5", "6"]})

    assert parse_answer(text, DAILY)[0].bullets == ["one", "two", "3", "4", "5"]


def test_invented_url_keeps_the_link_text_and_loses_the_url():
    allowed = allowed_urls([fact(1, PR1)])
    sections = [Section("Work Completed", [
        f"Merged search ([PR #1]({PR1})) and hardened auth ([PR #9]({EVIL}))",
        f"Invented work ([PR #7]({EVIL}))",
        f"Bare invented {EVIL} link",
    ], [PR1, EVIL])]

    [kept] = filter_citations(sections, allowed)

    assert kept.bullets == [f"Merged search ([PR #1]({PR1})) and hardened auth (PR #9)"]
    assert kept.citations == [PR1]


def test_urls_match_after_trimming_and_one_trailing_slash():
    allowed = allowed_urls([fact(1, PR1)])
    [kept] = filter_citations([Section("Work Completed", [f"Done [x]( {PR1}/ )", f"See {PR1}/."])],
                              allowed)

    assert kept.bullets == [f"Done [x]({PR1})", f"See {PR1}."]
    assert kept.citations == [PR1]


def test_listed_citations_count_only_when_allowed():
    allowed = allowed_urls([fact(1, PR1), fact(2, PR2)])
    [kept] = filter_citations([Section("Work Completed", [f"A [a]({PR1})"], [EVIL, PR2, PR1])],
                              allowed)

    assert kept.citations == [PR1, PR2]


def test_uncited_bullets_are_dropped_and_an_empty_section_says_no_activity():
    allowed = allowed_urls([fact(1, PR1)])
    sections = filter_citations([
        Section("Work Completed", ["Did great things", "Refactored everything"]),
        Section("Key Decisions & Context", ["no activity recorded."]),
    ], allowed)

    assert [s.bullets for s in sections] == [[NO_ACTIVITY], [NO_ACTIVITY]]
    assert report_citations(sections) == []


def test_report_citations_are_distinct_in_first_seen_order():
    sections = [Section("A", [], [PR2, PR1]), Section("B", [], [PR1])]

    assert report_citations(sections) == [PR2, PR1]


def test_coverage_three_of_four_is_075_with_a_per_repo_breakdown():
    facts = [fact(1, PR1), fact(2, PR2), fact(3, "https://github.com/acme/web/pull/3", "acme/web"),
             fact(4, "https://github.com/acme/web/pull/4", "acme/web")]

    coverage = measure_coverage(facts, [PR1, PR2, "https://github.com/acme/web/pull/3/"])

    assert coverage.score == 0.75
    assert coverage.breakdown == [{"scope_key": "acme/app", "used": 2, "total": 2},
                                  {"scope_key": "acme/web", "used": 1, "total": 2}]
    assert coverage.cited_event_ids == {1, 2, 3}


def test_coverage_of_no_facts_is_null():
    assert measure_coverage([], []).score is None
