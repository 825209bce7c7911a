"""Temporary: pages/registry.py (moving on another branch) still imports this path. The landing
page lives in `landing/page.py`; delete this module once the registry imports it from there."""

from gitpulse_app.experience.landing.page import landing  # noqa: F401 - re-export
