from datetime import UTC, datetime

import pytest

from gitpulse_app.normalization.models import ActorRef, Metrics, NormalizedFact, RepoRef
from gitpulse_app.normalization.text import (
    collapse,
    cut,
    dash,
    join,
    metrics_part,
    render_canonical_text,
    trim,
    truncate,
)

REPO = RepoRef(gh_id=1, full_name="acme/app", owner="acme", name="app")
TS = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _fact(fact_type: str, metadata: dict, actor: ActorRef | None = None, metrics=None):
    return NormalizedFact(
        type=fact_type,
        repo=REPO,
        actor=actor or ActorRef(gh_id=7, login="alice"),
        ts=TS,
        source_url="https://github.com/acme/app/x",
        metrics=metrics or Metrics(),
        metadata=metadata,
    )


def test_collapse_turns_every_whitespace_run_into_one_space_and_trims():
    assert collapse("  a \t\n b\u00a0\u2003c\ufeff ") == "a b c"


def test_collapse_treats_separators_javascript_missed_as_whitespace():
    assert collapse("a\x1c\x1d\x1e\x1fb\x85c") == "a b c"


def test_collapse_of_none_or_blank_is_empty():
    assert collapse(None) == ""
    assert collapse(" \ufeff\n") == ""


def test_trim_strips_byte_order_marks_too():
    assert trim("\ufeff x y \n") == "x y"


def test_cut_counts_code_points_and_never_splits_one():
    assert cut("ab🚀cd", 3) == "ab🚀"
    assert cut("漢字かな", 2) == "漢字"
    assert cut(None, 3) == ""


def test_join_drops_missing_and_blank_parts():
    assert join(["a", None, "", "  ", "b"]) == "a b"


def test_dash_prefixes_en_dash_and_keeps_blank_absent():
    assert dash("Title") == "\u2013 Title"
    assert dash("  ") is None
    assert dash(None) is None


def test_truncate_keeps_512_and_cuts_longer_to_511_plus_ellipsis():
    assert truncate("x" * 512) == "x" * 512
    assert truncate("x" * 513) == "x" * 511 + "\u2026"


@pytest.mark.parametrize(
    ("metrics", "expected"),
    [
        (Metrics(10, 2, 3), "(+10, -2, 3 files)"),
        (Metrics(1, 0, 1), "(+1, -0, 1 files)"),
        (Metrics(additions=5), "(+5)"),
        (Metrics(files_changed=1), "(1 files)"),
        (Metrics(), None),
        (None, None),
    ],
)
def test_metrics_part_shows_only_numeric_values(metrics, expected):
    assert metrics_part(metrics) == expected


def test_pr_template_collapses_the_title_and_appends_metrics():
    fact = _fact("pr_merged", {"number": 42, "title": " Add\n  search "}, metrics=Metrics(10, 2, 3))
    expected = "PR #42 \u2013 Add search merged by alice (+10, -2, 3 files)"
    assert render_canonical_text(fact) == expected


def test_pr_template_without_title_or_metrics_drops_those_parts():
    fact = _fact("pr_closed", {"number": 42, "title": None})
    assert render_canonical_text(fact) == "PR #42 closed by alice"


def test_review_template_lower_cases_state_and_cuts_body_to_160():
    body = "word " * 100
    fact = _fact("review_submitted", {"pr_number": 3, "state": "CHANGES_REQUESTED", "body": body})
    text = render_canonical_text(fact)
    prefix = "Review on PR #3 by alice [changes_requested] \u2013 "
    assert text.startswith(prefix)
    assert text[len(prefix) :] == collapse(body)[:160]


def test_issue_comment_template_names_pull_request_targets():
    fact = _fact("issue_comment", {"issue_number": 5, "is_pull_request": True, "body": "LGTM"})
    assert render_canonical_text(fact) == "Comment on pull request #5 by alice \u2013 LGTM"


def test_release_template_without_name():
    fact = _fact("release", {"tag_name": "v1.0", "name": ""})
    assert render_canonical_text(fact) == "Release v1.0 published by alice"


def test_git_only_actor_is_written_by_collapsed_name_else_email_local_part():
    metadata = {"sha": "abcdef0123", "message": "Fix"}
    named = ActorRef(git_email="Dev@Example.com", git_name=" Jane   Doe ")
    unnamed = ActorRef(git_email="Dev@Example.com")
    assert render_canonical_text(_fact("commit", metadata, named)) == (
        "Commit abcdef0 by Jane Doe \u2013 Fix"
    )
    assert render_canonical_text(_fact("commit", metadata, unnamed)) == (
        "Commit abcdef0 by dev \u2013 Fix"
    )


def test_unknown_fact_type_has_no_template():
    with pytest.raises(ValueError, match="No canonical text template"):
        render_canonical_text(_fact("mystery", {}))
