"""The `vidzoo` command line: `vidzoo COMMAND [--flags]`.

`vidzoo --help` lists the commands, `vidzoo COMMAND --help` that command's
flags with their defaults. `train`'s flags are the fields of `TrainConfig`
(name, type, default and help come from there); `demo`'s defaults are
`run_demo`'s. Flags are written `--name=value` or `--name value`; booleans
also as `--name` / `--noname`. An unknown command or flag names the nearest
valid one.

A dataset is a CSV manifest (`path,label`), a folder of class folders, or a
TFRecord pattern written by `prepare` (e.g. records/train-*).
"""

import argparse
import ast
import dataclasses
import difflib
import inspect
import json
import os
import sys
import tempfile

from absl import logging

SUMMARIES = {
    "demo": "the main job: build the embedded dataset, train a baseline and its ATFR "
            "variant, evaluate both, print the comparison, plot, export",
    "train": "train --model on --train (and --val) into --run_dir; rerun to resume",
    "evaluate": "multi-view evaluation of --run_dir on --data (JSON result)",
    "export": "--run_dir or a preset as a SavedModel (uint8 frames in), ONNX or TFLite",
    "prepare": "convert --manifest into sharded TFRecords at --output",
    "check-videos": "list the files of a dataset that cannot be decoded, and why",
    "convert": "a PyTorch zoo checkpoint -> a vidzoo preset (docs/weights.md)",
    "predict": "top-k labels of video files with a preset (--weights), or a timeline",
}


class UsageError(ValueError):
    """A command line that cannot run; printed as `vidzoo COMMAND: message`."""


def parse_bool(text):
    value = str(text).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false; got {text!r}")


def at_least(low):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer; got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}; got {value}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def key_value(text):
    """(key, value) from KEY=VALUE, the value a Python literal (else the string)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expects KEY=VALUE; got {text!r}")
    try:
        return key.strip(), ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return key.strip(), raw


def add_flag(parser, name, default, help, kind=None, choices=None):
    """One `--name` flag; a bool gets `--name[=true|false]` and `--noname`."""
    kind = kind or type(default)
    shown = f"{help} (default: {default})" if default not in (None, {}, []) else help
    if kind is bool:
        parser.add_argument(f"--{name}", type=parse_bool, nargs="?", const=True, default=default,
                            metavar="true|false", help=shown)
        parser.add_argument(f"--no{name}", dest=name, action="store_false", default=default,
                            help=argparse.SUPPRESS)
    elif kind is dict:
        parser.add_argument(f"--{name}", type=key_value, action="append", default=[],
                            metavar="KEY=VALUE", help=help)
    else:
        parser.add_argument(f"--{name}", type=kind, default=default, choices=choices,
                            help=shown)


def add_train_flags(parser):
    from vidzoo.training.train import TrainConfig

    for field in dataclasses.fields(TrainConfig):
        meta = field.metadata
        default = {} if field.default_factory is not dataclasses.MISSING else field.default
        add_flag(parser, meta.get("flag", field.name), default, meta["help"],
                 kind=field.type, choices=meta.get("choices"))


DEMO_HELP = {
    "workdir": "where data, runs and outputs go (default: a fresh temporary directory)",
    "model": "the baseline, trained from scratch; and its _atfr variant",
    "protocol": "how the ATFR model trains: 'scratch' (the paper's: in place from scratch, "
                "the baseline's schedule) or 'finetune' (from the trained baseline)",
    "epochs": "training epochs of the baseline (and of the ATFR model from scratch)",
    "finetune_epochs": "fine-tuning epochs of the ATFR model (protocol 'finetune')",
    "frames": "frames per clip",
    "crop_size": "crop size in pixels",
    "train_per_class": "training videos per class",
    "val_per_class": "validation videos per class",
    "num_clips": "clips per validation video",
    "num_crops": "spatial crops per clip (1 or 3)",
    "batch_size": "batch size",
    "lr": "peak learning rate of the baseline",
    "finetune_lr": "peak learning rate of the ATFR fine-tuning (protocol 'finetune')",
    "similarity_gradient_scale": "scales the gradient that reaches SGS's Delta (the released "
                                 "code's GRAD_SCALE_VAL; 1.0 is the paper's eq. 8, 0.1 the "
                                 "layer's default)",
    "latency_rounds": "interleaved rounds of the side-by-side batch-1 latency",
    "seed": "random seed (training is deterministic)",
    "verbose": "fit() verbosity: 0, 1 or 2",
}


def add_demo_flags(parser):
    from vidzoo.demo import PROTOCOLS, run_demo

    add_flag(parser, "workdir", None, DEMO_HELP["workdir"], kind=str)
    for name, parameter in inspect.signature(run_demo).parameters.items():
        if name == "workdir":
            continue
        default = parameter.default
        kind = at_least(1) if type(default) is int and name not in ("seed", "verbose") else None
        choices = {"num_crops": (1, 3), "verbose": (0, 1, 2), "protocol": PROTOCOLS}.get(name)
        add_flag(parser, name, default, DEMO_HELP[name], kind=kind, choices=choices)


def add_evaluate_flags(parser):
    add_flag(parser, "run_dir", None, "the training run to evaluate (or --weights)", kind=str)
    add_flag(parser, "weights", None, "a preset to evaluate with its own preprocessing "
             "(vidzoo convert)", kind=str)
    add_flag(parser, "data", None, "the dataset to evaluate on; required", kind=str)
    add_flag(parser, "num_clips", 10, "uniform clips per video", kind=at_least(1))
    add_flag(parser, "num_crops", 3, "spatial crops per clip", kind=int, choices=(1, 3))
    add_flag(parser, "batch_size", 8, "views per batch", kind=at_least(1))
    add_flag(parser, "output", None, "JSON path (default RUN_DIR/evaluation.json)", kind=str)


def add_export_flags(parser):
    add_flag(parser, "run_dir", None, "the training run to export (or --weights)", kind=str)
    add_flag(parser, "weights", None, "a preset to export with its own preprocessing",
             kind=str)
    add_flag(parser, "output", None, "output folder (default RUN_DIR/saved_model, RUN_DIR/onnx "
             "or RUN_DIR/tflite; required with --weights)", kind=str)
    add_flag(parser, "format", "savedmodel", "savedmodel (uint8 frames in), onnx or tflite "
             "(normalized float32 clips of a fixed shape in, preprocessing.json beside)",
             kind=str, choices=("savedmodel", "onnx", "tflite"))
    add_flag(parser, "batch_size", 1, "the ONNX / TFLite input's batch size", kind=at_least(1))
    add_flag(parser, "select_tf_ops", False, "TFLite: keep ops without a builtin as Select TF "
             "ops (needs the Flex delegate) instead of failing")


def add_prepare_flags(parser):
    add_flag(parser, "manifest", None, "CSV manifest or folder of class folders; required",
             kind=str)
    add_flag(parser, "output", None, "prefix of the TFRecord shards; required", kind=str)
    add_flag(parser, "shards", 4, "number of TFRecord shards", kind=at_least(1))
    add_flag(parser, "max_frames", 0, "keep at most this many frames (0: all)",
             kind=at_least(0))


def add_check_videos_flags(parser):
    parser.add_argument("manifest", help="CSV manifest or folder of class folders")


def add_convert_flags(parser):
    add_flag(parser, "source", None, "torchvision, pytorchvideo, pyslowfast, tsm or mmaction2; "
             "required", kind=str)
    add_flag(parser, "model", None, "the source's model name (docs/weights.md); required",
             kind=str)
    add_flag(parser, "checkpoint", None, "the .pth / .pyth file; required", kind=str)
    add_flag(parser, "output", None, "the preset directory to write; required", kind=str)
    add_flag(parser, "classes", 400, "the checkpoint's class count", kind=at_least(1))
    add_flag(parser, "class_names", None, "a text file with one class name per line "
             "(default: Kinetics-400's for 400 classes)", kind=str)
    add_flag(parser, "overwrite", False, "replace an existing --output")
    add_flag(parser, "trust_checkpoint", False, "unpickle objects beyond tensors (only for "
             "files you trust)")


def add_predict_flags(parser):
    parser.add_argument("videos", nargs="+", help="video files")
    add_flag(parser, "weights", None, "a preset directory (vidzoo convert); required", kind=str)
    add_flag(parser, "top_k", 5, "labels per prediction", kind=at_least(1))
    add_flag(parser, "num_clips", 3, "uniform clips per video (or window)", kind=at_least(1))
    add_flag(parser, "num_crops", 3, "spatial crops per clip", kind=int, choices=(1, 3))
    add_flag(parser, "window", 0.0, "seconds per timeline window (0: the whole video)",
             kind=float)
    add_flag(parser, "stride", 0.0, "seconds between timeline windows (0: --window)",
             kind=float)
    add_flag(parser, "json", False, "print JSON instead of text")
    add_flag(parser, "csv", None, "also write the predictions as CSV rows to this file",
             kind=str)


def demo(args):
    from vidzoo.demo import run_demo

    settings = {k: v for k, v in vars(args).items() if k != "workdir"}
    workdir = args.workdir or tempfile.mkdtemp(prefix="vidzoo_demo_")
    result = run_demo(workdir, **settings)
    print(f"\nvidzoo demo: {len(result['rows'])} models trained and evaluated on the embedded "
          f"dataset in {result['seconds']:.0f} s ({workdir})\n")
    print(result["table"])
    print(f"\nplot: {result['plot']}\nTensorBoard: tensorboard --logdir {result['tensorboard']}"
          f"\nATFR SavedModel: {result['saved_model']}")


def train_config(args):
    """The TrainConfig of parsed `vidzoo train` flags."""
    from vidzoo.training.train import TrainConfig

    values = {}
    for field in dataclasses.fields(TrainConfig):
        value = getattr(args, field.metadata.get("flag", field.name))
        values[field.name] = dict(value) if field.type is dict else value
    return TrainConfig(**values)


def train(args):
    from vidzoo.training.train import train as run_train

    if not args.model or not args.train or not args.run_dir:
        raise UsageError("train needs --model, --train and --run_dir.")
    summary = run_train(train_config(args))
    print(json.dumps({k: v for k, v in summary.items() if k != "history"}, indent=2))


def evaluate(args):
    from vidzoo.training.evaluate import evaluate_preset, evaluate_run

    if bool(args.run_dir) == bool(args.weights) or not args.data:
        raise UsageError("evaluate needs --data and one of --run_dir or --weights.")
    if args.weights:
        result = evaluate_preset(args.weights, args.data, args.num_clips, args.num_crops,
                                 args.batch_size, args.output)
    else:
        result = evaluate_run(args.run_dir, args.data, args.num_clips, args.num_crops,
                              args.batch_size, args.output)
    print(json.dumps(result, indent=2))


def export(args):
    from vidzoo.training.export import export_preset, export_run

    options = dict(format=args.format)
    if args.format != "savedmodel":
        options.update(batch_size=args.batch_size, select_tf_ops=args.select_tf_ops)
    if args.weights:
        if args.run_dir or not args.output:
            raise UsageError("export --weights needs --output (and no --run_dir).")
        path = export_preset(args.weights, args.output, **options)
    elif args.run_dir:
        path = export_run(args.run_dir, args.output, **options)
    else:
        raise UsageError("export needs --run_dir (or --weights).")
    print(f"{FORMAT_NAMES[args.format]} written to {path}")


FORMAT_NAMES = {"savedmodel": "SavedModel", "onnx": "ONNX model", "tflite": "TFLite model"}


def _load_manifest(path):
    """The manifest behind a CSV or a class-folder tree (`training.data.load_source`)."""
    from vidzoo.training.data import load_source

    source = load_source(path, what="manifest")
    if source.manifest is None:
        raise ValueError(f"manifest: expected a CSV file or a folder of class folders; "
                         f"got the TFRecord pattern {path!r}.")
    return source.manifest


def prepare(args):
    from vidzoo.tf_data.records import write_records

    if not args.output:
        raise UsageError("prepare needs --output, the prefix of the TFRecord shards.")
    dataset = _load_manifest(args.manifest)
    result = write_records(dataset, args.output, args.shards, max_frames=args.max_frames or None)
    print(f"wrote {result['written']} videos into {len(result['shards'])} shards at "
          f"{args.output}-*; skipped {len(result['skipped'])} unreadable")
    for path, reason in sorted(result["skipped"].items()):
        print(f"  {path}: {reason}")


def check_videos(args):
    from vidzoo.tf_data.decode import probe, read_frames

    dataset = _load_manifest(args.manifest)
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


def convert(args):
    from vidzoo.convert import convert as run_convert

    if not (args.source and args.model and args.checkpoint and args.output):
        raise UsageError("convert needs --source, --model, --checkpoint and --output.")
    names = None
    if args.class_names:
        with open(args.class_names, encoding="utf-8") as file:
            names = [line.strip() for line in file if line.strip()]
    try:
        path = run_convert(args.source, args.model, args.checkpoint, args.output,
                           classes=args.classes, class_names=names, overwrite=args.overwrite,
                           trust_checkpoint=args.trust_checkpoint)
    except FileExistsError as error:
        raise ValueError(str(error)) from error
    print(f"preset written to {path}")


def predict(args):
    from vidzoo import predict as predicting

    if not args.weights:
        raise UsageError("predict needs --weights, a preset directory (vidzoo convert).")
    results = predicting.predict(args.videos, args.weights, args.top_k, args.num_clips,
                                 args.num_crops, args.window or None, args.stride or None)
    if args.csv:
        predicting.write_timeline_csv(results, args.csv)
    print(json.dumps(results, indent=2) if args.json else predicting.format_results(results))
    return 1 if all("error" in result for result in results) else 0


COMMANDS = {
    "demo": (add_demo_flags, demo),
    "train": (add_train_flags, train),
    "evaluate": (add_evaluate_flags, evaluate),
    "export": (add_export_flags, export),
    "prepare": (add_prepare_flags, prepare),
    "check-videos": (add_check_videos_flags, check_videos),
    "convert": (add_convert_flags, convert),
    "predict": (add_predict_flags, predict),
}


def _nearest(word, options):
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.5)
    return f"; did you mean {close[0]}?" if close else ""


def _top_level_help():
    width = max(map(len, COMMANDS))
    lines = ["usage: vidzoo COMMAND [--flags]    (vidzoo COMMAND --help: its flags)", "",
             "commands:"]
    lines += [f"  {name:<{width}}  {SUMMARIES[name]}" for name in COMMANDS]
    return "\n".join(lines + ["", __doc__.strip().split("\n\n")[-1]])


def command_parser(command):
    """The argparse parser of one command (exact flag names, no abbreviations)."""
    parser = argparse.ArgumentParser(prog=f"vidzoo {command}", description=SUMMARIES[command],
                                     allow_abbrev=False)
    COMMANDS[command][0](parser)
    return parser


def _flag_names(parser):
    # argparse keeps its options in `_actions` only; there is no public list.
    return [option for action in parser._actions for option in action.option_strings
            if action.help is not argparse.SUPPRESS]


def parse(argv):
    """(command, parsed flags) from argv without the program name."""
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_top_level_help())
        raise SystemExit(0)
    command = argv[0]
    if command not in COMMANDS:
        raise UsageError(f"unknown command {command!r}{_nearest(command, list(COMMANDS))} "
                         f"Commands: {', '.join(COMMANDS)} (vidzoo --help).")
    parser = command_parser(command)
    args, unknown = parser.parse_known_args(argv[1:])
    if unknown:
        flag = unknown[0].split("=", 1)[0]
        raise UsageError(f"unknown flag {flag}{_nearest(flag, _flag_names(parser))} "
                         f"(vidzoo {command} --help lists its flags).")
    return command, args


def main(argv):
    """Run one command; returns the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is imported
    try:
        command, args = parse(argv)
    except UsageError as error:
        print(f"vidzoo: {error}", file=sys.stderr)
        return 2
    logging.set_verbosity(logging.WARNING)
    try:
        return COMMANDS[command][1](args) or 0
    except ValueError as error:  # bad settings or data, named by the code that found them
        print(f"vidzoo {command}: {error}", file=sys.stderr)
        return 2


def run():
    """Console-script entry point."""
    sys.exit(main(sys.argv[1:]))
