"""The `vidzoo` console script."""

import json
import subprocess
import sys


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-c", "from vidzoo.cli import run; run()", *args],
        capture_output=True, text=True, timeout=300,
    )


def test_demo_runs_end_to_end_on_encoded_videos(tmp_path):
    result = run_cli("demo", "--epochs=1", "--clips=4", f"--workdir={tmp_path}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "train accuracy" in result.stdout
    results = json.loads((tmp_path / "demo_results.json").read_text())
    assert results["decoded_shape"] == [4, 16, 32, 32, 3]
    assert 1 <= results["mean_active_bins_moving"] <= 16
    assert len(list(tmp_path.glob("*.mp4"))) == 4


def test_unknown_command_and_bad_flag_fail_clearly():
    result = run_cli("dance")
    assert result.returncode != 0 and "expected a command, one of demo" in result.stderr
    result = run_cli("demo", "--epochs=0")
    assert result.returncode != 0 and "epochs" in result.stderr
