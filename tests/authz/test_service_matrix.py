"""The services behind every page action, called as user B against user A's objects.

Each `check_*` function is one row of the authorization matrix: it drives the service functions a
Reflex handler uses, as B, asserts the refusal (or that nothing of A's comes back) and, where it
helps, that A still gets through (so the refusal is not just a broken fixture). The state-handler
matrix (test_state_handlers.py) maps every event handler onto these checks.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import sqlalchemy as sa

from gitpulse_app.acquisition.sync.service import NOT_AUTHORIZED_MESSAGE, request_sync
from gitpulse_app.acquisition.sync.status import integration_status, sync_statuses_for_user
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import (
    AuthSession,
    EmailDelivery,
    Installation,
    Report,
    ReportRegeneration,
    User,
    UserInstallation,
    WebhookEvent,
)
from gitpulse_app.experience.auth.sessions import resolve_token, sign_out_everywhere, token_hash
from gitpulse_app.experience.onboarding.views import onboarding_sources
from gitpulse_app.experience.ops.service import (
    replay_all_failed,
    replay_envelope,
    server_token_available,
    use_server_token,
)
from gitpulse_app.experience.ops.views import load_ops
from gitpulse_app.experience.reports.service import (
    GenerateRequest,
    prepare_generation,
    run_generation,
)
from gitpulse_app.experience.reports.views import list_reports
from gitpulse_app.experience.reports.views_detail import (
    generate_options,
    report_detail,
    stage_view,
)
from gitpulse_app.experience.repos.views import load_repo
from gitpulse_app.experience.settings.service import confirm_email, email_confirmation_token
from gitpulse_app.experience.settings.views import load_settings
from gitpulse_app.experience.sources.service import (
    OWNER_ONLY,
    remove_pat_source,
    retry_failed_deliveries,
    set_tracked,
)
from gitpulse_app.experience.sources.views import list_sources
from gitpulse_app.experience.timeline.views import filter_options as timeline_filter_options
from gitpulse_app.intelligence.analytics import dashboard_data
from gitpulse_app.intelligence.delivery import retry_delivery
from gitpulse_app.intelligence.embeddings import search_for_user
from gitpulse_app.intelligence.embeddings.worker import run_once
from gitpulse_app.intelligence.reports.download import report_markdown
from gitpulse_app.intelligence.reports.flows import backfill_reports
from gitpulse_app.intelligence.reports.models import ReportError, ReportNotFound
from gitpulse_app.intelligence.reports.service import (
    delete_report,
    generate_report,
    get_report,
    regenerate_report,
    request_regeneration,
)
from gitpulse_app.intelligence.timeline import (
    TimelineFilters,
    load_timeline_page,
    search_timeline,
)
from tests.authz.conftest import DAY, NOW, Pair, Side

REPORT_NOT_FOUND = "Report not found"


# Helpers -----------------------------------------------------------------------------------------
def secrets_of(side: Side) -> list[str]:
    """Strings that must never reach another user."""
    return [side.login, side.email, side.repo_full_name, side.fact_title, side.fact_url,
            side.oauth_plain, side.oauth_enc, side.pat_plain, side.pat_enc, side.session_token,
            token_hash(side.session_token)]


def assert_no_leak(value: object, side: Side) -> None:
    text = repr(value)
    for secret in secrets_of(side):
        assert secret not in text, f"{secret!r} leaked in {text[:300]}"


def _report(report_id: int) -> Report:
    with session_scope() as session:
        return session.get(Report, report_id)


def _regenerations_of(report_id: int) -> int:
    with session_scope() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(ReportRegeneration)
                              .where(ReportRegeneration.report_id == report_id))


def _envelope_status(envelope_id: int) -> str:
    with session_scope() as session:
        return session.get(WebhookEvent, envelope_id).status


def _delivery_status(delivery_id: int) -> str:
    with session_scope() as session:
        return session.get(EmailDelivery, delivery_id).status


def _installation(installation_id: int) -> Installation:
    with session_scope() as session:
        return session.get(Installation, installation_id)


def _not_found(call) -> None:
    with pytest.raises(ReportNotFound) as raised:
        call()
    assert str(raised.value) == REPORT_NOT_FOUND


# Checks: reports -----------------------------------------------------------------------------------
def check_report_read(pair: Pair, configure) -> None:
    a, b = pair.a, pair.b
    _not_found(lambda: get_report(b.user_id, a.report_id))
    _not_found(lambda: report_markdown(b.user_id, a.report_id))
    assert report_detail(b.user_id, a.report_id, open_it=True) is None
    assert _report(a.report_id).opened_at is None  # B's visit did not mark it read
    assert stage_view(b.user_id, a.regeneration_id) is None
    # Control: A reads it.
    assert get_report(a.user_id, a.report_id).id == a.report_id
    assert stage_view(a.user_id, a.regeneration_id) is not None


def check_report_delete(pair: Pair, configure) -> None:
    a, b = pair.a, pair.b
    _not_found(lambda: delete_report(b.user_id, a.report_id))
    assert _report(a.report_id).deleted_at is None


def check_report_regenerate(pair: Pair, configure) -> None:
    a, b = pair.a, pair.b
    before = _regenerations_of(a.report_id)
    _not_found(lambda: request_regeneration(b.user_id, a.report_id))
    _not_found(lambda: regenerate_report(b.user_id, a.report_id, now=NOW, sleep=lambda _s: None))
    assert _regenerations_of(a.report_id) == before
    assert _report(a.report_id).markdown  # untouched


def check_report_lists(pair: Pair, configure) -> None:
    a, b = pair.a, pair.b
    page = list_reports(b.user_id, "all")
    assert_no_leak(page, a)
    assert str(b.report_id) in repr(page)
    assert str(a.report_id) in repr(list_reports(a.user_id, "all"))
    assert_no_leak(dashboard_data(b.user_id, NOW), a)


def check_retry_email(pair: Pair, configure) -> None:
    a, b = pair.a, pair.b
    assert retry_delivery(a.report_id, b.user_id) is None
    assert _delivery_status(a.delivery_id) == "failed"
    assert retry_delivery(a.report_id, a.user_id) is not None  # control
    assert _delivery_status(a.delivery_id) == "pending"


def check_backfill(pair: Pair, configure) -> None:
    a, b = pair.a, pair.b
    result = backfill_reports(b.user_id, now=NOW, sync_and_wait=lambda _uid: None,
                              sleep=lambda _s: None)
    assert_no_leak(result, a)
    with session_scope() as session:
        owners = set(session.scalars(sa.select(Report.user_id)
                                     .where(Report.id != a.report_id)).all())
        written = list(session.scalars(sa.select(Report).where(Report.user_id == b.user_id)))
    assert owners <= {a.user_id, b.user_id}
    for report in written:
        assert a.fact_url not in (report.citations or [])
        assert a.fact_url not in report.markdown


def check_generate(pair: Pair, configure) -> None:
    a, b = pair.a, pair.b
    options = generate_options(b.user_id)
    assert_no_leak(options, a)
    day = DAY[0].date().isoformat()
    prepared = prepare_generation(b.user_id, GenerateRequest(
        kind="daily", start_date=day, end_date=day, scope="repo", logins="",
        repo=a.repo_full_name, query=""), now=NOW)
    with pytest.raises(ReportError) as raised:
        run_generation(b.user_id, prepared)
    assert a.repo_full_name in str(raised.value) and "not found" in str(raised.value)
    # Naming A as a person answers exactly like a login nobody has: existence never leaks.
    errors = []
    for login in (a.login, f"{a.login}-nobody"):
        with pytest.raises(ReportError) as raised:
            generate_report(b.user_id, "daily", *DAY, logins=[login], now=NOW)
        errors.append(str(raised.value).replace(login, "LOGIN"))
    assert errors[0] == errors[1] == "No user with login LOGIN"
    # Once B sees a repository A works in, A's login resolves for B's team reports.
    pair.link_b_as_viewer()
    outcome = generate_report(b.user_id, "daily", *DAY, logins=[a.login], now=NOW)
    assert outcome.report is not None and a.fact_url in (outcome.report.citations or [])
    assert stage_view(b.user_id, a.regeneration_id) is None


# Checks: sources, sync, webhooks --------------------------------------------------------------------
def check_request_sync(pair: Pair, configure) -> None:
    a, b = pair.a, pair.b
    for installation_id in (a.installation_id, a.pat_installation_id):
        result = request_sync(installation_id, "manual", force_full=True, user_id=b.user_id,
                              now=NOW)
        assert not result.started
        assert result.message == NOT_AUTHORIZED_MESSAGE
    missing = request_sync(a.installation_id + 10_000, "manual", user_id=b.user_id, now=NOW)
    assert missing.message == NOT_AUTHORIZED_MESSAGE  # the same answer: existence never leaks


def check_sync_status(pair: Pair, configure) -> None:
    a, b = pair.a, pair.b
    views = sync_statuses_for_user(b.user_id, github_url="https://github.com", now=NOW)
    assert_no_leak(views, a)
    assert_no_leak(integration_status(b.user_id, NOW), a)


def check_sources(pair: Pair, configure) -> None:
    a, b = pair.a, pair.b
    ids = {view.installation_id for view in list_sources(b.user_id)}
    assert ids == {b.installation_id, b.pat_installation_id}
    assert_no_leak(list_sources(b.user_id), a)
    assert_no_leak(onboarding_sources(b.user_id), a)
    assert_no_leak(load_settings(b.user_id), a)


def check_set_tracked(pair: Pair, configure) -> None:
    a, b = pair.a, pair.b
    result = set_tracked(b.user_id, a.installation_id, a.repo_full_name, False)
    assert (result.ok, result.status, result.message) == (False, 404, "Installation not found")
    assert a.repo_full_name in repr(list_sources(a.user_id))
    with session_scope() as session:
        from gitpulse_app.core.models import TrackedRepo
        assert session.scalar(sa.select(sa.func.count()).select_from(TrackedRepo)) == 0


def check_retry_deliveries(pair: Pair, configure) -> None:
    a, b = pair.a, pair.b
    stranger = retry_failed_deliveries(b.user_id, a.installation_id)
    assert (stranger.ok, stranger.status, stranger.message) == \
        (False, 404, "Installation not found")
    pair.link_b_as_viewer()
    viewer = retry_failed_deliveries(b.user_id, a.installation_id)
    assert (viewer.ok, viewer.status, viewer.message) == (False, 403, OWNER_ONLY)
    assert _envelope_status(a.envelope_id) == "failed"
    owner = retry_failed_deliveries(a.user_id, a.installation_id)  # control
    assert owner.ok and _envelope_status(a.envelope_id) == "pending"
    assert _envelope_status(b.envelope_id) == "failed"  # A's replay touched only A's source


def check_remove_source(pair: Pair, configure) -> None:
    a, b = pair.a, pair.b
    stranger = remove_pat_source(b.user_id, a.pat_installation_id)
    assert (stranger.ok, stranger.status) == (False, 404)
    pair.link_b_as_viewer()
    viewer = remove_pat_source(b.user_id, a.pat_installation_id)
    assert (viewer.ok, viewer.status, viewer.message) == (False, 403, OWNER_ONLY)
    source = _installation(a.pat_installation_id)
    assert source.status != "deleted" and source.token_enc == a.pat_enc


def check_ops(pair: Pair, configure) -> None:
    a, b = pair.a, pair.b
    configure(GITHUB_TOKEN="ghp_serverTokenForAuthz", GITPULSE_ADMINS=a.login)
    assert load_ops(b.user_id) is None
    assert not replay_envelope(b.user_id, a.envelope_id).ok
    assert not replay_all_failed(b.user_id).ok
    assert _envelope_status(a.envelope_id) == "failed"
    assert _envelope_status(b.envelope_id) == "failed"
    assert server_token_available(b.user_id) is False
    result, source_id = asyncio.run(use_server_token(b.user_id, a.repo_full_name))
    assert not result.ok and source_id is None
    # Control: the operator gets the panels, which never carry tokens.
    view = load_ops(a.user_id)
    assert view is not None
    for side in (a, b):
        for secret in (side.oauth_plain, side.oauth_enc, side.pat_plain, side.pat_enc,
                       side.session_token, side.email):
            assert secret not in repr(view)


# Checks: facts, timeline, search, repositories --------------------------------------------------------
def check_timeline(pair: Pair, configure) -> None:
    a, b = pair.a, pair.b
    everything = load_timeline_page(b.user_id, TimelineFilters(), "UTC")
    assert_no_leak(everything, a)
    assert b.fact_url in repr(everything)
    narrowed = load_timeline_page(b.user_id, TimelineFilters(repo=a.repo_full_name), "UTC")
    assert_no_leak(narrowed, a)
    with session_scope() as session:
        actor_a = session.scalar(sa.select(User.id).where(User.gh_login == a.login))
    by_person = load_timeline_page(b.user_id, TimelineFilters(actor_id=actor_a), "UTC")
    assert_no_leak(by_person, a)
    assert_no_leak(timeline_filter_options(b.user_id), a)
    assert a.fact_url in repr(load_timeline_page(a.user_id, TimelineFilters(), "UTC"))


def check_search(pair: Pair, configure) -> None:
    a, b = pair.a, pair.b
    run_once(NOW)
    own = search_timeline(a.user_id, a.fact_title, TimelineFilters(), "UTC")
    assert a.fact_url in repr(own)  # control: the fact is searchable
    for filters in (TimelineFilters(), TimelineFilters(repo=a.repo_full_name)):
        assert_no_leak(search_timeline(b.user_id, a.fact_title, filters, "UTC"), a)
        assert_no_leak(search_timeline(b.user_id, a.fact_title, filters, "UTC", a.login), a)
    with session_scope() as session:
        hits = search_for_user(session, b.user_id, a.fact_title)
        assert_no_leak(hits, a)
        assert all(hit.source_url != a.fact_url for hit in hits)


def check_repo_detail(pair: Pair, configure) -> None:
    a, b = pair.a, pair.b
    end = NOW + dt.timedelta(days=1)
    for name in (a.repo_full_name, a.repo_full_name.upper()):
        analytics, _zone = load_repo(b.user_id, name, 30, end)
        assert analytics is None
    own, _zone = load_repo(a.user_id, a.repo_full_name, 30, end)
    assert own is not None


# Checks: the session and the user's own settings ------------------------------------------------------
def check_session_resolution(pair: Pair, configure) -> None:
    a = pair.a
    assert resolve_token(a.session_token) == a.user_id
    for forged in ("", "forged", token_hash(a.session_token), a.session_token + "x"):
        assert resolve_token(forged) is None
    with session_scope() as session:
        row = session.scalars(sa.select(AuthSession)
                              .where(AuthSession.user_id == a.user_id)).first()
        row.expires_at = NOW - dt.timedelta(days=400)
        session.add(row)
    assert resolve_token(a.session_token) is None


def check_confirm_email(pair: Pair, configure) -> None:
    a, b = pair.a, pair.b
    minted_for_a = email_confirmation_token(a.user_id, "takeover@evil.example", dt.datetime.now(dt.UTC))
    assert confirm_email(b.user_id, minted_for_a) is None
    with session_scope() as session:
        assert session.get(User, b.user_id).email == b.email
        assert session.get(User, a.user_id).email == a.email


def check_sign_out_all(pair: Pair, configure) -> None:
    a, b = pair.a, pair.b
    sign_out_everywhere(b.user_id)
    assert resolve_token(b.session_token) is None
    assert resolve_token(a.session_token) == a.user_id


def check_viewer_cannot_mutate_links(pair: Pair, configure) -> None:
    """A viewer sees A's source (and its facts), but not A's reports or deliveries."""
    a, b = pair.a, pair.b
    pair.link_b_as_viewer()
    assert a.installation_id in {view.installation_id for view in list_sources(b.user_id)}
    _not_found(lambda: get_report(b.user_id, a.report_id))
    assert retry_delivery(a.report_id, b.user_id) is None
    with session_scope() as session:
        roles = set(session.scalars(sa.select(UserInstallation.role).where(
            UserInstallation.user_id == b.user_id,
            UserInstallation.installation_id == a.installation_id)).all())
    assert roles == {"viewer"}


# Checks: Ask and personal API tokens (docs/API.md) ------------------------------------------------------
def check_ask(pair: Pair, configure) -> None:
    from gitpulse_app.intelligence.ask import ask

    a, b = pair.a, pair.b
    own = ask(a.user_id, a.fact_title, now=NOW)
    assert a.fact_url in own.citations  # control: A's own question finds A's fact
    for question in (a.fact_title, f"What did {a.login} do in {a.repo_full_name}?"):
        answer = ask(b.user_id, question, now=NOW)
        assert a.fact_url not in answer.citations
        assert_no_leak([answer.bullets, [s.as_json() for s in answer.sources]], a)


def check_api_tokens(pair: Pair, configure) -> None:
    from gitpulse_app.experience.auth.api_tokens import (
        TokenError,
        create_token,
        list_tokens,
        resolve_api_token,
        revoke_token,
    )

    a, b = pair.a, pair.b
    made = create_token(a.user_id, "a's laptop", "write")
    assert all(view.id != made.id for view in list_tokens(b.user_id))
    with pytest.raises(TokenError):
        revoke_token(made.id, b.user_id)
    assert resolve_api_token(made.token).user_id == a.user_id


def check_channels(pair: Pair, configure) -> None:
    """Channels (docs/CHANNELS.md): B can neither see, test, remove nor retry A's channel, nor
    point a team channel at A's repository."""
    from gitpulse_app.core.models import ChannelDelivery
    from gitpulse_app.intelligence.delivery.channels import retry_channel_delivery
    from gitpulse_app.intelligence.delivery.channels.service import (
        ChannelError,
        ChannelInput,
        add_channel,
        list_channels,
        remove_channel,
        send_test_message,
    )

    a, b = pair.a, pair.b
    configure(GITPULSE_CHANNELS_ALLOW_PRIVATE="1")
    channel_id = add_channel(a.user_id, ChannelInput(
        kind="slack", url="https://93.184.216.34/services/T/B/a-secret-path")).view.id
    with session_scope() as session:
        delivery = ChannelDelivery(report_id=a.report_id, channel_id=channel_id,
                                   delivery_uuid="00000000-0000-0000-0000-00000000000a",
                                   status="failed", last_error="HTTP 500")
        session.add(delivery)
        session.flush()
        delivery_id = delivery.id
    assert all(view.id not in (channel_id, a.channel_id) for view in list_channels(b.user_id))
    for call in (lambda: send_test_message(channel_id, b.user_id),
                 lambda: remove_channel(channel_id, b.user_id)):
        with pytest.raises(ChannelError, match=f"No channel with id {channel_id}"):
            call()
    assert not retry_channel_delivery(delivery_id, b.user_id, now=NOW)
    with pytest.raises(ChannelError, match="not found"):
        add_channel(b.user_id, ChannelInput(kind="slack", url="https://93.184.216.34/x",
                                            repo=a.repo_full_name))
    (own,) = [view for view in list_channels(a.user_id) if view.id == channel_id]  # untouched
    assert own.id == channel_id and own.retry_delivery_id == delivery_id
    assert "a-secret-path" not in repr(own)
    assert retry_channel_delivery(delivery_id, a.user_id, now=NOW)


CHECKS = {name: fn for name, fn in globals().items() if name.startswith("check_")}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_service_refuses_the_other_user(name, pair, configure):
    CHECKS[name](pair, configure)
