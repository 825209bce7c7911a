"""`/repos` — your sources and their repositories: integration health, a card per
source with live sync state and "Sync now", failed deliveries with Retry, repositories with track
toggles (50 at a time), and adding a personal-access-token source."""

from __future__ import annotations

import asyncio
import logging

import reflex as rx

from gitpulse_app.acquisition.sync.service import request_sync
from gitpulse_app.experience import routes
from gitpulse_app.experience.page import page
from gitpulse_app.experience.components.empty import (
    empty_state,
    error_alert,
    skeleton_block,
    skeleton_rows,
)
from gitpulse_app.experience.components.feedback import toast_error, toast_success
from gitpulse_app.experience.sources.banner import (
    SyncStatusState,
    progress_card,
    reload_status,
)
from gitpulse_app.experience.sources.service import (
    add_pat_source,
    retry_failed_deliveries,
    set_tracked,
)
from gitpulse_app.experience.sources.views import (
    RepoItem,
    SourceCard,
    SourceView,
    install_url,
    list_sources,
    source_card,
)
from gitpulse_app.experience.state import SessionState

log = logging.getLogger(__name__)

PAGE = 50
LOAD_ERROR = "Your sources could not be loaded. Please try again."


class ReposState(SessionState):
    loading: bool = True
    error: str = ""
    source_cards: list[SourceCard] = []
    install_link: str = ""
    pat_open: bool = False
    pat_saving: bool = False
    pat_error: str = ""
    _views: list[SourceView] = []
    _limits: dict[int, int] = {}

    def _rebuild(self) -> None:
        self.source_cards = [
            source_card(view, self._limits.get(view.installation_id, PAGE))
            for view in self._views
        ]

    async def _reload(self) -> bool:
        """Reload the sources and their sync status (the cards read both); True while a sync
        runs."""
        user_id = self._user_id
        views, banner = await asyncio.gather(asyncio.to_thread(list_sources, user_id),
                                             reload_status(self))
        self._views = views
        self._rebuild()
        return bool(banner.active_cards)

    @rx.event
    async def load(self):
        self.error, self.install_link = "", install_url()
        try:
            syncing = await self._reload()
        except Exception:  # noqa: BLE001 - shown inline with Retry
            log.exception("Loading sources failed")
            self.error, self.loading = LOAD_ERROR, False
            return None
        self.loading = False
        return SyncStatusState.poll_status if syncing else None

    @rx.event
    def load_more(self, installation_id: int):
        self._limits = {**self._limits,
                        installation_id: self._limits.get(installation_id, PAGE) + PAGE}
        self._rebuild()

    @rx.event
    async def toggle_track(self, installation_id: int, full_name: str, tracked: bool):
        result = await asyncio.to_thread(set_tracked, self._user_id, installation_id, full_name,
                                         tracked)
        if not result.ok:
            return toast_error(result.message)
        await self._reload()
        return toast_success(result.message)

    @rx.event
    async def retry_deliveries(self, installation_id: int):
        result = await asyncio.to_thread(retry_failed_deliveries, self._user_id, installation_id)
        if not result.ok:
            return toast_error(result.message)
        await self._reload()
        return toast_success(result.message)

    @rx.event
    def open_pat(self):
        self.pat_open, self.pat_error = True, ""

    @rx.event
    def set_pat_open(self, value: bool):
        self.pat_open = value
        if not value:
            self.pat_error = ""

    @rx.event(background=True)
    async def add_pat(self, form: dict):
        """Check and store a token source. The token arrives in this event only: it is never
        kept in the state, so no state update ever carries it back to the browser."""
        token, repos = str(form.get("token") or ""), str(form.get("repos") or "")
        async with self:
            if self.pat_saving:
                return
            user_id = self._user_id
            self.pat_saving, self.pat_error = True, ""
        result = await add_pat_source(user_id, token, repos)
        sync_message = ""
        if result.ok and result.installation_id is not None:
            started = await asyncio.to_thread(request_sync, result.installation_id, "manual",
                                              force_full=True, user_id=user_id)
            sync_message = " Sync started." if started.started else ""
        async with self:
            self.pat_saving = False
            if not result.ok:
                self.pat_error = result.message
                return
            self.pat_open = False
            polling = await self._reload()
        yield toast_success(result.message + sync_message)
        if polling:
            yield SyncStatusState.poll_status


# Views ---------------------------------------------------------------------------------------------
def health_card() -> rx.Component:
    state = SyncStatusState
    return rx.card(
        rx.hstack(
            rx.cond(state.health_ok,
                    rx.icon("circle-check", color=rx.color("grass", 10)),
                    rx.icon("circle-alert", color=rx.color("amber", 10))),
            rx.text(state.health_message, weight="medium"),
            rx.spacer(),
            rx.button(
                rx.cond(state.requesting.contains("all"), "Syncing…", "Sync all"),
                size="2", variant="soft", on_click=SyncStatusState.sync_all,
                loading=state.requesting.contains("all"),
                disabled=(state.requesting.contains("all")
                          | (ReposState.source_cards.length() == 0)),
            ),
            align="center",
            width="100%",
            wrap="wrap",
        ),
        width="100%",
        id="integration-health",
    )


def repo_row(card: SourceCard, repo: RepoItem) -> rx.Component:
    return rx.hstack(
        rx.switch(
            checked=repo.tracked,
            on_change=lambda value: ReposState.toggle_track(card.installation_id,
                                                            repo.full_name, value),
            aria_label="Track " + repo.full_name,
            size="1",
        ),
        rx.link(repo.full_name, href=repo.detail_url, weight="medium", size="2"),
        rx.cond(repo.is_private, rx.badge("Private", color_scheme="gray", size="1")),
        rx.cond(repo.language != "", rx.text(repo.language, size="1", color_scheme="gray")),
        rx.spacer(),
        rx.link("GitHub ↗", href=repo.html_url, is_external=True, size="1"),
        align="center",
        width="100%",
        spacing="3",
        class_name="repo-row",
    )


def sync_controls(card: SourceCard) -> rx.Component:
    sync = SyncStatusState.sources[card.key]
    busy = SyncStatusState.requesting.contains(card.key) | sync.active
    return rx.vstack(
        rx.hstack(
            rx.text("Last sync: ", sync.last_synced, size="2", color_scheme="gray"),
            rx.spacer(),
            rx.button(
                rx.cond(busy, "Syncing…", "Sync now"),
                size="2",
                loading=SyncStatusState.requesting.contains(card.key),
                disabled=busy | ~sync.can_sync,
                on_click=SyncStatusState.sync_source(card.installation_id),
            ),
            align="center",
            width="100%",
        ),
        rx.cond(sync.active, progress_card(sync.card)),
        rx.cond(~sync.active & (sync.policy != ""),
                rx.text(sync.policy, size="1", color_scheme="gray")),
        rx.cond(sync.cooldown != "", rx.text(sync.cooldown, size="1", color_scheme="gray")),
        rx.cond(sync.error != "", rx.callout(sync.error, icon="circle-x", color_scheme="red",
                                             size="1", width="100%")),
        spacing="2",
        width="100%",
    )


def source_view(card: SourceCard) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.cond(card.kind == "app", rx.icon("git-branch", size=18),
                        rx.icon("key-round", size=18)),
                rx.heading(card.account, as_="h2", size="4"),
                rx.badge(card.kind_label, variant="soft"),
                rx.badge(card.status, color_scheme=rx.cond(card.status == "active", "grass",
                                                           "amber"), variant="outline"),
                align="center",
                spacing="2",
                wrap="wrap",
            ),
            sync_controls(card),
            rx.cond(
                card.failed_deliveries > 0,
                rx.hstack(
                    rx.text(card.failed_deliveries.to_string() + " failed deliveries", size="2",
                            color_scheme="red"),
                    # Viewers cannot replay deliveries (the service answers 403): no button.
                    rx.cond(
                        card.can_retry,
                        rx.button("Retry", size="1", variant="soft", color_scheme="red",
                                  on_click=ReposState.retry_deliveries(card.installation_id)),
                    ),
                    align="center",
                ),
            ),
            rx.separator(size="4"),
            rx.cond(
                card.total > 0,
                rx.vstack(rx.foreach(card.repos, lambda repo: repo_row(card, repo)),
                          spacing="2", width="100%"),
                rx.text("No repositories in this source yet.", size="2", color_scheme="gray"),
            ),
            rx.cond(card.more > 0,
                    rx.button("Load more (" + card.more.to_string() + ")", variant="ghost",
                              size="2", on_click=ReposState.load_more(card.installation_id))),
            spacing="3",
            width="100%",
        ),
        width="100%",
        class_name="source-card",
    )


def pat_dialog() -> rx.Component:
    state = ReposState
    return rx.dialog.root(
        rx.dialog.trigger(rx.button(rx.icon("key-round", size=16), "Add PAT source",
                                    variant="outline", on_click=ReposState.open_pat)),
        rx.dialog.content(
            rx.dialog.title("Add a personal access token"),
            rx.dialog.description(
                "GitPulse checks the token with GitHub and stores it encrypted. Name the "
                "repositories it should sync, as owner/name.", size="2"),
            rx.form(
                rx.vstack(
                    rx.input(placeholder="ghp_…", type="password", name="token", id="pat-token",
                             auto_complete="off", width="100%"),
                    rx.text_area(placeholder="acme/api, acme/web", name="repos", id="pat-repos",
                                 width="100%"),
                    rx.cond(state.pat_error != "",
                            rx.text(state.pat_error, color_scheme="red", size="2",
                                    id="pat-error")),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray",
                                                  type="button")),
                        rx.button(rx.cond(state.pat_saving, "Checking…", "Add source"),
                                  type="submit", loading=state.pat_saving,
                                  disabled=state.pat_saving),
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                    padding_top="1em",
                ),
                on_submit=ReposState.add_pat,
                reset_on_submit=False,
            ),
        ),
        open=state.pat_open,
        on_open_change=ReposState.set_pat_open,
    )


def repos_body() -> rx.Component:
    state = ReposState
    return rx.cond(
        state.source_cards.length() > 0,
        rx.vstack(rx.foreach(state.source_cards, source_view), spacing="4", width="100%"),
        rx.card(
            empty_state(
                "plug", "No sources configured",
                "Install the GitHub App or add a personal access token to start syncing.",
                rx.cond(state.install_link != "",
                        rx.link(rx.button("Install GitHub App"), href=state.install_link,
                                is_external=True)),
            ),
            width="100%",
        ),
    )


@page(routes.REPOS, "Repositories", load=ReposState.load)
def repos() -> rx.Component:
    state = ReposState
    return (
        rx.vstack(
            rx.hstack(
                rx.heading("Repositories", as_="h1", size="8"),
                rx.spacer(),
                rx.cond(state.install_link != "",
                        rx.link(rx.button("Install GitHub App", variant="soft"),
                                href=state.install_link, is_external=True)),
                pat_dialog(),
                align="center",
                width="100%",
                wrap="wrap",
                spacing="3",
            ),
            rx.cond(
                state.error != "",
                error_alert(state.error, ReposState.load),
                rx.cond(
                    state.loading,
                    rx.vstack(skeleton_block("4em"), skeleton_rows(4), width="100%"),
                    rx.vstack(health_card(), repos_body(), spacing="4", width="100%"),
                ),
            ),
            spacing="4",
            width="100%",
        )
    )
