"""Channels people configure: add, list, test, remove (docs/CHANNELS.md).

A channel is checked in full before anything is stored: its kind, its URL (https and public
unless `GITPULSE_CHANNELS_ALLOW_PRIVATE=1`, see guard.py; a Discord URL must be a webhook URL),
its scope (`personal`, or `team` over logins that exist or one repository its owner can see) and
the report kinds it receives. The URL and a webhook's secret are stored encrypted; views carry
only the `…/last4` hint. A webhook channel added without a secret gets a generated one, returned
once by `add_channel` and never shown again.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlmodel import Session, select

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.config import get_settings
from gitpulse_app.core.crypto import decrypt_token, encrypt_token
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import ChannelDelivery, DeliveryChannel, User
from gitpulse_app.intelligence.delivery.channels import answers, render, transport
from gitpulse_app.intelligence.delivery.channels.guard import ChannelURLError, check_url
from gitpulse_app.intelligence.delivery.channels.queue import disable_channel
from gitpulse_app.intelligence.reports.models import ReportError
from gitpulse_app.intelligence.reports.plan import resolve_plan
from gitpulse_app.intelligence.windows import Window

KINDS = ("slack", "discord", "webhook")
KIND_LABELS = {"slack": "Slack", "discord": "Discord", "webhook": "Webhook"}
REPORT_KINDS = ("daily", "weekly")
NAME_LIMIT = 80
MIN_SECRET = 16
_DISCORD_PATH = re.compile(r"/api(/v\d+)?/webhooks/\d+/[A-Za-z0-9_\-]+/?")


class ChannelError(ValueError):
    """Bad channel input or an unknown channel; the message is safe to show."""


@dataclass(frozen=True)
class ChannelView:
    """A channel as Settings, the CLI and /ops show it (never the URL or secret)."""

    id: int
    kind: str
    name: str
    scope: str
    scope_text: str
    logins: list[str]
    repo: str | None
    reports: list[str]
    url_hint: str
    status: str
    disabled_reason: str | None
    last_test_result: str | None
    last_delivery: str | None = None
    retry_delivery_id: int | None = None

    def as_json(self) -> dict:
        return {"id": self.id, "kind": self.kind, "name": self.name, "scope": self.scope,
                "logins": self.logins, "repo": self.repo, "reports": self.reports,
                "url": self.url_hint, "status": self.status,
                "disabled_reason": self.disabled_reason,
                "last_test_result": self.last_test_result, "last_delivery": self.last_delivery}


@dataclass(frozen=True)
class AddedChannel:
    view: ChannelView
    generated_secret: str | None = None


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    status: int | None
    message: str
    disabled: bool = False


@dataclass
class ChannelInput:
    """What a person entered (Settings form or CLI flags)."""

    kind: str
    url: str
    name: str = ""
    logins: list[str] = field(default_factory=list)
    repo: str | None = None
    reports: list[str] = field(default_factory=lambda: list(REPORT_KINDS))
    secret: str | None = None


def url_hint(url: str) -> str:
    """`…/` and the URL's last four characters: enough to tell channels apart."""
    return "…/" + url.rstrip("/")[-4:]


def split_list(value: str | Sequence[str] | None) -> list[str]:
    """`"a, b,,c"` → `["a", "b", "c"]` (order kept, duplicates dropped)."""
    items = value.split(",") if isinstance(value, str) else list(value or [])
    return list(dict.fromkeys(item.strip() for item in items if item and item.strip()))


def _check_url(kind: str, url: str) -> str:
    try:
        url = check_url(url, allow_private=get_settings().channels_allow_private)
    except ChannelURLError as exc:
        raise ChannelError(str(exc)) from None
    if kind == "discord" and not _DISCORD_PATH.fullmatch(urlsplit(url).path):
        raise ChannelError("A Discord channel needs a Discord webhook URL "
                           "(…/api/webhooks/ID/TOKEN).")
    return url


def _check_scope(session: Session, owner: User, entered: ChannelInput) -> tuple[str, list, str]:
    logins, repo = split_list(entered.logins), (entered.repo or "").strip() or None
    if logins and repo:
        raise ChannelError("Choose either logins or one repository for a team channel, not both.")
    if not logins and not repo:
        return "personal", [], None
    if repo and "/" not in repo:
        raise ChannelError(f'Repository "{repo}" must be written OWNER/NAME.')
    start = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    try:
        plan = resolve_plan(session, owner.id, "daily", Window(start, start + dt.timedelta(1)),
                            "scheduled", logins or None, repo, None)
    except ReportError as exc:
        raise ChannelError(f"{exc}.") from None
    if not plan.scope.is_team:
        raise ChannelError("A team channel needs other people's logins or a repository; for "
                           "your own reports leave the logins empty (a personal channel).")
    return "team", list(plan.scope.logins), plan.scope.repo


def _check(session: Session, owner: User, entered: ChannelInput
           ) -> tuple[DeliveryChannel, str | None]:
    kind = (entered.kind or "").strip().lower()
    if kind not in KINDS:
        raise ChannelError(f'Unknown channel kind "{entered.kind}". Use slack, discord or '
                           "webhook.")
    url = _check_url(kind, entered.url)
    name = " ".join((entered.name or "").split()) or KIND_LABELS[kind]
    if len(name) > NAME_LIMIT:
        raise ChannelError(f"The channel name is too long (at most {NAME_LIMIT} characters).")
    reports = split_list(entered.reports)
    unknown = [kind_ for kind_ in reports if kind_ not in REPORT_KINDS]
    if unknown or not reports:
        raise ChannelError("Choose which reports the channel receives: daily, weekly or both.")
    scope, logins, repo = _check_scope(session, owner, entered)
    secret = (entered.secret or "").strip() or None
    generated = None
    if kind != "webhook" and secret:
        raise ChannelError("A secret is only used by webhook channels.")
    if kind == "webhook":
        if secret is not None and len(secret) < MIN_SECRET:
            raise ChannelError(f"A webhook secret needs at least {MIN_SECRET} characters.")
        if secret is None:
            secret = generated = secrets.token_urlsafe(32)
    channel = DeliveryChannel(
        user_id=owner.id, kind=kind, name=name, scope=scope, scope_logins=logins,
        scope_repo=repo, report_kinds=[k for k in REPORT_KINDS if k in reports],
        url_enc=encrypt_token(url), url_hint=url_hint(url),
        secret_enc=encrypt_token(secret) if secret else None)
    return channel, generated


def _scope_text(channel: DeliveryChannel) -> str:
    if channel.scope_repo:
        return f"Team report of {channel.scope_repo}"
    if channel.scope == "team":
        return "Team report of " + ", ".join(channel.scope_logins)
    return "My own reports"


def _last_delivery(session: Session, channel_id: int) -> tuple[str | None, int | None]:
    row = session.exec(select(ChannelDelivery).where(ChannelDelivery.channel_id == channel_id)
                       .order_by(ChannelDelivery.updated_at.desc(), ChannelDelivery.id.desc())
                       .limit(1)).first()
    if row is None:
        return None, None
    if row.status == "sent":
        return f"Last report delivered ({row.response_status or 'ok'})", None
    if row.status == "failed":
        return f"Last report failed: {row.last_error or 'unknown error'}", row.id
    if row.status == "skipped":
        return f"Last report skipped: {row.last_error or ''}".rstrip(": "), None
    if row.last_error:
        return f"Last report waiting to retry: {row.last_error}", None
    return "Last report queued", None


def view_of(session: Session, channel: DeliveryChannel) -> ChannelView:
    last, retry_id = _last_delivery(session, channel.id or 0)
    return ChannelView(channel.id or 0, channel.kind, channel.name, channel.scope,
                       _scope_text(channel), list(channel.scope_logins), channel.scope_repo,
                       list(channel.report_kinds), channel.url_hint, channel.status,
                       channel.disabled_reason, channel.last_test_result, last, retry_id)


def _owner(session: Session, user_id: int) -> User:
    owner = session.get(User, user_id)
    if owner is None:
        raise ChannelError(f"No user with id {user_id}")
    return owner


def add_channel(user_id: int, entered: ChannelInput, *, now: dt.datetime | None = None
                ) -> AddedChannel:
    """Check and store a channel of `user_id`; `ChannelError` (nothing stored) when bad."""
    now = now or utcnow()
    with session_scope() as session:
        channel, generated = _check(session, _owner(session, user_id), entered)
        channel.created_at = channel.updated_at = now
        session.add(channel)
        session.flush()
        return AddedChannel(view_of(session, channel), generated)


def list_channels(user_id: int) -> list[ChannelView]:
    with session_scope() as session:
        rows = session.exec(select(DeliveryChannel).where(DeliveryChannel.user_id == user_id)
                            .order_by(DeliveryChannel.id)).all()
        return [view_of(session, row) for row in rows]


def _channel(session: Session, channel_id: int, user_id: int | None) -> DeliveryChannel:
    channel = session.get(DeliveryChannel, channel_id)
    if channel is None or (user_id is not None and channel.user_id != user_id):
        raise ChannelError(f"No channel with id {channel_id}.")
    return channel


def remove_channel(channel_id: int, user_id: int | None = None) -> str:
    """Delete a channel and its delivery rows; `user_id` None is an operator (CLI)."""
    with session_scope() as session:
        channel = _channel(session, channel_id, user_id)
        name = channel.name
        session.execute(sa.delete(ChannelDelivery).where(ChannelDelivery.channel_id == channel_id))
        session.delete(channel)
    return f"Channel {name} removed."


def send_test_message(channel_id: int, user_id: int | None = None, *,
                 now: dt.datetime | None = None) -> ProbeResult:
    """Post a sample message and report the endpoint's answer (stored on the channel).

    A success turns a disabled channel back on; a gone destination disables it.
    """
    now = now or utcnow()
    with session_scope() as session:
        channel = _channel(session, channel_id, user_id)
        kind, name = channel.kind, channel.name
        url = decrypt_token(channel.url_enc)
        secret = decrypt_token(channel.secret_enc) or ""
    if url is None:
        return _record_test(channel_id, now, ProbeResult(False, None, "The channel URL can no "
                                                        "longer be read; add the channel again."))
    try:
        url = check_url(url, allow_private=get_settings().channels_allow_private,
                        resolve_host=False)
    except ChannelURLError as exc:
        return _record_test(channel_id, now, ProbeResult(False, None, str(exc)))
    if kind == "webhook":
        body = render.webhook_test_body(channel_id, name)
        headers = render.webhook_headers(render.TEST_EVENT, f"test-{channel_id}-{int(now.timestamp())}",
                                         secret, body)
    else:
        body = render.chat_body(kind, render.sample_digest(name))
        headers = dict(render.CHAT_HEADERS)
    answer = transport.post(url, body, headers, now=now,
                            allow_private=get_settings().channels_allow_private)
    verdict = answers.judge(kind, answer)
    ok = verdict.action == answers.SENT
    result = ProbeResult(ok, answer.status, verdict.reason if ok else f"Failed: {verdict.reason}",
                        disabled=verdict.action == answers.DISABLE)
    return _record_test(channel_id, now, result)


def _record_test(channel_id: int, now: dt.datetime, result: ProbeResult) -> ProbeResult:
    with session_scope() as session:
        channel = session.get(DeliveryChannel, channel_id)
        if channel is None:
            return result
        channel.last_test_at, channel.last_test_result = now, result.message
        if result.ok and channel.status != "active":
            channel.status, channel.disabled_reason, channel.disabled_at = "active", None, None
        session.add(channel)
        session.flush()
        if result.disabled:
            disable_channel(session, channel_id, result.message.removeprefix("Failed: "), now)
    return result


def login_user_id(login: str) -> int:
    """The id of the user with GitHub login `login` (case-insensitive); `ChannelError` if none."""
    with session_scope() as session:
        found = session.scalar(sa.select(User.id).where(
            sa.func.lower(User.gh_login) == login.strip().lower()))
    if found is None:
        raise ChannelError(f"No user with login {login}")
    return found
