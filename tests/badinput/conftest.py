"""Fixtures of the bad-input suite, and its counts at the end of the run.

Each property test records how many inputs it tried and what became of them with
`record_counts(...)`; the counts are printed in a "bad-input suite counts" section when this
directory is on the command line (`pytest tests/badinput`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

COUNTS_PROPERTY = "badinput_counts"
_recorded: list[tuple[str, dict[str, Any]]] = []


@pytest.fixture
def record_counts(record_property: Callable[[str, Any], None]) -> Callable[..., None]:
    """Record the test's counts (inputs tried, outcomes, items stored half-way)."""

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
    terminalreporter.section("bad-input suite counts")
    for nodeid, counts in sorted(_recorded):
        fields = ", ".join(f"{name} {value}" for name, value in counts.items())
        terminalreporter.write_line(f"{nodeid.split('::')[-1]}: {fields}")
