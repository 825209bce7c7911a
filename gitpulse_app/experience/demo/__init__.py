"""The demo workspace: an `acme` organisation's 60 days of GitHub activity, generated as
webhook deliveries and fed through the real receiver, processor, embeddings and report pipeline.

- `generator` — the deterministic deliveries (`generate_deliveries`).
- `seed` — `seed_demo`: load (or reset) the workspace in this process.
"""
