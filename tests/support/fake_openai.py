"""A fake OpenAI-compatible API: a `FakeHTTPServer` (tests/support/fake_http.py) the app reaches
through `OPENAI_BASE_URL`, and answers in OpenAI's wire format.

Chat completions are `POST /v1/chat/completions`, embeddings `POST /v1/embeddings`; errors carry
OpenAI's `{"error": {message, type, param, code}}` body.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from tests.support.fake_http import FakeHTTPServer, FakeResponse

CHAT_PATH = "/v1/chat/completions"
EMBEDDINGS_PATH = "/v1/embeddings"

_serial = itertools.count(1)


def start_fake_openai(fake_http_factory: Callable[..., FakeHTTPServer],
                      configure: Callable[..., Any], api_key: str,
                      **settings: str) -> FakeHTTPServer:
    """A started fake, configured as the app's OpenAI API (`OPENAI_API_KEY`, `OPENAI_BASE_URL`
    and any other `settings`)."""
    server = fake_http_factory("fake-openai")
    configure(OPENAI_API_KEY=api_key, OPENAI_BASE_URL=f"{server.url}/v1", **settings)
    return server


def completion(content: str | None, *, model: str = "gpt-4.1-mini", finish_reason: str = "stop",
               usage: dict[str, int] | None = None) -> FakeResponse:
    """A `POST /v1/chat/completions` answer in the OpenAI wire format."""
    body = {
        "id": f"chatcmpl-{next(_serial)}", "object": "chat.completion", "created": 1764946800,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content,
                                             "refusal": None},
                     "logprobs": None, "finish_reason": finish_reason}],
        "usage": usage if usage is not None else
        {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500},
    }
    return FakeResponse(200, json=body)


def openai_error(status: int, message: str, *, param: str | None = None,
                 code: str | None = None) -> FakeResponse:
    """An OpenAI error answer (`invalid_request_error`)."""
    return FakeResponse(status, json={"error": {"message": message, "type": "invalid_request_error",
                                                "param": param, "code": code}})
