"""A handler's unplanned error reaches the browser only as "Something went wrong (ref …)"; the
exception itself is logged with that reference (experience/components/feedback.py)."""

from __future__ import annotations

import asyncio
import logging
import re

from sqlmodel import Session

from gitpulse_app.experience import routes
from gitpulse_app.experience.timeline.page import TimelineState
from tests.support.reflex_events import event_driver, frontend_events, sent_text, signed_in_user

PROBE = "zz-internal-detail-42"


def test_an_unexpected_error_shows_only_a_reference(engine, session: Session, caplog):
    _user_id, token = signed_in_user(session, "oops")

    async def scenario():
        async with event_driver() as driver:
            tab = driver.tab(token).at(routes.TIMELINE)
            # A forged payload no handler planned for: a mapping where a type name belongs.
            return await tab.send(TimelineState.toggle_type, fact_type={PROBE: 1})

    with caplog.at_level(logging.ERROR):
        updates = asyncio.run(scenario())
    text = sent_text(updates)
    assert "unhashable" not in text and "TypeError" not in text and "Traceback" not in text
    toasts = [e for e in frontend_events(updates) if "Something went wrong" in repr(e.payload)]
    assert len(toasts) == 1
    ref = re.search(r"Something went wrong \(ref ([0-9a-f]{8})\)", repr(toasts[0].payload))[1]
    logged = [r for r in caplog.records if getattr(r, "ref", None) == ref]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert "unhashable" in str(logged[0].exc_info[1])
