"""Every manifest format on real encoded files; class mapping; missing files."""

import json

import pytest

from vidzoo.tf_data import manifest
from tf_data_checks import numbered_video


@pytest.fixture
def videos(tmp_path):
    for name in ("walk/a.mp4", "walk/b.mp4", "jump/c.mp4"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        numbered_video(str(tmp_path / name), frames=4)
    return tmp_path


def test_folders(videos):
    m = manifest.from_folders(str(videos))
    assert m.class_names == ["jump", "walk"] and m.labels == [0, 1, 1]


def test_csv_with_names_ids_and_saved_mapping(videos):
    (videos / "a.csv").write_text("path,label\nwalk/a.mp4,walk\njump/c.mp4,jump\n")
    m = manifest.from_csv(str(videos / "a.csv"))
    assert m.labels == [1, 0]
    m.save_classes(str(videos / "classes.json"))
    names = manifest.load_classes(str(videos / "classes.json"))
    (videos / "b.csv").write_text("walk/b.mp4,1\njump/c.mp4,0\n")
    assert manifest.from_csv(str(videos / "b.csv"), class_names=names).labels == [1, 0]
    (videos / "c.csv").write_text("walk/b.mp4,run\n")
    with pytest.raises(ValueError, match="label 'run' is not a known class"):
        manifest.from_csv(str(videos / "c.csv"), class_names=names)


def test_ucf101_split_files(videos):
    (videos / "classInd.txt").write_text("1 jump\n2 walk\n")
    (videos / "trainlist01.txt").write_text("walk/a.mp4 2\njump/c.mp4 1\n")
    (videos / "testlist01.txt").write_text("walk/b.mp4\n")
    train = manifest.from_ucf101(str(videos / "trainlist01.txt"), str(videos / "classInd.txt"),
                                 str(videos))
    test = manifest.from_ucf101(str(videos / "testlist01.txt"), str(videos / "classInd.txt"),
                                str(videos))
    assert train.labels == [1, 0] and test.labels == [1]


def test_hmdb51_split_files(videos):
    splits = videos / "splits"
    splits.mkdir()
    (splits / "walk_test_split1.txt").write_text("a.mp4 1\nb.mp4 2\n")
    (splits / "jump_test_split1.txt").write_text("c.mp4 1\n")
    train = manifest.from_hmdb51(str(splits), 1, "train", root=str(videos))
    test = manifest.from_hmdb51(str(splits), 1, "test", root=str(videos))
    assert train.class_names == ["jump", "walk"] and train.labels == [0, 1]
    assert test.paths[0].endswith("walk/b.mp4")


def test_something_something_json(videos):
    (videos / "labels.json").write_text(json.dumps({"Jumping something": "0",
                                                    "Walking something": "1"}))
    (videos / "train.json").write_text(json.dumps([
        {"id": "a", "template": "Walking [something]"},
        {"id": "c", "template": "Jumping [something]"}]))
    m = manifest.from_something(str(videos / "train.json"), str(videos / "labels.json"),
                                str(videos / "walk"), extension=".mp4", on_missing="skip")
    assert m.labels == [1] and m.paths[0].endswith("walk/a.mp4")


def test_missing_files_are_named_up_front_or_skipped(videos):
    (videos / "a.csv").write_text("walk/a.mp4,walk\nwalk/gone.mp4,walk\n")
    with pytest.raises(ValueError, match="(?s)1 of 2 videos.*gone.mp4"):
        manifest.from_csv(str(videos / "a.csv"))
    assert len(manifest.from_csv(str(videos / "a.csv"), on_missing="skip")) == 1
