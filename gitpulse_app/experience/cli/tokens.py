"""`token create|list|revoke` and `mcp` (docs/API.md): personal API tokens and the stdio MCP server."""

from __future__ import annotations

import argparse
import os

import sqlalchemy as sa

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import DatabaseUnavailable, session_scope
from gitpulse_app.experience.cli.common import (
    CliError,
    CommandResult,
    database_error,
    user_by_login,
)

# Heavier modules are imported inside the command that runs them, for start-up time only: the
# parser imports every command module, and a command loads only what it runs (docs/STARTUP.md).

TOKEN_ENV = "GITPULSE_TOKEN"


def _user_id(login: str) -> int:
    with session_scope() as session:
        return user_by_login(session, login).id


def token_create(args: argparse.Namespace) -> CommandResult:
    """`token create --login LOGIN --name NAME [--scope read|write] [--expires-days N]`."""
    from gitpulse_app.core.clock import iso_z_or_none
    from gitpulse_app.experience.auth.api_tokens import TokenError, create_token

    try:
        created = create_token(_user_id(args.login), args.name, args.scope, args.expires_days)
    except (TokenError, DatabaseUnavailable) as exc:
        raise CliError(str(exc)) from None
    except sa.exc.OperationalError as exc:
        raise database_error(exc) from None
    expires = iso_z_or_none(created.expires_at)
    data = {"id": created.id, "token": created.token, "scope": created.scope,
            "expires_at": expires}
    summary = (f"Created {created.scope} token {created.id} ({created.name}) for {args.login}"
               f"{'; expires ' + expires if expires else '; never expires'}.\n"
               "Copy it now; it is not shown again:\n" + created.token)
    return CommandResult(data, summary)


def token_list(args: argparse.Namespace) -> CommandResult:
    """`token list --login LOGIN`: every token of the user, never the secrets."""
    from gitpulse_app.experience.auth.api_tokens import list_tokens

    try:
        views = list_tokens(_user_id(args.login))
    except DatabaseUnavailable as exc:
        raise CliError(str(exc)) from None
    except sa.exc.OperationalError as exc:
        raise database_error(exc) from None
    now = utcnow()
    rows = [view.as_json(now) for view in views]
    lines = [f"{row['id']:>5}  {row['prefix']}…  {row['scope']:<5}  {row['status']:<7}  "
             f"last used {row['last_used_at'] or 'never'}  {row['name']}" for row in rows]
    return CommandResult({"login": args.login, "tokens": rows},
                         "\n".join(lines) if lines else f"{args.login} has no API tokens.")


def token_revoke(args: argparse.Namespace) -> CommandResult:
    """`token revoke ID`: the token stops working at once."""
    from gitpulse_app.experience.auth.api_tokens import TokenError, revoke_token

    try:
        view = revoke_token(args.id)
    except (TokenError, DatabaseUnavailable) as exc:
        raise CliError(str(exc)) from None
    except sa.exc.OperationalError as exc:
        raise database_error(exc) from None
    return CommandResult({"id": view.id, "revoked": True,
                          "revoked_at": view.as_json(utcnow())["revoked_at"]},
                         f"Revoked token {view.id} ({view.name}).")


def mcp_stdio(_args: argparse.Namespace) -> CommandResult:
    """`mcp`: the MCP server on stdin/stdout, acting as the token in `GITPULSE_TOKEN`."""
    from gitpulse_app.experience.auth.api_tokens import resolve_api_token
    from gitpulse_app.experience.mcp.server import run_stdio

    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise CliError(f"Set {TOKEN_ENV} to a GitPulse API token (create one with "
                       "`token create` or in Settings → API tokens).")
    try:
        principal = resolve_api_token(token)
    except DatabaseUnavailable as exc:
        raise CliError(str(exc)) from None
    except sa.exc.OperationalError as exc:
        raise database_error(exc) from None
    if principal is None:
        raise CliError(f"{TOKEN_ENV} is not a valid token: it is unknown, expired or revoked.")
    run_stdio(token)
    return CommandResult({}, "")
