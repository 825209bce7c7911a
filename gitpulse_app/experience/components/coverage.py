"""The coverage chip of report cards and the coverage meter of the report page.

Levels come from `reports.views.coverage_level`: excellent (≥ 0.9), good (≥ 0.7), warning (≥ 0.5),
poor, or none for an empty report. The meter marks the trust threshold (0.7) with a line.
"""

from __future__ import annotations

import reflex as rx
from reflex_base.vars.base import Var

from gitpulse_app.intelligence.reports.models import TRUST_THRESHOLD

LEVEL_COLORS = {
    "excellent": "grass",
    "good": "teal",
    "warning": "amber",
    "poor": "red",
    "none": "gray",
}
LEVEL_LABELS = {
    "excellent": "Excellent",
    "good": "Good",
    "warning": "Warning",
    "poor": "Poor",
    "none": "No data",
}
THRESHOLD_PERCENT = round(TRUST_THRESHOLD * 100)


def level_scheme(level: Var[str]) -> Var:
    return rx.match(level, *LEVEL_COLORS.items(), "gray")


def level_label(level: Var[str]) -> Var:
    return rx.match(level, *LEVEL_LABELS.items(), "")


def _level_fill(level: Var[str]) -> Var:
    return rx.match(level, *[(key, rx.color(color, 9)) for key, color in LEVEL_COLORS.items()],
                    rx.color("gray", 9))


def coverage_chip(label: Var[str], level: Var[str]) -> rx.Component:
    """A small badge: "85% coverage" in the level's colour."""
    return rx.badge(rx.icon("shield-check", size=12), label, color_scheme=level_scheme(level),
                    variant="soft", class_name="coverage-chip")


def coverage_meter(percent: Var[int], label: Var[str], level: Var[str]) -> rx.Component:
    """The bar, its level and the trust-threshold line (always shown)."""
    return rx.vstack(
        rx.hstack(
            rx.text("Coverage", weight="medium", size="2"),
            rx.text(label, size="2", class_name="coverage-value"),
            rx.badge(level_label(level), color_scheme=level_scheme(level), variant="soft",
                     size="1"),
            rx.spacer(),
            rx.text(f"Trust threshold {THRESHOLD_PERCENT}%", size="1", color_scheme="gray"),
            align="center",
            width="100%",
            wrap="wrap",
        ),
        rx.box(
            rx.box(width=percent.to_string() + "%", height="100%", background=_level_fill(level),
                   border_radius="4px"),
            rx.box(position="absolute", left=f"{THRESHOLD_PERCENT}%", top="-3px", bottom="-3px",
                   width="2px", background=rx.color("gray", 12), title="Trust threshold",
                   class_name="threshold-line"),
            position="relative",
            width="100%",
            height="0.6em",
            background=rx.color("gray", 4),
            border_radius="4px",
            role="progressbar",
            aria_label="Coverage",
            aria_valuenow=percent,
            aria_valuemin=0,
            aria_valuemax=100,
        ),
        spacing="2",
        width="100%",
        id="coverage-meter",
    )
