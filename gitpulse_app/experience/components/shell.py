"""The chrome around every signed-in page: nav, theme toggle, sign out."""

from __future__ import annotations

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
        rx.button("Sign out", type="submit", variant="soft", size="2", white_space="nowrap"),
        action=f"{get_settings().api_url}{routes.AUTH_LOGOUT}",
        method="post",
    )


def nav_link(label: str, href: str) -> rx.Component:
    if href == routes.REPORTS:
        # Unread, non-empty reports (in-app delivery).
        return rx.link(
            rx.hstack(
                rx.text(label),
                rx.cond(SessionState.unread_reports > 0,
                        rx.badge(SessionState.unread_reports, size="1", radius="full",
                                 aria_label="unread reports")),
                spacing="1",
                align="center",
            ),
            href=href, color="inherit", weight="medium",
        )
    return rx.link(label, href=href, color="inherit", weight="medium")


def local_mode_badge() -> rx.Component:
    """"Local mode" and each capability running on a local provider."""
    return rx.box(rx.cond(
        SessionState.local_modes.length() > 0,
        rx.hover_card.root(
            rx.hover_card.trigger(
                rx.badge(rx.icon("hard-drive", size=12), "Local mode", color_scheme="gray",
                         variant="surface", id="local-mode",
                         title=SessionState.local_modes.join(" · ")),
            ),
            rx.hover_card.content(
                rx.vstack(rx.foreach(SessionState.local_modes, lambda m: rx.text(m, size="2")),
                          spacing="1"),
            ),
        ),
    ), display=["none", "block"])


def mobile_menu() -> rx.Component:
    """The nav on phone widths: one menu button."""
    return rx.box(
        rx.menu.root(
            rx.menu.trigger(rx.icon_button(rx.icon("menu"), variant="ghost",
                                           aria_label="Navigation")),
            rx.menu.content(*[rx.menu.item(label, on_click=rx.redirect(href))
                              for label, href in NAV]),
        ),
        display=["block", "block", "none"],
    )


def navbar() -> rx.Component:
    return rx.hstack(
        mobile_menu(),
        logo(),
        rx.hstack(
            *[nav_link(label, href) for label, href in NAV],
            spacing="5",
            display=["none", "none", "flex"],
        ),
        rx.spacer(),
        local_mode_badge(),
        rx.cond(SessionState.signed_in,
                rx.text("@" + SessionState.login, color_scheme="gray",
                        display=["none", "none", "block"])),
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
        rx.container(content, size="4", padding_y="2em", padding_x=["0.75em", "1.5em"]),
        min_height="100vh",
    )
