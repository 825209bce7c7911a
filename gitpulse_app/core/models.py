"""Every database table of GitPulse, on one `SQLModel.metadata` that Alembic owns.

Tables are plain `SQLModel` classes, defined by family under `core/tables/` and all reachable from
here (Alembic's `env.py` and every caller import them from this module). Every constraint and
index has a name (explicitly or through the naming convention in `core/tables/base.py`) so that
SQLite batch migrations and downgrades can address them. Timestamps are `UTCDateTime` columns:
naive datetimes are refused on write and come back aware UTC.
"""

from gitpulse_app.core.tables.base import EVERY_DAY, NAMING_CONVENTION, RUNNING_BATCH_INDEX
from gitpulse_app.core.tables.base import USERS_LOGIN_INDEX
from gitpulse_app.core.tables.facts import Embedding, EmbeddingQueueItem, Event, FactVersion, Repo
from gitpulse_app.core.tables.identity import ApiToken, AuthSession, Installation, TrackedRepo, User
from gitpulse_app.core.tables.identity import UserInstallation
from gitpulse_app.core.tables.reports import ChannelDelivery, CoverageCandidate, DeliveryChannel
from gitpulse_app.core.tables.reports import EmailDelivery, Report, ReportJobHistory
from gitpulse_app.core.tables.reports import ReportRegeneration
from gitpulse_app.core.tables.work import IngestionJob, SchedulerLease, SyncBatch, WebhookEvent

__all__ = [
    "ApiToken",
    "AuthSession",
    "ChannelDelivery",
    "CoverageCandidate",
    "DeliveryChannel",
    "EVERY_DAY",
    "EmailDelivery",
    "Embedding",
    "EmbeddingQueueItem",
    "Event",
    "FactVersion",
    "IngestionJob",
    "Installation",
    "NAMING_CONVENTION",
    "RUNNING_BATCH_INDEX",
    "Repo",
    "Report",
    "ReportJobHistory",
    "ReportRegeneration",
    "SchedulerLease",
    "SyncBatch",
    "TrackedRepo",
    "USERS_LOGIN_INDEX",
    "User",
    "UserInstallation",
    "WebhookEvent",
]

# Every session bumps `fact_versions` when it writes facts (imported here so every process has it).
import gitpulse_app.core.fact_versions  # noqa: E402,F401
