"""Forwarding names for modules that still import the old path (`pages/onboarding.py`): the sync
banner now lives in `experience/sources/banner.py`. Remove once it imports that module."""

from gitpulse_app.experience.sources.banner import ACTIVE_STATES

__all__ = ["ACTIVE_STATES"]
