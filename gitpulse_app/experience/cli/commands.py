"""The command implementations behind `python -m gitpulse_app`."""

from __future__ import annotations

import argparse
import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gitpulse_app.core.config import get_settings
from gitpulse_app.core.db import DatabaseUnavailable, describe_host
from gitpulse_app.experience.cli.main import CliError, CommandResult


def schema_errors() -> tuple[type[Exception], ...]:
    """What a query on an unmigrated database raises: SQLite's OperationalError ("no such
    table"), PostgreSQL's ProgrammingError (UndefinedTable)."""
    import sqlalchemy as sa

    return (sa.exc.OperationalError, sa.exc.ProgrammingError)


def database_error(exc: Exception) -> CliError:
    """The one-line CLI error for a database that is unreachable or not migrated."""
    if isinstance(exc, DatabaseUnavailable):
        return CliError(str(exc))
    host = describe_host(get_settings().database_url)
    return CliError(f"Cannot use the database at {host}; check DATABASE_URL and run `db upgrade`.")


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


_SEED_STAGES = {
    "reset": "Deleting demo data",
    "deliveries": "Posting webhook deliveries",
    "processing": "Processing deliveries",
    "embeddings": "Embedding facts",
    "reports": "Writing reports",
}


def _seed_progress(stream=None):
    """`demo seed`'s progress on stderr: one line per stage step worth showing."""
    import sys

    stream = stream or sys.stderr

    def show(stage: str, done: int, total: int) -> None:
        label = _SEED_STAGES.get(stage, stage)
        stream.write(f"{label}… {done}/{total}\n" if total > 1 else
                     f"{label}{'…' if done < total else ': done'}\n")
        stream.flush()

    return show


def demo_seed(args: argparse.Namespace) -> CommandResult:
    """`demo seed [--reset]`: load the demo workspace through the real pipeline."""
    import sqlalchemy as sa

    from gitpulse_app.experience.demo.seed import SeedError, seed_demo

    try:
        result = seed_demo(reset=args.reset, progress=_seed_progress())
    except (SeedError, DatabaseUnavailable) as exc:
        raise CliError(str(exc)) from None
    except sa.exc.OperationalError as exc:
        raise database_error(exc) from None
    settings = get_settings()
    data = {"seeded": True} | result.as_json() | {"demo_enabled": settings.demo_enabled}
    replays = result.deliveries_posted - result.deliveries_new
    lines = [
        f"Demo workspace ready ({'reset and ' if result.reset else ''}seeded in "
        f"{result.seconds:.1f} s): {result.deliveries_posted} webhook deliveries posted "
        f"({result.deliveries_new} new, {replays} already received), {result.facts} facts "
        f"({result.facts_new} new) in {result.repos} repositories by {result.people} people, "
        f"{result.reports} reports for the demo user ({result.reports_new} written now).",
    ]
    if settings.demo_enabled:
        lines.append(f"Sign in as the demo user: {settings.api_url}/auth/demo")
    else:
        lines.append("Demo sign-in is off on this server (GITPULSE_DEMO=0).")
    if not result.reset and result.deliveries_new == 0:
        lines.append("The workspace already existed; `demo seed --reset` regenerates it up to now.")
    return CommandResult(data, "\n".join(lines))


def check_report_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    if args.start is not None and args.end is None:
        parser.error("--start needs --end")


def drain_new_facts() -> None:
    """Embed the facts a command just created, so `search` finds them with no backend running."""
    from gitpulse_app.intelligence.embeddings import drain

    drain(limit=1_000_000)  # everything due; rows that fail back off and end the drain


def webhooks_process(args: argparse.Namespace) -> CommandResult:
    """`webhooks process [--retry-failed]`: drain due envelopes in this process."""
    import sqlalchemy as sa

    from gitpulse_app.acquisition.webhooks import processor

    try:
        retried = processor.retry_failed() if args.retry_failed else 0
        processor.reclaim_stale()
        result = processor.drain()
        drain_new_facts()
    except (DatabaseUnavailable, sa.exc.OperationalError) as exc:
        raise database_error(exc) from None
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
    skipped and kept as they are (their owners are asked to reconnect).
    """
    from pathlib import Path

    import sqlalchemy as sa
    from sqlmodel import select

    from gitpulse_app.core.config import ConfigurationError
    from gitpulse_app.core.crypto import decrypt_token, encrypt_token
    from gitpulse_app.core.db import session_scope
    from gitpulse_app.core.models import DeliveryChannel, Installation, User

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


def user_by_login(session, login: str) -> User:
    """The user with GitHub login `login` (case-insensitive), else a CLI error."""
    import sqlalchemy as sa

    from gitpulse_app.core.models import User

    user = session.scalars(
        sa.select(User).where(sa.func.lower(User.gh_login) == login.lower())
    ).first()
    if user is None:
        raise CliError(f"No user with login {login}")
    return user


def _user_zone(name: str | None) -> ZoneInfo:
    """The user's zone; NULL or a name that no longer resolves reads as UTC."""
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
    from gitpulse_app.acquisition.access import visible_repo_ids
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


def _report_record(report: object) -> dict:
    """Every `reports` column at top level: JSON columns decoded, times ISO-8601 UTC with `Z`."""
    from gitpulse_app.core.models import Report

    record = {}
    for column in Report.__table__.columns:
        value = getattr(report, column.key)
        if isinstance(value, dt.datetime):
            value = value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        record[column.key] = value
    return record


def report_command(args: argparse.Namespace) -> CommandResult:
    """`report --login LOGIN --kind daily|weekly [--end D|ISO] [--start D|ISO] [--query TEXT]`.

    Generates (or returns the cached) report of that one user for the `cli_window` window, in the
    user's zone (UTC when unset). `--json` prints the report row plus `cache_hit`.
    """
    import sqlalchemy as sa

    from gitpulse_app.core.db import check_database, session_scope, utcnow
    from gitpulse_app.core.models import User
    from gitpulse_app.intelligence.formatting import format_date_range
    from gitpulse_app.intelligence.reports import ReportError, generate_report
    from gitpulse_app.intelligence.windows import NotAWorkDay, WindowError, cli_window

    try:
        check_database()
        with session_scope() as session:
            user = user_by_login(session, args.login)
            user_id, login, zone = user.id, user.gh_login, user.timezone
            week_start, work_days = user.week_start_day, user.work_days
        now = utcnow()
        window = cli_window(args.kind, zone, now, start=args.start, end=args.end,
                            week_start_day=week_start, work_days=work_days)
        outcome = generate_report(user_id, args.kind, window.start, window.end, origin="manual",
                                  logins=[login], query=args.query, now=now)
    except NotAWorkDay as exc:
        raise CliError(f"{exc.day.isoformat()} is not a work day for {login}") from None
    except (WindowError, ReportError, DatabaseUnavailable) as exc:
        raise CliError(str(exc)) from None
    except sa.exc.OperationalError as exc:
        raise database_error(exc) from None
    report = outcome.report
    if report is None:
        raise CliError("The report of this window was deleted; nothing was generated.")
    record = _report_record(report) | {"cache_hit": outcome.cache_hit}
    coverage = ("n/a" if report.coverage_score is None
                else f"{report.coverage_score:.0%} ({report.citation_count} citations)")
    header = [
        report.title,
        report.description,
        f"Covers {format_date_range(report.start_date, report.end_date, report.timezone)} "
        f"({report.timezone}); writer {report.provider}/{report.model}; "
        f"{report.event_count} event(s); coverage {coverage}"
        + ("; cached" if outcome.cache_hit else ""),
    ]
    return CommandResult(record, "\n".join(header) + "\n\n" + report.markdown)


# sync -------------------------------------------------------------------------------------------
def check_sync_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """A malformed `--installation` or `--repo` is bad usage (exit 2), not an unknown source."""
    from gitpulse_app.acquisition.sync.sources import is_installation_reference, is_repo_name

    if args.installation is not None and not is_installation_reference(args.installation):
        parser.error(
            f"--installation: expected GitHub's installation id, pat:<id> or env, "
            f"not {args.installation!r}"
        )
    if args.repo is not None and not is_repo_name(args.repo):
        parser.error(f"--repo: expected OWNER/NAME, not {args.repo!r}")


def _format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def render_sync_progress(progress: object, width: int = 24) -> str:
    """One line: bar, repos done/total, facts, current repo, ETA and the rate-limit countdown."""
    from gitpulse_app.acquisition.sync.runner import SyncProgress

    assert isinstance(progress, SyncProgress)
    filled = round(width * progress.done / progress.total) if progress.total else width
    parts = [f"[{'#' * filled}{'-' * (width - filled)}] {progress.done}/{progress.total} repos",
             f"{progress.facts} facts"]
    if progress.current_repo and not progress.finished:
        parts.append(progress.current_repo)
    if not progress.finished:
        eta = progress.eta_seconds
        parts.append("ETA estimating…" if eta is None else f"ETA {_format_duration(eta)}")
    if progress.blocked_until is not None and progress.blocked_until > progress.now:
        wait = (progress.blocked_until - progress.now).total_seconds()
        parts.append(f"rate limited, resumes in {_format_duration(wait)}")
    if not progress.finished and progress.held_elsewhere:
        parts.append(f"waiting for {progress.held_elsewhere} repo(s) another process is syncing")
    if not progress.finished and progress.next_due is not None:
        wait = (progress.next_due - progress.now).total_seconds()
        parts.append(f"next repo due in {_format_duration(wait)}")
    return " · ".join(parts)


class SyncProgressBar:
    """`sync --wait`'s progress on stderr: redrawn in place on a terminal, else one line whenever
    it changes, at most every `every_s` seconds (logs and pipes stay readable)."""

    def __init__(self, stream=None, *, every_s: float = 5.0) -> None:
        import sys

        self.stream = stream or sys.stderr
        self.every_s = every_s
        self.is_tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_text = ""
        self._last_at = float("-inf")

    def update(self, progress: object) -> None:
        import time

        text = render_sync_progress(progress)
        now = time.monotonic()
        if self.is_tty:
            padding = " " * max(0, len(self._last_text) - len(text))
            self.stream.write(f"\r{text}{padding}")
        elif text != self._last_text and (
            now - self._last_at >= self.every_s or getattr(progress, "finished", False)
        ):
            self.stream.write(text + "\n")
            self._last_at = now
        else:
            return
        self._last_text = text
        self.stream.flush()

    def finish(self) -> None:
        if self.is_tty and self._last_text:
            self.stream.write("\n")
            self.stream.flush()


def _request_target(target, args: argparse.Namespace) -> dict:
    from gitpulse_app.acquisition.sync.models import RequestOutcome
    from gitpulse_app.acquisition.sync.service import request_sync

    result = request_sync(target.installation_id, "manual", since=args.since,
                          repos=list(target.repos) if target.repos else None, cli=True)
    reason = result.details.get("reason")
    batch_id = result.details.get("batch_id")
    running = reason == RequestOutcome.ALREADY_RUNNING and batch_id is not None
    message = f"{result.message} (batch {batch_id})" if running else result.message
    return {
        "installation_id": target.installation_id,
        "source": target.label,
        "started": result.started,
        "attached": running and args.wait,
        "batch_id": batch_id,
        "reason": reason,
        "message": message,
        "repos": list(result.details.get("added_repos") or target.repos or []),
        "total_repos": result.details.get("total_repos"),
        "since": result.details.get("since"),
    }


def _request_line(entry: dict) -> str:
    label, batch = entry["source"], entry["batch_id"]
    if entry["reason"] == "added_to_running":
        return (f"Added {', '.join(entry['repos'])} to the sync already in progress for {label}: "
                f"batch {batch}.")
    if entry["started"]:
        return (f"Sync started for {label}: batch {batch}, {entry['total_repos']} "
                f"repositor{'y' if entry['total_repos'] == 1 else 'ies'} since {entry['since']}.")
    if entry["attached"]:
        return f"Waiting for the sync already in progress for {label}: batch {batch}."
    return f"{label}: {entry['message']}"


def sync_command(args: argparse.Namespace) -> CommandResult:
    """`sync [--installation ID | --repo OWNER/NAME] [--since ISO] [--wait]`."""
    import sys

    import sqlalchemy as sa

    from gitpulse_app.acquisition.sync import runner, sources
    from gitpulse_app.core.db import check_database

    try:
        check_database()
        targets = sources.resolve_targets(installation=args.installation, repo=args.repo)
        entries = [_request_target(target, args) for target in targets]
    except sources.SourceError as exc:
        raise CliError(str(exc)) from None
    except (DatabaseUnavailable, sa.exc.OperationalError) as exc:
        raise database_error(exc) from None
    working = [entry for entry in entries if entry["started"] or entry["attached"]]
    if not working:
        if len(entries) == 1:
            raise CliError(entries[0]["message"])
        raise CliError("No sync started: " + "; ".join(
            f"{entry['source']}: {entry['message']}" for entry in entries))
    batch_ids = list(dict.fromkeys(entry["batch_id"] for entry in working))
    data = {"batch_id": batch_ids[0], "batches": entries}
    lines = [_request_line(entry) for entry in entries]
    if not args.wait:
        return CommandResult(data, "\n".join(lines))

    for entry in entries:  # say at once what an attached run waits for (stderr, like the bar)
        if entry["attached"]:
            state = runner.snapshot_batches([entry["batch_id"]])
            sys.stderr.write(f"{_request_line(entry)} {state.total - state.done} of "
                             f"{state.total} repositories left to sync.\n")
    bar = SyncProgressBar(sys.stderr)
    try:
        final = runner.work_batches(batch_ids, progress=bar.update)
    except KeyboardInterrupt:
        raise CliError("Interrupted. The batch stays running: its jobs are picked up again by the "
                       "backend, or by running `sync --wait` again.") from None
    finally:
        bar.finish()
    try:
        drain_new_facts()  # the batch's facts are searchable when the command returns
    except (DatabaseUnavailable, sa.exc.OperationalError) as exc:
        raise database_error(exc) from None
    results = {result.batch_id: result for result in final.batches}
    for entry in entries:
        result = results.get(entry["batch_id"]) if entry in working else None
        if result is None:
            continue
        entry.update(status=result.status, completed_repos=result.completed_repos,
                     failed_repos=result.failed_repos, events_ingested=result.events_ingested,
                     errors=[{"repo": repo, "error": error} for repo, error in result.errors])
        lines.append(f"Batch {result.batch_id} ({entry['source']}) {result.status}: "
                     f"{result.completed_repos} of {result.total_repos} repositories synced, "
                     f"{result.events_ingested} new facts.")
        lines.extend(f"  {repo} failed: {error}" for repo, error in result.errors)
    finished = [results[batch_id] for batch_id in batch_ids if batch_id in results]
    if finished and all(result.status == "failed" for result in finished):
        first = next((error for result in finished for error in result.errors), None)
        detail = f" {first[0]}: {first[1]}" if first else ""
        raise CliError(f"Sync failed: every repository failed (batch "
                       f"{', '.join(str(r.batch_id) for r in finished)}).{detail}")
    data["status"] = "completed"
    return CommandResult(data, "\n".join(lines))


# tick -------------------------------------------------------------------------------------------
def tick_command(args: argparse.Namespace) -> CommandResult:
    """`tick [--at ISO]`: one scheduler tick in this process with the clock reading ISO.

    It runs whoever leads (every step is idempotent), writes `report_job_history`, requests syncs
    but runs no ingestion jobs, and neither takes the scheduler lease nor writes its heartbeat.
    """
    import sqlalchemy as sa

    from gitpulse_app.core.db import utcnow
    from gitpulse_app.intelligence.scheduler import run_tick

    try:
        result = run_tick(args.at or utcnow())
    except (DatabaseUnavailable, sa.exc.OperationalError) as exc:
        raise database_error(exc) from None
    return CommandResult(result.as_json(), result.summary())
