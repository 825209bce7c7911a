"""The Channels card of /settings: Slack, Discord and webhook channels (docs/CHANNELS.md).

People add a channel (kind, URL, name, whose reports, which kinds, a webhook's secret), send it a
test message and see its status: active, or disabled with the endpoint's reason, the last test
answer and the last report's delivery, with Retry when it failed. URLs come back only as
`…/last4`; a generated webhook secret is shown once, right after adding. The state calls the
channel service and keeps display rows only. Two vars hold a webhook signing key on purpose:
`webhook_key` is the field the person types it into, and `new_webhook_key` the generated one shown
once (cleared on the next visit); no stored URL or key is ever loaded into the state.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import reflex as rx

from gitpulse_app.experience.components.feedback import toast_error, toast_success
from gitpulse_app.experience.state import SessionState
from gitpulse_app.intelligence.delivery.channels import retry_channel_delivery
from gitpulse_app.intelligence.delivery.channels import service as channel_service

log = logging.getLogger(__name__)

KIND_OPTIONS = {"Slack": "slack", "Discord": "discord", "Webhook": "webhook"}
SCOPE_OPTIONS = ("My own reports", "Team: people", "Team: a repository")
FAILED = "The channel could not be saved. Please try again."


@dataclass
class ChannelRow:
    id: int = 0
    kind: str = ""
    name: str = ""
    url_hint: str = ""
    scope_text: str = ""
    reports: str = ""
    active: bool = True
    status_text: str = ""
    last_test: str = ""
    last_delivery: str = ""
    retry_id: int = 0


def _row(view: channel_service.ChannelView) -> ChannelRow:
    status = "Active" if view.status == "active" else \
        f"Disabled: {view.disabled_reason or 'turned off'}"
    return ChannelRow(view.id, channel_service.KIND_LABELS.get(view.kind, view.kind), view.name,
                      view.url_hint, view.scope_text, " and ".join(view.reports),
                      view.status == "active", status, view.last_test_result or "",
                      view.last_delivery or "", view.retry_delivery_id or 0)


class ChannelsState(SessionState):
    rows: list[ChannelRow] = []
    kind: str = "Slack"
    url: str = ""
    name: str = ""
    scope: str = SCOPE_OPTIONS[0]
    logins: str = ""
    repo: str = ""
    daily: bool = True
    weekly: bool = True
    webhook_key: str = ""
    form_error: str = ""
    new_webhook_key: str = ""
    busy: bool = False

    async def _user(self) -> int | None:
        if self._user_id is None:
            await self._resolve()
        return self._user_id

    async def _refresh(self, user_id: int) -> None:
        views = await asyncio.to_thread(channel_service.list_channels, user_id)
        self.rows = [_row(view) for view in views]

    @rx.event
    async def load(self):
        self.new_webhook_key = ""  # a generated secret is shown once, not again on the next visit
        user_id = await self._user()
        if user_id is not None:
            await self._refresh(user_id)

    @rx.event
    def set_kind(self, value: str):
        self.kind, self.form_error = value, ""

    @rx.event
    def set_url(self, value: str):
        self.url, self.form_error = value, ""

    @rx.event
    def set_name(self, value: str):
        self.name = value

    @rx.event
    def set_scope(self, value: str):
        self.scope, self.form_error = value, ""

    @rx.event
    def set_logins(self, value: str):
        self.logins = value

    @rx.event
    def set_repo(self, value: str):
        self.repo = value

    @rx.event
    def set_daily(self, value: bool):
        self.daily = value

    @rx.event
    def set_weekly(self, value: bool):
        self.weekly = value

    @rx.event
    def set_webhook_key(self, value: str):
        self.webhook_key = value

    def _input(self) -> channel_service.ChannelInput:
        kind = KIND_OPTIONS.get(self.kind, self.kind)
        return channel_service.ChannelInput(
            kind=kind, url=self.url, name=self.name,
            logins=channel_service.split_list(self.logins)
            if self.scope == SCOPE_OPTIONS[1] else [],
            repo=self.repo if self.scope == SCOPE_OPTIONS[2] else None,
            reports=[k for k, on in (("daily", self.daily), ("weekly", self.weekly)) if on],
            secret=self.webhook_key if kind == "webhook" else None)

    @rx.event
    async def add(self):
        user_id = await self._user()
        if user_id is None or self.busy:
            return None
        self.busy, self.new_webhook_key = True, ""
        try:
            added = await asyncio.to_thread(channel_service.add_channel, user_id, self._input())
        except channel_service.ChannelError as exc:
            self.busy, self.form_error = False, str(exc)
            return toast_error(str(exc))
        except Exception:  # noqa: BLE001 - a toast without internals; nothing was saved
            log.exception("Adding a channel failed")
            self.busy = False
            return toast_error(FAILED)
        self.busy, self.form_error = False, ""
        self.url = self.name = self.webhook_key = self.logins = self.repo = ""
        self.new_webhook_key = added.generated_secret or ""
        await self._refresh(user_id)
        return toast_success(f"Channel {added.view.name} added.")

    @rx.event
    async def send_test(self, channel_id: int):
        user_id = await self._user()
        if user_id is None:
            return None
        try:
            result = await asyncio.to_thread(channel_service.send_test_message, channel_id,
                                             user_id)
        except channel_service.ChannelError as exc:
            return toast_error(str(exc))
        await self._refresh(user_id)
        return (toast_success(f"Test message sent: {result.message}") if result.ok
                else toast_error(f"Test message {result.message[0].lower()}"
                                 f"{result.message[1:]}"))

    @rx.event
    async def remove(self, channel_id: int):
        user_id = await self._user()
        if user_id is None:
            return None
        try:
            message = await asyncio.to_thread(channel_service.remove_channel, channel_id,
                                              user_id)
        except channel_service.ChannelError as exc:
            return toast_error(str(exc))
        await self._refresh(user_id)
        return toast_success(message)

    @rx.event
    async def retry(self, delivery_id: int):
        user_id = await self._user()
        if user_id is None:
            return None
        retried = await asyncio.to_thread(retry_channel_delivery, delivery_id, user_id)
        await self._refresh(user_id)
        return (toast_success("The report will be sent again shortly.") if retried
                else toast_error("This delivery cannot be retried."))


# Views ---------------------------------------------------------------------------------------------
def channel_row(row: ChannelRow) -> rx.Component:
    state = ChannelsState
    return rx.vstack(
        rx.hstack(
            rx.icon("message-square", size=16),
            rx.text(row.name, " · ", row.kind, " ", row.url_hint, weight="medium", size="2"),
            rx.spacer(),
            rx.badge(rx.cond(row.active, "Active", "Disabled"),
                     color_scheme=rx.cond(row.active, "green", "red"), class_name="channel-state"),
            align="center",
            width="100%",
        ),
        rx.text(row.scope_text, " · ", row.reports, size="1", color_scheme="gray"),
        rx.cond(~row.active, rx.text(row.status_text, size="1", color_scheme="red",
                                     class_name="channel-reason")),
        rx.cond(row.last_test != "", rx.text("Last test: ", row.last_test, size="1",
                                            class_name="channel-test")),
        rx.cond(row.last_delivery != "", rx.text(row.last_delivery, size="1",
                                                class_name="channel-delivery")),
        rx.hstack(
            rx.button("Send test message", size="1", variant="soft",
                      on_click=state.send_test(row.id)),
            rx.cond(row.retry_id > 0,
                    rx.button("Retry", size="1", variant="soft",
                              on_click=state.retry(row.retry_id))),
            rx.button("Remove", size="1", variant="soft", color_scheme="red",
                      on_click=state.remove(row.id)),
            spacing="2",
        ),
        spacing="1",
        width="100%",
        class_name="channel-row",
    )


def _field(label: str, control: rx.Component, html_for: str) -> rx.Component:
    return rx.vstack(rx.text(label, weight="medium", as_="label", html_for=html_for, size="2"),
                     control, spacing="1", width="100%")


def channel_form() -> rx.Component:
    state = ChannelsState
    return rx.vstack(
        rx.hstack(
            _field("Kind", rx.select(list(KIND_OPTIONS), value=state.kind,
                                     on_change=state.set_kind, id="channel-kind"),
                   "channel-kind"),
            _field("Name", rx.input(value=state.name, on_change=state.set_name,
                                    id="channel-name", placeholder="#standup"), "channel-name"),
            width="100%",
        ),
        _field("URL", rx.input(value=state.url, on_change=state.set_url, id="channel-url",
                               type="url", placeholder="https://hooks.slack.com/services/…",
                               width="100%"), "channel-url"),
        _field("Reports", rx.select(list(SCOPE_OPTIONS), value=state.scope,
                                    on_change=state.set_scope, id="channel-scope"),
               "channel-scope"),
        rx.cond(state.scope == SCOPE_OPTIONS[1],
                _field("Logins (comma-separated)", rx.input(
                    value=state.logins, on_change=state.set_logins, id="channel-logins"),
                    "channel-logins")),
        rx.cond(state.scope == SCOPE_OPTIONS[2],
                _field("Repository (OWNER/NAME)", rx.input(
                    value=state.repo, on_change=state.set_repo, id="channel-repo"),
                    "channel-repo")),
        rx.hstack(
            rx.checkbox("Daily", checked=state.daily, on_change=state.set_daily),
            rx.checkbox("Weekly", checked=state.weekly, on_change=state.set_weekly),
            spacing="4",
        ),
        rx.cond(state.kind == "Webhook",
                _field("Secret (leave empty to generate one)", rx.input(
                    value=state.webhook_key, on_change=state.set_webhook_key, id="channel-secret",
                    type="password"), "channel-secret")),
        rx.cond(state.form_error != "",
                rx.text(state.form_error, size="2", color_scheme="red", id="channel-error")),
        rx.cond(state.new_webhook_key != "",
                rx.callout(rx.text("Webhook secret (shown only now): ",
                                   rx.code(state.new_webhook_key, id="channel-new-secret")),
                           icon="key-round", color_scheme="amber")),
        rx.button("Add channel", on_click=state.add, loading=state.busy, id="add-channel"),
        spacing="3",
        width="100%",
    )


def channels_section() -> rx.Component:
    state = ChannelsState
    return rx.card(
        rx.vstack(
            rx.heading("Channels", as_="h2", size="4"),
            rx.text("Send reports to Slack, Discord or any HTTPS webhook.", size="2",
                    color_scheme="gray"),
            rx.cond(state.rows.length() > 0,
                    rx.vstack(rx.foreach(state.rows, channel_row), spacing="3", width="100%"),
                    rx.text("No channels yet.", size="2", color_scheme="gray")),
            rx.separator(),
            channel_form(),
            spacing="3",
            width="100%",
        ),
        width="100%",
        id="channels",
        on_mount=state.load,
    )
