"""`vidzoo predict`: class labels for video files with a preset's model.

Each video gets the multi-view prediction of evaluation (num_clips uniform
clips x num_crops crops at the preset's frames, stride, resize and crop; the
views' probabilities averaged); with `window` seconds, a timeline of such
predictions over windows `window_stride` seconds apart. An ATFR model also
reports each clip's B' and GFLOPs. A file that cannot be read is reported
with its error and skipped.
"""

import csv
from typing import List, Optional, Sequence

import numpy as np

from vidzoo import zoo
from vidzoo.tf_data import pipeline, sampling
from vidzoo.tf_data.decode import probe, read_frames
from vidzoo.zoo import accounting, presets


class Predictor:
    """A preset's model with its preprocessing and class names."""

    def __init__(self, preset: str, num_clips: int = 3, num_crops: int = 3):
        prep = presets.preprocessing(preset)
        self.prep = prep
        self.names = presets.class_names(preset)
        self.config = pipeline.ClipConfig(**prep.clip_options(), num_clips=num_clips,
                                          num_crops=num_crops)
        # BatchNorm folded into the convs: the same outputs, fewer ops (docs/zoo.md).
        self.model = accounting.inference_model(zoo.fold_batch_norm(zoo.load_preset(preset)))
        self.adaptive = accounting.is_adaptive(self.model)

    def indices(self, first: int, count: int) -> np.ndarray:
        """Frame indices of the views' clips within frames [first, first + count)."""
        if self.prep.stride == 0:  # TSN segments: one frame from each of T parts
            clips = [np.asarray(sampling.segment_indices(count, self.prep.frames, 1)).reshape(-1)]
            clips *= self.config.num_clips
            return first + np.concatenate(clips)
        return first + np.asarray(sampling.uniform_clip_indices(
            count, self.prep.frames, self.prep.stride, self.config.num_clips)).reshape(-1)

    def predict_frames(self, frames: np.ndarray, top_k: int) -> dict:
        views = np.asarray(pipeline._eval_views(frames, self.config))
        outputs = self.model.predict(views, batch_size=self.config.num_crops, verbose=0)
        probabilities, counts = accounting.split_outputs(outputs)
        mean = probabilities.mean(axis=0)
        order = np.argsort(-mean)[:top_k]
        result = {"top_k": [{"class": self._name(int(i)), "index": int(i),
                             "probability": round(float(mean[i]), 6)} for i in order]}
        if self.adaptive:
            lengths = accounting.clip_lengths(counts)
            flops = accounting.flops_per_clip(self.model, views, counts=counts)
            result["frames_kept"] = {name: [int(v) for v in value]
                                     for name, value in lengths.items()}
            result["gflops_per_clip"] = [round(float(f) / 1e9, 4) for f in flops]  # MACs, as evaluate
        return result

    def _name(self, index):
        return self.names[index] if self.names else str(index)


def predict_video(predictor: Predictor, path: str, top_k: int = 5,
                  window: Optional[float] = None, window_stride: Optional[float] = None) -> dict:
    """One video's prediction (and timeline), or its error."""
    count, fps, error = probe(path)
    if error:
        return {"video": path, "error": error}
    if not window:
        return dict(_predict_span(predictor, path, 0, count, top_k), video=path)
    span = max(1, int(round(window * fps)))
    step = max(1, int(round((window_stride or window) * fps)))
    timeline = []
    for first in range(0, max(count - span, 0) + 1, step):
        row = _predict_span(predictor, path, first, min(span, count - first), top_k)
        if "error" in row:
            return {"video": path, "error": row["error"]}
        timeline.append(dict(start_s=round(first / fps, 3),
                             end_s=round((first + min(span, count - first)) / fps, 3), **row))
    return {"video": path, "fps": fps, "timeline": timeline}


def _predict_span(predictor, path, first, count, top_k):
    indices = predictor.indices(first, count).tolist()
    frames, error = read_frames(path, indices,
                                max_short_side=predictor.config.decode_short_side("eval"))
    if len(frames) == 0:
        return {"error": error or "no decodable frames"}
    expected = len(indices)
    if len(frames) < expected:  # read_frames repeats the last frame; keep the shape
        frames = np.concatenate([frames, np.repeat(frames[-1:], expected - len(frames), 0)])
    return predictor.predict_frames(frames, top_k)


def predict(videos: Sequence[str], preset: str, top_k: int = 5, num_clips: int = 3,
            num_crops: int = 3, window: Optional[float] = None,
            window_stride: Optional[float] = None) -> List[dict]:
    """Predictions for every video in `videos` (see the module docstring)."""
    predictor = Predictor(preset, num_clips, num_crops)
    return [predict_video(predictor, path, top_k, window, window_stride) for path in videos]


def write_timeline_csv(results: Sequence[dict], path: str) -> None:
    """One row per (video, window, rank): video, start_s, end_s, rank, class,
    probability."""
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["video", "start_s", "end_s", "rank", "class", "probability"])
        for result in results:
            rows = result.get("timeline") or ([dict(result, start_s="", end_s="")]
                                              if "top_k" in result else [])
            for row in rows:
                for rank, label in enumerate(row["top_k"], 1):
                    writer.writerow([result["video"], row["start_s"], row["end_s"], rank,
                                     label["class"], label["probability"]])


def format_results(results: Sequence[dict]) -> str:
    """Plain-text report: per video its top-k (or each window's top-1)."""
    lines = []
    for result in results:
        if "error" in result:
            lines.append(f"{result['video']}: skipped ({result['error']})")
            continue
        lines.append(result["video"])
        for row in result.get("timeline", [result]):
            where = f"  {row['start_s']:>8.2f}-{row['end_s']:.2f} s" if "start_s" in row else ""
            labels = ", ".join(f"{label['class']} {label['probability']:.3f}"
                               for label in row["top_k"])
            cost = ""
            if "gflops_per_clip" in row:
                kept = {name: float(np.mean(v)) for name, v in row["frames_kept"].items()}
                cost = (f"  [B' {', '.join(f'{v:.1f}' for v in kept.values())}; "
                        f"{np.mean(row['gflops_per_clip']):.2f} GFLOPs/clip]")
            lines.append(f"{where}  {labels}{cost}")
    return "\n".join(lines)
