"""Fixtures of the fault suite.

Each test records what it did with `record_counts(faults=…, lost=…, …)` (tests/support/counts.py);
the counts travel in the test report (`user_properties`, so they survive xdist) and are printed in
a "faults suite counts" section at the end of the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from tests.faults.harness import Backend, RunLog, url_of


@pytest.fixture
def run_log() -> Iterator[RunLog]:
    """The run's log records (every backend's and this process's), for double-processing counts."""
    log = RunLog().start()
    try:
        yield log
    finally:
        log.stop()


@pytest.fixture
def backends(tmp_path: Path, run_log: RunLog) -> Iterator[Callable[..., Backend]]:
    """Makes `Backend`s on a database (`backends(engine, VAR=value, …)`); all stop at teardown."""
    made: list[Backend] = []

    def make(engine: Engine, **env: str) -> Backend:
        backend = Backend(url_of(engine), tmp_path, env)
        made.append(backend)
        run_log.backends.append(backend)
        return backend

    yield make
    for backend in made:
        backend.stop()
