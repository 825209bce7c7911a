"""JSON log lines, redaction and metric lines."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
import sys
from collections.abc import Iterator

import pytest

from gitpulse_app.core.logging import (
    REDACTED,
    configure_logging,
    get_logger,
    metric,
    redact,
)

SECRET_ENV_NAMES = [
    "GITPULSE_SECRET_KEY",
    "GITHUB_CLIENT_SECRET",
    "GITHUB_APP_PRIVATE_KEY",
    "GITHUB_WEBHOOK_SECRET",
    "GITHUB_WEBHOOK_SECRET_PREVIOUS",
    "GITHUB_TOKEN",
    "OPENAI_API_KEY",
    "VOYAGE_API_KEY",
    "SMTP_URL",
]
SPEC_KEYS = [
    "email",
    "github_email",
    "gh_login",
    "github_username",
    "login",
    "access_token",
    "refresh_token",
    "token",
    "code",
    "authorization",
    "cookie",
    "set-cookie",
    "api_key",
    "password",
    "secret",
]


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """JSON logging into a buffer; the root logger is restored afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging(stream)
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_record_is_one_json_object_on_its_own_line(log_stream):
    log = get_logger("gitpulse.acquisition.sync")
    log.info("first line\nsecond line of the same message", extra={"repo_id": 3})
    log.warning("another")

    raw = log_stream.getvalue().splitlines()
    assert len(raw) == 2
    first, second = lines(log_stream)
    assert list(first)[:5] == ["ts", "level", "service", "logger", "msg"]
    assert first["level"] == "INFO"
    assert first["service"] == "gitpulse"
    assert first["logger"] == "gitpulse.acquisition.sync"
    assert first["msg"] == "first line\nsecond line of the same message"
    assert first["repo_id"] == 3
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["ts"])
    assert second["level"] == "WARNING"


def test_level_is_info_so_debug_is_dropped(log_stream):
    log = get_logger("gitpulse.test")
    log.debug("hidden")
    log.info("shown")

    assert [line["msg"] for line in lines(log_stream)] == ["shown"]


def test_sensitive_fields_are_redacted_at_any_depth(log_stream):
    get_logger("gitpulse.test").info(
        "oauth callback",
        extra={
            "token": "gho_secret",
            "user": {"login": "octocat", "id": 42, "profile": {"email": "o@example.com"}},
            "headers": [{"Authorization": "Bearer abc"}, ("x", {"Set-Cookie": "sid=1"})],
            "attempt": 2,
        },
    )

    [line] = lines(log_stream)
    assert line["token"] == REDACTED
    assert line["user"] == {"login": REDACTED, "id": 42, "profile": {"email": REDACTED}}
    assert line["headers"] == [{"Authorization": REDACTED}, ["x", {"Set-Cookie": REDACTED}]]
    assert line["attempt"] == 2
    assert "gho_secret" not in log_stream.getvalue()
    assert "o@example.com" not in log_stream.getvalue()


@pytest.mark.parametrize("key", SPEC_KEYS + SECRET_ENV_NAMES)
def test_every_listed_key_is_redacted_in_any_case(key):
    for spelling in (key, key.upper(), key.lower(), key.title()):
        assert redact({"outer": [{spelling: "s3cr3t"}]}) == {"outer": [{spelling: REDACTED}]}


def test_separator_and_camel_case_spellings_are_redacted():
    assert redact({"set_cookie": "a", "Set-Cookie": "b", "accessToken": "c", "api-key": "d"}) == {
        "set_cookie": REDACTED,
        "Set-Cookie": REDACTED,
        "accessToken": REDACTED,
        "api-key": REDACTED,
    }


@pytest.mark.parametrize(
    "key", ["installation_token", "webhookSecret", "smtp_password", "app-private-key", "voyageApiKey"]
)
def test_names_ending_in_a_credential_word_are_redacted(key):
    assert redact({key: "value"}) == {key: REDACTED}


def test_numeric_ids_and_harmless_keys_are_not_redacted():
    fields = {
        "id": 7,
        "user_id": 1,
        "installation_id": 99,
        "repo_id": 3,
        "event_id": "d1e2",
        "code": 451,
        "token_present": True,
        "input_tokens": 1200,
        "status_code": 502,
        "max_tokens": 800,
        "token_expires_at": "2024-01-01T00:00:00Z",
        "secret_rotated": "yes",
        "key": "repo-1",
    }

    assert redact(fields) == fields


def test_redact_returns_a_copy_and_leaves_the_input_alone():
    original = {"nested": {"password": "hunter2"}, "items": [{"token": "t"}]}

    redacted = redact(original)

    assert redacted == {"nested": {"password": REDACTED}, "items": [{"token": REDACTED}]}
    assert original == {"nested": {"password": "hunter2"}, "items": [{"token": "t"}]}


def test_credentials_inside_urls_are_scrubbed_from_messages_and_values(log_stream):
    get_logger("gitpulse.email").info(
        "connecting to smtps://mailer:pa55@smtp.example.com:465",
        extra={"target": "https://x-access-token:ghs_1@github.com/o/r.git"},
    )

    [line] = lines(log_stream)
    assert line["msg"] == f"connecting to smtps://{REDACTED}@smtp.example.com:465"
    assert line["target"] == f"https://{REDACTED}@github.com/o/r.git"


def test_metric_is_an_info_line_named_in_the_message_and_the_fields(log_stream):
    metric("sync.request", installation_id=5, trigger="manual", result="accepted")

    [line] = lines(log_stream)
    assert line["level"] == "INFO"
    assert line["msg"] == "metric:sync.request"
    assert {k: line[k] for k in ("metric", "installation_id", "trigger", "result")} == {
        "metric": "sync.request",
        "installation_id": 5,
        "trigger": "manual",
        "result": "accepted",
    }


def test_metric_fields_may_use_names_logging_reserves(log_stream):
    metric("llm_cost_usd", model="gpt-4.1-mini", name="report", module="writer", usd=None)

    [line] = lines(log_stream)
    assert (line["name"], line["module"], line["usd"]) == ("report", "writer", None)


def test_metric_fields_are_redacted_too(log_stream):
    metric("events_ingested", event_id="abc", login="octocat")

    [line] = lines(log_stream)
    assert line["login"] == REDACTED
    assert line["event_id"] == "abc"


def test_configure_logging_is_idempotent_and_can_move_to_another_stream(log_stream):
    configure_logging(log_stream)
    get_logger("gitpulse.test").info("once")
    assert len(lines(log_stream)) == 1

    other = io.StringIO()
    configure_logging(other)
    get_logger("gitpulse.test").info("elsewhere")

    assert len(lines(log_stream)) == 1
    assert [line["msg"] for line in lines(other)] == ["elsewhere"]


def test_a_field_cannot_replace_a_core_key(log_stream):
    get_logger("gitpulse.test").info("hello", extra={"level": "fake", "service": "other"})

    [line] = lines(log_stream)
    assert (line["level"], line["service"]) == ("INFO", "gitpulse")
    assert (line["field_level"], line["field_service"]) == ("fake", "other")


def test_exceptions_and_non_json_values_still_make_one_line(log_stream):
    try:
        raise ValueError("broken")
    except ValueError:
        get_logger("gitpulse.test").exception(
            "failed", extra={"at": dt.datetime(2024, 1, 2, tzinfo=dt.timezone.utc), "tags": {"a"}}
        )

    [line] = lines(log_stream)
    assert line["level"] == "ERROR"
    assert "ValueError: broken" in line["exc"]
    assert line["at"] == "2024-01-02 00:00:00+00:00"
    assert line["tags"] == ["a"]


def test_the_cli_logs_to_whatever_stderr_currently_is(log_stream, capsys):
    configure_logging(sys.stderr)
    get_logger("gitpulse.cli").info("to stderr")

    captured = capsys.readouterr()
    assert captured.out == ""
    assert json.loads(captured.err.splitlines()[-1])["msg"] == "to stderr"
    assert log_stream.getvalue() == ""


def test_retargeting_away_from_a_closed_stream_does_not_fail(log_stream):
    closed = io.StringIO()
    configure_logging(closed)
    closed.close()

    configure_logging(log_stream)
    get_logger("gitpulse.test").info("after")

    assert [line["msg"] for line in lines(log_stream)] == ["after"]
