"""Saving a user's preferences (the /settings form and onboarding's Schedule step) and confirming
a new email address.

Nothing here knows about Reflex: pages call these functions and keep the display-ready results.
With any field error nothing is saved.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from email.message import EmailMessage

from gitpulse_app.core.config import get_settings
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import EVERY_DAY, User
from gitpulse_app.experience.throttle import SlidingLimit
from gitpulse_app.intelligence.delivery.smtp import (
    SMTPConfigError,
    SMTPDeliveryError,
    SMTPOutcomeUnknown,
    send_message,
)
from gitpulse_app.intelligence.windows import format_work_days, is_valid_zone, parse_work_days

SAVED_MESSAGE = "Settings saved! Reports will be generated at your local midnight."
WEEK_START_ERROR = "Choose a week start from Monday to Sunday."
EMAIL_ERROR = "Enter a valid email address, such as name@example.com."
WORK_DAYS_ERROR = "Choose at least one work day."
EMAIL_CONFIRM_TTL = dt.timedelta(hours=24)
_WORK_DAYS_RE = re.compile(r"^[1-7]{1,7}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def timezone_error(value: str) -> str:
    return f'Unknown time zone "{value}". Choose an IANA zone such as "America/Chicago".'


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
