"""GitHub payloads for tests: the recorded webhook fixtures and REST item factories.

Factories return plain JSON-like dicts shaped like GitHub's REST responses; every field has a
default and any can be overridden (`rest_pull(number=7, title="x")`); nested overrides replace
whole values.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

_REPO_ROOT = Path(__file__).resolve().parents[2]
# A copy inside the repository wins; the shared checkout next to it is the fallback.
_WEBHOOK_DIRS = (
    _REPO_ROOT / "tests" / "fixtures" / "github" / "webhooks",
    _REPO_ROOT.parent / "shared" / "fixtures" / "github" / "webhooks",
)
WEBHOOKS = next((path for path in _WEBHOOK_DIRS if path.is_dir()), _WEBHOOK_DIRS[-1])

OWNER = "Codertocat"
REPO_NAME = "Hello-World"
FULL_NAME = f"{OWNER}/{REPO_NAME}"
REPO_ID = 186853002
USER_ID = 21031067
HTML = "https://github.com"
API = "https://api.github.com"


@cache
def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def webhook_path(event: str, name: str) -> Path:
    """The fixture file `webhooks/{event}/{name}`: `opened` → `opened.payload.json`, `payload` →
    `payload.json`, a name ending in `.json` as is."""
    if name.endswith(".json"):
        return WEBHOOKS / event / name
    candidate = WEBHOOKS / event / f"{name}.payload.json"
    return candidate if candidate.exists() else WEBHOOKS / event / f"{name}.json"


def load_webhook(event: str, name: str) -> dict[str, Any]:
    """A fresh (deep-copied, safe to mutate) recorded webhook payload."""
    return copy.deepcopy(_read(webhook_path(event, name)))


def all_webhook_fixtures() -> list[tuple[str, str]]:
    """Every `(event, file name)` under the webhook fixtures."""
    return sorted((path.parent.name, path.name) for path in WEBHOOKS.glob("*/*.json"))


def user(login: str = OWNER, user_id: int = USER_ID, **overrides: Any) -> dict[str, Any]:
    """A GitHub user object."""
    return {
        "login": login,
        "id": user_id,
        "node_id": f"MDQ6VXNlcj{user_id}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
        "html_url": f"{HTML}/{login}",
        "type": "User",
        "site_admin": False,
        **overrides,
    }


def rest_repo(**overrides: Any) -> dict[str, Any]:
    """`GET /repos/{owner}/{repo}`."""
    return {
        "id": REPO_ID,
        "node_id": "MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=",
        "name": REPO_NAME,
        "full_name": FULL_NAME,
        "private": False,
        "owner": user(),
        "html_url": f"{HTML}/{FULL_NAME}",
        "description": None,
        "fork": False,
        "default_branch": "master",
        **overrides,
    }


def rest_pull(number: int = 2, **overrides: Any) -> dict[str, Any]:
    """An item of `GET /repos/{o}/{r}/pulls` (no merged flag, no metrics)."""
    return {
        "url": f"{API}/repos/{FULL_NAME}/pulls/{number}",
        "id": 279147437,
        "node_id": "MDExOlB1bGxSZXF1ZXN0Mjc5MTQ3NDM3",
        "html_url": f"{HTML}/{FULL_NAME}/pull/{number}",
        "number": number,
        "state": "open",
        "locked": False,
        "title": "Update the README with new information.",
        "user": user(),
        "body": "This is a pretty simple change that we need to pull into master.",
        "labels": [],
        "created_at": "2019-05-15T15:20:33Z",
        "updated_at": "2019-05-15T15:20:33Z",
        "closed_at": None,
        "merged_at": None,
        "draft": False,
        "head": {"ref": "changes", "sha": "ec26c3e57ca3a959ca5aad62de7213c562f8c821"},
        "base": {"ref": "master", "sha": "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"},
        **overrides,
    }


def rest_pull_detail(number: int = 2, **overrides: Any) -> dict[str, Any]:
    """`GET /repos/{o}/{r}/pulls/{n}`: the list item plus merged, merged_by and metrics."""
    detail = rest_pull(number)
    detail.update(
        {
            "merged": False,
            "merged_by": None,
            "additions": 1,
            "deletions": 1,
            "changed_files": 1,
            "commits": 1,
        }
    )
    detail.update(overrides)
    return detail


def rest_review(pr_number: int = 2, review_id: int = 80, **overrides: Any) -> dict[str, Any]:
    """An item of `GET /repos/{o}/{r}/pulls/{n}/reviews` (state in upper case)."""
    return {
        "id": review_id,
        "node_id": "MDE3OlB1bGxSZXF1ZXN0UmV2aWV3ODA=",
        "user": user(),
        "body": "Here is the body for the review.",
        "state": "APPROVED",
        "html_url": f"{HTML}/{FULL_NAME}/pull/{pr_number}#pullrequestreview-{review_id}",
        "pull_request_url": f"{API}/repos/{FULL_NAME}/pulls/{pr_number}",
        "submitted_at": "2019-11-17T17:43:43Z",
        "commit_id": "ecdd80bb57125d7ba9641ffaa4d7d2c19d3f3091",
        "author_association": "COLLABORATOR",
        **overrides,
    }


def rest_issue(number: int = 1, **overrides: Any) -> dict[str, Any]:
    """An item of `GET /repos/{o}/{r}/issues`."""
    return {
        "id": 444500041,
        "node_id": "MDU6SXNzdWU0NDQ1MDAwNDE=",
        "url": f"{API}/repos/{FULL_NAME}/issues/{number}",
        "html_url": f"{HTML}/{FULL_NAME}/issues/{number}",
        "number": number,
        "state": "open",
        "title": "Spelling error in the README file",
        "body": "It looks like you accidently spelled 'commit' with two 't's.",
        "user": user(),
        "labels": [{"id": 1362934389, "name": "bug", "color": "d73a4a"}],
        "created_at": "2019-05-15T15:20:18Z",
        "updated_at": "2019-05-15T15:20:18Z",
        "closed_at": None,
        **overrides,
    }


def rest_issue_comment(
    number: int = 1, comment_id: int = 492700400, on_pull: bool = False, **overrides: Any
) -> dict[str, Any]:
    """An item of `GET /repos/{o}/{r}/issues/comments`."""
    kind = "pull" if on_pull else "issues"
    return {
        "id": comment_id,
        "node_id": "MDEyOklzc3VlQ29tbWVudDQ5MjcwMDQwMA==",
        "url": f"{API}/repos/{FULL_NAME}/issues/comments/{comment_id}",
        "html_url": f"{HTML}/{FULL_NAME}/{kind}/{number}#issuecomment-{comment_id}",
        "issue_url": f"{API}/repos/{FULL_NAME}/issues/{number}",
        "body": "You are totally right! I'll get this fixed right away.",
        "user": user(),
        "created_at": "2019-05-15T15:20:21Z",
        "updated_at": "2019-05-15T15:20:21Z",
        "author_association": "OWNER",
        **overrides,
    }


def rest_review_comment(
    pr_number: int = 2, comment_id: int = 284312630, **overrides: Any
) -> dict[str, Any]:
    """An item of `GET /repos/{o}/{r}/pulls/comments`."""
    return {
        "id": comment_id,
        "node_id": "MDI0OlB1bGxSZXF1ZXN0UmV2aWV3Q29tbWVudDI4NDMxMjYzMA==",
        "pull_request_review_id": 237895671,
        "url": f"{API}/repos/{FULL_NAME}/pulls/comments/{comment_id}",
        "diff_hunk": "@@ -1 +1 @@\n-# Hello-World",
        "path": "README.md",
        "commit_id": "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
        "user": user(),
        "body": "Maybe you should use more emoji on this line.",
        "created_at": "2019-05-15T15:20:37Z",
        "updated_at": "2019-05-15T15:20:38Z",
        "html_url": f"{HTML}/{FULL_NAME}/pull/{pr_number}#discussion_r{comment_id}",
        "pull_request_url": f"{API}/repos/{FULL_NAME}/pulls/{pr_number}",
        **overrides,
    }


def rest_commit(
    sha: str = "6113728f27ae82c7b1a177c8d03f9e96e0adf246", **overrides: Any
) -> dict[str, Any]:
    """An item of `GET /repos/{o}/{r}/commits` (no stats, no files)."""
    git_identity = {
        "name": "Codertocat",
        "email": "21031067+Codertocat@users.noreply.github.com",
        "date": "2019-05-15T15:19:25Z",
    }
    return {
        "sha": sha,
        "node_id": "MDY6Q29tbWl0NjExMzcyOGYyN2FlODJjN2IxYTE3N2M4ZDAzZjllOTZlMGFkZjI0Ng==",
        "url": f"{API}/repos/{FULL_NAME}/commits/{sha}",
        "html_url": f"{HTML}/{FULL_NAME}/commit/{sha}",
        "commit": {
            "author": dict(git_identity),
            "committer": dict(git_identity),
            "message": "Initial commit",
            "tree": {"sha": "31b122c26a97cf9af023e9ddab94a82c6e77b0ea"},
        },
        "author": user(),
        "committer": user(),
        "parents": [],
        **overrides,
    }


def rest_commit_detail(
    sha: str = "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
    additions: int = 3,
    deletions: int = 1,
    files: int = 2,
    **overrides: Any,
) -> dict[str, Any]:
    """`GET /repos/{o}/{r}/commits/{sha}`: the list item plus `stats` and `files`."""
    detail = rest_commit(sha)
    total = additions + deletions
    detail["stats"] = {"additions": additions, "deletions": deletions, "total": total}
    detail["files"] = [
        {"filename": f"file{index}.txt", "status": "modified", "additions": 1, "deletions": 0}
        for index in range(files)
    ]
    detail.update(overrides)
    return detail


def rest_release(
    release_id: int = 17372790, tag: str = "0.0.1", **overrides: Any
) -> dict[str, Any]:
    """An item of `GET /repos/{o}/{r}/releases`."""
    return {
        "id": release_id,
        "node_id": "MDc6UmVsZWFzZTE3MzcyNzkw",
        "url": f"{API}/repos/{FULL_NAME}/releases/{release_id}",
        "html_url": f"{HTML}/{FULL_NAME}/releases/tag/{tag}",
        "tag_name": tag,
        "target_commitish": "master",
        "name": "First release",
        "body": "Description of the release",
        "draft": False,
        "prerelease": False,
        "created_at": "2019-05-15T15:19:25Z",
        "published_at": "2019-05-15T15:20:53Z",
        "author": user(),
        "assets": [],
        **overrides,
    }
