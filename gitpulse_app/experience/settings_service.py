"""Temporary: pages/repos.py and ops_service.py (moving on another branch) still import this path.
The settings and source functions live in `settings/` and `sources/`; delete this module once
those callers import from there."""

from gitpulse_app.experience.auth.operators import is_operator  # noqa: F401 - re-exports
from gitpulse_app.experience.sources.service import (  # noqa: F401 - re-exports
    add_pat_source,
    check_pat,
    parse_repo_list,
    retry_failed_deliveries,
    set_tracked,
)
from gitpulse_app.experience.sources.views import SourceView, list_sources  # noqa: F401
