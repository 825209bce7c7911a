"""Which source a `sync` command reads through (`sync`, the server token).

`--installation ID` names one source: GitHub's installation id for an App installation, `pat:<our
installations.id>` for a personal-token source, `env` for the server-token source. `--repo
OWNER/NAME` picks the single server-token (`env_pat`) source when `GITHUB_TOKEN` is set, creating
it on first use, else the App installation whose repositories include the repository. Without
either, every active, linked source is meant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlmodel import Session, col, select

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.config import get_settings
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import Installation, UserInstallation

ENV_REFERENCE = "env"
PAT_PREFIX = "pat:"
# GitHub logins: alphanumerics and single hyphens; repository names: alphanumerics, ".", "-", "_".
REPO_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
INSTALLATION_REFERENCE = re.compile(r"[0-9]{1,19}|pat:[0-9]{1,19}|env")


class SourceError(Exception):
    """No source fits the command; the message says what to do."""


@dataclass(frozen=True)
class SyncTarget:
    """A source to request a sync of, and (for `--repo`) the one repository to sync."""

    installation_id: int
    label: str
    repos: tuple[str, ...] | None = None


def is_repo_name(value: str) -> bool:
    """Whether `value` reads as `OWNER/NAME`."""
    return REPO_NAME.fullmatch(value) is not None and value.split("/")[1] not in (".", "..")


def is_installation_reference(value: str) -> bool:
    """Whether `value` is one of the `--installation` forms."""
    return INSTALLATION_REFERENCE.fullmatch(value) is not None


def source_label(installation: Installation) -> str:
    """How a command's output names a source."""
    if installation.kind == "env_pat":
        return "server token (env)"
    if installation.kind == "pat":
        return f"{installation.account_login or 'personal token'} (pat:{installation.id})"
    account = installation.account_login or "GitHub App"
    return f"{account} (installation {installation.gh_installation_id})"


def _target(installation: Installation, repos: tuple[str, ...] | None = None) -> SyncTarget:
    assert installation.id is not None
    return SyncTarget(installation.id, source_label(installation), repos)


def resolve_targets(*, installation: str | None = None, repo: str | None = None
                    ) -> list[SyncTarget]:
    """The sources a `sync` command requests, from its `--installation` or `--repo`.

    Raises:
        SourceError: The named source does not exist, no source can read the repository, or no
            source is active and linked.
    """
    if installation is not None:
        return [source_by_reference(installation)]
    if repo is not None:
        return [source_for_repo(repo)]
    return linked_sources()


def source_by_reference(reference: str) -> SyncTarget:
    """The source an `--installation` value names (`<gh id>`, `pat:<id>` or `env`)."""
    with session_scope() as session:
        if reference == ENV_REFERENCE:
            row = _env_source(session)
            missing = ("No server-token source (env) yet: set GITHUB_TOKEN and run "
                       "`sync --repo OWNER/NAME` to add a repository to it.")
        elif reference.startswith(PAT_PREFIX):
            row = session.get(Installation, int(reference[len(PAT_PREFIX):]))
            row = row if row is not None and row.kind == "pat" else None
            missing = f"No personal-token source {reference}"
        else:
            row = session.exec(
                select(Installation).where(Installation.gh_installation_id == int(reference))
            ).first()
            missing = f"No GitHub App installation {reference}"
        if row is None:
            raise SourceError(missing)
        return _target(row)


def source_for_repo(full_name: str) -> SyncTarget:
    """The source that syncs one repository for the operator's `sync --repo`."""
    if get_settings().github_token:
        source = ensure_env_source(full_name)
        return _target(source, (full_name,))
    wanted = full_name.lower()
    with session_scope() as session:
        candidates = session.exec(
            select(Installation)
            .where(Installation.kind == "app", Installation.status != "deleted")
            .order_by(col(Installation.id))
        ).all()
        readers = [row for row in candidates
                   if any(name.lower() == wanted for name in row.repositories)]
        if not readers:
            raise SourceError(
                f"No source can read {full_name}: set GITHUB_TOKEN or install the GitHub App on it"
            )
        # An active installation first; a suspended one is refused by the policy with its reason.
        chosen = min(readers, key=lambda row: row.status != "active")
        stored = next(name for name in chosen.repositories if name.lower() == wanted)
        return _target(chosen, (stored,))


def ensure_env_source(repo: str | None = None) -> Installation:
    """The single server-token (`env_pat`) source, created on first use; `repo` joins its list.

    Its repositories stay invisible to users until an operator tracks them (opt-in,
    docs/VISIBILITY.md).
    """
    token = get_settings().github_token or ""
    with session_scope() as session:
        source = _env_source(session, for_update=True)
        now = utcnow()
        if source is None:
            source = Installation(kind="env_pat", status="active", repositories=[],
                                  token_hint=f"…{token[-4:]}" if token else None,
                                  created_at=now, updated_at=now)
        if repo and all(name.lower() != repo.lower() for name in source.repositories):
            source.repositories = [*source.repositories, repo]  # a new list: JSON columns need one
            source.updated_at = now
        session.add(source)
        session.flush()
        session.refresh(source)
        return source


def _env_source(session: Session, *, for_update: bool = False) -> Installation | None:
    statement = (
        select(Installation).where(Installation.kind == "env_pat").order_by(col(Installation.id))
    )
    if for_update:
        statement = statement.with_for_update()
    return session.exec(statement).first()


def linked_sources() -> list[SyncTarget]:
    """Every active source (not the demo) linked to at least one user, oldest first.

    Raises:
        SourceError: There is none.
    """
    linked = select(UserInstallation.id).where(
        col(UserInstallation.installation_id) == col(Installation.id)
    )
    with session_scope() as session:
        rows = session.exec(
            select(Installation)
            .where(Installation.status == "active", Installation.kind != "demo",
                   linked.exists())
            .order_by(col(Installation.id))
        ).all()
        targets = [_target(row) for row in rows]
    if not targets:
        raise SourceError(
            "No active, linked source to sync: install the GitHub App and sign in, or sync one "
            "repository with `sync --repo OWNER/NAME` and GITHUB_TOKEN set."
        )
    return targets
