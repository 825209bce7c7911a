"""`demo seed [--reset]`: load the demo workspace through the real pipeline."""

from __future__ import annotations

import argparse
import sys

import sqlalchemy as sa

from gitpulse_app.core.config import get_settings
from gitpulse_app.core.db import DatabaseUnavailable
from gitpulse_app.experience.cli.common import CliError, CommandResult, database_error

# Heavier modules are imported inside the command that runs them, for start-up time only: the
# parser imports every command module, and a command loads only what it runs (docs/STARTUP.md).


_SEED_STAGES = {
    "reset": "Deleting demo data",
    "deliveries": "Posting webhook deliveries",
    "processing": "Processing deliveries",
    "embeddings": "Embedding facts",
    "reports": "Writing reports",
}


def _seed_progress(stream=None):
    """`demo seed`'s progress on stderr: one line per stage step worth showing."""
    stream = stream or sys.stderr

    def show(stage: str, done: int, total: int) -> None:
        label = _SEED_STAGES.get(stage, stage)
        stream.write(f"{label}… {done}/{total}\n" if total > 1 else
                     f"{label}{'…' if done < total else ': done'}\n")
        stream.flush()

    return show


def demo_seed(args: argparse.Namespace) -> CommandResult:
    """`demo seed [--reset]`: load the demo workspace through the real pipeline."""
    from gitpulse_app.experience.demo.seed import SeedError, seed_demo  # the whole pipeline

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
