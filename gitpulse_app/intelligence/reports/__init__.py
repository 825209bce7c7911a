"""Cited reports: collect → cache → generate → validate → save, and staleness.

Importing this package connects the `fact_changed` receiver that marks reports stale; every process
that ingests facts imports it through `experience.wiring.load_capabilities`.
"""

from gitpulse_app.core.signals import fact_changed
from gitpulse_app.intelligence.reports.diagnostics import below_trust_threshold, diagnose
from gitpulse_app.intelligence.reports.flows import (
    BackfillResult,
    backfill_reports,
    generate_first_report,
    generate_today_so_far,
)
from gitpulse_app.intelligence.reports.models import (
    PROMPT_VERSION,
    SECTION_TITLES,
    Diagnostic,
    ReportError,
    ReportNotFound,
    ReportOutcome,
)
from gitpulse_app.intelligence.reports import post_sync as _post_sync  # noqa: F401 (connects it)
from gitpulse_app.intelligence.reports.scheduled import sweep_interrupted
from gitpulse_app.intelligence.reports.service import (
    delete_report,
    generate_report,
    get_report,
    regenerate_report,
    report_markdown,
    request_regeneration,
    run_regeneration,
)
from gitpulse_app.intelligence.reports.staleness import mark_stale, on_fact_changed

fact_changed.connect(on_fact_changed)

__all__ = [
    "PROMPT_VERSION",
    "BackfillResult",
    "SECTION_TITLES",
    "Diagnostic",
    "ReportError",
    "ReportNotFound",
    "ReportOutcome",
    "backfill_reports",
    "below_trust_threshold",
    "delete_report",
    "diagnose",
    "generate_first_report",
    "generate_report",
    "generate_today_so_far",
    "get_report",
    "mark_stale",
    "on_fact_changed",
    "regenerate_report",
    "report_markdown",
    "request_regeneration",
    "run_regeneration",
    "sweep_interrupted",
]
