from datetime import UTC, datetime

import pytest

from gitpulse_app.normalization.canonicalize_webhook import canonicalize_webhook
from gitpulse_app.normalization.content_hash import content_hash
from gitpulse_app.normalization.models import ActorRef, Metrics
from tests.support.payloads import all_webhook_fixtures, load_webhook

D = "\u2013"
REPO_URL = "https://github.com/Codertocat/Hello-World"
PR_TITLE = "Update the README with new information."
SHA = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
ISSUE_OPENED = f"Issue #1 {D} Spelling error in the README file opened by Codertocat"
COMMENT = f"Comment on issue #1 by Codertocat {D} You are totally right! I'll get this fixed"


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _one(event: str, payload: dict, **kwargs):
    facts = canonicalize_webhook(event, payload, **kwargs)
    assert len(facts) == 1, facts
    return facts[0]


# Every recorded fixture that maps to a fact.
FACT_FIXTURES = [
    ("pull_request", "opened", "pr_opened", "2019-05-15T15:20:33Z",
     f"PR #2 {D} {PR_TITLE} opened by Codertocat (+1, -1, 1 files)", f"{REPO_URL}/pull/2"),
    ("pull_request", "opened.with-organization", "pr_opened", "2019-05-15T15:20:33Z",
     f"PR #2 {D} {PR_TITLE} opened by Codertocat (+1, -1, 1 files)", f"{REPO_URL}/pull/2"),
    ("pull_request", "opened.with-null-body.json", "pr_opened", "2019-05-15T15:20:33Z",
     f"PR #2 {D} {PR_TITLE} opened by Codertocat (+1, -1, 1 files)", f"{REPO_URL}/pull/2"),
    ("pull_request", "reopened", "pr_opened", "2019-05-15T15:20:33Z",
     f"PR #2 {D} {PR_TITLE} opened by Codertocat (+1, -1, 1 files)", f"{REPO_URL}/pull/2"),
    ("pull_request", "ready_for_review", "pr_opened", "2019-05-15T15:20:33Z",
     f"PR #2 {D} {PR_TITLE} opened by Codertocat (+1, -1, 1 files)", f"{REPO_URL}/pull/2"),
    ("pull_request", "closed", "pr_closed", "2019-05-15T15:21:18Z",
     f"PR #2 {D} {PR_TITLE} closed by Codertocat (+1, -1, 1 files)", f"{REPO_URL}/pull/2"),
    ("pull_request_review", "submitted", "review_submitted", "2019-05-15T15:20:38Z",
     "Review on PR #2 by Codertocat [commented]", f"{REPO_URL}/pull/2#pullrequestreview-237895671"),
    ("pull_request_review_comment", "created", "review_comment", "2019-05-15T15:20:37Z",
     f"Review comment on PR #2 by Codertocat {D} Maybe you should use more emoji on this line.",
     f"{REPO_URL}/pull/2#discussion_r284312630"),
    ("pull_request_review_comment", "edited", "review_comment", "2019-05-15T15:20:37Z",
     f"Review comment on PR #2 by Codertocat {D} Maybe you should use more emoji on this line.",
     f"{REPO_URL}/pull/2#discussion_r284312630"),
    ("issues", "opened", "issue_opened", "2019-05-15T15:20:18Z",
     ISSUE_OPENED, f"{REPO_URL}/issues/1"),
    ("issues", "opened.with-empty-body", "issue_opened", "2019-05-15T15:20:18Z",
     ISSUE_OPENED, f"{REPO_URL}/issues/1"),
    ("issues", "reopened", "issue_opened", "2021-07-05T18:05:24Z",
     ISSUE_OPENED, f"{REPO_URL}/issues/1"),
    ("issue_comment", "created", "issue_comment", "2019-05-15T15:20:21Z",
     f"{COMMENT} right away.",
     f"{REPO_URL}/issues/1#issuecomment-492700400"),
    ("issue_comment", "edited", "issue_comment", "2019-05-15T15:20:21Z",
     f"{COMMENT} today.",
     f"{REPO_URL}/issues/1#issuecomment-492700400"),
    ("push", "with-new-branch", "commit", "2019-05-15T15:19:25Z",
     f"Commit 6113728 by Codertocat {D} Initial commit", f"{REPO_URL}/commit/{SHA}"),
    ("push", "with-no-username-committer", "commit", "2019-05-15T15:19:25Z",
     f"Commit 6113728 by Codertocat {D} Initial commit", f"{REPO_URL}/commit/{SHA}"),
    ("release", "published", "release", "2019-05-15T15:20:53Z",
     "Release 0.0.1 published by Codertocat", f"{REPO_URL}/releases/tag/0.0.1"),
]  # fmt: skip


@pytest.mark.parametrize(("event", "name", "fact_type", "ts", "text", "url"), FACT_FIXTURES)
def test_recorded_webhook_yields_its_fact(event, name, fact_type, ts, text, url):
    fact = _one(event, load_webhook(event, name))
    assert fact.type == fact_type
    assert fact.actor.login == "Codertocat"
    assert fact.repo.full_name == "Codertocat/Hello-World"
    assert fact.repo.gh_id == 186853002
    assert fact.ts == _ts(ts)
    assert fact.canonical_text == text
    assert fact.source_url == url
    assert fact.content_hash == content_hash(text, url, fact.metrics)


@pytest.mark.parametrize(
    ("event", "name"),
    [
        ("issues", "labeled"),
        ("issues", "edited"),
        ("pull_request", "labeled"),
        ("pull_request", "synchronize"),
        ("pull_request_review", "dismissed"),
        ("pull_request_review_comment", "deleted"),
        ("issue_comment", "deleted"),
        ("release", "created"),
        ("release", "edited"),
        ("release", "prereleased"),
        ("release", "released.json"),
        ("release", "deleted"),
        ("push", "payload"),
        ("push", "with-organization"),
        ("ping", "payload"),
        ("installation", "created"),
    ],
)
def test_other_actions_and_events_yield_nothing(event, name):
    assert canonicalize_webhook(event, load_webhook(event, name)) == []


def test_every_recorded_webhook_canonicalizes_without_error():
    for event, name in all_webhook_fixtures():
        for fact in canonicalize_webhook(event, load_webhook(event, name)):
            assert len(fact.canonical_text) <= 512


def test_opened_pr_carries_metrics_metadata_and_ids():
    fact = _one("pull_request", load_webhook("pull_request", "opened"))
    assert fact.metrics == Metrics(additions=1, deletions=1, files_changed=1)
    assert fact.content_hash == content_hash(
        f"PR #2 {D} {PR_TITLE} opened by Codertocat (+1, -1, 1 files)",
        f"{REPO_URL}/pull/2",
        {"additions": 1, "deletions": 1, "filesChanged": 1},
    )
    assert fact.metadata == {
        "number": 2,
        "title": PR_TITLE,
        "state": "open",
        "merged": False,
        "draft": False,
        "base_branch": "master",
        "head_branch": "changes",
        "body": "This is a pretty simple change that we need to pull into master.",
    }
    assert fact.gh_id == "279147437"
    assert fact.gh_node_id == "MDExOlB1bGxSZXF1ZXN0Mjc5MTQ3NDM3"
    assert fact.actor == ActorRef(
        gh_id=21031067,
        login="Codertocat",
        node_id="MDQ6VXNlcjIxMDMxMDY3",
        avatar_url="https://avatars1.githubusercontent.com/u/21031067?v=4",
    )
    assert fact.repo.raw["html_url"] == REPO_URL


def test_pr_with_null_body_stores_none():
    fact = _one("pull_request", load_webhook("pull_request", "opened.with-null-body.json"))
    assert fact.metadata["body"] is None


def test_merged_pr_uses_merged_at_even_when_closed_at_differs():
    payload = load_webhook("pull_request", "closed")
    payload["pull_request"].update(merged=True, merged_at="2019-05-15T15:21:00Z")
    fact = _one("pull_request", payload)
    assert fact.type == "pr_merged"
    assert fact.ts == _ts("2019-05-15T15:21:00Z")
    assert fact.canonical_text == f"PR #2 {D} {PR_TITLE} merged by Codertocat (+1, -1, 1 files)"
    assert fact.metadata["merged"] is True
    assert fact.source_updated_at == _ts("2019-05-15T15:21:18Z")


def test_closed_unmerged_pr_is_pr_closed_at_closed_at():
    fact = _one("pull_request", load_webhook("pull_request", "closed"))
    assert fact.type == "pr_closed"
    assert fact.ts == _ts("2019-05-15T15:21:18Z")


def test_pr_without_html_url_falls_back_to_github_url():
    payload = load_webhook("pull_request", "opened")
    del payload["pull_request"]["html_url"]
    fact = _one("pull_request", payload, github_url="https://ghe.example.com/")
    assert fact.source_url == "https://ghe.example.com/Codertocat/Hello-World/pull/2"


def test_pr_opened_falls_back_to_author_without_sender():
    payload = load_webhook("pull_request", "opened")
    del payload["sender"]
    assert _one("pull_request", payload).actor.login == "Codertocat"


def test_pr_without_any_timestamp_yields_no_fact():
    payload = load_webhook("pull_request", "opened")
    payload["pull_request"].update(created_at=None, updated_at="not a date")
    assert canonicalize_webhook("pull_request", payload) == []


def test_webhook_without_repository_yields_no_fact():
    payload = load_webhook("issues", "opened")
    del payload["repository"]
    assert canonicalize_webhook("issues", payload) == []


def test_review_submitted_lower_cases_state_and_keeps_pr_title():
    payload = load_webhook("pull_request_review", "submitted")
    payload["review"].update(state="APPROVED", body="Looks  good\n\nto me")
    fact = _one("pull_request_review", payload)
    assert fact.canonical_text == f"Review on PR #2 by Codertocat [approved] {D} Looks good to me"
    assert fact.metadata == {
        "pr_number": 2,
        "review_id": 237895671,
        "state": "approved",
        "body": "Looks  good\n\nto me",
        "pr_title": PR_TITLE,
    }
    assert fact.gh_id == "237895671"


def test_review_without_html_url_falls_back_to_pr_anchor():
    payload = load_webhook("pull_request_review", "submitted")
    del payload["review"]["html_url"]
    assert _one("pull_request_review", payload).source_url == (
        f"{REPO_URL}/pull/2#pullrequestreview-237895671"
    )


def test_review_comment_metadata():
    payload = load_webhook("pull_request_review_comment", "created")
    fact = _one("pull_request_review_comment", payload)
    assert fact.metadata == {
        "pr_number": 2,
        "comment_id": 284312630,
        "path": "README.md",
        "body": "Maybe you should use more emoji on this line.",
    }
    assert fact.source_updated_at == _ts("2019-05-15T15:20:38Z")


def test_issue_metadata_lists_label_names():
    fact = _one("issues", load_webhook("issues", "opened"))
    assert fact.metadata["labels"] == ["bug"]
    assert fact.metadata["issue_number"] == 1
    assert fact.metadata["state"] == "open"
    assert fact.gh_id == "444500041"


def test_closed_issue_uses_closed_at_and_sender():
    payload = load_webhook("issues", "opened")
    payload["action"] = "closed"
    payload["issue"].update(state="closed", closed_at="2019-05-16T10:00:00Z")
    payload["sender"] = {"login": "hubot", "id": 99}
    fact = _one("issues", payload)
    assert fact.type == "issue_closed"
    assert fact.ts == _ts("2019-05-16T10:00:00Z")
    assert fact.canonical_text == f"Issue #1 {D} Spelling error in the README file closed by hubot"


def test_comment_on_pull_request_names_its_target():
    payload = load_webhook("issue_comment", "created")
    payload["issue"]["pull_request"] = {"url": "https://api.github.com/repos/x/y/pulls/1"}
    fact = _one("issue_comment", payload)
    assert fact.canonical_text.startswith("Comment on pull request #1 by Codertocat")
    assert fact.metadata["is_pull_request"] is True
    assert fact.metadata["issue_title"] == "Spelling error in the README file"


def test_comment_body_is_capped_at_200_and_stored_at_2000():
    payload = load_webhook("issue_comment", "created")
    payload["comment"]["body"] = "x" * 5000
    fact = _one("issue_comment", payload)
    assert fact.canonical_text == f"Comment on issue #1 by Codertocat {D} " + "x" * 200
    assert fact.metadata["body"] == "x" * 2000


def test_long_title_is_truncated_to_512_with_ellipsis():
    payload = load_webhook("issues", "opened")
    payload["issue"]["title"] = "t" * 600
    text = _one("issues", payload).canonical_text
    assert len(text) == 512
    assert text.endswith("t\u2026")


def test_emoji_and_cjk_survive_without_splitting_a_code_point():
    payload = load_webhook("issue_comment", "created")
    payload["comment"]["body"] = "a" * 198 + "漢🚀🚀 tail"
    text = _one("issue_comment", payload).canonical_text
    assert text.endswith(f"{D} " + "a" * 198 + "漢🚀")


def test_comment_actor_falls_back_to_sender():
    payload = load_webhook("issue_comment", "created")
    payload["comment"]["user"] = None
    payload["sender"]["login"] = "someone"
    assert _one("issue_comment", payload).actor.login == "someone"


def test_tag_push_without_commits_yields_no_facts():
    assert canonicalize_webhook("push", load_webhook("push", "payload")) == []


def test_push_commit_uses_author_username_and_branch_and_ignores_file_lists():
    fact = _one("push", load_webhook("push", "with-no-username-committer"))
    assert fact.actor.login == "Codertocat"
    assert fact.actor.gh_id == 21031067  # the sender is the same account
    assert fact.source_url == f"{REPO_URL}/commit/{SHA}"
    assert fact.metrics.is_empty
    assert fact.metadata == {"sha": SHA, "message": "Initial commit", "branch": "master"}
    assert fact.gh_id == SHA


def test_push_author_without_username_is_a_git_only_actor():
    payload = load_webhook("push", "with-new-branch")
    payload["commits"][0]["author"] = {"name": "Jane  Doe", "email": "Jane@Example.COM"}
    fact = _one("push", payload)
    assert fact.actor == ActorRef(git_email="jane@example.com", git_name="Jane  Doe")
    assert fact.canonical_text == f"Commit 6113728 by Jane Doe {D} Initial commit"


def test_push_author_other_than_sender_is_known_by_login_only():
    payload = load_webhook("push", "with-new-branch")
    payload["commits"][0]["author"]["username"] = "mona"
    assert _one("push", payload).actor == ActorRef(login="mona")


def test_push_skips_non_distinct_commits_and_duplicate_shas():
    payload = load_webhook("push", "with-new-branch")
    first = payload["commits"][0]
    second = {**first, "id": "a" * 40, "message": "Second\n\nwith details", "distinct": True}
    skipped = {**first, "id": "b" * 40, "distinct": False}
    payload["commits"] = [first, second, skipped, dict(first)]
    facts = canonicalize_webhook("push", payload)
    assert [fact.gh_id for fact in facts] == [SHA, "a" * 40]
    assert facts[1].canonical_text == f"Commit aaaaaaa by Codertocat {D} Second with details"
    assert facts[1].metadata["message"] == "Second\n\nwith details"


def test_push_commit_url_uses_configured_github_url():
    fact = _one("push", load_webhook("push", "with-new-branch"), github_url="http://127.0.0.1:9000")
    assert fact.source_url == f"http://127.0.0.1:9000/Codertocat/Hello-World/commit/{SHA}"


def test_commit_timestamp_with_offset_becomes_utc():
    payload = load_webhook("push", "with-new-branch")
    payload["commits"][0]["timestamp"] = "2019-05-15T08:19:25-07:00"
    assert _one("push", payload).ts == datetime(2019, 5, 15, 15, 19, 25, tzinfo=UTC)


def test_release_published_metadata_and_fallback_url():
    payload = load_webhook("release", "published")
    payload["release"]["name"] = "  First   release "
    del payload["release"]["html_url"]
    fact = _one("release", payload)
    assert fact.canonical_text == f"Release 0.0.1 {D} First release published by Codertocat"
    assert fact.source_url == f"{REPO_URL}/releases/tag/0.0.1"
    assert fact.metadata == {
        "tag_name": "0.0.1",
        "name": "  First   release ",
        "prerelease": False,
        "body": "",
    }
