"""The numbered "Sources (N)" cards of a report: each opens its link in a new tab."""

from __future__ import annotations

import reflex as rx
from reflex_base.vars.base import Var

from gitpulse_app.experience.reports.views import SourceItem


def source_card(item: SourceItem) -> rx.Component:
    return rx.link(
        rx.card(
            rx.hstack(
                rx.badge(item.number, variant="solid", radius="full", size="1"),
                rx.vstack(
                    rx.cond(item.repo != "", rx.text(item.repo, size="1", color_scheme="gray")),
                    rx.text(item.label, size="2", weight="medium", class_name="source-label"),
                    spacing="0",
                    min_width="0",
                ),
                align="center",
                spacing="3",
            ),
            width="100%",
            height="100%",
        ),
        href=item.url,
        is_external=True,
        underline="none",
        color="inherit",
        class_name="source-card",
        title=item.url,
    )


def sources_section(sources: Var[list[SourceItem]]) -> rx.Component:
    return rx.vstack(
        rx.heading("Sources (" + sources.length().to_string() + ")", as_="h2", size="4"),
        rx.cond(
            sources.length() > 0,
            rx.grid(rx.foreach(sources, source_card),
                    columns=rx.breakpoints(initial="1", sm="2", md="3"), spacing="2",
                    width="100%"),
            rx.text("This report cites no sources.", size="2", color_scheme="gray"),
        ),
        spacing="3",
        width="100%",
        id="sources",
    )
