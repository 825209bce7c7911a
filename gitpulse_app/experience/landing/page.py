"""`/` — what GitPulse is, how to get in, and whether the system is up."""

from __future__ import annotations

import time
from urllib.parse import quote

import reflex as rx

from gitpulse_app.core.config import get_settings
from gitpulse_app.experience import routes
from gitpulse_app.experience.auth.next_guard import safe_next
from gitpulse_app.experience.components.shell import logo, theme_toggle
from gitpulse_app.experience.http.health import cached_deep_health
from gitpulse_app.experience.page import Guard, page
from gitpulse_app.experience.state import SessionState, public_event

FEATURES = [
    ("sun", "Daily Standups",
     "Every morning at your local midnight, a standup written from what you actually shipped."),
    ("calendar-range", "Weekly Retros",
     "A weekly retrospective of accomplishments, insights and momentum for your stakeholders."),
    ("link", "Citation-Backed",
     "Every claim links to the PR, review, issue or commit behind it. Nothing invented, nothing lost."),
]


class LandingState(SessionState):
    sign_in_url: str = ""
    demo_url: str = ""
    health_label: str = "Checking..."
    health_ok: bool = True
    health_latency_ms: int = 0

    @rx.event
    @public_event
    async def load(self):
        params = self.router.url.query_parameters
        if params.get("github") == "error":
            # A failed GitHub sign-in lands here with its message.
            yield rx.toast.error(params.get("message") or "Unknown error")
        settings = get_settings()
        target = quote(safe_next(params.get("next")), safe="/")
        self.sign_in_url = (
            f"{settings.api_url}{routes.AUTH_LOGIN}?next={target}"
            if settings.oauth_configured else ""
        )
        self.demo_url = (
            f"{settings.api_url}{routes.AUTH_DEMO}?next={target}" if settings.demo_enabled else ""
        )
        started = time.perf_counter()
        status_code, body = await cached_deep_health()
        self.health_latency_ms = int((time.perf_counter() - started) * 1000)
        self.health_ok = status_code == 200 and body.get("status") == "ok"
        self.health_label = "System Operational" if self.health_ok else "System Degraded"


def status_widget() -> rx.Component:
    return rx.hstack(
        rx.box(width="0.6em", height="0.6em", border_radius="50%",
               background=rx.cond(LandingState.health_ok, rx.color("grass", 9), rx.color("amber", 9))),
        rx.text(LandingState.health_label, size="2"),
        rx.cond(LandingState.health_label != "Checking...",
                rx.text(LandingState.health_latency_ms.to_string() + " ms", size="1", color_scheme="gray")),
        align="center",
        spacing="2",
        id="system-status",
    )


def sign_in_actions() -> rx.Component:
    return rx.cond(
        LandingState.signed_in,
        rx.link(rx.button("Go to dashboard", size="3"), href=routes.DASHBOARD),
        rx.cond(
            (LandingState.sign_in_url != "") | (LandingState.demo_url != ""),
            rx.hstack(
                rx.cond(LandingState.sign_in_url != "",
                        rx.link(rx.button("Sign in with GitHub", size="3"),
                                href=LandingState.sign_in_url)),
                rx.cond(LandingState.demo_url != "",
                        rx.link(rx.button("Try the demo", size="3", variant="outline"),
                                href=LandingState.demo_url)),
                spacing="3",
            ),
            rx.callout(
                "Sign-in is not configured on this server. "
                "Set GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET.",
                icon="info", color_scheme="amber",
            ),
        ),
    )


def feature_tile(icon: str, title: str, text: str) -> rx.Component:
    return rx.card(
        rx.vstack(rx.icon(icon, size=24, color=rx.color("accent", 9)),
                  rx.heading(title, as_="h3", size="4"),
                  rx.text(text, color_scheme="gray"),
                  spacing="2"),
        size="3",
    )


@page(routes.LANDING, "GitPulse", load=LandingState.load, guard=Guard.PUBLIC, frame=False)
def landing() -> rx.Component:
    return rx.box(
        rx.hstack(logo(), rx.spacer(), status_widget(), theme_toggle(),
                  align="center", spacing="4", padding_x="1.5em", padding_y="0.8em", width="100%"),
        rx.container(
            rx.vstack(
                rx.heading("Standups and retros your team can trust", as_="h1", size="9"),
                rx.text(
                    "GitPulse turns your team's GitHub activity into daily standups and weekly "
                    "retrospectives in which every claim links to the pull request, review, issue "
                    "or commit behind it. It never invents work and never loses any.",
                    size="5", color_scheme="gray",
                ),
                sign_in_actions(),
                rx.grid(*[feature_tile(*f) for f in FEATURES],
                        columns=rx.breakpoints(initial="1", md="3"), spacing="4", width="100%"),
                spacing="6",
                padding_y="4em",
            ),
            size="3",
        ),
    )
