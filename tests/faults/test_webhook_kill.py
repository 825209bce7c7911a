"""SIGKILL a backend process while it processes webhook envelopes; restart it; nothing is lost."""

from __future__ import annotations

import httpx
import pytest

from tests.faults.harness import (
    WEBHOOK_SECRET,
    Ledger,
    deliver,
    envelopes,
    fact_counts,
    lock_waiters,
    make_deliveries,
    open_envelopes,
    table_locked,
    wait_for,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_a_backend_killed_mid_envelope_processes_every_delivery_once_after_restart(
    pg_engine, backends, run_log, record_counts
):
    backend = backends(pg_engine, GITHUB_WEBHOOK_SECRET=WEBHOOK_SECRET).start()
    deliveries = make_deliveries(24, "killed")
    replays = deliveries[::6]

    # With writes to `events` held, the worker claims an envelope and stops at its first fact
    # write, inside its transaction: the moment to kill it.
    with table_locked(pg_engine, "events"), httpx.Client(timeout=10) as client:
        statuses = [deliver(client, backend.url, d) for d in deliveries + replays]
        wait_for(lambda: lock_waiters(pg_engine), 15, "no worker reached the fact write")
        holder = f":{backend.pid}:"
        interrupted = [delivery_id for delivery_id, rows in envelopes(pg_engine).items()
                       if any(status == "processing" and holder in (claimed_by or "")
                              for status, _, claimed_by in rows)]
        backend.kill()
    assert statuses == [200] * len(statuses)
    assert interrupted  # one claim (two if the scheduler's 10 s drain also reached the lock)
    assert fact_counts(pg_engine) == {}  # the killed transaction stored nothing

    backend.start()
    wait_for(lambda: open_envelopes(pg_engine) == 0, 30, "envelopes left unprocessed")

    ledger = Ledger.check(pg_engine, deliveries, run_log)
    assert ledger.lost == [] and ledger.duplicated == 0
    assert set(fact_counts(pg_engine)) == {d.fact for d in deliveries}
    attempts = {delivery_id: rows[0][1] for delivery_id, rows in envelopes(pg_engine).items()}
    assert {attempts[i] for i in interrupted} == {2}  # claimed again after the restart, once
    assert all(n == 1 for delivery_id, n in attempts.items() if delivery_id not in interrupted)
    record_counts(faults_injected=backend.kills, interrupted_envelopes=len(interrupted),
                  deliveries=len(deliveries), replays=len(replays), lost=len(ledger.lost),
                  duplicated=ledger.duplicated)
