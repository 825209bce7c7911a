"""A user's settings and sources: validate and save the /settings form, confirm a new email
address, add and remove personal-access-token sources, track repositories, replay dead letters.

Nothing here knows about Reflex: pages call these functions and keep the display-ready results.
Every action checks what the user may see first; an object the user cannot see answers
exactly like a missing one. The module is longer than most because /settings, /repos and onboarding
share its source functions (token sources, tracking, replay); it splits cleanly at the
token-source section below.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import functools
import hashlib
import hmac
import json
import re
import zoneinfo
from dataclasses import dataclass, field
from email.message import EmailMessage

import sqlalchemy as sa
from sqlmodel import Session, select

from gitpulse_app.acquisition import access
from gitpulse_app.acquisition.github import AuthError, GitHubClient, GitHubError, StaticTokenSource
from gitpulse_app.acquisition.webhooks.processor import retry_failed
from gitpulse_app.core.config import get_settings
from gitpulse_app.core.crypto import decrypt_token, encrypt_token, token_hint
from gitpulse_app.core.db import session_scope, utcnow
from gitpulse_app.core.models import (
    EVERY_DAY,
    Installation,
    Repo,
    TrackedRepo,
    User,
    UserInstallation,
    WebhookEvent,
)
from gitpulse_app.intelligence.windows import format_work_days, parse_work_days
from gitpulse_app.experience.throttle import SlidingLimit

SAVED_MESSAGE = "Settings saved! Reports will be generated at your local midnight."
WEEK_START_ERROR = "Choose a week start from Monday to Sunday."
EMAIL_ERROR = "Enter a valid email address, such as name@example.com."
EMAIL_NOT_CONFIGURED = "Email is not configured on this server"
OWNER_ONLY = "Only the installation owner can do this"
NOT_FOUND = "Installation not found"
WORK_DAYS_ERROR = "Choose at least one work day."
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
EMAIL_CONFIRM_TTL = dt.timedelta(hours=24)
_WORK_DAYS_RE = re.compile(r"^[1-7]{1,7}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_REPO_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*)/[A-Za-z0-9._-]+$")
_HIDDEN_ZONE_PREFIXES = ("posix/", "right/", "SystemV/")
_HIDDEN_ZONES = frozenset({"Factory", "localtime", "posixrules"})


def timezone_error(value: str) -> str:
    return f'Unknown time zone "{value}". Choose an IANA zone such as "America/Chicago".'


@functools.cache
def all_time_zones() -> tuple[str, ...]:
    """Every IANA zone name the picker offers, sorted."""
    return tuple(sorted(
        name for name in zoneinfo.available_timezones()
        if name not in _HIDDEN_ZONES and not name.startswith(_HIDDEN_ZONE_PREFIXES)
    ))


def is_valid_zone(value: str) -> bool:
    """Whether `value` names an IANA zone `zoneinfo` can load (never coerced)."""
    if not value or value != value.strip():
        return False
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def week_start_label(day: int) -> str:
    return WEEKDAYS[day] if 0 <= day <= 6 else WEEKDAYS[0]


def is_operator(user: User) -> bool:
    """Instance operators: `GITPULSE_ADMINS` logins; in demo mode also the demo user unless the
    base URL is https."""
    settings = get_settings()
    if user.gh_login and user.gh_login.lower() in settings.admins:
        return True
    return bool(user.is_demo and settings.demo_enabled and not settings.is_https)


# The settings form --------------------------------------------------------------------------------
@dataclass(frozen=True)
class SettingsForm:
    """What the /settings form submits."""

    timezone: str
    daily_enabled: bool
    weekly_enabled: bool
    email_enabled: bool
    email: str
    week_start_day: int
    work_days: str = EVERY_DAY


@dataclass(frozen=True)
class PatSource:
    """A personal-access-token source as /settings lists it (never the token itself)."""

    installation_id: int
    account_login: str
    token_hint: str
    repos: list[str]
    is_owner: bool
    readable: bool


@dataclass(frozen=True)
class SettingsView:
    """Everything /settings shows, display-ready."""

    login: str
    connected: bool
    token_expired: bool
    oauth_configured: bool
    timezone: str | None
    zone_unresolvable: bool
    daily_enabled: bool
    weekly_enabled: bool
    email_enabled: bool
    email: str
    week_start_day: int
    email_configured: bool
    is_demo: bool
    work_days: str = EVERY_DAY
    pat_sources: list[PatSource] = field(default_factory=list)


def _pat_sources(session: Session, user_id: int) -> list[PatSource]:
    sources = []
    for installation in access.visible_installations(session, user_id):
        if installation.kind != "pat" or installation.id is None:
            continue
        role = session.scalar(select(UserInstallation.role).where(
            UserInstallation.user_id == user_id,
            UserInstallation.installation_id == installation.id))
        sources.append(PatSource(
            installation_id=installation.id,
            account_login=installation.account_login or "",
            token_hint=installation.token_hint or "",
            repos=access.tracked_repos_of_user(session, user_id, installation),
            is_owner=role == "owner",
            readable=decrypt_token(installation.token_enc) is not None,
        ))
    return sources


def load_settings(user_id: int, now: dt.datetime | None = None) -> SettingsView | None:
    """The signed-in user's settings; None when the user no longer exists."""
    now = now or utcnow()
    settings = get_settings()
    with session_scope() as session:
        user = session.get(User, user_id)
        if user is None:
            return None
        has_token = decrypt_token(user.oauth_access_token_enc) is not None
        expired = bool(
            user.oauth_access_token_enc and (
                not has_token
                or (user.oauth_token_expires_at is not None
                    and user.oauth_token_expires_at <= now
                    and decrypt_token(user.oauth_refresh_token_enc) is None)
            )
        )
        return SettingsView(
            login=user.gh_login or user.display_name or "",
            connected=user.gh_id is not None or user.is_demo,
            token_expired=expired,
            oauth_configured=settings.oauth_configured,
            timezone=user.timezone,
            zone_unresolvable=bool(user.timezone) and not is_valid_zone(user.timezone or ""),
            daily_enabled=user.daily_reports_enabled,
            weekly_enabled=user.weekly_reports_enabled,
            email_enabled=user.email_reports_enabled,
            email=user.email or "",
            week_start_day=user.week_start_day,
            email_configured=settings.email_enabled,
            is_demo=user.is_demo,
            work_days=user.work_days,
            pat_sources=_pat_sources(session, user_id),
        )


def validate_settings(form: SettingsForm) -> dict[str, str]:
    """Field name → error sentence; empty when the form may be saved."""
    errors: dict[str, str] = {}
    if not is_valid_zone(form.timezone):
        errors["timezone"] = timezone_error(form.timezone)
    if not isinstance(form.week_start_day, int) or not 0 <= form.week_start_day <= 6:
        errors["week_start_day"] = WEEK_START_ERROR
    if not isinstance(form.work_days, str) or not _WORK_DAYS_RE.match(form.work_days):
        errors["work_days"] = WORK_DAYS_ERROR
    address = form.email.strip()
    if address and not _EMAIL_RE.match(address):
        errors["email"] = EMAIL_ERROR
    return errors


@dataclass(frozen=True)
class SaveResult:
    """The outcome of a save: field errors (nothing saved), or the saved message."""

    errors: dict[str, str] = field(default_factory=dict)
    message: str = ""
    confirm_email_to: str | None = None
    notice: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors


def save_settings(user_id: int, form: SettingsForm, now: dt.datetime | None = None) -> SaveResult:
    """Validate and save the form; a changed email address waits for confirmation.

    Turning the daily or weekly toggle on records `daily_enabled_at` / `weekly_enabled_at`, the
    scheduler's catch-up horizon (docs/SCHEDULING.md). With any field error nothing is saved.

    Returns:
        The result; `confirm_email_to` names a new address that must be confirmed before use.
    """
    now = now or utcnow()
    errors = validate_settings(form)
    if errors:
        return SaveResult(errors=errors)
    settings = get_settings()
    address = form.email.strip()
    with session_scope() as session:
        user = session.get(User, user_id)
        if user is None:
            return SaveResult(errors={"form": "Your session has ended. Sign in again."})
        # A new zone moves every window: catch-up starts afresh so the scheduler does not write
        # (and email) a week of past reports in the new zone.
        zone_changed = user.timezone is not None and user.timezone != form.timezone
        # New work days apply from the next window on: no daily of a past window is written
        # under the new week (docs/SCHEDULING.md).
        work_days = format_work_days({int(day) for day in form.work_days})
        days_changed = work_days != format_work_days(parse_work_days(user.work_days))
        if form.daily_enabled and (zone_changed or days_changed
                                   or not user.daily_reports_enabled):
            user.daily_enabled_at = now
        if form.weekly_enabled and (zone_changed or not user.weekly_reports_enabled):
            user.weekly_enabled_at = now
        user.timezone = form.timezone
        user.daily_reports_enabled = form.daily_enabled
        user.weekly_reports_enabled = form.weekly_enabled
        user.week_start_day = form.week_start_day
        user.work_days = work_days
        confirm_to = None
        if settings.email_enabled:
            user.email_reports_enabled = form.email_enabled
            current = (user.email or "").strip()
            if not address:
                user.email = None
            elif address.lower() != current.lower():
                confirm_to = address
        session.add(user)
    if confirm_to is None:
        return SaveResult(message=SAVED_MESSAGE)
    from gitpulse_app.intelligence.delivery.smtp import (
        SMTPConfigError,
        SMTPDeliveryError,
        SMTPOutcomeUnknown,
    )

    if not CONFIRMATION_MAILS.allow(str(user_id), now):
        return SaveResult(message=SAVED_MESSAGE, notice=CONFIRMATIONS_THROTTLED)
    try:
        send_email_confirmation(user_id, confirm_to, now)
    except (SMTPConfigError, SMTPDeliveryError, SMTPOutcomeUnknown) as exc:
        return SaveResult(message=SAVED_MESSAGE,
                          notice=f"Could not send the confirmation email: {exc}")
    return SaveResult(message=SAVED_MESSAGE, confirm_email_to=confirm_to,
                      notice=f"Check {confirm_to} for a link to confirm the new address.")


# Email confirmation --------------------------------------------------------------------------------
# At most 3 confirmation mails per user an hour: the form cannot be used to flood an inbox.
CONFIRMATION_MAILS = SlidingLimit("confirm-mail", 3, dt.timedelta(hours=1))
CONFIRMATIONS_THROTTLED = ("Too many confirmation emails were sent in the last hour. "
                           "Try again later.")


def _email_key() -> bytes:
    return hashlib.sha256(
        ("gitpulse-email-confirm:" + get_settings().secret_key).encode("utf-8")).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def email_confirmation_token(user_id: int, address: str, now: dt.datetime) -> str:
    """A token binding user and address, signed with the instance secret, valid for 24 h."""
    expires = int((now + EMAIL_CONFIRM_TTL).timestamp())
    payload = _b64(json.dumps({"u": user_id, "a": address, "e": expires},
                              separators=(",", ":")).encode("utf-8"))
    signature = _b64(hmac.new(_email_key(), payload.encode("ascii"), hashlib.sha256).digest())
    return f"{payload}.{signature}"


def send_email_confirmation(user_id: int, address: str, now: dt.datetime) -> None:
    """Mail the confirmation link for `address` (the address changes only once it is opened)."""
    from gitpulse_app.intelligence.delivery.smtp import send_message

    settings = get_settings()
    link = (f"{settings.base_url}/settings?confirm_email="
            f"{email_confirmation_token(user_id, address, now)}")
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = address
    message["Subject"] = "Confirm your GitPulse email address"
    message.set_content(
        "Open this link within 24 hours to receive your GitPulse reports at this address:\n\n"
        f"{link}\n\nIf you did not ask for this, ignore this message.\n"
    )
    send_message(message, settings.smtp_url or "")


def confirm_email(user_id: int, token: str, now: dt.datetime | None = None) -> str | None:
    """Apply a confirmed address; returns it, or None for a forged, foreign or expired token."""
    now = now or utcnow()
    payload, _, signature = token.partition(".")
    expected = _b64(hmac.new(_email_key(), payload.encode("ascii"), hashlib.sha256).digest())
    if not payload or not hmac.compare_digest(signature, expected):
        return None
    try:
        data = json.loads(_unb64(payload))
    except ValueError:
        return None
    if data.get("u") != user_id or int(data.get("e", 0)) < now.timestamp():
        return None
    address = str(data.get("a") or "")
    with session_scope() as session:
        user = session.get(User, user_id)
        if user is None or not _EMAIL_RE.match(address):
            return None
        user.email = address
        session.add(user)
    return address


# Personal-access-token sources ---------------------------------------------------------------------
@dataclass(frozen=True)
class SourceResult:
    """The outcome of a source action: a sentence, and the source it concerned."""

    ok: bool
    message: str
    installation_id: int | None = None
    status: int = 200


def parse_repo_list(text: str, github_url: str | None = None) -> list[str]:
    """`owner/name` entries separated by commas, spaces or new lines (duplicates dropped).

    A pasted repository URL loses the prefix of the configured GitHub web URL (`GITHUB_URL`, so
    GitHub Enterprise Server URLs too), compared without regard to case.
    """
    prefix = (github_url or get_settings().github_url).rstrip("/") + "/"
    seen: dict[str, str] = {}
    for entry in re.split(r"[\s,]+", text.strip()):
        cleaned = entry.strip()
        if cleaned.lower().startswith(prefix.lower()):
            cleaned = cleaned[len(prefix):]
        cleaned = cleaned.strip("/")
        if cleaned:
            seen.setdefault(cleaned.lower(), cleaned)
    return list(seen.values())


async def check_pat(token: str, repos: list[str], *, base_url: str | None = None
                    ) -> tuple[str, dict[str, int]]:
    """Ask GitHub whose token this is and whether it can read each repository.

    Returns:
        The token's login and the repositories' canonical full names, each with the GitHub id
        GitHub confirmed for it (what visibility follows).

    Raises:
        ValueError: A sentence saying what is wrong (token refused, repository not readable).
    """
    async with GitHubClient(StaticTokenSource(token), base_url=base_url,
                            keep_in_reserve=0) as client:
        try:
            login = str((await client.get_user()).get("login") or "")
        except AuthError:
            raise ValueError("GitHub rejected this token. Check it and try again.") from None
        except GitHubError:
            raise ValueError("Could not check the token with GitHub. Please try again.") from None
        names: dict[str, int] = {}
        for repo in repos:
            try:
                data = (await client.get_json(f"/repos/{repo}")).data
            except AuthError:
                raise ValueError("GitHub rejected this token. Check it and try again.") from None
            except GitHubError as exc:
                if exc.status in (403, 404):
                    raise ValueError(
                        f"Repository {repo} was not found, or this token cannot read it."
                    ) from None
                raise ValueError("Could not check the token with GitHub. Please try again.") \
                    from None
            gh_id = data.get("id")
            if isinstance(gh_id, bool) or not isinstance(gh_id, int):
                raise ValueError("Could not check the token with GitHub. Please try again.")
            names[str(data.get("full_name") or repo)] = gh_id
    if not login:
        raise ValueError("GitHub did not say whose token this is. Check it and try again.")
    return login, names


async def add_pat_source(user_id: int, token: str, repos_text: str,
                         now: dt.datetime | None = None) -> SourceResult:
    """Check a personal access token against GitHub (`GET /user` at `GITHUB_API_URL`, then each
    repository) and store it encrypted as a PAT source tracking those repositories.

    A second token for the same GitHub account replaces the first and adds its repositories.
    """
    token = token.strip()
    repos = parse_repo_list(repos_text)
    if not token:
        return SourceResult(False, "Paste a personal access token.", status=400)
    if not repos:
        return SourceResult(False, "Name at least one repository as owner/name.", status=400)
    bad = [repo for repo in repos if not _REPO_RE.match(repo)]
    if bad:
        return SourceResult(False, f"{bad[0]} is not a repository name (owner/name).", status=400)
    try:
        login, names = await check_pat(token, repos)
    except ValueError as exc:
        return SourceResult(False, str(exc), status=400)
    return await asyncio.to_thread(_store_pat, user_id, token, login, names, now or utcnow())


def _store_pat(user_id: int, token: str, login: str, names: dict[str, int], now: dt.datetime
               ) -> SourceResult:
    with session_scope() as session:
        existing = next((
            source for source in access.visible_installations(session, user_id)
            if source.kind == "pat" and (source.account_login or "").lower() == login.lower()
            and source.created_by_user_id == user_id
        ), None)
        source = existing or Installation(kind="pat", account_login=login, account_type="User",
                                          created_by_user_id=user_id, status="active")
        access.add_listed(source, names)
        source.token_enc = encrypt_token(token)
        source.token_hint = token_hint(token)
        session.add(source)
        session.flush()
        assert source.id is not None
        if existing is None:
            session.add(UserInstallation(user_id=user_id, installation_id=source.id,
                                         role="owner", claimed_at=now))
        for name, gh_id in names.items():
            access.set_choice(session, user_id, source.id, name, True, gh_id)
        return SourceResult(True, f"Token source for @{login} added with {len(names)} "
                            f"repositor{'y' if len(names) == 1 else 'ies'}.", source.id)


def _role(session: Session, user_id: int, installation_id: int) -> str | None:
    if not access.can_see_installation(session, user_id, installation_id):
        return None
    return session.scalar(select(UserInstallation.role).where(
        UserInstallation.user_id == user_id, UserInstallation.installation_id == installation_id))


def remove_pat_source(user_id: int, installation_id: int) -> SourceResult:
    """Remove a token source: owners only; its facts stay, its token is forgotten."""
    with session_scope() as session:
        role = _role(session, user_id, installation_id)
        source = session.get(Installation, installation_id)
        if role is None or source is None or source.kind != "pat":
            return SourceResult(False, NOT_FOUND, status=404)
        if role != "owner":
            return SourceResult(False, OWNER_ONLY, status=403)
        source.status = "deleted"
        source.token_enc = None
        session.add(source)
        return SourceResult(True, f"Token source @{source.account_login} removed.",
                            installation_id)


# Repositories of a source -------------------------------------------------------------------------
def set_tracked(user_id: int, installation_id: int, full_name: str, tracked: bool
                ) -> SourceResult:
    """Track or untrack one repository of a visible source for this user (by its GitHub id
    when the repository is stored)."""
    with session_scope() as session:
        source = session.get(Installation, installation_id)
        if source is None or _role(session, user_id, installation_id) is None:
            return SourceResult(False, NOT_FOUND, status=404)
        stored = access.source_repos(session, source)
        names = {name.lower(): name for name in
                 [*(repo.full_name for repo in stored), *source.repositories]}
        name = names.get(full_name.lower())
        if name is None:
            return SourceResult(False, "Repository not found", status=404)
        gh_id = next((repo.gh_id for repo in stored if repo.full_name.lower() == name.lower()),
                     None)
        access.set_choice(session, user_id, installation_id, name, tracked, gh_id)
        verb = "Tracking" if tracked else "Stopped tracking"
        return SourceResult(True, f"{verb} {name}", installation_id)


def retry_failed_deliveries(user_id: int, installation_id: int) -> SourceResult:
    """Replay a source's dead-lettered webhook deliveries: owners (and operators) only."""
    with session_scope() as session:
        role = _role(session, user_id, installation_id)
        source = session.get(Installation, installation_id)
        user = session.get(User, user_id)
        if role is None or source is None or user is None:
            return SourceResult(False, NOT_FOUND, status=404)
        if role != "owner" and not is_operator(user):
            return SourceResult(False, OWNER_ONLY, status=403)
        gh_id = source.gh_installation_id
    if gh_id is None:
        return SourceResult(True, "No failed deliveries to retry.", installation_id)
    count = retry_failed([gh_id])
    return SourceResult(True, f"Retrying {count} failed deliver{'y' if count == 1 else 'ies'}.",
                        installation_id)


@dataclass(frozen=True)
class SourceRepo:
    """One repository row of a source card."""

    full_name: str
    tracked: bool
    language: str | None
    is_private: bool
    html_url: str
    stored: bool


@dataclass(frozen=True)
class SourceView:
    """A source card of /repos (its sync status comes from the sync status view)."""

    installation_id: int
    account_login: str
    kind: str
    status: str
    role: str
    last_synced_at: dt.datetime | None
    failed_deliveries: int
    repos: list[SourceRepo]
    can_retry_deliveries: bool = False  # what `retry_failed_deliveries` allows: owner or operator


def list_sources(user_id: int) -> list[SourceView]:
    """The user's visible sources with their repositories and tracking choices."""
    github_url = get_settings().github_url
    with session_scope() as session:
        installations = access.visible_installations(session, user_id)
        views = []
        viewer = session.get(User, user_id)
        operator = viewer is not None and is_operator(viewer)
        for source in installations:
            assert source.id is not None
            tracked = {name.lower()
                       for name in access.tracked_repos_of_user(session, user_id, source)}
            failed = 0
            if source.gh_installation_id is not None:
                failed = int(session.scalar(sa.select(sa.func.count()).select_from(WebhookEvent)
                    .where(WebhookEvent.installation_gh_id == source.gh_installation_id,
                           WebhookEvent.status == "failed")) or 0)
            # Stored rows by GitHub id only: a listed name held by another repository shows as
            # not stored yet, never with that repository's details.
            repos = {repo.full_name.lower(): repo for repo in access.source_repos(session, source)}
            shown = access.repo_ids_of_user(session, user_id, source)
            listed = {name.lower(): name for name in source.repositories}
            rows = []
            for key, name in {**listed, **{k: r.full_name for k, r in repos.items()
                                           if k not in listed}}.items():
                repo = repos.get(key)
                rows.append(SourceRepo(
                    full_name=repo.full_name if repo else name,
                    tracked=repo.id in shown if repo else key in tracked,
                    language=repo.language if repo else None,
                    is_private=bool(repo.is_private) if repo else False,
                    html_url=(repo.html_url if repo and repo.html_url
                              else f"{github_url}/{name}"),
                    stored=repo is not None,
                ))
            role = _role(session, user_id, source.id) or "viewer"
            views.append(SourceView(
                installation_id=source.id, account_login=source.account_login or "",
                kind=source.kind, status=source.status, role=role,
                last_synced_at=source.last_synced_at, failed_deliveries=failed, repos=rows,
                can_retry_deliveries=role == "owner" or operator,
            ))
        return views
