"""The MCP server through the real `mcp` client: streamable HTTP at `/mcp` and stdio."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from gitpulse_app.core.clock import utcnow
from gitpulse_app.experience.auth.api_tokens import create_token, revoke_token
from tests.api.conftest import World, bearer, mcp_client

ROOT = Path(__file__).resolve().parents[2]

TOOLS = {"search_activity", "list_reports", "get_report", "generate_report", "ask"}


def tool_calls(person) -> dict[str, dict[str, Any]]:
    """One call per tool that has something to cite in `person`'s world."""
    return {
        "search_activity": {"query": "ledger cleanup"},
        "list_reports": {},
        "get_report": {"id": person.side.report_id},
        "generate_report": {"kind": "daily", "start": "2025-12-04", "end": "2025-12-04"},
        "ask": {"question": "What ledger work was merged in March 2025?"},
    }


async def _session_results(url: str, token: str, person) -> tuple[set[str], dict[str, Any]]:
    async with mcp_client(url, token) as client:
        listed = await client.list_tools()
        results = {}
        for name, arguments in tool_calls(person).items():
            result = await client.call_tool(name, arguments)
            assert not result.is_error, (name, result.content)
            results[name] = result.structured_content
        return {tool.name for tool in listed.tools}, results


def _assert_cited(results: dict[str, Any], person) -> None:
    for name, content in results.items():
        sources = content["sources"]
        assert sources, name
        # Every source URL is one of the person's own facts or report pages.
        assert all(url in person.private_urls or "/reports/" in url for url in sources), name
    assert person.march_url in results["ask"]["citations"]
    assert person.side.fact_url in results["get_report"]["citations"]


def test_an_http_session_lists_the_five_tools_and_gets_cited_results(live, world: World):
    names, results = asyncio.run(_session_results(live.url, world.alice.write_token, world.alice))
    assert names == TOOLS
    _assert_cited(results, world.alice)


def test_every_tool_is_described_with_a_precise_input_schema(live, world: World):
    async def tools():
        async with mcp_client(live.url, world.alice.read_token) as client:
            return (await client.list_tools()).tools

    for tool in asyncio.run(tools()):
        assert len(tool.description or "") > 80, tool.name
        properties = tool.input_schema["properties"]
        assert all(spec.get("description") for spec in properties.values()), tool.name
    by_name = {tool.name: tool for tool in asyncio.run(tools())}
    assert by_name["search_activity"].input_schema["required"] == ["query"]
    assert by_name["ask"].input_schema["required"] == ["question"]
    assert by_name["get_report"].input_schema["required"] == ["id"]


def test_a_read_token_cannot_call_generate_report(live, world: World):
    async def call():
        async with mcp_client(live.url, world.alice.read_token) as client:
            return await client.call_tool("generate_report", {"kind": "daily"})

    result = asyncio.run(call())
    assert result.is_error
    assert "Token scope does not allow this" in result.content[0].text


@pytest.mark.parametrize("state", ["missing", "unknown", "revoked", "expired"])
def test_invalid_tokens_get_401_on_mcp(live, world: World, state):
    user_id = world.alice.side.user_id
    token = {"missing": None, "unknown": "gp_" + "x" * 40}.get(state)
    if state == "revoked":
        made = create_token(user_id, "revoked", "read")
        revoke_token(made.id)
        token = made.token
    if state == "expired":
        token = create_token(user_id, "expired", "read", expires_days=1,
                             now=utcnow() - dt.timedelta(days=3)).token
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "pytest", "version": "1"}}}
    response = httpx.post(f"{live.url}/mcp", json=initialize, headers={
        **(bearer(token) if token else {}), "Accept": "application/json, text/event-stream"})
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid token"}

    async def connect():
        async with mcp_client(live.url, token) as client:
            await client.list_tools()

    with pytest.raises(BaseException):  # the client cannot even open a session
        asyncio.run(connect())


def test_a_token_revoked_mid_session_stops_at_once(live, world: World):
    made = create_token(world.alice.side.user_id, "short-lived", "read")

    async def run():
        async with mcp_client(live.url, made.token) as client:
            first = await client.call_tool("list_reports", {})
            revoke_token(made.id)
            try:
                await client.call_tool("list_reports", {})
            except Exception as exc:  # noqa: BLE001 — the transport reports the 401
                return first, exc
            return first, None

    first, refused = asyncio.run(run())
    assert not first.is_error and refused is not None


def test_the_stdio_server_answers_the_same_with_gitpulse_token(world: World, file_engine):
    from mcp import Client, StdioServerParameters

    env = dict(os.environ) | {"PYTHONPATH": str(ROOT), "GITPULSE_TOKEN": world.alice.write_token}
    params = StdioServerParameters(command=sys.executable, args=["-m", "gitpulse_app", "mcp"],
                                   env=env, cwd=os.getcwd())

    async def run():
        async with Client(params) as client:
            listed = await client.list_tools()
            results = {}
            for name, arguments in tool_calls(world.alice).items():
                result = await client.call_tool(name, arguments)
                assert not result.is_error, (name, result.content)
                results[name] = result.structured_content
            return {tool.name for tool in listed.tools}, results

    names, results = asyncio.run(run())
    assert names == TOOLS
    _assert_cited(results, world.alice)


def test_the_stdio_server_refuses_to_start_without_a_valid_token(world: World):
    import subprocess

    env = dict(os.environ) | {"PYTHONPATH": str(ROOT)}
    env.pop("GITPULSE_TOKEN", None)
    missing = subprocess.run([sys.executable, "-m", "gitpulse_app", "mcp"], env=env,
                             capture_output=True, text=True, timeout=120)
    env["GITPULSE_TOKEN"] = "gp_" + "y" * 40
    unknown = subprocess.run([sys.executable, "-m", "gitpulse_app", "mcp"], env=env,
                             capture_output=True, text=True, timeout=120)
    for run in (missing, unknown):
        assert run.returncode == 1 and run.stdout == ""
        assert "GITPULSE_TOKEN" in run.stderr
