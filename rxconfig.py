"""Reflex configuration; every value comes from GitPulse's settings (`gitpulse_app/core/config.py`)."""

import os
from urllib.parse import urlsplit

import reflex as rx
from reflex_base.plugins.sitemap import SitemapPlugin

from gitpulse_app.core.config import get_settings

settings = get_settings()
frontend_port = urlsplit(settings.base_url).port or 3000
backend_port = int(os.environ.get("GITPULSE_BACKEND_PORT", urlsplit(settings.api_url).port or 8000))

config = rx.Config(
    app_name="gitpulse_app",
    frontend_port=int(os.environ.get("GITPULSE_FRONTEND_PORT", frontend_port)),
    backend_port=backend_port,
    api_url=settings.api_url,
    deploy_url=settings.base_url,
    redis_url=settings.redis_url,
    # Backend CORS and the websocket handshake answer only the UI's and the backend's own origin
    # (docs/SECURITY.md); Reflex hands this list to Starlette's CORS and to python-socketio.
    cors_allowed_origins=list(settings.allowed_origins),
    telemetry_enabled=False,
    show_built_with_reflex=False,
    disable_plugins=[SitemapPlugin],
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="indigo", radius="medium"))],
)
