"""`db upgrade` and `secrets rotate`: the database schema and the secrets stored in it."""

from __future__ import annotations

import argparse
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import select

from gitpulse_app.core.config import ConfigurationError, get_settings
from gitpulse_app.core.db import DatabaseUnavailable, describe_host, session_scope
from gitpulse_app.core.models import DeliveryChannel, Installation, User
from gitpulse_app.experience.cli.common import CliError, CommandResult, database_error

# Heavier modules are imported inside the command that runs them, for start-up time only: the
# parser imports every command module, and a command loads only what it runs (docs/STARTUP.md).


def db_upgrade(_args: argparse.Namespace) -> CommandResult:
    from gitpulse_app.core import migrate  # alembic

    url = get_settings().database_url
    try:
        migrate.upgrade(url)
        revision = migrate.current(url)
    except DatabaseUnavailable as exc:
        raise CliError(str(exc)) from None
    return CommandResult(
        {"database": describe_host(url), "revision": revision},
        f"Database {describe_host(url)} is at revision {revision}.",
    )


def secrets_rotate(args: argparse.Namespace) -> CommandResult:
    """`secrets rotate --from-key-file PATH`: re-encrypt stored tokens under the current key.

    Every OAuth access/refresh token and PAT readable with the old key (the file's content,
    stripped) is re-encrypted with the current `GITPULSE_SECRET_KEY`, in one transaction. Values
    already under the current key are left alone; values unreadable under both are counted as
    skipped and kept as they are (their owners are asked to reconnect).
    """
    from gitpulse_app.core.crypto import decrypt_token, encrypt_token  # cryptography

    path = Path(args.from_key_file)
    try:
        old_key = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a text file"
        raise CliError(f"Cannot read the old key from {path}: {reason}") from None
    if not old_key:
        raise CliError(f"The old key file {path} is empty")
    try:
        new_key = get_settings().secret_key
    except ConfigurationError as exc:
        raise CliError(str(exc)) from None

    counts = {"rotated": 0, "skipped": 0, "current": 0}

    def rotate(value: str | None) -> str | None:
        if not value:
            return value
        plain = decrypt_token(value, old_key)
        if plain is not None:
            counts["rotated"] += 1
            return encrypt_token(plain, new_key)
        counts["current" if decrypt_token(value, new_key) is not None else "skipped"] += 1
        return value

    try:
        with session_scope() as session:
            for user in session.exec(select(User)).all():
                user.oauth_access_token_enc = rotate(user.oauth_access_token_enc)
                user.oauth_refresh_token_enc = rotate(user.oauth_refresh_token_enc)
                session.add(user)
            for installation in session.exec(select(Installation)).all():
                installation.token_enc = rotate(installation.token_enc)
                session.add(installation)
            # Channel URLs and webhook secrets (docs/CHANNELS.md).
            for channel in session.exec(select(DeliveryChannel)).all():
                channel.url_enc = rotate(channel.url_enc) or channel.url_enc
                channel.secret_enc = rotate(channel.secret_enc)
                session.add(channel)
    except (DatabaseUnavailable, sa.exc.OperationalError) as exc:
        raise database_error(exc) from None
    summary = (
        f"Re-encrypted {counts['rotated']} stored token(s) with the current key; "
        f"{counts['current']} already used it; {counts['skipped']} unreadable with either key "
        "were left as they are (their owners must reconnect)."
    )
    return CommandResult({"rotated": counts["rotated"], "skipped": counts["skipped"]}, summary)
