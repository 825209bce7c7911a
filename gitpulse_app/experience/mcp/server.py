"""The MCP server (docs/API.md "MCP"): GitPulse's cited facts, reports and answers as tools.

Built with the official `mcp` SDK. Two transports share one tool set:
- streamable HTTP at `/mcp` on the backend, stateless with JSON responses (so any backend worker
  can answer any request), behind the same bearer tokens and rate limit as `/api/v1`;
- stdio (`python -m gitpulse_app mcp`), acting as the token in `GITPULSE_TOKEN`.
The token is resolved again on every tool call, so a revoked or expired token stops at once. Every
tool result carries `sources`: the URLs it rests on.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import ToolAnnotations
from pydantic import Field
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gitpulse_app.experience.http import service
from gitpulse_app.experience import routes
from gitpulse_app.experience.auth.api_tokens import Principal, bearer_token, resolve_api_token
from gitpulse_app.experience.http.api_v1 import INVALID_TOKEN, TokenGate

SERVER_NAME = "gitpulse"
MCP_PATH = routes.MCP
INSTRUCTIONS = (
    "GitPulse holds a software team's GitHub activity (pull requests, commits, reviews, issues, "
    "releases) as facts, each with its GitHub URL, and cited daily and weekly reports. Use "
    "search_activity to find specific work, ask for a short cited answer to a question, "
    "list_reports/get_report for written summaries, generate_report to write a new one. Quote "
    "the URLs in `sources` when you repeat a result."
)

PrincipalSource = Callable[[Context], Principal | None]

_Date = Annotated[str | None, Field(
    description="YYYY-MM-DD (a local date in the user's time zone; an end date is inclusive) "
                "or an ISO-8601 instant. Omit for no bound.")]
_Repo = Annotated[str | None, Field(description="Only this repository, as owner/name.")]
_Actor = Annotated[str | None, Field(description="Only facts by this GitHub login.")]


def _call(principal_of: PrincipalSource, ctx: Context,
          work: Callable[[Principal], dict[str, Any]]) -> dict[str, Any]:
    principal = principal_of(ctx)
    if principal is None:
        raise ToolError(INVALID_TOKEN)
    try:
        return work(principal)
    except service.ApiError as exc:
        suffix = f" (parameter: {exc.field})" if exc.field else ""
        raise ToolError(f"{exc.message}{suffix}") from None


def build_server(principal_of: PrincipalSource) -> MCPServer:
    """The five tools, acting as whoever `principal_of` resolves for each call."""
    server = MCPServer(SERVER_NAME, instructions=INSTRUCTIONS, log_level="WARNING")
    read_only = ToolAnnotations(readOnlyHint=True, openWorldHint=False)

    def tool(annotations: ToolAnnotations) -> Callable[[Callable[..., Any]], Any]:
        """Register a tool whose description is its docstring as one plain paragraph."""
        def register(fn: Callable[..., Any]) -> Any:
            server.add_tool(fn, description=" ".join((fn.__doc__ or "").split()),
                            annotations=annotations)
            return fn

        return register

    async def run(ctx: Context, work: Callable[[Principal], dict[str, Any]]) -> dict[str, Any]:
        return await anyio.to_thread.run_sync(_call, principal_of, ctx, work)

    @tool(read_only)
    async def search_activity(
        query: Annotated[str, Field(description="What to look for, in plain words, e.g. "
                                                "'auth token refresh bug'.")],
        ctx: Context,
        start: _Date = None,
        end: _Date = None,
        repo: _Repo = None,
        actor: _Actor = None,
        limit: Annotated[int, Field(ge=1, le=service.MAX_SEARCH,
                                    description="How many facts at most.")] = 10,
    ) -> dict[str, Any]:
        """Semantic search over the GitHub activity the user can see (PRs, commits, reviews,
        issues, releases), best match first. Each result has its type, repository, actor, time,
        text and GitHub URL. Use it to find specific pieces of work; use `ask` for a summary."""
        return await run(ctx, lambda p: service.search(p, query, limit=limit, start=start,
                                                       end=end, repo=repo, actor=actor))

    @tool(read_only)
    async def list_reports(
        ctx: Context,
        kind: Annotated[str | None, Field(description="daily or weekly; omit for both.")] = None,
        limit: Annotated[int, Field(ge=1, le=service.MAX_REPORTS,
                                    description="How many reports at most.")] = 20,
    ) -> dict[str, Any]:
        """The user's GitPulse reports (daily standups, weekly retrospectives), newest window
        first: id, title, kind, window, coverage, page URL and cited GitHub URLs. Read one in full
        with get_report."""
        return await run(ctx, lambda p: service.list_reports(p, kind=kind, limit=limit))

    @tool(read_only)
    async def get_report(
        id: Annotated[int, Field(description="The report id from list_reports.")],  # noqa: A002
        ctx: Context,
    ) -> dict[str, Any]:
        """One report in full: title, kind, window, markdown, sections with their bullets,
        citations (the GitHub URLs every bullet rests on) and coverage."""
        return await run(ctx, lambda p: _with_sources(service.report_detail(p, id)))

    @tool(ToolAnnotations(readOnlyHint=False, idempotentHint=True, openWorldHint=False))
    async def generate_report(
        ctx: Context,
        kind: Annotated[str | None, Field(
            description="daily (default) or weekly. Without start/end: the last completed day "
                        "or week in the user's time zone.")] = None,
        start: Annotated[str | None, Field(description="First local date, YYYY-MM-DD.")] = None,
        end: Annotated[str | None, Field(description="Last local date, YYYY-MM-DD.")] = None,
        logins: Annotated[list[str] | None, Field(
            description="Whose work (GitHub logins); default the user alone.")] = None,
        repo: _Repo = None,
        query: Annotated[str | None, Field(description="A focus, e.g. 'auth refactor'.")] = None,
    ) -> dict[str, Any]:
        """Write (or return the cached) cited report for a window and scope, with the same rules
        and cache as the web app's Generate. Needs a write-scope token. Returns the report as
        get_report does, plus cache_hit."""
        return await run(ctx, lambda p: _with_sources(service.generate(
            p, kind=kind, start=start, end=end, logins=logins, repo=repo, query=query)))

    @tool(read_only)
    async def ask(
        question: Annotated[str, Field(description="A question about the team's work, e.g. "
                                                   "'What did I ship in March?'. Dates, people "
                                                   "and repositories it names narrow the "
                                                   "search.")],
        ctx: Context,
        start: _Date = None,
        end: _Date = None,
    ) -> dict[str, Any]:
        """A short answer (1-5 bullets) over the activity the user can see, every bullet linking
        the GitHub URL it rests on; `sources` lists the cited facts. Without a configured model
        the answer lists the most relevant facts."""
        return await run(ctx, lambda p: _with_sources(service.ask_question(
            p, question, start=start, end=end)))

    return server


def _with_sources(result: dict[str, Any]) -> dict[str, Any]:
    return result | {"sources": list(result.get("citations") or [])}


# Streamable HTTP -----------------------------------------------------------------------------------
def _from_headers(ctx: Context) -> Principal | None:
    headers = ctx.headers
    return resolve_api_token(bearer_token(headers.get("authorization") if headers else None))


class McpHttpEndpoint:
    """`/mcp`: the bearer token is checked (and counted) before the SDK sees the request."""

    def __init__(self, gate: TokenGate) -> None:
        self.gate = gate
        self.server = build_server(_from_headers)
        # Tokens, not the Host header, protect this endpoint, so it answers on any host name.
        self.server.streamable_http_app(
            stateless_http=True, json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                       for k, v in scope.get("headers") or []}
            principal = await self.gate.principal(headers.get("authorization"))
            if isinstance(principal, Response):
                await principal(scope, receive, send)
                return
        await self.server.session_manager.handle_request(scope, receive, send)

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """The SDK's session manager: it must run for as long as the backend serves `/mcp`."""
        async with self.server.session_manager.run():
            yield


# Stdio ---------------------------------------------------------------------------------------------
def run_stdio(token: str) -> None:
    """Serve the tools on stdin/stdout as `token` (re-checked on every call)."""
    build_server(lambda _ctx: resolve_api_token(token)).run("stdio")
