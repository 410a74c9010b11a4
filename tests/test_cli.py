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


def _small_dataset(root):
    from vidzoo.tf_data import synthetic

    synthetic.make_dataset(str(root), train_per_class=1, val_per_class=1, frames=8, size=32)
    (root / "train" / "move_up" / "broken.mp4").write_bytes(b"not a video" * 10)
    return root


def test_check_videos_lists_undecodable_files(tmp_path):
    root = _small_dataset(tmp_path)
    result = run_cli("check-videos", str(root / "train"))
    assert result.returncode == 1
    assert "checked 5 videos: 1 cannot be decoded" in result.stdout
    assert "broken.mp4" in result.stdout
    result = run_cli("check-videos", str(root / "val.csv"))
    assert result.returncode == 0 and "0 cannot be decoded" in result.stdout


def test_prepare_writes_shards_and_reports_skipped(tmp_path):
    root = _small_dataset(tmp_path)
    result = run_cli("prepare", f"--manifest={root / 'train'}", f"--output={tmp_path}/rec/train",
                     "--shards=2")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "wrote 4 videos into 2 shards" in result.stdout and "broken.mp4" in result.stdout
    assert len(list((tmp_path / "rec").glob("train-*.tfrecord"))) == 2
    assert (tmp_path / "rec" / "classes.json").exists()


def test_prepare_and_check_need_their_arguments(tmp_path):
    result = run_cli("prepare", f"--manifest={tmp_path}/nothing.csv", f"--output={tmp_path}/x")
    assert result.returncode != 0 and "does not exist" in result.stderr
    result = run_cli("check-videos")
    assert result.returncode != 0 and "takes 1 positional" in result.stderr
