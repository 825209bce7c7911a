"""The channel queue on both backends: once-only rows, who gets queued, the stale sweep."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from gitpulse_app.core.models import ChannelDelivery
from gitpulse_app.core.workers import registered_workers
from gitpulse_app.experience.wiring import load_capabilities
from gitpulse_app.intelligence.delivery import channels, worker
from gitpulse_app.intelligence.delivery.channels.service import ChannelInput, add_channel
from tests.intelligence.delivery.conftest import T0, make_owner, make_report

HOOK = "https://93.184.216.34/services/T/B/x"


def rows(session: Session) -> list[tuple[int, int, str]]:
    session.expire_all()
    return [(r.report_id, r.channel_id, r.status) for r in session.scalars(
        sa.select(ChannelDelivery).order_by(ChannelDelivery.id))]


def test_a_report_is_queued_once_per_matching_personal_channel(any_engine, configure):
    configure(GITPULSE_CHANNELS_ALLOW_PRIVATE="1")
    with Session(any_engine, expire_on_commit=False) as session:
        owner = make_owner(session)
        daily = make_report(session, owner)
        weekly = make_report(session, owner, kind="weekly")
        both = add_channel(owner.id, ChannelInput(kind="slack", url=HOOK)).view.id
        weekly_only = add_channel(owner.id, ChannelInput(kind="slack", url=HOOK,
                                                         reports=["weekly"])).view.id

        assert channels.enqueue_report_channels(daily.id, now=T0) == 1
        assert channels.enqueue_report_channels(daily.id, now=T0) == 0
        assert channels.enqueue_report_channels(weekly.id, now=T0) == 2
        assert rows(session) == [(daily.id, both, "pending"), (weekly.id, both, "pending"),
                                 (weekly.id, weekly_only, "pending")]


@pytest.mark.parametrize("fields", [
    {"is_partial": True}, {"event_count": 0}, {"origin": "manual"}, {"deleted": True},
])
def test_partial_empty_manual_or_deleted_reports_are_not_queued(session, configure, fields):
    configure(GITPULSE_CHANNELS_ALLOW_PRIVATE="1")
    owner = make_owner(session)
    add_channel(owner.id, ChannelInput(kind="discord",
                                       url="https://93.184.216.34/api/webhooks/1/abc"))
    report = make_report(session, owner, **fields)

    assert channels.enqueue_report_channels(report.id, now=T0) == 0
    assert rows(session) == []


def test_a_stale_sending_row_becomes_outcome_unknown_and_never_pending(session, configure):
    configure(GITPULSE_CHANNELS_ALLOW_PRIVATE="1")
    owner = make_owner(session)
    add_channel(owner.id, ChannelInput(kind="slack", url=HOOK))
    channels.enqueue_report_channels(make_report(session, owner).id, now=T0)
    session.execute(sa.update(ChannelDelivery).values(status="sending", claimed_by="x:1:1",
                                                      updated_at=T0))
    session.commit()

    assert channels.recover_stale(session, now=T0 + dt.timedelta(minutes=9)) == 0
    assert channels.recover_stale(session, now=T0 + dt.timedelta(minutes=11)) == 1
    session.commit()
    row = session.scalars(sa.select(ChannelDelivery)).one()
    assert (row.status, row.last_error) == ("failed", channels.OUTCOME_UNKNOWN)
    assert channels.drain(T0 + dt.timedelta(hours=1)) == 0


def test_the_channel_worker_is_registered_and_delivers_on_its_first_round(session, configure,
                                                                          fake_chat):
    configure(GITPULSE_CHANNELS_ALLOW_PRIVATE="1")
    slack = fake_chat("slack")
    owner = make_owner(session)
    add_channel(owner.id, ChannelInput(kind="slack", url=slack.url))
    channels.enqueue_report_channels(make_report(session, owner).id)
    load_capabilities()
    assert "channels" in registered_workers()

    async def scenario():
        task = asyncio.create_task(worker.channel_worker())
        try:
            await asyncio.to_thread(slack.wait, 1, 10)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    assert len(slack.messages) == 1 and rows(session)[0][2] == "sent"
