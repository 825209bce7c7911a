"""GitHub's webhook objects (users, repositories, pull requests, …) in the shapes GitHub sends.

Each builder returns the keys, in the order, of the recorded payloads under
`tests/fixtures/github/webhooks/`, so the demo's deliveries look to the receiver and processor
exactly like real ones. Web URLs use `GITHUB_URL` and API URLs `GITHUB_API_URL`.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from gitpulse_app.core.clock import iso_z
from gitpulse_app.experience.demo.catalog import (
    INSTALLATION_ID,
    ORG_ID,
    ORG_LOGIN,
    Person,
    RepoSpec,
)

Json = dict[str, Any]

_LABEL_COLOURS = {
    "bug": ("d73a4a", "Something isn't working"),
    "enhancement": ("a2eeef", "New feature or request"),
    "documentation": ("0075ca", "Improvements or additions to documentation"),
    "chore": ("ededed", "Maintenance"),
    "performance": ("fbca04", "Faster, smaller, cheaper"),
    "security": ("b60205", "Security hardening"),
    "accessibility": ("5319e7", "Accessibility"),
}


# GitHub's timestamp format: UTC with a `Z`, whole seconds.
iso = functools.partial(iso_z, timespec="seconds")


def node_id(kind: str, number: int) -> str:
    """A legacy GitHub node id, e.g. `MDQ6VXNlcjIxMDMxMDY3` for `04:User21031067`."""
    return base64.b64encode(f"{len(kind):02d}:{kind}{number}".encode()).decode()


@dataclass(frozen=True)
class Shapes:
    """Builds GitHub objects against a web base (`GITHUB_URL`) and an API base."""

    web: str = "https://github.com"
    api: str = "https://api.github.com"

    # Accounts -----------------------------------------------------------------------------------
    def account(self, login: str, gh_id: int, kind: str = "User") -> Json:
        api = f"{self.api}/users/{login}"
        return {
            "login": login,
            "id": gh_id,
            "node_id": node_id(kind, gh_id),
            "avatar_url": f"{self.web}/identicons/{login}.png",
            "gravatar_id": "",
            "url": api,
            "html_url": f"{self.web}/{login}",
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": kind,
            "site_admin": False,
        }

    def user(self, person: Person) -> Json:
        return self.account(person.login, person.gh_id)

    def organization(self) -> Json:
        api = f"{self.api}/orgs/{ORG_LOGIN}"
        return {
            "login": ORG_LOGIN,
            "id": ORG_ID,
            "node_id": node_id("Organization", ORG_ID),
            "url": api,
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events",
            "hooks_url": f"{api}/hooks",
            "issues_url": f"{api}/issues",
            "members_url": f"{api}/members{{/member}}",
            "public_members_url": f"{api}/public_members{{/member}}",
            "avatar_url": f"{self.web}/identicons/{ORG_LOGIN}.png",
            "description": "Acme builds the tools teams run their day on.",
        }

    @staticmethod
    def installation() -> Json:
        return {"id": INSTALLATION_ID,
                "node_id": node_id("IntegrationInstallation", INSTALLATION_ID)}

    # Repositories -------------------------------------------------------------------------------
    def repository(self, repo: RepoSpec, pushed_at: dt.datetime, *, push: bool = False) -> Json:
        """The `repository` object; push deliveries carry GitHub's variant (epoch times, …)."""
        full = repo.full_name
        api = f"{self.api}/repos/{full}"
        html = f"{self.web}/{full}"
        owner = self.account(ORG_LOGIN, ORG_ID, "Organization")
        if push:
            owner = {"name": ORG_LOGIN, "email": None, **owner}
        created = dt.datetime.fromisoformat(repo.created.replace("Z", "+00:00"))
        shape: Json = {
            "id": repo.gh_id,
            "node_id": node_id("Repository", repo.gh_id),
            "name": repo.name,
            "full_name": full,
            "private": True,
            "owner": owner,
            "html_url": html,
            "description": repo.description,
            "fork": False,
            # Push deliveries really do put the web URL here.
            "url": html if push else api,
        }
        for key, suffix in _REPO_API_LINKS:
            shape[key] = f"{api}/{suffix}"
        shape.update({
            "created_at": int(created.timestamp()) if push else iso(created),
            "updated_at": iso(pushed_at),
            "pushed_at": int(pushed_at.timestamp()) if push else iso(pushed_at),
            "git_url": f"git://{self.web.split('://', 1)[-1]}/{full}.git",
            "ssh_url": f"git@{self.web.split('://', 1)[-1]}:{full}.git",
            "clone_url": f"{html}.git",
            "svn_url": html,
            "homepage": repo.homepage,
            "size": 48_211,
            "stargazers_count": 0,
            "watchers_count": 0,
            "language": repo.language,
            "has_issues": True,
            "has_projects": True,
            "has_downloads": True,
            "has_wiki": False,
            "has_pages": False,
            "forks_count": 0,
            "mirror_url": None,
            "archived": False,
            "disabled": False,
            "open_issues_count": 12,
            "license": None,
            "forks": 0,
            "open_issues": 12,
            "watchers": 0,
            "default_branch": "main",
        })
        if push:
            shape.update({"stargazers": 0, "master_branch": "main"})
        shape.update({
            "is_template": False,
            "topics": list(repo.topics),
            "visibility": "private",
            "web_commit_signoff_required": False,
            "custom_properties": {},
        })
        return shape

    def label(self, repo: RepoSpec, name: str) -> Json:
        colour, description = _LABEL_COLOURS.get(name, ("ededed", None))
        label_id = 5_100_000_000 + repo.gh_id % 1000 * 100 + sorted(_LABEL_COLOURS).index(name)
        return {
            "id": label_id,
            "node_id": node_id("Label", label_id),
            "url": f"{self.api}/repos/{repo.full_name}/labels/{name}",
            "name": name,
            "color": colour,
            "default": name in {"bug", "enhancement", "documentation"},
            "description": description,
        }

    def reactions(self, api_url: str) -> Json:
        kinds = ("+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes")
        counts = dict.fromkeys(kinds, 0)
        return {"url": f"{api_url}/reactions", "total_count": 0, **counts}


_REPO_API_LINKS = (
    ("forks_url", "forks"),
    ("keys_url", "keys{/key_id}"),
    ("collaborators_url", "collaborators{/collaborator}"),
    ("teams_url", "teams"),
    ("hooks_url", "hooks"),
    ("issue_events_url", "issues/events{/number}"),
    ("events_url", "events"),
    ("assignees_url", "assignees{/user}"),
    ("branches_url", "branches{/branch}"),
    ("tags_url", "tags"),
    ("blobs_url", "git/blobs{/sha}"),
    ("git_tags_url", "git/tags{/sha}"),
    ("git_refs_url", "git/refs{/sha}"),
    ("trees_url", "git/trees{/sha}"),
    ("statuses_url", "statuses/{sha}"),
    ("languages_url", "languages"),
    ("stargazers_url", "stargazers"),
    ("contributors_url", "contributors"),
    ("subscribers_url", "subscribers"),
    ("subscription_url", "subscription"),
    ("commits_url", "commits{/sha}"),
    ("git_commits_url", "git/commits{/sha}"),
    ("comments_url", "comments{/number}"),
    ("issue_comment_url", "issues/comments{/number}"),
    ("contents_url", "contents/{+path}"),
    ("compare_url", "compare/{base}...{head}"),
    ("merges_url", "merges"),
    ("archive_url", "{archive_format}{/ref}"),
    ("downloads_url", "downloads"),
    ("issues_url", "issues{/number}"),
    ("pulls_url", "pulls{/number}"),
    ("milestones_url", "milestones{/number}"),
    ("notifications_url", "notifications{?since,all,participating}"),
    ("labels_url", "labels{/name}"),
    ("releases_url", "releases{/id}"),
    ("deployments_url", "deployments"),
)
