"""Temporary: pages/registry.py (moving on another branch) still imports this path. The /settings
page lives in `settings/page.py`; delete this module once the registry imports it from there."""

from gitpulse_app.experience.settings.page import settings  # noqa: F401 - re-export
