import datetime as dt

from gitpulse_app.intelligence.reports.local_writer import write_local
from gitpulse_app.intelligence.reports.models import LOCAL_MODEL, NO_ACTIVITY, CollectedFact
from gitpulse_app.intelligence.reports.validate import (
    allowed_urls,
    filter_citations,
    measure_coverage,
    report_citations,
)

T0 = dt.datetime(2025, 12, 4, 9, tzinfo=dt.UTC)
_ids = iter(range(1, 10_000))


def fact(kind: str, repo: str, meta: dict, minute: int, *, actor: str = "alice",
         url: str | None = None) -> CollectedFact:
    event_id = next(_ids)
    return CollectedFact(
        event_id=event_id, type=kind, ts=T0 + dt.timedelta(minutes=minute), repo=repo,
        actor=actor, source_url=url or f"https://github.com/{repo}/x/{event_id}",
        canonical_text=f"{kind} text", content_hash=f"{event_id:064x}", meta=meta)


def test_daily_buckets_and_one_bullet_per_repo_in_time_order():
    merged = fact("pr_merged", "acme/web", {"number": 12, "title": "Add search"}, 5,
                  url="https://github.com/acme/web/pull/12")
    typo = fact("commit", "acme/web", {"sha": "abc1234ffff", "message": "Fix typo\n\nbody"}, 1,
                url="https://github.com/acme/web/commit/abc1234ffff")
    review = fact("review_submitted", "acme/api", {"pr_number": 3, "state": "approved"}, 2)
    opened = fact("issue_opened", "acme/api", {"issue_number": 8, "title": "Slow [draft]"}, 3)

    written = write_local("daily", [merged, typo, review, opened])

    assert (written.provider, written.model) == ("local", LOCAL_MODEL)
    completed, decisions, momentum = written.sections
    assert completed.title == "Work Completed"
    assert completed.bullets == [
        "acme/web: [abc1234](https://github.com/acme/web/commit/abc1234ffff) Fix typo; "
        "merged [PR #12](https://github.com/acme/web/pull/12) \u2013 Add search"]
    assert decisions.bullets == [f"acme/api: approved [PR #3]({review.source_url})"]
    assert momentum.bullets == [
        f"acme/api: opened [Issue #8]({opened.source_url}) \u2013 Slow (draft)"]


def test_weekly_buckets_put_changes_requested_under_challenges():
    facts = [
        fact("review_submitted", "acme/app", {"pr_number": 1, "state": "changes_requested"}, 1),
        fact("review_submitted", "acme/app", {"pr_number": 2, "state": "commented"}, 2),
        fact("pr_closed", "acme/app", {"number": 3, "title": "Abandoned"}, 3),
        fact("issue_comment", "acme/app", {"issue_number": 4, "is_pull_request": False}, 4),
        fact("release", "acme/app", {"tag_name": "v2", "name": "Two"}, 5),
        fact("pr_opened", "acme/app", {"number": 6, "title": "Next"}, 6),
    ]

    sections = write_local("weekly", facts).sections

    assert [s.title for s in sections] == ["Accomplishments", "Technical Insights",
                                           "Challenges & Growth", "Momentum & Direction"]
    assert "released [v2]" in sections[0].bullets[0]
    assert "reviewed [PR #2]" in sections[1].bullets[0]
    assert "commented on [Issue #4]" in sections[1].bullets[0]
    assert "requested changes on [PR #1]" in sections[2].bullets[0]
    assert "closed [PR #3]" in sections[2].bullets[0]
    assert "opened [PR #6]" in sections[3].bullets[0]


def test_repos_ordered_by_count_then_name_and_the_rest_merge_into_also():
    facts = []
    for index, (repo, count) in enumerate([("z/one", 1), ("a/three", 3), ("b/two", 2),
                                           ("c/one", 1), ("d/one", 1), ("e/one", 1)]):
        facts += [fact("commit", repo, {"sha": f"{index}{n}" * 4, "message": "m"}, n)
                  for n in range(count)]

    bullets = write_local("daily", facts).sections[0].bullets

    assert [b.split(":")[0] for b in bullets] == ["a/three", "b/two", "c/one", "d/one", "Also"]
    assert bullets[4].startswith("Also: e/one: ") and "; z/one: " in bullets[4]


def test_team_items_name_the_actor_and_empty_buckets_say_no_activity():
    written = write_local("daily", [fact("pr_merged", "acme/app", {"number": 1, "title": "T"}, 1,
                                         actor="bob")], team=True)

    assert written.sections[0].bullets[0].startswith("acme/app: @bob merged [PR #1](")
    assert written.sections[1].bullets == [NO_ACTIVITY]
    assert written.sections[2].bullets == [NO_ACTIVITY]


def test_every_fact_is_cited_and_survives_validation():
    facts = [fact(kind, f"acme/r{n % 7}", {"number": n, "sha": f"{n:040x}", "title": f"T{n}",
                                          "message": f"https://evil.example/{n} msg"}, n)
             for n, kind in enumerate(["pr_merged", "commit", "pr_opened", "issue_closed",
                                       "review_comment", "pr_closed", "release"] * 20)]

    sections = filter_citations(write_local("weekly", facts).sections, allowed_urls(facts))

    assert measure_coverage(facts, report_citations(sections)).score == 1.0
    assert all("evil.example" not in bullet for s in sections for bullet in s.bullets)
