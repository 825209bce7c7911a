"""The event objects of the demo's deliveries: pull requests, reviews, comments, issues, commits and
releases, in the shapes of the recorded webhook payloads (`tests/fixtures/github/webhooks/`).

`PullState` and `IssueState` hold what GitHub would know about a pull request or issue at the
moment a delivery is sent; the generator updates them as the story unfolds, in time order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from gitpulse_app.experience.demo.catalog import ORG_ID, ORG_LOGIN, Person, RepoSpec
from gitpulse_app.experience.demo.work import Change
from gitpulse_app.experience.demo.shapes import Json, Shapes, iso, node_id


@dataclass
class Commit:
    """A commit as a push delivery lists it."""

    sha: str
    tree: str
    message: str
    author: Person
    at: dt.datetime
    files: tuple[str, ...]
    via_github: bool = False  # squash merges are committed by GitHub itself


@dataclass
class PullState:
    """A pull request: its plan and what GitHub knows of it so far."""

    repo: RepoSpec
    number: int
    author: Person
    change: Change
    title: str
    branch: str
    additions: int
    deletions: int
    changed_files: int
    reviewers: tuple[Person, ...]
    gh_id: int = 0
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    head_sha: str = ""
    base_sha: str = ""
    commits: int = 0
    comments: int = 0
    review_comments: int = 0
    closed_at: dt.datetime | None = None
    merged_at: dt.datetime | None = None
    merged_by: Person | None = None
    merge_sha: str | None = None


@dataclass
class IssueState:
    """An issue and what GitHub knows of it so far."""

    repo: RepoSpec
    number: int
    author: Person
    title: str
    body: str
    label: str
    assignee: Person | None
    gh_id: int = 0
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    comments: int = 0
    comment_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Objects:
    """Builds event objects with `shapes` for URLs and accounts."""

    shapes: Shapes

    def _pull_urls(self, pull: PullState) -> tuple[str, str]:
        full = pull.repo.full_name
        return f"{self.shapes.api}/repos/{full}", f"{self.shapes.web}/{full}/pull/{pull.number}"

    def pull_request(self, pull: PullState, *, at: dt.datetime, variant: str = "full") -> Json:
        """The `pull_request` object as each event carries it: `full` (pull_request deliveries),
        `review` (pull_request_review) or `comment` (pull_request_review_comment)."""
        full = variant == "full"
        api, html = self._pull_urls(pull)
        pulls_api = f"{api}/pulls/{pull.number}"
        issue_api = f"{api}/issues/{pull.number}"
        shapes = self.shapes
        state = "closed" if pull.closed_at is not None and pull.closed_at <= at else "open"
        shape: Json = {
            "url": pulls_api,
            "id": pull.gh_id,
            "node_id": node_id("PullRequest", pull.gh_id),
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": issue_api,
            "number": pull.number,
            "state": state,
            "locked": False,
            "title": pull.title,
            "user": shapes.user(pull.author),
            "body": pull_body(pull.change),
            "created_at": iso(pull.created_at or at),
            "updated_at": iso(at),
            "closed_at": iso(pull.closed_at) if state == "closed" and pull.closed_at else None,
            "merged_at": iso(pull.merged_at) if state == "closed" and pull.merged_at else None,
            "merge_commit_sha": pull.merge_sha,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": ([] if state == "closed"
                                    else [shapes.user(p) for p in pull.reviewers]),
            "requested_teams": [],
            "labels": [shapes.label(pull.repo, pull.change.label)],
            "milestone": None,
        }
        if variant == "review":
            shape["draft"] = False
        shape.update({
            "commits_url": f"{pulls_api}/commits",
            "review_comments_url": f"{pulls_api}/comments",
            "review_comment_url": f"{api}/pulls/comments{{/number}}",
            "comments_url": f"{issue_api}/comments",
            "statuses_url": f"{api}/statuses/{pull.head_sha}",
            "head": self._ref(pull, pull.branch, pull.head_sha, at),
            "base": self._ref(pull, "main", pull.base_sha, at),
            "_links": {
                "self": {"href": pulls_api},
                "html": {"href": html},
                "issue": {"href": issue_api},
                "comments": {"href": f"{issue_api}/comments"},
                "review_comments": {"href": f"{pulls_api}/comments"},
                "review_comment": {"href": f"{api}/pulls/comments{{/number}}"},
                "commits": {"href": f"{pulls_api}/commits"},
                "statuses": {"href": f"{api}/statuses/{pull.head_sha}"},
            },
            "author_association": "MEMBER",
        })
        if variant != "comment":
            shape["auto_merge"] = None
        shape["active_lock_reason"] = None
        if not full:
            return shape
        merged = state == "closed" and pull.merged_at is not None
        shape.update({
            "draft": False,
            "merged": merged,
            "mergeable": None if state == "closed" else True,
            "rebaseable": None if state == "closed" else True,
            "mergeable_state": "unknown" if state == "closed" else "clean",
            "merged_by": shapes.user(pull.merged_by) if merged and pull.merged_by else None,
            "comments": pull.comments,
            "review_comments": pull.review_comments,
            "maintainer_can_modify": False,
            "commits": pull.commits,
            "additions": pull.additions,
            "deletions": pull.deletions,
            "changed_files": pull.changed_files,
        })
        return shape

    def _ref(self, pull: PullState, ref: str, sha: str, at: dt.datetime) -> Json:
        owner = self.shapes.account(ORG_LOGIN, ORG_ID, "Organization")
        return {
            "label": f"{ORG_LOGIN}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": owner,
            "repo": self.shapes.repository(pull.repo, at),
        }

    def review(self, pull: PullState, review_id: int, reviewer: Person, state: str, body: str,
               at: dt.datetime) -> Json:
        api, html = self._pull_urls(pull)
        review_html = f"{html}#pullrequestreview-{review_id}"
        pulls_api = f"{api}/pulls/{pull.number}"
        return {
            "id": review_id,
            "node_id": node_id("PullRequestReview", review_id),
            "user": self.shapes.user(reviewer),
            "body": body or None,
            "commit_id": pull.head_sha,
            "submitted_at": iso(at),
            "state": state,
            "html_url": review_html,
            "pull_request_url": pulls_api,
            "author_association": "MEMBER",
            "_links": {"html": {"href": review_html}, "pull_request": {"href": pulls_api}},
        }

    def review_comment(self, pull: PullState, comment_id: int, review_id: int, person: Person,
                       path: str, line: int, body: str, at: dt.datetime) -> Json:
        api, html = self._pull_urls(pull)
        comment_api = f"{api}/pulls/comments/{comment_id}"
        comment_html = f"{html}#discussion_r{comment_id}"
        pulls_api = f"{api}/pulls/{pull.number}"
        return {
            "url": comment_api,
            "pull_request_review_id": review_id,
            "id": comment_id,
            "node_id": node_id("PullRequestReviewComment", comment_id),
            "diff_hunk": f"@@ -{max(line - 3, 1)},6 +{max(line - 3, 1)},7 @@",
            "path": path,
            "position": 4,
            "original_position": 4,
            "commit_id": pull.head_sha,
            "original_commit_id": pull.head_sha,
            "user": self.shapes.user(person),
            "body": body,
            "created_at": iso(at),
            "updated_at": iso(at),
            "html_url": comment_html,
            "pull_request_url": pulls_api,
            "author_association": "MEMBER",
            "_links": {
                "self": {"href": comment_api},
                "html": {"href": comment_html},
                "pull_request": {"href": pulls_api},
            },
            "reactions": self.shapes.reactions(comment_api),
            "start_line": None,
            "original_start_line": None,
            "start_side": None,
            "line": line,
            "original_line": line,
            "side": "RIGHT",
        }

    def issue(self, issue: IssueState, at: dt.datetime) -> Json:
        api = f"{self.shapes.api}/repos/{issue.repo.full_name}"
        issue_api = f"{api}/issues/{issue.number}"
        closed = issue.closed_at is not None and issue.closed_at <= at
        assignees = [self.shapes.user(issue.assignee)] if issue.assignee else []
        return {
            "url": issue_api,
            "repository_url": api,
            "labels_url": f"{issue_api}/labels{{/name}}",
            "comments_url": f"{issue_api}/comments",
            "events_url": f"{issue_api}/events",
            "html_url": f"{self.shapes.web}/{issue.repo.full_name}/issues/{issue.number}",
            "id": issue.gh_id,
            "node_id": node_id("Issue", issue.gh_id),
            "number": issue.number,
            "title": issue.title,
            "user": self.shapes.user(issue.author),
            "labels": [self.shapes.label(issue.repo, issue.label)],
            "state": "closed" if closed else "open",
            "locked": False,
            "assignee": assignees[0] if assignees else None,
            "assignees": assignees,
            "milestone": None,
            "comments": issue.comments,
            "created_at": iso(issue.created_at or at),
            "updated_at": iso(at),
            "closed_at": iso(issue.closed_at) if closed and issue.closed_at else None,
            "author_association": "MEMBER",
            "active_lock_reason": None,
            "body": issue.body,
            "reactions": self.shapes.reactions(issue_api),
            "draft": False,
        }

    def pull_as_issue(self, pull: PullState, at: dt.datetime) -> Json:
        """A pull request as the `issue` of an `issue_comment` delivery (with `pull_request`)."""
        api, html = self._pull_urls(pull)
        issue_api = f"{api}/issues/{pull.number}"
        shape: Json = {
            "url": issue_api,
            "repository_url": api,
            "labels_url": f"{issue_api}/labels{{/name}}",
            "comments_url": f"{issue_api}/comments",
            "events_url": f"{issue_api}/events",
            "html_url": html,
            "id": pull.gh_id + 7_000_000,
            "node_id": node_id("PullRequest", pull.gh_id),
            "number": pull.number,
            "title": pull.title,
            "user": self.shapes.user(pull.author),
            "labels": [self.shapes.label(pull.repo, pull.change.label)],
            "state": "open",
            "locked": False,
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "comments": pull.comments,
            "created_at": iso(pull.created_at or at),
            "updated_at": iso(at),
            "closed_at": None,
            "author_association": "MEMBER",
            "active_lock_reason": None,
            "pull_request": {
                "url": f"{api}/pulls/{pull.number}",
                "html_url": html,
                "diff_url": f"{html}.diff",
                "patch_url": f"{html}.patch",
            },
            "body": pull_body(pull.change),
            "reactions": self.shapes.reactions(issue_api),
            "draft": False,
        }
        return shape

    def issue_comment(self, repo: RepoSpec, html_base: str, comment_id: int, person: Person,
                      body: str, at: dt.datetime) -> Json:
        """A conversation comment; `html_base` is the issue's or pull request's page."""
        api = f"{self.shapes.api}/repos/{repo.full_name}"
        comment_api = f"{api}/issues/comments/{comment_id}"
        number = html_base.rsplit("/", 1)[-1]
        return {
            "url": comment_api,
            "html_url": f"{html_base}#issuecomment-{comment_id}",
            "issue_url": f"{api}/issues/{number}",
            "id": comment_id,
            "node_id": node_id("IssueComment", comment_id),
            "user": self.shapes.user(person),
            "created_at": iso(at),
            "updated_at": iso(at),
            "author_association": "MEMBER",
            "performed_via_github_app": None,
            "body": body,
            "reactions": self.shapes.reactions(comment_api),
        }

    def commit(self, repo: RepoSpec, commit: Commit) -> Json:
        author = {"name": commit.author.name, "email": commit.author.email,
                  "username": commit.author.login}
        committer = ({"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"}
                     if commit.via_github else dict(author))
        return {
            "id": commit.sha,
            "tree_id": commit.tree,
            "distinct": True,
            "message": commit.message,
            "timestamp": iso(commit.at),
            "url": f"{self.shapes.web}/{repo.full_name}/commit/{commit.sha}",
            "author": author,
            "committer": committer,
            "added": [],
            "removed": [],
            "modified": list(commit.files),
        }

    def release(self, repo: RepoSpec, release_id: int, tag: str, author: Person, body: str,
                created_at: dt.datetime, published_at: dt.datetime) -> Json:
        api = f"{self.shapes.api}/repos/{repo.full_name}"
        release_api = f"{api}/releases/{release_id}"
        return {
            "url": release_api,
            "assets_url": f"{release_api}/assets",
            "upload_url": f"{self.shapes.api.replace('api.', 'uploads.', 1)}/repos/"
                          f"{repo.full_name}/releases/{release_id}/assets{{?name,label}}",
            "html_url": f"{self.shapes.web}/{repo.full_name}/releases/tag/{tag}",
            "id": release_id,
            "node_id": node_id("Release", release_id),
            "tag_name": tag,
            "target_commitish": "main",
            "name": tag,
            "draft": False,
            "author": self.shapes.user(author),
            "prerelease": False,
            "created_at": iso(created_at),
            "published_at": iso(published_at),
            "assets": [],
            "tarball_url": f"{api}/tarball/{tag}",
            "zipball_url": f"{api}/zipball/{tag}",
            "body": body,
        }


def pull_body(change: Change) -> str:
    """A pull request description in the team's template."""
    files = "\n".join(f"- `{path}`" for path in change.files)
    return (f"## Summary\n{change.summary}\n\n## Changes\n{files}\n\n"
            "## Testing\n- CI and a manual check on the preview")

