import datetime as dt

from gitpulse_app.intelligence.reports.models import CollectedFact, Collection
from gitpulse_app.intelligence.reports.prompt import (
    PROMPT_VERSION,
    ROLE_DAILY,
    ROLE_TEAM,
    ROLE_WEEKLY,
    event_line,
    system_prompt,
    user_prompt,
)

U = "https://github.com/acme/app"


def fact(kind: str, url: str, meta: dict, *, additions=None, deletions=None, files=None,
         actor="alice") -> CollectedFact:
    return CollectedFact(event_id=1, type=kind, ts=dt.datetime(2025, 12, 4, tzinfo=dt.UTC),
                         repo="acme/app", actor=actor, source_url=url, canonical_text="text",
                         content_hash="0" * 64, meta=meta, additions=additions,
                         deletions=deletions, files_changed=files)


def test_prompt_version():
    assert PROMPT_VERSION == "py-v1"


def test_event_lines_per_type():
    lines = [
        event_line(fact("pr_merged", f"{U}/pull/12", {"number": 12, "title": "Add  search"},
                        additions=10, deletions=2, files=3), team=False),
        event_line(fact("pr_opened", f"{U}/pull/13", {"number": 13, "title": "Draft"},
                        additions=5), team=False),
        event_line(fact("commit", f"{U}/commit/abc1234def", {"sha": "abc1234def",
                                                             "message": "Fix\n\ntypo  here"}),
                   team=False),
        event_line(fact("review_submitted", f"{U}/pull/12#r", {"pr_number": 12, "state": "APPROVED",
                                                               "body": "Looks good " * 20}),
                   team=False),
        event_line(fact("review_submitted", f"{U}/pull/12#r2", {"pr_number": 12,
                                                                "state": "commented", "body": ""}),
                   team=False),
        event_line(fact("review_comment", f"{U}/pull/12#c", {"pr_number": 12, "path": "a.py",
                                                             "body": "x" * 100}), team=False),
        event_line(fact("issue_closed", f"{U}/issues/4", {"issue_number": 4, "title": "Crash"}),
                   team=False),
        event_line(fact("issue_comment", f"{U}/pull/12#ic", {"issue_number": 12,
                                                             "is_pull_request": True,
                                                             "body": "Ship it"}), team=False),
        event_line(fact("issue_comment", f"{U}/issues/4#ic", {"issue_number": 4,
                                                              "is_pull_request": False,
                                                              "body": "Thanks"}), team=False),
        event_line(fact("release", f"{U}/releases/tag/v1", {"tag_name": "v1", "name": ""}),
                   team=False),
    ]

    assert lines == [
        f"- **PR #12** (merged): Add search (+10/-2, 3 files) [{U}/pull/12]",
        f"- **PR #13** (opened): Draft (+5/-0, 0 files) [{U}/pull/13]",
        f"- **Commit** (abc1234): Fix typo here [{U}/commit/abc1234def]",
        f'- **Review PR #12**: approved - "{("Looks good " * 20)[:100]}" [{U}/pull/12#r]',
        f"- **Review PR #12**: commented [{U}/pull/12#r2]",
        f'- **Review comment on PR #12** (a.py): "{"x" * 80}" [{U}/pull/12#c]',
        f"- **Issue #4** (closed): Crash [{U}/issues/4]",
        f'- **Comment on PR #12**: "Ship it" [{U}/pull/12#ic]',
        f'- **Comment on Issue #4**: "Thanks" [{U}/issues/4#ic]',
        f"- **Release v1**: New release [{U}/releases/tag/v1]",
    ]


def test_team_scope_names_the_actor_after_the_label():
    line = event_line(fact("pr_merged", f"{U}/pull/12", {"number": 12, "title": "Add search"},
                           actor="bob"), team=True)

    assert line == f"- **PR #12** @bob (merged): Add search [{U}/pull/12]"


def test_system_prompt_role_lines_and_rules():
    assert system_prompt("daily", team=False).startswith(ROLE_DAILY)
    assert system_prompt("weekly", team=False).startswith(ROLE_WEEKLY)
    assert system_prompt("daily", team=True).startswith(ROLE_TEAM)
    rules = system_prompt("daily", team=False)
    for phrase in ("Never invent", "([PR #42](", "No activity recorded", "Also completed:",
                   "exactly", '{"sections":[{"title"'):
        assert phrase in rules


def test_user_prompt_layout():
    facts = [fact("pr_merged", f"{U}/pull/12", {"number": 12, "title": "Add search"})]

    text = user_prompt("daily", who="alice", date_label="December 4, 2025",
                       collection=Collection(facts, 2001, omitted=2000), query="auth")

    assert text == (
        "Generate a daily report for **alice** covering **December 4, 2025**.\n"
        'Focus: "auth" \u2014 prioritise related events.\n'
        "\n"
        "EVENTS (1 total):\n"
        f"- **PR #12** (merged): Add search [{U}/pull/12]\n"
        "(2000 older events omitted)\n"
        "\n"
        "SECTIONS TO WRITE (exact titles):\n"
        "- Work Completed\n- Key Decisions & Context\n- Momentum & Next Steps")
