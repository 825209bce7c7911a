"""`report` and `tick`: write a report now, or run one scheduler tick with any clock reading."""

from __future__ import annotations

import argparse
import datetime as dt

import sqlalchemy as sa

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import DatabaseUnavailable, check_database, session_scope
from gitpulse_app.core.models import Report
from gitpulse_app.experience.cli.common import (
    CliError,
    CommandResult,
    database_error,
    user_by_login,
)

# Heavier modules are imported inside the command that runs them, for start-up time only: the
# parser imports every command module, and a command loads only what it runs (docs/STARTUP.md).


def check_report_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    if args.start is not None and args.end is None:
        parser.error("--start needs --end")


def _report_record(report: object) -> dict:
    """Every `reports` column at top level: JSON columns decoded, times ISO-8601 UTC with `Z`."""
    record = {}
    for column in Report.__table__.columns:
        value = getattr(report, column.key)
        if isinstance(value, dt.datetime):
            value = value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        record[column.key] = value
    return record


def report_command(args: argparse.Namespace) -> CommandResult:
    """`report --login LOGIN --kind daily|weekly [--end D|ISO] [--start D|ISO] [--query TEXT]`.

    Generates (or returns the cached) report of that one user for the `cli_window` window, in the
    user's zone (UTC when unset). `--json` prints the report row plus `cache_hit`.
    """
    from gitpulse_app.intelligence.formatting import format_date_range
    from gitpulse_app.intelligence.reports.models import ReportError
    from gitpulse_app.intelligence.reports.service import generate_report
    from gitpulse_app.intelligence.windows import NotAWorkDay, WindowError, cli_window

    try:
        check_database()
        with session_scope() as session:
            user = user_by_login(session, args.login)
            user_id, login, zone = user.id, user.gh_login, user.timezone
            week_start, work_days = user.week_start_day, user.work_days
        now = utcnow()
        window = cli_window(args.kind, zone, now, start=args.start, end=args.end,
                            week_start_day=week_start, work_days=work_days)
        outcome = generate_report(user_id, args.kind, window.start, window.end, origin="manual",
                                  logins=[login], query=args.query, now=now)
    except NotAWorkDay as exc:
        raise CliError(f"{exc.day.isoformat()} is not a work day for {login}") from None
    except (WindowError, ReportError, DatabaseUnavailable) as exc:
        raise CliError(str(exc)) from None
    except sa.exc.OperationalError as exc:
        raise database_error(exc) from None
    report = outcome.report
    if report is None:
        raise CliError("The report of this window was deleted; nothing was generated.")
    record = _report_record(report) | {"cache_hit": outcome.cache_hit}
    coverage = ("n/a" if report.coverage_score is None
                else f"{report.coverage_score:.0%} ({report.citation_count} citations)")
    header = [
        report.title,
        report.description,
        f"Covers {format_date_range(report.start_date, report.end_date, report.timezone)} "
        f"({report.timezone}); writer {report.provider}/{report.model}; "
        f"{report.event_count} event(s); coverage {coverage}"
        + ("; cached" if outcome.cache_hit else ""),
    ]
    return CommandResult(record, "\n".join(header) + "\n\n" + report.markdown)


def tick_command(args: argparse.Namespace) -> CommandResult:
    """`tick [--at ISO]`: one scheduler tick in this process with the clock reading ISO.

    It runs whoever leads (every step is idempotent), writes `report_job_history`, requests syncs
    but runs no ingestion jobs, and neither takes the scheduler lease nor writes its heartbeat.
    """
    from gitpulse_app.intelligence.scheduler import run_tick  # every job: httpx, NumPy, …

    try:
        result = run_tick(args.at or utcnow())
    except (DatabaseUnavailable, sa.exc.OperationalError) as exc:
        raise database_error(exc) from None
    return CommandResult(result.as_json(), result.summary())
