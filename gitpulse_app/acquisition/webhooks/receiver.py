"""`POST /api/webhooks/github`: check, store, acknowledge, then wake the worker.

Only the envelope insert runs before the response (ack p99 < 100 ms). The checks run in a fixed
order, and the signature is verified over the raw bytes before the body is parsed as JSON, so an
unsigned body is never parsed. Bad input is answered 4xx; nothing is written for it.
"""

from __future__ import annotations

import asyncio
import codecs
import concurrent.futures
import functools
import json
import math
import re
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from gitpulse_app.acquisition.webhooks import processor
from gitpulse_app.acquisition.webhooks.signature import candidate_secrets, verify_signature
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.config import ConfigurationError, get_settings
from gitpulse_app.core.db import DatabaseUnavailable, insert_ignore, session_scope
from gitpulse_app.core.logging import get_logger
from gitpulse_app.core.models import WebhookEvent
from gitpulse_app.core.workers import foreground_request

MAX_BODY_BYTES = 25 * 1024 * 1024
MAX_GROUP = 200  # envelopes per shared commit
DELIVERY_ID = re.compile(r"[A-Za-z0-9-]{1,100}")
SIGNATURE_HEADER = "x-hub-signature-256"
DELIVERY_HEADER = "x-github-delivery"
EVENT_HEADER = "x-github-event"
# Set only by `trust_demo_seed` around an in-process call; a client cannot put keys in the scope.
DEMO_SEED_SCOPE_KEY = "gitpulse.demo_seed"
_BIGINT = (-(2**63), 2**63 - 1)
# The envelope's payload as the verified body text: stored as sent, not re-serialized.
RAW_PAYLOAD_KEY = "payload_json"

log = get_logger(__name__)


def _error(message: str, status_code: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status_code)


class _TooLarge(Exception):
    pass


class _BadJson(Exception):
    pass


def trust_demo_seed(app: ASGIApp) -> ASGIApp:
    """Wrap the API so requests through the wrapper may be signed with the demo seed key.

    Only the demo seed uses this, calling the wrapped app in-process (for example with
    `httpx.ASGITransport`); requests arriving over the network never pass through it.

    Args:
        app: The ASGI app of `create_api`.

    Returns:
        An ASGI app that marks each HTTP scope as a demo seed call, then calls `app`.
    """

    async def trusted(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {**scope, DEMO_SEED_SCOPE_KEY: True}
        await app(scope, receive, send)

    return trusted


def _declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


async def _read_body(request: Request) -> bytes:
    declared = _declared_length(request)
    if declared is not None and declared > MAX_BODY_BYTES:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _reject_constant(name: str) -> Any:
    # Python accepts NaN and Infinity; JSON (and PostgreSQL's json type) does not.
    raise _BadJson(name)


def _finite_float(text: str) -> float:
    # 1e400 parses to inf, which JSON (and PostgreSQL's json type) cannot hold.
    value = float(text)
    if math.isinf(value):
        raise _BadJson(text)
    return value


def _parse_object(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError, _BadJson):
        raise _BadJson from None
    if not isinstance(payload, dict):
        raise _BadJson
    return payload


def _storable_text(value: Any) -> str | None:
    """A payload string safe for a text column: no NUL, valid UTF-8 (lone surrogates replaced)."""
    if not isinstance(value, str):
        return None
    return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _installation_gh_id(payload: Mapping[str, Any]) -> int | None:
    installation = payload.get("installation")
    if not isinstance(installation, Mapping):
        return None
    value = installation.get("id")
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    # A value outside bigint cannot be an installation id; the envelope keeps it in the payload.
    return value if _BIGINT[0] <= value <= _BIGINT[1] else None


def raw_payload_text(body: bytes) -> str | None:
    """The body as text when it can be stored verbatim as the JSON payload, else None.

    `json.loads` also accepts a byte-order mark and UTF-16/32 bodies; those (rare) are stored
    re-serialized instead.
    """
    if body.startswith(codecs.BOM_UTF8):
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def envelope_values(delivery_id: str, event: str, payload: dict[str, Any],
                    raw_payload: str | None = None) -> dict[str, Any]:
    """The `webhook_events` row of a new delivery (pending, due now).

    Args:
        delivery_id: The `X-GitHub-Delivery` header.
        event: The `X-GitHub-Event` header.
        payload: The parsed body.
        raw_payload: The body text `payload` was parsed from (`raw_payload_text`), stored as is
            so a burst of large deliveries is not serialized again; default: serialize `payload`.
    """
    now = utcnow()
    return {
        "delivery_id": delivery_id,
        "event": event,
        "action": _storable_text(payload.get("action")),
        "installation_gh_id": _installation_gh_id(payload),
        RAW_PAYLOAD_KEY: raw_payload if raw_payload is not None else json.dumps(payload),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "received_at": now,
        "created_at": now,
        "updated_at": now,
    }


def store_envelopes(rows: Sequence[Mapping[str, Any]]) -> set[str]:
    """Insert envelopes in one transaction, skipping delivery ids already stored.

    Returns:
        The delivery ids that were inserted (a replayed id is absent).
    """
    if not rows:
        return set()
    with session_scope() as session:
        statement = _insert_envelopes(session.get_bind().dialect.name)
        return set(session.execute(statement, [dict(row) for row in rows]).scalars())


@functools.cache
def _insert_envelopes(dialect: str) -> sa.Insert:
    """`INSERT … ON CONFLICT (delivery_id) DO NOTHING RETURNING delivery_id`, run per row.

    The payload is bound as the JSON text itself (`RAW_PAYLOAD_KEY`); PostgreSQL casts it to its
    `json` type, which validates it as the column would.
    """
    table = WebhookEvent.__table__
    payload: sa.ColumnElement[Any] = sa.bindparam(RAW_PAYLOAD_KEY, type_=sa.Text)
    if dialect == "postgresql":
        payload = sa.cast(payload, postgresql.JSON)
    columns = ["delivery_id", "event", "action", "installation_gh_id", "status", "attempts",
               "next_attempt_at", "received_at", "created_at", "updated_at"]
    values = {name: sa.bindparam(name, type_=table.c[name].type) for name in columns}
    return insert_ignore(dialect, table, ["delivery_id"], {"payload": payload, **values}).returning(
        table.c.delivery_id
    )


def store_envelope(delivery_id: str, event: str, payload: dict[str, Any]) -> bool:
    """Insert one envelope unless its delivery id is already stored; True when it was new."""
    return delivery_id in store_envelopes([envelope_values(delivery_id, event, payload)])


class _GroupCommit:
    """Stores envelopes of concurrent requests in shared transactions (group commit).

    Each request still gets its answer only after its own envelope is committed; bursts of
    deliveries share one commit instead of queueing for the database one by one.
    """

    def __init__(self) -> None:
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[bool]]] = []
        self._flushing = False

    async def store(self, values: dict[str, Any]) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((values, future))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:MAX_GROUP], self._waiting[MAX_GROUP:]
                # A delivery id twice in one batch: the first is the delivery, the rest replays.
                first: dict[str, dict[str, Any]] = {}
                for values, _ in batch:
                    first.setdefault(values["delivery_id"], values)
                try:
                    inserted = await asyncio.get_running_loop().run_in_executor(
                        _ack_executor, store_envelopes, list(first.values()))
                except BaseException as exc:  # every waiting request answers with this error
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for values, future in batch:
                    is_new = values["delivery_id"] in inserted and first[values["delivery_id"]] is values
                    if not future.done():
                        future.set_result(is_new)
        finally:
            self._flushing = False


# Acks get a thread of their own: the default pool can be full of background workers' database
# calls, and an ack must not queue behind them.
_ack_executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="gitpulse-webhook-ack")


_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _GroupCommit] = (
    weakref.WeakKeyDictionary()
)


def _writer() -> _GroupCommit:
    loop = asyncio.get_running_loop()
    writer = _writers.get(loop)
    if writer is None:
        writer = _writers[loop] = _GroupCommit()
    return writer


def _allows_demo_key(request: Request) -> bool:
    return request.scope.get(DEMO_SEED_SCOPE_KEY) is True


def _instance_secret() -> str | None:
    try:
        return get_settings().secret_key
    except ConfigurationError:
        return None


async def receive_webhook(request: Request) -> JSONResponse:
    """The Starlette endpoint for `POST /api/webhooks/github` (docs/webhook-batches.md)."""
    try:
        with foreground_request():
            return await _receive(request)
    except Exception:
        log.exception("Webhook receiver failed")
        return _error("Internal server error", 500)


async def _receive(request: Request) -> JSONResponse:
    signature = request.headers.get(SIGNATURE_HEADER)
    delivery_id = request.headers.get(DELIVERY_HEADER)
    event = request.headers.get(EVENT_HEADER)
    # An empty event names nothing, so it counts as missing; an empty delivery id or signature is
    # present but invalid (the checks below).
    if signature is None or delivery_id is None or event is None or not event.strip():
        return _error("Missing required webhook headers", 400)
    if not DELIVERY_ID.fullmatch(delivery_id):
        return _error("Invalid delivery id", 400)

    try:
        body = await _read_body(request)
    except _TooLarge:
        return _error("Payload too large", 413)
    except ClientDisconnect:
        # Nobody reads this answer; nothing was stored.
        return _error("Invalid JSON payload", 400)

    settings = get_settings()
    demo_seed = _allows_demo_key(request)
    if not settings.github_webhook_secret and not demo_seed:
        return _error("Webhook secret not configured", 500)
    secrets = candidate_secrets(
        settings.github_webhook_secret,
        settings.github_webhook_secret_previous,
        demo_secret_key=_instance_secret() if demo_seed else None,
        allow_demo_key=demo_seed,
    )
    if not verify_signature(body, signature, secrets):
        return _error("Invalid signature", 401)

    try:
        payload = _parse_object(body)
    except _BadJson:
        return _error("Invalid JSON payload", 400)

    try:
        values = envelope_values(delivery_id, event, payload, raw_payload_text(body))
        stored = await _writer().store(values)
    except (DatabaseUnavailable, sa.exc.OperationalError, sa.exc.InterfaceError,
            sa.exc.TimeoutError):
        log.warning("Webhook envelope not stored: database unavailable",
                    extra={"delivery_id": delivery_id, "event": event}, exc_info=True)
        return _error("Service temporarily unavailable", 503)

    body_ok = {"ok": True, "deliveryId": delivery_id}
    if not stored:
        log.info("Replayed webhook delivery ignored", extra={"delivery_id": delivery_id})
        return JSONResponse(body_ok)
    return JSONResponse(body_ok, background=BackgroundTask(_wake_processor))


async def _wake_processor() -> None:
    # A coroutine runs on the loop; a plain function would cost a thread-pool hop per delivery.
    processor.wake()
