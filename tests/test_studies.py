"""The reproduction studies' protocol logic (benchmarks/studies): what each
paper's protocol fixes, checked without training."""

import os

import numpy as np
import pytest

from benchmarks.studies import atfr, clustering, sfc


def test_sfc_matched_tau_hands_the_tail_its_training_frames():
    frames = {}
    for backbone in sfc.BACKBONES:
        split = sfc._split_frames(backbone, 56)
        assert split["video"] // sfc.TAUS[backbone.matched_tau] == split["clip"], backbone.name
        assert backbone.matched_tau in backbone.taus
        frames[backbone.name] = split["video"]
    assert frames == {"resnet3d_18": 8, "tsm_r18": 32}  # the per-frame TSM-R18 keeps every frame
    assert sfc.SFC_TRAINING["lr_drops"] == "8,12" and sfc.SFC_TRAINING["warmup_epochs"] == 0


def test_atfr_difference_and_its_standard_error():
    baseline = {"repeats": [{"video_top1": v} for v in (1.0, 0.99, 0.995)]}
    sgs = {"repeats": [{"video_top1": v} for v in (0.68, 0.335, 1.0)]}
    delta, error = atfr.difference(sgs, baseline)
    expected = np.sqrt(np.var([1.0, 0.99, 0.995], ddof=1) / 3
                       + np.var([0.68, 0.335, 1.0], ddof=1) / 3)
    np.testing.assert_allclose([delta, error], [np.mean([0.68, 0.335, 1.0]) - 0.995, expected])
    assert atfr.verdict(sgs, baseline).endswith("within noise")
    worse = {"repeats": [{"video_top1": v} for v in (0.5, 0.52, 0.51)]}
    assert atfr.verdict(worse, baseline).endswith("beyond noise")


def test_clustering_rows_merge_only_when_asked_and_leave_res2_unshifted():
    rows = {row.key: row for row in clustering.ROWS}
    assert rows["tsm_r18_8f"].model_options() == {}
    slope = rows["tsm_r18_slope16"]
    assert slope.model_options() == {
        "unshifted": ("res2",), "temporal_clustering": {"num_clusters": 16, "method": "slope"}}
    assert slope.model_options(merging=False) == {"unshifted": ("res2",)}
    shifted = rows["tsm_r18_cumulative8_shifted"].model_options()
    assert "unshifted" not in shifted and shifted["temporal_clustering"]["num_clusters"] == 8


def test_datasets_of_other_sizes_get_their_own_folder(tmp_path):
    from benchmarks.studies import common

    default = common.Bench(str(tmp_path))
    small = common.Bench(str(tmp_path), common.Settings(train_per_class=1, val_per_class=1))
    import os

    folder = os.path.dirname(small.data(8)["train"])
    assert folder == small.path("data8_train1_val1") != default.path("data8")


def _atfr_row(config, seed_top1):
    runs = [{"video_top1": top1, "batched_video_top1": top1,
             "gflops_per_clip": 0.67 if config.options is None else 0.3,
             "adaptive": {} if config.options is None else {"sgs": {"mean": 7.5 - seed,
                                                                     "frames_in": 16}}}
            for seed, top1 in enumerate(seed_top1)]
    return dict(runs[0], key=config.key, parameters=4_239_748, latency_ms=20.0, repeats=runs)


def test_atfr_section_renders_every_configuration_and_the_defaults(tmp_path):
    # The section is written after hours of training: render it from made-up rows.
    rows = {config.key: _atfr_row(config, (0.8, 0.85, 0.9)) for config in atfr.CONFIGS}
    rows["sgs_resnet3d_18_sgs_kronecker"] = _atfr_row(atfr.ABLATIONS[2], (1.0, 0.99, 1.0))
    rows["sgs_resnet3d_18_sgs"] = _atfr_row(atfr.MAIN[1], (0.7, 0.3, 1.0, 0.9, 0.8, 0.6))
    for config in atfr.CONFIGS:
        if config.options is not None:
            rows[config.key]["adaptive"]["sgs"]["histogram"] = {"7": 3, "8": 5}
    probe = {"x3d_s_lr0.003_gamma1": {"lr": 0.003, "zero_init": False, "video_top1": 0.495},
             "x3d_s_lr0.03": {"lr": 0.03, "zero_init": True, "video_top1": 0.6}}
    text = atfr.section({"rows": rows, "warmup_epochs": 2.6, "lr": 0.003, "x3d_lr": 0.03,
                         "x3d_lr_probe": probe}, str(tmp_path))
    assert "by lr; final BatchNorms" in text and "0.003 (gamma 1): 0.495; 0.03: 0.600." in text
    assert "X3D-S 0.03, with its references'" in text and "warmup of 2.6 epochs" in text
    assert "{" not in text.split("![")[0]  # every placeholder of the prose filled
    table = [line for line in text.splitlines() if line.startswith("| 3D ResNet-18 |")]
    assert len(table) == 5  # baseline, SGS, f_s frozen, gradient x 0.1, fine-tuned
    assert any("gradient to Delta x 0.1" in line for line in table)
    assert any("0.717 ± 0.248 (6)" in line for line in table)  # the default's 6 seeds
    assert "and with x 0.1, the candidates for the layer's default, 6)" in text
    assert "Beyond noise better than the default: Kronecker kernel (Table 2)." in text
    assert (tmp_path / "atfr_bins_histogram.png").exists()


def test_deferred_timing_is_skipped_uncached_and_then_measured(tmp_path):
    from benchmarks.studies import common

    deferring = common.Bench(str(tmp_path), defer_timing=True)
    assert deferring.timed("model_latency", lambda: {"latency_ms": 1.0}) == {}
    assert deferring.deferred == ["model_latency"]
    assert not (tmp_path / "results" / "model_latency.json").exists()
    quiet = common.Bench(str(tmp_path))
    assert quiet.timed("model_latency", lambda: {"latency_ms": 2.0})["latency_ms"] == 2.0
    # Once measured, a deferring bench reuses the measurement.
    assert deferring.timed("model_latency", lambda: {"latency_ms": 3.0})["latency_ms"] == 2.0
    assert deferring.deferred == ["model_latency"]


def _sfc_row(top1, gflops, videos_per_second):
    return {"video_top1": top1, "repeats": [{"video_top1": top1 - 0.01 * seed}
                                            for seed in range(3)],
            "gflops_per_video": gflops, "videos_per_second": videos_per_second,
            "parameters": 33_000_000, "inference_mib_per_video": 40.0}


def test_sfc_section_renders_both_backbones(tmp_path):
    backbones = {}
    for backbone in sfc.BACKBONES:
        entry = {"backbone": _sfc_row(0.8, 1.0, 10.0),
                 "dense": {"30 views (10x3)": _sfc_row(0.9, 30.0, 2.0),
                           "1 view": _sfc_row(0.8, 1.0, 50.0)},
                 "split_frames": sfc._split_frames(backbone, 56)}
        for label in backbone.taus:
            entry[f"sfc_{label}"] = _sfc_row(0.91, 5.0, 12.0)
        backbones[backbone.name] = entry
    text = sfc.section({"sfc_frames": sfc.SFC_FRAMES, "stride": sfc.STRIDE, "eval_clips": 3,
                        "backbones": backbones}, str(tmp_path))
    assert "SFC top-1 0.900 ± 0.010 (3) vs 0.890 ± 0.010 (3) for 30 views" in text
    assert "0.167x the GFLOPs and 6.0x the videos/s of 30 views" in text
    assert (tmp_path / "sfc_accuracy_vs_gflops.png").exists()


def test_store_keeps_untimed_results_for_a_new_work_directory(tmp_path):
    from benchmarks.studies import common

    store = tmp_path / "store"
    first = common.Bench(str(tmp_path / "machine1"), store=str(store))
    assert first.cached("run", lambda: {"video_top1": 0.5})["video_top1"] == 0.5
    first.timed("run_latency", lambda: {"latency_ms": 1.0})
    assert (store / "run.json").exists()
    assert not (store / "run_latency.json").exists()  # timings compare within one machine
    second = common.Bench(str(tmp_path / "machine2"), store=str(store))
    assert second.cached("run", lambda: {"video_top1": 0.9})["video_top1"] == 0.5
    assert (tmp_path / "machine2" / "results" / "run.json").exists()


def test_store_refuses_other_settings(tmp_path):
    from benchmarks.studies import common

    small = common.Settings(train_per_class=1)
    with pytest.raises(ValueError, match="default Settings"):
        common.Bench(str(tmp_path), small, store=str(tmp_path / "store"))
    common.Bench(str(tmp_path), common.Settings(seeds=5), store=str(tmp_path / "store"))


def _fake_training(bench, key, top1):
    """A stand-in for train_and_evaluate's run: writes the model file, returns a row."""
    def compute():
        os.makedirs(os.path.dirname(bench.model_path(key)), exist_ok=True)
        open(bench.model_path(key), "w").close()
        return {"key": key, "video_top1": top1}
    return compute


@pytest.mark.parametrize("retrained_top1, warns", [(0.75, False), (0.5, True)])
def test_a_stored_run_without_its_model_is_retrained_and_checked(tmp_path, capsys,
                                                                  retrained_top1, warns):
    from benchmarks.studies import common

    store = tmp_path / "store"
    common.Bench(str(tmp_path / "machine1"), store=str(store)).cached(
        "run", lambda: {"key": "run", "video_top1": 0.75})
    bench = common.Bench(str(tmp_path / "machine2"), store=str(store))
    with pytest.raises(FileNotFoundError, match="has not trained it"):
        bench.run_dir("run")
    bench._retrain["run"] = _fake_training(bench, "run", retrained_top1)
    assert bench.cached("run", bench._retrain["run"])["video_top1"] == 0.75  # from the store
    assert os.path.exists(bench.trained_model_path("run"))
    assert ("WARNING: retrained run" in capsys.readouterr().out) == warns
    # A mismatch replaces the stored run, so every later figure comes from one model.
    assert common.read_json(str(store / "run.json"))["video_top1"] == retrained_top1
