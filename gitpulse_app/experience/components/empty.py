"""Empty, loading and error states shared by every page (skeletons, inline alert + Retry)."""

from __future__ import annotations

import reflex as rx
from reflex_base.vars.base import Var


def empty_state(icon: str, title: str, text: str | Var[str] = "",
                *actions: rx.Component) -> rx.Component:
    """A centred message for a list or chart with nothing to show."""
    children: list[rx.Component] = [
        rx.icon(icon, size=32, color=rx.color("gray", 9)),
        rx.text(title, weight="medium", size="3"),
    ]
    if isinstance(text, Var) or text:
        children.append(rx.text(text, color_scheme="gray", size="2", align="center"))
    return rx.center(
        rx.vstack(*children, *actions, align="center", spacing="2"),
        padding_y="2.5em",
        width="100%",
    )


def error_alert(message: Var[str], on_retry) -> rx.Component:
    """An inline error with a Retry button."""
    return rx.callout.root(
        rx.hstack(
            rx.callout.icon(rx.icon("triangle-alert")),
            rx.callout.text(message),
            rx.spacer(),
            rx.button("Retry", size="1", variant="soft", color_scheme="red", on_click=on_retry),
            align="center",
            width="100%",
        ),
        color_scheme="red",
        role="alert",
        width="100%",
    )


def skeleton_block(height: str = "6em") -> rx.Component:
    return rx.skeleton(rx.box(height=height, width="100%"), loading=True, width="100%")


def skeleton_grid(count: int, height: str = "6em") -> rx.Component:
    return rx.grid(
        *[skeleton_block(height) for _ in range(count)],
        columns=rx.breakpoints(initial="1", sm="2", md=str(min(count, 5))),
        spacing="3",
        width="100%",
    )


def skeleton_rows(count: int = 5) -> rx.Component:
    return rx.vstack(*[skeleton_block("2.6em") for _ in range(count)], spacing="2", width="100%")
