"""Embeddings and semantic search.

Importing this package registers the `embeddings` worker and connects the `fact_changed` receiver
that queues new and updated facts; every process that ingests facts or runs workers imports it.
"""

from gitpulse_app.core.signals import fact_changed
from gitpulse_app.intelligence.embeddings.queue import (
    DrainStats,
    drain,
    embed_facts_now,
    enqueue_events,
    enqueue_missing,
    recover_stale,
    reset_failed_primary,
)
from gitpulse_app.intelligence.embeddings.search import (
    SearchError,
    SearchHit,
    search_facts,
    search_for_user,
)
from gitpulse_app.intelligence.embeddings.worker import on_fact_changed  # registers the worker

fact_changed.connect(on_fact_changed)

__all__ = [
    "DrainStats",
    "SearchError",
    "SearchHit",
    "drain",
    "embed_facts_now",
    "enqueue_events",
    "enqueue_missing",
    "on_fact_changed",
    "recover_stale",
    "reset_failed_primary",
    "search_facts",
    "search_for_user",
]
