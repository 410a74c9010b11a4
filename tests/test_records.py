"""TFRecords: MediaSequence keys, only sampled JPEGs decoded, same elements
as the file pipeline."""

import numpy as np
import tensorflow as tf

from vidzoo.tf_data import manifest, records
from vidzoo.tf_data.pipeline import ClipConfig
from tf_data_checks import brightness, numbered_video

CONFIG = ClipConfig(clip_len=3, stride=2, crop_size=32, scale_range=(32, 32), eval_scale=32,
                    num_clips=2, num_crops=1, flip=False, mean=(0, 0, 0), std=(1, 1, 1))


def _write(tmp_path):
    paths = []
    for index in range(3):
        path = str(tmp_path / f"v{index}.mp4")
        numbered_video(path, frames=10, size=(32, 32))
        paths.append(path)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"garbage" * 20)
    m = manifest.Manifest(paths + [str(bad)], [0, 1, 1, 0], ["a", "b"])
    return records.write_records(m, str(tmp_path / "out" / "data"), 2, progress=False)


def test_records_use_mediasequence_keys(tmp_path):
    result = _write(tmp_path)
    assert result["written"] == 3 and list(result["skipped"]) == [str(tmp_path / "bad.mp4")]
    serialized = next(iter(tf.data.TFRecordDataset(result["shards"][0])))
    example = tf.train.SequenceExample.FromString(serialized.numpy())
    assert example.context.feature[records.LABEL_KEY].int64_list.value == [0]
    assert example.context.feature[records.FRAMES_KEY].int64_list.value == [10]
    assert len(example.feature_lists.feature_list[records.IMAGE_KEY].feature) == 10


def test_only_sampled_frames_are_decoded_in_order(tmp_path):
    _write(tmp_path)
    data = records.record_dataset(str(tmp_path / "out" / "data-*"), "eval", 2, CONFIG)
    batch = next(iter(data))
    assert batch["video"].shape == (2, 3, 32, 32, 3)
    # 10 frames, clips of 3 at stride 2 (span 5): starts 0 and 5 -> frames 0,2,4 and 5,7,9.
    values = np.stack([brightness(v * 255) for v in batch["video"].numpy()])
    np.testing.assert_allclose(values, [[0, 40, 80], [100, 140, 180]], atol=4)


def test_train_mode_yields_every_written_video(tmp_path):
    _write(tmp_path)
    data = records.record_dataset(str(tmp_path / "out" / "data-*"), "train", 2, CONFIG, seed=0,
                                  deterministic=True)
    labels = np.concatenate([labels.numpy() for _, labels in data])
    assert sorted(labels.tolist()) == [0, 1, 1]


def test_skipping_into_a_repeated_stream_gives_the_same_clips(tmp_path):
    _write(tmp_path)

    def stream(skip):
        data = records.record_dataset(str(tmp_path / "out" / "data-*"), "train", 1, CONFIG,
                                      seed=1, deterministic=True, repeat=True, skip=skip)
        return [(c.numpy(), l.numpy()) for c, l in data.take(7 - skip)]

    whole, resumed = stream(0), stream(4)  # 3 videos per epoch: into the second epoch
    for (c1, l1), (c2, l2) in zip(whole[4:], resumed):
        np.testing.assert_array_equal(l1, l2)
        np.testing.assert_array_equal(c1, c2)
