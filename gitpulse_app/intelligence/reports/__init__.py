"""Cited reports: collect → cache → generate → validate → save, and staleness.

The package imports nothing itself, so a process loads only the part it uses (docs/STARTUP.md):

- `service`: `generate_report` (the one entry point of every producer), regenerate, read, delete;
- `writing`: the model chain or the local writer and validation, loaded on a cache miss only;
- `flows`: backfill, the first report and "today so far"; `scheduled`: the interrupted-run sweep;
- `download`: the markdown download; `diagnostics`: why a report cites little;
- `receivers`: the `fact_changed` (staleness) and `batch_finalized` (post-sync) receivers, which
  `experience.wiring.load_capabilities` connects in every process that stores facts.
"""
