"""Forwarding names for modules that still import the old path (`pages/onboarding.py`): /repos
now lives in `experience/sources/`. Remove once it imports that module."""

from gitpulse_app.experience.sources.views import KIND_LABELS, install_url

__all__ = ["KIND_LABELS", "install_url"]
