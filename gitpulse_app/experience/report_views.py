"""Forwarding names for modules that still import the old path (`api_service.py`,
`components/sources.py`): reports now live in `experience/reports/`. Remove once they import
`reports.views` and `reports.service` directly."""

from gitpulse_app.experience.reports.service import (
    GenerateInputError,
    GenerateRequest,
    prepare_generation,
    run_generation,
)
from gitpulse_app.experience.reports.views import SourceItem

__all__ = ["GenerateInputError", "GenerateRequest", "SourceItem", "prepare_generation",
           "run_generation"]
