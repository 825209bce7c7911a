"""What every GitPulse process does first: check the configuration it cannot run without."""

from __future__ import annotations

import gc
import sys

from gitpulse_app.core.config import ConfigurationError, get_settings
from gitpulse_app.core.logging import configure_logging


def require_secret_key() -> str:
    """The instance secret; exits 1 with the reason when production has none."""
    try:
        return get_settings().secret_key
    except ConfigurationError as exc:
        print(str(exc), file=sys.stderr)
        raise SystemExit(1) from None


def prepare_process() -> None:
    """Refuse to start without a usable secret, then log as JSON."""
    require_secret_key()
    configure_logging(sys.stdout)


def freeze_startup_heap() -> None:
    """Move everything alive now out of the garbage collector's generations.

    Call once the process has imported and built its app: those objects live as long as the
    process, and full collections over them (100+ ms) would otherwise stall requests mid-burst
    (webhook acks, docs/decisions/webhook-group-commit.md).
    """
    gc.collect()
    gc.freeze()
