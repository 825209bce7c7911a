"""`channel add|list|test|remove` in-process, with `--json` (one JSON object on stdout)."""

from __future__ import annotations

import hashlib
import hmac
import json

from gitpulse_app.core.crypto import decrypt_token
from gitpulse_app.experience.cli.main import main
from tests.support.fake_chat import FakeSlack

SECRET_FOR_ROTATION = "a-webhook-secret-to-rotate"


def run(capsys, *args: str) -> tuple[int, dict, str]:
    code = main([*args, "--json"])
    captured = capsys.readouterr()
    assert captured.out.count("\n") == 1, captured.out
    return code, json.loads(captured.out), captured.err


def test_add_list_test_remove_a_webhook_channel_with_a_generated_secret(team, fake_chat, capsys):
    receiver = fake_chat("webhook")
    team.user("alice")
    team.user("bob")
    team.merged("bob", "Speed up the importer")  # team logins resolve among visible actors
    capsys.readouterr()  # the fact store's log lines are not the command's output

    code, added, _ = run(capsys, "channel", "add", "--login", "ALICE", "--kind", "webhook",
                         "--url", receiver.url, "--name", "Ops hook", "--logins", "bob",
                         "--reports", "weekly")
    assert code == 0
    secret = added["secret"]
    assert len(secret) >= 32 and added["url"] == "…/" + receiver.url[-4:]
    assert (added["scope"], added["logins"], added["reports"]) == ("team", ["bob"], ["weekly"])
    row = team.channel_row(added["id"])
    assert decrypt_token(row.secret_enc) == secret and secret not in row.secret_enc
    assert receiver.url not in row.url_enc

    code, listed, _ = run(capsys, "channel", "list", "--login", "alice")
    assert code == 0 and [c["id"] for c in listed["channels"]] == [added["id"]]
    assert "secret" not in listed["channels"][0] and receiver.url not in json.dumps(listed)

    code, tested, _ = run(capsys, "channel", "test", str(added["id"]))
    assert code == 0 and tested["ok"] and tested["status"] == 200
    (request,) = receiver.requests
    assert request.headers["X-GitPulse-Event"] == "ping"
    expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-GitPulse-Signature-256"] == f"sha256={expected}"

    code, removed, _ = run(capsys, "channel", "remove", str(added["id"]))
    assert (code, removed) == (0, {"removed": added["id"]})
    assert run(capsys, "channel", "list", "--login", "alice")[1] == {"channels": []}


def test_the_human_add_prints_the_id_and_a_test_failure_exits_1(team, fake_chat, capsys):
    slack = fake_chat("slack")
    slack.script(FakeSlack.error("no_service", 404))
    team.user("alice")

    assert main(["channel", "add", "--login", "alice", "--kind", "slack", "--url", slack.url]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Channel 1 added:") and "Slack" in out and slack.url not in out

    code, error, err = run(capsys, "channel", "test", "1")
    assert code == 1 and "no_service" in error["error"] and "no_service" in err
    assert team.channel_row(1).status == "disabled"
    code, tested, _ = run(capsys, "channel", "test", "1")  # fixed on Slack's side: back on
    assert code == 0 and team.channel_row(1).status == "active"


def test_bad_channel_input_exits_with_a_clear_message(team, capsys):
    team.user("alice")
    cases = [
        (["--kind", "slack", "--url", "https://x.example/h", "--secret", "s" * 20],
         "only used by webhook channels"),
        (["--kind", "webhook", "--url", "https://93.184.216.34/h", "--secret", "short"],
         "at least 16 characters"),
        (["--kind", "discord", "--url", "https://93.184.216.34/not-a-webhook"],
         "Discord webhook URL"),
        (["--kind", "slack", "--url", "https://93.184.216.34/h", "--logins", "nobody"],
         "No user with login nobody"),
        (["--kind", "slack", "--url", "https://93.184.216.34/h", "--repo", "acme/secret"],
         "Repository acme/secret not found"),
        (["--kind", "slack", "--url", "https://93.184.216.34/h", "--reports", "hourly"],
         "daily, weekly or both"),
        (["--kind", "slack", "--url", "https://93.184.216.34/h", "--logins", "alice"],
         "team channel needs other people"),
    ]
    for flags, message in cases:
        code, error, _ = run(capsys, "channel", "add", "--login", "alice", *flags)
        assert code == 1 and message in error["error"], (flags, error)
    assert run(capsys, "channel", "list", "--login", "alice")[1] == {"channels": []}
    assert run(capsys, "channel", "add", "--login", "ghost", "--kind", "slack", "--url",
               "https://93.184.216.34/h")[0] == 1
    assert run(capsys, "channel", "remove", "99")[1] == {"error": "No channel with id 99."}
    code, error, _ = run(capsys, "channel", "add", "--login", "alice", "--kind", "slack",
                         "--url", "https://93.184.216.34/h", "--logins", "a", "--repo", "o/n")
    assert code == 2 and "not allowed with" in error["error"]


def test_secrets_rotate_re_encrypts_channel_urls_and_webhook_secrets(team, configure, tmp_path,
                                                                     capsys):
    team.user("alice")
    channel_id = team.channel("alice", "webhook", "https://93.184.216.34/hooks/x",
                              secret=SECRET_FOR_ROTATION)
    key_file = tmp_path / "old.key"
    key_file.write_text("test-secret-key", encoding="utf-8")  # the key the channel was saved with
    configure(GITPULSE_SECRET_KEY="a-brand-new-key")

    code, rotated, _ = run(capsys, "secrets", "rotate", "--from-key-file", str(key_file))

    assert code == 0 and rotated["rotated"] == 2
    row = team.channel_row(channel_id)
    assert decrypt_token(row.url_enc, "a-brand-new-key") == "https://93.184.216.34/hooks/x"
    assert decrypt_token(row.secret_enc, "a-brand-new-key") == SECRET_FOR_ROTATION
    assert decrypt_token(row.url_enc, "test-secret-key") is None
