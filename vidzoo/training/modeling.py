"""The model of a training run: the zoo model named in its TrainConfig (with
`init_from`'s weights and SFC inserted when asked), and its optimizer.

Optimization follows the video-recognition recipes (PySlowFast, ATFR): SGD
with momentum 0.9 and weight decay 1e-4 (Keras' decoupled form, scaled by
the learning rate, not applied to BatchNorm and biases), a half-period cosine
schedule after a linear warmup (Keras `CosineDecay` with `warmup_steps`) or
steps of a tenth at given epochs (`lr_drops`, the SFC paper's 8 and 12 of 15),
optional label smoothing and mixed precision.
"""

import os

import keras
import numpy as np

from vidzoo import zoo
from vidzoo.zoo import presets
from vidzoo.layers.recompute import Recompute
from vidzoo.training.run_dir import MODEL, RunDir


def build_model(config, num_classes):
    """The zoo model named in `config` for clips of its frames and crop size."""
    shape = (config.frames, config.crop_size, config.crop_size, 3)
    return zoo.get_model(config.model, classes=num_classes, input_shape=shape,
                         **config.model_options)


def build_initialized_model(config, num_classes, resuming):
    """build_model with init_from's weights (unless resuming, when the
    checkpoint restores everything), then SFC inserted into the frozen model
    when config.sfc_split is set. Returns (model, names of the copied layers)."""
    model = build_model(config, num_classes)
    copied = []
    if config.init_from and not resuming:
        copied = transfer_weights(model, config.init_from)
    if config.sfc_split:
        model = zoo.insert_sfc(model, config.sfc_split, config.sfc_tau, **config.sfc_options)
    return model, copied


def transfer_weights(model, source):
    """Copy weights from `source` (a preset, a run directory or a .keras file)
    into the layers of `model` with the same name and weight shapes, e.g. a
    converted network or a baseline into its ATFR variant (whose SGS layer is
    new). Returns the names copied."""
    if presets.is_preset(source):
        donor_model = zoo.load_preset(source, input_shape=tuple(model.inputs[0].shape[1:]))
    else:
        path = RunDir(source).path(MODEL) if os.path.isdir(source) else source
        if not os.path.isfile(path):
            raise ValueError(f"train: init_from {source!r} is neither a preset, a run "
                             "directory with model.keras nor a .keras file.")
        donor_model = keras.saving.load_model(path)
    donor = {layer.name: layer for layer in named_layers(donor_model)}
    copied = []
    for layer in named_layers(model):
        weights = donor[layer.name].get_weights() if layer.name in donor else None
        mine = layer.get_weights()
        if mine and weights and [w.shape for w in weights] == [w.shape for w in mine]:
            layer.set_weights(weights)
            copied.append(layer.name)
    if not copied:
        raise ValueError(f"train: no layer of {source} matches {model.name} by name and shape.")
    return copied


def named_layers(model):
    """The layers whose names are unique in a zoo model: those of nested models
    (a `Recompute` segment) one by one, every other layer whole. A layer's own
    sublayers (SGS's `embed_hidden`) repeat names across layers, so they are
    not looked into."""
    for layer in model.layers:
        inner = layer.segment if isinstance(layer, Recompute) else layer
        if isinstance(inner, keras.Model):
            yield from named_layers(inner)
        else:
            yield layer


def lr_drop_epochs(text):
    """[8, 12] from "8,12" ([] from "")."""
    return [int(part) for part in text.replace(" ", "").split(",") if part]


def lr_drop_problems(text, epochs, warmup_epochs):
    """What is wrong with `lr_drops` for a run of `epochs` (TrainConfig.check)."""
    try:
        drops = lr_drop_epochs(text)
    except ValueError:
        return [f"lr_drops must be comma-separated epochs such as 8,12; got {text!r}"]
    if drops != sorted(set(drops)) or any(not 0 < drop < epochs for drop in drops):
        return [f"lr_drops must be increasing epochs between 1 and epochs - 1 ({epochs - 1}); "
                f"got {text!r}"]
    if drops and warmup_epochs:
        return ["lr_drops (a step schedule) does not take a warmup; set warmup_epochs 0"]
    return []


def learning_rate_schedule(config, total_steps, steps_per_epoch):
    drops = lr_drop_epochs(config.lr_drops)
    if drops:  # Keras keeps a value up to and including its boundary step
        return keras.optimizers.schedules.PiecewiseConstantDecay(
            boundaries=[drop * steps_per_epoch - 1 for drop in drops],
            values=[config.lr / 10 ** index for index in range(len(drops) + 1)])
    warmup = min(int(round(config.warmup_epochs * steps_per_epoch)), total_steps - 1)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup else config.lr, decay_steps=total_steps - warmup,
        warmup_target=config.lr if warmup else None, warmup_steps=warmup)


def make_optimizer(config, total_steps, steps_per_epoch):
    schedule = learning_rate_schedule(config, total_steps, steps_per_epoch)
    optimizer = keras.optimizers.SGD(schedule, momentum=config.momentum,
                                     weight_decay=config.weight_decay or None)
    optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    return optimizer


def compile_model(model, config, total_steps, steps_per_epoch):
    classes = model.outputs[0].shape[-1]
    model.compile(
        optimizer=make_optimizer(config, total_steps, steps_per_epoch),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=[keras.metrics.CategoricalAccuracy(name="top1"),
                 keras.metrics.TopKCategoricalAccuracy(k=min(5, classes), name="top5")],
    )
    model.optimizer.build(model.trainable_variables)


def build_for_multi_worker(model, config, classes):
    """Work around two Keras 3.15 bugs of fit() under MultiWorkerMirroredStrategy.

    1. fit() builds the metric variables from the first distributed batch with
       `strategy.reduce`, which fails on the workers' PerReplica inputs
       ("Attempt to convert a value (PerReplica...)"). Building them first
       from a local batch of the same shapes and skipping that step is
       equivalent.
    2. Each step then reduces its scalar logs with `strategy.reduce(axis=0)`,
       which fails on scalars ("Invalid reduction dimension 0"). Treating the
       strategy as local there makes each worker log its own replicas' mean.
       Gradients are still all-reduced across workers by the optimizer
       (tests/test_strategy.py checks that the workers end with equal weights).
    """
    from keras.src.backend.tensorflow import trainer

    clip = np.zeros((1, config.frames, config.crop_size, config.crop_size, 3), "float32")
    model._symbolic_build(data_batch=(clip, np.zeros((1, classes), "float32")))
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None
    trainer._collective_all_reduce_multi_worker = lambda strategy: False
