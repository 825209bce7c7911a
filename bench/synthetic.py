"""Synthetic GitHub REST items in the real shapes, for the ingest and webhook benchmarks."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

HTML = "https://github.com"


def user(login: str, user_id: int) -> dict[str, Any]:
    return {"login": login, "id": user_id, "node_id": f"U_{user_id}", "type": "User",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}"}


def repo(index: int) -> dict[str, Any]:
    name = f"service-{index}"
    return {"id": 9000 + index, "node_id": f"R_{index}", "name": name, "full_name": f"acme/{name}",
            "owner": {"login": "acme", "id": 1, "type": "Organization"}, "private": False,
            "html_url": f"{HTML}/acme/{name}", "fork": False, "default_branch": "main"}


def commit(repo_obj: dict[str, Any], author: dict[str, Any], n: int, when: dt.datetime) -> dict:
    sha = hashlib.sha1(f"{repo_obj['full_name']}:{n}".encode()).hexdigest()
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    identity = {"name": author["login"], "email": f"{author['login']}@example.com", "date": stamp}
    return {"sha": sha, "html_url": f"{HTML}/{repo_obj['full_name']}/commit/{sha}",
            "commit": {"author": identity, "committer": identity,
                       "message": f"Improve module {n % 97}: handle edge case #{n}"},
            "author": author, "committer": author, "parents": []}


def pull(repo_obj: dict[str, Any], author: dict[str, Any], n: int, when: dt.datetime) -> dict:
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"id": 50_000 + n, "node_id": f"PR_{n}", "number": n, "state": "open",
            "title": f"Add feature {n} to the {repo_obj['name']} pipeline", "body": "Details " * 20,
            "user": author, "created_at": stamp, "updated_at": stamp, "closed_at": None,
            "merged_at": None, "draft": False,
            "html_url": f"{HTML}/{repo_obj['full_name']}/pull/{n}",
            "base": {"ref": "main"}, "head": {"ref": f"feature-{n}"}}


def workload(count: int, *, repos: int = 3, actors: int = 10) -> list[tuple[str, dict, dict]]:
    """`count` (kind, item, repo) triples: 80% commits, 20% pull requests."""
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    repo_objs = [repo(i) for i in range(repos)]
    people = [user(f"dev{i}", 100 + i) for i in range(actors)]
    items = []
    for n in range(count):
        repo_obj, author = repo_objs[n % repos], people[n % actors]
        when = start + dt.timedelta(minutes=n)
        if n % 5 == 0:
            items.append(("pull", pull(repo_obj, author, n + 1, when), repo_obj))
        else:
            items.append(("commit", commit(repo_obj, author, n, when), repo_obj))
    return items
