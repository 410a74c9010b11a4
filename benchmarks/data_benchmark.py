"""Input-pipeline throughput: clips/s from mp4 files and from TFRecords, next
to the raw PyAV decode rate of the same frames, in one run on one machine.
Writes its section of docs/benchmarks.md.

    python -m benchmarks.data_benchmark [--videos-per-class 12] [--repeats 3]
"""

import argparse
import datetime
import os
import tempfile
import time

import numpy as np

from benchmarks import machine
from benchmarks.sections import write_section
from vidzoo.tf_data import manifest, records, synthetic
from vidzoo.tf_data.decode import probe, read_frames
from vidzoo.tf_data.pipeline import ClipConfig, video_dataset


def _clips_per_second(make_dataset, repeats):
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        clips = sum(int(labels.shape[0]) for _, labels in make_dataset())
        best = max(best, clips / (time.perf_counter() - start))
    return best, clips


def _raw_pyav(paths, config, repeats):
    """PyAV alone decoding, per video, the frames a training clip samples
    (a centred clip), no TF, no augmentation."""
    span = (config.clip_len - 1) * config.stride + 1
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        for path in paths:
            count = probe(path)[0]
            first = max(count - span, 0) // 2
            read_frames(path, (first + np.arange(config.clip_len) * config.stride) % count)
        best = max(best, len(paths) / (time.perf_counter() - start))
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--videos-per-class", type=int, default=12)
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="docs/benchmarks.md")
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="vidzoo_data_bench_")
    synthetic.make_dataset(root, args.videos_per_class, 1, args.frames, args.size)
    data = manifest.from_csv(os.path.join(root, "train.csv"))
    config = ClipConfig(clip_len=16, stride=2, crop_size=112, scale_range=(128, 160))
    records.write_records(data, os.path.join(root, "rec", "train"), 4, progress=False)
    pattern = os.path.join(root, "rec", "train-*")

    raw = _raw_pyav(data.paths, config, args.repeats)
    mp4, clips = _clips_per_second(
        lambda: video_dataset(data, "train", 8, config, seed=0), args.repeats)
    tfrecord, _ = _clips_per_second(
        lambda: records.record_dataset(pattern, "train", 8, config, seed=0), args.repeats)
    rows = [("raw PyAV decode of the sampled frames (no TF)", raw),
            ("tf.data from mp4 (PyAV decode + augmentation)", mp4),
            ("tf.data from TFRecords (JPEG decode + augmentation)", tfrecord)]
    lines = [
        "## Input pipeline throughput",
        "",
        f"{clips} training clips of {config.clip_len} frames at stride {config.stride} "
        f"(scale jitter {config.scale_range}, crop {config.crop_size}, flip, normalize), "
        f"from {len(data)} H.264 videos of {args.frames} frames at {args.size}x{args.size} "
        f"(`vidzoo.tf_data.synthetic`). Best of {args.repeats} passes; batch 8.",
        "",
        "| source | clips/s | ratio to raw PyAV |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {rate:.1f} | {rate / raw:.2f} |" for name, rate in rows]
    lines += [
        "",
        f"Machine: {machine.describe()}; {datetime.date.today()}.",
        "Command: `python -m benchmarks.data_benchmark`.",
    ]
    write_section(args.out, "input_pipeline", "\n".join(lines), title="Benchmarks")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
