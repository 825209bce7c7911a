"""The webhook profile's stage bookkeeping, on a small backlog."""

from bench.webhook_profile import profile_drain, stage_times


def test_the_profile_finds_each_stage_and_shows_one_transaction_per_batch(tmp_path):
    elapsed, completed, stats = profile_drain(12, tmp_path)
    assert completed == 12 and elapsed > 0
    stages = {stage: (seconds, calls) for stage, seconds, calls in stage_times(stats)}
    # 12 envelopes fit one batch: one claim that took them and one that found none, one fact
    # transaction, one embedding enqueue.
    assert stages["claim a batch"][1] == 2
    assert stages["store facts (upsert transaction)"][1] == 1
    assert stages["fact_changed: embedding enqueue"][1] == 1
    assert stages["canonicalize"][1] == 12
    assert "claim (select + conditional update)" not in stages
    assert all(seconds >= 0 for seconds, _ in stages.values())
