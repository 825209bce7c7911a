"""Every Reflex event handler of `gitpulse_app.experience`, mapped onto an authorization check.

Handlers are enumerated by introspection (`State.event_handlers`, the handlers a state class
defines itself). `HANDLERS` names, for each `State.handler`, either the `check_*` rows of
test_service_matrix.py that drive the very service functions the handler calls (as user B against
user A's objects), or why it needs none. A handler missing from the table fails the test, so a new
handler cannot ship without an authorization decision.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest
import reflex as rx

import gitpulse_app.experience as experience
from tests.authz.test_service_matrix import CHECKS

UI = "ui"  # a pure UI toggle / form field: changes only this tab's own public vars
OWN = "own"  # acts only on the caller's own `_user_id` row(s); takes no object id from the browser


def svc(*checks: str, via: str) -> tuple[str, tuple[str, ...], str]:
    return ("service", checks, via)


def why(kind: str, reason: str) -> tuple[str, tuple[str, ...], str]:
    return (kind, (), reason)


SETVAR = why(UI, "Reflex built-in: sets a public (non-backend) var only, never `_user_id` "
                 "(test_user_id_is_backend_only); every service re-checks ownership anyway")

HANDLERS: dict[str, tuple[str, tuple[str, ...], str]] = {
    # experience/state.py
    "SessionState.require_user": svc("check_session_resolution", via="auth_sessions.resolve_token"),
    "SessionState.load_visitor": svc("check_session_resolution", via="auth_sessions.resolve_token"),
    "SessionState.setvar": SETVAR,
    # components/generate_modal.py
    "GenerateState.open_modal": svc("check_generate", via="report_views.generate_options"),
    "GenerateState.generate": svc("check_generate", "check_report_read",
                                  via="report_views.prepare_generation/run_generation/stage_view"),
    "GenerateState.set_end_date": why(UI, "form field"),
    "GenerateState.set_kind": why(UI, "form field"),
    "GenerateState.set_logins": why(UI, "form field (resolved inside the user's visible repos)"),
    "GenerateState.set_open": why(UI, "modal toggle"),
    "GenerateState.set_query": why(UI, "form field"),
    "GenerateState.set_repo": why(UI, "form field (checked by resolve_plan in check_generate)"),
    "GenerateState.set_scope": why(UI, "form field"),
    "GenerateState.set_start_date": why(UI, "form field"),
    "GenerateState.setvar": SETVAR,
    # components/sync_banner.py
    "SyncStatusState.refresh_status": svc("check_sync_status",
                                          via="sync.status.sync_statuses_for_user/"
                                              "integration_status"),
    "SyncStatusState.poll_status": svc("check_sync_status",
                                       via="sync.status.sync_statuses_for_user"),
    "SyncStatusState.sync_source": svc("check_request_sync",
                                       via="sync.service.request_sync(user_id=)"),
    "SyncStatusState.sync_all": svc("check_request_sync", via="sync.service.request_sync(user_id=)"),
    "SyncStatusState.setvar": SETVAR,
    # pages/dashboard.py
    "DashboardState.load": svc("check_report_lists", "check_sync_status",
                               via="analytics.dashboard_data"),
    "DashboardState.toggle_tldr": why(UI, "expands the TL;DR"),
    "DashboardState.setvar": SETVAR,
    # pages/repos.py
    "ReposState.load": svc("check_sources", "check_sync_status",
                           via="settings_service.list_sources"),
    "ReposState.load_more": why(UI, "shows more rows of already loaded sources"),
    "ReposState.toggle_track": svc("check_set_tracked", via="settings_service.set_tracked"),
    "ReposState.retry_deliveries": svc("check_retry_deliveries",
                                       via="settings_service.retry_failed_deliveries"),
    "ReposState.add_pat": svc("check_request_sync",
                              via="settings_service.add_pat_source creates the caller's own "
                                  "source; the follow-up request_sync passes user_id"),
    "ReposState.open_pat": why(UI, "opens the PAT dialog"),
    "ReposState.set_pat_open": why(UI, "dialog toggle"),
    "ReposState.setvar": SETVAR,
    # pages/repo_detail.py
    "RepoDetailState.load": svc("check_repo_detail", via="repo_detail.load_repo"),
    "RepoDetailState.set_range": svc("check_repo_detail", via="repo_detail.load_repo"),
    "RepoDetailState.toggle_type": why(UI, "hides a series of the loaded chart"),
    "RepoDetailState.setvar": SETVAR,
    # pages/report_detail.py
    "ReportDetailState.load": svc("check_report_read", via="report_views.report_detail"),
    "ReportDetailState.regenerate": svc("check_report_regenerate", "check_report_read",
                                        via="reports.request_regeneration/stage_view"),
    "ReportDetailState.retry_email": svc("check_retry_email", via="delivery.retry_delivery"),
    "ReportDetailState.delete": svc("check_report_delete", via="reports.delete_report"),
    "ReportDetailState.setvar": SETVAR,
    # pages/reports.py
    "ReportsState.load": svc("check_report_lists", via="report_views.list_reports"),
    "ReportsState.load_more": svc("check_report_lists", via="report_views.list_reports"),
    "ReportsState.set_kind_filter": svc("check_report_lists", via="report_views.list_reports"),
    "ReportsState.delete": svc("check_report_delete", via="reports.delete_report"),
    "ReportsState.backfill": svc("check_backfill", via="reports.backfill_reports"),
    "ReportsState.setvar": SETVAR,
    # pages/landing.py, pages/not_found.py
    "LandingState.load": svc("check_session_resolution", via="SessionState._resolve"),
    "LandingState.setvar": SETVAR,
    "NotFoundState.load": svc("check_session_resolution", via="SessionState._resolve"),
    "NotFoundState.setvar": SETVAR,
    # pages/onboarding.py
    "OnboardingState.load": svc("check_sources", "check_ops",
                                via="load_settings/onboarding_sources/server_token_available"),
    "OnboardingState.poll_sources": svc("check_sources", via="onboarding_sources"),
    "OnboardingState.add_pat": svc("check_request_sync",
                                   via="add_pat_source (own source) + request_sync(user_id=)"),
    "OnboardingState.use_server": svc("check_ops", via="ops_service.use_server_token"),
    "OnboardingState.complete": why(OWN, "save_settings/complete_onboarding/first_report_id "
                                         "on self._user_id only"),
    "OnboardingState.retry": why(OWN, "first_report_id/sync_progress on self._user_id only"),
    "OnboardingState.next_step": why(UI, "wizard step"),
    "OnboardingState.previous_step": why(UI, "wizard step"),
    "OnboardingState.set_browser_zone": why(UI, "form field"),
    "OnboardingState.set_daily": why(UI, "form field"),
    "OnboardingState.set_email": why(UI, "form field"),
    "OnboardingState.set_email_enabled": why(UI, "form field"),
    "OnboardingState.set_timezone": why(UI, "form field"),
    "OnboardingState.set_week_start": why(UI, "form field"),
    "OnboardingState.set_weekly": why(UI, "form field"),
    "OnboardingState.setvar": SETVAR,
    # pages/ops.py
    "OpsState.load": svc("check_ops", via="ops_service.load_ops"),
    "OpsState.replay": svc("check_ops", via="ops_service.replay_envelope"),
    "OpsState.replay_all": svc("check_ops", via="ops_service.replay_all_failed"),
    "OpsState.setvar": SETVAR,
    # pages/settings.py
    "SettingsState.load": svc("check_sources", "check_confirm_email",
                              via="load_settings/confirm_email"),
    "SettingsState.save": why(OWN, "save_settings(self._user_id, form): the caller's own row"),
    "SettingsState.remove_source": svc("check_remove_source",
                                       via="settings_service.remove_pat_source"),
    "SettingsState.sign_out_all": svc("check_sign_out_all", via="sessions.sign_out_everywhere"),
    "SettingsState.set_browser_zone": why(UI, "form field"),
    "SettingsState.set_daily": why(UI, "form field"),
    "SettingsState.set_email": why(UI, "form field"),
    "SettingsState.set_email_enabled": why(UI, "form field"),
    "SettingsState.set_timezone": why(UI, "form field"),
    "SettingsState.set_week_start": why(UI, "form field"),
    "SettingsState.set_weekly": why(UI, "form field"),
    "SettingsState.setvar": SETVAR,
    # pages/timeline.py
    "TimelineState.load": svc("check_timeline", via="load_timeline_page/timeline_options"),
    "TimelineState.load_more": svc("check_timeline", via="load_timeline_page"),
    "TimelineState.set_repo_filter": svc("check_timeline", via="load_timeline_page(repo=)"),
    "TimelineState.set_person_filter": svc("check_timeline", via="load_timeline_page(actor_id=)"),
    "TimelineState.toggle_type": svc("check_timeline", via="load_timeline_page(types=)"),
    "TimelineState.set_start_date": svc("check_timeline", via="load_timeline_page"),
    "TimelineState.set_end_date": svc("check_timeline", via="load_timeline_page"),
    "TimelineState.clear_filters": svc("check_timeline", via="load_timeline_page"),
    "TimelineState.run_search": svc("check_search", via="timeline.search_timeline"),
    "TimelineState.clear_search": svc("check_timeline", via="load_timeline_page"),
    "TimelineState.set_search_text": why(UI, "form field"),
    "TimelineState.submit_search": why(UI, "dispatches run_search / clear_search"),
    "TimelineState.setvar": SETVAR,
}


def state_classes() -> list[type[rx.State]]:
    for module in pkgutil.walk_packages(experience.__path__, experience.__name__ + "."):
        importlib.import_module(module.name)
    found, stack = [], list(rx.State.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        # A mixin is never a state of its own (no event reaches it); its handlers are counted on
        # each state that mixes it in.
        if cls.__module__.startswith(experience.__name__ + ".") and not cls._mixin:
            found.append(cls)
    return found


def enumerate_handlers() -> set[str]:
    names = set()
    for cls in state_classes():
        handlers = cls.event_handlers
        assert handlers, f"{cls.__name__} exposes no event handlers: introspection broke"
        names.update(f"{cls.__name__}.{name}" for name in handlers)
    return names


def test_every_handler_has_an_authorization_row():
    found = enumerate_handlers()
    assert len(found) > 40
    missing = sorted(found - set(HANDLERS))
    assert not missing, f"handlers without an authorization check in HANDLERS: {missing}"
    stale = sorted(set(HANDLERS) - found)
    assert not stale, f"HANDLERS names handlers that no longer exist: {stale}"


def test_every_row_is_well_formed():
    for name, (kind, checks, reason) in HANDLERS.items():
        assert kind in {"service", UI, OWN}, name
        assert reason.strip(), name
        if kind == "service":
            assert checks, name
            for check in checks:
                assert check in CHECKS, f"{name} names an unknown check {check}"


def test_user_id_is_backend_only():
    from gitpulse_app.experience.state import SessionState

    assert "_user_id" in SessionState.get_fields() or hasattr(SessionState, "_user_id")
    assert "_user_id" not in SessionState.vars  # so setvar cannot touch it, nor the browser see it
    for cls in state_classes():
        assert "_user_id" not in cls.vars
        for name in cls.vars:
            for secret_like in ("token_enc", "token_hash", "access_token", "secret",
                                "session_token", "_pat_token"):
                assert secret_like not in name.lower(), f"{cls.__name__}.{name}"


SERVICE_ROWS = sorted({(check, name) for name, (kind, checks, _r) in HANDLERS.items()
                       if kind == "service" for check in checks})


@pytest.mark.parametrize(("check", "handler"), SERVICE_ROWS,
                         ids=[f"{h}->{c}" for c, h in SERVICE_ROWS])
def test_handler_service_refuses_user_b(check, handler, pair, configure):
    """Drive the service `handler` uses as B against A's objects."""
    CHECKS[check](pair, configure)
