"""Non-table types of the report pipeline: scope, collected facts, sections, outcomes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from gitpulse_app.core.models import Report

PROMPT_VERSION = "py-v1"
LOCAL_MODEL = "local-extractive-v1"
NO_ACTIVITY = "No activity recorded"
EMPTY_PROVIDER = "none"  # the provider and model of a report of a window without facts
LOCAL_PROVIDER = "local"  # the provider of a report the local writer wrote

DAILY = "daily"
WEEKLY = "weekly"
KINDS = (DAILY, WEEKLY)

SECTION_TITLES: dict[str, tuple[str, ...]] = {
    DAILY: ("Work Completed", "Key Decisions & Context", "Momentum & Next Steps"),
    WEEKLY: ("Accomplishments", "Technical Insights", "Challenges & Growth",
             "Momentum & Direction"),
}

# Origins that never restore a soft-deleted standard report.
AUTOMATIC_ORIGINS = frozenset({"scheduled", "post_sync", "onboarding", "backfill"})
ORIGINS = AUTOMATIC_ORIGINS | {"manual", "demo"}

TRUST_THRESHOLD = 0.7


class ReportError(Exception):
    """A report could not be made; the message is a sentence a person can act on."""


class ReportNotFound(ReportError):
    """The report does not exist, is deleted, or belongs to someone else (all look alike)."""

    def __init__(self) -> None:
        super().__init__("Report not found")


@dataclass(frozen=True)
class ReportScope:
    """Whose work a report covers.

    Attributes:
        logins: GitHub logins whose facts count (the owner's alone for a standard report).
        repo: One repository (`owner/name`) instead of logins (a "team" view), or None.
        query: An optional focus query; facts are then ranked by similarity.
        is_team: True unless the scope is exactly the owner: several logins, another login, or a
            repository. Team prompts and local-writer items name the actor.
    """

    logins: tuple[str, ...] = ()
    repo: str | None = None
    query: str | None = None
    is_team: bool = False

    @property
    def who(self) -> str:
        """The prompt's `{who}`: the login, the logins comma-joined, or the repository."""
        return self.repo if self.repo else ", ".join(self.logins)


@dataclass(frozen=True)
class CollectedFact:
    """One fact as the writers see it."""

    event_id: int
    type: str
    ts: dt.datetime
    repo: str
    actor: str
    source_url: str
    canonical_text: str
    content_hash: str
    meta: dict[str, Any]
    additions: int | None = None
    deletions: int | None = None
    files_changed: int | None = None


@dataclass
class Collection:
    """The facts of a window given to the writer.

    Attributes:
        facts: The facts, newest first (or best match first with a focus query).
        event_count: Facts in the window before any cap.
        omitted: Older facts left out by the 2,000 cap.
    """

    facts: list[CollectedFact]
    event_count: int
    omitted: int = 0


@dataclass
class Section:
    """A titled group of bullets with the URLs they cite."""

    title: str
    bullets: list[str]
    citations: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"title": self.title, "bullets": list(self.bullets),
                "citations": list(self.citations)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Section:
        return cls(str(data.get("title", "")), list(data.get("bullets") or []),
                   list(data.get("citations") or []))


@dataclass
class Written:
    """What a writer produced, before citations are validated.

    Attributes:
        sections: One per expected title, in order.
        provider: "openai", "local" or "none".
        model: The model that answered (`local-extractive-v1` for the local writer).
        input_tokens: Prompt tokens over every call made (usage, else characters / 4).
        output_tokens: Completion tokens over every call made.
        cost_usd: Estimated price of those tokens; None for unknown models and local writers.
        model_ms: Milliseconds spent waiting for model answers (the rest is our overhead).
        calls: How many model requests were sent.
    """

    sections: list[Section]
    provider: str
    model: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    model_ms: float = 0.0
    calls: int = 0


@dataclass
class Coverage:
    """How many of the given facts the report cites."""

    score: float | None
    breakdown: list[dict[str, Any]]
    cited_event_ids: set[int]


@dataclass
class ReportOutcome:
    """The result of one `generate_report` call.

    Attributes:
        report: The saved (or cached) report; None when the window was skipped.
        cache_hit: True when an existing report answered without running the pipeline.
        skipped: Why nothing was generated ("deleted": an automatic producer met a soft-deleted
            standard report), else None.
        regeneration_id: The `report_regenerations` row that recorded this run.
        model_ms: Milliseconds spent waiting for models.
    """

    report: Report | None
    cache_hit: bool = False
    skipped: str | None = None
    regeneration_id: int | None = None
    model_ms: float = 0.0


@dataclass(frozen=True)
class Diagnostic:
    """A label and explanation shown with a report whose citations look wrong."""

    label: str
    message: str
