"""Input-pipeline throughput: clips/s from mp4 files and from TFRecords against
the number of parallel calls, next to PyAV alone decoding the same frames, in
one run on one machine. Writes its section of docs/benchmarks.md.

    python -m benchmarks.data_benchmark [--videos-per-class 12] [--frames 250]
        [--keyframe-interval 25] [--repeats 3] [--large-size 480]

The videos are Kinetics-like (10 s at 25 fps, short side 256) and the clips
follow the Kinetics recipe (16 frames at stride 2 starting anywhere, scale
jitter 256-320, crop 224). At 128x128 PyAV's Python work per frame, not the
decoder, sets the pace, and it holds the GIL: two threads decoded 1.25x one.
A second, smaller set of larger videos (--large-size) times decoding at reduced
resolution: TF resizing the decoded frames against FFmpeg downscaling them.
"""

import argparse
import dataclasses
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

BATCH = 8
PARALLEL_CALLS = (1, 2, None)  # None: tf.data's autotuning


def best_rate(count_items, repeats):
    """The best of `repeats` passes after a warm-up pass, in items per second."""
    count_items()
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        items = count_items()
        best = max(best, items / (time.perf_counter() - start))
    return best


def pyav_alone(paths, config, seek, threads=1, seed=0):
    """One pass of PyAV decoding a training clip of every video (random start,
    as the pipeline samples), no TF, no augmentation; returns the clip count."""
    rng = np.random.default_rng(seed)
    span = (config.clip_len - 1) * config.stride + 1
    for path in paths:
        count = probe(path)[0]
        first = rng.integers(0, max(count - span, 0) + 1)
        read_frames(path, first + np.arange(config.clip_len) * config.stride, seek=seek,
                    threads=threads)
    return len(paths)


def clips_in(dataset):
    return sum(int(labels.shape[0]) for _, labels in dataset)


def augmentation_alone(videos, size, config, calls):
    """The training augmentation of `videos` clips of one decoded clip (no
    decoding), batched as the pipeline batches: what tf.data spends besides
    PyAV."""
    import tensorflow as tf

    from vidzoo.tf_data.pipeline import _train_clip

    frames = tf.zeros((config.clip_len, size, size, 3), tf.uint8)

    def augment(index):
        seed = tf.stack([tf.cast(index, tf.int32), 0])
        return _train_clip(frames, config, seed), index

    return tf.data.Dataset.range(videos).map(augment, num_parallel_calls=calls).batch(BATCH)


def measure(data, pattern, config, repeats, size):
    """[(source, parallel calls, clips/s)], every row on the same videos."""
    rows = [("PyAV alone, decoding from the start", 1,
             best_rate(lambda: pyav_alone(data.paths, config, seek=False), repeats)),
            ("PyAV alone, from the keyframe before the clip", 1,
             best_rate(lambda: pyav_alone(data.paths, config, seek=True), repeats)),
            ("PyAV alone, from the keyframe, FFmpeg's frame + slice threads", 1,
             best_rate(lambda: pyav_alone(data.paths, config, seek=True, threads=0), repeats))]
    for calls in PARALLEL_CALLS:  # one dataset per row, iterated pass after pass
        dataset = video_dataset(data, "train", BATCH, config, seed=0, parallel_calls=calls)
        rows.append(("tf.data from mp4 (PyAV + augmentation)", calls,
                     best_rate(lambda: clips_in(dataset), repeats)))
    for calls in PARALLEL_CALLS:
        dataset = records.record_dataset(pattern, "train", BATCH, config, seed=0,
                                         parallel_calls=calls)
        rows.append(("tf.data from TFRecords (JPEG + augmentation)", calls,
                     best_rate(lambda: clips_in(dataset), repeats)))
    for calls in PARALLEL_CALLS[:2]:
        dataset = augmentation_alone(len(data), size, config, calls)
        rows.append(("augmentation alone (no decoding)", calls,
                     best_rate(lambda: clips_in(dataset), repeats)))
    return rows


def decoder_scaling(root, args, config):
    """[(source, clips/s)] of tf.data from larger mp4 files (`args.large_size`
    square), TF resizing the decoded frames against FFmpeg downscaling them to
    the largest training scale while converting to RGB; 2 parallel calls."""
    folder = os.path.join(root, "large")
    synthetic.make_dataset(folder, max(args.videos_per_class // 4, 1), 1, 100, args.large_size,
                           keyframe_interval=args.keyframe_interval)
    data = manifest.from_csv(os.path.join(folder, "train.csv"))
    rows = []
    for in_decoder, how in ((False, "TF resizes the decoded frames"),
                            (True, "FFmpeg downscales while decoding")):
        clip_config = dataclasses.replace(config, scale_in_decoder=in_decoder)
        dataset = video_dataset(data, "train", BATCH, clip_config, seed=0, parallel_calls=2)
        rows.append((f"tf.data from mp4 at {args.large_size}x{args.large_size}, {how}",
                     best_rate(lambda: clips_in(dataset), args.repeats)))
    return rows, len(data)


def section(rows, args, config, videos, large=None):
    reference = rows[1][2]
    mp4 = {calls: rate for source, calls, rate in rows if "mp4" in source}
    tfrecord = {calls: rate for source, calls, rate in rows if "TFRecords" in source}
    lines = [
        "## Input pipeline throughput",
        "",
        f"Training clips of {config.clip_len} frames at stride {config.stride} (random start, "
        f"scale jitter {config.scale_range}, crop {config.crop_size}, flip, normalize), one "
        f"from each of {videos} H.264 videos of {args.frames} frames at "
        f"{args.size}x{args.size}, a keyframe every {args.keyframe_interval} frames "
        f"(`vidzoo.tf_data.synthetic`). Best of {args.repeats} passes after a warm-up pass; "
        f"batch {BATCH}. "
        "PyAV alone runs in one thread; tf.data decodes `parallel_calls` videos at once.",
        "",
        "| source | parallel calls | clips/s | ratio to PyAV alone (seeking) |",
        "|---|---|---:|---:|",
    ]
    lines += [f"| {source} | {calls or 'autotune'} | {rate:.1f} | {rate / reference:.2f} |"
              for source, calls, rate in rows]
    best_mp4 = max(mp4.values())
    lines += [
        "",
        f"- Seeking to the keyframe before the clip: {rows[1][2] / rows[0][2]:.2f}x the "
        "clips/s of decoding from the start of the file. FFmpeg's own threads per file: "
        f"{rows[2][2] / rows[1][2]:.2f}x; one thread per file is the default, since tf.data "
        "already decodes files in parallel on the same cores.",
        f"- tf.data from mp4 at its best: {best_mp4 / reference:.2f}x PyAV alone (goal: 0.9x); "
        f"TFRecords / mp4 at the same parallel calls: " + ", ".join(
            f"{calls or 'autotune'}: {tfrecord[calls] / mp4[calls]:.2f}x" for calls in mp4)
        + " (goal: 2x).",
        "- What else the pipeline spends: the augmentation alone (scale, crop, flip, "
        "normalize of one decoded clip, batched) runs at " + ", ".join(
            f"{rate:.1f} clips/s with {calls} call{'s' if calls > 1 else ''}"
            for source, calls, rate in rows if source.startswith("augmentation")) + ".",
        _bound(reference, rows),
        *_large_lines(large, config),
        "",
        f"Machine: {machine.describe()}; {datetime.date.today()}.",
        "Command: `python -m benchmarks.data_benchmark "
        f"--videos-per-class {args.videos_per_class} --frames {args.frames} --size {args.size} "
        f"--keyframe-interval {args.keyframe_interval} --repeats {args.repeats} "
        f"--large-size {args.large_size}`.",
    ]
    return "\n".join(lines)


def _large_lines(large, config):
    if not large:
        return []
    ((_, tf_rate), (_, ffmpeg_rate)), videos = large
    return [
        f"- Decoding at reduced resolution (`ClipConfig.scale_in_decoder`): frames larger "
        f"than the largest training scale ({config.scale_range[1]}) are downscaled by "
        f"FFmpeg while converting to RGB. On {videos} larger videos of 100 frames, 2 "
        f"parallel calls: {tf_rate:.1f} clips/s when TF resizes the decoded frames, "
        f"{ffmpeg_rate:.1f} when FFmpeg downscales them ({ffmpeg_rate / tf_rate:.2f}x)."]


def _bound(reference, rows):
    """What 2 cores allow: decoding and augmenting a clip each take a core's time."""
    augmentation = next(rate for source, calls, rate in rows
                        if source.startswith("augmentation") and calls == 1)
    cores = os.cpu_count() or 1
    ceiling = cores / (1 / reference + 1 / augmentation)
    return (f"- So a clip costs {1000 / reference:.1f} ms of decoding and "
            f"{1000 / augmentation:.1f} ms of augmentation on one core; with {cores} cores, "
            f"perfectly parallel, the pipeline could reach {ceiling:.1f} clips/s = "
            f"{ceiling / reference:.2f}x PyAV alone.")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--videos-per-class", type=int, default=12)
    parser.add_argument("--frames", type=int, default=250)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--keyframe-interval", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--large-size", type=int, default=480,
                        help="side of the larger videos of the decoder-scaling rows (0: none)")
    parser.add_argument("--out", default="docs/benchmarks.md")
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="vidzoo_data_bench_")
    synthetic.make_dataset(root, args.videos_per_class, 1, args.frames, args.size,
                           keyframe_interval=args.keyframe_interval)
    data = manifest.from_csv(os.path.join(root, "train.csv"))
    config = ClipConfig(clip_len=16, stride=2)  # crop 224 after a 256-320 short side
    records.write_records(data, os.path.join(root, "rec", "train"), 4, progress=False)
    rows = measure(data, os.path.join(root, "rec", "train-*"), config, args.repeats, args.size)
    large = decoder_scaling(root, args, config) if args.large_size else None
    text = section(rows, args, config, len(data), large)
    write_section(args.out, "input_pipeline", text, title="Benchmarks")
    print(text)


if __name__ == "__main__":
    main()
