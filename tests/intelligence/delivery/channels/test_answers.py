"""What each endpoint answer means: sent, wait, retry, disable or fail."""

from __future__ import annotations

import datetime as dt

import pytest

from gitpulse_app.intelligence.delivery.channels.answers import judge
from gitpulse_app.intelligence.delivery.channels.transport import Answer, _retry_after

NOW = dt.datetime(2025, 12, 5, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(("kind", "answer", "action"), [
    ("slack", Answer(200, "ok"), "sent"),
    ("discord", Answer(204), "sent"),
    ("webhook", Answer(202, "queued"), "sent"),
    ("slack", Answer(429, "", retry_after=7), "rate_limited"),
    ("webhook", Answer(503, "busy"), "retry"),
    ("webhook", Answer(None, error="The endpoint did not answer in time"), "retry"),
    ("webhook", Answer(None, error="private", refused=True), "fail"),
    ("slack", Answer(404, "no_service"), "disable"),
    ("slack", Answer(404, "channel_not_found"), "disable"),
    ("slack", Answer(403, "invalid_token"), "disable"),
    ("slack", Answer(410, "channel_is_archived"), "disable"),
    ("discord", Answer(404, '{"message": "Unknown Webhook", "code": 10015}'), "disable"),
    ("webhook", Answer(410, "gone"), "disable"),
    ("slack", Answer(400, "invalid_payload"), "fail"),
    ("webhook", Answer(301, ""), "fail"),
])
def test_each_answer_gets_its_verdict(kind, answer, action):
    assert judge(kind, answer).action == action


def test_the_verdict_names_the_platform_and_its_reason():
    verdict = judge("discord", Answer(404, '{"message": "Unknown Webhook", "code": 10015}'))
    assert verdict.reason == ("Discord answered HTTP 404 (Unknown Webhook): the destination no "
                              "longer exists")
    assert judge("slack", Answer(429, "")).wait_s == 30  # no hint: a default wait
    assert judge("slack", Answer(429, "", retry_after=99999)).wait_s == 3600  # capped


def test_retry_after_comes_from_the_body_the_header_in_seconds_or_an_http_date():
    assert _retry_after({}, '{"retry_after": 1.25, "global": false}', NOW) == 1.25
    assert _retry_after({"retry-after": "12"}, "rate_limited", NOW) == 12
    assert _retry_after({"retry-after": "Fri, 05 Dec 2025 12:00:40 GMT"}, "", NOW) == 40
    assert _retry_after({}, "", NOW) is None
