"""The command line (README "Command line"): the parser of every command, and `main`.

Every command returns a `CommandResult` (a JSON-able dict plus its human summary). `--json` prints
exactly one JSON object on stdout; logs and progress go to stderr. Exit codes: 0 success, 1 handled
failure (`CliError`), 2 bad usage (`UsageError`, usage on stderr). The commands live in one module
per command group beside this one; what they share is in `common.py`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from gitpulse_app.core.logging import configure_logging
from gitpulse_app.experience.cli import channels as channels_cli
from gitpulse_app.experience.cli import db as db_cli
from gitpulse_app.experience.cli import demo as demo_cli
from gitpulse_app.experience.cli import export as export_cli
from gitpulse_app.experience.cli import ingest as ingest_cli
from gitpulse_app.experience.cli import reports as reports_cli
from gitpulse_app.experience.cli import search as search_cli
from gitpulse_app.experience.cli import tokens as tokens_cli
from gitpulse_app.experience.cli.common import (
    CliError,
    CommandResult,
    Parser,
    UsageError,
    date_or_instant,
    iso_instant,
    positive_int,
)
from gitpulse_app.experience.wiring import load_capabilities


def build_parser() -> Parser:
    common = Parser(add_help=False)
    common.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser = Parser(prog="python -m gitpulse_app", description="GitPulse command line",
                     parents=[common])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True

    db = sub.add_parser("db", help="database migrations", parents=[common])
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", parser_class=Parser)
    db_sub.required = True
    db_sub.add_parser("upgrade", help="migrate to head", parents=[common]).set_defaults(
        run=db_cli.db_upgrade, lean=True
    )

    demo = sub.add_parser("demo", help="the demo workspace", parents=[common])
    demo_sub = demo.add_subparsers(dest="demo_command", metavar="ACTION", parser_class=Parser)
    demo_sub.required = True
    seed = demo_sub.add_parser("seed", help="load the demo workspace", parents=[common])
    seed.add_argument("--reset", action="store_true", help="delete demo rows first")
    seed.set_defaults(run=demo_cli.demo_seed)

    sync = sub.add_parser("sync", help="request a GitHub sync", parents=[common])
    target = sync.add_mutually_exclusive_group()
    target.add_argument("--installation", metavar="ID")
    target.add_argument("--repo", metavar="OWNER/NAME")
    sync.add_argument("--since", type=iso_instant, metavar="ISO")
    sync.add_argument("--wait", action="store_true", help="run to completion with progress")
    sync.set_defaults(run=ingest_cli.sync_command, check=ingest_cli.check_sync_args)

    webhooks = sub.add_parser("webhooks", help="webhook envelopes", parents=[common])
    wh_sub = webhooks.add_subparsers(dest="webhooks_command", metavar="ACTION",
                                     parser_class=Parser)
    wh_sub.required = True
    process = wh_sub.add_parser("process", help="drain pending envelopes", parents=[common])
    process.add_argument("--retry-failed", action="store_true")
    process.set_defaults(run=ingest_cli.webhooks_process)

    report = sub.add_parser("report", help="generate a report", parents=[common])
    report.add_argument("--login", required=True)
    report.add_argument("--kind", required=True, choices=["daily", "weekly"])
    report.add_argument("--end", type=date_or_instant, metavar="DATE|ISO")
    report.add_argument("--start", type=date_or_instant, metavar="DATE|ISO")
    report.add_argument("--query", metavar="TEXT")
    report.set_defaults(run=reports_cli.report_command, check=reports_cli.check_report_args,
                        lean=True)

    tick = sub.add_parser("tick", help="run one scheduler tick", parents=[common])
    tick.add_argument("--at", type=iso_instant, metavar="ISO")
    tick.set_defaults(run=reports_cli.tick_command)

    search = sub.add_parser("search", help="semantic search over facts", parents=[common])
    search.add_argument("text", metavar="TEXT")
    search.add_argument("--login", required=True)
    search.add_argument("--actor", action="append", default=[], metavar="LOGIN")
    search.add_argument("--repo", metavar="OWNER/NAME")
    search.add_argument("--type", action="append", default=[], metavar="TYPE")
    search.add_argument("--start", type=date_or_instant, metavar="D|ISO")
    search.add_argument("--end", type=date_or_instant, metavar="D|ISO")
    search.add_argument("--limit", type=positive_int, default=10, metavar="N")
    search.set_defaults(run=search_cli.search_facts, lean=True)

    export = sub.add_parser("export", help="export the timeline or reports", parents=[common])
    export.add_argument("--login", required=True)
    export.add_argument("--format", required=True, choices=["csv", "md"])
    export.add_argument("--start", type=iso_instant, metavar="ISO")
    export.add_argument("--end", type=iso_instant, metavar="ISO")
    export.set_defaults(run=export_cli.export_command, check=export_cli.check_export_args,
                        lean=True)

    secrets_cmd = sub.add_parser("secrets", help="stored secrets", parents=[common])
    secrets_sub = secrets_cmd.add_subparsers(dest="secrets_command", metavar="ACTION",
                                             parser_class=Parser)
    secrets_sub.required = True
    rotate = secrets_sub.add_parser("rotate", help="re-encrypt stored tokens", parents=[common])
    rotate.add_argument("--from-key-file", required=True, metavar="PATH")
    rotate.set_defaults(run=db_cli.secrets_rotate, lean=True)
    _add_token_commands(sub, common)
    channels_cli.add_parser(sub, common)
    return parser


def _add_token_commands(sub, common: Parser) -> None:
    """`token create|list|revoke` and `mcp` (docs/API.md)."""
    token = sub.add_parser("token", help="personal API tokens", parents=[common])
    token_sub = token.add_subparsers(dest="token_command", metavar="ACTION", parser_class=Parser)
    token_sub.required = True
    create = token_sub.add_parser("create", help="create a token (shown once)", parents=[common])
    create.add_argument("--login", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--scope", choices=["read", "write"], default="read")
    create.add_argument("--expires-days", type=positive_int, metavar="N")
    create.set_defaults(run=tokens_cli.token_create, lean=True)
    listing = token_sub.add_parser("list", help="list a user's tokens", parents=[common])
    listing.add_argument("--login", required=True)
    listing.set_defaults(run=tokens_cli.token_list, lean=True)
    revoke = token_sub.add_parser("revoke", help="revoke a token at once", parents=[common])
    revoke.add_argument("id", type=positive_int, metavar="ID")
    revoke.set_defaults(run=tokens_cli.token_revoke, lean=True)
    sub.add_parser("mcp", help="the MCP server on stdio (token from GITPULSE_TOKEN)",
                   parents=[common]).set_defaults(run=tokens_cli.mcp_stdio)


def _print_json(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in argv
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        check = getattr(args, "check", None)
        if check is not None:
            check(args, parser)
    except UsageError as exc:
        sys.stderr.write(f"{exc.usage}error: {exc}\n")
        if as_json:
            _print_json({"error": str(exc)})
        return 2

    configure_logging(sys.stderr)
    if not getattr(args, "lean", False):  # lean commands write no facts (docs/STARTUP.md)
        load_capabilities()
    try:
        result: CommandResult = args.run(args)
    except CliError as exc:
        sys.stderr.write(f"{exc}\n")
        if as_json:
            _print_json({"error": str(exc)})
        return 1
    if as_json:
        _print_json(result.data)
    elif result.summary:
        sys.stdout.write(result.summary.rstrip("\n") + "\n")
    return 0
