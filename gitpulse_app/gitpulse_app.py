"""The Reflex app: builds `rx.App`, mounts our API routes, registers pages and the workers."""

from __future__ import annotations

import reflex as rx

from gitpulse_app.core.startup import freeze_startup_heap, prepare_process
from gitpulse_app.core.workers import background_workers
from gitpulse_app.experience.components.feedback import unexpected_error
from gitpulse_app.experience.http.app import create_api
from gitpulse_app.experience.auth.guard import SessionGuard
from gitpulse_app.experience.registry import PAGES

prepare_process()

api = create_api(with_workers=False)
app = rx.App(
    api_transformer=api,
    toaster=rx.toast.provider(position="top-right"),
    # A handler's unplanned error: logged with a reference; the toast shows only the reference.
    backend_exception_handler=unexpected_error,
)
for spec in PAGES:
    app.add_page(spec.component, route=spec.route, title=spec.title, on_load=spec.on_load)
# Every event re-checks the session before its handler runs (docs/SECURITY.md).
app.add_middleware(SessionGuard())
app.register_lifespan_task(background_workers)
# The MCP session manager of `/mcp` (docs/API.md): Reflex does not run the mounted app's lifespan.
app.register_lifespan_task(api.state.mcp_lifespan)
# Last, once the backend has built everything it keeps for its lifetime.
app.register_lifespan_task(freeze_startup_heap)
