"""A realistic mix of webhook deliveries for the processing benchmarks and profile.

Four kinds in turn, as a busy repository sends them: a pull request opened, an issue comment, a
review submitted, and a push of three commits (so one delivery in four yields three facts). Every
delivery has its own delivery id and its own facts, all through one App installation.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from tests.support.payloads import load_webhook

INSTALLATION_GH_ID = 4_242
COMMITS_PER_PUSH = 3
KINDS = (
    ("pull_request", "opened"),
    ("issue_comment", "created"),
    ("pull_request_review", "submitted"),
    ("push", "with-new-branch"),
)


@dataclass(frozen=True)
class MixDelivery:
    """One delivery of the mix: its id, event, body, and the facts processing must store."""

    delivery_id: str
    event: str
    body: bytes
    facts: tuple[tuple[str, str], ...]


def _numbered(event: str, template: dict[str, Any], n: int) -> dict[str, Any]:
    payload = copy.deepcopy(template)
    payload["installation"] = {"id": INSTALLATION_GH_ID}
    repo = payload["repository"]["full_name"]
    html = f"https://github.com/{repo}"
    if event == "pull_request":
        payload["number"] = payload["pull_request"]["number"] = n
        payload["pull_request"]["id"] = 500_000_000 + n
        payload["pull_request"]["html_url"] = f"{html}/pull/{n}"
    elif event == "issue_comment":
        payload["comment"]["id"] = 700_000_000 + n
        payload["comment"]["html_url"] = f"{html}/issues/{n}#issuecomment-{700_000_000 + n}"
        payload["issue"]["number"] = n
        payload["issue"]["html_url"] = f"{html}/issues/{n}"
    elif event == "pull_request_review":
        review_id = 800_000_000 + n
        payload["review"]["id"] = review_id
        payload["review"]["html_url"] = f"{html}/pull/{n}#pullrequestreview-{review_id}"
        payload["pull_request"]["number"] = n
        payload["pull_request"]["html_url"] = f"{html}/pull/{n}"
    else:
        first = payload["commits"][0]
        commits = []
        for k in range(COMMITS_PER_PUSH):
            sha = f"{n:032x}{k:08x}"
            commits.append({**copy.deepcopy(first), "id": sha, "url": f"{html}/commit/{sha}",
                            "message": f"Change {n}.{k}: tighten the handler"})
        payload["commits"] = commits
        payload["head_commit"] = commits[-1]
        payload["after"] = commits[-1]["id"]
    return payload


def build_mix(count: int, prefix: str, first_number: int = 1) -> list[MixDelivery]:
    """`count` deliveries cycling through `KINDS`, numbered from `first_number`."""
    from gitpulse_app.normalization.canonicalize_webhook import canonicalize_webhook

    templates = [(event, load_webhook(event, name)) for event, name in KINDS]
    made = []
    for index in range(count):
        event, template = templates[index % len(templates)]
        payload = _numbered(event, template, first_number + index)
        facts = tuple((f.type, f.source_url) for f in canonicalize_webhook(event, payload))
        made.append(MixDelivery(f"{prefix}-{index:05d}", event,
                                json.dumps(payload, separators=(",", ":")).encode(), facts))
    return made
