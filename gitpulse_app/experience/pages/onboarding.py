"""Temporary: pages/registry.py (moving on another branch) still imports this path. The
/onboarding page lives in `onboarding/page.py`; delete this module once the registry imports it
from there."""

from gitpulse_app.experience.onboarding.page import onboarding  # noqa: F401 - re-export
