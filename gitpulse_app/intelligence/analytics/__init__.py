"""Activity aggregates for the dashboard and repository pages, computed in SQL.

Counts are grouped in the database, never by loading facts: the dashboard reads one row per fact
type for its KPIs and one row per (local date, type) for its chart, whatever the number of facts.
Days are the user's *local* dates (`counts`: the local-date SQL, the layers and the trend rule both
pages share); `dashboard` and `repo` hold each page's aggregates. Import them from this package.
"""

from __future__ import annotations

from gitpulse_app.intelligence.analytics.counts import DASHBOARD_DAYS, DASHBOARD_KPIS, DEFAULT_RANGE
from gitpulse_app.intelligence.analytics.counts import LAYERS, RANGES, TOP_CONTRIBUTORS, TYPE_LABELS
from gitpulse_app.intelligence.analytics.counts import Kpi, Layer, counts_by_day_and_type
from gitpulse_app.intelligence.analytics.counts import format_trend, last_days, local_date_expr
from gitpulse_app.intelligence.analytics.counts import offset_segments, stacked_points
from gitpulse_app.intelligence.analytics.counts import trend_percent
from gitpulse_app.intelligence.analytics.dashboard import DashboardData, ReportCard, Tldr, WeekSpans
from gitpulse_app.intelligence.analytics.dashboard import dashboard_activity, dashboard_data
from gitpulse_app.intelligence.analytics.dashboard import dashboard_kpis, latest_daily_tldr
from gitpulse_app.intelligence.analytics.dashboard import latest_reports, report_date_label
from gitpulse_app.intelligence.analytics.dashboard import report_kind_label, week_spans
from gitpulse_app.intelligence.analytics.repo import Contributor, RepoAnalytics, RepoSummary
from gitpulse_app.intelligence.analytics.repo import TypeShare, repo_analytics

__all__ = [
    "Contributor",
    "DASHBOARD_DAYS",
    "DASHBOARD_KPIS",
    "DEFAULT_RANGE",
    "DashboardData",
    "Kpi",
    "LAYERS",
    "Layer",
    "RANGES",
    "RepoAnalytics",
    "RepoSummary",
    "ReportCard",
    "TOP_CONTRIBUTORS",
    "TYPE_LABELS",
    "Tldr",
    "TypeShare",
    "WeekSpans",
    "counts_by_day_and_type",
    "dashboard_activity",
    "dashboard_data",
    "dashboard_kpis",
    "format_trend",
    "last_days",
    "latest_daily_tldr",
    "latest_reports",
    "local_date_expr",
    "offset_segments",
    "repo_analytics",
    "report_date_label",
    "report_kind_label",
    "stacked_points",
    "trend_percent",
    "week_spans",
]
