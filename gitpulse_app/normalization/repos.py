"""The repos rows behind every fact: `upsert_repo` patches the row by gh_id from GitHub's repository
object and carries a rename through to the repository's facts (`rewrite_repo_urls`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from gitpulse_app.core.logging import get_logger
from gitpulse_app.core.models import Repo, User
from gitpulse_app.normalization.changes import FactChange
from gitpulse_app.normalization.content_hash import content_hash
from gitpulse_app.normalization.fact_rows import (
    EVENTS,
    STORED_COLUMNS,
    aware_now,
    load_stored,
    update_by_id,
)
from gitpulse_app.normalization.identity import STALE_MARK, actor_of, insert_unless_taken
from gitpulse_app.normalization.models import Metrics, NormalizedFact, RepoRef
from gitpulse_app.normalization.readers import (
    get_bool,
    get_dict,
    get_int,
    get_str,
    get_text,
    parse_timestamp,
)

log = get_logger(__name__)


# Repositories ------------------------------------------------------------------------------------


def upsert_repo(
    session: Session,
    raw_repo: Mapping[str, Any],
    *,
    github_url: str,
    changes: list[FactChange] | None = None,
    now: dt.datetime | None = None,
) -> Repo:
    """Creates or patches the repository row from GitHub's repository object, by gh_id.

    Every field present in `raw_repo` is patched (absent keys keep the stored value; push webhooks'
    epoch-second timestamps are accepted). When `full_name` changes, the repository's facts move
    from `{github_url}/{old}/` to `{github_url}/{new}/` in the same transaction, re-rendered and
    re-hashed. A different row still holding the new name is stale and is renamed
    `{full_name}#{its gh_id}` (its facts' URLs with it, so they cannot collide with the new ones).

    Args:
        session: The caller's session; the row is flushed, nothing is committed.
        raw_repo: A REST or webhook repository object (`id` and `full_name` or `owner.login` +
            `name` required).
        github_url: Web base of fact URLs (`GITHUB_URL`).
        changes: Receives a `FactChange` per fact a rename rewrote; send them with `fact_changed`
            after the commit (`store.publish_changes`).
        now: The write time (aware); defaults to now.

    Returns:
        The repository row.

    Raises:
        ValueError: The object has no id or name.
    """
    fields = repo_fields(raw_repo)
    for _ in range(2):
        repo = _upsert_repo_once(session, fields, github_url, changes, now)
        if repo is not None:
            return repo
    raise RuntimeError(f"Could not store the repository {fields['full_name']}: it kept conflicting.")


def _upsert_repo_once(
    session: Session,
    fields: dict[str, Any],
    github_url: str,
    changes: list[FactChange] | None,
    now: dt.datetime | None,
) -> Repo | None:
    full_name = fields["full_name"]
    repo = session.exec(select(Repo).where(Repo.gh_id == fields["gh_id"])).first()
    if repo is None or repo.full_name != full_name:
        holder = session.exec(select(Repo).where(Repo.full_name == full_name)).first()
        if holder is not None and (repo is None or holder.id != repo.id):
            stale_name = f"{holder.full_name}{STALE_MARK}{holder.gh_id}"
            _rename_repo(session, holder, stale_name, github_url, changes, now)
    if repo is None:
        return insert_unless_taken(session, Repo(**fields))
    old_name = repo.full_name
    for name, value in fields.items():
        if name != "full_name" and getattr(repo, name) != value:
            setattr(repo, name, value)
    if old_name != full_name:
        _rename_repo(session, repo, full_name, github_url, changes, now)
    session.flush()
    return repo


def _rename_repo(
    session: Session,
    repo: Repo,
    new_name: str,
    github_url: str,
    changes: list[FactChange] | None,
    now: dt.datetime | None,
) -> None:
    old_name = repo.full_name
    repo.full_name = new_name
    session.flush()
    rewritten = rewrite_repo_urls(
        session, repo.id, old_name, new_name, github_url=github_url, now=now
    )
    log.info(
        "Repository renamed",
        extra={"repo_id": repo.id, "from": old_name, "to": new_name, "facts": len(rewritten)},
    )
    if changes is not None:
        changes.extend(rewritten)


def repo_fields(raw_repo: Mapping[str, Any]) -> dict[str, Any]:
    """The `repos` columns a repository object sets (only those whose keys are present).

    Raises:
        ValueError: The object has no id or name.
    """
    gh_id = get_int(raw_repo, "id")
    owner = get_text(get_dict(raw_repo, "owner"), "login")
    name = get_text(raw_repo, "name")
    full_name = get_text(raw_repo, "full_name") or (owner and name and f"{owner}/{name}")
    if gh_id is None or not full_name:
        raise ValueError("A repository object needs an `id` and a `full_name` to be stored.")
    split_owner, _, split_name = full_name.partition("/")
    fields: dict[str, Any] = {
        "gh_id": gh_id,
        "full_name": full_name,
        "owner": owner or split_owner,
        "name": name or split_name,
    }
    for column, (key, read) in _REPO_COLUMNS.items():
        if key in raw_repo:
            value = read(raw_repo, key)
            if value is not None or column not in _REQUIRED_FLAGS:
                fields[column] = value
    return fields


def _timestamp(raw: Mapping[str, Any], key: str) -> dt.datetime | None:
    value = raw.get(key)
    # Push webhooks send the repository's created_at and pushed_at as epoch seconds.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return dt.datetime.fromtimestamp(value, dt.UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return parse_timestamp(value)


_Reader = Callable[[Mapping[str, Any], str], Any]
_REPO_COLUMNS: dict[str, tuple[str, _Reader]] = {
    "gh_node_id": ("node_id", get_text),
    "description": ("description", get_str),
    "html_url": ("html_url", get_str),
    "homepage": ("homepage", get_str),
    "language": ("language", get_str),
    "default_branch": ("default_branch", get_str),
    "is_private": ("private", get_bool),
    "is_fork": ("fork", get_bool),
    "is_archived": ("archived", get_bool),
    "stars": ("stargazers_count", get_int),
    "forks": ("forks_count", get_int),
    "open_issues": ("open_issues_count", get_int),
    "watchers": ("watchers_count", get_int),
    "size": ("size", get_int),
    "gh_created_at": ("created_at", _timestamp),
    "gh_updated_at": ("updated_at", _timestamp),
    "gh_pushed_at": ("pushed_at", _timestamp),
}
# NOT NULL columns: an absent or malformed flag keeps the stored value (default false).
_REQUIRED_FLAGS = frozenset({"is_private", "is_fork", "is_archived"})


# Renames -----------------------------------------------------------------------------------------


def rewrite_repo_urls(
    session: Session,
    repo_id: int,
    old_full_name: str,
    new_full_name: str,
    *,
    github_url: str,
    now: dt.datetime | None = None,
) -> list[FactChange]:
    """Moves a renamed repository's facts to the new URL prefix, re-rendered and re-hashed.

    `{github_url}/{old}/…` becomes `{github_url}/{new}/…` in the repository's facts. A fact whose
    new URL another fact already holds keeps its old URL (logged): merging two rows is not a
    rename's business.

    Args:
        session: The caller's session (the repo upsert's transaction).
        repo_id: The renamed repository.
        old_full_name: Its previous `full_name`.
        new_full_name: Its new `full_name`.
        github_url: Web base of fact URLs.
        now: The write time (aware); defaults to now.

    Returns:
        One "updated" `FactChange` per rewritten fact.
    """
    now = aware_now(now)
    base = github_url.rstrip("/")
    old_prefix, new_prefix = f"{base}/{old_full_name}/", f"{base}/{new_full_name}/"
    query = (
        sa.select(*STORED_COLUMNS)
        .where(EVENTS.c.repo_id == repo_id)
        .where(EVENTS.c.source_url.startswith(old_prefix, autoescape=True))
    )
    rows = [dict(row) for row in session.execute(query).mappings()]
    rows = [row for row in rows if row["source_url"].startswith(old_prefix)]
    if not rows:
        return []
    for row in rows:
        row["new_url"] = new_prefix + row["source_url"][len(old_prefix) :]
    taken = load_stored(session, {(row["type"], row["new_url"]) for row in rows})
    actors = {
        user.id: user
        for user in session.scalars(
            sa.select(User).where(User.id.in_({row["actor_id"] for row in rows}))
        )
    }
    repo = RepoRef(gh_id=0, full_name=new_full_name, owner="", name="")
    params, changes = [], []
    for row in rows:
        if (row["type"], row["new_url"]) in taken:
            log.warning(
                "A renamed repository's fact kept its URL: the new URL is already stored",
                extra={"event_id": row["id"], "repo_id": repo_id},
            )
            continue
        fact = NormalizedFact(
            type=row["type"],
            repo=repo,
            actor=actor_of(actors[row["actor_id"]]),
            ts=row["ts"],
            source_url=row["new_url"],
            metrics=Metrics(row["additions"], row["deletions"], row["files_changed"]),
            metadata=row["metadata"] or {},
        )
        text = fact.canonical_text
        digest = content_hash(text, fact.source_url, fact.metrics)
        params.append(
            {
                "b_id": row["id"],
                "b_source_url": row["new_url"],
                "b_canonical_text": text,
                "b_content_hash": digest,
                "b_updated_at": now,
            }
        )
        changes.append(
            FactChange(
                event_id=row["id"],
                result="updated",
                content_hash=digest,
                ts=row["ts"],
                repo_id=repo_id,
                actor_id=row["actor_id"],
                type=row["type"],
            )
        )
    if params:
        session.execute(_RENAME_UPDATE, params)
    return changes


_RENAME_UPDATE = update_by_id(
    source_url=sa.bindparam("b_source_url"),
    canonical_text=sa.bindparam("b_canonical_text"),
    content_hash=sa.bindparam("b_content_hash"),
    updated_at=sa.bindparam("b_updated_at"),
)
