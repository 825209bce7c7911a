"""`/onboarding` — three steps to a first report: 1 Connect GitHub, 2 Sources (linked
installations polled every 5 s, the App install link, a personal access token, or the server token for
operators), 3 Schedule (IANA zone defaulting to the browser's, toggles, week start). "Complete
setup" saves the schedule, follows the running syncs live, writes the first report and opens it.
"""

from __future__ import annotations

import reflex as rx

from gitpulse_app.experience import routes
from gitpulse_app.experience.components.empty import error_alert, skeleton_block
from gitpulse_app.experience.onboarding.state import REPORT_FAILED, STEPS, OnboardingState
from gitpulse_app.experience.onboarding.views import OnboardingSource
from gitpulse_app.experience.page import Guard, page
from gitpulse_app.experience.settings import preferences


def step_bar() -> rx.Component:
    state = OnboardingState
    return rx.vstack(
        rx.text(state.step_label, size="2", color_scheme="gray", id="step-label"),
        rx.hstack(
            *[rx.box(flex="1", height="0.4em", border_radius="3px",
                     background=rx.cond(state.step >= n, rx.color("accent", 9),
                                        rx.color("gray", 5)),
                     class_name="step-segment")
              for n in range(1, STEPS + 1)],
            spacing="2",
            width="100%",
        ),
        spacing="2",
        width="100%",
    )


def step_card(title: str, *children: rx.Component) -> rx.Component:
    return rx.card(rx.vstack(rx.heading(title, as_="h2", size="5"), *children, spacing="4",
                             width="100%"),
                   width="100%", size="3")


def nav_buttons(*, back: bool, forward: rx.Component) -> rx.Component:
    return rx.hstack(
        rx.button("Back", variant="soft", color_scheme="gray",
                  on_click=OnboardingState.previous_step) if back else rx.box(),
        rx.spacer(),
        forward,
        width="100%",
        align="center",
    )


def connect_step() -> rx.Component:
    state = OnboardingState
    return step_card(
        "Connect GitHub",
        rx.hstack(
            rx.icon("circle-check", color=rx.color("grass", 10)),
            rx.text(rx.cond(state.connected, "Connected as @" + state.gh_login,
                            "Signed in as " + state.gh_login), weight="medium"),
            align="center",
        ),
        rx.text("GitPulse reads your GitHub activity only through the sources you choose next.",
                size="2", color_scheme="gray"),
        nav_buttons(back=False, forward=rx.button("Continue", on_click=OnboardingState.next_step,
                                                  id="onboarding-next")),
    )


def source_row(source: OnboardingSource) -> rx.Component:
    return rx.hstack(
        rx.icon("git-branch", size=16),
        rx.text(source.account, weight="medium", size="2"),
        rx.badge(source.kind_label, variant="soft"),
        rx.spacer(),
        rx.text(source.repos, size="1", color_scheme="gray"),
        align="center",
        width="100%",
        class_name="onboarding-source",
    )


def pat_form() -> rx.Component:
    state = OnboardingState
    return rx.form(
        rx.vstack(
            rx.text("Add a personal access token", weight="medium"),
            rx.text("GitPulse checks it with GitHub and stores it encrypted. Name the "
                    "repositories it should sync, as owner/name.", size="2", color_scheme="gray"),
            rx.input(placeholder="ghp_…", type="password", name="token", id="pat-token",
                     auto_complete="off", width="100%"),
            rx.text_area(placeholder="acme/api, acme/web", name="repos", id="pat-repos",
                         width="100%"),
            rx.cond(state.pat_error != "",
                    rx.text(state.pat_error, color_scheme="red", size="2", id="pat-error")),
            rx.button(rx.cond(state.pat_saving, "Checking…", "Add token"), type="submit",
                      loading=state.pat_saving, disabled=state.pat_saving, variant="outline"),
            spacing="2",
            width="100%",
        ),
        on_submit=OnboardingState.add_pat,
        reset_on_submit=False,
        width="100%",
    )


def server_token_form() -> rx.Component:
    state = OnboardingState
    return rx.form(
        rx.vstack(
            rx.text("Use the server token", weight="medium"),
            rx.text("As an operator you may sync repositories through this server's "
                    "GITHUB_TOKEN.", size="2", color_scheme="gray"),
            rx.text_area(placeholder="acme/api", name="repos", id="server-repos", width="100%"),
            rx.cond(state.server_error != "",
                    rx.text(state.server_error, color_scheme="red", size="2",
                            id="server-error")),
            rx.button(rx.cond(state.server_saving, "Checking…", "Use the server token"),
                      type="submit", loading=state.server_saving, disabled=state.server_saving,
                      variant="outline"),
            spacing="2",
            width="100%",
        ),
        on_submit=OnboardingState.use_server,
        reset_on_submit=False,
        width="100%",
    )


def sources_step() -> rx.Component:
    state = OnboardingState
    return step_card(
        "Sources",
        rx.cond(
            state.sources.length() > 0,
            rx.vstack(rx.foreach(state.sources, source_row), spacing="2", width="100%",
                      id="onboarding-sources"),
            rx.text("No sources linked yet. Installations you link on GitHub appear here.",
                    size="2", color_scheme="gray"),
        ),
        rx.cond(state.install_link != "",
                rx.link(rx.button(rx.icon("download", size=16), "Install GitHub App"),
                        href=state.install_link, is_external=True)),
        rx.separator(size="4"),
        pat_form(),
        rx.cond(state.offer_server_token,
                rx.vstack(rx.separator(size="4"), server_token_form(), spacing="4",
                          width="100%")),
        rx.cond(state.sources.length() == 0,
                rx.text("Add at least one source to continue.", size="2", color_scheme="gray")),
        nav_buttons(back=True, forward=rx.button(
            "Continue", on_click=OnboardingState.next_step, id="onboarding-next",
            disabled=state.sources.length() == 0)),
    )


def schedule_step() -> rx.Component:
    state = OnboardingState
    return step_card(
        "Schedule",
        preferences.timezone_field(state, rx.text("Reports are written at your local midnight.",
                                                  size="1", color_scheme="gray")),
        preferences.daily_toggle(state),
        preferences.work_days_field(state),
        preferences.weekly_toggle(
            state, "Weekly Retrospective – 7-day summary (" + state.week_start + "s)."),
        preferences.email_toggle(state),
        rx.cond(state.email_configured,
                rx.vstack(
                    rx.input(value=state.email, on_change=state.set_email, id="email",
                             type="email", placeholder="you@example.com", width="100%",
                             max_width="28em"),
                    preferences.field_error(state, "email"),
                    spacing="1", width="100%")),
        preferences.week_start_field(state),
        nav_buttons(back=True, forward=rx.button(
            rx.cond(state.completing, "Saving…", "Complete setup"), size="3",
            on_click=OnboardingState.complete, loading=state.completing,
            disabled=state.completing, id="complete-setup")),
    )


def finishing() -> rx.Component:
    state = OnboardingState
    return step_card(
        "Your first report",
        rx.cond(
            state.phase == "failed",
            rx.callout.root(
                rx.hstack(
                    rx.callout.icon(rx.icon("triangle-alert")),
                    rx.callout.text(REPORT_FAILED),
                    rx.spacer(),
                    rx.button("Retry", size="1", variant="soft", color_scheme="red",
                              on_click=OnboardingState.retry, loading=state.completing),
                    align="center",
                    width="100%",
                ),
                color_scheme="red",
                role="alert",
                width="100%",
            ),
            rx.vstack(
                rx.hstack(rx.icon("loader-circle", size=16, class_name="spin"),
                          rx.text(state.finish_label, id="finish-label"), align="center"),
                rx.progress(value=state.finish_percent, max=100, width="100%"),
                spacing="2",
                width="100%",
                id="finish-progress",
            ),
        ),
    )


def onboarding_steps() -> rx.Component:
    state = OnboardingState
    return rx.cond(
        state.phase == "setup",
        rx.match(state.step, (1, connect_step()), (2, sources_step()), schedule_step()),
        finishing(),
    )


@page(routes.ONBOARDING, "Welcome to GitPulse", load=OnboardingState.load, guard=Guard.SIGNED_IN)
def onboarding() -> rx.Component:
    state = OnboardingState
    return (
        rx.vstack(
            rx.heading("Welcome to GitPulse", as_="h1", size="8"),
            rx.text("Three steps, then your first cited report.", color_scheme="gray"),
            step_bar(),
            rx.cond(
                state.error != "",
                error_alert(state.error, OnboardingState.load),
                rx.cond(state.loading, skeleton_block("16em"), onboarding_steps()),
            ),
            spacing="4",
            width="100%",
            max_width="40em",
            margin_x="auto",
        )
    )
