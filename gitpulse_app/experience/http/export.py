"""`GET /api/export/timeline.csv?start=&end=&repo=`.

The signed-in user's visible facts as CSV: `start`/`end` are local dates (end inclusive) or ISO-8601
instants (end exclusive), by default the last 30 local days; `repo` narrows to one visible
repository. Rows stream in batches, so a large export never sits in memory.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import DatabaseUnavailable
from gitpulse_app.experience.auth.sessions import signed_in_user_id
from gitpulse_app.intelligence.timeline import (
    CSV_COLUMNS,
    TimelineError,
    can_see_repo_named,
    export_rows,
    export_window,
    user_zone,
)
from gitpulse_app.intelligence.windows import local_date

NOT_SIGNED_IN = "Not signed in"
REPO_NOT_FOUND = "Repository not found"
UNAVAILABLE = "Service temporarily unavailable"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


def _csv_chunks(header: list[str], rows: Iterator[list[str]], every: int = 500) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for count, row in enumerate(rows, start=1):
        writer.writerow(row)
        if count % every == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


@dataclass(frozen=True)
class _Export:
    user_id: int
    repo: str | None
    start: dt.datetime
    end: dt.datetime
    zone: str | None


def _prepare(request: Request) -> Response | _Export:
    user_id = signed_in_user_id(request)
    if user_id is None:
        return JSONResponse({"error": NOT_SIGNED_IN}, status_code=401)
    params = request.query_params
    zone = user_zone(user_id)
    try:
        start, end = export_window(params.get("start") or None, params.get("end") or None, zone,
                                   utcnow())
    except TimelineError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    repo = (params.get("repo") or "").strip() or None
    if repo is not None and not can_see_repo_named(user_id, repo):
        return JSONResponse({"error": REPO_NOT_FOUND}, status_code=404)
    return _Export(user_id, repo, start, end, zone)


async def export_timeline(request: Request) -> Response:
    """The CSV download; 401 signed out, 400 bad dates, 404 invisible repository, 503 no database."""
    try:
        prepared = await asyncio.to_thread(_prepare, request)
    except (DatabaseUnavailable, sa.exc.OperationalError, sa.exc.InterfaceError):
        return JSONResponse({"error": UNAVAILABLE}, status_code=503)
    if isinstance(prepared, Response):
        return prepared
    rows = export_rows(prepared.user_id, start=prepared.start, end=prepared.end,
                       zone=prepared.zone, repo=prepared.repo)
    first = local_date(prepared.start, prepared.zone)
    last = local_date(prepared.end - dt.timedelta(microseconds=1), prepared.zone)
    filename = f"gitpulse-timeline-{first.isoformat()}-{last.isoformat()}.csv"
    return StreamingResponse(
        _csv_chunks(list(CSV_COLUMNS), rows),
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"',
                 "Cache-Control": "no-store"},
    )
