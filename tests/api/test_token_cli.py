"""`python -m gitpulse_app token create|list|revoke` (docs/API.md)."""

from __future__ import annotations

import json

import pytest

from gitpulse_app.experience.auth.api_tokens import (
    SECRET_CHARS,
    TOKEN_PREFIX,
    TokenError,
    create_token,
    list_tokens,
    resolve_api_token,
    revoke_token,
)
from gitpulse_app.experience.cli.main import main
from gitpulse_app.experience.http.api_v1 import PREFIX
from tests.api.conftest import World, bearer


def run_json(capsys, *argv: str) -> tuple[int, dict]:
    capsys.readouterr()  # what the test's own set-up and API calls logged is not the command's
    code = main([*argv, "--json"])
    captured = capsys.readouterr()
    assert captured.out.count("\n") == 1, captured.out
    return code, json.loads(captured.out)


def test_create_prints_the_token_once_and_list_never_shows_it(world: World, capsys, http):
    login = world.alice.side.login
    code, created = run_json(capsys, "token", "create", "--login", login, "--name", "laptop",
                             "--scope", "write", "--expires-days", "30")
    assert code == 0 and set(created) == {"id", "token", "scope", "expires_at"}
    token = created["token"]
    assert token.startswith(TOKEN_PREFIX) and len(token) == len(TOKEN_PREFIX) + SECRET_CHARS
    assert token[3:].isalnum() and created["scope"] == "write"
    assert created["expires_at"].endswith("Z")
    assert http.get(f"{PREFIX}/me", headers=bearer(token)).json()["token"]["scope"] == "write"

    code, listed = run_json(capsys, "token", "list", "--login", login)
    assert code == 0 and token not in json.dumps(listed)
    mine = next(row for row in listed["tokens"] if row["id"] == created["id"])
    assert mine["name"] == "laptop" and mine["status"] == "active"
    assert token.startswith(mine["prefix"]) and mine["last_used_at"] is not None

    code, revoked = run_json(capsys, "token", "revoke", str(created["id"]))
    assert code == 0 and revoked["revoked"] is True
    assert http.get(f"{PREFIX}/me", headers=bearer(token)).status_code == 401
    _, relisted = run_json(capsys, "token", "list", "--login", login)
    assert next(r for r in relisted["tokens"] if r["id"] == created["id"])["status"] == "revoked"


def test_the_human_create_output_holds_the_token(world: World, capsys):
    assert main(["token", "create", "--login", world.bob.side.login, "--name", "ci"]) == 0
    out = capsys.readouterr().out
    token = out.strip().splitlines()[-1]
    principal = resolve_api_token(token)
    assert principal is not None and principal.user_id == world.bob.side.user_id
    assert principal.scope == "read"


@pytest.mark.parametrize("argv, code", [
    (["token", "create", "--login", "nobody-here", "--name", "x"], 1),
    (["token", "revoke", "999999"], 1),
    (["token", "create", "--login", "x", "--name", "x", "--scope", "admin"], 2),
    (["token", "create", "--login", "x"], 2),
    (["token", "revoke", "abc"], 2),
])
def test_bad_token_commands_fail_with_one_json_error(world: World, capsys, argv, code):
    got, body = run_json(capsys, *argv)
    assert got == code and set(body) == {"error"} and body["error"]


def test_the_service_refuses_bad_input_and_keeps_revocation_idempotent(world: World):
    user_id = world.alice.side.user_id
    for name, scope, days in [("", "read", None), ("x" * 101, "read", None),
                              ("ok", "owner", None), ("ok", "read", 0)]:
        with pytest.raises(TokenError):
            create_token(user_id, name, scope, days)
    made = create_token(user_id, "twice", "read")
    first = revoke_token(made.id, user_id)
    second = revoke_token(made.id, user_id)
    assert first.revoked_at == second.revoked_at
    # Someone else's token looks missing to a person revoking from Settings.
    with pytest.raises(TokenError):
        revoke_token(made.id, world.bob.side.user_id)
    bobs = [view.name for view in list_tokens(world.bob.side.user_id)
            if view.id != world.bob.side.api_token_id]  # the authz fixture's own token aside
    assert bobs == ["writer", "reader"]
