"""vidzoo.demo, the README's main job, run as `vidzoo demo` at a tiny size."""

import json

import pytest

from test_cli import run_cli
from vidzoo.demo import training_plans


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
    # The paper's protocol: the ATFR model from scratch on the baseline's schedule.
    baseline_config, atfr_config = (
        json.loads((tmp_path / "runs" / name / "config.json").read_text())
        for name in ("x3d_xs", "x3d_xs_atfr"))
    assert atfr_config["init_from"] is None
    for key in ("lr", "epochs", "warmup_epochs", "seed"):
        assert atfr_config[key] == baseline_config[key]
    assert baseline_config["warmup_epochs"] == 0.17  # 34 / 196 of 1 epoch
    assert atfr_config["model_options"] == {"sgs": {"similarity_gradient_scale": 0.1}}
    assert (tmp_path / "accuracy_vs_gflops.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "export" / "x3d_xs_atfr" / "saved_model.pb").exists()
    assert list((tmp_path / "runs" / "x3d_xs_atfr" / "logs" / "adaptive").glob("events.*"))
    # The demo data has left and right motion classes: no mirroring in training.
    assert not json.loads((tmp_path / "runs" / "x3d_xs" / "config.json").read_text())["flip"]


def test_finetune_protocol_starts_the_atfr_model_from_the_baseline():
    baseline, atfr = training_plans("x3d_xs", "finetune", 15, 12, 0.003, 0.0003, 1.0, "/b")
    assert baseline == ("x3d_xs", dict(epochs=15, lr=0.003, warmup_epochs=2.6))
    name, plan = atfr
    assert name == "x3d_xs_atfr" and plan["init_from"] == "/b"
    assert (plan["epochs"], plan["lr"]) == (12, 0.0003)
    assert plan["model_options"] == {"sgs": {"similarity_gradient_scale": 1.0}}
    with pytest.raises(ValueError, match="protocol must be one of"):
        training_plans("x3d_xs", "distill", 15, 12, 0.003, 0.0003, 1.0, "/b")
