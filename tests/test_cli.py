"""The `vidzoo` console script."""

import dataclasses
import subprocess
import sys


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-c", "from vidzoo.cli import run; run()", *args],
        capture_output=True, text=True, timeout=1200,  # a hang guard, not a speed check
    )


def main_cli(capsys, *args):
    """`vidzoo ARGS` in this process: (exit status, stderr)."""
    from vidzoo.cli import main

    try:
        status = main(list(args))
    except SystemExit as exit:  # argparse's own errors
        status = exit.code
    return status, capsys.readouterr().err


def test_unknown_command_and_bad_flags_fail_clearly(tmp_path, capsys):
    result = run_cli("trian")  # the console script itself, once
    assert result.returncode != 0 and "unknown command 'trian'; did you mean train?" in result.stderr
    cases = [
        (["train", "--epoch=3"], "unknown flag --epoch; did you mean --epochs?"),
        (["demo", "--epochs=0"], "epochs"),
        (["train", "--strategy=tpu"], "strategy"),
        (["train", "--model=x3d_xs"], "train needs --model, --train and --run_dir"),
        (["train", "--model=resnet_999", f"--train={tmp_path}", f"--run_dir={tmp_path}/run"],
         "not in the zoo"),
        (["train", "--model=x3d_xs", f"--train={tmp_path}/missing.csv",
          f"--run_dir={tmp_path}/run"], "missing.csv does not exist"),
        (["train", "--model=x3d_xs", f"--train={tmp_path}/x.csv", f"--run_dir={tmp_path}/run",
          "--model_option=sgs"], "expects KEY=VALUE"),
        (["evaluate", f"--run_dir={tmp_path}/nothing", f"--data={tmp_path}"],
         "not a finished training run"),
        (["export"], "export needs --run_dir"),
        (["export", "--run_dir=x", "--format=coreml"], "invalid choice: 'coreml'"),
    ]
    for args, message in cases:
        status, stderr = main_cli(capsys, *args)
        assert status != 0 and message in stderr, (args, stderr)


def test_help_lists_the_commands_and_each_commands_flags_with_defaults():
    from vidzoo.training.train import TrainConfig

    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("demo", "train", "evaluate", "export", "prepare", "check-videos"):
        assert f"\n  {command} " in result.stdout
    result = run_cli("train", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for field in dataclasses.fields(TrainConfig):
        assert f"--{field.metadata.get('flag', field.name)}" in text
    assert "--epochs EPOCHS training epochs (default: 10)" in text
    assert "--workdir" not in text  # demo's flag, not train's
    demo = " ".join(run_cli("demo", "--help").stdout.split())
    assert ("--epochs EPOCHS training epochs of the baseline (and of the ATFR model from "
            "scratch) (default: 15)") in demo
    assert "--protocol {scratch,finetune}" in demo


def test_train_flags_become_the_train_config():
    from vidzoo.cli import parse, train_config
    from vidzoo.training.train import TrainConfig

    command, args = parse(["train", "--model=x3d_xs", "--train", "a.csv", "--run_dir=r",
                           "--noflip", "--deterministic", "--mixed_precision=false",
                           "--model_option=sgs='res3'", "--model_option=bins=4",
                           "--sfc_option=topk='frame'", "--lr=0.05", "--verbose=2"])
    assert command == "train"
    assert train_config(args) == TrainConfig(
        model="x3d_xs", train="a.csv", run_dir="r", flip=False, deterministic=True,
        mixed_precision=False, model_options={"sgs": "res3", "bins": 4},
        sfc_options={"topk": "frame"}, lr=0.05, verbose=2)
    _, args = parse(["train", "--flip=true", "--deterministic=no"])
    assert args.flip is True and args.deterministic is False


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
    assert result.returncode != 0 and "arguments are required: manifest" in result.stderr
