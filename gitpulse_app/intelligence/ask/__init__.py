"""Ask: a question over the asker's visible facts, answered in a few cited bullets (docs/API.md)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from gitpulse_app.intelligence.ask.answer import AskAnswer, AskSource, answer
from gitpulse_app.intelligence.ask.retrieve import AskError, Retrieval, retrieve


def ask(user_id: int, question: str, *, start: dt.datetime | None = None,
        end: dt.datetime | None = None, now: dt.datetime | None = None,
        sleep: Callable[[float], None] = time.sleep) -> AskAnswer:
    """Retrieve the facts `question` names among those `user_id` can see, then answer with them.

    Raises:
        AskError: The question is empty or too long, or the range is reversed.
    """
    return answer(retrieve(user_id, question, start=start, end=end, now=now), sleep=sleep)


__all__ = ["AskAnswer", "AskError", "AskSource", "Retrieval", "answer", "ask", "retrieve"]
