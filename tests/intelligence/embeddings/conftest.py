"""Factories and fake embedding APIs for the embeddings tests.

`fake_voyage` and `fake_openai` are real HTTP servers on 127.0.0.1 speaking the providers' REST
wire formats (`POST /v1/embeddings`); the app reaches them through `VOYAGE_BASE_URL` and
`OPENAI_BASE_URL`, exactly as it would reach the real services.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from sqlmodel import Session

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.models import (
    Embedding,
    EmbeddingQueueItem,
    Event,
    Repo,
    User,
)
from gitpulse_app.intelligence.embeddings.providers import local_vector, reset_providers
from tests.support.fake_http import FakeHTTPServer, FakeResponse, RecordedRequest
# Re-exported: the test modules import openai_error from here.
from tests.support.fake_openai import (  # noqa: F401
    EMBEDDINGS_PATH,
    openai_error,
    start_fake_openai,
)
# Re-exported: the test modules import these row factories from here.
from tests.support.rows import make_app_source as link, make_repo, make_user  # noqa: F401

_serial = itertools.count(1)


@pytest.fixture(autouse=True)
def fresh_providers():
    reset_providers()
    yield
    reset_providers()


# Rows ---------------------------------------------------------------------------------------------
def fact_row(repo: Repo, actor: User, text: str, *, fact_type: str = "commit",
             meta: dict[str, Any] | None = None, ts: dt.datetime | None = None,
             content_hash: str | None = None) -> Event:
    number = next(_serial)
    url = f"https://github.com/{repo.full_name}/commit/{number:040x}"
    return Event(
        type=fact_type, repo_id=repo.id, actor_id=actor.id,
        ts=ts or dt.datetime(2025, 12, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=number),
        canonical_text=text, source_url=url,
        meta=meta if meta is not None else {"sha": f"{number:040x}", "message": text},
        content_hash=content_hash or hashlib.sha256(f"{text}::{url}".encode()).hexdigest(),
        observed_via="webhook",
    )


def make_facts(session: Session, texts: list[str], *, repo: Repo | None = None,
               actor: User | None = None, **kwargs: Any) -> list[Event]:
    repo = repo or make_repo(session)
    actor = actor or make_user(session)
    rows = [fact_row(repo, actor, text, **kwargs) for text in texts]
    session.add_all(rows)
    session.commit()
    return rows


def queue_rows(session: Session) -> list[EmbeddingQueueItem]:
    session.expire_all()
    return list(session.scalars(sa.select(EmbeddingQueueItem).order_by(EmbeddingQueueItem.id)))


def embeddings(session: Session) -> list[Embedding]:
    session.expire_all()
    return list(session.scalars(sa.select(Embedding).order_by(Embedding.id)))


# Fake providers -----------------------------------------------------------------------------------
def fake_vector(text: str, dimensions: int = 1024) -> list[float]:
    """What the fakes answer: the local hashing vector (so ranking is meaningful), resized."""
    vector = local_vector(text)
    if dimensions != vector.size:
        vector = np.resize(vector, dimensions)
    return vector.tolist()


def voyage_answer(dimensions: int = 1024) -> Callable[[RecordedRequest], FakeResponse]:
    """Voyage's `POST /v1/embeddings`: {input, model, input_type, encoding_format?} →
    {object, data:[{object, embedding, index}], model, usage}; base64 when asked for it."""

    def respond(request: RecordedRequest) -> FakeResponse:
        body = request.json()
        data = []
        for index, text in enumerate(body["input"]):
            vector = fake_vector(text, dimensions)
            if body.get("encoding_format") == "base64":
                embedding: Any = base64.b64encode(np.asarray(vector, "<f4").tobytes()).decode()
            else:
                embedding = vector
            data.append({"object": "embedding", "embedding": embedding, "index": index})
        tokens = sum(len(text.split()) for text in body["input"])
        return FakeResponse(200, json={"object": "list", "data": data, "model": body["model"],
                                       "usage": {"total_tokens": tokens}})

    return respond


def openai_answer(dimensions: int | None = None) -> Callable[[RecordedRequest], FakeResponse]:
    """OpenAI's `POST /v1/embeddings` → {object:"list", data:[{object:"embedding", embedding,
    index}], model, usage}; honours `dimensions` and `encoding_format`."""

    def respond(request: RecordedRequest) -> FakeResponse:
        body = request.json()
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        size = dimensions or body.get("dimensions") or 1536
        data = []
        for index, text in enumerate(inputs):
            vector = fake_vector(text, size)
            if body.get("encoding_format") == "base64":
                embedding: Any = base64.b64encode(np.asarray(vector, "<f4").tobytes()).decode()
            else:
                embedding = vector
            data.append({"object": "embedding", "embedding": embedding, "index": index})
        tokens = sum(len(text.split()) for text in inputs)
        return FakeResponse(200, json={
            "object": "list", "data": data, "model": body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        })

    return respond


def voyage_error(status: int, detail: str) -> FakeResponse:
    return FakeResponse(status, json={"detail": detail})


@pytest.fixture
def fake_voyage(fake_http_factory, configure) -> FakeHTTPServer:
    """A fake Voyage API, configured as the primary provider (`VOYAGE_API_KEY`, base URL)."""
    server = fake_http_factory("fake-voyage")
    server.add("POST", "/v1/embeddings", voyage_answer())
    configure(VOYAGE_API_KEY="pa-test-voyage", VOYAGE_BASE_URL=f"{server.url}/v1")
    return server


@pytest.fixture
def fake_openai(fake_http_factory, configure) -> FakeHTTPServer:
    """A fake OpenAI API, configured through `OPENAI_API_KEY` and `OPENAI_BASE_URL`."""
    server = start_fake_openai(fake_http_factory, configure, "sk-test-openai")
    server.add("POST", EMBEDDINGS_PATH, openai_answer())
    return server


def embedding_calls(server: FakeHTTPServer) -> list[dict[str, Any]]:
    """The JSON bodies of every embeddings call the fake received."""
    return [request.json() for request in server.requests_to("/v1/embeddings", "POST")]


@pytest.fixture
def t0() -> dt.datetime:
    return utcnow()
