"""Webhook ack latency (issue 3): concurrent signed deliveries against the app under uvicorn."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import httpx

from bench.run import Figure
from bench.server import serve_api
from bench.stats import percentile

SECRET = "bench-webhook-secret"
CONCURRENCY = 50
ROUNDS = 10


def _pull_request_body(n: int) -> bytes:
    fixture = Path(__file__).resolve().parents[1] / "tests/fixtures/github/webhooks/pull_request"
    payload = json.loads((fixture / "opened.payload.json").read_text())
    payload["number"] = payload["pull_request"]["number"] = 10_000 + n
    payload["pull_request"]["html_url"] = f"https://github.com/Codertocat/Hello-World/pull/{10_000 + n}"
    return json.dumps(payload).encode()


def _request_bytes(host: str, path: str, body: bytes) -> bytes:
    from gitpulse_app.acquisition.webhooks.signature import sign

    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-GitHub-Event: pull_request\r\n"
            f"X-GitHub-Delivery: {uuid.uuid4()}\r\nX-Hub-Signature-256: {sign(body, SECRET)}\r\n\r\n")
    return head.encode() + body


async def _send(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> float:
    """One request on a kept-alive connection; the latency from first byte out to last byte in."""
    started = time.perf_counter()
    writer.write(request)
    await writer.drain()
    status = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)
    elapsed = (time.perf_counter() - started) * 1000
    if b" 200 " not in status:
        raise RuntimeError(f"delivery answered {status!r}")
    return elapsed


async def _load(url: str) -> list[float]:
    """ROUNDS bursts of CONCURRENCY simultaneous deliveries, one connection per client.

    A raw HTTP/1.1 client keeps the load generator's own cost out of the measured latency (an
    HTTP library spends more CPU per request than the receiver does).
    """
    parsed = httpx.URL(url)
    connections = [await asyncio.open_connection(parsed.host, parsed.port)
                   for _ in range(CONCURRENCY)]
    host = f"{parsed.host}:{parsed.port}"
    samples: list[float] = []
    try:
        await _send(*connections[0], _request_bytes(host, parsed.path, _pull_request_body(-1)))
        for round_no in range(ROUNDS):
            requests = [_request_bytes(host, parsed.path, _pull_request_body(round_no * CONCURRENCY + i))
                        for i in range(CONCURRENCY)]
            samples += await asyncio.gather(
                *(_send(r, w, req) for (r, w), req in zip(connections, requests, strict=True)))
    finally:
        for _, writer in connections:
            writer.close()
    return samples


def bench_webhook_ack(workdir: Path) -> list[Figure]:
    env = {"GITHUB_WEBHOOK_SECRET": SECRET}
    with serve_api(f"sqlite:///{workdir / 'webhooks.db'}", env) as base:
        samples = asyncio.run(_load(f"{base}/api/webhooks/github"))
    return [
        Figure("webhook_ack_p50_ms", round(percentile(samples, 50), 2), "ms", "aim <= 20"),
        Figure("webhook_ack_p99_ms", round(percentile(samples, 99), 2), "ms", "<= 100"),
    ]
