"""Sync orchestration: requests and policy, job transitions, batches, periodic sweeps.

The names other layers call are re-exported here; `status` (the UI's view model) and `scheduled`
(periodic jobs) are imported from their modules.
"""

from gitpulse_app.acquisition.sync.models import (
    PolicyDecision,
    PolicyReason,
    RequestOutcome,
    SyncRequestResult,
    SyncTrigger,
)
from gitpulse_app.acquisition.sync.policy import evaluate_policy
from gitpulse_app.acquisition.sync.lifecycle import (
    block_job,
    claim_next_job,
    complete_job,
    fail_job,
    finalize_batch,
    finalize_batches,
    heartbeat,
)
from gitpulse_app.acquisition.sync.service import (
    add_repo_to_running_batch,
    request_sync,
    running_batch_id,
)

__all__ = [
    "PolicyDecision",
    "PolicyReason",
    "RequestOutcome",
    "SyncRequestResult",
    "SyncTrigger",
    "add_repo_to_running_batch",
    "block_job",
    "claim_next_job",
    "complete_job",
    "evaluate_policy",
    "fail_job",
    "finalize_batch",
    "finalize_batches",
    "heartbeat",
    "request_sync",
    "running_batch_id",
]
