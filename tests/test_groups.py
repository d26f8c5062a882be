"""Class groups (--groups): each group's numbers equal scikit-learn's on the masks relabelled as the group
against the rest (the ignored pixels removed), for partitions and overlapping groups, per image and pooled;
they merge, resample and compare; bad groups are one line."""

import json

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import f1_score, jaccard_score, precision_score, recall_score

from conftest import json_run, tool


def write_pairs(folder, seed, images=4, ids=(0, 1, 2, 3, 4, 255), shape=(20, 24)):
    rng = np.random.default_rng(seed)
    pairs = {}
    for side in ("labels", "inferences"):
        (folder / side).mkdir(parents=True, exist_ok=True)
    for index in range(images):
        label = rng.choice(np.array(ids, np.uint8), size=shape)
        inference = np.where(rng.random(shape) < 0.6, label, rng.choice(np.array(ids, np.uint8), size=shape))
        Image.fromarray(label).save(folder / "labels" / f"img{index}.png")
        Image.fromarray(inference.astype(np.uint8)).save(folder / "inferences" / f"img{index}.png")
        pairs[f"img{index}"] = label, inference
    return pairs


def sklearn_group(label, inference, ids, ignore_index=255):
    """The group scored by scikit-learn on the masks relabelled: 1 in the group, 0 outside."""
    counted = label != ignore_index
    truth, predicted = np.isin(label[counted], ids), np.isin(inference[counted], ids)
    return {"iou": jaccard_score(truth, predicted), "dice": f1_score(truth, predicted),
            "precision": precision_score(truth, predicted, zero_division=0),
            "recall": recall_score(truth, predicted, zero_division=0)}


@pytest.mark.parametrize("groups", [
    {"low": [0, 1], "high": [2, 3, 4]},  # a partition
    {"all but one": [0, 1, 2, 3], "core": [1, 3], "one": [3]},  # nested, as BraTS' regions
    {"a": [0, 2], "b": [2, 4], "c": [1]},  # overlapping
])
def test_groups_are_scikit_learns_on_the_relabelled_masks(tmp_path, capsys, monkeypatch, groups):
    monkeypatch.chdir(tmp_path)
    pairs = write_pairs(tmp_path, len(groups))
    (tmp_path / "groups.txt").write_text("# a comment\n" + "".join(
        f"{name}: {' '.join(map(str, ids))}\n" for name, ids in groups.items()))
    document = json_run(capsys, "--groups", "groups.txt", "--ignore-index", "255")
    assert document["groups"] == groups
    for image in document["images"]:
        for name, ids in groups.items():
            expected = sklearn_group(*pairs[image["id"]], ids)
            got = image["groups"][name]
            assert got["ids"] == ids
            for key, value in expected.items():
                assert got[key] == pytest.approx(value, abs=1e-15), (image["id"], name, key)
    label = np.concatenate([pairs[key][0].ravel() for key in sorted(pairs)])
    inference = np.concatenate([pairs[key][1].ravel() for key in sorted(pairs)])
    ious = []
    for name, ids in groups.items():
        expected = sklearn_group(label, inference, ids)
        for key, value in expected.items():
            assert document["combined"]["groups"][name][key] == pytest.approx(value, abs=1e-15)
        ious.append(expected["iou"])
    assert document["combined"]["mean_group_iou"] == pytest.approx(np.mean(ious), abs=1e-15)


def test_a_group_absent_from_an_image_is_null_and_left_out_of_the_mean(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_pairs(tmp_path, 5, ids=(0, 1))
    (tmp_path / "groups.txt").write_text("present: 0 1\nabsent: 7\n")
    document = json_run(capsys, "--groups", "groups.txt")
    image = document["images"][0]
    assert image["groups"]["absent"] == {"ids": [7], "iou": None, "dice": None, "precision": None,
                                         "recall": None}
    assert image["mean_group_iou"] == image["groups"]["present"]["iou"] == 1.0


def test_groups_merge_from_old_reports_resample_and_compare(tmp_path, capsys, monkeypatch):
    """Groups come from the tallies: shards written without --groups merge with it into the whole run's
    numbers; --bootstrap gives each group's intervals and mGIoU's; --compare their differences."""
    monkeypatch.chdir(tmp_path)
    write_pairs(tmp_path, 6, images=8)
    groups = ["--groups", "brats"]
    whole = json_run(capsys, *groups, "--ignore-index", "255")
    for k in (1, 2):
        (tmp_path / f"s{k}.json").write_text(json.dumps(json_run(capsys, "--ignore-index", "255", "--shard",
                                                                  f"{k}/2")))
    assert json_run(capsys, "--merge", "s1.json", "s2.json", *groups) == whole
    booted = json_run(capsys, *groups, "--ignore-index", "255", "--bootstrap", "200")["combined"]
    intervals = booted["confidence_intervals"]
    low, high = intervals["mean_group_iou"]
    assert low <= booted["mean_group_iou"] <= high
    for name, entry in booted["groups"].items():
        assert intervals["groups"][name]["iou"][0] <= entry["iou"] <= intervals["groups"][name]["iou"][1]
    (tmp_path / "whole.json").write_text(json.dumps(whole))
    comparison = json_run(capsys, "--compare", "whole.json", "whole.json", "--bootstrap", "100")
    assert comparison["comparisons"][0]["groups"]["tumour core"]["iou"]["delta"] == 0
    assert comparison["comparisons"][0]["delta"]["mean_group_iou"] == 0


@pytest.mark.parametrize("text,args,words", [
    ("empty:\n", [], "group 'empty' names no id"),
    ("one: 1 2\none: 3\n", [], "named twice"),
    ("bad: 1 x\n", [], "ids are numbers within 0..255"),
    ("no colon 1 2\n", [], "not 'name: id id id'"),
    ("void: 1 255\n", ["--ignore-index", "255"], "which is the ignore index"),
    ("car: 13 300\n", [], "ids are numbers within 0..255"),
])
def test_bad_groups_are_one_line(tmp_path, capsys, monkeypatch, text, args, words):
    monkeypatch.chdir(tmp_path)
    write_pairs(tmp_path, 7, images=1)
    (tmp_path / "groups.txt").write_text(text)
    with pytest.raises(SystemExit):
        tool.main(["--groups", "groups.txt", *args])
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_a_group_naming_an_unnamed_id_is_refused_when_classes_are_named(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_pairs(tmp_path, 8, images=1)
    (tmp_path / "groups.txt").write_text("vehicles: 13 19\n")
    with pytest.raises(SystemExit):
        tool.main(["--groups", "groups.txt", "--class-names", "cityscapes"])
    assert "names id 19, which is no class of the class names" in capsys.readouterr().err


def test_the_cityscapes_categories_are_cityscapes_scripts_own():
    """The preset's groups are the categories cityscapesScripts' labels.py gives the 19 train ids."""
    labels = pytest.importorskip("cityscapesscripts.helpers.labels")
    categories = {}
    for label in labels.labels:
        if 0 <= label.trainId < 19:
            categories.setdefault(label.category, []).append(label.trainId)
    assert {name: sorted(ids) for name, ids in categories.items()} == tool.GROUP_PRESETS["cityscapes-categories"]
