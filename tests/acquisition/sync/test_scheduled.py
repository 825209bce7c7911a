"""The periodic sync requests: 6-hourly reconciliation and the 04:30 catch-up."""

from __future__ import annotations

import datetime as dt

import pytest

from gitpulse_app.acquisition.sync.scheduled import (
    request_catchup_syncs,
    request_reconciliation_syncs,
)
from gitpulse_app.core.models import SyncBatch
from tests.acquisition.sync import factories as f
from tests.acquisition.sync.factories import NOW

pytestmark = pytest.mark.usefixtures("engine")


def batches_by_installation() -> dict[int, str]:
    return {batch.installation_id: batch.trigger for batch in f.all_rows(SyncBatch)}


def test_reconciliation_requests_cron_syncs_for_due_active_installations() -> None:
    never, _ = f.healthy_installation()
    due, _ = f.healthy_installation(last_reconciled_at=NOW - dt.timedelta(hours=6))
    recent, _ = f.healthy_installation(last_reconciled_at=NOW - dt.timedelta(hours=5, minutes=59))
    suspended, _ = f.healthy_installation(status="suspended")
    demo, _ = f.healthy_installation(kind="demo")
    assert request_reconciliation_syncs(now=NOW) == 2
    assert batches_by_installation() == {never.id: "cron", due.id: "cron"}


def test_reconciliation_is_refused_by_the_cron_budget_reserve() -> None:
    reset = NOW + dt.timedelta(minutes=30)
    f.healthy_installation(rate_limit_remaining=599, rate_limit_reset=reset)
    assert request_reconciliation_syncs(now=NOW) == 0
    assert f.all_rows(SyncBatch) == []


def test_catch_up_requests_maintenance_syncs_for_linked_installations_idle_for_a_day() -> None:
    stale, _ = f.healthy_installation(last_synced_at=NOW - dt.timedelta(hours=25))
    never, _ = f.healthy_installation(last_synced_at=None)
    f.healthy_installation(last_synced_at=NOW - dt.timedelta(hours=23))
    f.installation(last_synced_at=NOW - dt.timedelta(days=3))  # nobody linked
    f.healthy_installation(last_synced_at=NOW - dt.timedelta(days=3), repositories=[])
    f.healthy_installation(last_synced_at=NOW - dt.timedelta(days=3), status="suspended")
    assert request_catchup_syncs(now=NOW) == 2
    assert batches_by_installation() == {stale.id: "maintenance", never.id: "maintenance"}
