"""vidzoo.benchmarking: interleaved rounds and their medians, on a fake clock."""

import pytest

from vidzoo import benchmarking


def test_rounds_interleave_candidates_and_take_medians_of_medians(monkeypatch):
    clock, order = [0.0], []
    costs = {"fast": iter([1, 1, 9, 1, 1, 1] * 3), "slow": iter([3, 3, 3, 3, 30, 3] * 3)}

    def candidate(name):
        def call():
            order.append(name)
            clock[0] += next(costs[name])
        return call

    monkeypatch.setattr(benchmarking.time, "perf_counter", lambda: clock[0])
    result = benchmarking.interleaved_median_ms(
        {"fast": candidate("fast"), "slow": candidate("slow")}, rounds=3, repeats=2, warmup=1)
    assert order[:6] == ["fast"] * 3 + ["slow"] * 3  # warm-up + repeats, then the next one
    # fast's timed calls per round: (1, 9), (1, 1), (1, 9) -> medians 5, 1, 5 -> 5 s.
    assert result == {"fast": 5000.0, "slow": 3000.0}


def test_rounds_and_repeats_must_be_positive():
    with pytest.raises(ValueError, match="rounds and repeats"):
        benchmarking.interleaved_median_ms({"a": lambda: None}, rounds=0)
