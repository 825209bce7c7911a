"""JSON logs, redaction and metrics.

Every log line is one JSON object: `ts, level, service, logger, msg` followed by the record's extra
fields. Servers log to stdout and the CLI to stderr; the caller picks the stream. Extra fields pass
through `redact`, so a token, cookie or e-mail address given as a field never reaches the log.
Metrics are ordinary INFO lines whose fields start with `"metric": NAME`.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import re
import sys
from collections.abc import Mapping
from typing import IO, Any

SERVICE = "gitpulse"
REDACTED = "[REDACTED]"

# The original's list (snake_case) plus every secret environment variable.
SENSITIVE_KEYS = frozenset(
    {
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
        "GITPULSE_SECRET_KEY",
        "GITHUB_CLIENT_SECRET",
        "GITHUB_APP_PRIVATE_KEY",
        "GITHUB_WEBHOOK_SECRET",
        "GITHUB_WEBHOOK_SECRET_PREVIOUS",
        "GITHUB_TOKEN",
        "OPENAI_API_KEY",
        "VOYAGE_API_KEY",
        "SMTP_URL",
    }
)

_SEPARATORS = re.compile(r"[\s_\-.]+")
# `userinfo@` of a URL such as smtp://user:pass@host (a secret even when the key looks harmless).
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)[^/\s@]+@")
_MAX_DEPTH = 32


def _normalize_key(key: object) -> str:
    # `Set-Cookie`, `set_cookie`, `accessToken` and `ACCESS_TOKEN` name the same thing.
    return _SEPARATORS.sub("", str(key)).lower()


_NORMALIZED_SENSITIVE = frozenset(_normalize_key(key) for key in SENSITIVE_KEYS)


# Beyond the list: a name whose last word says it holds a credential (`installation_token`,
# `webhook_secret`, `smtpPassword`, `app_private_key`) is a secret too.
_SECRET_LAST_WORDS = frozenset({"token", "secret", "password", "passwd"})
_SECRET_LAST_PAIRS = frozenset({("api", "key"), ("private", "key"), ("secret", "key")})
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _words(key: object) -> list[str]:
    return [word.lower() for word in _SEPARATORS.split(_CAMEL_BOUNDARY.sub("_", str(key))) if word]


@functools.lru_cache(maxsize=4096)
def is_sensitive_key(key: object) -> bool:
    """Whether a field of this name is always logged as `[REDACTED]`.

    Args:
        key: A mapping key; compared case-insensitively, ignoring `_`, `-`, `.` and spaces.

    Returns:
        True for `SENSITIVE_KEYS` (the secret environment variables among them), and names ending in
        token, secret, password, api key or private key.
    """
    if _normalize_key(key) in _NORMALIZED_SENSITIVE:
        return True
    words = _words(key)
    return bool(words) and (
        words[-1] in _SECRET_LAST_WORDS or tuple(words[-2:]) in _SECRET_LAST_PAIRS
    )


def scrub_text(text: str) -> str:
    """Hide credentials embedded in URLs (`scheme://user:pass@host` → `scheme://[REDACTED]@host`)."""
    if "@" not in text:
        return text
    return _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", text)


def _redact_value(value: Any) -> Any:
    # Numbers, booleans and None carry no secret (an `installation_id`, an SMTP `code` 451, "token
    # present: true"); only text and containers under a sensitive key are hidden.
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return REDACTED


def _json_key(key: object) -> object:
    return key if key is None or isinstance(key, (str, int, float, bool)) else str(key)


def redact(obj: Any, _depth: int = 0) -> Any:
    """Return a copy of `obj` in which every value under a sensitive key is `[REDACTED]`.

    Dicts (any mapping), lists, tuples and sets are walked at any depth; strings have URL
    credentials scrubbed. The input is never modified.

    Args:
        obj: Any value destined for a log line.

    Returns:
        The redacted copy.
    """
    if _depth > _MAX_DEPTH:
        return "[TOO DEEP]"
    if isinstance(obj, Mapping):
        return {
            _json_key(key): _redact_value(value) if is_sensitive_key(key) else redact(value, _depth + 1)
            for key, value in obj.items()
        }
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [redact(item, _depth + 1) for item in obj]
    if isinstance(obj, str):
        return scrub_text(obj)
    return obj


# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys()
    | {"message", "asctime", "taskName", "color_message"}
)
_FIELDS_ATTRIBUTE = "gitpulse_fields"
_CORE_KEYS = ("ts", "level", "service", "logger", "msg")


def _timestamp(created: float) -> str:
    moment = dt.datetime.fromtimestamp(created, tz=dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, value in record.__dict__.items():
        if key not in _RECORD_ATTRIBUTES and key != _FIELDS_ATTRIBUTE:
            fields[key] = value
    fields.update(getattr(record, _FIELDS_ATTRIBUTE, None) or {})
    return fields


class JsonFormatter(logging.Formatter):
    """Formats a record as one redacted JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname,
            "service": SERVICE,
            "logger": record.name,
            "msg": scrub_text(record.getMessage()),
        }
        for key, value in redact(_extra_fields(record)).items():
            # A field may not overwrite the fixed keys; it keeps its value under another name.
            line[f"field_{key}" if key in _CORE_KEYS else key] = value
        if record.exc_info:
            line["exc"] = scrub_text(self.formatException(record.exc_info))
        if record.stack_info:
            line["stack"] = scrub_text(self.formatStack(record.stack_info))
        return json.dumps(line, default=str, ensure_ascii=False)


class _GitPulseHandler(logging.StreamHandler):
    """The handler `configure_logging` installs (its type marks it, so a second call reuses it).

    Given the current `sys.stdout` or `sys.stderr`, it follows that name rather than the object,
    so output still lands when the stream is swapped later (pytest capture, a daemon redirect).
    """

    _follow: str | None = None
    _fixed: IO[str] | None = None

    @property  # type: ignore[override]
    def stream(self) -> IO[str]:
        return getattr(sys, self._follow) if self._follow else self._fixed

    @stream.setter
    def stream(self, value: IO[str]) -> None:
        if value is sys.stdout:
            self._follow, self._fixed = "stdout", None
        elif value is sys.stderr:
            self._follow, self._fixed = "stderr", None
        else:
            self._follow, self._fixed = None, value


def configure_logging(stream: IO[str] | None = None, level: int | str = logging.INFO) -> None:
    """Send every log record to `stream` as JSON lines; calling it again only retargets the stream.

    Args:
        stream: `sys.stdout` for server processes, `sys.stderr` for the CLI;
            defaults to stdout.
        level: Minimum level of the root logger (INFO by default).
    """
    root = logging.getLogger()
    target = stream if stream is not None else sys.stdout
    ours = [handler for handler in root.handlers if isinstance(handler, _GitPulseHandler)]
    for extra in ours[1:]:
        root.removeHandler(extra)
    if ours:
        handler = ours[0]
        with handler.lock:  # no flush of the old stream: it may already be closed
            handler.stream = target
    else:
        handler = _GitPulseHandler(target)
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter())
    root.setLevel(level)


def get_logger(name: str) -> logging.Logger:
    """The logger for a module; pass fields with `extra={...}` (they are redacted on output)."""
    return logging.getLogger(name)


_metrics_logger = logging.getLogger("gitpulse.metrics")


def log_fields(logger: logging.Logger, level: int, msg: str, /, **fields: Any) -> None:
    """Log `msg` with `fields`, whatever their names (even ones LogRecord reserves, like `name`).

    Args:
        logger: Where to log.
        level: A `logging` level.
        msg: The message (`msg` in the JSON line).
        **fields: Extra fields of the line, redacted on output.
    """
    if not logger.isEnabledFor(level):
        return  # what `logger.log` would decide, before the fields are sorted for nothing
    direct = {key: value for key, value in fields.items() if key not in _RECORD_ATTRIBUTES}
    reserved = {key: value for key, value in fields.items() if key in _RECORD_ATTRIBUTES}
    if reserved:
        direct[_FIELDS_ATTRIBUTE] = reserved
    logger.log(level, msg, extra=direct, stacklevel=2)


def metric(name: str, /, **fields: Any) -> None:
    """Emit a metric line: message `metric:NAME`, fields `{"metric": NAME, **fields}`, at INFO.

    Args:
        name: The metric name, e.g. `fact.upserted`.
        **fields: Its labels and value, e.g. `result="inserted"`.
    """
    log_fields(_metrics_logger, logging.INFO, f"metric:{name}", metric=name, **fields)
