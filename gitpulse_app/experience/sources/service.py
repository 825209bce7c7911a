"""Actions on a user's sources: add a personal-access-token source (and start its first sync),
remove it, track or untrack a repository, replay failed webhook deliveries.

Nothing here knows about Reflex: pages call these functions and keep the display-ready results.
Every action checks what the user may see first; a source the user cannot see answers exactly
like a missing one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from dataclasses import dataclass

from gitpulse_app.acquisition import access
from gitpulse_app.acquisition.github import AuthError, GitHubClient, GitHubError, StaticTokenSource
from gitpulse_app.acquisition.sync.service import request_sync
from gitpulse_app.acquisition.webhooks.processor import retry_failed
from gitpulse_app.core.config import get_settings
from gitpulse_app.core.crypto import encrypt_token, token_hint
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import Installation, User, UserInstallation
from gitpulse_app.experience.auth.operators import is_operator
from gitpulse_app.experience.sources.views import role_of

OWNER_ONLY = "Only the installation owner can do this"
NOT_FOUND = "Installation not found"
_REPO_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*)/[A-Za-z0-9._-]+$")


@dataclass(frozen=True)
class SourceResult:
    """The outcome of a source action: a sentence, and the source it concerned."""

    ok: bool
    message: str
    installation_id: int | None = None
    status: int = 200


def parse_repo_list(text: str, github_url: str | None = None) -> list[str]:
    """`owner/name` entries separated by commas, spaces or new lines (duplicates dropped).

    A pasted repository URL loses the prefix of the configured GitHub web URL (`GITHUB_URL`, so
    GitHub Enterprise Server URLs too), compared without regard to case.
    """
    prefix = (github_url or get_settings().github_url).rstrip("/") + "/"
    seen: dict[str, str] = {}
    for entry in re.split(r"[\s,]+", text.strip()):
        cleaned = entry.strip()
        if cleaned.lower().startswith(prefix.lower()):
            cleaned = cleaned[len(prefix):]
        cleaned = cleaned.strip("/")
        if cleaned:
            seen.setdefault(cleaned.lower(), cleaned)
    return list(seen.values())


async def check_pat(token: str, repos: list[str], *, base_url: str | None = None
                    ) -> tuple[str, dict[str, int]]:
    """Ask GitHub whose token this is and whether it can read each repository.

    Returns:
        The token's login and the repositories' canonical full names, each with the GitHub id
        GitHub confirmed for it (what visibility follows).

    Raises:
        ValueError: A sentence saying what is wrong (token refused, repository not readable).
    """
    async with GitHubClient(StaticTokenSource(token), base_url=base_url,
                            keep_in_reserve=0) as client:
        try:
            login = str((await client.get_user()).get("login") or "")
        except AuthError:
            raise ValueError("GitHub rejected this token. Check it and try again.") from None
        except GitHubError:
            raise ValueError("Could not check the token with GitHub. Please try again.") from None
        names: dict[str, int] = {}
        for repo in repos:
            try:
                data = (await client.get_json(f"/repos/{repo}")).data
            except AuthError:
                raise ValueError("GitHub rejected this token. Check it and try again.") from None
            except GitHubError as exc:
                if exc.status in (403, 404):
                    raise ValueError(
                        f"Repository {repo} was not found, or this token cannot read it."
                    ) from None
                raise ValueError("Could not check the token with GitHub. Please try again.") \
                    from None
            gh_id = data.get("id")
            if isinstance(gh_id, bool) or not isinstance(gh_id, int):
                raise ValueError("Could not check the token with GitHub. Please try again.")
            names[str(data.get("full_name") or repo)] = gh_id
    if not login:
        raise ValueError("GitHub did not say whose token this is. Check it and try again.")
    return login, names


async def add_pat_source(user_id: int, token: str, repos_text: str,
                         now: dt.datetime | None = None) -> SourceResult:
    """Check a personal access token against GitHub (`GET /user` at `GITHUB_API_URL`, then each
    repository) and store it encrypted as a PAT source tracking those repositories.

    A second token for the same GitHub account replaces the first and adds its repositories.
    """
    token = token.strip()
    repos = parse_repo_list(repos_text)
    if not token:
        return SourceResult(False, "Paste a personal access token.", status=400)
    if not repos:
        return SourceResult(False, "Name at least one repository as owner/name.", status=400)
    bad = [repo for repo in repos if not _REPO_RE.match(repo)]
    if bad:
        return SourceResult(False, f"{bad[0]} is not a repository name (owner/name).", status=400)
    try:
        login, names = await check_pat(token, repos)
    except ValueError as exc:
        return SourceResult(False, str(exc), status=400)
    return await asyncio.to_thread(_store_pat, user_id, token, login, names, now or utcnow())


def _store_pat(user_id: int, token: str, login: str, names: dict[str, int], now: dt.datetime
               ) -> SourceResult:
    with session_scope() as session:
        existing = next((
            source for source in access.visible_installations(session, user_id)
            if source.kind == "pat" and (source.account_login or "").lower() == login.lower()
            and source.created_by_user_id == user_id
        ), None)
        source = existing or Installation(kind="pat", account_login=login, account_type="User",
                                          created_by_user_id=user_id, status="active")
        access.add_listed(source, names)
        source.token_enc = encrypt_token(token)
        source.token_hint = token_hint(token)
        session.add(source)
        session.flush()
        assert source.id is not None
        if existing is None:
            session.add(UserInstallation(user_id=user_id, installation_id=source.id,
                                         role="owner", claimed_at=now))
        for name, gh_id in names.items():
            access.set_choice(session, user_id, source.id, name, True, gh_id)
        return SourceResult(True, f"Token source for @{login} added with {len(names)} "
                            f"repositor{'y' if len(names) == 1 else 'ies'}.", source.id)


def start_full_sync(installation_id: int, user_id: int) -> bool:
    """Request the first, full sync of a source just added (as "Sync now" does); whether a sync
    started."""
    return request_sync(installation_id, "manual", force_full=True, user_id=user_id).started


async def add_pat_source_and_sync(user_id: int, token: str, repos_text: str
                                  ) -> tuple[SourceResult, bool]:
    """`add_pat_source`, then the new source's first full sync.

    Returns:
        The add's result, and whether its sync started (False when nothing was added).
    """
    result = await add_pat_source(user_id, token, repos_text)
    if not result.ok or result.installation_id is None:
        return result, False
    started = await asyncio.to_thread(start_full_sync, result.installation_id, user_id)
    return result, started


def remove_pat_source(user_id: int, installation_id: int) -> SourceResult:
    """Remove a token source: owners only; its facts stay, its token is forgotten."""
    with session_scope() as session:
        role = role_of(session, user_id, installation_id)
        source = session.get(Installation, installation_id)
        if role is None or source is None or source.kind != "pat":
            return SourceResult(False, NOT_FOUND, status=404)
        if role != "owner":
            return SourceResult(False, OWNER_ONLY, status=403)
        source.status = "deleted"
        source.token_enc = None
        session.add(source)
        return SourceResult(True, f"Token source @{source.account_login} removed.",
                            installation_id)


# Repositories of a source -------------------------------------------------------------------------
def set_tracked(user_id: int, installation_id: int, full_name: str, tracked: bool
                ) -> SourceResult:
    """Track or untrack one repository of a visible source for this user (by its GitHub id
    when the repository is stored)."""
    with session_scope() as session:
        source = session.get(Installation, installation_id)
        if source is None or role_of(session, user_id, installation_id) is None:
            return SourceResult(False, NOT_FOUND, status=404)
        stored = access.source_repos(session, source)
        names = {name.lower(): name for name in
                 [*(repo.full_name for repo in stored), *source.repositories]}
        name = names.get(full_name.lower())
        if name is None:
            return SourceResult(False, "Repository not found", status=404)
        gh_id = next((repo.gh_id for repo in stored if repo.full_name.lower() == name.lower()),
                     None)
        access.set_choice(session, user_id, installation_id, name, tracked, gh_id)
        verb = "Tracking" if tracked else "Stopped tracking"
        return SourceResult(True, f"{verb} {name}", installation_id)


def retry_failed_deliveries(user_id: int, installation_id: int) -> SourceResult:
    """Replay a source's dead-lettered webhook deliveries: owners (and operators) only."""
    with session_scope() as session:
        role = role_of(session, user_id, installation_id)
        source = session.get(Installation, installation_id)
        user = session.get(User, user_id)
        if role is None or source is None or user is None:
            return SourceResult(False, NOT_FOUND, status=404)
        if role != "owner" and not is_operator(user):
            return SourceResult(False, OWNER_ONLY, status=403)
        gh_id = source.gh_installation_id
    if gh_id is None:
        return SourceResult(True, "No failed deliveries to retry.", installation_id)
    count = retry_failed([gh_id])
    return SourceResult(True, f"Retrying {count} failed deliver{'y' if count == 1 else 'ies'}.",
                        installation_id)
