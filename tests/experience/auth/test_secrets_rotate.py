"""`secrets rotate --from-key-file PATH`: re-encrypt stored tokens."""

from __future__ import annotations

import json

from sqlmodel import select

from gitpulse_app.core.crypto import decrypt_token, encrypt_token
from gitpulse_app.core.models import Installation, User
from gitpulse_app.experience.cli.main import main

OLD_KEY = "the-old-secret-key"
NEW_KEY = "the-new-secret-key"


def test_rotation_re_encrypts_every_token_under_the_new_key(
    engine, session, configure, tmp_path, capsys
):
    session.add(User(gh_id=1, gh_login="alice",
                     oauth_access_token_enc=encrypt_token("ghu_alice", OLD_KEY),
                     oauth_refresh_token_enc=encrypt_token("ghr_alice", OLD_KEY)))
    session.add(User(gh_id=2, gh_login="bob",
                     oauth_access_token_enc=encrypt_token("ghu_bob", "a-key-long-lost")))
    session.add(Installation(kind="pat", token_enc=encrypt_token("ghp_pat", OLD_KEY),
                             token_hint="…_pat"))
    session.commit()
    key_file = tmp_path / "old.key"
    key_file.write_text(f"  {OLD_KEY}\n", encoding="utf-8")
    configure(GITPULSE_SECRET_KEY=NEW_KEY)

    assert main(["secrets", "rotate", "--from-key-file", str(key_file), "--json"]) == 0

    assert json.loads(capsys.readouterr().out) == {"rotated": 3, "skipped": 1}
    session.expire_all()
    alice = session.exec(select(User).where(User.gh_login == "alice")).one()
    assert decrypt_token(alice.oauth_access_token_enc, NEW_KEY) == "ghu_alice"
    assert decrypt_token(alice.oauth_refresh_token_enc, NEW_KEY) == "ghr_alice"
    assert decrypt_token(alice.oauth_access_token_enc, OLD_KEY) is None
    pat = session.exec(select(Installation)).one()
    assert decrypt_token(pat.token_enc, NEW_KEY) == "ghp_pat"
    bob = session.exec(select(User).where(User.gh_login == "bob")).one()
    assert decrypt_token(bob.oauth_access_token_enc, "a-key-long-lost") == "ghu_bob"  # left as is


def test_a_second_rotation_finds_nothing_left_to_do(engine, session, configure, tmp_path, capsys):
    session.add(User(gh_id=1, gh_login="alice", oauth_access_token_enc=encrypt_token("t", OLD_KEY)))
    session.commit()
    key_file = tmp_path / "old.key"
    key_file.write_text(OLD_KEY, encoding="utf-8")
    configure(GITPULSE_SECRET_KEY=NEW_KEY)
    main(["secrets", "rotate", "--from-key-file", str(key_file), "--json"])
    capsys.readouterr()

    assert main(["secrets", "rotate", "--from-key-file", str(key_file), "--json"]) == 0

    assert json.loads(capsys.readouterr().out) == {"rotated": 0, "skipped": 0}


def test_an_unreadable_key_file_exits_1_with_a_clear_message(engine, tmp_path, capsys):
    missing = tmp_path / "nope.key"

    assert main(["secrets", "rotate", "--from-key-file", str(missing), "--json"]) == 1

    captured = capsys.readouterr()
    error = json.loads(captured.out)["error"]
    assert error.startswith(f"Cannot read the old key from {missing}")
    assert error in captured.err


def test_an_empty_key_file_exits_1(engine, tmp_path, capsys):
    empty = tmp_path / "empty.key"
    empty.write_text("\n", encoding="utf-8")

    assert main(["secrets", "rotate", "--from-key-file", str(empty)]) == 1
    assert "is empty" in capsys.readouterr().err
