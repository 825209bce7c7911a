"""Bob's token never sees alice's facts, reports or answers, through any route or tool.

The matrix is generated from the API's route table (`ENDPOINTS`) and the MCP server's tool list: a
route or tool without a row here fails `test_the_matrix_covers_every_route_and_tool`. Each row aims
bob's calls straight at alice's things (her repository, her report id, her fact titles, her login).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from gitpulse_app.experience.http.api_v1 import ENDPOINTS, PREFIX
from gitpulse_app.experience.mcp.server import build_server
from tests.api.conftest import World, bearer, mcp_client

Case = Callable[[World], dict[str, Any]]

# (method, path) → the arguments of bob's calls aimed at alice's data; "expect" is the status.
ROUTE_CASES: dict[tuple[str, str], list[Case]] = {
    ("GET", "/me"): [lambda w: {}],
    ("GET", "/facts"): [
        lambda w: {"params": {}},
        lambda w: {"params": {"actor": w.alice.side.login}},
        lambda w: {"params": {"repo": w.alice.side.repo_full_name}, "expect": 404},
        lambda w: {"params": {"repo": w.alice.second_repo.upper()}, "expect": 404},
    ],
    ("GET", "/search"): [
        lambda w: {"params": {"q": w.alice.side.fact_title}},
        lambda w: {"params": {"q": "ledger cleanup", "actor": w.alice.side.login}},
        lambda w: {"params": {"q": "ledger", "repo": w.alice.side.repo_full_name},
                   "expect": 404},
    ],
    ("GET", "/reports"): [lambda w: {"params": {}}, lambda w: {"params": {"kind": "daily"}}],
    ("GET", "/reports/{report_id}"): [
        lambda w: {"path": {"report_id": w.alice.side.report_id}, "expect": 404}],
    ("POST", "/reports"): [
        lambda w: {"json": {"kind": "daily", "start": "2025-12-04", "end": "2025-12-04",
                            "repo": w.alice.side.repo_full_name}, "expect": 404},
        # A login bob cannot see answers exactly like one nobody has (no existence leak).
        lambda w: {"json": {"kind": "daily", "start": "2025-12-04", "end": "2025-12-04",
                            "logins": [w.alice.side.login]}, "expect": 422},
        lambda w: {"json": {"kind": "daily", "start": "2025-03-01", "end": "2025-03-31",
                            "query": w.alice.side.fact_title}},
    ],
    ("POST", "/ask"): [
        lambda w: {"json": {"question": f"What did {w.alice.side.login} merge in "
                                        f"{w.alice.side.repo_full_name} in March 2025?"}},
        lambda w: {"json": {"question": w.alice.side.fact_title}},
    ],
}

TOOL_CASES: dict[str, list[Case]] = {
    "search_activity": [
        lambda w: {"query": w.alice.side.fact_title},
        lambda w: {"query": "ledger", "actor": w.alice.side.login},
        lambda w: {"query": "ledger", "repo": w.alice.side.repo_full_name},
    ],
    "list_reports": [lambda w: {}],
    "get_report": [lambda w: {"id": w.alice.side.report_id}],
    "generate_report": [
        lambda w: {"kind": "daily", "start": "2025-12-04", "end": "2025-12-04",
                   "logins": [w.alice.side.login]},
        lambda w: {"kind": "weekly", "repo": w.alice.side.repo_full_name},
    ],
    "ask": [
        lambda w: {"question": f"What happened in {w.alice.second_repo} in March 2025?"},
        lambda w: {"question": w.alice.side.fact_title, "start": "2025-01-01"},
    ],
}


def alice_markers(world: World) -> list[str]:
    """Strings that exist only in alice's data."""
    alice = world.alice
    return [*alice.private_urls, alice.side.fact_title, "alice March", "alice April",
            alice.side.repo_full_name, alice.second_repo]


def _sent(value: Any) -> list[str]:
    """Every string bob sent (echoed back as his own query or question, which is no leak)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _sent(item)]
    if isinstance(value, list):
        return [text for item in value for text in _sent(item)]
    return []


def _assert_private(text: str, world: World, where: str, sent: Any = None) -> None:
    for echoed in sorted(_sent(sent), key=len, reverse=True):
        text = text.replace(echoed, "")
    for marker in alice_markers(world):
        assert marker not in text, f"{where} leaked {marker!r}"


def _tool_names() -> set[str]:
    async def names():
        return {tool.name for tool in await build_server(lambda ctx: None).list_tools()}

    return asyncio.run(names())


def test_the_matrix_covers_every_route_and_tool():
    assert set(ROUTE_CASES) == {(endpoint.method, endpoint.path) for endpoint in ENDPOINTS}
    assert set(TOOL_CASES) == _tool_names()


def test_bobs_token_never_sees_alices_data_through_any_route(http: httpx.Client, world: World):
    token = bearer(world.bob.write_token)
    calls = 0
    for (method, path), cases in ROUTE_CASES.items():
        for case in cases:
            args = case(world)
            url = PREFIX + path.format(**args.get("path", {}))
            response = http.request(method, url, params=args.get("params"),
                                    json=args.get("json"), headers=token)
            assert response.status_code == args.get("expect", 200), (method, url, response.text)
            if response.status_code == 404:
                assert response.json() in ({"error": "Report not found"},
                                           {"error": "Repository not found"})
            _assert_private(response.text, world, f"{method} {url}", args)
            calls += 1
    assert calls == sum(len(cases) for cases in ROUTE_CASES.values())
    # The same calls as alice do see her data (the matrix can fail).
    own = http.get(f"{PREFIX}/facts", headers=bearer(world.alice.read_token)).text
    assert world.alice.march_url in own


def test_bobs_token_never_sees_alices_data_through_any_tool(live, world: World):
    async def run() -> list[tuple[str, str, dict[str, Any]]]:
        seen = []
        async with mcp_client(live.url, world.bob.write_token) as client:
            for name, cases in TOOL_CASES.items():
                for case in cases:
                    args = case(world)
                    result = await client.call_tool(name, args)
                    text = " ".join(getattr(block, "text", "") for block in result.content)
                    seen.append((name, f"{text} {result.structured_content}", args))
        return seen

    seen = asyncio.run(run())
    assert len(seen) == sum(len(cases) for cases in TOOL_CASES.values())
    for name, text, args in seen:
        _assert_private(text, world, name, args)
