"""The markdown download of a stored report (`/api/reports/{id}.md`, `export --format md`)."""

from __future__ import annotations

from gitpulse_app.intelligence.reports.render import date_label, markdown_download
from gitpulse_app.intelligence.reports.service import get_report


def report_markdown(user_id: int, report_id: int) -> str:
    """The markdown download of the owner's report; `ReportNotFound` as `get_report`."""
    report = get_report(user_id, report_id)
    label = date_label(report.kind, report.start_date, report.end_date, report.timezone)
    return markdown_download(report.title, label, report.markdown, report.citations)
