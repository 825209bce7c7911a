import datetime as dt

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.models import SyncBatch
from gitpulse_app.core.signals import batch_finalized
from gitpulse_app.intelligence.reports.post_sync import post_sync_recipients
from tests.intelligence.reports.conftest import commit


def _batch(world, installation, *, trigger, status="completed", user=None):
    batch = SyncBatch(installation_id=installation.id, trigger=trigger, status=status,
                      requested_by_user_id=user.id if user else None, total_repos=1,
                      completed_repos=1, since=utcnow() - dt.timedelta(days=30))
    world.session.add(batch)
    world.session.commit()
    return batch


def test_a_users_completed_manual_sync_writes_today_so_far(world):
    alice = world.user("alice", timezone="UTC")
    repo = world.repo("acme/api", seen_by=(alice,))
    world.add(commit(repo, alice, "Ship the sync banner", utcnow() - dt.timedelta(minutes=5)))
    batch = _batch(world, world.installations[alice.id], trigger="manual", user=alice)
    batch_finalized.send(batch_id=batch.id)
    [report] = world.reports()
    assert report.user_id == alice.id and report.origin == "post_sync"
    assert report.is_partial is True and report.schedule_type == "daily"
    assert repo.full_name in report.repos


def test_cli_syncs_failed_batches_and_cron_batches_write_no_report(world):
    alice = world.user("alice", timezone="UTC")
    world.repo("acme/api", seen_by=(alice,))
    installation = world.installations[alice.id]
    for batch in (_batch(world, installation, trigger="manual"),
                  _batch(world, installation, trigger="webhook", status="failed"),
                  _batch(world, installation, trigger="cron")):
        assert post_sync_recipients(batch.id) == []
        batch_finalized.send(batch_id=batch.id)
    assert world.reports() == []


def test_a_webhook_batch_reports_for_the_linked_owners(world):
    alice = world.user("alice", timezone="UTC")
    world.repo("acme/api", seen_by=(alice,))
    batch = _batch(world, world.installations[alice.id], trigger="webhook")
    assert post_sync_recipients(batch.id) == [alice.id]


def test_post_sync_and_staleness_run_on_the_clock_they_are_given(world):
    """A tick's injected clock, not the wall clock, decides the window in progress and the stale
    mark; on a Saturday the window in progress of a Monday–Friday user is Monday's."""
    from gitpulse_app.acquisition.sync.lifecycle import finalize_batch
    from gitpulse_app.intelligence.reports.service import generate_report
    from gitpulse_app.normalization.store import ingest_facts

    mona = world.user("mona", timezone="UTC", work_days="12345")
    repo = world.repo("acme/api", seen_by=(mona,))
    saturday = dt.datetime(2031, 3, 8, 10, 0, tzinfo=dt.UTC)  # far from any real "now"
    world.add(commit(repo, mona, "Weekend fix", saturday - dt.timedelta(hours=2)))
    batch = _batch(world, world.installations[mona.id], trigger="manual", user=mona)
    batch.status = "running"
    world.session.add(batch)
    world.session.commit()

    assert finalize_batch(batch.id, now=saturday)
    [so_far] = world.reports()
    assert (so_far.start_date, so_far.end_date) == (dt.datetime(2031, 3, 8, tzinfo=dt.UTC),
                                                    dt.datetime(2031, 3, 11, tzinfo=dt.UTC))
    assert so_far.is_partial and so_far.generated_at == saturday
    assert so_far.title == "Daily Standup - March 10, 2031"

    friday = generate_report(mona.id, "daily", dt.datetime(2031, 3, 7, tzinfo=dt.UTC),
                             dt.datetime(2031, 3, 8, tzinfo=dt.UTC), origin="manual",
                             now=saturday).report
    later = saturday + dt.timedelta(hours=1)
    ingest_facts([commit(repo, mona, "Late push", dt.datetime(2031, 3, 7, 18, tzinfo=dt.UTC))],
                 observed_via="webhook", now=later)
    assert world.report(friday.id).stale_detected_at == later
