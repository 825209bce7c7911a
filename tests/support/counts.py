"""`record_counts`: suites that inject faults or try inputs report what they did (issue 10).

A test calls `record_counts(inputs_tried=…, items_lost=0, …)`; the counts are printed with the test
and collected into one section of the terminal summary per suite directory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

COUNTS_PROPERTY = "suite_counts"
_recorded: list[tuple[str, dict[str, Any]]] = []


@pytest.fixture
def record_counts(record_property: Callable[[str, Any], None]) -> Callable[..., None]:
    """Record the test's counts (faults injected, inputs tried, items lost, …)."""

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
    suites: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for nodeid, counts in sorted(_recorded):
        suites.setdefault(nodeid.split("/")[1], []).append((nodeid, counts))
    for suite, rows in suites.items():
        terminalreporter.section(f"{suite} suite counts")
        for nodeid, counts in rows:
            fields = ", ".join(f"{name} {value}" for name, value in counts.items())
            terminalreporter.write_line(f"{nodeid.split('::')[-1]}: {fields}")
