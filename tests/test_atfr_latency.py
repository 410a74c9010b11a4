"""benchmarks/atfr_latency.py: the table and its summary, from given rows."""

from benchmarks import atfr_latency


def _row(clip, gflops, latency, floor, folded=None):
    row = {"model": "m", "input": "4x32x32", "clip": clip, "bins": 2, "frames_in": 4,
           "gflops": gflops, "latency_ms": latency, "floor_ms": floor}
    if folded:
        row["latency_folded_ms"] = folded
    return row


def test_the_goal_is_the_gflops_ratio_plus_a_tenth():
    met = _row("static", (2.0, 1.0), (100.0, 59.0), 55.0)  # 0.59 <= 0.50 + 0.10
    missed = _row("noise", (2.0, 1.0), (100.0, 61.0), 58.0)
    lines = atfr_latency.table([met, missed]).splitlines()
    assert lines[2].endswith("| +0.09 | yes |") and lines[3].endswith("| +0.11 | no |")
    text = atfr_latency.summary([met, missed])
    assert text.startswith("The goal is met in 1 of 2 rows. Missed: m (noise).")
    assert "In 0 of those 1 the floor misses it too" in text


def test_folded_columns_and_their_count():
    rows = [_row("static", (2.0, 1.0), (100.0, 70.0), 65.0, folded=(80.0, 44.0)),
            _row("fade", (2.0, 1.8), (100.0, 95.0), 95.0, folded=(80.0, 78.0))]
    header, _, first, second = atfr_latency.table(rows).splitlines()
    assert header.endswith("goal met folded |")
    assert first.endswith("| 80.0 -> 44.0 | 0.55 | +0.05 | yes |")
    assert second.endswith("| 80.0 -> 78.0 | 0.97 | +0.07 | yes |")
    assert atfr_latency.summary(rows).endswith(
        "With BatchNorm folded in both models, it is met in 2 of 2 rows.")
