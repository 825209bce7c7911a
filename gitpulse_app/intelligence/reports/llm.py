"""Generating with a model: the openai SDK against `OPENAI_BASE_URL`, with the retry schedule below.

Each model of the chain (`GITPULSE_LLM_MODEL`, then `GITPULSE_LLM_FALLBACK_MODEL`) is asked through
`chat.completions` with temperature 0.3, `max_tokens` 4000, `response_format` json_object and a 60 s
timeout. A 400 naming `response_format`, `max_tokens` or `temperature` is retried once without that
parameter (or with `max_completion_tokens`). Timeouts, connection errors, 429, 5xx, empty content,
`finish_reason == "length"` and unparseable answers are retried up to 3 times (after 1, 2, 4 s);
other 400s and 401/403/404 end the model at once, and so does any other error raised while
validating an answer (the next model is asked). The SDK itself never retries (`max_retries=0`).
A whole report gets 180 s; after that the caller falls back to the local writer.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from gitpulse_app.core.logging import metric
from gitpulse_app.core.provider_calls import LLM, record_call
from gitpulse_app.intelligence.reports.validate import AnswerError

log = logging.getLogger(__name__)

T = TypeVar("T")

TEMPERATURE = 0.3
MAX_TOKENS = 4000
CALL_TIMEOUT_S = 60.0
REPORT_DEADLINE_S = 180.0
RETRY_DELAYS_S = (1.0, 2.0, 4.0)
PROVIDER = "openai"

# USD per 1M tokens (input, output); unknown models cost None.
PRICES_PER_MILLION: dict[str, tuple[float, float]] = {
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.0, 8.0),
    "gpt-4o": (2.5, 10.0),
    "gpt-4o-mini": (0.15, 0.60),
}


def estimate_cost(model: str, input_tokens: int, output_tokens: int) -> float | None:
    """The price of one call, from the table above.

    A router prefix such as `openai/` (OpenRouter) is ignored; unknown models give None.
    """
    prices = PRICES_PER_MILLION.get(model) or PRICES_PER_MILLION.get(model.rsplit("/", 1)[-1])
    if prices is None:
        return None
    return (input_tokens * prices[0] + output_tokens * prices[1]) / 1_000_000


class ChainFailed(Exception):
    """No model of the chain produced a usable answer (or the report's deadline passed)."""

    def __init__(self, message: str, usage: ChainUsage) -> None:
        super().__init__(message)
        self.usage = usage


class _GiveUp(Exception):
    """This model is done: a non-retryable error or retries exhausted."""


class _Retry(Exception):
    """A retryable failure of one call."""


class _DeadlinePassed(Exception):
    """The whole-report deadline passed."""


@dataclass
class ChainUsage:
    """What the calls of one report cost."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    model_ms: float = 0.0
    calls: int = 0
    attempts: list[str] = field(default_factory=list)

    def add(self, model: str, input_tokens: int, output_tokens: int) -> None:
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        cost = estimate_cost(model, input_tokens, output_tokens)
        if cost is not None:
            self.cost_usd = (self.cost_usd or 0.0) + cost
        metric("llm_cost_usd", model=model, input_tokens=input_tokens,
               output_tokens=output_tokens, usd=cost)


@dataclass
class ChainResult(Generic[T]):
    """The parsed answer and the model that gave it."""

    value: T
    model: str
    usage: ChainUsage


def _error_text(exc: openai.APIStatusError) -> str:
    parts = [str(exc.message or "")]
    if exc.body is not None:
        try:
            parts.append(json.dumps(exc.body))
        except (TypeError, ValueError):
            parts.append(str(exc.body))
    return " ".join(parts).lower()


@functools.lru_cache(maxsize=8)
def _client(api_key: str, base_url: str | None) -> openai.OpenAI:
    """One SDK client per key and endpoint (building one costs tens of milliseconds)."""
    import openai  # imported on first use: it alone takes ~0.5 s to import (docs/STARTUP.md)

    client = openai.OpenAI(api_key=api_key, base_url=base_url, max_retries=0,
                           timeout=CALL_TIMEOUT_S)
    client.chat.completions  # noqa: B018 — resolve the lazily built resource once, here
    return client


class ReportModelChain:
    """Asks the configured models in order until one answers something `parse` accepts.

    Args:
        api_key: `OPENAI_API_KEY`.
        base_url: `OPENAI_BASE_URL` (None: the SDK default).
        models: The models in fallback order.
        sleep: Waits between retries (tests inject a recorder).
        clock: A monotonic clock in seconds, for the report deadline.
        deadline_s: The whole-report budget.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str | None,
        models: Sequence[str],
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        deadline_s: float = REPORT_DEADLINE_S,
    ) -> None:
        self.models = [model for model in dict.fromkeys(models) if model]
        self._client = _client(api_key, base_url or None)
        self._sleep = sleep
        self._clock = clock
        self._deadline = clock() + deadline_s

    def run(self, messages: list[dict[str, str]], parse: Callable[[str], T]) -> ChainResult[T]:
        """The first usable answer of the chain.

        Args:
            messages: The chat messages.
            parse: Turns content into the answer; raises `AnswerError` when it cannot.

        Returns:
            The parsed answer, the model that gave it and the usage of every call made.

        Raises:
            ChainFailed: Every model failed, or the deadline passed.
        """
        try:
            result = self._run(messages, parse)
        except ChainFailed as failure:
            # The chain's own sentence: the models' answers may quote what the request carried.
            record_call(LLM, False, str(failure))
            raise
        record_call(LLM, True)
        return result

    def _run(self, messages: list[dict[str, str]], parse: Callable[[str], T]) -> ChainResult[T]:
        usage = ChainUsage()
        try:
            for model in self.models:
                try:
                    value = self._ask(model, messages, parse, usage)
                except _GiveUp as exc:
                    log.warning("Report model gave up; trying the next writer",
                                extra={"model": model, "reason": str(exc)})
                    usage.attempts.append(f"{model}: {exc}")
                    continue
                return ChainResult(value, model, usage)
        except _DeadlinePassed:
            log.warning("Report deadline passed; using the local writer",
                        extra={"deadline_s": REPORT_DEADLINE_S})
            raise ChainFailed("The report deadline passed.", usage) from None
        raise ChainFailed("Every report model failed.", usage)

    def _remaining(self) -> float:
        remaining = self._deadline - self._clock()
        if remaining <= 0:
            raise _DeadlinePassed()
        return remaining

    def _ask(self, model: str, messages: list[dict[str, str]], parse: Callable[[str], T],
             usage: ChainUsage) -> T:
        params: dict[str, Any] = {
            "temperature": TEMPERATURE,
            "max_tokens": MAX_TOKENS,
            "response_format": {"type": "json_object"},
        }
        retries = 0
        while True:
            try:
                return self._call(model, messages, params, parse, usage)
            except _Retry as exc:
                if retries >= len(RETRY_DELAYS_S):
                    raise _GiveUp(f"{exc} (after {retries} retries)") from None
                delay = RETRY_DELAYS_S[retries]
                retries += 1
                if self._remaining() <= delay:
                    raise _DeadlinePassed() from None
                log.info("Retrying the report model", extra={
                    "model": model, "reason": str(exc), "delay_s": delay})
                self._sleep(delay)

    def _call(self, model: str, messages: list[dict[str, str]], params: dict[str, Any],
              parse: Callable[[str], T], usage: ChainUsage) -> T:
        import openai

        while True:  # loops only for the one-time 400 parameter adjustments
            timeout = min(CALL_TIMEOUT_S, self._remaining())
            started = time.perf_counter()
            usage.calls += 1
            try:
                response = self._client.chat.completions.create(
                    model=model, messages=messages, timeout=timeout, **params)
            except openai.APIStatusError as exc:
                if exc.status_code == 400 and self._adjust(params, _error_text(exc)):
                    continue
                if exc.status_code == 429 or exc.status_code >= 500:
                    raise _Retry(f"HTTP {exc.status_code}") from None
                raise _GiveUp(f"HTTP {exc.status_code}: {exc.message}") from None
            except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                raise _Retry(type(exc).__name__) from None
            except openai.OpenAIError as exc:
                raise _Retry(f"unreadable response: {exc}") from None
            finally:
                usage.model_ms += (time.perf_counter() - started) * 1000
            return self._read(model, messages, response, parse, usage)

    @staticmethod
    def _adjust(params: dict[str, Any], error: str) -> bool:
        """Drop or rename the parameter a 400 names, once each; False when none applies."""
        if "response_format" in error and "response_format" in params:
            del params["response_format"]
            return True
        if "max_tokens" in error and "max_tokens" in params:
            params["max_completion_tokens"] = params.pop("max_tokens")
            return True
        if "temperature" in error and "temperature" in params:
            del params["temperature"]
            return True
        return False

    @staticmethod
    def _read(model: str, messages: list[dict[str, str]], response: Any,
              parse: Callable[[str], T], usage: ChainUsage) -> T:
        try:
            choice = response.choices[0] if response.choices else None
            content = choice.message.content if choice is not None else None
            finish_reason = choice.finish_reason if choice is not None else None
            reported = response.usage
        except (AttributeError, TypeError, IndexError):
            raise _Retry("unreadable response") from None
        text = content if isinstance(content, str) else ""
        if reported is not None and getattr(reported, "prompt_tokens", None) is not None:
            usage.add(model, int(reported.prompt_tokens or 0),
                      int(getattr(reported, "completion_tokens", 0) or 0))
        else:
            prompt_chars = sum(len(message["content"]) for message in messages)
            usage.add(model, prompt_chars // 4, len(text) // 4)
        if not text.strip():
            raise _Retry("empty content")
        if finish_reason == "length":
            raise _Retry("answer cut off (finish_reason length)")
        try:
            return parse(text)
        except AnswerError as exc:
            raise _Retry(f"unparseable answer: {exc}") from None
        except Exception as exc:  # noqa: BLE001 — model text must never end the report
            log.exception("Validating a model answer failed", extra={"model": model})
            raise _GiveUp(f"answer failed validation ({type(exc).__name__})") from None
