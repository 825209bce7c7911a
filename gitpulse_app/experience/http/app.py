"""The backend HTTP routes of CONTRACT §6 as one Starlette application factory."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gitpulse_app.core.config import get_settings
from gitpulse_app.experience import routes
from gitpulse_app.experience.http.health import health
from gitpulse_app.experience.runtime import background_workers


def _not_built(capability: str, issue: int):
    async def endpoint(_request: Request) -> JSONResponse:
        return JSONResponse(
            {"error": f"{capability} is not built yet (issue #{issue})"}, status_code=501
        )

    return endpoint


async def demo_sign_in(_request: Request) -> JSONResponse:
    if not get_settings().demo_enabled:
        return JSONResponse({"error": "Not found"}, status_code=404)
    return JSONResponse(
        {"error": "Demo workspace not seeded. Run: python -m gitpulse_app demo seed"},
        status_code=503,
    )


def api_routes() -> list[Route]:
    return [
        Route(routes.API_HEALTH, health, methods=["GET", "HEAD", "POST"]),
        Route(routes.API_WEBHOOKS, _not_built("The webhook receiver", 3), methods=["POST"]),
        Route(routes.AUTH_LOGIN, _not_built("GitHub sign-in", 8), methods=["GET"]),
        Route(routes.AUTH_CALLBACK, _not_built("GitHub sign-in", 8), methods=["GET"]),
        Route(routes.AUTH_LOGOUT, _not_built("Sign-out", 8), methods=["POST"]),
        Route(routes.AUTH_DEMO, demo_sign_in, methods=["GET"]),
        Route("/api/reports/{report_id:int}.md", _not_built("Report downloads", 6), methods=["GET"]),
        Route(routes.API_TIMELINE_CSV, _not_built("Timeline export", 9), methods=["GET"]),
    ]


def create_api(*, with_workers: bool) -> Starlette:
    """Our routes; `with_workers` makes it a standalone backend that runs the in-process workers."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with background_workers():
            yield

    return Starlette(routes=api_routes(), lifespan=lifespan if with_workers else None)
