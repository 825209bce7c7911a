"""The report pipeline's signal receivers, connected when this module is imported.

`fact_changed` marks the reports whose facts changed stale; `batch_finalized` writes the post-sync
"today so far" report. Every process that stores facts imports this module through
`experience.wiring.load_capabilities`; a process that only reads reports (a cache-hit `report` on
the command line) does not.
"""

from __future__ import annotations

from gitpulse_app.core.signals import batch_finalized, fact_changed
from gitpulse_app.intelligence.reports.post_sync import on_batch_finalized
from gitpulse_app.intelligence.reports.staleness import on_fact_changed

fact_changed.connect(on_fact_changed)
batch_finalized.connect(on_batch_finalized)
