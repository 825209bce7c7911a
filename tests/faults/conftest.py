"""Fixtures of the fault suite, and its counts at the end of the run.

Each test records what it did with `record_counts(faults=…, lost=…, …)`; the counts travel in the
test report (`user_properties`, so they survive xdist) and are printed in a "fault suite counts"
section when this directory is on the command line (`pytest tests/faults`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from tests.faults.harness import Backend, url_of

COUNTS_PROPERTY = "fault_counts"
_recorded: list[tuple[str, dict[str, Any]]] = []


@pytest.fixture
def backends(tmp_path: Path) -> Iterator[Callable[..., Backend]]:
    """Makes `Backend`s on a database (`backends(engine, VAR=value, …)`); all stop at teardown."""
    made: list[Backend] = []

    def make(engine: Engine, **env: str) -> Backend:
        backend = Backend(url_of(engine), tmp_path, env)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.stop()


@pytest.fixture
def record_counts(record_property: Callable[[str, Any], None]) -> Callable[..., None]:
    """Record the test's counts (faults injected, items checked, items lost, …)."""

    def record(**counts: Any) -> None:
        record_property(COUNTS_PROPERTY, counts)
        print(" ".join(f"{name}={value}" for name, value in counts.items()))

    return record


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call":
        return
    for name, value in report.user_properties:
        if name == COUNTS_PROPERTY:
            _recorded.append((report.nodeid, value))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _recorded:
        return
    terminalreporter.section("fault suite counts")
    for nodeid, counts in sorted(_recorded):
        fields = ", ".join(f"{name} {value}" for name, value in counts.items())
        terminalreporter.write_line(f"{nodeid.split('::')[-1]}: {fields}")
