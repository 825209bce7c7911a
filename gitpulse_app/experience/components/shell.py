"""The chrome around every signed-in page: nav, theme toggle, sign out."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from gitpulse_app.core.config import get_settings
from gitpulse_app.experience import routes
from gitpulse_app.experience.state import SessionState

NAV = [
    ("Dashboard", routes.DASHBOARD),
    ("Timeline", routes.TIMELINE),
    ("Reports", routes.REPORTS),
    ("Repos", routes.REPOS),
    ("Settings", routes.SETTINGS),
]


def logo() -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.icon("activity", size=22, color=rx.color("accent", 9)),
            rx.text("GitPulse", weight="bold", size="5"),
            align="center",
            spacing="2",
        ),
        href=routes.LANDING,
        underline="none",
        color="inherit",
    )


def theme_toggle() -> rx.Component:
    # Light / dark / system; Reflex keeps the choice in localStorage.
    return rx.color_mode.button(allow_system=True, aria_label="Theme")


def sign_out_form() -> rx.Component:
    return rx.el.form(
        rx.button("Sign out", type="submit", variant="soft", size="2"),
        action=f"{get_settings().api_url}{routes.AUTH_LOGOUT}",
        method="post",
    )


def navbar() -> rx.Component:
    return rx.hstack(
        logo(),
        rx.hstack(
            *[rx.link(label, href=href, color="inherit", weight="medium") for label, href in NAV],
            spacing="5",
            display=["none", "none", "flex"],
        ),
        rx.spacer(),
        rx.cond(SessionState.signed_in, rx.text("@" + SessionState.login, color_scheme="gray")),
        theme_toggle(),
        rx.cond(SessionState.signed_in, sign_out_form()),
        align="center",
        spacing="4",
        padding_x="1.5em",
        padding_y="0.8em",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        width="100%",
    )


def app_shell(content: rx.Component) -> rx.Component:
    return rx.box(
        navbar(),
        rx.container(content, size="4", padding_y="2em"),
        min_height="100vh",
    )


def placeholder_page(heading: str, coming: str) -> Callable[[], rx.Component]:
    """A page whose capability is not built yet: the heading and what will be here."""

    def page() -> rx.Component:
        return app_shell(
            rx.vstack(
                rx.heading(heading, as_="h1", size="8"),
                rx.callout(coming, icon="construction", color_scheme="gray"),
                spacing="4",
            )
        )

    return page
