"""A report card of /reports: kind badge, date, title, two lines of description,
citations, coverage, diagnostics, stale and in-progress badges, unread dot, Delete (confirm)."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx
from reflex_base.vars.base import Var

from gitpulse_app.experience.components.coverage import coverage_chip
from gitpulse_app.experience.reports.views import ReportCardView

TWO_LINES = {
    "display": "-webkit-box",
    "-webkit-line-clamp": "2",
    "-webkit-box-orient": "vertical",
    "overflow": "hidden",
}


def unread_dot() -> rx.Component:
    return rx.box(width="0.55em", height="0.55em", border_radius="50%",
                  background=rx.color("accent", 9), title="Unread", class_name="unread-dot",
                  flex_shrink="0")


def delete_button(title: Var[str], on_confirm) -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(rx.icon_button(rx.icon("trash-2", size=14), variant="ghost",
                                               color_scheme="red", size="1",
                                               aria_label="Delete report")),
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete this report?"),
            rx.alert_dialog.description(title),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(rx.button("Delete", color_scheme="red",
                                                 on_click=on_confirm)),
                justify="end",
                spacing="3",
                padding_top="1em",
            ),
        ),
    )


def report_card(card: ReportCardView, on_delete: Callable[[Var], object]) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.badge(card.kind_label, variant="soft"),
                rx.text(card.date_label, size="1", color_scheme="gray"),
                rx.spacer(),
                rx.cond(card.unread, unread_dot()),
                delete_button(card.title, on_delete(card.report_id)),
                align="center",
                width="100%",
            ),
            rx.link(rx.heading(card.title, as_="h2", size="4"), href=card.url, color="inherit",
                    underline="hover", class_name="report-link"),
            rx.text(card.description, size="2", color_scheme="gray", style=TWO_LINES),
            rx.hstack(
                rx.text(card.citations, size="1", weight="bold", color_scheme="gray",
                        letter_spacing="0.04em"),
                coverage_chip(card.coverage, card.coverage_level),
                rx.cond(card.diagnostic != "",
                        rx.badge(card.diagnostic, color_scheme="orange", variant="soft")),
                rx.cond(card.below_threshold,
                        rx.badge("Below trust threshold", color_scheme="red", variant="soft")),
                rx.cond(card.stale,
                        rx.badge("New activity since generation", color_scheme="amber",
                                 variant="outline")),
                rx.cond(card.partial,
                        rx.badge("In progress", color_scheme="blue", variant="outline")),
                spacing="2",
                align="center",
                wrap="wrap",
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        class_name="report-card",
    )
