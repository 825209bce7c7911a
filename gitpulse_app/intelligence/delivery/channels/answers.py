"""What an endpoint's answer means for a delivery (docs/CHANNELS.md "Retries").

- 2xx: delivered.
- 429: wait as long as `retry_after` (JSON body) or `Retry-After` asks, then try again.
- 5xx, timeouts and network failures: try again later (3 tries in all, then failed with Retry).
- 404, 410, or Slack's `no_service`, `channel_not_found`, `channel_is_archived`, `invalid_token`:
  the destination is gone; the channel is disabled with that reason.
- 3xx: redirects are not followed; failed. Other 4xx and refused addresses: failed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from gitpulse_app.intelligence.delivery.channels.transport import Answer

SENT, RATE_LIMITED, RETRY, DISABLE, FAIL = "sent", "rate_limited", "retry", "disable", "fail"
SLACK_GONE = frozenset({"no_service", "channel_not_found", "channel_is_archived",
                        "invalid_token"})
DEFAULT_RETRY_AFTER_S = 30.0
MAX_RETRY_AFTER_S = 3600.0
PLATFORM = {"slack": "Slack", "discord": "Discord", "webhook": "The endpoint"}


@dataclass(frozen=True)
class Verdict:
    """How to settle a delivery: `action` is one of sent, rate_limited, retry, disable, fail."""

    action: str
    reason: str
    wait_s: float = 0.0


def _detail(body: str) -> str:
    """A short, safe description of an error body: Discord's `message`, else the text."""
    try:
        parsed = json.loads(body) if body.startswith("{") else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
        return parsed["message"][:120]
    return body[:120]


def judge(kind: str, answer: Answer) -> Verdict:
    """The verdict on one answer from a `kind` channel."""
    who = PLATFORM.get(kind, "The endpoint")
    status = answer.status
    if status is None:
        return Verdict(FAIL if answer.refused else RETRY, answer.error or "No answer")
    detail = _detail(answer.body)
    code = answer.body.strip() if kind == "slack" else ""
    described = f"{who} answered HTTP {status}" + (f" ({detail})" if detail else "")
    if kind == "slack" and code in SLACK_GONE:
        return Verdict(DISABLE, f"Slack answered {code} (HTTP {status})")
    if 200 <= status < 300:
        return Verdict(SENT, f"{who} answered HTTP {status}" + (f" {detail}" if detail else ""))
    if status == 429:
        wait = answer.retry_after if answer.retry_after is not None else DEFAULT_RETRY_AFTER_S
        return Verdict(RATE_LIMITED, f"{who} is rate limiting (HTTP 429)",
                       min(wait, MAX_RETRY_AFTER_S))
    if status in (404, 410):
        return Verdict(DISABLE, described + ": the destination no longer exists")
    if 300 <= status < 400:
        return Verdict(FAIL, f"{who} answered with a redirect (HTTP {status}); redirects are "
                             "not followed, so use the final URL")
    if status >= 500:
        return Verdict(RETRY, described)
    return Verdict(FAIL, described)
