"""The CLI imports only what a command needs (docs/STARTUP.md): a cached `report` stays lean."""

import json
import os
import subprocess
import sys
from pathlib import Path

from gitpulse_app.experience.wiring import CAPABILITIES
from tests.intelligence.reports.test_cli import alice_database

ROOT = Path(__file__).resolve().parents[3]
# Heavy packages a cache-hit report never uses: the UI framework, model SDKs, HTTP clients,
# the scheduler, NumPy (search only) and the MCP server.
NOT_ON_THE_REPORT_PATH = ("reflex", "openai", "voyageai", "httpx", "aiohttp", "apscheduler",
                          "numpy", "mcp", "markdown_it", "nh3")
# The report pipeline's parts a cache hit never runs: the writers and the validator (loaded on a
# miss), the multi-step flows and the receivers of a fact-writing process.
NOT_ON_A_CACHE_HIT = ("gitpulse_app.intelligence.reports.writing",
                      "gitpulse_app.intelligence.reports.llm",
                      "gitpulse_app.intelligence.reports.validate",
                      "gitpulse_app.intelligence.reports.flows",
                      "gitpulse_app.intelligence.reports.receivers")


# The command line as `python -m gitpulse_app` runs it, then every module the process holds.
_PROBE = """
import json, sys
from gitpulse_app.experience.cli.main import main
code = main(sys.argv[1:])
sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n")
sys.exit(code)
"""


def _run(url: str, *argv: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GITPULSE_", "GITHUB_", "VOYAGE_", "OPENAI_", "DATABASE_"))}
    env |= {"PYTHONPATH": str(ROOT), "GITPULSE_SECRET_KEY": "cli-test", "DATABASE_URL": url}
    return subprocess.run([sys.executable, "-c", _PROBE, *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def _imported(stderr: str) -> set[str]:
    """The modules the process held when the command returned (the probe's last line)."""
    line = next(line for line in reversed(stderr.splitlines()) if line.startswith("MODULES "))
    return set(json.loads(line.removeprefix("MODULES ")))


def _packages(modules: set[str]) -> set[str]:
    return {name.split(".", 1)[0] for name in modules}


def test_a_cache_hit_report_imports_no_ui_sdk_or_numpy(tmp_path):
    url = alice_database(tmp_path)
    argv = ("report", "--login", "alice", "--kind", "daily", "--end", "2025-12-04", "--json")
    first = _run(url, *argv)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["cache_hit"] is False

    second = _run(url, *argv)

    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    assert report["cache_hit"] is True and report["event_count"] == 1
    modules = _imported(second.stderr)
    imported = _packages(modules)
    assert {"gitpulse_app", "sqlalchemy"} <= imported
    assert imported.isdisjoint(NOT_ON_THE_REPORT_PATH), imported & set(NOT_ON_THE_REPORT_PATH)
    assert "gitpulse_app.intelligence.reports.service" in modules
    assert modules.isdisjoint(NOT_ON_A_CACHE_HIT), modules & set(NOT_ON_A_CACHE_HIT)


def test_a_cache_miss_report_loads_the_writers(tmp_path):
    url = alice_database(tmp_path)

    result = _run(url, "report", "--login", "alice", "--kind", "daily", "--end", "2025-12-04",
                  "--json")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["cache_hit"] is False
    assert "gitpulse_app.intelligence.reports.writing" in _imported(result.stderr)


def test_a_fact_writing_command_still_loads_every_capability(tmp_path):
    url = alice_database(tmp_path)

    result = _run(url, "webhooks", "process", "--json")

    assert result.returncode == 0, result.stderr
    imported = _imported(result.stderr)
    # Every worker and receiver module is loaded (experience.wiring.CAPABILITIES).
    assert set(CAPABILITIES) <= imported
    assert "numpy" in imported  # the embedding queue's receiver
