"""Temporary: pages/registry.py and pages/ops.py (moving on another branch) still import this path.
The "Page not found" page lives in `landing/page_not_found.py`; delete this module once they
import it from there."""

from gitpulse_app.experience.landing.page_not_found import (  # noqa: F401 - re-exports
    not_found,
    not_found_view,
)
