"""Forwarding names for modules that still import the old path (`pages/onboarding.py`): the
operator actions now live in `experience/ops/service.py`. Remove once it imports that module."""

from gitpulse_app.experience.ops.service import server_token_available, use_server_token

__all__ = ["server_token_available", "use_server_token"]
