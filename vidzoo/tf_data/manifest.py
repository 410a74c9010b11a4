"""Dataset manifests: which video files, which labels, one class mapping.

Readers (each returns a `Manifest`):

* `from_folders(root)` - `root/<class>/<video>`; classes sorted by name.
* `from_csv(path)` - Kinetics style `path,label` rows (a header row is
  optional); labels are class names or integer ids; paths are relative to
  the CSV's folder unless absolute or `root` is given.
* `from_ucf101(split_file, class_index_file, root)` - UCF101 `trainlist0N.txt`
  (`Class/v_x.avi 12`, 1-based ids) or `testlist0N.txt` (label from the
  folder) with `classInd.txt`.
* `from_hmdb51(split_folder, split, subset, root)` - HMDB51
  `<class>_test_split<N>.txt` files (`video.avi 1|2|0`: train, test, unused).
* `from_something(json_file, labels_file, root, extension)` - Something-
  Something V2 (`[{"id": ..., "template": "Putting [something] on ..."}]`
  with `labels.json` mapping the bracket-free template to an id).

`Manifest.class_names` is the class mapping (index = label). Save it with a
run (`save_classes`) and pass it back (`class_names=`) at evaluation and
export so labels mean the same thing. Missing files raise one ValueError that
lists them (`on_missing="error"`, default) or are dropped with a warning
(`on_missing="skip"`), before any training starts.
"""

import csv
import dataclasses
import glob
import json
import os

from absl import logging

VIDEO_EXTENSIONS = (".mp4", ".avi", ".webm", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg")


@dataclasses.dataclass
class Manifest:
    paths: list
    labels: list
    class_names: list

    def __len__(self):
        return len(self.paths)

    def save_classes(self, path):
        with open(path, "w") as handle:
            json.dump(list(self.class_names), handle, indent=1)

    def check_files(self, on_missing="error"):
        """Raise (listing them) or drop, with a warning, files that do not exist."""
        if on_missing not in ("error", "skip"):
            raise ValueError(f"on_missing must be 'error' or 'skip'; got {on_missing!r}.")
        missing = [p for p in self.paths if not os.path.isfile(p)]
        if not missing:
            return self
        shown = "\n  ".join(missing[:20]) + ("\n  ..." if len(missing) > 20 else "")
        if on_missing == "error":
            raise ValueError(
                f"{len(missing)} of {len(self.paths)} videos in the manifest do not exist:\n  "
                f"{shown}\nFix the paths, or pass on_missing='skip' to leave them out."
            )
        logging.warning("Skipping %d missing videos:\n  %s", len(missing), shown)
        keep = [i for i, p in enumerate(self.paths) if os.path.isfile(p)]
        return Manifest([self.paths[i] for i in keep], [self.labels[i] for i in keep],
                        self.class_names)


def load_classes(path):
    with open(path) as handle:
        names = json.load(handle)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{path}: a class mapping is a JSON list of class names.")
    return names


def _label_index(label, class_names, where):
    label = str(label).strip()
    if label in class_names:
        return class_names.index(label)
    if label.lstrip("-").isdigit() and 0 <= int(label) < len(class_names):
        return int(label)
    raise ValueError(f"{where}: label {label!r} is not a known class name or a class id in "
                     f"[0, {len(class_names)}); classes are {class_names[:10]}...")


def _finish(paths, raw_labels, class_names, where, on_missing):
    if class_names is None:
        names = sorted({str(label).strip() for label in raw_labels})
        if all(n.isdigit() for n in names):
            names = [str(i) for i in range(max(int(n) for n in names) + 1)]
        class_names = names
    labels = [_label_index(label, class_names, where) for label in raw_labels]
    return Manifest(list(paths), labels, list(class_names)).check_files(on_missing)


def from_folders(root, class_names=None, on_missing="error"):
    """Every video file under `root/<class>/`."""
    if not os.path.isdir(root):
        raise ValueError(f"from_folders: {root} is not a folder of class folders.")
    paths, labels = [], []
    for name in sorted(os.listdir(root)):
        folder = os.path.join(root, name)
        if not os.path.isdir(folder):
            continue
        for file in sorted(os.listdir(folder)):
            if file.lower().endswith(VIDEO_EXTENSIONS):
                paths.append(os.path.join(folder, file))
                labels.append(name)
    if not paths:
        raise ValueError(f"from_folders: no video files ({', '.join(VIDEO_EXTENSIONS)}) in "
                         f"class folders under {root}.")
    return _finish(paths, labels, class_names, root, on_missing)


def from_csv(path, root=None, class_names=None, on_missing="error"):
    """`path,label` rows; an optional header row starting with `path`."""
    root = root if root is not None else os.path.dirname(os.path.abspath(path))
    paths, labels = [], []
    with open(path, newline="") as handle:
        for number, row in enumerate(csv.reader(handle), 1):
            if not row or (number == 1 and row[0].strip().lower() in ("path", "video", "file")):
                continue
            if len(row) < 2:
                raise ValueError(f"{path}:{number}: expected `path,label`; got {row}.")
            paths.append(os.path.join(root, row[0].strip()))
            labels.append(row[1])
    return _finish(paths, labels, class_names, path, on_missing)


def from_ucf101(split_file, class_index_file, root, on_missing="error"):
    """UCF101 train/test list with classInd.txt (`1 ApplyEyeMakeup`)."""
    with open(class_index_file) as handle:
        class_names = [line.split()[1] for line in handle if line.strip()]
    paths, labels = [], []
    with open(split_file) as handle:
        for line in handle:
            parts = line.split()
            if not parts:
                continue
            paths.append(os.path.join(root, parts[0]))
            labels.append(str(int(parts[1]) - 1) if len(parts) > 1 else parts[0].split("/")[0])
    return _finish(paths, labels, class_names, split_file, on_missing)


def from_hmdb51(split_folder, split=1, subset="train", root=None, on_missing="error"):
    """HMDB51 split files; videos at `root/<class>/<video>`."""
    wanted = {"train": "1", "test": "2"}[subset]
    files = sorted(glob.glob(os.path.join(split_folder, f"*_test_split{split}.txt")))
    if not files:
        raise ValueError(f"from_hmdb51: no *_test_split{split}.txt files in {split_folder}.")
    class_names = [os.path.basename(f)[: -len(f"_test_split{split}.txt")] for f in files]
    paths, labels = [], []
    for name, file in zip(class_names, files):
        with open(file) as handle:
            for line in handle:
                parts = line.split()
                if len(parts) == 2 and parts[1] == wanted:
                    paths.append(os.path.join(root or split_folder, name, parts[0]))
                    labels.append(name)
    return _finish(paths, labels, class_names, split_folder, on_missing)


def from_something(json_file, labels_file, root, extension=".webm", on_missing="error"):
    """Something-Something V2 annotations and labels.json."""
    with open(labels_file) as handle:
        mapping = json.load(handle)
    class_names = [None] * len(mapping)
    for template, index in mapping.items():
        class_names[int(index)] = template
    with open(json_file) as handle:
        entries = json.load(handle)
    paths, labels = [], []
    for entry in entries:
        template = entry["template"].replace("[", "").replace("]", "")
        paths.append(os.path.join(root, f"{entry['id']}{extension}"))
        labels.append(str(mapping[template]))
    return _finish(paths, labels, class_names, json_file, on_missing)
