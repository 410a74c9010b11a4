"""vidzoo.demo, the README's main job, run as `vidzoo demo` at a tiny size."""

import json

from test_cli import run_cli


def test_demo_trains_evaluates_plots_and_exports(tmp_path):
    result = run_cli("demo", "--model=x3d_xs", "--epochs=1", "--train_per_class=2",
                     "--val_per_class=1", "--frames=4", "--crop_size=32", "--num_clips=1",
                     "--num_crops=1", "--batch_size=4", f"--workdir={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| x3d_xs | 3.0M |" in result.stdout and "| x3d_xs_atfr | 3.0M |" in result.stdout
    assert "ATFR / baseline: " in result.stdout and "x batch-1 latency" in result.stdout
    results = json.loads((tmp_path / "demo_results.json").read_text())
    baseline, atfr = results["rows"]
    assert baseline["mean_active_bins"] is None and 1 <= atfr["mean_active_bins"] <= 4
    assert atfr["bins"] == 4 and atfr["gflops_per_clip"] <= baseline["gflops_per_clip"] * 1.01
    assert baseline["batch1_ms"] > 0 and atfr["batch1_ms"] > 0
    # The ATFR model is fine-tuned from the baseline at its own learning rate.
    atfr_config = json.loads((tmp_path / "runs" / "x3d_xs_atfr" / "config.json").read_text())
    assert atfr_config["init_from"].endswith("x3d_xs") and atfr_config["lr"] == 0.0003
    assert (tmp_path / "accuracy_vs_gflops.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "export" / "x3d_xs_atfr" / "saved_model.pb").exists()
    assert list((tmp_path / "runs" / "x3d_xs_atfr" / "logs" / "adaptive").glob("events.*"))
    # The demo data has left and right motion classes: no mirroring in training.
    assert not json.loads((tmp_path / "runs" / "x3d_xs" / "config.json").read_text())["flip"]
