"""`search TEXT --login LOGIN …`: semantic search over the facts a user can see."""

from __future__ import annotations

import argparse
import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from gitpulse_app.core.db import DatabaseUnavailable, check_database, session_scope
from gitpulse_app.core.models import Repo
from gitpulse_app.experience.cli.common import (
    CliError,
    CommandResult,
    database_error,
    schema_errors,
    user_by_login,
)

# Heavier modules are imported inside the command that runs them, for start-up time only: the
# parser imports every command module, and a command loads only what it runs (docs/STARTUP.md).


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
    from gitpulse_app.intelligence.embeddings import SearchError, search_facts as run_search
    from gitpulse_app.acquisition.access import visible_repo_ids
    from gitpulse_app.intelligence.windows import resolve_zone
    from gitpulse_app.normalization.models import FactType

    known_types = {fact_type.value for fact_type in FactType}
    unknown = [name for name in args.type if name not in known_types]
    if unknown:
        choices = ", ".join(sorted(known_types))
        raise CliError(f"Unknown fact type {unknown[0]}. Use one of: {choices}.")
    try:
        check_database()
        with session_scope() as session:
            user = user_by_login(session, args.login)
            zone = resolve_zone(user.timezone)
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
    except schema_errors() as exc:
        raise database_error(exc) from None
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
