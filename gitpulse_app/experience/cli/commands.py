"""The command implementations behind `python -m gitpulse_app` (CONTRACT §5)."""

from __future__ import annotations

import argparse

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
