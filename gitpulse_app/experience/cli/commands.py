"""The command implementations behind `python -m gitpulse_app` (CONTRACT §5)."""

from __future__ import annotations

import argparse
import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gitpulse_app.core.config import get_settings
from gitpulse_app.core.db import DatabaseUnavailable, describe_host
from gitpulse_app.experience.cli.main import CliError, CommandResult


def db_upgrade(_args: argparse.Namespace) -> CommandResult:
    from gitpulse_app.core import migrate

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


def demo_seed(args: argparse.Namespace) -> CommandResult:
    notice = "The demo workspace is not built yet (issue #9); nothing was seeded."
    return CommandResult({"seeded": False, "reset": args.reset, "notice": notice}, notice)


def check_report_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    if args.start is not None and args.end is None:
        parser.error("--start needs --end")


def webhooks_process(args: argparse.Namespace) -> CommandResult:
    """`webhooks process [--retry-failed]`: drain due envelopes in this process (SPEC §4)."""
    import sqlalchemy as sa

    from gitpulse_app.acquisition.webhooks import processor

    try:
        retried = processor.retry_failed() if args.retry_failed else 0
        processor.reclaim_stale()
        result = processor.drain()
    except DatabaseUnavailable as exc:
        raise CliError(str(exc)) from None
    except sa.exc.OperationalError:
        host = describe_host(get_settings().database_url)
        raise CliError(
            f"Cannot use the database at {host}; check DATABASE_URL and run `db upgrade`."
        ) from None
    summary = (
        f"Processed {result.processed} webhook envelope(s): {result.completed} completed, "
        f"{result.failed} failed, {result.rescheduled} to retry later."
    )
    if args.retry_failed:
        summary += f" {retried} failed envelope(s) were reset for replay."
    return CommandResult(
        {
            "processed": result.processed,
            "completed": result.completed,
            "failed": result.failed,
            "retried": retried,
        },
        summary,
    )


def secrets_rotate(args: argparse.Namespace) -> CommandResult:
    """`secrets rotate --from-key-file PATH`: re-encrypt stored tokens under the current key.

    Every OAuth access/refresh token and PAT readable with the old key (the file's content,
    stripped) is re-encrypted with the current `GITPULSE_SECRET_KEY`, in one transaction. Values
    already under the current key are left alone; values unreadable under both are counted as
    skipped and kept as they are (their owners are asked to reconnect, SPEC §2).
    """
    from pathlib import Path

    import sqlalchemy as sa
    from sqlmodel import select

    from gitpulse_app.core.config import ConfigurationError
    from gitpulse_app.core.crypto import decrypt_token, encrypt_token
    from gitpulse_app.core.db import session_scope
    from gitpulse_app.core.models import Installation, User

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
    except DatabaseUnavailable as exc:
        raise CliError(str(exc)) from None
    except sa.exc.OperationalError:
        host = describe_host(get_settings().database_url)
        raise CliError(
            f"Cannot use the database at {host}; check DATABASE_URL and run `db upgrade`."
        ) from None
    summary = (
        f"Re-encrypted {counts['rotated']} stored token(s) with the current key; "
        f"{counts['current']} already used it; {counts['skipped']} unreadable with either key "
        "were left as they are (their owners must reconnect)."
    )
    return CommandResult({"rotated": counts["rotated"], "skipped": counts["skipped"]}, summary)


def _user_zone(name: str | None) -> ZoneInfo:
    """The user's zone; NULL or a name that no longer resolves reads as UTC (SPEC §9)."""
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _range_bound(value: dt.date | dt.datetime | None, zone: ZoneInfo, *, is_end: bool
                 ) -> dt.datetime | None:
    """A `--start`/`--end` value as an instant: local dates (end inclusive) or ISO instants."""
    if value is None or isinstance(value, dt.datetime):
        return value
    day = value + dt.timedelta(days=1) if is_end else value
    # fold 0: a midnight inside a DST gap lands on the first instant that exists.
    return dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)


def search_facts(args: argparse.Namespace) -> CommandResult:
    """`search TEXT --login LOGIN …`: semantic search over every fact LOGIN can see."""
    import sqlalchemy as sa

    from gitpulse_app.core.db import check_database, session_scope
    from gitpulse_app.core.models import Repo, User
    from gitpulse_app.intelligence.embeddings import SearchError, search_facts as run_search
    from gitpulse_app.intelligence.embeddings.search import visible_repo_ids
    from gitpulse_app.normalization.models import FactType

    known_types = {fact_type.value for fact_type in FactType}
    unknown = [name for name in args.type if name not in known_types]
    if unknown:
        raise CliError(f"Unknown fact type {unknown[0]}. Use one of: {', '.join(sorted(known_types))}.")
    try:
        check_database()
        with session_scope() as session:
            user = session.scalars(
                sa.select(User).where(sa.func.lower(User.gh_login) == args.login.lower())
            ).first()
            if user is None:
                raise CliError(f"No user with login {args.login}")
            zone = _user_zone(user.timezone)
            repo_ids = visible_repo_ids(session, user.id)
            if args.repo:
                repo_id = session.scalar(
                    sa.select(Repo.id).where(sa.func.lower(Repo.full_name) == args.repo.lower())
                )
                if repo_id is None or repo_id not in repo_ids:
                    raise CliError(f"Repository {args.repo} not found")
            hits = run_search(
                session, args.text, repo_ids=repo_ids, actor_logins=args.actor or None,
                repo=args.repo, types=args.type or None,
                start=_range_bound(args.start, zone, is_end=False),
                end=_range_bound(args.end, zone, is_end=True), limit=args.limit,
            )
    except SearchError as exc:
        raise CliError(str(exc)) from None
    except DatabaseUnavailable as exc:
        raise CliError(str(exc)) from None
    rows = [
        {
            "score": round(hit.score, 6),
            "event_id": hit.event_id,
            "type": hit.type,
            "ts": hit.ts.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "local_date": hit.ts.astimezone(zone).date().isoformat(),
            "repo": hit.repo,
            "actor": hit.actor,
            "canonical_text": hit.canonical_text,
            "url": hit.source_url,
        }
        for hit in hits
    ]
    lines = [
        f"{row['score']:.3f}  {row['local_date']}  {row['repo']}  {row['canonical_text']}  "
        f"{row['url']}"
        for row in rows
    ]
    return CommandResult({"hits": rows}, "\n".join(lines) or f"No facts match “{args.text}”.")
