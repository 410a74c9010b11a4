"""`vidzoo evaluate`: multi-view evaluation of a trained run.

Each video gives `num_clips` uniformly spaced clips x `num_crops` crops (the
standard 10 x 3 views by default); the softmax of its views is averaged into
one video prediction. Reported: clip-level and video-level top-1/top-5, mean
class accuracy (video level), GFLOPs per clip (per clip from the actual B' for
adaptive models) and per video, the adaptive layers' B' statistics, and the
model's throughput in clips/s (forward passes only: data loading and the
first pass of each input shape, which traces the graph, are excluded).

Adaptive (SGS) models run one clip per forward pass: SGS pads a batch to its
largest B', so a clip's output would otherwise depend on its batch mates;
alone, its prediction and its FLOPs are those of batch-1 inference.
"""

import collections
from typing import Optional
import time

import keras
import numpy as np

from vidzoo.tf_data.decode import BadVideoLog
from vidzoo.training import data as datasets
from vidzoo.training.run_dir import EVALUATION, RunDir, load_run, write_json
from vidzoo.zoo import presets
from vidzoo.zoo.accounting import (
    flops_per_clip,
    inference_model,
    is_adaptive,
    length_summary,
    split_outputs,
)
from vidzoo.zoo.flops import count_flops


def top_k_hits(probabilities, labels, k):
    """Per-row 1.0 if the label is among the k highest probabilities."""
    k = min(k, probabilities.shape[-1])
    top = np.argsort(-probabilities, axis=-1)[:, :k]
    return (top == labels[:, None]).any(axis=-1).astype("float64")


def video_level(probabilities, labels, video_ids):
    """Average the views' softmax per video: (probabilities, labels) per video."""
    ids, inverse = np.unique(video_ids, return_inverse=True)
    sums = np.zeros((len(ids), probabilities.shape[-1]))
    np.add.at(sums, inverse, probabilities)
    counts = np.bincount(inverse, minlength=len(ids))[:, None]
    video_labels = np.zeros(len(ids), dtype=labels.dtype)
    video_labels[inverse] = labels
    return sums / counts, video_labels


def mean_class_accuracy(probabilities, labels):
    hits = np.argmax(probabilities, axis=-1) == labels
    return float(np.mean([hits[labels == c].mean() for c in np.unique(labels)]))


def _forward(runner, clips, one_by_one):
    if not one_by_one:
        return runner.predict_on_batch(clips)
    outputs = [runner.predict_on_batch(clip[None]) for clip in clips]
    if not isinstance(outputs[0], dict):
        return np.concatenate(outputs)
    return {key: np.concatenate([np.asarray(o[key]) for o in outputs]) for key in outputs[0]}


def _timed_forward(runner, clips, one_by_one, traced_shapes):
    """(outputs, seconds) of one forward over `clips`. The first pass of a new
    input shape runs once untimed: it traces the graph, which takes seconds for
    a large model and would otherwise dominate the clips/s of a small evaluation."""
    shape = clips.shape[1:] if one_by_one else clips.shape
    if shape not in traced_shapes:
        _forward(runner, clips[:1] if one_by_one else clips, one_by_one)
        traced_shapes.add(shape)
    start = time.perf_counter()
    outputs = _forward(runner, clips, one_by_one)
    return outputs, time.perf_counter() - start


def evaluate(model: keras.Model, source: datasets.Source, frames: int, stride: int,
             crop_size: int, num_clips: int = 10, num_crops: int = 3, batch_size: int = 8,
             one_clip_per_pass: Optional[bool] = None, normalization=None,
             eval_scale: Optional[int] = None) -> dict:
    """Multi-view evaluation of `model` on `source`; returns a dict.

    Args:
      model: a trained zoo model (softmax outputs).
      source: the videos (`vidzoo.training.data.load_source`).
      frames, stride, crop_size: the clips the model was trained on.
      num_clips, num_crops: views per video (crops 1 or 3).
      batch_size: videos per input batch.
      one_clip_per_pass: run each clip alone (default: only for adaptive
        models); True compares the clips/s of models on equal terms.
      normalization: (mean, std) the model was trained with (Kinetics').
      eval_scale: the short side before cropping (default: 256/224 of the crop).
    """
    if num_clips < 1 or num_crops not in (1, 3):
        raise ValueError(f"evaluate: num_clips must be >= 1 and num_crops 1 or 3; got "
                         f"{num_clips} and {num_crops}.")
    config = datasets.clip_config(frames, stride, crop_size, num_clips, num_crops,
                                  normalization=normalization, eval_scale=eval_scale)
    bad_videos = BadVideoLog()
    data = datasets.dataset(source, "eval", batch_size, config, bad_videos=bad_videos)
    adaptive = is_adaptive(model)
    runner = inference_model(model)
    one_by_one = adaptive if one_clip_per_pass is None else bool(one_clip_per_pass)
    probabilities, labels, video_ids, flops = [], [], [], []
    counts = collections.defaultdict(list)
    cache, model_seconds, traced_shapes = {}, 0.0, set()
    for batch in data:
        clips = batch["video"].numpy()
        outputs, seconds = _timed_forward(runner, clips, one_by_one, traced_shapes)
        model_seconds += seconds
        outputs, batch_counts = split_outputs(outputs)
        if adaptive:
            for name, value in batch_counts.items():
                counts[name].append(value)
            flops.append(flops_per_clip(model, clips, counts=batch_counts, cache=cache))
        probabilities.append(np.asarray(outputs, "float64"))
        labels.append(batch["label"].numpy())
        video_ids.append(batch["video_id"].numpy())
    if not probabilities:
        raise ValueError(f"evaluate: no decodable videos in {source.path}; "
                         f"{bad_videos.summary()}")
    probabilities = np.concatenate(probabilities)
    labels, video_ids = np.concatenate(labels), np.concatenate(video_ids)
    flops = (np.concatenate(flops) if adaptive
             else np.full(len(labels), count_flops(model, clips.shape[1:])))
    video_probabilities, video_labels = video_level(probabilities, labels, video_ids)
    views = num_clips * num_crops
    return {
        "videos": int(len(video_labels)),
        "views_per_video": views,
        "clips": int(len(labels)),
        "clip_top1": float(top_k_hits(probabilities, labels, 1).mean()),
        "clip_top5": float(top_k_hits(probabilities, labels, 5).mean()),
        "video_top1": float(top_k_hits(video_probabilities, video_labels, 1).mean()),
        "video_top5": float(top_k_hits(video_probabilities, video_labels, 5).mean()),
        "mean_class_accuracy": mean_class_accuracy(video_probabilities, video_labels),
        "gflops_per_clip": float(flops.mean() / 1e9),
        "gflops_per_video": float(flops.mean() / 1e9 * views),
        "clips_per_second": float(len(labels) / model_seconds),
        "clips_per_forward_pass": 1 if one_by_one else batch_size,
        "adaptive": length_summary(model, counts),
        "bad_videos": dict(bad_videos.failures),
    }


def evaluate_run(run_dir: str, data_path: str, num_clips: int = 10, num_crops: int = 3,
                 batch_size: int = 8, output: Optional[str] = None,
                 one_clip_per_pass: Optional[bool] = None) -> dict:
    """Evaluate a `vidzoo train` run on `data_path`; writes and returns the JSON dict.

    Args:
      run_dir: a finished run directory.
      data_path: a dataset `vidzoo train` accepts (manifest, folder, TFRecords).
      output: where the JSON goes (default: the run's evaluation.json).
      The others are `evaluate`'s.
    """
    model, config, classes = load_run(run_dir)
    source = datasets.load_source(data_path, classes, what="evaluate")
    result = evaluate(model, source, config["frames"], config["stride"], config["crop_size"],
                      num_clips, num_crops, batch_size, one_clip_per_pass,
                      datasets.run_normalization(config.get("init_from")))
    result.update(model=config["model"], run_dir=run_dir, data=data_path)
    write_json(output or RunDir(run_dir).path(EVALUATION), result)
    return result


def evaluate_preset(preset: str, data_path: str, num_clips: int = 10, num_crops: int = 3,
                    batch_size: int = 8, output: Optional[str] = None) -> dict:
    """Evaluate a preset (`vidzoo convert`) on `data_path` with the clips,
    resize, crop and normalization its weights expect; labels are matched to
    the preset's class names. Writes `output` if given; returns the dict."""
    prep = presets.preprocessing(preset)
    if prep.stride == 0:
        raise ValueError(f"evaluate: preset {preset!r} samples frames TSN-style (one per "
                         "segment), which the evaluation pipeline does not; use `vidzoo "
                         "predict` for it.")
    names = presets.class_names(preset)
    source = datasets.load_source(data_path, names, what="evaluate")
    model = presets.load_preset(preset)
    result = evaluate(model, source, prep.frames, prep.stride, prep.crop, num_clips, num_crops,
                      batch_size, normalization=(prep.mean, prep.std),
                      eval_scale=prep.eval_scale)
    result.update(preset=preset, data=data_path)
    if output:
        write_json(output, result)
    return result
