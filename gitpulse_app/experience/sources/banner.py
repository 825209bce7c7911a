"""The sync banner of /dashboard and /reports and the live sync state of /repos.

`SyncStatusState` turns the sync status views into display-ready rows and, while any source is
syncing, polls them in a background event (every second while a source waits for the rate limit,
so its countdown ticks; every two seconds otherwise). A manual sync also runs in the background,
so the button shows "Syncing…" at once and the page stays responsive.

It sits beside the page states, not under them: a page that shows the banner adds
`SyncStatusState.refresh_status` to its on_load (`@page(load=[...])`), its views read
`SyncStatusState.<var>`, and a page handler that needs the status itself calls `reload_status`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from dataclasses import dataclass, field

import reflex as rx

from gitpulse_app.acquisition.sync.service import request_sync
from gitpulse_app.acquisition.sync.status import (
    IntegrationState,
    SyncStatusView,
    integration_status,
    sync_statuses_for_user,
)
from gitpulse_app.core.config import get_settings
from gitpulse_app.core.clock import utcnow
from gitpulse_app.experience import routes
from gitpulse_app.experience.components.feedback import toast_error, toast_info, toast_success
from gitpulse_app.experience.state import SessionState
from gitpulse_app.intelligence.formatting import format_relative_time

log = logging.getLogger(__name__)

ACTIVE_STATES = frozenset({"syncing", "blocked", "finishing", "recovering"})
POLL_FAST_S = 1.0
POLL_S = 2.0
POLL_LIMIT_S = 3600.0
MIN_BAR_PERCENT = 5
SKIPPED_REASONS = frozenset({"cooldown_active", "already_running", "already_syncing"})
HEALTH = {
    IntegrationState.HEALTHY.value: "GitHub App installed and ingesting events.",
    IntegrationState.MISSING_INSTALLATION.value: "No GitHub App installation detected.",
    IntegrationState.NO_EVENTS.value: "No events have been ingested yet.",
    IntegrationState.STALE_EVENTS.value: "Ingestion paused—no new events detected.",
}


def duration_label(seconds: float) -> str:
    """"4m 12s", "1h 5m" or "12s"."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


@dataclass
class SyncCard:
    """The live card of one running sync (display-ready)."""

    installation_id: int = 0
    account: str = ""
    state: str = ""
    title: str = ""
    countdown: str = ""
    percent: int = 0
    percent_label: str = ""
    events: str = ""
    elapsed: str = ""
    eta: str = ""
    current_repo: str = ""


@dataclass
class SourceSync:
    """What a /repos source card shows about syncing."""

    state: str = "idle"
    active: bool = False
    can_sync: bool = False
    policy: str = ""
    cooldown: str = ""
    error: str = ""
    last_synced: str = "Never"
    card: SyncCard = field(default_factory=SyncCard)


def active_card(view: SyncStatusView, now: dt.datetime) -> SyncCard:
    """The progress card of a source whose sync is running."""
    progress = view.batch_progress
    total = progress.total if progress else 0
    ended = (progress.completed + progress.failed) if progress else 0
    if view.state == "blocked":
        title = "Rate Limit Cooldown"
    elif view.state == "finishing":
        title = "Finishing up..."
    elif view.state == "recovering":
        title = "Recovering missed events"
    else:
        title = f"Syncing repo {min(ended + 1, total) if total else 0} of {total}"
    countdown = ""
    if view.state == "blocked" and view.blocked_until is not None:
        countdown = "Resuming in " + duration_label((view.blocked_until - now).total_seconds())
    percent = progress.percent if progress else 0
    return SyncCard(
        installation_id=view.installation_id,
        account=view.account_login or "",
        state=view.state,
        title=title,
        countdown=countdown,
        percent=max(MIN_BAR_PERCENT, min(100, percent)),
        percent_label=f"{percent}%",
        events=f"{progress.events_ingested if progress else 0} events",
        elapsed=("Elapsed " + duration_label((now - progress.started_at).total_seconds())
                 if progress else ""),
        eta="ETA " + (progress.eta_label if progress else "Estimating…"),
        current_repo=(progress.current_repo or "") if progress else "",
    )


def source_sync(view: SyncStatusView, now: dt.datetime) -> SourceSync:
    """What a /repos source card shows about syncing."""
    cooldown = ""
    if view.cooldown_ms:
        cooldown = "Next manual sync in " + duration_label(view.cooldown_ms / 1000)
    return SourceSync(
        state=view.state,
        active=view.state in ACTIVE_STATES,
        can_sync=view.can_sync_now,
        policy="" if view.can_sync_now else view.policy_message,
        cooldown=cooldown,
        error=view.last_sync_error or "",
        last_synced=(format_relative_time(view.last_synced_at, now)
                     if view.last_synced_at else "Never"),
        card=active_card(view, now) if view.state in ACTIVE_STATES else SyncCard(),
    )


class SyncStatusState(SessionState):
    """Sync status of every visible source, kept live while a sync runs."""

    warning: str = ""
    warning_kind: str = ""
    last_activity: str = ""
    active_cards: list[SyncCard] = []
    completed_notes: list[str] = []
    escalations: list[dict[str, str]] = []
    error_count: int = 0
    sources: dict[str, SourceSync] = {}
    requesting: list[str] = []
    integration: str = ""
    status_loaded: bool = False

    @rx.var
    def health_message(self) -> str:
        """The integration health line of /repos."""
        if self.error_count:
            return f"Sync error on {self.error_count} installation(s)."
        return HEALTH.get(self.integration, "")

    @rx.var
    def health_ok(self) -> bool:
        return self.error_count == 0 and self.integration == IntegrationState.HEALTHY.value

    def _apply(self, views: list[SyncStatusView], integration_state: str,
               last_event_at: dt.datetime | None, now: dt.datetime) -> None:
        self.active_cards = [active_card(v, now) for v in views if v.state in ACTIVE_STATES]
        self.completed_notes = [
            f"Synced {done.completed_repos} repo(s), {done.events_ingested} new event(s)"
            for v in views if (done := v.last_completed_sync) is not None
        ]
        self.escalations = [
            {"message": v.escalation.message, "url": v.escalation.url or ""}
            for v in views if v.escalation is not None
        ]
        self.error_count = sum(v.state == "error" for v in views)
        self.sources = {str(v.installation_id): source_sync(v, now) for v in views}
        self.integration = integration_state
        app_slug = get_settings().github_app_slug
        self.warning_kind, self.last_activity = "", ""
        if integration_state == IntegrationState.MISSING_INSTALLATION:
            self.warning_kind = "missing_installation"
            self.warning = ("Install the GitHub App to enable ingestion." if app_slug
                            else "Add a token source to enable ingestion.")
        elif integration_state == IntegrationState.NO_EVENTS:
            self.warning_kind, self.warning = "no_events", "No activity ingested yet."
        elif integration_state == IntegrationState.STALE_EVENTS and last_event_at is not None:
            self.warning_kind = "stale_events"
            self.last_activity = format_relative_time(last_event_at, now)
            self.warning = f"Last activity: {self.last_activity}"
        else:
            self.warning = ""
        self.status_loaded = True

    async def _load_status(self) -> bool:
        """Refresh from the database; True while any source is syncing."""
        user_id = self._user_id
        if user_id is None:
            return False
        now = utcnow()
        views, integration = await asyncio.gather(
            asyncio.to_thread(sync_statuses_for_user, user_id,
                              github_url=get_settings().github_url, now=now),
            asyncio.to_thread(integration_status, user_id, now),
        )
        self._apply(views, integration.state, integration.last_event_at, now)
        return bool(self.active_cards) or bool(self.completed_notes)

    @rx.event
    async def refresh_status(self):
        """on_load of the pages that show the banner: load the status; start live polling when a
        sync is running. A failure leaves the banner empty: the page itself matters more."""
        try:
            polling = await self._load_status()
        except Exception:  # noqa: BLE001 - logged; the page's own load reports its errors
            log.exception("Loading the sync status failed")
            return None
        return SyncStatusState.poll_status if polling else None

    @rx.event(background=True, supersedes=True)
    async def poll_status(self):
        """Poll while a sync runs (or its completion note shows); stops on its own."""
        started = time.monotonic()
        while time.monotonic() - started < POLL_LIMIT_S:
            async with self:
                fast = any(card.state == "blocked" for card in self.active_cards)
            await asyncio.sleep(POLL_FAST_S if fast else POLL_S)
            async with self:
                if not await self._load_status():
                    return

    def _sync_targets(self, installation_id: int | None) -> list[int]:
        if installation_id is not None:
            return [installation_id]
        return [int(key) for key, source in self.sources.items() if source.can_sync]

    async def _request(self, installation_id: int | None):
        key = str(installation_id) if installation_id is not None else "all"
        async with self:
            user_id = self._user_id
            targets = self._sync_targets(installation_id)
            if user_id is None or key in self.requesting:
                return
            self.requesting = [*self.requesting, key]
        results = []
        for target in targets:
            try:
                results.append(await asyncio.to_thread(
                    request_sync, target, "manual", force_full=True, user_id=user_id))
            except Exception:  # noqa: BLE001 - shown as a toast, logged with its traceback
                log.exception("Manual sync request failed")
                results.append(None)
        async with self:
            self.requesting = [k for k in self.requesting if k != key]
            polling = await self._load_status()
        yield _sync_toast(results, single=installation_id is not None)
        if polling:
            yield SyncStatusState.poll_status

    @rx.event(background=True)
    async def sync_source(self, installation_id: int):
        """Request a manual, full sync of one source ("Sync now" on its card)."""
        async for spec in self._request(installation_id):
            yield spec

    @rx.event(background=True)
    async def sync_all(self):
        """Request a manual sync of every source that may sync now."""
        async for spec in self._request(None):
            yield spec


async def reload_status(state: SessionState) -> SyncStatusState:
    """Reload the sync status from another state's handler (inside `async with self` in a
    background event); the banner state, to read what the page needs."""
    banner = await state.get_state(SyncStatusState)
    await banner._load_status()
    return banner


def _sync_toast(results: list, *, single: bool):
    if any(result is None for result in results):
        return toast_error("Sync failed to start. Please try again.")
    started = [result for result in results if result.started]
    if single and results:
        result = results[0]
        return toast_success(result.message) if result.started else toast_info(result.message)
    if started:
        return toast_success(f"Sync started for {len(started)} installation(s)")
    reasons = {str(result.details.get("reason", "")) for result in results}
    if not results or reasons <= SKIPPED_REASONS:
        return toast_info("All installations are up to date")
    return toast_info(results[0].message)


# Views ---------------------------------------------------------------------------------------------
def progress_card(card: SyncCard) -> rx.Component:
    """The live card of one running sync: title, countdown, bar, events, elapsed, ETA."""
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.icon("refresh-cw", size=16, class_name="spin"),
                rx.text(card.title, weight="medium"),
                rx.cond(card.account != "",
                        rx.badge(card.account, variant="soft", color_scheme="gray")),
                rx.spacer(),
                rx.text(card.percent_label, size="2", color_scheme="gray"),
                align="center",
                width="100%",
            ),
            rx.cond(card.countdown != "", rx.text(card.countdown, size="2", color_scheme="amber")),
            rx.progress(value=card.percent, max=100, width="100%"),
            rx.hstack(
                rx.text(card.events, size="1", color_scheme="gray"),
                rx.text(card.elapsed, size="1", color_scheme="gray"),
                rx.text(card.eta, size="1", color_scheme="gray"),
                rx.cond(card.current_repo != "",
                        rx.text(card.current_repo, size="1", color_scheme="gray")),
                spacing="4",
                wrap="wrap",
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        class_name="sync-progress",
    )


def sync_banner() -> rx.Component:
    """The dashboard's sync banner."""
    state = SyncStatusState
    return rx.vstack(
        rx.foreach(state.active_cards, progress_card),
        rx.foreach(
            state.completed_notes,
            lambda note: rx.callout(note, icon="circle-check", color_scheme="grass", width="100%"),
        ),
        rx.foreach(
            state.escalations,
            lambda item: rx.callout.root(
                rx.callout.icon(rx.icon("siren")),
                rx.callout.text(
                    item["message"], " ",
                    rx.cond(item["url"] != "",
                            rx.link("Open the App installation", href=item["url"],
                                    is_external=True)),
                ),
                color_scheme="orange",
                width="100%",
            ),
        ),
        rx.cond(
            (state.warning != "") & (state.active_cards.length() == 0),
            rx.card(
                rx.hstack(
                    rx.icon("triangle-alert", color=rx.color("amber", 10)),
                    rx.text(state.warning, weight="medium"),
                    rx.spacer(),
                    rx.cond(
                        state.warning_kind == "missing_installation",
                        rx.link(rx.button("Add a source", size="2", variant="soft"),
                                href=routes.REPOS),
                        rx.button(
                            rx.cond(state.requesting.contains("all"), "Syncing…", "Sync now"),
                            size="2",
                            loading=state.requesting.contains("all"),
                            disabled=state.requesting.contains("all"),
                            on_click=SyncStatusState.sync_all,
                        ),
                    ),
                    align="center",
                    width="100%",
                    wrap="wrap",
                ),
                width="100%",
                class_name="sync-warning",
            ),
        ),
        rx.cond(
            state.error_count > 0,
            rx.callout("Sync error on " + state.error_count.to_string() + " installation(s).",
                       icon="circle-x", color_scheme="red", width="100%"),
        ),
        spacing="3",
        width="100%",
    )
