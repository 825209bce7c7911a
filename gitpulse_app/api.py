"""`gitpulse_app.api:app` — the backend routes as a standalone ASGI app (docs/ARCHITECTURE.md).

Run with `uvicorn gitpulse_app.api:app`; it starts the same in-process workers as the Reflex backend.
"""

from gitpulse_app.core.startup import freeze_startup_heap, prepare_process
from gitpulse_app.experience.http.app import create_api

prepare_process()
app = create_api(with_workers=True)
freeze_startup_heap()
