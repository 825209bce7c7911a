"""Load every capability that registers a worker or a signal receiver, once per process.

Workers (`core.workers.worker`) and receivers (`core.signals`) register on import; the backend,
the standalone API and the CLI call `load_capabilities()` so each process has the same set.
"""

from __future__ import annotations

import functools
import importlib

CAPABILITIES = (
    "gitpulse_app.acquisition.webhooks.processor",
    "gitpulse_app.acquisition.sync.worker",
    "gitpulse_app.intelligence.embeddings",
    "gitpulse_app.intelligence.reports.receivers",
    "gitpulse_app.intelligence.delivery.worker",
    "gitpulse_app.intelligence.scheduler.jobs",
)


@functools.cache
def load_capabilities() -> tuple[str, ...]:
    for module in CAPABILITIES:
        importlib.import_module(module)
    return CAPABILITIES
