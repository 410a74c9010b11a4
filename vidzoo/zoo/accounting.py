"""What an adaptive model kept and what it cost, per clip, in one place.

An adaptive model has SimilarityGuidedSampling layers (each clip keeps B'
of its B bins) or TemporalClustering layers (each video's frames fall into g
clusters; empty clusters are zero-size). Everything that reports on them -
evaluation, the training callbacks, export, the benchmarks - goes through:

* `adaptive_layers(model)`, `is_adaptive(model)`: which layers there are.
* `with_adaptive_outputs(model)` / `inference_model(model)`: a model that also
  returns each layer's per-clip counts; `split_outputs` separates them again.
* `clip_lengths(counts)`: the rule from counts to frames kept per clip (B' for
  SGS, non-empty clusters for clustering).
* `adaptive_counts`, `flops_per_clip`, `length_summary`: counts, MACs and
  histograms over a set of clips.
"""

import collections

import keras
import numpy as np

from vidzoo.layers import SimilarityGuidedSampling, TemporalClustering
from vidzoo.zoo.flops import all_layers, clip_flops, count_flops

ADAPTIVE_LAYERS = (SimilarityGuidedSampling, TemporalClustering)


def adaptive_layers(model):
    """The SGS and temporal-clustering layers of `model`, in build order."""
    return [layer for layer in all_layers(model) if isinstance(layer, ADAPTIVE_LAYERS)]


def is_adaptive(model):
    return bool(adaptive_layers(model))


def with_adaptive_outputs(model):
    """A model returning `{"predictions": ..., <layer name>: counts}`: each SGS
    layer's per-clip B', int32 (batch,), and each temporal-clustering layer's
    cluster sizes, int32 (batch, g) (always g clusters, so the layers after it
    cost the same for every clip)."""
    outputs = {"predictions": model.outputs[0]}
    for layer in adaptive_layers(model):
        if not isinstance(layer.output, (list, tuple)):
            raise ValueError(
                f"Adaptive layer {layer.name!r} does not return its counts; build the model "
                "through vidzoo.zoo, which sets return_active_bins / return_cluster_sizes."
            )
        outputs[layer.name] = layer.output[1]
    if len(outputs) == 1:
        raise ValueError(f"Model {model.name!r} has no SGS or temporal-clustering layer.")
    return keras.Model(model.inputs, outputs, name=f"{model.name}_adaptive")


def inference_model(model):
    """`with_adaptive_outputs(model)` for an adaptive model, else `model`."""
    return with_adaptive_outputs(model) if is_adaptive(model) else model


def split_outputs(outputs):
    """(predictions, {layer name: counts as numpy}) of an `inference_model`'s
    outputs; counts are {} for a plain model."""
    if not isinstance(outputs, dict):
        return outputs, {}
    counts = {name: np.asarray(value) for name, value in outputs.items() if name != "predictions"}
    return outputs["predictions"], counts


def clip_lengths(counts):
    """{layer name: (N,) frames kept per clip}: B' for SGS, the number of
    non-empty clusters for temporal clustering (its sizes are (N, g))."""
    return {name: value if value.ndim == 1 else np.count_nonzero(value, axis=-1)
            for name, value in counts.items()}


def adaptive_counts(model, clips, batch_size=8):
    """{adaptive layer name: per-clip counts} of an adaptive model on `clips`:
    B' (N,) for SGS layers, cluster sizes (N, g) for temporal clustering."""
    outputs = with_adaptive_outputs(model).predict(clips, batch_size=batch_size, verbose=0)
    return split_outputs(outputs)[1]


def _cost_keys(counts):
    """Per clip, its lengths after every adaptive layer: clips with equal keys cost the same."""
    lengths = clip_lengths(counts)
    return list(zip(*[lengths[name].tolist() for name in sorted(lengths)]))


def flops_per_clip(model, clips, batch_size=8, counts=None, cache=None):
    """MACs of each clip of `clips` (N, T, H, W, C) as an int64 array (N,).

    For a non-adaptive model every clip costs the same. For an adaptive model
    the per-clip counts are read in batches (or taken from `counts`, an
    `adaptive_counts` result), and clips with equal lengths share one counting
    pass (pass a dict as `cache` to share it across calls).
    """
    clips = np.asarray(clips)
    if not is_adaptive(model):
        return np.full(len(clips), count_flops(model, clips.shape[1:]), dtype=np.int64)
    counts = counts if counts is not None else adaptive_counts(model, clips, batch_size)
    cache = {} if cache is None else cache
    result = np.zeros(len(clips), dtype=np.int64)
    for index, key in enumerate(_cost_keys(counts)):
        key = (clips.shape[1:],) + key
        if key not in cache:
            cache[key] = clip_flops(model, clips[index])
        result[index] = cache[key]
    return result


def length_summary(model, counts):
    """Per adaptive layer: frames in (B for SGS), the mean frames kept and
    their histogram, over `counts` ({layer name: counts or a list of batches})."""
    frames_in = {layer.name: layer.input.shape[1] for layer in adaptive_layers(model)}
    joined = {name: np.concatenate(value) if isinstance(value, list) else np.asarray(value)
              for name, value in counts.items()}
    summary = {}
    for name, lengths in clip_lengths(joined).items():
        histogram = collections.Counter(int(v) for v in lengths)
        summary[name] = {"frames_in": frames_in.get(name), "mean": float(lengths.mean()),
                         "histogram": {str(k): histogram[k] for k in sorted(histogram)}}
    return summary
