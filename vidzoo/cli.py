"""The `vidzoo` command line: `vidzoo COMMAND [--flags]` (absl flags).

Commands:
  demo   -- short end-to-end check on generated, really encoded videos
            (until the training issue builds the full demo).
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

FLAGS = flags.FLAGS
COMMANDS = ("demo",)


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


def main(argv):
    if len(argv) < 2 or argv[1] not in COMMANDS:
        got = argv[1] if len(argv) > 1 else "nothing"
        raise app.UsageError(f"expected a command, one of {', '.join(COMMANDS)}; got {got}.")
    if len(argv) > 2:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[2:])}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    {"demo": demo}[argv[1]]()


def run():
    """Console-script entry point."""
    app.run(main, argv=sys.argv)
