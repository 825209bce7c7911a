"""KPI cards: a count, its label and the trend against the previous period."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from gitpulse_app.intelligence.analytics import Kpi


@dataclass
class KpiCard:
    """A KPI as displayed: `trend` is "↑ 12.5%", "↓ 3.0%" or "—"; `direction` up/down/flat."""

    label: str = ""
    value: str = "0"
    trend: str = "—"
    direction: str = "flat"


def kpi_cards(kpis: list[Kpi]) -> list[KpiCard]:
    return [KpiCard(k.label, f"{k.current:,}", k.trend_label, k.direction) for k in kpis]


def kpi_card(kpi: KpiCard) -> rx.Component:
    """One card: label, count and trend (green up, red down, grey unchanged)."""
    return rx.card(
        rx.vstack(
            rx.text(kpi.label, size="2", color_scheme="gray"),
            rx.text(kpi.value, size="7", weight="bold", class_name="kpi-value"),
            rx.text(
                kpi.trend,
                size="2",
                weight="medium",
                color=rx.match(
                    kpi.direction,
                    ("up", rx.color("grass", 11)),
                    ("down", rx.color("red", 11)),
                    rx.color("gray", 10),
                ),
            ),
            spacing="1",
        ),
        class_name="kpi-card",
        width="100%",
    )


def kpi_grid(kpis, columns: int) -> rx.Component:
    return rx.grid(
        rx.foreach(kpis, kpi_card),
        columns=rx.breakpoints(initial="2", sm="3", md=str(columns)),
        spacing="3",
        width="100%",
    )
