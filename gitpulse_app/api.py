"""`gitpulse_app.api:app` — the backend routes as a standalone ASGI app (CONTRACT §6).

Run with `uvicorn gitpulse_app.api:app`; it starts the same in-process workers as the Reflex backend.
"""

import gc

from gitpulse_app.core.startup import prepare_process
from gitpulse_app.experience.http.app import create_api

prepare_process()
app = create_api(with_workers=True)
# Everything imported so far lives as long as the process: moving it out of the collector's
# generations keeps full collections (~100+ ms over this heap) from stalling webhook acks.
gc.collect()
gc.freeze()
