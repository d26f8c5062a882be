"""The Cityscapes benchmark's four numbers (IoU class, iIoU class, IoU category, iIoU category), each class's
iIoU and each category's IoU and iIoU, against cityscapesScripts' own evaluator (tests/cityscapes_oracle.py)
on Cityscapes-shaped trees with crowd regions, tiny instances and classes without instances; the weighted
instance tallies merge and resample; bad instance files are one line each."""

import json
import math

import numpy as np
import pytest
from PIL import Image

from conftest import tool

oracle = pytest.importorskip("cityscapes_oracle")

ARGS = ["--labels", "gtFine/val", "--label-suffix", "_gtFine_labelTrainIds", "--inferences", "results_trainIds",
        "--inference-suffix", "_leftImg8bit", "--recursive", "--class-names", "cityscapes",
        "--groups", "cityscapes-categories", "--instances", "gtFine/val", "--instance-suffix",
        "_gtFine_instanceIds", "--instance-map", "cityscapes-labelids", "--format", "json", "--quiet"]


def run(capsys, *args):
    status = tool.main([*ARGS, *args])
    captured = capsys.readouterr()
    return status, json.loads(captured.out) if captured.out else None, captured.err


def same(ours, theirs):
    """Equal to 1e-9, where the evaluator's NaN is our null."""
    if theirs is None or (isinstance(theirs, float) and math.isnan(theirs)):
        return ours is None
    return ours is not None and abs(ours - theirs) <= 1e-9


@pytest.mark.parametrize("seed", range(3))
def test_the_four_numbers_and_every_class_and_category_are_cityscapes_scripts(tmp_path, capsys, monkeypatch,
                                                                               seed):
    monkeypatch.chdir(tmp_path)
    oracle.write_cityscapes_tree(tmp_path, np.random.default_rng(seed), images=4)
    expected = oracle.evaluate(tmp_path)
    status, document, err = run(capsys)
    assert status == 0, err
    combined = document["combined"]
    for key in ("iou_class", "iiou_class", "iou_category", "iiou_category"):
        assert same(combined["cityscapes"][key], expected[key]), (key, combined["cityscapes"][key], expected[key])
    for train_id, name in enumerate(oracle.TRAIN_CLASSES):
        entry = combined["classes"].get(str(train_id), {})
        if name in oracle.INSTANCE_CLASSES and str(train_id) in combined["classes"]:
            assert same(entry["iiou"], expected["class_iiou"][name]), name
        if not math.isnan(expected["class_iou"][name]) and str(train_id) in combined["classes"]:
            assert same(entry["iou"], expected["class_iou"][name]), name
    for name in oracle.CATEGORIES:
        assert same(combined["groups"][name]["iou"], expected["category_iou"][name]), name
        assert same(combined["groups"][name].get("iiou"), expected["category_iiou"][name]), name


def test_the_headline_says_the_four_numbers_in_the_benchmarks_words(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    oracle.write_cityscapes_tree(tmp_path, np.random.default_rng(7))
    assert tool.main([arg for arg in ARGS if arg not in ("--format", "json")]) == 0
    out = capsys.readouterr().out
    assert "Cityscapes benchmark: IoU class " in out and ", iIoU category " in out


def test_instance_tallies_merge_exactly_and_resample(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    oracle.write_cityscapes_tree(tmp_path, np.random.default_rng(8), images=6)
    whole = run(capsys)[1]
    for k in (1, 2):
        (tmp_path / f"s{k}.json").write_text(json.dumps(run(capsys, "--shard", f"{k}/2")[1]))
    status = tool.main(["--merge", "s1.json", "s2.json", "--format", "json"])
    merged = json.loads(capsys.readouterr().out)
    assert status == 0 and merged["images"] == whole["images"]
    for key in ("iou_class", "iiou_class", "iou_category", "iiou_category"):
        assert merged["combined"]["cityscapes"][key] == pytest.approx(whole["combined"]["cityscapes"][key],
                                                                     abs=1e-12)
    booted = run(capsys, "--bootstrap", "100")[1]["combined"]
    low, high = booted["confidence_intervals"]["mean_iiou"]
    assert low <= booted["mean_iiou"] <= high


@pytest.mark.parametrize("kind,words", [("8-bit", "is not an instance file"), ("size", "sizes differ")])
def test_a_bad_instance_file_is_one_line_and_the_rest_is_scored(tmp_path, capsys, monkeypatch, kind, words):
    monkeypatch.chdir(tmp_path)
    tree = oracle.write_cityscapes_tree(tmp_path, np.random.default_rng(9))
    image = tree.images[0]
    path = tmp_path / "gtFine" / "val" / image.city / f"{image.stem}_gtFine_instanceIds.png"
    bad = np.zeros((8, 8), np.uint8) if kind == "8-bit" else np.zeros((5, 7), np.uint16)
    Image.fromarray(bad).save(path)
    status, document, err = run(capsys)
    assert status == 1, err
    [error] = document["errors"]
    assert "instanceIds" in error["error"] and words in error["error"] and "\n" not in error["error"]
    assert len(document["images"]) == len(tree.images) - 1


def test_groups_given_at_merge_use_no_instance_tally_counted_with_other_groups(tmp_path, capsys,
                                                                                monkeypatch):
    """An image's weighted group tally is kept by the group's name: merged or compared with --groups
    naming a group of the reports with other ids (or one they did not count), it is no tally of that
    group, whose iIoU is then left out with a note, never computed from another group's pixels."""
    monkeypatch.chdir(tmp_path)
    oracle.write_cityscapes_tree(tmp_path, np.random.default_rng(8), images=4)
    (tmp_path / "mine.txt").write_text("human: 11\nvehicle: 13 14\n")
    mine = [arg if arg != "cityscapes-categories" else "mine.txt" for arg in ARGS]
    status = tool.main(mine)
    whole = json.loads(capsys.readouterr().out)["combined"]["groups"]
    for k in (1, 2):
        (tmp_path / f"s{k}.json").write_text(json.dumps(run(capsys, "--shard", f"{k}/2")[1]))
    status = tool.main(["--merge", "s1.json", "s2.json", "--groups", "mine.txt", "--format", "json"])
    captured = capsys.readouterr()
    merged = json.loads(captured.out)["combined"]["groups"]
    assert status == 0 and "iIoU of those groups is left out" in captured.err
    for name in ("human", "vehicle"):
        assert merged[name]["iou"] == whole[name]["iou"]
        assert merged[name]["iiou"] in (None, pytest.approx(whole[name]["iiou"], abs=1e-12))


def test_instance_sizes_from_a_file_weigh_the_instances(tmp_path, capsys, monkeypatch):
    """--instance-sizes FILE: the sizes it gives are the iIoU's weights (a run with the table's own
    sizes written to a file equals the run without it), and the head records them; no traceback."""
    monkeypatch.chdir(tmp_path)
    oracle.write_cityscapes_tree(tmp_path, np.random.default_rng(4))
    sizes = {train_id: oracle.AVG_CLASS_SIZE[name] for name, train_id in oracle.TRAIN.items()
             if name in oracle.INSTANCE_CLASSES}
    (tmp_path / "sizes.txt").write_text("".join(f"{k}: {v!r}\n" for k, v in sizes.items()))
    expected = run(capsys)[1]
    status, document, err = run(capsys, "--instance-sizes", "sizes.txt")
    assert status == 0, err
    assert document["instance_sizes"] == {str(k): v for k, v in sorted(sizes.items())}
    assert document["combined"]["cityscapes"] == expected["combined"]["cityscapes"]
    (tmp_path / "sizes.txt").write_text("11: 100\n")
    status, document, err = run(capsys, "--instance-sizes", "sizes.txt")
    assert status == 0 and document["instance_sizes"] == {"11": 100.0}, err


def test_instances_without_their_map_are_a_hint_naming_instance_map(tmp_path, capsys, monkeypatch):
    """Train-id labels with instance files in labelIds and no --instance-map: no instance is weighed (every
    iIoU 0); a warning names --instance-map."""
    monkeypatch.chdir(tmp_path)
    oracle.write_cityscapes_tree(tmp_path, np.random.default_rng(10))
    args = [arg for arg in ARGS if arg not in ("--instance-map", "cityscapes-labelids")]
    status = tool.main(args)
    captured = capsys.readouterr()
    assert status == 0 and "give --instance-map cityscapes-labelids" in captured.err
