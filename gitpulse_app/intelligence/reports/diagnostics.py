"""What to tell a reader about a report's citations.

- no facts → "No activity";
- facts with source URLs but no citation → "Review needed";
- facts without any source URL → "Data issue".
Coverage below the trust threshold (0.7) is flagged "Below trust threshold" separately, with Sync
now and Regenerate offered by the page.
"""

from __future__ import annotations

from gitpulse_app.core.models import Report
from gitpulse_app.intelligence.reports.models import TRUST_THRESHOLD, Diagnostic

BELOW_TRUST_THRESHOLD = "Below trust threshold"


def diagnose(report: Report) -> Diagnostic | None:
    """The report's diagnostic label and message, or None when its citations look right."""
    events = report.event_count
    if events == 0:
        return Diagnostic("No activity", "No GitHub activity was recorded for this time period.")
    if report.expected_citations == 0:
        return Diagnostic(
            "Data issue",
            f"{events} events recorded but none have source URLs. "
            "This may indicate an ingestion issue.")
    if report.citation_count == 0:
        return Diagnostic(
            "Review needed",
            f"{events} events available but no citations extracted. "
            "The LLM may not have included GitHub URLs properly.")
    return None


def below_trust_threshold(report: Report) -> bool:
    """Whether the report's coverage is known and under 0.7."""
    return report.coverage_score is not None and report.coverage_score < TRUST_THRESHOLD
