from datetime import UTC, datetime

from gitpulse_app.normalization.canonicalize import repo_ref
from gitpulse_app.normalization.canonicalize_rest import (
    canonicalize_rest_commit,
    canonicalize_rest_issue,
    canonicalize_rest_issue_comment,
    canonicalize_rest_pull,
    canonicalize_rest_release,
    canonicalize_rest_review,
    canonicalize_rest_review_comment,
)
from gitpulse_app.normalization.canonicalize_webhook import canonicalize_webhook
from gitpulse_app.normalization.models import ActorRef, Metrics
from tests.support.payloads import (
    load_webhook,
    rest_commit,
    rest_commit_detail,
    rest_issue,
    rest_issue_comment,
    rest_pull,
    rest_pull_detail,
    rest_release,
    rest_repo,
    rest_review,
    rest_review_comment,
    user,
)

D = "\u2013"
REPO_URL = "https://github.com/Codertocat/Hello-World"
PR_TITLE = "Update the README with new information."
SHA = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
EARLY = datetime(2019, 1, 1, tzinfo=UTC)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_repo_ref_accepts_full_name_or_owner_login_and_name():
    assert repo_ref(rest_repo()).full_name == "Codertocat/Hello-World"
    built = repo_ref({"id": 5, "name": "app", "owner": {"login": "acme"}})
    assert (built.full_name, built.owner, built.name) == ("acme/app", "acme", "app")
    assert repo_ref({"full_name": "acme/app"}) is None
    assert repo_ref({"id": 5, "name": "app"}) is None


def test_listed_open_pr_is_pr_opened_without_metrics():
    [fact] = canonicalize_rest_pull(rest_pull(), rest_repo(), EARLY)
    assert fact.type == "pr_opened"
    assert fact.canonical_text == f"PR #2 {D} {PR_TITLE} opened by Codertocat"
    assert fact.source_url == f"{REPO_URL}/pull/2"
    assert fact.metrics.is_empty
    assert fact.metadata["merged"] is False


def test_pr_detail_renders_the_same_text_as_the_webhook():
    [rest] = canonicalize_rest_pull(rest_pull_detail(), rest_repo(), EARLY)
    [hook] = canonicalize_webhook("pull_request", load_webhook("pull_request", "opened"))
    assert rest.metrics == Metrics(1, 1, 1)
    assert (rest.type, rest.canonical_text, rest.source_url, rest.content_hash) == (
        hook.type,
        hook.canonical_text,
        hook.source_url,
        hook.content_hash,
    )


def test_merged_pr_detail_yields_opened_and_merged_by_merger():
    pull = rest_pull_detail(
        state="closed",
        merged=True,
        merged_by=user("mona", 5),
        merged_at="2019-05-16T09:00:00Z",
        closed_at="2019-05-16T09:00:01Z",
    )
    opened, merged = canonicalize_rest_pull(pull, rest_repo(), EARLY)
    assert opened.type == "pr_opened" and opened.actor.login == "Codertocat"
    assert merged.type == "pr_merged"
    assert merged.actor.login == "mona"
    assert merged.ts == _at("2019-05-16T09:00:00Z")
    assert merged.canonical_text == f"PR #2 {D} {PR_TITLE} merged by mona (+1, -1, 1 files)"


def test_merged_list_item_uses_merged_at_and_falls_back_to_author():
    moment = "2019-05-16T09:00:00Z"
    pull = rest_pull(state="closed", merged_at=moment, closed_at=moment)
    facts = canonicalize_rest_pull(pull, rest_repo(), _at("2019-05-16T00:00:00Z"))
    assert [(fact.type, fact.actor.login) for fact in facts] == [("pr_merged", "Codertocat")]


def test_closed_unmerged_pr_in_window_is_pr_closed_only():
    pull = rest_pull(state="closed", closed_at="2019-05-16T09:00:00Z")
    facts = canonicalize_rest_pull(pull, rest_repo(), _at("2019-05-16T00:00:00Z"))
    assert [fact.type for fact in facts] == ["pr_closed"]
    assert facts[0].ts == _at("2019-05-16T09:00:00Z")


def test_pr_facts_before_since_are_skipped():
    assert canonicalize_rest_pull(rest_pull(), rest_repo(), _at("2020-01-01T00:00:00Z")) == []


def test_rest_review_approved_renders_lower_case_state():
    [fact] = canonicalize_rest_review(rest_review(), rest_pull(), rest_repo())
    assert fact.type == "review_submitted"
    assert fact.canonical_text == (
        f"Review on PR #2 by Codertocat [approved] {D} Here is the body for the review."
    )
    assert fact.source_url == f"{REPO_URL}/pull/2#pullrequestreview-80"
    assert fact.metadata["state"] == "approved"
    assert fact.metadata["pr_title"] == PR_TITLE
    assert fact.ts == _at("2019-11-17T17:43:43Z")


def test_pending_review_yields_nothing():
    review = rest_review(state="PENDING", submitted_at=None)
    assert canonicalize_rest_review(review, rest_pull(), rest_repo()) == []


def test_rest_issue_opened_and_closed_by_closer():
    issue = rest_issue(state="closed", closed_at="2019-05-17T00:00:00Z", closed_by=user("mona", 5))
    opened, closed = canonicalize_rest_issue(issue, rest_repo(), EARLY)
    assert opened.canonical_text == (
        f"Issue #1 {D} Spelling error in the README file opened by Codertocat"
    )
    assert closed.type == "issue_closed"
    assert closed.actor.login == "mona"
    assert closed.metadata["labels"] == ["bug"]


def test_rest_issue_that_is_a_pull_request_is_skipped():
    issue = rest_issue(pull_request={"url": "https://api.github.com/repos/x/y/pulls/1"})
    assert canonicalize_rest_issue(issue, rest_repo(), EARLY) == []


def test_rest_issue_comment_matches_the_webhook():
    [rest] = canonicalize_rest_issue_comment(rest_issue_comment(), rest_repo())
    [hook] = canonicalize_webhook("issue_comment", load_webhook("issue_comment", "created"))
    assert (rest.canonical_text, rest.source_url, rest.ts) == (
        hook.canonical_text,
        hook.source_url,
        hook.ts,
    )
    assert "issue_title" not in rest.metadata


def test_rest_issue_comment_on_pull_request_url():
    [fact] = canonicalize_rest_issue_comment(rest_issue_comment(7, on_pull=True), rest_repo())
    assert fact.canonical_text.startswith("Comment on pull request #7 by Codertocat")
    assert fact.metadata["is_pull_request"] is True


def test_rest_review_comment_matches_the_webhook():
    [rest] = canonicalize_rest_review_comment(rest_review_comment(), rest_repo())
    hook_payload = load_webhook("pull_request_review_comment", "created")
    [hook] = canonicalize_webhook("pull_request_review_comment", hook_payload)
    assert (rest.canonical_text, rest.source_url, rest.metadata) == (
        hook.canonical_text,
        hook.source_url,
        hook.metadata,
    )


def test_rest_commit_item_matches_the_push_commit():
    [rest] = canonicalize_rest_commit(rest_commit(), rest_repo())
    [push] = canonicalize_webhook("push", load_webhook("push", "with-no-username-committer"))
    assert rest.canonical_text == f"Commit 6113728 by Codertocat {D} Initial commit"
    assert (rest.type, rest.canonical_text, rest.source_url, rest.content_hash) == (
        push.type,
        push.canonical_text,
        push.source_url,
        push.content_hash,
    )
    assert rest.actor.gh_id == 21031067
    assert rest.ts == push.ts


def test_rest_commit_detail_adds_stats_and_changes_the_hash():
    [item] = canonicalize_rest_commit(rest_commit(), rest_repo())
    detail_item = rest_commit_detail(additions=3, deletions=1, files=2)
    [detail] = canonicalize_rest_commit(detail_item, rest_repo())
    assert detail.metrics == Metrics(3, 1, 2)
    assert detail.canonical_text == (
        f"Commit 6113728 by Codertocat {D} Initial commit (+3, -1, 2 files)"
    )
    assert detail.source_url == item.source_url
    assert detail.content_hash != item.content_hash


def test_rest_commit_without_github_author_keeps_git_only_actor():
    commit = rest_commit(author=None)
    commit["commit"]["author"] = {
        "name": "Jane Doe",
        "email": "Jane.Doe@Example.com",
        "date": "2019-05-15T17:19:25+02:00",
    }
    [fact] = canonicalize_rest_commit(commit, rest_repo())
    assert fact.actor == ActorRef(git_email="jane.doe@example.com", git_name="Jane Doe")
    assert fact.actor.is_git_only
    assert fact.canonical_text == f"Commit 6113728 by Jane Doe {D} Initial commit"
    assert fact.ts == _at("2019-05-15T15:19:25Z")


def test_rest_commit_without_any_identity_yields_nothing():
    commit = rest_commit(author=None)
    commit["commit"]["author"] = {"name": "Nobody", "date": "2019-05-15T15:19:25Z"}
    assert canonicalize_rest_commit(commit, rest_repo()) == []


def test_rest_release_published_in_window():
    [fact] = canonicalize_rest_release(rest_release(), rest_repo(), EARLY)
    assert fact.canonical_text == f"Release 0.0.1 {D} First release published by Codertocat"
    assert fact.ts == _at("2019-05-15T15:20:53Z")
    assert fact.metadata == {
        "tag_name": "0.0.1",
        "name": "First release",
        "prerelease": False,
        "body": "Description of the release",
    }


def test_draft_or_old_release_yields_nothing():
    assert canonicalize_rest_release(rest_release(draft=True), rest_repo(), EARLY) == []
    late = _at("2020-01-01T00:00:00Z")
    assert canonicalize_rest_release(rest_release(), rest_repo(), late) == []


def test_rest_fallback_urls_use_the_configured_github_url():
    pull = rest_pull(html_url=None)
    [fact] = canonicalize_rest_pull(pull, rest_repo(), None, github_url="https://ghe.local")
    assert fact.source_url == "https://ghe.local/Codertocat/Hello-World/pull/2"
    release = rest_release(html_url=None, tag="v2")
    [fact] = canonicalize_rest_release(release, rest_repo(), None, github_url="https://ghe.local")
    assert fact.source_url == "https://ghe.local/Codertocat/Hello-World/releases/tag/v2"
