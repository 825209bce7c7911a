"""The benchmarks' own arithmetic: percentiles, medians, rates and ratios."""

import pytest

from bench.scheduler import tick_figure
from bench.stats import median, percentile, rate, ratio, timed_runs


def test_percentiles_interpolate_between_the_closest_ranks():
    samples = list(range(100, 0, -1))  # 1…100, unsorted
    assert percentile(samples, 50) == pytest.approx(50.5)
    assert percentile(samples, 99) == pytest.approx(99.01)
    assert percentile(samples, 0) == 1 and percentile(samples, 100) == 100
    assert percentile([7.0, 3.0], 50) == 5.0


def test_a_percentile_of_one_sample_is_that_sample_and_of_none_is_zero():
    assert percentile([42.0], 99) == 42.0
    assert percentile([], 99) == 0.0


def test_a_percentile_outside_0_to_100_is_refused():
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], 101)


def test_the_median_of_runs_ignores_one_slow_run():
    assert median([1.0, 9.0, 1.2]) == 1.2
    assert median([1.0, 2.0, 3.0, 10.0]) == 2.5
    with pytest.raises(ValueError, match="no runs"):
        median([])


def test_rates_and_ratios_are_higher_is_better_and_refuse_zero_denominators():
    assert rate(5000, 2.0) == 2500
    assert ratio(rate(5000, 2.0), rate(40_000, 2.0)) == 0.125
    with pytest.raises(ValueError):
        rate(10, 0)
    with pytest.raises(ValueError):
        ratio(1.0, 0.0)


def test_timed_runs_calls_the_run_as_often_as_asked_and_keeps_each_result():
    calls = []
    seconds, results = timed_runs(lambda: calls.append(1) or len(calls), 3)
    assert results == [1, 2, 3] and len(seconds) == 3 and all(s >= 0 for s in seconds)
    with pytest.raises(ValueError):
        timed_runs(lambda: None, 0)


def test_the_tick_figure_is_invalid_when_a_step_failed():
    valid = {f.name: f for f in tick_figure([180.0, 200.0, 190.0], [])}
    assert valid["tick_10k_users_ms"].value == 190.0
    assert valid["tick_10k_users_failed_steps"].value == 0
    invalid = {f.name: f for f in tick_figure([20.0, 21.0, 22.0], ["daily", "daily"])}
    assert invalid["tick_10k_users_ms"].value == -1
    assert invalid["tick_10k_users_ms"].target.startswith("invalid")
    assert invalid["tick_10k_users_failed_steps"].value == 2


def test_per_stack_figures_are_gathered_under_their_bare_name():
    from bench.stats import by_stack

    results = {"webhook_e2e_per_s_sqlite": 100.0, "webhook_e2e_per_s_prod": 199.8,
               "webhook_lag_p99_ms_prod": 115.7, "webhook_load_drain_s_other": 1.0,
               "search_first_ms": 12.0}
    assert by_stack(results) == {"webhook_e2e_per_s": {"sqlite": 100.0, "prod": 199.8},
                                 "webhook_lag_p99_ms": {"prod": 115.7}}
    assert by_stack({}) == {}
