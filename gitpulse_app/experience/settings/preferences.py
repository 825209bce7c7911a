"""The report preferences onboarding's Schedule step and `/settings` share.

`PreferencesMixin` holds the fields and their setters; the view helpers take the page's state
class, so both pages show the same controls with the same element ids.
"""

from __future__ import annotations

import reflex as rx

from gitpulse_app.experience.settings.service import SettingsForm
from gitpulse_app.experience.settings.views import (
    EMAIL_NOT_CONFIGURED,
    WEEKDAYS,
    SettingsView,
)
from gitpulse_app.intelligence.windows import MONDAY_TO_FRIDAY, all_time_zones, format_work_days

# Asked of the browser when the user has no zone yet: the default the form starts from.
BROWSER_ZONE_JS = "Intl.DateTimeFormat().resolvedOptions().timeZone"


class PreferencesMixin(rx.State, mixin=True):
    """Time zone, report switches, email address and week start, with per-field errors."""

    timezone: str = ""
    daily: bool = True
    weekly: bool = True
    email_enabled: bool = True
    email: str = ""
    week_start: str = WEEKDAYS[0]
    work_days: str = MONDAY_TO_FRIDAY
    email_configured: bool = False
    field_errors: dict[str, str] = {}

    def _show_preferences(self, view: SettingsView, *, work_days: str | None = None) -> None:
        """Fill the fields from the saved settings (`work_days` overrides the saved work week)."""
        self.timezone = view.timezone or ""
        self.daily, self.weekly = view.daily_enabled, view.weekly_enabled
        self.email_enabled, self.email = view.email_enabled, view.email
        self.week_start = WEEKDAYS[view.week_start_day if 0 <= view.week_start_day <= 6 else 0]
        self.work_days = work_days or view.work_days
        self.email_configured = view.email_configured

    def _preferences_form(self) -> SettingsForm:
        """The fields as the form the settings service validates and saves."""
        return SettingsForm(
            timezone=self.timezone.strip(), daily_enabled=self.daily, weekly_enabled=self.weekly,
            email_enabled=self.email_enabled, email=self.email,
            week_start_day=WEEKDAYS.index(self.week_start) if self.week_start in WEEKDAYS else -1,
            work_days=self.work_days)

    def _clear_error(self, key: str) -> None:
        self.field_errors = {k: v for k, v in self.field_errors.items() if k != key}

    @rx.event
    def set_browser_zone(self, zone: str):
        if not self.timezone and isinstance(zone, str):
            self.timezone = zone

    @rx.event
    def set_timezone(self, value: str):
        self.timezone = value
        self._clear_error("timezone")

    @rx.event
    def set_daily(self, value: bool):
        self.daily = value

    @rx.event
    def set_weekly(self, value: bool):
        self.weekly = value

    @rx.event
    def set_email_enabled(self, value: bool):
        self.email_enabled = value

    @rx.event
    def set_email(self, value: str):
        self.email = value
        self._clear_error("email")

    @rx.event
    def set_week_start(self, value: str):
        self.week_start = value

    @rx.event
    def set_work_day(self, day: str, on: bool):
        """Add or remove one ISO weekday ("1" = Monday) from the work week."""
        if not (isinstance(day, str) and len(day) == 1 and day in "1234567"):
            return
        days = set(self.work_days) - {day}
        if on:
            days.add(day)
        self.work_days = format_work_days({int(d) for d in days})
        self._clear_error("work_days")


def field_error(state: type[PreferencesMixin], key: str) -> rx.Component:
    """The error of one field, when it has one (announced to screen readers)."""
    message = state.field_errors.get(key, "")
    return rx.cond(message != "", rx.text(message, color_scheme="red", size="2",
                                          id=f"{key.replace('_', '-')}-error", role="alert"))


def toggle(label: str, description: str | rx.Var, checked, on_change, *, element_id: str,
           disabled=False) -> rx.Component:
    """A labelled switch with a line of explanation."""
    return rx.hstack(
        rx.vstack(rx.text(label, weight="medium"),
                  rx.text(description, size="2", color_scheme="gray"), spacing="0"),
        rx.spacer(),
        rx.switch(checked=checked, on_change=on_change, disabled=disabled, id=element_id,
                  aria_label=label),
        align="center",
        width="100%",
    )


def timezone_field(state: type[PreferencesMixin], note: rx.Component) -> rx.Component:
    """The time zone input with every IANA zone as a suggestion, its error, then `note`."""
    return rx.vstack(
        rx.text("Time zone", weight="medium", as_="label", html_for="timezone"),
        rx.input(value=state.timezone, on_change=state.set_timezone, id="timezone",
                 list="timezones", placeholder="Start typing, e.g. America/Chicago",
                 auto_complete="off", width="100%", max_width="28em"),
        rx.el.datalist(*[rx.el.option(value=zone) for zone in all_time_zones()], id="timezones"),
        field_error(state, "timezone"),
        note,
        spacing="1",
        width="100%",
    )


def daily_toggle(state: type[PreferencesMixin]) -> rx.Component:
    return toggle("Daily reports", "Daily Briefing – a digest of each work day.", state.daily,
                  state.set_daily, element_id="daily-toggle")


def weekly_toggle(state: type[PreferencesMixin], description: str | rx.Var) -> rx.Component:
    return toggle("Weekly reports", description, state.weekly, state.set_weekly,
                  element_id="weekly-toggle")


def email_toggle(state: type[PreferencesMixin]) -> rx.Component:
    """On only while email is configured on the server; says so when it is not."""
    return toggle("Email reports",
                  rx.cond(state.email_configured, "Receive each scheduled report by email.",
                          EMAIL_NOT_CONFIGURED),
                  state.email_enabled & state.email_configured, state.set_email_enabled,
                  disabled=~state.email_configured, element_id="email-toggle")


def week_start_field(state: type[PreferencesMixin]) -> rx.Component:
    return rx.hstack(
        rx.text("Week starts on", weight="medium"),
        rx.spacer(),
        rx.select(list(WEEKDAYS), value=state.week_start, on_change=state.set_week_start,
                  id="week-start"),
        align="center",
        width="100%",
    )


def work_days_field(state: type[PreferencesMixin]) -> rx.Component:
    """Seven checkboxes, Monday to Sunday: the days dailies are written for."""
    boxes = [
        rx.el.label(
            rx.checkbox(checked=state.work_days.contains(str(number)),
                        on_change=lambda on, day=str(number): state.set_work_day(day, on),
                        id=f"work-day-{number}", aria_label=name),
            rx.text(name[:3], size="2"),
            display="flex", align_items="center", gap="0.3em", custom_attrs={"data-day": number},
        )
        for number, name in enumerate(WEEKDAYS, start=1)
    ]
    return rx.vstack(
        rx.text("Work days", weight="medium", id="work-days-label"),
        rx.text("Dailies are written for these days; the first one after days off also covers "
                "them (Monday's standup includes the weekend).", size="2", color_scheme="gray"),
        rx.flex(*boxes, wrap="wrap", spacing="3", role="group",
                aria_labelledby="work-days-label", id="work-days"),
        field_error(state, "work_days"),
        spacing="1",
        width="100%",
    )
