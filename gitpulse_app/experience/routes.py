"""Every UI and backend path in one place; pages never hard-code another's path."""

from __future__ import annotations

from urllib.parse import quote

LANDING = "/"
ONBOARDING = "/onboarding"
DASHBOARD = "/dashboard"
REPOS = "/repos"
REPO_DETAIL = "/repos/[owner]/[name]"
TIMELINE = "/timeline"
REPORTS = "/reports"
REPORT_DETAIL = "/reports/[id]"
SETTINGS = "/settings"
OPS = "/ops"
ASK = "/ask"  # Ask with citations (docs/API.md)

API_HEALTH = "/api/health"
API_WEBHOOKS = "/api/webhooks/github"
AUTH_LOGIN = "/auth/github/login"
AUTH_CALLBACK = "/auth/github/callback"
AUTH_LOGOUT = "/auth/logout"
AUTH_DEMO = "/auth/demo"
API_REPORT_MARKDOWN = "/api/reports/{report_id}.md"
API_REPORT_MARKDOWN_ROUTE = "/api/reports/{report_id:int}.md"
API_TIMELINE_CSV = "/api/export/timeline.csv"
API_V1 = "/api/v1"  # the JSON API for tokens (docs/API.md)
MCP = "/mcp"

SESSION_COOKIE = "gitpulse_session"


def repo_url(full_name: str) -> str:
    owner, _, name = full_name.partition("/")
    return f"{REPOS}/{quote(owner)}/{quote(name)}"


def report_url(report_id: int) -> str:
    return f"{REPORTS}/{report_id}"


def report_markdown_url(report_id: int) -> str:
    return API_REPORT_MARKDOWN.format(report_id=report_id)


def signed_out_redirect(path: str) -> str:
    """Where a signed-out visit to `path` goes: the landing page, remembering the target."""
    # The production static server adds a trailing slash to page paths; `next` keeps the route.
    path = path.rstrip("/") or LANDING
    return f"{LANDING}?next={quote(path, safe='/')}"
