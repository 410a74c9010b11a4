"""tf.data video pipelines on real video files.

* `manifest`: folder-per-class, CSV, UCF101/HMDB51 splits, Something-Something
  JSON; one class mapping; missing files reported up front.
* `decode`: PyAV probing and partial decoding; `BadVideoLog`.
* `sampling`, `augment`: frame indices and clip augmentation in TF ops.
* `pipeline.video_dataset`: train / eval (multi-view) / full / segments.
* `records`: sharded SequenceExample TFRecords (MediaSequence keys).
* `synthetic`: the embedded demo dataset (Move4MNIST-like mp4 files).
"""

from vidzoo.tf_data.decode import BadVideoLog, probe, read_frames
from vidzoo.tf_data.manifest import (
    Manifest,
    from_csv,
    from_folders,
    from_hmdb51,
    from_something,
    from_ucf101,
    load_classes,
)
from vidzoo.tf_data.pipeline import ClipConfig, video_dataset
from vidzoo.tf_data.records import record_dataset, write_records

__all__ = [
    "BadVideoLog", "ClipConfig", "Manifest", "from_csv", "from_folders", "from_hmdb51",
    "from_something", "from_ucf101", "load_classes", "probe", "read_frames", "record_dataset",
    "video_dataset", "write_records",
]
