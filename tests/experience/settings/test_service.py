import asyncio
import datetime as dt
import os
import re

import pytest
import redis
from sqlmodel import select

from gitpulse_app.core.crypto import decrypt_token, encrypt_token
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import (
    Installation,
    TrackedRepo,
    User,
    UserInstallation,
)
from gitpulse_app.experience.auth.operators import is_operator
from gitpulse_app.experience.settings.service import (
    CONFIRMATION_MAILS,
    CONFIRMATIONS_THROTTLED,
    SAVED_MESSAGE,
    SettingsForm,
    confirm_email,
    email_confirmation_token,
    save_settings,
    timezone_error,
    validate_settings,
)
from gitpulse_app.experience.settings.views import load_settings
from gitpulse_app.intelligence.windows import all_time_zones
from gitpulse_app.experience.sources.service import (
    OWNER_ONLY,
    add_pat_source,
    remove_pat_source,
    retry_failed_deliveries,
    set_tracked,
)
from gitpulse_app.experience.sources.views import list_sources
from tests.support import rows
from tests.support.rows import stored_id

NOW = dt.datetime(2025, 12, 5, 15, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
TOKEN = "ghp_0123456789abcdefghijklmnopqrstuvwxyzWXYZ"


def make_user(**fields) -> int:
    return stored_id(rows.make_user, **fields)


def get_user(user_id: int) -> User:
    with session_scope() as session:
        return session.get(User, user_id)


def form(**overrides) -> SettingsForm:
    values = dict(timezone="America/Chicago", daily_enabled=True, weekly_enabled=True,
                  email_enabled=True, email="", week_start_day=0)
    values.update(overrides)
    return SettingsForm(**values)


def make_source(owner_id: int, *, kind: str = "app", role: str = "owner",
                repos: tuple[str, ...] = ("acme/api", "acme/web"), **fields) -> int:
    if kind != "app":
        fields.setdefault("gh_installation_id", None)
    return stored_id(rows.make_app_source, owner_id, kind=kind, role=role,
                     repositories=list(repos), **fields)


def test_an_unknown_zone_is_rejected_with_the_exact_message_and_nothing_is_saved(engine):
    user_id = make_user(timezone="Europe/Paris")
    result = save_settings(user_id, form(timezone="Mars/Olympus", week_start_day=3), NOW)
    assert not result.ok
    assert result.errors == {"timezone": 'Unknown time zone "Mars/Olympus". Choose an IANA zone '
                                         'such as "America/Chicago".'}
    user = get_user(user_id)
    assert (user.timezone, user.week_start_day) == ("Europe/Paris", 0)


@pytest.mark.parametrize(("changes", "field"), [
    ({"week_start_day": 7}, "week_start_day"), ({"week_start_day": -1}, "week_start_day"),
    ({"email": "not-an-address"}, "email"), ({"email": "a@b"}, "email"),
    ({"timezone": ""}, "timezone"), ({"timezone": " UTC"}, "timezone"),
    ({"work_days": ""}, "work_days"), ({"work_days": "08"}, "work_days"),
    ({"work_days": "12345678"}, "work_days"),
])
def test_every_field_is_validated(changes, field):
    assert set(validate_settings(form(**changes))) == {field}


def test_a_valid_form_is_saved_and_turning_a_report_on_records_when(engine):
    user_id = make_user(daily_reports_enabled=False, weekly_reports_enabled=True)
    result = save_settings(user_id, form(timezone="Asia/Kolkata", week_start_day=6), NOW)
    assert result.ok and result.message == SAVED_MESSAGE
    user = get_user(user_id)
    assert (user.timezone, user.week_start_day) == ("Asia/Kolkata", 6)
    assert user.daily_reports_enabled and user.daily_enabled_at == NOW
    assert user.weekly_enabled_at is None  # it was already on

    later = NOW + dt.timedelta(days=1)
    save_settings(user_id, form(daily_enabled=False, weekly_enabled=False), later)
    save_settings(user_id, form(daily_enabled=True, weekly_enabled=True), later)
    user = get_user(user_id)
    assert (user.daily_enabled_at, user.weekly_enabled_at) == (later, later)


def test_without_smtp_the_email_fields_are_left_alone(engine):
    user_id = make_user(email="old@example.com", email_reports_enabled=True)
    result = save_settings(user_id, form(email="new@example.com", email_enabled=False), NOW)
    assert result.ok and result.confirm_email_to is None
    user = get_user(user_id)
    assert (user.email, user.email_reports_enabled) == ("old@example.com", True)
    assert load_settings(user_id).email_configured is False


def test_a_new_address_takes_effect_only_once_confirmed(engine, configure, fake_smtp):
    configure(SMTP_URL=fake_smtp.smtp_url(), GITPULSE_BASE_URL="https://pulse.example")
    user_id = make_user(email="old@example.com")
    result = save_settings(user_id, form(email="new@example.com", email_enabled=False), NOW)
    assert result.ok and result.confirm_email_to == "new@example.com"
    user = get_user(user_id)
    assert (user.email, user.email_reports_enabled) == ("old@example.com", False)
    [message] = fake_smtp.wait_for_messages(1)
    assert message.rcpt_tos == ["new@example.com"]
    token = re.search(r"/settings\?confirm_email=(\S+)", message.text).group(1)
    assert message.text.count("https://pulse.example/settings?confirm_email=") == 1

    assert confirm_email(make_user(), token, NOW) is None  # someone else's link
    assert confirm_email(user_id, token, NOW + dt.timedelta(hours=25)) is None  # expired
    assert confirm_email(user_id, token[:-2] + "xx", NOW) is None  # forged
    assert confirm_email(user_id, token, NOW + dt.timedelta(hours=1)) == "new@example.com"
    assert get_user(user_id).email == "new@example.com"


def test_clearing_the_address_needs_no_confirmation(engine, configure, fake_smtp):
    configure(SMTP_URL=fake_smtp.smtp_url())
    user_id = make_user(email="old@example.com")
    assert save_settings(user_id, form(email=""), NOW).confirm_email_to is None
    assert get_user(user_id).email is None


def test_confirmation_tokens_are_bound_to_the_address(engine):
    token = email_confirmation_token(1, "a@example.com", NOW)
    payload, signature = token.split(".")
    other = email_confirmation_token(1, "b@example.com", NOW)
    assert other.split(".")[1] != signature


def test_the_picker_lists_iana_zones_only():
    zones = all_time_zones()
    assert "America/Chicago" in zones and "Asia/Kathmandu" in zones and "UTC" in zones
    assert not any(zone.startswith(("posix/", "right/")) for zone in zones)
    assert timezone_error("X") == 'Unknown time zone "X". Choose an IANA zone such as ' \
                                  '"America/Chicago".'


def test_settings_view_flags_an_unreadable_token_and_a_zone_that_stopped_resolving(engine):
    user_id = make_user(oauth_access_token_enc="garbage", timezone="Nowhere/Gone")
    view = load_settings(user_id)
    assert view.token_expired and view.zone_unresolvable
    fine = make_user(oauth_access_token_enc=encrypt_token("gho_x"),
                     oauth_token_expires_at=NOW + dt.timedelta(days=999))
    assert not load_settings(fine).token_expired


# Token sources --------------------------------------------------------------------------------------
@pytest.fixture
def github(configure, fake_github):
    configure(GITHUB_API_URL=fake_github.url)
    fake_github.add_json("/user", {"login": "alice", "id": 1})
    fake_github.add_json("/repos/acme/api", {"full_name": "acme/api", "id": 11})
    fake_github.add_json("/repos/acme/web", {"full_name": "acme/Web", "id": 12})
    fake_github.add_json("/repos/acme/nope", {"message": "Not Found"}, status=404)
    return fake_github


def test_a_checked_token_is_stored_encrypted_as_a_source_tracking_its_repos(engine, github):
    user_id = make_user(gh_login="alice")
    result = asyncio.run(add_pat_source(user_id, f" {TOKEN} ", "acme/api,\nacme/web acme/api"))
    assert result.ok and result.message == "Token source for @alice added with 2 repositories."
    assert [r.headers["authorization"] for r in github.requests][0] == f"Bearer {TOKEN}"
    with session_scope() as session:
        source = session.get(Installation, result.installation_id)
        assert (source.kind, source.account_login, source.token_hint) == ("pat", "alice", "…WXYZ")
        assert source.token_enc != TOKEN and decrypt_token(source.token_enc) == TOKEN
        assert source.repositories == ["acme/api", "acme/Web"]
        link = session.exec(select(UserInstallation).where(
            UserInstallation.installation_id == source.id)).one()
        tracked = session.exec(select(TrackedRepo).where(
            TrackedRepo.installation_id == source.id)).all()
    assert (link.user_id, link.role) == (user_id, "owner")
    assert sorted((t.repo_full_name, t.tracked) for t in tracked) == [("acme/Web", True),
                                                                      ("acme/api", True)]
    [view] = load_settings(user_id).pat_sources
    assert (view.token_hint, view.repos, view.is_owner) == ("…WXYZ", ["acme/api", "acme/Web"], True)
    assert TOKEN not in repr(view)


def test_a_second_token_for_the_same_account_replaces_the_first(engine, github):
    user_id = make_user(gh_login="alice")
    first = asyncio.run(add_pat_source(user_id, TOKEN, "acme/api"))
    second = asyncio.run(add_pat_source(user_id, TOKEN[:-4] + "abcd", "acme/web"))
    assert first.installation_id == second.installation_id
    [view] = load_settings(user_id).pat_sources
    assert (view.token_hint, view.repos) == ("…abcd", ["acme/api", "acme/Web"])


@pytest.mark.parametrize(("token", "repos", "message"), [
    ("", "acme/api", "Paste a personal access token."),
    (TOKEN, " ", "Name at least one repository as owner/name."),
    (TOKEN, "not a repo/", "not is not a repository name (owner/name)."),
    (TOKEN, "acme/nope", "Repository acme/nope was not found, or this token cannot read it."),
])
def test_a_token_source_is_refused_with_a_sentence(engine, github, token, repos, message):
    result = asyncio.run(add_pat_source(make_user(), token, repos))
    assert (result.ok, result.message) == (False, message)
    with session_scope() as session:
        assert session.exec(select(Installation)).all() == []


def test_a_token_github_rejects_is_not_stored(engine, configure, fake_github):
    configure(GITHUB_API_URL=fake_github.url)
    fake_github.add_json("/user", {"message": "Bad credentials"}, status=401)
    result = asyncio.run(add_pat_source(make_user(), TOKEN, "acme/api"))
    assert result.message == "GitHub rejected this token. Check it and try again."


def test_only_the_owner_removes_a_token_source_and_its_token_is_forgotten(engine):
    owner, viewer, stranger = make_user(), make_user(), make_user()
    source_id = make_source(owner, kind="pat", token_enc=encrypt_token(TOKEN))
    with session_scope() as session:
        session.add(UserInstallation(user_id=viewer, installation_id=source_id, role="viewer"))
    assert remove_pat_source(stranger, source_id).status == 404
    assert (remove_pat_source(viewer, source_id).status,
            remove_pat_source(viewer, source_id).message) == (403, OWNER_ONLY)
    assert remove_pat_source(owner, source_id).ok
    with session_scope() as session:
        source = session.get(Installation, source_id)
        assert (source.status, source.token_enc) == ("deleted", None)
    assert load_settings(owner).pat_sources == []


def test_tracking_toggles_one_visible_repository(engine):
    owner, stranger = make_user(), make_user()
    source_id = make_source(owner)
    assert set_tracked(owner, source_id, "ACME/web", False).ok
    [view] = list_sources(owner)
    assert [(r.full_name, r.tracked) for r in view.repos] == [("acme/api", True),
                                                              ("acme/web", False)]
    assert set_tracked(owner, source_id, "acme/web", True).ok
    assert all(r.tracked for r in list_sources(owner)[0].repos)
    assert set_tracked(stranger, source_id, "acme/web", False).status == 404
    assert set_tracked(owner, source_id, "acme/other", False).status == 404


def test_failed_deliveries_are_replayed_by_owners_and_operators_only(engine, configure):
    owner, viewer = make_user(), make_user(gh_login="opsperson")
    source_id = make_source(owner, gh_installation_id=777)
    with session_scope() as session:
        session.add(UserInstallation(user_id=viewer, installation_id=source_id, role="viewer"))
        for _ in range(2):
            rows.make_dead_envelope(session, installation_gh_id=777, commit=False)
    assert list_sources(owner)[0].failed_deliveries == 2
    assert retry_failed_deliveries(viewer, source_id).status == 403
    configure(GITPULSE_ADMINS=" OpsPerson , other")
    result = retry_failed_deliveries(viewer, source_id)
    assert (result.ok, result.message) == (True, "Retrying 2 failed deliveries.")
    assert list_sources(owner)[0].failed_deliveries == 0


def test_operators_are_admins_and_the_local_demo_user(configure):
    assert not is_operator(User(gh_login="alice"))
    configure(GITPULSE_ADMINS="Alice")
    assert is_operator(User(gh_login="alice"))
    configure(GITPULSE_DEMO="1")
    assert is_operator(User(gh_login="demo", is_demo=True))
    configure(GITPULSE_BASE_URL="https://pulse.example")
    assert not is_operator(User(gh_login="demo", is_demo=True))


def test_changing_the_time_zone_restarts_the_catch_up_horizon(session):
    import datetime as dt

    from gitpulse_app.core.models import User
    from gitpulse_app.experience.settings.service import SettingsForm, save_settings

    earlier = dt.datetime(2025, 11, 1, tzinfo=dt.UTC)
    user = User(gh_id=77, gh_login="zoe", timezone="UTC", daily_enabled_at=earlier,
                weekly_enabled_at=earlier)
    session.add(user)
    session.commit()
    now = dt.datetime(2025, 12, 5, 15, tzinfo=dt.UTC)
    form = SettingsForm(timezone="Asia/Tokyo", daily_enabled=True, weekly_enabled=True,
                        email_enabled=True, week_start_day=0, email="")
    assert not save_settings(user.id, form, now=now).errors
    session.expire_all()
    stored = session.get(User, user.id)
    assert stored.timezone == "Asia/Tokyo"
    assert stored.daily_enabled_at == now and stored.weekly_enabled_at == now


def test_work_days_are_saved_at_least_one_is_required_and_a_change_moves_the_daily_horizon(engine):
    user_id = make_user(timezone="America/Chicago")
    assert get_user(user_id).work_days == "1234567"  # the column default

    refused = save_settings(user_id, form(work_days=""), NOW)
    assert refused.errors == {"work_days": "Choose at least one work day."}
    assert get_user(user_id).work_days == "1234567"

    assert save_settings(user_id, form(work_days="51234"), NOW).ok
    user = get_user(user_id)
    assert user.work_days == "12345" and user.daily_enabled_at == NOW

    later = NOW + dt.timedelta(days=2)
    assert save_settings(user_id, form(work_days="12345"), later).ok
    assert get_user(user_id).daily_enabled_at == NOW  # unchanged days keep the horizon
    assert load_settings(user_id).work_days == "12345"


# At most 3 confirmation mails per user an hour ------------------------------------------------------
def _ask_for_addresses(user_id: int, start: dt.datetime, count: int) -> list[str | None]:
    return [save_settings(user_id, form(email=f"try{n}@example.com"),
                          start + dt.timedelta(minutes=n)).confirm_email_to
            for n in range(count)]


def test_a_fourth_confirmation_mail_within_the_hour_is_not_sent(engine, configure, fake_smtp):
    configure(SMTP_URL=fake_smtp.smtp_url())
    user_id, other = make_user(email="old@example.com"), make_user(email="x@example.com")
    sent = _ask_for_addresses(user_id, NOW, 4)
    assert sent[:3] == ["try0@example.com", "try1@example.com", "try2@example.com"]
    assert sent[3] is None
    throttled = save_settings(user_id, form(email="again@example.com"), NOW + MINUTE * 10)
    assert throttled.ok and throttled.message == SAVED_MESSAGE
    assert throttled.notice == CONFIRMATIONS_THROTTLED
    assert len(fake_smtp.wait_for_messages(3)) == 3
    assert _ask_for_addresses(other, NOW, 1) == ["try0@example.com"]  # per user
    # An hour after the first mail, one more may go.
    assert _ask_for_addresses(user_id, NOW + dt.timedelta(minutes=60, seconds=1), 1) == [
        "try0@example.com"]
    assert len(fake_smtp.wait_for_messages(5)) == 5
    assert get_user(user_id).email == "old@example.com"


@pytest.mark.redis
def test_the_confirmation_limit_is_shared_through_redis(engine, configure, fake_smtp):
    url = os.environ.get("GITPULSE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    configure(SMTP_URL=fake_smtp.smtp_url(), REDIS_URL=url)
    user_id = make_user(email="old@example.com")
    key = f"gitpulse:throttle:confirm-mail:{user_id}"
    client = redis.Redis.from_url(url)
    client.delete(key)
    try:
        assert _ask_for_addresses(user_id, NOW, 3) == [
            "try0@example.com", "try1@example.com", "try2@example.com"]
        CONFIRMATION_MAILS.clear()  # another worker: nothing counted in its own memory
        assert _ask_for_addresses(user_id, NOW + MINUTE * 5, 1) == [None]
        assert client.zcard(key) == 3
    finally:
        client.delete(key)


def test_pasted_repository_urls_are_cleaned_against_the_configured_github_web_url(
    engine, github, configure
):
    configure(GITHUB_URL="https://GHE.example.com/")  # GitHub Enterprise Server
    user_id = make_user(gh_login="alice")
    result = asyncio.run(add_pat_source(
        user_id, TOKEN, "https://ghe.example.com/acme/api/\nhttps://GHE.example.com/acme/web"))
    assert result.ok, result.message
    assert [r.path for r in github.requests if r.path.startswith("/repos/")] == [
        "/repos/acme/api", "/repos/acme/web"]
    [view] = load_settings(user_id).pat_sources
    assert view.repos == ["acme/api", "acme/Web"]
    # github.com is not this server: its URL is no repository name here.
    refused = asyncio.run(add_pat_source(user_id, TOKEN, "https://github.com/acme/api"))
    assert not refused.ok and "is not a repository name" in refused.message


def test_the_retry_button_is_offered_only_to_whom_the_retry_is_allowed(engine, configure):
    from gitpulse_app.experience.sources.views import source_card

    owner, viewer = make_user(), make_user(gh_login="opsperson")
    source_id = make_source(owner, gh_installation_id=778)
    with session_scope() as session:
        session.add(UserInstallation(user_id=viewer, installation_id=source_id, role="viewer"))
        rows.make_dead_envelope(session, installation_gh_id=778, commit=False)

    def offered(user_id: int) -> bool:
        [view] = list_sources(user_id)
        assert view.failed_deliveries == 1  # everyone who sees the source sees the failures
        return source_card(view, 10).can_retry

    assert offered(owner) and not offered(viewer)
    assert retry_failed_deliveries(viewer, source_id).status == 403
    configure(GITPULSE_ADMINS="opsperson")  # an operator may retry any source's deliveries
    assert offered(viewer)
