"""`sync` and `webhooks process`: bring GitHub activity in, in this process, with progress."""

from __future__ import annotations

import argparse
import sys
import time

import sqlalchemy as sa

from gitpulse_app.core.db import DatabaseUnavailable, check_database
from gitpulse_app.experience.cli.common import CliError, CommandResult, database_error

# Heavier modules are imported inside the command that runs them, for start-up time only: the
# parser imports every command module, and a command loads only what it runs (docs/STARTUP.md).


def drain_new_facts() -> None:
    """Embed the facts a command just created, so `search` finds them with no backend running."""
    from gitpulse_app.intelligence.embeddings import drain  # NumPy

    drain(limit=1_000_000)  # everything due; rows that fail back off and end the drain


def webhooks_process(args: argparse.Namespace) -> CommandResult:
    """`webhooks process [--retry-failed]`: drain due envelopes in this process."""
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
        self.stream = stream or sys.stderr
        self.every_s = every_s
        self.is_tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_text = ""
        self._last_at = float("-inf")

    def update(self, progress: object) -> None:
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
    from gitpulse_app.acquisition.sync import runner, sources  # httpx, cryptography

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
