"""The `report_regenerations` record of one report run.

queued 0 → collecting 10 → generating 30 → validating 70 → saving 90 → completed 100, or failed with
`error_stage` and the progress it had reached. Each step commits on its own, so a page polling the
row sees it move while the run is still going.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm.attributes import flag_modified

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import ReportRegeneration

QUEUED = "queued"
COLLECTING = "collecting"
GENERATING = "generating"
VALIDATING = "validating"
SAVING = "saving"
COMPLETED = "completed"
FAILED = "failed"

PROGRESS = {QUEUED: 0, COLLECTING: 10, GENERATING: 30, VALIDATING: 70, SAVING: 90, COMPLETED: 100}
ACTIVE = (QUEUED, COLLECTING, GENERATING, VALIDATING, SAVING)

MESSAGES = {
    QUEUED: "Waiting to start",
    COLLECTING: "Collecting activity",
    GENERATING: "Writing the report",
    VALIDATING: "Checking citations",
    SAVING: "Saving",
    COMPLETED: "Done",
}


def create_regeneration(
    *, user_id: int, kind: str, start: dt.datetime, end: dt.datetime, scope: dict[str, Any],
    report_id: int | None = None, now: dt.datetime | None = None,
) -> int:
    """Insert a queued regeneration and return its id."""
    now = now or utcnow()
    with session_scope() as session:
        row = ReportRegeneration(
            report_id=report_id, user_id=user_id, kind=kind, start_date=start, end_date=end,
            scope=scope, status=QUEUED, progress=0, message=MESSAGES[QUEUED],
            created_at=now, updated_at=now,
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id


class StageTracker:
    """Moves one regeneration row through the stages.

    Attributes:
        regeneration_id: The row.
        stage: The stage reached (what `fail` records as `error_stage`).
    """

    def __init__(self, regeneration_id: int, now: dt.datetime | None = None) -> None:
        self.regeneration_id = regeneration_id
        self.stage = QUEUED
        self._now = now

    def _write(self, **fields: Any) -> None:
        with session_scope() as session:
            row = session.get(ReportRegeneration, self.regeneration_id)
            if row is None:
                return
            for name, value in fields.items():
                setattr(row, name, value)
            # An injected clock (tick --at) stamps the row too; flagged so that an unchanged value
            # is still written instead of the column's real-time onupdate default.
            row.updated_at = self._now or utcnow()
            flag_modified(row, "updated_at")
            session.add(row)

    def advance(self, stage: str) -> None:
        """Enter `stage` with its progress."""
        self.stage = stage
        self._write(status=stage, progress=PROGRESS[stage], message=MESSAGES[stage])

    def complete(self, report_id: int | None, message: str | None = None,
                 attach_report: bool = True) -> None:
        """Mark the run completed, naming the report it produced."""
        self.stage = COMPLETED
        fields: dict[str, Any] = dict(
            status=COMPLETED, progress=100, message=message or MESSAGES[COMPLETED],
            new_report_id=report_id, completed_at=self._now or utcnow())
        if attach_report and report_id is not None:
            fields["report_id"] = report_id
        self._write(**fields)

    def fail(self, error: str) -> None:
        """Mark the run failed at the current stage; the progress stays where it was."""
        stage = self.stage
        self._write(status=FAILED, error_stage=stage, error_message=error,
                    message=f"Failed while {MESSAGES.get(stage, stage).lower()}",
                    completed_at=self._now or utcnow())
