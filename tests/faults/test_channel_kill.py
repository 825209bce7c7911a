"""SIGKILL a backend between posting a channel message and recording it; restart; never a second
message (the channel queue is at-most-once like email, docs/CHANNELS.md)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from gitpulse_app.core.models import ChannelDelivery
from gitpulse_app.intelligence.delivery import channels
from gitpulse_app.intelligence.delivery.channels.service import ChannelInput, add_channel
from tests.faults.harness import wait_for
from tests.intelligence.delivery.conftest import BASE_URL, T0, make_owner, make_report
from tests.support.fake_http import FakeResponse

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def deliveries(engine) -> list[tuple[str, str | None, int, str | None]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.select(
            ChannelDelivery.status, ChannelDelivery.last_error, ChannelDelivery.attempts,
            ChannelDelivery.claimed_by).order_by(ChannelDelivery.id))]


def test_a_backend_killed_mid_post_leaves_one_outcome_unknown_row_and_one_message(
    pg_engine, configure, backends, fake_chat, record_counts
):
    slack = fake_chat("slack")
    slack.script(FakeResponse(200, body="ok", delay=120))  # the whole request arrives; no answer
    env = {"GITPULSE_CHANNELS_ALLOW_PRIVATE": "1", "GITPULSE_BASE_URL": BASE_URL}
    configure(**env)
    with Session(pg_engine, expire_on_commit=False) as session:
        owner = make_owner(session)
        report = make_report(session, owner)
    add_channel(owner.id, ChannelInput(kind="slack", url=slack.url))
    assert channels.enqueue_report_channels(report.id, now=T0) == 1
    backend = backends(pg_engine, **env).start()

    slack.wait(1, timeout=30)
    wait_for(lambda: deliveries(pg_engine)[0][0] == "sending", 10, "the post was not claimed")
    ((_, _, _, holder),) = deliveries(pg_engine)
    assert holder.split(":")[1] == str(backend.pid)
    backend.kill()

    backend.start()  # its channel drain sweeps the dead holder's claim at once
    wait_for(lambda: deliveries(pg_engine)[0][0] == "failed", 30,
             "the interrupted post was never settled")
    rows = deliveries(pg_engine)
    assert rows == [("failed", channels.OUTCOME_UNKNOWN, 1, None)]
    assert channels.enqueue_report_channels(report.id, now=T0) == 0  # the row is the record
    assert channels.drain(T0) == 0
    assert len(slack.requests) == 1  # the held message only: never a second one
    record_counts(faults_injected=backend.kills, channel_messages=len(slack.requests),
                  outcome=rows[0][1])
