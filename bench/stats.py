"""The benchmarks' bookkeeping: percentiles, medians of repeated runs, ratios.

Kept apart from the benchmarks so tests/bench can check the arithmetic every figure rests on.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def percentile(samples: Sequence[float], pct: float) -> float:
    """The `pct`-th percentile of `samples` (linear interpolation between closest ranks).

    Args:
        samples: Measurements, in any order.
        pct: 0–100.

    Returns:
        The percentile; the only sample for one sample; 0.0 for none.
    """
    if not 0 <= pct <= 100:
        raise ValueError(f"a percentile is between 0 and 100, not {pct}")
    ordered = sorted(samples)
    if not ordered:
        return 0.0
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(samples: Sequence[float]) -> float:
    """The median of `samples` (ValueError for none: a figure needs at least one run)."""
    if not samples:
        raise ValueError("the median of no runs is not a figure")
    return statistics.median(samples)


def timed_runs(run: Callable[[], T], runs: int) -> tuple[list[float], list[T]]:
    """Call `run` `runs` times in this process; (seconds of each call, what each returned)."""
    if runs < 1:
        raise ValueError("at least one run")
    seconds, results = [], []
    for _ in range(runs):
        started = time.perf_counter()
        results.append(run())
        seconds.append(time.perf_counter() - started)
    return seconds, results


def rate(items: int, seconds: float) -> float:
    """Items per second (ValueError for a non-positive duration)."""
    if seconds <= 0:
        raise ValueError(f"a rate needs a positive duration, not {seconds}")
    return items / seconds


def ratio(ours: float, baseline: float) -> float:
    """`ours ÷ baseline`, both rates (higher is better); ValueError for a zero baseline."""
    if baseline <= 0:
        raise ValueError(f"a ratio needs a positive baseline, not {baseline}")
    return ours / baseline


# Figures measured on more than one stack carry the stack as a suffix (`webhook_e2e_per_s_sqlite`);
# results.json also gathers them under the bare name, one value per stack.
STACKS = ("sqlite", "prod", "uvicorn")
PER_STACK = ("webhook_e2e_per_s", "webhook_lag_p99_ms", "webhook_load_drain_s")


def by_stack(results: dict[str, float]) -> dict[str, dict[str, float]]:
    """`{"webhook_e2e_per_s": {"sqlite": …, "prod": …}, …}` from the suffixed figures in `results`.

    A figure no stack measured is left out rather than written empty.
    """
    gathered = {}
    for name in PER_STACK:
        values = {stack: results[f"{name}_{stack}"] for stack in STACKS
                  if f"{name}_{stack}" in results}
        if values:
            gathered[name] = values
    return gathered
