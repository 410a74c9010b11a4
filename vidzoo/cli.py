"""The `vidzoo` command line: `vidzoo COMMAND [--flags]` (absl flags).

Commands:
  demo                   -- the main job: build the embedded dataset, train a baseline
                            and its ATFR variant, evaluate both, print the comparison,
                            plot accuracy vs GFLOPs, export the ATFR SavedModel.
  train                  -- train --model on --train (and --val) into --run_dir;
                            rerunning the same command resumes after an interruption.
  evaluate               -- multi-view evaluation of --run_dir on --data (JSON result).
  export                 -- SavedModel of --run_dir with a uint8-frames signature.
  prepare                -- convert --manifest into sharded TFRecords at --output.
  check-videos MANIFEST  -- list the files of a dataset that cannot be decoded, and why.

A dataset is a CSV manifest (`path,label`), a folder of class folders, or a TFRecord
pattern written by `prepare` (e.g. records/train-*). `vidzoo COMMAND --helpfull` lists flags.
"""

import ast
import json
import os
import sys
import tempfile

from absl import app, flags, logging

# Shared by train and demo.
flags.DEFINE_integer("epochs", None, "Training epochs (train: 10, demo: 15).", lower_bound=1)
flags.DEFINE_integer("frames", None, "Frames per clip (train: 8, demo: 16).", lower_bound=1)
flags.DEFINE_integer("crop_size", None, "Crop size in pixels (train: 112, demo: 56).",
                     lower_bound=32)
flags.DEFINE_integer("batch_size", 8, "Global batch size (all replicas and workers).",
                     lower_bound=1)
flags.DEFINE_float("lr", None, "Peak learning rate after warmup (train: 0.1, demo: 0.01).")
flags.DEFINE_integer("seed", 0, "Random seed.")
flags.DEFINE_string("model", None, "Registry name of the model (vidzoo.zoo.list_models()); "
                    "demo: the baseline, trained with its _atfr variant (resnet3d_18).")
# train
flags.DEFINE_multi_string("model_option", [], "Model constructor option KEY=VALUE "
                          "(value as a Python literal), e.g. sgs=res3. Repeatable.")
flags.DEFINE_string("train", None, "train: training dataset.")
flags.DEFINE_string("val", None, "train: optional validation dataset (one clip per video "
                    "per epoch).")
flags.DEFINE_string("init_from", None, "train: start from the weights of this run directory "
                    "or .keras file (layers matched by name and shape).")
flags.DEFINE_string("sfc_split", None, "train: train only Selective Feature Compression, "
                    "inserted at this stage (e.g. res3) of the --init_from model, which stays "
                    "frozen; --frames/--stride set the long input SFC sees in one pass.")
flags.DEFINE_float("sfc_tau", 2.0, "train: SFC's compression ratio (frames in / frames out).")
flags.DEFINE_multi_string("sfc_option", [], "train: SelectiveFeatureCompression option "
                          "KEY=VALUE (Python literal), e.g. topk=frame, scaled=False, "
                          "abstraction_blocks=1, bottleneck_ratio=0.5. Repeatable.")
flags.DEFINE_string("run_dir", None, "train/evaluate/export: the run directory.")
flags.DEFINE_integer("stride", 2, "Temporal sampling stride of a clip.", lower_bound=1)
flags.DEFINE_integer("steps_per_epoch", 0, "Steps per epoch (0: videos // batch_size).",
                     lower_bound=0)
flags.DEFINE_float("warmup_epochs", 1.0, "Linear warmup length in epochs.", lower_bound=0)
flags.DEFINE_float("weight_decay", 1e-4, "SGD weight decay.", lower_bound=0)
flags.DEFINE_float("momentum", 0.9, "SGD momentum.", lower_bound=0, upper_bound=0.999)
flags.DEFINE_float("label_smoothing", 0.0, "Label smoothing.", lower_bound=0, upper_bound=0.99)
flags.DEFINE_bool("flip", True, "train: random horizontal flips; --noflip where a mirror "
                  "image is another class (left vs right motion, the embedded demo data).")
flags.DEFINE_bool("mixed_precision", False, "Train with the mixed_float16 policy.")
flags.DEFINE_enum("strategy", "default", ["default", "mirrored", "multi_worker"],
                  "tf.distribute strategy; multi_worker reads TF_CONFIG.")
flags.DEFINE_integer("cpu_devices", 0, "Split the CPU into this many logical devices "
                     "(MirroredStrategy on a CPU machine).", lower_bound=0)
flags.DEFINE_integer("checkpoint_steps", 0, "Also checkpoint every N steps (0: per epoch "
                     "only).", lower_bound=0)
flags.DEFINE_integer("precise_bn_batches", 0, "train: at each epoch end, set BatchNorm "
                     "statistics to their average over this many training batches (precise "
                     "BN, as PySlowFast; 0: off). Worth it with TF-slim's BN decay of 0.999.",
                     lower_bound=0)
flags.DEFINE_integer("verbose", 1, "Keras fit verbosity: 0 silent, 1 progress bar, "
                     "2 one line per epoch.", lower_bound=0, upper_bound=2)
# evaluate / export
flags.DEFINE_string("data", None, "evaluate: the dataset to evaluate on.")
flags.DEFINE_integer("num_clips", None, "evaluate/demo: clips per video (evaluate: 10, "
                     "demo: 3).", lower_bound=1)
flags.DEFINE_enum("num_crops", "3", ["1", "3"], "evaluate/demo: spatial crops per clip.")
flags.DEFINE_string("output", None, "evaluate: JSON path (default RUN_DIR/evaluation.json); "
                    "export: SavedModel folder (default RUN_DIR/saved_model); prepare: "
                    "TFRecord prefix.")
# demo
flags.DEFINE_string("workdir", None, "demo: where data, runs and outputs go "
                    "(default: a fresh temporary directory).")
flags.DEFINE_integer("train_per_class", 24, "demo: training videos per class.", lower_bound=1)
flags.DEFINE_integer("val_per_class", 6, "demo: validation videos per class.", lower_bound=1)
# prepare
flags.DEFINE_string("manifest", None, "prepare: CSV manifest or folder of class folders.")
flags.DEFINE_integer("shards", 4, "prepare: number of TFRecord shards.", lower_bound=1)
flags.DEFINE_integer("max_frames", 0, "prepare: keep at most this many frames (0: all).",
                     lower_bound=0)

FLAGS = flags.FLAGS
COMMANDS = ("demo", "train", "evaluate", "export", "prepare", "check-videos")


def _given(name, default):
    value = getattr(FLAGS, name)
    return default if value is None else value


def model_options(items, flag="--model_option"):
    """{"key": value} from KEY=VALUE strings (values as Python literals)."""
    options = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{flag} expects KEY=VALUE; got {item!r}.")
        try:
            options[key.strip()] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            options[key.strip()] = raw
    return options


def demo():
    from vidzoo.training.demo import run_demo

    workdir = FLAGS.workdir or tempfile.mkdtemp(prefix="vidzoo_demo_")
    result = run_demo(workdir, model=_given("model", "resnet3d_18"),
                      epochs=_given("epochs", 15), frames=_given("frames", 16),
                      crop_size=_given("crop_size", 56), train_per_class=FLAGS.train_per_class,
                      val_per_class=FLAGS.val_per_class, num_clips=_given("num_clips", 3),
                      num_crops=int(FLAGS.num_crops), batch_size=FLAGS.batch_size,
                      lr=_given("lr", 0.01), seed=FLAGS.seed,
                      verbose=FLAGS.verbose if FLAGS["verbose"].present else 2)
    print(f"\nvidzoo demo: {len(result['rows'])} models trained and evaluated on the embedded "
          f"dataset in {result['seconds']:.0f} s ({workdir})\n")
    print(result["table"])
    print(f"\nplot: {result['plot']}\nTensorBoard: tensorboard --logdir {result['tensorboard']}"
          f"\nATFR SavedModel: {result['saved_model']}")


def train():
    from vidzoo.training.train import TrainConfig, train as run_train

    if not FLAGS.model or not FLAGS.train or not FLAGS.run_dir:
        raise ValueError("train needs --model, --train and --run_dir.")
    config = TrainConfig(
        model=FLAGS.model, train=FLAGS.train, val=FLAGS.val, run_dir=FLAGS.run_dir,
        model_options=model_options(FLAGS.model_option), epochs=_given("epochs", 10),
        batch_size=FLAGS.batch_size, steps_per_epoch=FLAGS.steps_per_epoch,
        lr=_given("lr", 0.1), momentum=FLAGS.momentum, weight_decay=FLAGS.weight_decay,
        warmup_epochs=FLAGS.warmup_epochs, label_smoothing=FLAGS.label_smoothing,
        flip=FLAGS.flip, mixed_precision=FLAGS.mixed_precision, frames=_given("frames", 8),
        stride=FLAGS.stride, crop_size=_given("crop_size", 112), strategy=FLAGS.strategy,
        cpu_devices=FLAGS.cpu_devices, checkpoint_steps=FLAGS.checkpoint_steps,
        init_from=FLAGS.init_from, sfc_split=FLAGS.sfc_split, sfc_tau=FLAGS.sfc_tau,
        sfc_options=model_options(FLAGS.sfc_option, "--sfc_option"), seed=FLAGS.seed, precise_bn_batches=FLAGS.precise_bn_batches, verbose=FLAGS.verbose)
    summary = run_train(config)
    print(json.dumps({k: v for k, v in summary.items() if k != "history"}, indent=2))


def evaluate():
    from vidzoo.training.evaluate import evaluate_run

    if not FLAGS.run_dir or not FLAGS.data:
        raise ValueError("evaluate needs --run_dir and --data.")
    result = evaluate_run(FLAGS.run_dir, FLAGS.data, _given("num_clips", 10),
                          int(FLAGS.num_crops), FLAGS.batch_size, FLAGS.output)
    print(json.dumps(result, indent=2))


def export():
    from vidzoo.training.export import export_run

    if not FLAGS.run_dir:
        raise ValueError("export needs --run_dir.")
    print(f"SavedModel written to {export_run(FLAGS.run_dir, FLAGS.output)}")


def _load_manifest(path):
    """The manifest behind a CSV or a class-folder tree (`training.data.load_source`)."""
    from vidzoo.training.data import load_source

    source = load_source(path, what="manifest")
    if source.manifest is None:
        raise ValueError(f"manifest: expected a CSV file or a folder of class folders; "
                         f"got the TFRecord pattern {path!r}.")
    return source.manifest


def prepare():
    from vidzoo.tf_data.records import write_records

    if not FLAGS.output:
        raise app.UsageError("prepare needs --output, the prefix of the TFRecord shards.")
    dataset = _load_manifest(FLAGS.manifest)
    result = write_records(dataset, FLAGS.output, FLAGS.shards,
                           max_frames=FLAGS.max_frames or None)
    print(f"wrote {result['written']} videos into {len(result['shards'])} shards at "
          f"{FLAGS.output}-*; skipped {len(result['skipped'])} unreadable")
    for path, reason in sorted(result["skipped"].items()):
        print(f"  {path}: {reason}")


def check_videos(path):
    from vidzoo.tf_data.decode import probe, read_frames

    dataset = _load_manifest(path)
    bad = []
    for video in dataset.paths:
        count, _, error = probe(video)
        if not error:
            frames, error = read_frames(video, [count - 1])
            error = error or ("" if len(frames) else "no decodable frames")
        if error:
            bad.append((video, error))
    print(f"checked {len(dataset)} videos: {len(bad)} cannot be decoded")
    for video, error in bad:
        print(f"  {video}: {error}")
    return 1 if bad else 0


def main(argv):
    if len(argv) < 2 or argv[1] not in COMMANDS:
        got = argv[1] if len(argv) > 1 else "nothing"
        raise app.UsageError(f"expected a command, one of {', '.join(COMMANDS)}; got {got}.")
    command, rest = argv[1], argv[2:]
    expected = 1 if command == "check-videos" else 0
    if len(rest) != expected:
        raise app.UsageError(f"{command} takes {expected} positional argument(s); got {rest}.")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.set_verbosity(logging.WARNING)
    try:
        if command == "check-videos":
            return check_videos(rest[0])
        {"demo": demo, "train": train, "evaluate": evaluate, "export": export,
         "prepare": prepare}[command]()
    except ValueError as error:
        raise app.UsageError(str(error)) from error


def run():
    """Console-script entry point."""
    app.run(main, argv=sys.argv)
