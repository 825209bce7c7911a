"""`channel add|list|test|remove` — Slack, Discord and webhook channels (docs/CHANNELS.md).

`add` prints the new channel's id; a webhook channel added without `--secret` gets a generated
secret, printed this once (it is stored encrypted and never shown again). URLs are shown only as
`…/last4`. `test` posts a sample message and prints the endpoint's answer; a failed test exits 1.
"""

from __future__ import annotations

import argparse

import sqlalchemy as sa

from gitpulse_app.core.db import DatabaseUnavailable
from gitpulse_app.experience.cli.common import (
    CliError,
    CommandResult,
    Parser,
    database_error,
    positive_int,
)

# Heavier modules are imported inside the command that runs them, for start-up time only: the
# parser imports every command module, and a command loads only what it runs (docs/STARTUP.md).



def add_parser(sub, common: Parser) -> None:
    """The `channel` command and its actions (called by `build_parser`)."""
    channel = sub.add_parser("channel", help="Slack, Discord and webhook channels",
                             parents=[common])
    channel.set_defaults(lean=True)  # no channel action writes facts (docs/STARTUP.md)
    actions = channel.add_subparsers(dest="channel_command", metavar="ACTION",
                                     parser_class=Parser)
    actions.required = True
    add = actions.add_parser("add", help="add a channel", parents=[common])
    add.add_argument("--login", required=True)
    add.add_argument("--kind", required=True, choices=["slack", "discord", "webhook"])
    add.add_argument("--url", required=True)
    add.add_argument("--name")
    scope = add.add_mutually_exclusive_group()
    scope.add_argument("--logins", metavar="A,B")
    scope.add_argument("--repo", metavar="OWNER/NAME")
    add.add_argument("--reports", default="daily,weekly", metavar="daily,weekly")
    add.add_argument("--secret", metavar="S")
    add.set_defaults(run=channel_add)
    listing = actions.add_parser("list", help="list a user's channels", parents=[common])
    listing.add_argument("--login", required=True)
    listing.set_defaults(run=channel_list)
    test = actions.add_parser("test", help="send a test message", parents=[common])
    test.add_argument("id", type=positive_int, metavar="ID")
    test.set_defaults(run=channel_test)
    remove = actions.add_parser("remove", help="remove a channel", parents=[common])
    remove.add_argument("id", type=positive_int, metavar="ID")
    remove.set_defaults(run=channel_remove)


def _service(call):
    from gitpulse_app.intelligence.delivery.channels.service import ChannelError

    try:
        return call()
    except ChannelError as exc:
        raise CliError(str(exc)) from None
    except (DatabaseUnavailable, sa.exc.OperationalError) as exc:
        raise database_error(exc) from None


def _line(view) -> str:
    status = "active" if view.status == "active" else f"disabled: {view.disabled_reason}"
    return (f"{view.name} ({view.kind}, {view.url_hint}) — {view.scope_text}; "
            f"{' and '.join(view.reports)}; {status}")


def channel_add(args: argparse.Namespace) -> CommandResult:
    from gitpulse_app.intelligence.delivery.channels import service

    entered = service.ChannelInput(
        kind=args.kind, url=args.url, name=args.name or "",
        logins=service.split_list(args.logins), repo=args.repo,
        reports=service.split_list(args.reports), secret=args.secret)
    added = _service(lambda: service.add_channel(
        service.login_user_id(args.login), entered))
    view = added.view
    data = view.as_json()
    lines = [f"Channel {view.id} added: {_line(view)}"]
    if added.generated_secret:
        data["secret"] = added.generated_secret
        lines.append(f"Webhook secret (shown only now; keep it to verify signatures): "
                     f"{added.generated_secret}")
    return CommandResult(data, "\n".join(lines))


def channel_list(args: argparse.Namespace) -> CommandResult:
    from gitpulse_app.intelligence.delivery.channels import service

    views = _service(lambda: service.list_channels(service.login_user_id(args.login)))
    summary = "\n".join(f"{view.id}  {_line(view)}" for view in views) or \
        f"{args.login} has no channels."
    return CommandResult({"channels": [view.as_json() for view in views]}, summary)


def channel_test(args: argparse.Namespace) -> CommandResult:
    from gitpulse_app.intelligence.delivery.channels import service

    result = _service(lambda: service.send_test_message(args.id))
    if not result.ok:
        raise CliError(f"Test message to channel {args.id}: {result.message}")
    return CommandResult({"id": args.id, "ok": True, "status": result.status,
                          "message": result.message},
                         f"Test message to channel {args.id}: {result.message}")


def channel_remove(args: argparse.Namespace) -> CommandResult:
    from gitpulse_app.intelligence.delivery.channels import service

    message = _service(lambda: service.remove_channel(args.id))
    return CommandResult({"removed": args.id}, message)
