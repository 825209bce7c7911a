"""The JSON API under `/api/v1` (docs/API.md): personal API tokens as `Authorization: Bearer gp_…`.

One table, `ENDPOINTS`, lists every route with its parameters; the Starlette routes and the OpenAPI
document at `/api/v1/openapi.json` are both built from it, so they cannot drift apart. Errors are
JSON: 401 `{"error":"Invalid token"}` (missing, unknown, expired or revoked), 403 for a scope that
does not allow the call, 404 for anything not visible, 422 with the `field` at fault, 429 with
`Retry-After` past 120 requests a minute per token, 503 when the database is unreachable.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from gitpulse_app.core.db import DatabaseUnavailable
from gitpulse_app.experience.http import service
from gitpulse_app.experience import routes
from gitpulse_app.experience.auth.api_tokens import Principal, bearer_token, resolve_api_token
from gitpulse_app.experience.auth.ratelimit import AuthRateLimit

PREFIX = routes.API_V1
OPENAPI_PATH = "/openapi.json"
INVALID_TOKEN = "Invalid token"
REQUESTS_PER_MINUTE = 120
UNAVAILABLE = "Service temporarily unavailable"


@dataclass(frozen=True)
class Param:
    """One parameter: where it is, its JSON-schema type and what it means."""

    name: str
    where: str  # query | path | body
    schema: dict[str, Any]
    description: str
    required: bool = False


@dataclass(frozen=True)
class Endpoint:
    """One route of the API: the OpenAPI operation and the service call behind it."""

    method: str
    path: str
    operation_id: str
    summary: str
    call: Callable[[Principal, dict[str, Any]], dict[str, Any]]
    params: tuple[Param, ...] = ()
    write: bool = False
    statuses: tuple[int, ...] = field(default=(200, 401, 422, 429))


_STRING = {"type": "string"}
_DATE = {"type": "string", "description": "YYYY-MM-DD (local date) or an ISO-8601 instant"}


def _limit(most: int, default: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": 1, "maximum": most, "default": default}


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/me", "getMe", "The token's user, its scope and how many repositories it sees.",
             lambda p, a: service.me(p), statuses=(200, 401, 429)),
    Endpoint(
        "GET", "/facts", "listFacts",
        "Visible facts (GitHub activity), newest first, in pages cut by an opaque cursor.",
        lambda p, a: service.list_facts(
            p, start=a.get("start"), end=a.get("end"), repo=a.get("repo"),
            actor=a.get("actor"), types=a.get("type"), limit=a.get("limit"),
            cursor=a.get("cursor")),
        (Param("start", "query", _DATE, "First local date (inclusive) or instant."),
         Param("end", "query", _DATE, "Last local date (inclusive) or instant (exclusive)."),
         Param("repo", "query", _STRING, "One visible repository, owner/name."),
         Param("actor", "query", _STRING, "One GitHub login."),
         Param("type", "query", {"type": "array", "items": _STRING},
               "Fact types to keep (repeat the parameter), e.g. pr_merged, commit."),
         Param("limit", "query", _limit(service.MAX_FACTS, service.DEFAULT_FACTS),
               "Facts per page."),
         Param("cursor", "query", _STRING, "The previous page's next_cursor.")),
        statuses=(200, 401, 404, 422, 429)),
    Endpoint(
        "GET", "/search", "searchFacts",
        "Semantic search over visible facts, best match first (like the timeline's search box).",
        lambda p, a: service.search(p, a.get("q"), limit=a.get("limit"), start=a.get("start"),
                                    end=a.get("end"), repo=a.get("repo"), actor=a.get("actor")),
        (Param("q", "query", _STRING, "What to look for.", required=True),
         Param("limit", "query", _limit(service.MAX_SEARCH, service.DEFAULT_SEARCH), "Hits."),
         Param("start", "query", _DATE, "Only facts from this date or instant."),
         Param("end", "query", _DATE, "Only facts up to this date or instant."),
         Param("repo", "query", _STRING, "One visible repository, owner/name."),
         Param("actor", "query", _STRING, "One GitHub login.")),
        statuses=(200, 401, 404, 422, 429)),
    Endpoint(
        "GET", "/reports", "listReports", "The token user's reports, newest window first.",
        lambda p, a: service.list_reports(p, kind=a.get("kind"), limit=a.get("limit")),
        (Param("kind", "query", {"type": "string", "enum": ["daily", "weekly"]}, "Report kind."),
         Param("limit", "query", _limit(service.MAX_REPORTS, service.DEFAULT_REPORTS),
               "Reports.")),
    ),
    Endpoint(
        "GET", "/reports/{report_id}", "getReport",
        "One report: title, kind, window, markdown, sections, citations and coverage.",
        lambda p, a: service.report_detail(p, a.get("report_id")),
        (Param("report_id", "path", {"type": "integer"}, "The report id.", required=True),),
        statuses=(200, 401, 404, 429)),
    Endpoint(
        "POST", "/reports", "generateReport",
        "Generate (or return the cached) report, with the UI's rules and cache. Write scope.",
        lambda p, a: service.generate(p, kind=a.get("kind"), start=a.get("start"),
                                      end=a.get("end"), logins=a.get("logins"),
                                      repo=a.get("repo"), query=a.get("query")),
        (Param("kind", "body", {"type": "string", "enum": ["daily", "weekly"]},
               "daily (default) or weekly; without start/end, the last completed day or week."),
         Param("start", "body", {"type": "string", "format": "date"}, "First local date."),
         Param("end", "body", {"type": "string", "format": "date"}, "Last local date."),
         Param("logins", "body", {"type": "array", "items": _STRING},
               "Whose work (default: the token's user)."),
         Param("repo", "body", _STRING, "One visible repository instead of logins."),
         Param("query", "body", _STRING, "A focus query.")),
        write=True, statuses=(200, 401, 403, 404, 422, 429)),
    Endpoint(
        "POST", "/ask", "ask",
        "A question over the visible facts, answered in a few bullets, each citing its source.",
        lambda p, a: service.ask_question(p, a.get("question"), start=a.get("start"),
                                          end=a.get("end")),
        (Param("question", "body", _STRING, "The question.", required=True),
         Param("start", "body", _DATE, "Only facts from this date or instant."),
         Param("end", "body", _DATE, "Only facts up to this date or instant.")),
        statuses=(200, 401, 422, 429)),
)


def _error(status: int, body: dict[str, Any], headers: dict[str, str] | None = None
           ) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


class TokenGate:
    """Resolves the bearer token and counts it against the per-token rate limit."""

    def __init__(self, per_minute: int = REQUESTS_PER_MINUTE) -> None:
        self._limit = AuthRateLimit(None, limit=per_minute)  # type: ignore[arg-type]

    async def principal(self, authorization: str | None) -> Principal | Response:
        """The principal, or the 401 / 429 / 503 response to send instead."""
        token = bearer_token(authorization)
        if token is None:
            return _error(401, {"error": INVALID_TOKEN})
        try:
            principal = await asyncio.to_thread(resolve_api_token, token)
        except (DatabaseUnavailable, sa.exc.OperationalError, sa.exc.InterfaceError):
            return _error(503, {"error": UNAVAILABLE})
        if principal is None:
            return _error(401, {"error": INVALID_TOKEN})
        retry_after = self._limit.hit(f"token:{principal.token_id}")
        if retry_after is not None:
            return _error(429, {"error": "Too many requests"},
                          {"Retry-After": str(retry_after)})
        return principal


async def _arguments(endpoint: Endpoint, request: Request) -> dict[str, Any] | Response:
    args: dict[str, Any] = dict(request.path_params)
    for param in endpoint.params:
        if param.where == "query":
            values = request.query_params.getlist(param.name)
            if param.schema.get("type") == "array":
                args[param.name] = [v for value in values for v in value.split(",") if v]
            elif values:
                args[param.name] = values[-1]
    if endpoint.method == "POST":
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return _error(422, {"error": "The request body is not valid JSON.", "field": "body"})
        if not isinstance(body, dict):
            return _error(422, {"error": "The request body must be a JSON object.",
                                "field": "body"})
        for param in endpoint.params:
            value = body.get(param.name)
            if value is not None and param.schema.get("type") == "string" \
                    and not isinstance(value, str):
                return _error(422, {"error": f"{param.name} must be a string.",
                                    "field": param.name})
            args[param.name] = value
    return args


def _handler(endpoint: Endpoint, gate: TokenGate) -> Callable[[Request], Any]:
    async def handle(request: Request) -> Response:
        principal = await gate.principal(request.headers.get("authorization"))
        if isinstance(principal, Response):
            return principal
        if endpoint.write and not principal.can_write:
            return _error(403, {"error": service.SCOPE_REFUSED})
        args = await _arguments(endpoint, request)
        if isinstance(args, Response):
            return args
        try:
            result = await asyncio.to_thread(endpoint.call, principal, args)
        except service.ApiError as exc:
            return _error(exc.status, exc.as_json())
        except (DatabaseUnavailable, sa.exc.OperationalError, sa.exc.InterfaceError):
            return _error(503, {"error": UNAVAILABLE})
        return JSONResponse(result, headers={"Cache-Control": "no-store"})

    handle.__name__ = endpoint.operation_id
    return handle


_STATUS_TEXT = {200: "OK", 401: "Invalid token", 403: "Token scope does not allow this",
                404: "Not found (or not visible)", 422: "Bad parameter (see field)",
                429: "Too many requests (see Retry-After)"}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of `ENDPOINTS`."""
    paths: dict[str, Any] = {}
    for endpoint in ENDPOINTS:
        operation: dict[str, Any] = {
            "operationId": endpoint.operation_id, "summary": endpoint.summary,
            "security": [{"bearerToken": []}],
            "responses": {str(status): {"description": _STATUS_TEXT[status]}
                          for status in endpoint.statuses},
        }
        if endpoint.write:
            operation["x-required-scope"] = "write"
        parameters = [
            {"name": p.name, "in": p.where, "required": p.required or p.where == "path",
             "description": p.description, "schema": p.schema}
            for p in endpoint.params if p.where in ("query", "path")]
        if parameters:
            operation["parameters"] = parameters
        body = [p for p in endpoint.params if p.where == "body"]
        if body:
            operation["requestBody"] = {"required": any(p.required for p in body), "content": {
                "application/json": {"schema": {
                    "type": "object",
                    "properties": {p.name: p.schema | {"description": p.description}
                                   for p in body},
                    "required": [p.name for p in body if p.required]}}}}
        paths.setdefault(PREFIX + endpoint.path, {})[endpoint.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "GitPulse API", "version": "1",
                 "description": "Cited GitHub activity, reports and answers for a token's user."},
        "paths": paths,
        "components": {"securitySchemes": {"bearerToken": {
            "type": "http", "scheme": "bearer", "description": "A personal API token, gp_…"}}},
    }


async def _openapi(_request: Request) -> Response:
    return JSONResponse(openapi_document())


def api_v1_mount(gate: TokenGate | None = None) -> Mount:
    """`/api/v1` with every route of `ENDPOINTS` and the OpenAPI document."""
    gate = gate or TokenGate()
    # GET and POST `/reports` are two routes on one path: Starlette tries the next on a method
    # mismatch. Anything else under the prefix answers a JSON 404.
    paths = [Route(endpoint.path, _handler(endpoint, gate), methods=[endpoint.method])
             for endpoint in ENDPOINTS]
    return Mount(PREFIX, routes=[*paths, Route(OPENAPI_PATH, _openapi, methods=["GET"]),
                                 Route("/{rest:path}", _not_found)])


async def _not_found(_request: Request) -> Response:
    return _error(404, {"error": "Not found"})

