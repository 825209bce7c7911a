"""The scheduler: reports at every user's local midnight, and all periodic work.

The rules of windows and due reports: docs/SCHEDULING.md.

- `tick` — `run_tick(at)`: one tick with an injected clock (`tick --at` and the 15-minute job);
- `due` — which daily and weekly windows are due at an instant;
- `leader` — one leader across processes (PostgreSQL advisory lock, SQLite lease row);
- `jobs` — the APScheduler jobs and the `scheduler` worker (loaded through the capability list);
- `retention`, `installations` — the 03:45 cleanup and the 02:15 installation reconcile.

Time zones are validated where they are saved (`intelligence.windows.is_valid_zone`).
"""

from gitpulse_app.intelligence.scheduler.models import KindTally, TickResult
from gitpulse_app.intelligence.scheduler.tick import run_tick

__all__ = ["KindTally", "TickResult", "run_tick"]
