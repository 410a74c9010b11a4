"""Side-by-side timing for the demo and `benchmarks/`: every candidate is timed
in the same interleaved rounds, so the machine's drift (other jobs, clock
changes) hits all of them alike and their ratio stays meaningful."""

import statistics
import time


def median_seconds(function, repeats, warmup=1):
    """Median seconds of `function()` over `repeats` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_median_ms(calls, rounds=5, repeats=5, warmup=1):
    """{name: milliseconds} of each zero-argument callable in `calls`.

    Every round runs each candidate in turn: `warmup` untimed calls, then
    `repeats` timed ones, whose median is the round's figure; the result is
    the median over `rounds` rounds.
    """
    if rounds < 1 or repeats < 1:
        raise ValueError(f"rounds and repeats must be >= 1; got {rounds} and {repeats}.")
    per_round = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            per_round[name].append(median_seconds(call, repeats, warmup))
    return {name: 1000 * statistics.median(values) for name, values in per_round.items()}
