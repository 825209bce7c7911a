"""Team digests: each tick writes the due team reports of team channels (docs/CHANNELS.md).

A team channel receives, for each kind it wants, the team report of the owner's most recent
completed work-day window (daily: the first work day after days off also covers them, as in
docs/SCHEDULING.md) or week (weekly, on the owner's week start), in the owner's time zone.
The report is written by the ordinary pipeline (`generate_report`, origin `scheduled`), so it has
the same citations, coverage and caching as any report; when two channels share a scope they share
the report. A window is handled once per channel: the report × channel row is the record, and an
empty window gets a `skipped` row so it is not written again.
"""

from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa

from gitpulse_app.core.db import session_scope
from gitpulse_app.core.logging import log_fields
from gitpulse_app.core.models import ChannelDelivery, DeliveryChannel, Report, User
from gitpulse_app.intelligence.delivery.channels.queue import NO_ACTIVITY, add_delivery
from gitpulse_app.intelligence.reports.models import ReportError
from gitpulse_app.intelligence.reports.service import generate_report
from gitpulse_app.intelligence.windows import (
    Window,
    last_completed_week,
    last_completed_work_day,
    resolve_zone,
)

log = logging.getLogger(__name__)


def _team_channels() -> list[tuple[int, int, list[str], list[str], str | None, str | None, int,
                                   str]]:
    with session_scope() as session:
        rows = session.execute(
            sa.select(DeliveryChannel.id, DeliveryChannel.user_id, DeliveryChannel.report_kinds,
                      DeliveryChannel.scope_logins, DeliveryChannel.scope_repo, User.timezone,
                      User.week_start_day, User.work_days)
            .join(User, User.id == DeliveryChannel.user_id)
            .where(DeliveryChannel.scope == "team", DeliveryChannel.status == "active")
            .order_by(DeliveryChannel.id)).all()
    return [tuple(row) for row in rows]


def _handled(channel_id: int, kind: str, window: Window) -> bool:
    with session_scope() as session:
        return session.scalar(
            sa.select(sa.func.count()).select_from(ChannelDelivery)
            .join(Report, Report.id == ChannelDelivery.report_id)
            .where(ChannelDelivery.channel_id == channel_id, Report.kind == kind,
                   Report.start_date == window.start, Report.end_date == window.end)) > 0


def run_team_digests(at: dt.datetime) -> int:
    """Write and queue every team digest due at `at`; returns how many rows were queued.

    One channel's failure (a login deleted, a repository no longer visible) is logged and the
    others go on.
    """
    queued = 0
    for (channel_id, owner_id, kinds, logins, repo, zone_name, week_start,
         work_days) in _team_channels():
        zone = resolve_zone(zone_name)
        for kind in kinds:
            window = (last_completed_work_day(at, zone, work_days) if kind == "daily"
                      else last_completed_week(at, zone, week_start))
            if _handled(channel_id, kind, window):
                continue
            try:
                outcome = generate_report(owner_id, kind, window.start, window.end,
                                          origin="scheduled", logins=logins or None, repo=repo,
                                          now=at)
            except ReportError as exc:
                log_fields(log, logging.WARNING, "Team digest could not be written",
                           channel_id=channel_id, kind=kind, error=str(exc))
                continue
            report = outcome.report
            if report is None or report.id is None:
                continue
            empty = report.event_count == 0 or report.deleted_at is not None
            with session_scope() as session:
                queued += add_delivery(session, report.id, channel_id, at,
                                       status="skipped" if empty else "pending",
                                       note=NO_ACTIVITY if empty else None) and not empty
    return queued
