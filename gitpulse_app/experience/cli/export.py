"""`export --login LOGIN --format csv|md [--start ISO --end ISO]`.

`csv` writes the timeline CSV of every fact LOGIN can see (the same rows as
`/api/export/timeline.csv`); `md` writes LOGIN's reports in the range, separated by `---`.
"""

from __future__ import annotations

import argparse
import csv
import io

import sqlalchemy as sa

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import check_database, session_scope
from gitpulse_app.core.models import Report
from gitpulse_app.experience.cli.common import (
    CliError,
    CommandResult,
    database_error,
    schema_errors,
    user_by_login,
)

# Heavier modules are imported inside the command that runs them, for start-up time only: the
# parser imports every command module, and a command loads only what it runs (docs/STARTUP.md).



def _window(args: argparse.Namespace, zone: str | None):
    from gitpulse_app.intelligence.timeline import export_window

    start = args.start.isoformat() if args.start else None
    end = args.end.isoformat() if args.end else None
    return export_window(start, end, zone or "UTC", utcnow())


def _csv(user_id: int, zone: str | None, start, end) -> tuple[str, int]:
    from gitpulse_app.intelligence.timeline import CSV_COLUMNS, export_rows

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for row in export_rows(user_id, start=start, end=end, zone=zone or "UTC"):
        writer.writerow(row)
        count += 1
    return out.getvalue(), count


def _markdown(user_id: int, start, end) -> tuple[str, int]:
    from gitpulse_app.intelligence.reports.download import report_markdown

    with session_scope() as session:
        ids = list(session.scalars(
            sa.select(Report.id)
            .where(Report.user_id == user_id, Report.deleted_at.is_(None),
                   Report.end_date > start, Report.start_date < end)
            .order_by(Report.end_date, Report.generated_at)
        ))
    documents = [report_markdown(user_id, report_id).rstrip("\n") for report_id in ids]
    return ("\n\n---\n\n".join(documents) + "\n") if documents else "", len(documents)


def check_export_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """One bound without the other is bad usage (exit 2)."""
    if (args.start is None) != (args.end is None):
        parser.error("Give both --start and --end, or neither")


def export_command(args: argparse.Namespace) -> CommandResult:
    try:
        check_database()
    except Exception as exc:  # DatabaseUnavailable names the host
        raise CliError(str(exc)) from None
    try:
        with session_scope() as session:
            user = user_by_login(session, args.login)
            user_id, zone = user.id, user.timezone
        start, end = _window(args, zone)
        if args.format == "csv":
            text, count = _csv(user_id, zone, start, end)
        else:
            text, count = _markdown(user_id, start, end)
    except schema_errors() as exc:  # e.g. an unmigrated database
        raise database_error(exc) from None
    return CommandResult(
        {"format": args.format, "count": count, "start": start.isoformat(),
         "end": end.isoformat(), "content": text},
        text,
    )
