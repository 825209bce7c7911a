"""The backend HTTP routes as one Starlette application factory."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Route

from gitpulse_app.acquisition.webhooks.receiver import receive_webhook
from gitpulse_app.core.config import get_settings
from gitpulse_app.core.workers import background_workers
from gitpulse_app.experience import routes
from gitpulse_app.experience.auth import oauth
from gitpulse_app.experience.auth.ratelimit import AuthRateLimit
from gitpulse_app.experience.auth.routes import demo_sign_in, github_callback, github_login, logout
from gitpulse_app.experience.http.export import export_timeline
from gitpulse_app.experience.http.health import health
from gitpulse_app.experience.http.api_v1 import TokenGate, api_v1_mount
from gitpulse_app.experience.http.reports import download_report_markdown
from gitpulse_app.experience.mcp.server import MCP_PATH, McpHttpEndpoint
from gitpulse_app.experience.wiring import load_capabilities


def api_routes() -> list[Route]:
    return [
        Route(routes.API_HEALTH, health, methods=["GET", "HEAD", "POST"]),
        Route(routes.API_WEBHOOKS, receive_webhook, methods=["POST"]),
        Route(routes.AUTH_LOGIN, github_login, methods=["GET"]),
        Route(routes.AUTH_CALLBACK, github_callback, methods=["GET"]),
        Route(routes.AUTH_LOGOUT, logout, methods=["POST"]),
        Route(routes.AUTH_DEMO, demo_sign_in, methods=["GET"]),
        Route(routes.API_REPORT_MARKDOWN_ROUTE, download_report_markdown, methods=["GET"]),
        Route(routes.API_TIMELINE_CSV, export_timeline, methods=["GET"]),
    ]


def api_middleware() -> list[Middleware]:
    """The `/auth/*` rate limit (outermost), then authlib's signed OAuth-state session."""
    settings = get_settings()
    return [
        Middleware(AuthRateLimit),
        Middleware(
            SessionMiddleware,
            secret_key=oauth.oauth_session_secret(settings.secret_key),
            session_cookie=oauth.OAUTH_COOKIE,
            max_age=oauth.OAUTH_COOKIE_MAX_AGE_S,
            path="/auth",
            same_site="lax",
            https_only=settings.is_https,
        ),
    ]


def cors_middleware() -> Middleware:
    """Credentialed CORS for `GITPULSE_BASE_URL` and `GITPULSE_API_URL` only (docs/SECURITY.md).

    Any other origin gets no `Access-Control-Allow-Origin`, so a page elsewhere cannot read our
    answers with the visitor's cookie. Inside Reflex the same list comes from rxconfig.py.
    """
    return Middleware(CORSMiddleware, allow_origins=list(get_settings().allowed_origins),
                      allow_credentials=True, allow_methods=["*"], allow_headers=["*"])


def create_api(*, with_workers: bool) -> Starlette:
    """Our routes; `with_workers` makes it a standalone backend that runs the in-process workers
    (and answers CORS itself: inside Reflex, Reflex adds the same CORS around it).

    `/api/v1` and `/mcp` (docs/API.md) share one token gate. The MCP session manager must run for
    the app's lifetime: this app's lifespan runs it, and a host that mounts the app without its
    lifespan (the Reflex backend) registers `app.state.mcp_lifespan` as a lifespan task instead.
    """
    load_capabilities()
    gate = TokenGate()
    mcp = McpHttpEndpoint(gate)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(mcp.lifespan())
            if with_workers:
                await stack.enter_async_context(background_workers())
            yield

    token_routes = [api_v1_mount(gate), Route(MCP_PATH, mcp, methods=["GET", "POST", "DELETE"])]
    middleware = [cors_middleware(), *api_middleware()] if with_workers else api_middleware()
    app = Starlette(routes=[*api_routes(), *token_routes], middleware=middleware,
                    lifespan=lifespan)
    app.state.mcp_lifespan = mcp.lifespan
    return app
