"""`/ops` — what an operator opens when something looks wrong: webhook deliveries with
Replay for dead letters, sync batches and jobs with errors, the scheduler's last 50 runs, queue
depths, provider configuration with deep health, and the last 50 email deliveries (addresses
masked). Anyone who is not an operator gets the standard "Page not found"."""

from __future__ import annotations

import asyncio
import logging

import reflex as rx

from gitpulse_app.experience.components.empty import error_alert, skeleton_block
from gitpulse_app.experience.components.feedback import toast_error, toast_success
from gitpulse_app.experience.http.health import cached_deep_health
from gitpulse_app.experience.ops.service import replay_all_failed, replay_envelope
from gitpulse_app.experience.ops.views import (
    BatchRow,
    ChannelProblemRow,
    DeliveryRow,
    EnvelopeRow,
    HistoryRow,
    JobRow,
    ProviderRow,
    QueueRow,
    load_ops,
)
from gitpulse_app.experience.landing.page_not_found import not_found_view
from gitpulse_app.experience.state import SessionState
from gitpulse_app.experience import routes
from gitpulse_app.experience.page import page

log = logging.getLogger(__name__)

LOAD_ERROR = "The operations panels could not be loaded. Please try again."
STATUS_COLORS = (("ok", "grass"), ("completed", "grass"), ("sent", "grass"),
                 ("failed", "red"), ("error", "red"), ("degraded", "amber"),
                 ("pending", "blue"), ("processing", "blue"), ("running", "blue"),
                 ("sending", "blue"), ("unconfigured", "gray"), ("skipped", "gray"))


class OpsState(SessionState):
    loading: bool = True
    allowed: bool = False
    error: str = ""
    health_status: str = ""
    envelopes: list[EnvelopeRow] = []
    failed_envelopes: int = 0
    batches: list[BatchRow] = []
    jobs: list[JobRow] = []
    history: list[HistoryRow] = []
    queues: list[QueueRow] = []
    providers: list[ProviderRow] = []
    deliveries: list[DeliveryRow] = []
    channel_problems: list[ChannelProblemRow] = []

    async def _fetch(self) -> None:
        self.error = ""
        try:
            _code, health = await cached_deep_health()
        except Exception:  # noqa: BLE001 - the panels still show without health
            log.exception("Deep health failed on /ops")
            health = {}
        try:
            view = await asyncio.to_thread(load_ops, self._user_id, health)
        except Exception:  # noqa: BLE001 - shown inline with Retry
            log.exception("Loading /ops failed")
            self.error, self.loading = LOAD_ERROR, False
            return
        self.allowed = view is not None
        if view is not None:
            self.health_status = str(health.get("status", "unknown"))
            self.envelopes, self.failed_envelopes = view.envelopes, view.failed_envelopes
            self.batches, self.jobs, self.history = view.batches, view.jobs, view.history
            self.queues, self.providers = view.queues, view.providers
            self.deliveries = view.deliveries
            self.channel_problems = view.channel_problems
        self.loading = False

    @rx.event
    async def load(self):
        self.loading, self.allowed = True, False
        await self._fetch()
        return None

    @rx.event
    async def replay(self, envelope_id: int):
        result = await asyncio.to_thread(replay_envelope, self._user_id, envelope_id)
        await self._fetch()
        return toast_success(result.message) if result.ok else toast_error(result.message)

    @rx.event
    async def replay_all(self):
        result = await asyncio.to_thread(replay_all_failed, self._user_id)
        await self._fetch()
        return toast_success(result.message) if result.ok else toast_error(result.message)


# Views ---------------------------------------------------------------------------------------------
def status_badge(status) -> rx.Component:
    return rx.badge(status, color_scheme=rx.match(status, *STATUS_COLORS, "gray"),
                    variant="soft")


def cell(value, **props) -> rx.Component:
    return rx.table.cell(rx.text(value, size="1"), **props)


def panel(title: str, element_id: str, headers: list[str], rows, row, empty: str,
          *extra: rx.Component) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(rx.heading(title, as_="h2", size="4"), rx.spacer(), *extra,
                      align="center", width="100%"),
            rx.cond(
                rows.length() > 0,
                rx.box(
                    rx.table.root(
                        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h)
                                                       for h in headers])),
                        rx.table.body(rx.foreach(rows, row)),
                        size="1",
                        width="100%",
                    ),
                    overflow_x="auto",
                    width="100%",
                ),
                rx.text(empty, size="2", color_scheme="gray"),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        id=element_id,
    )


def envelope_row(item: EnvelopeRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(status_badge(item.status)),
        cell(item.event),
        cell(item.received),
        cell(item.attempts),
        cell(item.installation),
        cell(item.error, max_width="24em"),
        rx.table.cell(rx.cond(item.can_replay,
                              rx.button("Replay", size="1", variant="soft",
                                        on_click=OpsState.replay(item.envelope_id)))),
        class_name="envelope-row",
    )


def batch_row(item: BatchRow) -> rx.Component:
    return rx.table.row(rx.table.cell(status_badge(item.status)), cell(item.batch_id),
                        cell(item.source), cell(item.trigger), cell(item.repos),
                        cell(item.started), cell(item.finished))


def job_row(item: JobRow) -> rx.Component:
    return rx.table.row(rx.table.cell(status_badge(item.status)), cell(item.job_id),
                        cell(item.batch_id), cell(item.repo), cell(item.attempts),
                        cell(item.error, max_width="24em"), cell(item.updated))


def history_row(item: HistoryRow) -> rx.Component:
    return rx.table.row(cell(item.kind), cell(item.tick_at), cell(item.users),
                        cell(item.generated), cell(item.skipped), cell(item.errors),
                        cell(item.duration))


def queue_row(item: QueueRow) -> rx.Component:
    return rx.table.row(cell(item.queue), cell(item.pending), cell(item.working),
                        cell(item.failed), class_name="queue-row")


def provider_row(item: ProviderRow) -> rx.Component:
    return rx.table.row(cell(item.name), cell(item.configuration),
                        rx.table.cell(status_badge(item.status)), cell(item.detail))


def delivery_row(item: DeliveryRow) -> rx.Component:
    return rx.table.row(rx.table.cell(status_badge(item.status)), cell(item.report_id),
                        cell(item.address), cell(item.attempts), cell(item.sent), cell(item.error),
                        cell(item.updated), class_name="delivery-row")


def channel_problem_row(item: ChannelProblemRow) -> rx.Component:
    return rx.table.row(rx.table.cell(status_badge(item.status)), cell(item.channel),
                        cell(item.owner), cell(item.report_id), cell(item.detail),
                        cell(item.updated), class_name="channel-problem-row")


def ops_body() -> rx.Component:
    state = OpsState
    return rx.vstack(
        rx.hstack(
            rx.heading("Operations", as_="h1", size="8"),
            rx.spacer(),
            rx.text("Deep health:", size="2", color_scheme="gray"),
            status_badge(state.health_status),
            rx.button(rx.icon("refresh-cw", size=14), "Refresh", variant="soft", size="2",
                      on_click=OpsState.load),
            align="center",
            width="100%",
            wrap="wrap",
        ),
        rx.grid(
            panel("Queue depths", "queues", ["Queue", "Waiting", "In progress", "Failed"],
                  state.queues, queue_row, "No queues."),
            panel("Providers", "providers", ["Service", "Configuration", "Health", "Detail"],
                  state.providers, provider_row, "No providers."),
            columns=rx.breakpoints(initial="1", lg="2"),
            spacing="4",
            width="100%",
        ),
        panel("Webhook deliveries", "webhooks",
              ["Status", "Event", "Received", "Attempts", "Source", "Error", ""],
              state.envelopes, envelope_row, "No webhook deliveries yet.",
              rx.cond(state.failed_envelopes > 0,
                      rx.button("Replay all failed (" + state.failed_envelopes.to_string() + ")",
                                size="1", variant="soft", color_scheme="red",
                                on_click=OpsState.replay_all))),
        panel("Sync batches with errors", "batches",
              ["Status", "Batch", "Source", "Trigger", "Repositories", "Started", "Finished"],
              state.batches, batch_row, "No sync batch has failed."),
        panel("Sync jobs with errors", "jobs",
              ["Status", "Job", "Batch", "Repository", "Attempts", "Error", "Updated"],
              state.jobs, job_row, "No sync job has an error."),
        panel("Scheduler runs", "scheduler",
              ["Kind", "Tick", "Users", "Generated", "Skipped", "Errors", "Duration"],
              state.history, history_row, "The scheduler has not run yet."),
        panel("Email deliveries", "emails",
              ["Status", "Report", "To", "Attempts", "Sent", "Error", "Updated"],
              state.deliveries, delivery_row, "No email deliveries yet."),
        panel("Channels needing attention", "channels",
              ["Status", "Channel", "Owner", "Report", "Reason", "When"],
              state.channel_problems, channel_problem_row,
              "No channel is disabled and no channel message has failed."),
        spacing="4",
        width="100%",
    )


@page(routes.OPS, "Operations", load=OpsState.load)
def ops() -> rx.Component:
    state = OpsState
    return (
        rx.cond(
            state.loading,
            rx.vstack(skeleton_block("3em"), skeleton_block("12em"), skeleton_block("12em"),
                      spacing="4", width="100%"),
            rx.cond(
                state.error != "",
                error_alert(state.error, OpsState.load),
                rx.cond(state.allowed, ops_body(), not_found_view()),
            ),
        )
    )
