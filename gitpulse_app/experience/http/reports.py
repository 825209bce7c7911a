"""`GET /api/reports/{id}.md`: a report as a markdown download.

No valid session → 401 `{"error":"Not signed in"}`; the database unreachable → 503; a report that is missing, deleted or someone
else's → 404 `{"error":"Report not found"}` (existence never leaks). Otherwise `# {title}`, the date
label, the markdown and the `Sources:` list, as an attachment named `report-{id}.md`.
"""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gitpulse_app.core.db import DatabaseUnavailable
from gitpulse_app.experience.auth.sessions import signed_in_user_id
from gitpulse_app.intelligence.reports.download import report_markdown
from gitpulse_app.intelligence.reports.models import ReportNotFound

MARKDOWN_TYPE = "text/markdown; charset=utf-8"


async def download_report_markdown(request: Request) -> Response:
    try:
        user_id = await asyncio.to_thread(signed_in_user_id, request)
        if user_id is None:
            return JSONResponse({"error": "Not signed in"}, status_code=401)
        report_id = int(request.path_params["report_id"])
        body = await asyncio.to_thread(report_markdown, user_id, report_id)
    except ReportNotFound:
        return JSONResponse({"error": "Report not found"}, status_code=404)
    except (DatabaseUnavailable, sa.exc.OperationalError, sa.exc.InterfaceError):
        return JSONResponse({"error": "Service temporarily unavailable"}, status_code=503)
    return Response(body.encode("utf-8"), media_type=MARKDOWN_TYPE, headers={
        "Content-Disposition": f'attachment; filename="report-{report_id}.md"'})
