"""Every Reflex event handler of the app, called as user B against user A's objects.

Handlers are enumerated from the app itself (every `rx.State` subclass under
`gitpulse_app.experience`, `State.event_handlers`). `HANDLERS` says, for each `State.handler`, how
to aim it at A's objects (`Aim`: the page the tab shows, what A did in that tab first, then what B
sends), or why it takes no object (`Free`). A handler missing from the table fails the suite, so
a handler added later cannot ship without its authorization being exercised.

Each `Aim` runs through the app's real event processor and middleware
(tests/support/reflex_events.py): the tab is first A's (A's session cookie; A's steps fill its
states with A's data), then the same tab carries B's session, as a shared browser would after A
signs out and B signs in. Then: none of A's rows changed (every table, every row that belongs to
A), nothing of A's reached B's browser (titles, names, login, email, tokens), no handler crashed,
and where the handler names an object B gets "not found".
"""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import reflex as rx
import sqlalchemy as sa
from sqlmodel import SQLModel

import gitpulse_app.experience as experience
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import Report
from gitpulse_app.experience import routes
from gitpulse_app.experience.ask.page import AskState
from gitpulse_app.experience.dashboard.page import DashboardState
from gitpulse_app.experience.onboarding.state import OnboardingState
from gitpulse_app.experience.ops.page import OpsState
from gitpulse_app.experience.reports.page_detail import ReportDetailState
from gitpulse_app.experience.reports.page_generate import GenerateState
from gitpulse_app.experience.reports.page_list import ReportsState
from gitpulse_app.experience.repos.page import RepoDetailState
from gitpulse_app.experience.settings.channels import ChannelsState
from gitpulse_app.experience.settings.page import SettingsState
from gitpulse_app.experience.settings.page_tokens import ApiTokensState
from gitpulse_app.experience.sources.banner import SyncStatusState
from gitpulse_app.experience.sources.page import ReposState
from gitpulse_app.experience.timeline.page import TimelineState
from tests.authz.conftest import DAY, Pair, Side
from tests.support.reflex_events import event_driver, sent_text

Payload = Callable[[Side], dict[str, Any]]


def _none(_a: Side) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Step:
    handler: Any
    payload: Payload = _none


@dataclass(frozen=True)
class Aim:
    """Aim a handler at A's objects: the tab shows `path(a)` (route template `route`); A sends
    `a_steps` in it, then B sends `b_steps` (the handler under test among them); B must receive
    `expect` when given."""

    route: str
    path: Callable[[Side], str]
    b_steps: tuple[Step, ...]
    a_steps: tuple[Step, ...] = ()
    expect: str | None = None


@dataclass(frozen=True)
class Free:
    """The handler names no object: why it cannot reach A's."""

    reason: str


def at(path: str) -> Callable[[Side], str]:
    return lambda _a: path


DAY_ISO = DAY[0].date().isoformat()
DATES = (Step(GenerateState.set_start_date, lambda a: {"value": DAY_ISO}),
         Step(GenerateState.set_end_date, lambda a: {"value": DAY_ISO}))
REPORT_PAGE = (routes.REPORT_DETAIL, lambda a: f"/reports/{a.report_id}")
REPO_PAGE = (routes.REPO_DETAIL, lambda a: routes.repo_url(a.repo_full_name))
SETVAR = Free("Reflex built-in: calls only the state's own explicit `set_*` handlers, each of "
              "which has its own row here; `_user_id` has no setter")
FIELD = Free("a form field or UI toggle: changes only this tab's public vars; the handler that "
             "acts on them is aimed at A's objects in its own row")
OWN = Free("acts only on the caller's own user (the session's `_user_id`), takes no id")
PUBLIC = Free("a public page: resolves the visitor from its own cookie, reads nothing else")
NOT_FOUND = "Report not found"

HANDLERS: dict[str, Aim | Free] = {
    # experience/state.py
    "SessionState.require_user": Free("resolves the caller's own session; no object"),
    "SessionState.load_visitor": PUBLIC,
    "SessionState.setvar": SETVAR,
    # landing/page.py, landing/page_not_found.py
    "LandingState.load": PUBLIC,
    "LandingState.setvar": SETVAR,
    "NotFoundState.load": PUBLIC,
    "NotFoundState.setvar": SETVAR,
    # dashboard/page.py
    "DashboardState.load": Aim(routes.DASHBOARD, at(routes.DASHBOARD),
                               a_steps=(Step(DashboardState.load),),
                               b_steps=(Step(DashboardState.load),)),
    "DashboardState.toggle_tldr": FIELD,
    "DashboardState.setvar": SETVAR,
    # reports/page_generate.py
    "GenerateState.open_modal": Aim(routes.REPORTS, at(routes.REPORTS),
                                    a_steps=(Step(GenerateState.open_modal),),
                                    b_steps=(Step(GenerateState.open_modal),)),
    "GenerateState.generate": Aim(
        routes.REPORTS, at(routes.REPORTS),
        a_steps=(Step(GenerateState.open_modal),),
        b_steps=(Step(GenerateState.open_modal), *DATES,
                 Step(GenerateState.set_scope, lambda a: {"value": "repo"}),
                 Step(GenerateState.set_repo, lambda a: {"value": a.repo_full_name}),
                 Step(GenerateState.generate),
                 Step(GenerateState.set_scope, lambda a: {"value": "people"}),
                 Step(GenerateState.set_logins, lambda a: {"value": a.login}),
                 Step(GenerateState.generate)),
        expect="not found"),
    "GenerateState.set_end_date": FIELD,
    "GenerateState.set_kind": FIELD,
    "GenerateState.set_logins": FIELD,
    "GenerateState.set_open": FIELD,
    "GenerateState.set_query": FIELD,
    "GenerateState.set_repo": FIELD,
    "GenerateState.set_scope": FIELD,
    "GenerateState.set_start_date": FIELD,
    "GenerateState.setvar": SETVAR,
    # sources/banner.py
    "SyncStatusState.refresh_status": Aim(routes.DASHBOARD, at(routes.DASHBOARD),
                                          a_steps=(Step(SyncStatusState.refresh_status),),
                                          b_steps=(Step(SyncStatusState.refresh_status),)),
    "SyncStatusState.poll_status": Aim(routes.DASHBOARD, at(routes.DASHBOARD),
                                       a_steps=(Step(SyncStatusState.refresh_status),),
                                       b_steps=(Step(SyncStatusState.poll_status),)),
    "SyncStatusState.sync_source": Aim(
        routes.REPOS, at(routes.REPOS),
        b_steps=(Step(SyncStatusState.sync_source,
                      lambda a: {"installation_id": a.installation_id}),
                 Step(SyncStatusState.sync_source,
                      lambda a: {"installation_id": a.pat_installation_id}))),
    "SyncStatusState.sync_all": Aim(routes.REPOS, at(routes.REPOS),
                                    b_steps=(Step(SyncStatusState.sync_all),)),
    "SyncStatusState.setvar": SETVAR,
    # sources/page.py
    "ReposState.load": Aim(routes.REPOS, at(routes.REPOS), a_steps=(Step(ReposState.load),),
                           b_steps=(Step(ReposState.load),)),
    "ReposState.load_more": Aim(
        routes.REPOS, at(routes.REPOS), a_steps=(Step(ReposState.load),),
        b_steps=(Step(ReposState.load_more, lambda a: {"installation_id": a.installation_id}),)),
    "ReposState.toggle_track": Aim(
        routes.REPOS, at(routes.REPOS), a_steps=(Step(ReposState.load),),
        b_steps=(Step(ReposState.toggle_track, lambda a: {
            "installation_id": a.installation_id, "full_name": a.repo_full_name,
            "tracked": False}),),
        expect="not found"),
    "ReposState.retry_deliveries": Aim(
        routes.REPOS, at(routes.REPOS),
        b_steps=(Step(ReposState.retry_deliveries,
                      lambda a: {"installation_id": a.installation_id}),),
        expect="not found"),
    "ReposState.add_pat": Aim(
        routes.REPOS, at(routes.REPOS),
        b_steps=(Step(ReposState.add_pat, lambda a: {"form": {
            "token": a.pat_plain, "repos": a.repo_full_name}}),)),
    "ReposState.open_pat": FIELD,
    "ReposState.set_pat_open": FIELD,
    "ReposState.setvar": SETVAR,
    # repos/page.py
    "RepoDetailState.load": Aim(*REPO_PAGE, b_steps=(Step(RepoDetailState.load),)),
    "RepoDetailState.set_range": Aim(*REPO_PAGE, a_steps=(Step(RepoDetailState.load),),
                                     b_steps=(Step(RepoDetailState.set_range,
                                                   lambda a: {"value": "7"}),)),
    "RepoDetailState.toggle_type": FIELD,
    "RepoDetailState.setvar": SETVAR,
    # reports/page_detail.py
    "ReportDetailState.load": Aim(*REPORT_PAGE, b_steps=(Step(ReportDetailState.load),)),
    "ReportDetailState.regenerate": Aim(*REPORT_PAGE, a_steps=(Step(ReportDetailState.load),),
                                        b_steps=(Step(ReportDetailState.regenerate),)),
    "ReportDetailState.retry_email": Aim(*REPORT_PAGE, a_steps=(Step(ReportDetailState.load),),
                                         b_steps=(Step(ReportDetailState.retry_email),)),
    "ReportDetailState.delete": Aim(*REPORT_PAGE, a_steps=(Step(ReportDetailState.load),),
                                    b_steps=(Step(ReportDetailState.delete),),
                                    expect=NOT_FOUND),
    "ReportDetailState.setvar": SETVAR,
    # reports/page_list.py
    "ReportsState.load": Aim(routes.REPORTS, at(routes.REPORTS),
                             a_steps=(Step(ReportsState.load),),
                             b_steps=(Step(ReportsState.load),)),
    "ReportsState.load_more": Aim(routes.REPORTS, at(routes.REPORTS),
                                  a_steps=(Step(ReportsState.load),),
                                  b_steps=(Step(ReportsState.load_more),)),
    "ReportsState.set_kind_filter": Aim(routes.REPORTS, at(routes.REPORTS),
                                        a_steps=(Step(ReportsState.load),),
                                        b_steps=(Step(ReportsState.set_kind_filter,
                                                      lambda a: {"value": "daily"}),)),
    "ReportsState.delete": Aim(routes.REPORTS, at(routes.REPORTS),
                               a_steps=(Step(ReportsState.load),),
                               b_steps=(Step(ReportsState.delete,
                                             lambda a: {"report_id": a.report_id}),),
                               expect=NOT_FOUND),
    "ReportsState.backfill": OWN,
    "ReportsState.setvar": SETVAR,
    # onboarding/state.py
    "OnboardingState.load": Aim(routes.ONBOARDING, at(routes.ONBOARDING),
                                b_steps=(Step(OnboardingState.load),)),
    "OnboardingState.add_pat": Aim(
        routes.ONBOARDING, at(routes.ONBOARDING),
        b_steps=(Step(OnboardingState.add_pat, lambda a: {"form": {
            "token": a.pat_plain, "repos": a.repo_full_name}}),)),
    "OnboardingState.use_server": Aim(
        routes.ONBOARDING, at(routes.ONBOARDING),
        b_steps=(Step(OnboardingState.use_server,
                      lambda a: {"form": {"repos": a.repo_full_name}}),)),
    "OnboardingState.poll_sources": Free("lists the caller's own sources every 5 s"),
    "OnboardingState.complete": OWN,
    "OnboardingState.retry": OWN,
    "OnboardingState.next_step": FIELD,
    "OnboardingState.previous_step": FIELD,
    "OnboardingState.set_browser_zone": FIELD,
    "OnboardingState.set_daily": FIELD,
    "OnboardingState.set_email": FIELD,
    "OnboardingState.set_email_enabled": FIELD,
    "OnboardingState.set_timezone": FIELD,
    "OnboardingState.set_week_start": FIELD,
    "OnboardingState.set_work_day": FIELD,
    "OnboardingState.set_weekly": FIELD,
    "OnboardingState.setvar": SETVAR,
    # ops/page.py
    "OpsState.load": Aim(routes.OPS, at(routes.OPS), b_steps=(Step(OpsState.load),)),
    "OpsState.replay": Aim(routes.OPS, at(routes.OPS),
                           b_steps=(Step(OpsState.replay,
                                         lambda a: {"envelope_id": a.envelope_id}),)),
    "OpsState.replay_all": Aim(routes.OPS, at(routes.OPS), b_steps=(Step(OpsState.replay_all),)),
    "OpsState.setvar": SETVAR,
    # settings/page.py
    "SettingsState.load": Aim(routes.SETTINGS, at(routes.SETTINGS),
                              a_steps=(Step(SettingsState.load),),
                              b_steps=(Step(SettingsState.load),)),
    "SettingsState.save": Aim(routes.SETTINGS, at(routes.SETTINGS),
                              a_steps=(Step(SettingsState.load),),
                              b_steps=(Step(SettingsState.save),)),
    "SettingsState.remove_source": Aim(
        routes.SETTINGS, at(routes.SETTINGS), a_steps=(Step(SettingsState.load),),
        b_steps=(Step(SettingsState.remove_source,
                      lambda a: {"installation_id": a.pat_installation_id}),),
        expect="not found"),
    "SettingsState.sign_out_all": Aim(routes.SETTINGS, at(routes.SETTINGS),
                                      b_steps=(Step(SettingsState.sign_out_all),)),
    "SettingsState.set_browser_zone": FIELD,
    "SettingsState.set_daily": FIELD,
    "SettingsState.set_email": FIELD,
    "SettingsState.set_email_enabled": FIELD,
    "SettingsState.set_timezone": FIELD,
    "SettingsState.set_week_start": FIELD,
    "SettingsState.set_work_day": FIELD,
    "SettingsState.set_weekly": FIELD,
    "SettingsState.setvar": SETVAR,
    # timeline/page.py
    "TimelineState.load": Aim(routes.TIMELINE, at(routes.TIMELINE),
                              a_steps=(Step(TimelineState.load),),
                              b_steps=(Step(TimelineState.load),)),
    "TimelineState.load_more": Aim(routes.TIMELINE, at(routes.TIMELINE),
                                   a_steps=(Step(TimelineState.load),),
                                   b_steps=(Step(TimelineState.load_more),)),
    "TimelineState.set_repo_filter": Aim(
        routes.TIMELINE, at(routes.TIMELINE),
        b_steps=(Step(TimelineState.set_repo_filter, lambda a: {"value": a.repo_full_name}),)),
    "TimelineState.set_person_filter": Aim(
        routes.TIMELINE, at(routes.TIMELINE),
        b_steps=(Step(TimelineState.set_person_filter, lambda a: {"value": str(a.user_id)}),)),
    "TimelineState.toggle_type": Aim(routes.TIMELINE, at(routes.TIMELINE),
                                     a_steps=(Step(TimelineState.load),),
                                     b_steps=(Step(TimelineState.toggle_type,
                                                   lambda a: {"fact_type": "pr_merged"}),)),
    "TimelineState.set_start_date": Aim(routes.TIMELINE, at(routes.TIMELINE),
                                        a_steps=(Step(TimelineState.load),),
                                        b_steps=(Step(TimelineState.set_start_date,
                                                      lambda a: {"value": DAY_ISO}),)),
    "TimelineState.set_end_date": Aim(routes.TIMELINE, at(routes.TIMELINE),
                                      a_steps=(Step(TimelineState.load),),
                                      b_steps=(Step(TimelineState.set_end_date,
                                                    lambda a: {"value": DAY_ISO}),)),
    "TimelineState.clear_filters": Aim(routes.TIMELINE, at(routes.TIMELINE),
                                       a_steps=(Step(TimelineState.load),),
                                       b_steps=(Step(TimelineState.clear_filters),)),
    "TimelineState.run_search": Aim(
        routes.TIMELINE, at(routes.TIMELINE), a_steps=(Step(TimelineState.load),),
        b_steps=(Step(TimelineState.set_search_text, lambda a: {"value": a.fact_title}),
                 Step(TimelineState.submit_search), Step(TimelineState.run_search))),
    "TimelineState.clear_search": Aim(
        routes.TIMELINE, at(routes.TIMELINE),
        a_steps=(Step(TimelineState.load),
                 Step(TimelineState.set_search_text, lambda a: {"value": a.fact_title}),
                 Step(TimelineState.submit_search)),
        b_steps=(Step(TimelineState.clear_search),)),
    "TimelineState.set_search_text": FIELD,
    "TimelineState.submit_search": Free("dispatches run_search or clear_search (their rows aim "
                                        "them at A's facts)"),
    "TimelineState.setvar": SETVAR,
    # ask/page.py (docs/API.md)
    "AskState.ask": Aim(routes.ASK, at(routes.ASK),
                        b_steps=(Step(AskState.set_question, lambda a: {"value": a.fact_title}),
                                 Step(AskState.ask))),
    "AskState.set_question": FIELD,
    "AskState.use_example": Free("fills the question and dispatches ask (its row aims it at A's "
                                 "facts)"),
    "AskState.setvar": SETVAR,
    # settings/page_tokens.py (docs/API.md)
    "ApiTokensState.load": Aim(routes.SETTINGS, at(routes.SETTINGS),
                               a_steps=(Step(ApiTokensState.load),),
                               b_steps=(Step(ApiTokensState.load),)),
    "ApiTokensState.create": OWN,
    "ApiTokensState.revoke": Aim(routes.SETTINGS, at(routes.SETTINGS),
                                 a_steps=(Step(ApiTokensState.load),),
                                 b_steps=(Step(ApiTokensState.revoke,
                                               lambda a: {"token_id": a.api_token_id}),)),
    "ApiTokensState.dismiss_token": FIELD,
    "ApiTokensState.set_name": FIELD,
    "ApiTokensState.set_scope": FIELD,
    "ApiTokensState.set_expiry": FIELD,
    "ApiTokensState.setvar": SETVAR,
    # settings/channels.py (docs/CHANNELS.md)
    "ChannelsState.load": Aim(routes.SETTINGS, at(routes.SETTINGS),
                              a_steps=(Step(ChannelsState.load),),
                              b_steps=(Step(ChannelsState.load),)),
    "ChannelsState.add": Aim(
        routes.SETTINGS, at(routes.SETTINGS),
        b_steps=(Step(ChannelsState.set_kind, lambda a: {"value": "webhook"}),
                 Step(ChannelsState.set_url, lambda a: {"value": "https://93.184.216.34/x"}),
                 Step(ChannelsState.set_name, lambda a: {"value": "b's digest"}),
                 Step(ChannelsState.set_scope, lambda a: {"value": "Team: a repository"}),
                 Step(ChannelsState.set_repo, lambda a: {"value": a.repo_full_name}),
                 Step(ChannelsState.add)),
        expect="not found"),
    "ChannelsState.send_test": Aim(routes.SETTINGS, at(routes.SETTINGS),
                                   b_steps=(Step(ChannelsState.send_test,
                                                 lambda a: {"channel_id": a.channel_id}),)),
    "ChannelsState.remove": Aim(routes.SETTINGS, at(routes.SETTINGS),
                                b_steps=(Step(ChannelsState.remove,
                                              lambda a: {"channel_id": a.channel_id}),)),
    "ChannelsState.retry": Aim(routes.SETTINGS, at(routes.SETTINGS),
                               b_steps=(Step(ChannelsState.retry,
                                             lambda a: {"delivery_id": a.channel_delivery_id}),)),
    "ChannelsState.set_kind": FIELD,
    "ChannelsState.set_url": FIELD,
    "ChannelsState.set_name": FIELD,
    "ChannelsState.set_scope": FIELD,
    "ChannelsState.set_logins": FIELD,
    "ChannelsState.set_repo": FIELD,
    "ChannelsState.set_daily": FIELD,
    "ChannelsState.set_weekly": FIELD,
    "ChannelsState.set_webhook_key": FIELD,
    "ChannelsState.setvar": SETVAR,
}


# Enumeration from the app itself -------------------------------------------------------------------
def state_classes() -> list[type[rx.State]]:
    """Every state class of `gitpulse_app.experience` (mixins excluded: no event reaches one;
    their handlers are counted on each state that mixes them in)."""
    for module in pkgutil.walk_packages(experience.__path__, experience.__name__ + "."):
        importlib.import_module(module.name)
    found: dict[str, type[rx.State]] = {}
    stack = list(rx.State.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith(experience.__name__ + ".") and not cls._mixin:
            found[cls.get_full_name()] = cls
    return list(found.values())


def enumerate_handlers() -> set[str]:
    names = set()
    for cls in state_classes():
        handlers = cls.event_handlers
        assert handlers, f"{cls.__name__} exposes no event handlers: introspection broke"
        names.update(f"{cls.__name__}.{name}" for name in handlers)
    return names


def test_every_handler_is_aimed_at_a_or_declared_object_free():
    found = enumerate_handlers()
    assert len(found) > 40
    missing = sorted(found - set(HANDLERS))
    assert not missing, f"handlers nobody aims at another user's objects: {missing}"
    stale = sorted(set(HANDLERS) - found)
    assert not stale, f"HANDLERS names handlers that no longer exist: {stale}"
    for name, row in HANDLERS.items():
        if isinstance(row, Aim):
            tested = [step.handler for step in row.b_steps]
            cls_name, handler = name.split(".")
            assert any(h.fn.__name__ == handler for h in tested), f"{name} is never sent by B"
        else:
            assert row.reason.strip(), name


def test_user_id_is_backend_only():
    from gitpulse_app.experience.state import SessionState

    assert "_user_id" not in SessionState.vars  # so setvar cannot touch it, nor the browser see it
    assert not hasattr(SessionState, "set__user_id")
    for cls in state_classes():
        assert "_user_id" not in cls.vars
        for name in cls.vars:
            for secret_like in ("token_enc", "token_hash", "access_token", "secret",
                                "session_token", "_pat_token"):
                assert secret_like not in name.lower(), f"{cls.__name__}.{name}"


# Exercised: B against A's objects ----------------------------------------------------------------
def a_world(a: Side) -> dict[str, list[tuple]]:
    """Every row, in every table, that belongs to A or to A's sources, repository or reports."""
    with session_scope() as session:
        report_ids = set(session.scalars(sa.select(Report.id).where(Report.user_id == a.user_id)))
        by_column = {"user_id": {a.user_id}, "actor_id": {a.user_id}, "repo_id": {a.repo_id},
                     "installation_id": {a.installation_id, a.pat_installation_id},
                     "installation_gh_id": {a.installation_gh_id}, "report_id": report_ids,
                     "created_by_user_id": {a.user_id}}
        by_id = {"users": {a.user_id}, "repos": {a.repo_id}, "reports": report_ids,
                 "installations": {a.installation_id, a.pat_installation_id}}
        world = {}
        for table in SQLModel.metadata.sorted_tables:
            clauses = [table.c[column].in_(sorted(ids)) for column, ids in by_column.items()
                       if column in table.c]
            if table.name in by_id:
                clauses.append(table.c.id.in_(sorted(by_id[table.name])))
            if clauses:
                rows = session.execute(sa.select(table).where(sa.or_(*clauses))).all()
                world[table.name] = sorted((tuple(row) for row in rows), key=repr)
        return world


def a_secrets(a: Side) -> list[str]:
    return [a.fact_title, a.fact_url, a.repo_full_name, a.login, a.email, a.oauth_plain,
            a.pat_plain, a.session_token, a.oauth_enc, a.pat_enc]


@dataclass
class Outcome:
    received: str = ""
    raised: list[Exception] = field(default_factory=list)
    typed: str = ""  # what B itself put in the address bar and the payloads


async def aim(row: Aim, pair: Pair) -> tuple[Outcome, dict, dict]:
    a, b = pair.a, pair.b
    async with event_driver() as driver:
        tab = driver.tab(a.session_token).at(row.route, row.path(a))
        for step in row.a_steps:
            await tab.send(step.handler, **step.payload(a))
        assert not driver.raised, f"A's own steps failed: {driver.raised}"
        before = await asyncio.to_thread(a_world, a)
        tab.cookie = b.session_token  # A signed out; B signed in, in the same tab
        updates, typed = [], [row.path(a)]
        for step in row.b_steps:
            payload = step.payload(a)
            typed.append(repr(payload))
            updates += await tab.send(step.handler, **payload)
        after = await asyncio.to_thread(a_world, a)
        return Outcome(sent_text(updates), list(driver.raised), " ".join(typed)), before, after


def closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


AIMED = sorted(name for name, row in HANDLERS.items() if isinstance(row, Aim))


@pytest.mark.parametrize("name", AIMED)
def test_b_against_a_objects_finds_nothing_and_changes_nothing(name, pair, configure):
    closed = closed_url()  # no GitHub: a token check fails fast, never leaves the machine
    configure(GITHUB_API_URL=closed, GITHUB_URL=closed)
    row = HANDLERS[name]
    outcome, before, after = asyncio.run(aim(row, pair))
    assert not outcome.raised, f"{name} crashed: {outcome.raised!r}"
    assert after == before, f"{name} changed A's rows"
    # B may see back what B typed (A's repository name in a filter); nothing else of A's.
    leaked = [text for text in a_secrets(pair.a)
              if text in outcome.received and text not in outcome.typed]
    assert not leaked, f"{name} sent A's {leaked} to B"
    if row.expect is not None:
        assert row.expect.lower() in outcome.received.lower(), (name, outcome.received[:2000])
