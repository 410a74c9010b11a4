"""The `vidzoo` command line: `vidzoo COMMAND [--flags]` (absl flags).

Commands:
  demo                   -- short end-to-end check on generated, really encoded
                            videos (until the training issue builds the full demo).
  prepare                -- convert --manifest into sharded TFRecords at --output.
  check-videos MANIFEST  -- list the files of a dataset that cannot be decoded, and why.

A MANIFEST is a CSV (`path,label`) or a folder of class folders.
"""

import json
import os
import sys
import tempfile

from absl import app, flags

flags.DEFINE_string("workdir", None, "Where generated videos and outputs go "
                    "(default: a fresh temporary directory).")
flags.DEFINE_integer("epochs", 8, "Training epochs for the demo.", lower_bound=1)
flags.DEFINE_integer("clips", 24, "Number of generated clips for the demo.", lower_bound=4)
flags.DEFINE_integer("seed", 0, "Random seed.")
flags.DEFINE_string("manifest", None, "prepare: CSV manifest or folder of class folders.")
flags.DEFINE_string("output", None, "prepare: output prefix of the TFRecord shards.")
flags.DEFINE_integer("shards", 4, "prepare: number of TFRecord shards.", lower_bound=1)
flags.DEFINE_integer("max_frames", 0, "prepare: keep at most this many frames (0: all).",
                     lower_bound=0)

FLAGS = flags.FLAGS
COMMANDS = ("demo", "prepare", "check-videos")


def demo():
    from vidzoo.training.quick_check import run_quick_check

    workdir = FLAGS.workdir or tempfile.mkdtemp(prefix="vidzoo_demo_")
    results = run_quick_check(workdir, clips=FLAGS.clips, epochs=FLAGS.epochs, seed=FLAGS.seed)
    print("vidzoo demo (short end-to-end check)")
    print(f"  videos written and decoded with PyAV: {results['decoded_shape']} in {workdir}")
    print(f"  train accuracy after {FLAGS.epochs} epochs: {results['train_accuracy']:.3f} "
          f"(loss {results['final_train_loss']:.3f})")
    print(f"  mean SGS active bins B' (of {results['frames']}): "
          f"moving clips {results['mean_active_bins_moving']:.2f}, "
          f"clips with a still segment {results['mean_active_bins_with_still_segment']:.2f}")
    print(json.dumps(results, indent=2))
    with open(os.path.join(workdir, "demo_results.json"), "w") as handle:
        json.dump(results, handle, indent=2)


def _load_manifest(path):
    from vidzoo.tf_data import manifest

    if not path:
        raise app.UsageError("a manifest is required (a CSV file or a folder of class folders).")
    if os.path.isdir(path):
        return manifest.from_folders(path, on_missing="skip")
    if os.path.isfile(path):
        return manifest.from_csv(path, on_missing="skip")
    raise app.UsageError(f"manifest {path} does not exist.")


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
    if command == "check-videos":
        return check_videos(rest[0])
    {"demo": demo, "prepare": prepare}[command]()


def run():
    """Console-script entry point."""
    app.run(main, argv=sys.argv)
