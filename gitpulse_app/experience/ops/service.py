"""The operator actions of /ops: replaying dead-lettered webhook envelopes and adding
repositories through the server token (onboarding offers it too).

Every function takes the caller's user id and refuses anyone who is not an operator, exactly as
for a page that does not exist.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import select

from gitpulse_app.acquisition import access
from gitpulse_app.acquisition.sync.sources import ensure_env_source
from gitpulse_app.acquisition.webhooks import processor
from gitpulse_app.core.config import get_settings
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import Installation, UserInstallation, WebhookEvent
from gitpulse_app.experience.ops.views import NOT_FOUND, operator_allowed
from gitpulse_app.experience.sources.service import check_pat, parse_repo_list


# Actions ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OpsResult:
    ok: bool
    message: str


def replay_envelope(user_id: int | None, envelope_id: int,
                    now: dt.datetime | None = None) -> OpsResult:
    """Reset one dead-lettered envelope to pending (attempts 0, due now), as `retry_failed` does."""
    if not operator_allowed(user_id):
        return OpsResult(False, NOT_FOUND)
    now = now or utcnow()
    table = WebhookEvent.__table__
    with session_scope() as session:
        count = session.execute(
            sa.update(table).where(table.c.id == envelope_id, table.c.status == "failed")
            .values(status="pending", attempts=0, next_attempt_at=now, claimed_by=None,
                    updated_at=now)).rowcount
    if not count:
        return OpsResult(False, "This delivery is not failed any more.")
    processor.wake()
    return OpsResult(True, "Replaying 1 delivery.")


def replay_all_failed(user_id: int | None) -> OpsResult:
    """Reset every dead-lettered envelope of the instance to pending."""
    if not operator_allowed(user_id):
        return OpsResult(False, NOT_FOUND)
    count = processor.retry_failed()
    processor.wake()
    return OpsResult(True, f"Replaying {count} failed deliver{'y' if count == 1 else 'ies'}.")


def server_token_available(user_id: int | None) -> bool:
    """"Use the server token" is offered: `GITHUB_TOKEN` is set and the user is an operator."""
    return bool(get_settings().github_token) and operator_allowed(user_id)


async def use_server_token(user_id: int, repos_text: str,
                           now: dt.datetime | None = None) -> tuple[OpsResult, int | None]:
    """Add repositories through the server token (`env_pat`): operators only, each repository
    checked against GitHub, the operator linked as a viewer and tracking them (opt-in).

    Returns:
        The result and the server-token source's id (None when refused).
    """
    token = get_settings().github_token
    if not token or not operator_allowed(user_id):
        return OpsResult(False, "The server token is not available."), None
    repos = parse_repo_list(repos_text)
    if not repos:
        return OpsResult(False, "Name at least one repository as owner/name."), None
    try:
        _login, names = await check_pat(token, repos)
    except ValueError as exc:
        return OpsResult(False, str(exc)), None
    now = now or utcnow()
    source_id = ensure_env_source().id
    assert source_id is not None
    with session_scope() as session:
        source = session.get(Installation, source_id, with_for_update=True)
        assert source is not None
        access.add_listed(source, names)
        session.add(source)
        link = session.scalars(select(UserInstallation).where(
            UserInstallation.user_id == user_id,
            UserInstallation.installation_id == source_id)).first()
        if link is None:
            session.add(UserInstallation(user_id=user_id, installation_id=source_id,
                                         role="viewer", claimed_at=now))
        for name, gh_id in names.items():
            access.set_choice(session, user_id, source_id, name, True, gh_id)
    plural = "repository" if len(names) == 1 else "repositories"
    return OpsResult(True, f"Server token now syncs {len(names)} {plural} for you."), source_id
