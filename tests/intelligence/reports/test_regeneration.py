"""Regeneration stages, the atomic swap, the interrupted-run sweep and staleness."""

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from gitpulse_app.core.models import ReportRegeneration, User
from gitpulse_app.intelligence.reports.models import ReportError, ReportNotFound
from gitpulse_app.intelligence.reports.scheduled import sweep_interrupted
from gitpulse_app.intelligence.reports.service import (
    delete_report,
    generate_report,
    regenerate_report,
    request_regeneration,
    run_regeneration,
)
from gitpulse_app.intelligence.reports.stages import StageTracker
from tests.intelligence.reports.conftest import DEC4, NOW, at, good_answer, pr
from tests.support.fake_http import FakeResponse


@pytest.fixture
def alice_app(world):
    alice = world.user("alice")
    bob = world.user("bob")
    app = world.repo("acme/app", seen_by=(alice, bob))
    return alice, bob, app


def daily(user, **kwargs):
    kwargs.setdefault("now", NOW)
    return generate_report(user.id, "daily", *DEC4, **kwargs)


def test_every_run_records_its_stages_up_to_completed(fake_llm, engine, world, alice_app):
    alice, _, app = alice_app
    world.add(pr(app, alice, 1, "Add search", at(2)))
    seen_during_the_model_call = []

    def watching(request):
        with Session(engine) as session:
            row = session.scalars(sa.select(ReportRegeneration)
                                  .order_by(ReportRegeneration.id.desc())).first()
            seen_during_the_model_call.append((row.status, row.progress))
        return good_answer(request)

    fake_llm.answer(watching)

    outcome = daily(alice)

    assert seen_during_the_model_call == [("generating", 30)]
    [row] = world.regenerations()
    assert (row.status, row.progress, row.new_report_id) == ("completed", 100, outcome.report.id)
    assert row.report_id == outcome.report.id and row.completed_at == NOW
    assert row.scope == {"logins": ["alice"], "repo": None, "query": None, "origin": "manual"}


def test_regenerate_bypasses_the_cache_and_swaps_in_place(fake_llm, world, alice_app, sleeps):
    alice, _, app = alice_app
    world.add(pr(app, alice, 1, "Add search", at(2)))
    original = daily(alice).report

    outcome = regenerate_report(alice.id, original.id, now=NOW + dt.timedelta(hours=1),
                                sleep=sleeps)

    assert not outcome.cache_hit and len(fake_llm.calls) == 2
    assert outcome.report.id == original.id
    assert outcome.report.generated_at == NOW + dt.timedelta(hours=1)
    assert world.regenerations()[-1].status == "completed"
    assert len(world.reports()) == 1


def test_a_regeneration_failing_at_generating_leaves_the_old_report_unchanged(
        fake_llm, world, alice_app):
    alice, _, app = alice_app
    world.add(pr(app, alice, 1, "Add search", at(2)))
    original = daily(alice).report
    world.add(pr(app, alice, 2, "Fix login", at(3)))  # makes it stale
    before = world.report(original.id)
    fake_llm.answer(FakeResponse(503, json={"error": {"message": "overloaded"}}))

    def interrupted(_seconds):
        raise RuntimeError("worker stopped")

    with pytest.raises(ReportError, match="failed while generating"):
        regenerate_report(alice.id, original.id, now=NOW + dt.timedelta(hours=1),
                          sleep=interrupted)

    after = world.report(original.id)
    for column in ("markdown", "html", "sections", "citations", "generated_at", "cache_key",
                   "is_stale", "event_count", "provider"):
        assert getattr(after, column) == getattr(before, column), column
    assert after.is_stale
    failed = world.regenerations()[-1]
    assert (failed.status, failed.error_stage, failed.progress) == ("failed", "generating", 30)
    assert "worker stopped" in failed.error_message


def test_a_queued_regeneration_runs_later_and_a_deleted_report_cannot_be_regenerated(
        world, alice_app):
    alice, bob, _ = alice_app
    report = daily(alice).report

    queued = request_regeneration(alice.id, report.id, now=NOW)
    assert world.regenerations()[-1].status == "queued"
    assert run_regeneration(queued, now=NOW).report.id == report.id

    with pytest.raises(ReportNotFound):
        request_regeneration(bob.id, report.id)
    delete_report(alice.id, report.id)
    with pytest.raises(ReportNotFound):
        regenerate_report(alice.id, report.id)


def test_the_sweep_fails_runs_idle_for_ten_minutes_and_stuck_first_reports(world, alice_app):
    alice, bob, _ = alice_app
    stale_id = request_regeneration(alice.id, daily(alice).report.id, now=NOW)
    StageTracker(stale_id, now=NOW).advance("generating")
    fresh_id = request_regeneration(alice.id, world.reports()[0].id,
                                    now=NOW + dt.timedelta(minutes=5))
    for user in (alice, bob):
        row = world.session.get(User, user.id)
        row.first_report_status = "generating"
        row.updated_at = NOW - dt.timedelta(hours=1)
        world.session.add(row)
    world.session.commit()

    swept = sweep_interrupted(now=NOW + dt.timedelta(minutes=11))

    assert swept == 1
    world.session.expire_all()
    stale = world.session.get(ReportRegeneration, stale_id)
    assert (stale.status, stale.error_stage, stale.error_message) == (
        "failed", "generating", "Interrupted; try again")
    assert world.session.get(ReportRegeneration, fresh_id).status == "queued"
    assert world.session.get(User, alice.id).first_report_status == "generating"  # still running
    assert world.session.get(User, bob.id).first_report_status == "failed"


# Staleness --------------------------------------------------------------------------------------
def test_a_new_fact_in_the_window_marks_the_report_stale_once(world, alice_app):
    alice, _, app = alice_app
    report = daily(alice).report
    assert not report.is_stale

    world.add(pr(app, alice, 1, "Late arrival", at(4)))
    first_mark = world.report(report.id).stale_detected_at
    world.add(pr(app, alice, 2, "Another", at(5)))

    marked = world.report(report.id)
    assert marked.is_stale and first_mark is not None
    assert marked.stale_detected_at == first_mark


def test_facts_outside_the_window_or_scope_leave_a_report_fresh(world, alice_app):
    alice, bob, app = alice_app
    hidden = world.repo("acme/hidden", seen_by=(bob,))
    report = daily(alice).report

    world.add(pr(app, alice, 1, "Next day", DEC4[1] + dt.timedelta(minutes=1)),
              pr(app, bob, 2, "Bob's work", at(3)),
              pr(hidden, alice, 3, "Where alice can't see", at(3)))

    assert not world.report(report.id).is_stale


def test_team_and_repo_reports_go_stale_for_their_scope(world, alice_app):
    alice, bob, app = alice_app
    # Bob worked in acme/app before (team logins resolve among the repository's actors).
    world.add(pr(app, bob, 7, "Bob's earlier work", DEC4[0] - dt.timedelta(days=3)))
    team = daily(alice, logins=["alice", "bob"]).report
    repo = daily(alice, repo="acme/app").report
    deleted = daily(bob).report
    delete_report(bob.id, deleted.id)

    world.add(pr(app, bob, 1, "Bob's work", at(3)))

    assert world.report(team.id).is_stale and world.report(repo.id).is_stale
    assert not world.report(deleted.id).is_stale


def test_regenerating_a_stale_report_clears_the_flag(world, alice_app):
    alice, _, app = alice_app
    report = daily(alice).report
    world.add(pr(app, alice, 1, "Late", at(4)))

    fresh = regenerate_report(alice.id, report.id, now=NOW + dt.timedelta(hours=1)).report

    assert not fresh.is_stale and fresh.stale_detected_at is None and fresh.event_count == 1
