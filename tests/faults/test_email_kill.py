"""SIGKILL a backend process mid-send (the SMTP server holds DATA); restart; never a second message.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from gitpulse_app.core.models import EmailDelivery, Report
from gitpulse_app.intelligence.delivery import OUTCOME_UNKNOWN, enqueue_report_email
from tests.faults.harness import StallingSMTP, wait_for
from tests.intelligence.delivery.conftest import BASE_URL, T0, make_owner, make_report

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def deliveries(engine) -> list[tuple[str, str | None, int, str | None]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.select(
            EmailDelivery.status, EmailDelivery.last_error, EmailDelivery.attempts,
            EmailDelivery.claimed_by).order_by(EmailDelivery.id))]


def test_a_backend_killed_mid_send_leaves_one_outcome_unknown_row_and_one_transmission(
    pg_engine, configure, backends, run_log, record_counts
):
    smtp = StallingSMTP()
    try:
        configure(SMTP_URL=smtp.url, GITPULSE_BASE_URL=BASE_URL)
        with Session(pg_engine, expire_on_commit=False) as session:
            report = make_report(session, make_owner(session))
        assert enqueue_report_email(report.id, now=T0).status == "pending"
        backend = backends(pg_engine, SMTP_URL=smtp.url, GITPULSE_BASE_URL=BASE_URL).start()

        assert smtp.data_received.wait(30), backend.log_tail()
        ((status, _, _, holder),) = deliveries(pg_engine)
        assert status == "sending" and holder.split(":")[1] == str(backend.pid)
        backend.kill()

        backend.start()  # its email drain sweeps the dead holder's claim at once
        wait_for(lambda: deliveries(pg_engine)[0][0] == "failed", 30,
                 "the interrupted send was never settled")
        rows = deliveries(pg_engine)
        assert rows == [("failed", OUTCOME_UNKNOWN, 1, None)]
        assert smtp.transmissions == 1  # the held message only: never a second one
        duplicated = run_log.double_processing(messages=smtp.messages).total
        assert duplicated == 0
        with Session(pg_engine) as session:
            assert len(session.scalars(sa.select(Report)).all()) == 1
    finally:
        smtp.close()
    record_counts(faults_injected=backend.kills, emails=len(rows),
                  transmissions=smtp.transmissions, outcome=rows[0][1], duplicated=duplicated)
