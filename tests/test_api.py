"""The Python API (Evaluator): arrays in memory scored as the command line scores mask files.

Each number is checked against an independent computation: the command line on the same masks
written as files (where the point is API == CLI), scikit-learn on the raw arrays, or one evaluator
given every image (for batches and merges); never against an earlier output of the API itself.
"""

import copy
import json
import math
import os
import pickle
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import average_precision_score, confusion_matrix, roc_auc_score

from conftest import ROOT, ZERO_DIVISIONS, assert_report_matches_sklearn, json_run, tool

SHAPE = (40, 60)


# ---------------------------------------------------------------- helpers

def blocky(rng, classes, shape=SHAPE, block=5):
    """A mask of square regions of random classes, so that boundaries and distances mean something."""
    coarse = rng.integers(0, classes, (shape[0] // block + 1, shape[1] // block + 1))
    return np.kron(coarse, np.ones((block, block), np.int64))[:shape[0], :shape[1]].astype(np.uint8)


def random_set(seed, count=5, shape=SHAPE, classes=5, void=0.0):
    """{id: (label, inference)}: blocky labels, inferences right on about 80% of the pixels; a share
    `void` of the label pixels is 255."""
    rng = np.random.default_rng(seed)
    pairs = {}
    for index in range(count):
        label = blocky(rng, classes, shape)
        inference = np.where(rng.random(shape) < 0.8, label, blocky(rng, classes, shape)).astype(np.uint8)
        label[rng.random(shape) < void] = 255
        pairs[f"img{index}"] = label, inference
    return pairs


def save(path, array):
    """array as a PNG (8-bit, or 16-bit for uint16) or, for a .npy path, as is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".npy":
        np.save(path, array)
    else:
        Image.fromarray(array).save(path)


def api_report(evaluator):
    """evaluator.report(), which must warn nothing (the command line would exit 3)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", tool.NumbersInDoubtWarning)
        return evaluator.report()


def assert_same_report(api, cli, differ=()):
    """The API's report equals the command line's, key for key, except where they legitimately
    differ: each image's label and inference (the CLI names its files; the API's images have none,
    null), and the head entries listed in differ as (keys, the API's value, the CLI's value), each
    checked to be just that."""
    api, cli = copy.deepcopy(api), copy.deepcopy(cli)
    assert [image["id"] for image in api["images"]] == [image["id"] for image in cli["images"]]
    for image in api["images"]:
        assert image.pop("label") is None and image.pop("inference") is None
    for image in cli["images"]:
        assert image.pop("label").startswith("labels/") and image.pop("inference").startswith("inferences/")
    for keys, api_value, cli_value in differ:
        api_part, cli_part = api, cli
        for key in keys[:-1]:
            api_part, cli_part = api_part[key], cli_part[key]
        assert (api_part[keys[-1]], cli_part[keys[-1]]) == (api_value, cli_value)
        api_part[keys[-1]] = cli_value
    assert api == cli


def all_pixels(pairs, valid=None):
    """Every image's label and inference pixels (inside its valid mask) as two 1-D arrays."""
    keys = sorted(pairs)
    inside = [np.ones(pairs[key][0].shape, bool) if valid is None else valid[key] for key in keys]
    return (np.concatenate([pairs[key][0][where] for key, where in zip(keys, inside)]),
            np.concatenate([pairs[key][1][where] for key, where in zip(keys, inside)]))


# ---------------------------------------------------------------- 1: the API's report is the command line's

def test_the_shipped_samples_give_the_command_lines_report(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    cli = json_run(capsys)
    evaluator = tool.Evaluator(class_names="labels/class_names.txt")
    for image in cli["images"]:
        evaluator.add(np.asarray(Image.open(image["label"])), np.asarray(Image.open(image["inference"])),
                      id=image["id"])
    # The command line finds labels/class_names.txt itself and names the file; the API was given it
    # by class_names=, and names that option.
    assert_same_report(api_report(evaluator), cli, differ=[
        (("ignore_index_from",), "--class-names labels/class_names.txt", "labels/class_names.txt")])
    assert len(cli["images"]) == 10 and cli["ignore_index"] == 255


def test_the_shipped_samples_text_is_the_command_lines(monkeypatch, capsys):
    """text() prints what the command line prints, but for each image's heading, where the command
    line names the two files."""
    monkeypatch.chdir(ROOT)
    evaluator = tool.Evaluator(class_names="labels/class_names.txt")
    ids = sorted(path.stem for path in (ROOT / "labels").glob("*.png"))
    for key in ids:
        evaluator.add(np.asarray(Image.open(f"labels/{key}.png")), np.asarray(Image.open(f"inferences/{key}.png")),
                      id=key)
    for args, kwargs in (((), {}), (("--brief",), {"brief": True}), (("--per-case", "--digits", "2"),
                                                                      {"per_case": True, "digits": 2})):
        assert tool.main(["--quiet", *args]) == 0
        printed = capsys.readouterr().out
        for key in ids:
            printed = printed.replace(f"=== {key}: labels/{key}.png vs inferences/{key}.png,", f"=== {key},")
        assert evaluator.text(**kwargs) == printed


def write_set(folder, pairs, scores=False):
    for key, (label, inference) in pairs.items():
        save(folder / "labels" / f"{key}.png", label)
        save(folder / "inferences" / f"{key}.{'npy' if scores else 'png'}", inference)


# (the Evaluator's options, the command line's) on 5 pairs of ids 0..4 with 5% void (255) in the labels;
# the heads are equal too: an id map given as a dict is recorded as the command line's text of it
OPTION_CASES = {
    "defaults": ({}, []),
    "ignore_index, nan, excluded, num_classes": (
        {"ignore_index": 255, "zero_division": math.nan, "exclude_from_means": [0], "num_classes": 6},
        ["--ignore-index", "255", "--zero-division", "nan", "--exclude-from-means", "0", "--num-classes", "6"]),
    "ignore_index none, zero_division 1, names as a list": (
        {"ignore_index": None, "zero_division": 1, "class_names": ["a", "b", "c", "d", "e"]},
        ["--ignore-index", "none", "--zero-division", "1", "--class-names", "names.txt"]),
    "boundary": ({"ignore_index": 255, "boundary": True, "boundary_ratio": 0.05},
                 ["--ignore-index", "255", "--boundary", "--boundary-ratio", "0.05"]),
    "distances": ({"ignore_index": 255, "distances": True, "spacing": (0.5, 2.0), "tolerance": 1.5,
                   "empty_distance": 10.0},
                  ["--ignore-index", "255", "--distances", "--spacing", "0.5", "2", "--tolerance", "1.5",
                   "--empty-distance", "10"]),
    "groups as a dict": ({"ignore_index": 255, "groups": {"low": [0, 1], "high": [2, 3, 4]}},
                         ["--ignore-index", "255", "--groups", "groups.txt"]),
    "bootstrap": ({"ignore_index": 255, "bootstrap": 100, "confidence": 0.9, "seed": 7},
                  ["--ignore-index", "255", "--bootstrap", "100", "--confidence", "0.9", "--seed", "7"]),
    "id maps as dicts": (
        # every label id but 0..3 becomes void; the inferences' 4 becomes 3
        {"ignore_index": 255, "label_map": {0: 0, 1: 1, 2: 2, 3: 3, "*": 255}, "inference_map": {4: 3}},
        ["--ignore-index", "255", "--label-map", "0:0,1:1,2:2,3:3,*:255", "--inference-map", "4:3"]),
    "check_with_sklearn": ({"ignore_index": 255, "check_with_sklearn": True},
                           ["--ignore-index", "255", "--check-with-sklearn"]),
}


@pytest.mark.parametrize("case", OPTION_CASES)
def test_random_sets_give_the_command_lines_report(tmp_path, monkeypatch, capsys, case):
    options, args = OPTION_CASES[case]
    monkeypatch.chdir(tmp_path)
    pairs = random_set(sorted(OPTION_CASES).index(case), void=0.05)
    write_set(tmp_path, pairs)
    (tmp_path / "names.txt").write_text("a\nb\nc\nd\ne\n", encoding="utf-8")
    (tmp_path / "groups.txt").write_text("low: 0 1\nhigh: 2 3 4\n", encoding="utf-8")
    cli = json_run(capsys, *args)
    evaluator = tool.Evaluator(**options)
    for key in reversed(sorted(pairs)):  # any order: the report is in id order
        evaluator.add(*pairs[key], id=key)
    assert_same_report(api_report(evaluator), cli)
    if "label_map" in options:  # the same map, as the command line's text
        assert cli["input"]["label_map"] == "0:0,1:1,2:2,3:3,*:255"
    # what the options add is there, so that the equality is not of two nulls
    added = {"boundary": "mean_boundary_iou", "distances": "mean_hd95", "groups as a dict": "mean_group_iou",
             "bootstrap": "confidence_intervals"}.get(case)
    assert added is None or cli["combined"][added] is not None


def test_valid_masks_give_the_command_lines_report(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    pairs = random_set(11, void=0.05)
    rng = np.random.default_rng(11)
    valid = {key: rng.random(SHAPE) < 0.7 for key in pairs}
    write_set(tmp_path, pairs)
    for key, inside in valid.items():
        save(tmp_path / "valid" / f"{key}.png", inside.astype(np.uint8) * 255)
    cli = json_run(capsys, "--valid-masks", "valid", "--ignore-index", "255", "--boundary")
    evaluator = tool.Evaluator(ignore_index=255, boundary=True)
    for key in sorted(pairs):
        evaluator.add(*pairs[key], id=key, valid=valid[key])
    # The command line records the folder of the valid masks; an Evaluator that add() was given them.
    assert_same_report(api_report(evaluator), cli, differ=[(("input", "valid_masks"), "add(valid=)", "valid")])
    label, inference = all_pixels(pairs, valid)
    assert_report_matches_sklearn(cli["combined"], label, inference, 255, 0.0)


def test_score_maps_give_the_command_lines_report(tmp_path, monkeypatch, capsys):
    """Score maps as float arrays equal .npy score maps read by --scores, valid masks too; the numbers
    are scikit-learn's on the pixels counted."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(12)
    pairs, valid = {}, {}
    for index in range(4):
        label = blocky(rng, 2)
        label[rng.random(SHAPE) < 0.05] = 255
        pairs[f"s{index}"] = label, np.clip(label * 0.6 + rng.random(SHAPE) * 0.5, 0, 1)
        valid[f"s{index}"] = rng.random(SHAPE) < 0.9
        save(tmp_path / "valid" / f"s{index}.png", valid[f"s{index}"].astype(np.uint8))
    write_set(tmp_path, pairs, scores=True)
    cli = json_run(capsys, "--scores", "--threshold", "0.4", "--ignore-index", "255", "--valid-masks", "valid")
    evaluator = tool.Evaluator(scores=True, threshold=0.4, ignore_index=255)
    for key in sorted(pairs):
        evaluator.add(*pairs[key], id=key, valid=valid[key])
    api = api_report(evaluator)
    # the command line records the valid masks' folder, an Evaluator that add() was given them
    assert_same_report(api, cli, differ=[(("input", "valid_masks"), "add(valid=)", "valid")])
    label, scores = all_pixels(pairs, valid)
    counted = label != 255
    truth, scores = label[counted] == 1, scores[counted]
    assert api["combined"]["roc_auc"] == pytest.approx(roc_auc_score(truth, scores), abs=1e-12)
    assert api["combined"]["average_precision"] == pytest.approx(average_precision_score(truth, scores), abs=1e-12)
    assert_report_matches_sklearn(api["combined"], truth.astype(np.uint8), (scores >= 0.4).astype(np.uint8),
                                  None, 0.0)


def test_instances_give_the_command_lines_report(tmp_path, monkeypatch, capsys):
    """instances=True with add(instances=) equals --instances with 16-bit instance files."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(13)
    pairs, instances = {}, {}
    for index in range(3):
        label = np.array([0, 11, 13], np.uint8)[blocky(rng, 3)]
        inference = np.where(rng.random(SHAPE) < 0.8, label, 13).astype(np.uint8)
        numbers = rng.integers(1, 4, SHAPE)  # each pixel of a person or car in one of 3 instances
        instances[f"c{index}"] = np.where(label >= 11, label.astype(np.uint16) * 1000 + numbers, label).astype(
            np.uint16)
        pairs[f"c{index}"] = label, inference
        save(tmp_path / "inst" / f"c{index}.png", instances[f"c{index}"])
    write_set(tmp_path, pairs)
    cli = json_run(capsys, "--instances", "inst", "--class-names", "cityscapes")
    evaluator = tool.Evaluator(instances=True, class_names="cityscapes")
    for key in sorted(pairs):
        evaluator.add(*pairs[key], id=key, instances=instances[key])
    api = api_report(evaluator)
    # The command line records the instances' folder; the API that add() was given them.
    assert_same_report(api, cli, differ=[(("input", "instances"), "add(instances=)", "inst")])
    assert api["combined"]["classes"]["11"]["iiou"] is not None


def test_a_warning_where_the_command_line_exits_3(tmp_path, monkeypatch, capsys):
    """Labels of 0/255 against inferences of 0/1: the command line reports, exits 3 and says why; the
    API warns NumbersInDoubtWarning with the same words but for the option's name (label_map, not
    --label-map), and its report holds the command line's words."""
    monkeypatch.chdir(tmp_path)
    label = (blocky(np.random.default_rng(14), 2) * 255).astype(np.uint8)
    inference = (label // 255).astype(np.uint8)
    write_set(tmp_path, {"a": (label, inference)})
    assert tool.main(["--format", "json", "--quiet"]) == 3
    cli = json.loads(capsys.readouterr().out)
    evaluator = tool.Evaluator().add(label, inference, id="a")
    with pytest.warns(tool.NumbersInDoubtWarning) as warned:
        api = evaluator.report()
    said = [str(warning.message) for warning in warned]
    assert len(said) == len(cli["warnings"]) == 1 and "--label-map 255:1" in cli["warnings"][0]
    assert said == [cli["warnings"][0].replace("--label-map", "label_map")]
    assert_same_report(api, cli)


# ---------------------------------------------------------------- 2: scikit-learn's numbers on the raw arrays

def varied_set(seed, count=4, shape=(12, 16)):
    """Pairs of noisy masks, each image with its own few of ids 0..5 and 255, so that classes are
    missing from some images and ratios are 0/0 in places."""
    rng = np.random.default_rng(seed)
    pairs = {}
    for index in range(count):
        ids = rng.choice([0, 1, 2, 3, 4, 5, 255], size=rng.integers(1, 5), replace=False)
        label = rng.choice(ids, shape).astype(np.uint8)
        inference = np.where(rng.random(shape) < 0.6, label, rng.choice(ids, shape)).astype(np.uint8)
        inference[inference == 255] = 0  # a model predicts classes, not void
        pairs[f"v{index}"] = label, inference
    return pairs


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("zero_division", ZERO_DIVISIONS)
@pytest.mark.parametrize("ignore_index", [None, 255, 0])
def test_numbers_are_scikit_learns_on_the_raw_arrays(seed, zero_division, ignore_index):
    pairs = varied_set(seed)
    evaluator = tool.Evaluator(ignore_index=ignore_index, zero_division=zero_division)
    for key, (label, inference) in pairs.items():
        evaluator.add(label, inference, id=key)
    with warnings.catch_warnings():  # labels of one id and 255 may look like 0/255 masks: not the point here
        warnings.simplefilter("ignore", tool.NumbersInDoubtWarning)
        report = evaluator.report()
    for image in report["images"]:
        assert_report_matches_sklearn(image, *pairs[image["id"]], ignore_index, zero_division)
    assert_report_matches_sklearn(report["combined"], *all_pixels(pairs), ignore_index, zero_division)


def test_valid_masks_leave_out_the_pixels_outside_as_scikit_learn_never_sees_them():
    pairs = varied_set(20)
    rng = np.random.default_rng(20)
    valid = {key: rng.random(label.shape) < 0.6 for key, (label, _) in pairs.items()}
    evaluator = tool.Evaluator(ignore_index=255)
    for key, (label, inference) in pairs.items():
        # a valid mask of any numbers: those that are not 0 count
        evaluator.add(label, inference, id=key, valid=valid[key] * np.uint8(7))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tool.NumbersInDoubtWarning)
        report = evaluator.report()
    for image in report["images"]:
        label, inference = pairs[image["id"]]
        assert_report_matches_sklearn(image, label[valid[image["id"]]], inference[valid[image["id"]]], 255, 0.0)
    assert_report_matches_sklearn(report["combined"], *all_pixels(pairs, valid), 255, 0.0)


def test_ids_above_255_are_taken_through_an_id_map_given_as_a_dict():
    """Ids up to 65535 in the label arrays, sent into 0..255 by label_map={...} (and '*' for the rest):
    the numbers are scikit-learn's on the labels mapped with numpy first."""
    rng = np.random.default_rng(21)
    wide = np.array([0, 1, 256, 1000, 65535])
    lookup = {0: 0, 1: 1, 256: 1, 1000: 2}  # 65535 goes to '*': 9
    evaluator = tool.Evaluator(label_map={**lookup, "*": 9})
    pairs = {}
    for index in range(3):
        label = wide[rng.integers(0, 5, (12, 16))].astype(np.int32)
        inference = rng.integers(0, 3, (12, 16)).astype(np.int64)
        evaluator.add(label, inference, id=f"w{index}")
        pairs[f"w{index}"] = np.vectorize(lambda value: lookup.get(int(value), 9))(label), inference
    report = api_report(evaluator)
    for image in report["images"]:
        assert_report_matches_sklearn(image, *pairs[image["id"]], None, 0.0)
    assert report["input"]["label_map"] == "0:0,1:1,256:1,1000:2,*:9"


def test_bool_arrays_are_ids_0_and_1():
    rng = np.random.default_rng(22)
    label, inference = rng.random((2, 3, 12, 16)) < 0.4
    report = api_report(tool.Evaluator().add(label, inference, id=["a", "b", "c"]))
    for index, image in enumerate(report["images"]):
        assert_report_matches_sklearn(image, label[index].astype(np.uint8), inference[index].astype(np.uint8),
                                      None, 0.0)


# ---------------------------------------------------------------- 3: batches are their images one by one

BATCH_OPTIONS = {"ignore_index": 255, "boundary": True, "distances": True, "bootstrap": 100}


def one_by_one(pairs, ids=True, valid=None, **options):
    evaluator = tool.Evaluator(**options)
    for key in sorted(pairs):
        evaluator.add(*pairs[key], id=key if ids else None, valid=None if valid is None else valid[key])
    return evaluator


@pytest.mark.parametrize("form", ["(N, H, W)", "(N, 1, H, W)", "(N, H, W, 1)", "nested lists",
                                  "int64 and int32"])
def test_a_batch_is_its_images_one_by_one(form):
    pairs = random_set(30, void=0.05)
    keys = sorted(pairs)
    labels = np.stack([pairs[key][0] for key in keys])
    inferences = np.stack([pairs[key][1] for key in keys])
    shaped = {"(N, H, W)": lambda batch: batch, "(N, 1, H, W)": lambda batch: batch[:, np.newaxis],
              "(N, H, W, 1)": lambda batch: batch[..., np.newaxis], "nested lists": lambda batch: batch.tolist(),
              "int64 and int32": lambda batch: batch.astype(np.int64 if batch is labels else np.int32)}[form]
    expected = api_report(one_by_one(pairs, **BATCH_OPTIONS))
    batch = tool.Evaluator(**BATCH_OPTIONS).add(shaped(labels), shaped(inferences), id=keys)
    assert api_report(batch) == expected
    # without ids, the batch's images are numbered as the same images added one by one
    assert api_report(tool.Evaluator(**BATCH_OPTIONS).add(shaped(labels), shaped(inferences))) == api_report(
        one_by_one(pairs, ids=False, **BATCH_OPTIONS))


def test_batches_of_any_split_with_valid_masks_are_the_images_one_by_one():
    pairs = random_set(31, count=6, void=0.05)
    rng = np.random.default_rng(31)
    valid = {key: rng.random(SHAPE) < 0.8 for key in pairs}
    keys = sorted(pairs)
    expected = api_report(one_by_one(pairs, valid=valid, ignore_index=255))
    evaluator = tool.Evaluator(ignore_index=255)
    for part in (keys[:1], keys[1:4], keys[4:]):  # a batch of one, of three, of two
        evaluator.add(np.stack([pairs[key][0] for key in part]), np.stack([pairs[key][1] for key in part]),
                      id=part, valid=np.stack([valid[key] for key in part])[:, np.newaxis])
    assert api_report(evaluator) == expected
    # one image as (H, W, 1), one id as a str
    single = tool.Evaluator(ignore_index=255)
    for key in keys:
        single.add(pairs[key][0][..., np.newaxis], pairs[key][1], id=key, valid=valid[key])
    assert api_report(single) == expected


# ---------------------------------------------------------------- 4: merged evaluators are one evaluator of every image

MERGE_OPTIONS = {"ignore_index": 255, "boundary": True, "groups": {"low": [0, 1]}, "distances": True,
                 "bootstrap": 100, "class_names": ["a", "b", "c", "d", "e"]}


def parts_of(pairs, ids=True, cuts=(2, 5)):
    """Evaluators of the pairs (in id order) cut into parts at cuts."""
    keys = sorted(pairs)
    bounds = [0, *cuts, len(keys)]
    return [one_by_one({key: pairs[key] for key in keys[start:end]}, ids=ids, **MERGE_OPTIONS)
            for start, end in zip(bounds, bounds[1:])]


@pytest.mark.parametrize("ids", [True, False], ids=["ids given", "numbered"])
def test_merged_evaluators_are_one_evaluator_of_every_image(ids):
    pairs = random_set(40, count=7, void=0.05)
    whole = api_report(one_by_one(pairs, ids=ids, **MERGE_OPTIONS))
    parts = parts_of(pairs, ids=ids)
    before = [api_report(part) for part in parts]
    for merged in (tool.Evaluator.merged(parts), parts[0] + parts[1] + parts[2], sum(parts),
                   tool.Evaluator.merged(pickle.loads(pickle.dumps(part)) for part in parts)):
        assert len(merged) == 7
        assert api_report(merged) == whole
    assert_report_matches_sklearn(whole["combined"], *all_pixels(pairs), 255, 0.0)
    assert [api_report(part) for part in parts] == before  # the parts are left as they were
    if ids:  # given ids: the parts in any order
        assert api_report(tool.Evaluator.merged(parts[::-1])) == whole


def test_a_merged_evaluator_goes_on_adding_and_numbers_after_a_given_id():
    """An image given id '2' and images numbered: merged, the numbered ones are renumbered around it,
    as one evaluator given the same images in the same order numbers them."""
    pairs = random_set(41, count=5)
    keys = sorted(pairs)
    first = tool.Evaluator().add(*pairs[keys[0]], id="2").add(*pairs[keys[1]])
    second = tool.Evaluator().add(*pairs[keys[2]]).add(*pairs[keys[3]])
    merged = first + second
    merged.add(*pairs[keys[4]])
    whole = tool.Evaluator().add(*pairs[keys[0]], id="2")
    for key in keys[1:]:
        whole.add(*pairs[key])
    assert [image["id"] for image in api_report(merged)["images"]] == ["1", "2", "3", "4", "5"]
    assert api_report(merged) == api_report(whole)
    assert len(first) == len(second) == 2


def test_pickled_evaluators_of_many_options_merge_as_all_gather_object_would():
    """torch.distributed.all_gather_object pickles each process's evaluator; the unpickled ones, merged,
    are the evaluator of every image, options of every kind (files read, dicts, NaN) kept."""
    pairs = random_set(42, count=4, void=0.05)
    options = {"ignore_index": 255, "zero_division": math.nan, "label_map": {4: 3},
               "class_names": str(ROOT / "labels" / "class_names.txt"), "exclude_from_means": [0],
               "groups": "cityscapes-categories", "spacing": (0.5, 1.0)}
    whole = api_report(one_by_one(pairs, **options))
    keys = sorted(pairs)
    parts = [one_by_one({key: pairs[key] for key in keys[index::2]}, **options) for index in range(2)]
    gathered = [pickle.loads(pickle.dumps(part)) for part in parts]
    assert api_report(sum(gathered)) == whole


@pytest.mark.parametrize("other, said", [
    ({"ignore_index": None}, "different ignore_index: evaluator 2 none, evaluator 1 255"),
    ({"zero_division": 1}, "different zero_division: evaluator 2 1, evaluator 1 0"),
    ({"boundary": False}, "different boundary_ratio: evaluator 2 none, evaluator 1 0.02"),
    ({"groups": {"low": [0]}}, "different groups"), ({"label_map": {4: 2}}, '"label_map": "4:2"'),
    ({"class_names": ["a", "B"]}, "id 1 is named 'B' in evaluator 2, 'b' in evaluator 1")])
def test_evaluators_of_other_rules_do_not_merge(other, said):
    """Rules that change the numbers must agree, as --merge requires of reports; said in the API's words."""
    pairs = random_set(43, count=2)
    first = one_by_one({"img0": pairs["img0"]}, **MERGE_OPTIONS)
    second = one_by_one({"img1": pairs["img1"]}, **{**MERGE_OPTIONS, **other})
    for evaluators in ([first, second], [second, first]):
        with pytest.raises(ValueError) as refused:
            tool.Evaluator.merged(evaluators)
        assert "--" not in str(refused.value)
    with pytest.raises(ValueError, match=re.escape(said)):
        first + second


def test_merged_evaluators_take_the_first_ones_intervals_and_join_class_names():
    """bootstrap, confidence and seed are the first evaluator's (as the docstring says); class names
    are joined id by id, as --merge joins the reports'."""
    pairs = random_set(45, count=4)
    keys = sorted(pairs)
    first = one_by_one({key: pairs[key] for key in keys[:2]}, bootstrap=100, seed=3, class_names=["a", "b"])
    second = one_by_one({key: pairs[key] for key in keys[2:]}, bootstrap=200, seed=4, confidence=0.8,
                        class_names=["a", "b", "c"])
    assert api_report(first + second) == api_report(one_by_one(pairs, bootstrap=100, seed=3,
                                                               class_names=["a", "b", "c"]))
    assert api_report(second + first) == api_report(one_by_one(pairs, bootstrap=200, seed=4, confidence=0.8,
                                                               class_names=["a", "b", "c"]))


def test_evaluators_that_share_an_image_id_do_not_merge():
    pairs = random_set(44, count=3)
    first = tool.Evaluator().add(*pairs["img0"], id="a").add(*pairs["img1"], id="b")
    second = tool.Evaluator().add(*pairs["img2"], id="b")
    with pytest.raises(ValueError, match="'b' is in more than one evaluator"):
        first + second
    with pytest.raises(TypeError):
        tool.Evaluator.merged([])
    with pytest.raises(TypeError):
        first + 1
    # one evaluator given twice would count its images twice, numbered or not
    numbered = tool.Evaluator().add(*pairs["img0"])
    for twice in ([numbered, numbered], [first, second, first]):
        with pytest.raises(ValueError, match="given twice"):
            tool.Evaluator.merged(twice)
    assert len(first) == 2 and len(second) == 1


# ---------------------------------------------------------------- 5: torch tensors

def test_cpu_tensors_give_the_reports_of_numpy_arrays():
    torch = pytest.importorskip("torch")
    pairs = random_set(50, count=4, void=0.05)
    keys = sorted(pairs)
    labels = np.stack([pairs[key][0] for key in keys])
    inferences = np.stack([pairs[key][1] for key in keys])
    valid = np.random.default_rng(50).random(labels.shape) < 0.8
    expected = api_report(one_by_one(pairs, valid=dict(zip(keys, valid)), ignore_index=255, boundary=True))
    as_int64 = tool.Evaluator(ignore_index=255, boundary=True).add(
        torch.from_numpy(labels).long(), torch.from_numpy(inferences).long()[:, None], id=keys,
        valid=torch.from_numpy(valid))
    assert api_report(as_int64) == expected
    # the argmax of a model's logits, as a segmentation model's output is scored
    logits = torch.nn.functional.one_hot(torch.from_numpy(inferences).long(), 5).permute(0, 3, 1, 2).float()
    as_argmax = tool.Evaluator(ignore_index=255, boundary=True).add(
        torch.from_numpy(labels).to(torch.uint8), logits.argmax(1), id=keys,
        valid=torch.from_numpy(valid).to(torch.uint8))
    assert api_report(as_argmax) == expected
    with pytest.raises(ValueError, match="argmax"):
        tool.Evaluator().add(torch.from_numpy(labels), logits[:, 0])

    binary = labels == 1
    expected = api_report(tool.Evaluator().add(binary, inferences == 1, id=keys))
    assert api_report(tool.Evaluator().add(torch.from_numpy(binary), torch.from_numpy(inferences == 1).to(
        torch.uint8), id=keys)) == expected
    # a tensor that needs its gradient cannot be an array: one ValueError, which says what to do
    generator = torch.Generator().manual_seed(50)
    scores = (torch.from_numpy(binary) * 0.6 + torch.rand(labels.shape, generator=generator) * 0.4).requires_grad_()
    with pytest.raises(ValueError, match="inference: not an array.*detach"):
        tool.Evaluator(scores=True).add(binary, scores)
    assert api_report(tool.Evaluator(scores=True).add(binary, scores.detach(), id=keys)) == api_report(
        tool.Evaluator(scores=True).add(binary, scores.detach().numpy(), id=keys))
    # ids as tensors: a 0-d one for an image, a 1-d one for a batch
    by_tensor = tool.Evaluator().add(binary[0], binary[0], id=torch.tensor(5))
    by_tensor.add(binary[1:3], binary[1:3], id=torch.tensor([6, 7]))
    assert [image["id"] for image in api_report(by_tensor)["images"]] == ["5", "6", "7"]

# ---------------------------------------------------------------- 6: bad arrays and options: one clear ValueError

GOOD = np.zeros(SHAPE, np.uint8)
GOOD_BATCH = np.zeros((3, *SHAPE), np.uint8)
BAD_ARRAYS = {  # (label, inference, add()'s other arguments, the Evaluator's options, words of the message)
    "sizes differ": (GOOD, np.zeros((40, 61), np.uint8), {}, {}, ["label", "(40, 60)", "(40, 61)", "sizes differ"]),
    "batch sizes differ": (GOOD_BATCH, GOOD_BATCH[:2], {}, {}, ["(3, 40, 60)", "(2, 40, 60)", "sizes differ"]),
    "negative id": (GOOD, GOOD.astype(np.int16) - 1, {}, {}, ["inference", "smallest value -1", "0..255"]),
    "id 256 without a map": (GOOD.astype(np.int32) + 256, GOOD, {}, {},
                             ["label", "largest value 256", "0..255", "label_map"]),
    "floats": (GOOD, GOOD.astype(np.float32), {}, {}, ["inference", "float32", "not of class ids", "argmax"]),
    "NaN": (np.full(SHAPE, np.nan), GOOD, {}, {}, ["label", "NaN", "argmax"]),
    "4-D": (GOOD, np.zeros((2, 2, *SHAPE), np.uint8), {}, {}, ["inference", "(2, 2, 40, 60)", "(H, W)", "(N, H, W)"]),
    "1-D": (GOOD.ravel(), GOOD.ravel(), {}, {}, ["label", "(2400,)", "(H, W)"]),
    "no pixels": (np.zeros((0, 60), np.uint8), np.zeros((0, 60), np.uint8), {}, {}, ["label", "(0, 60)"]),
    "objects": (GOOD.astype(object), GOOD, {}, {}, ["label", "object", "numbers"]),
    "strings": (GOOD, GOOD.astype(str), {}, {}, ["inference", "numbers"]),
    "complex": (GOOD, GOOD.astype(complex), {}, {}, ["inference", "complex128", "numbers"]),
    "None": (None, GOOD, {}, {}, ["label"]),
    "valid masks of another count": (GOOD_BATCH, GOOD_BATCH, {"valid": np.ones((2, *SHAPE), bool)}, {},
                                     ["valid", "(2, 40, 60)", "(3, 40, 60)", "sizes differ"]),
    "colours": (GOOD, np.zeros((*SHAPE, 3), np.uint8), {}, {}, ["inference", "(40, 60, 3)", "colours"]),
    "scores of each class": (GOOD_BATCH, np.zeros((3, 5, *SHAPE), np.float32), {}, {},
                             ["inference", "(3, 5, 40, 60)", "argmax(1)"]),
    "PyTorch's ignore value": (GOOD.astype(np.int64) - 100, GOOD, {}, {}, ["label", "-100", "ignore index"]),
    "instances not asked for": (GOOD, GOOD, {"instances": GOOD}, {}, ["instances", "instances=True"]),
    "instances missing": (GOOD, GOOD, {}, {"instances": True}, ["instances", "instances=True"]),
    "bad instance values": (GOOD, GOOD, {"instances": GOOD.astype(np.int32) - 1}, {"instances": True},
                            ["instances", "class id x 1000"]),
    "ids for another count": (GOOD_BATCH, GOOD_BATCH, {"id": ["a", "b"]}, {}, ["id", "2 ids for 3 images"]),
    "an id twice in a batch": (GOOD_BATCH, GOOD_BATCH, {"id": ["a", "b", "a"]}, {}, ["id", "'a'", "two images"]),
    "an empty id": (GOOD, GOOD, {"id": ""}, {}, ["id", "''", "not an image id"]),
    "an id of bytes": (GOOD, GOOD, {"id": b"x"}, {}, ["id", "b'x'", "not an image id"]),
    "an id of a float": (GOOD, GOOD, {"id": 1.5}, {}, ["id", "1.5", "not an image id"]),
    "scores above 1": (GOOD, np.full(SHAPE, 1.5), {}, {"scores": True}, ["inference", "1.5", "[0, 1]", "not logits"]),
    "scores NaN": (GOOD, np.full(SHAPE, np.nan), {}, {"scores": True}, ["inference", "NaN", "[0, 1]"]),
}


@pytest.mark.parametrize("case", BAD_ARRAYS)
def test_a_bad_array_is_one_clear_value_error_and_adds_nothing(case):
    label, inference, arguments, options, words = BAD_ARRAYS[case]
    evaluator = tool.Evaluator(**options)
    halves = (np.arange(SHAPE[1]) < 30).astype(np.uint8) * np.ones(SHAPE, np.uint8)
    evaluator.add(halves, halves * (1.0 if options.get("scores") else 1), id="before",
                  instances=GOOD if options.get("instances") else None)
    before = api_report(evaluator)
    with pytest.raises(ValueError) as refused:
        evaluator.add(label, inference, **arguments)
    message = str(refused.value)
    assert "\n" not in message and "--" not in message  # one line, naming options as the API does
    for word in words:
        assert word in message, (word, message)
    assert len(evaluator) == 1 and api_report(evaluator) == before


def test_a_failing_batch_adds_none_of_its_images():
    """The third image of a batch is bad: the first two are not added either, and the same batch, put
    right, is then added whole under the same ids."""
    labels = random_set(60, count=3)
    batch = np.stack([labels[key][0] for key in sorted(labels)]).astype(np.int32)
    bad = batch.copy()
    bad[2, 0, 0] = 300
    evaluator = tool.Evaluator()
    with pytest.raises(ValueError, match="image c: label: an array of int32 with largest value 300"):
        evaluator.add(bad, batch, id=["a", "b", "c"])
    assert len(evaluator) == 0
    evaluator.add(batch, batch, id=["a", "b", "c"])
    assert [image["id"] for image in api_report(evaluator)["images"]] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="'a' was added before"):
        evaluator.add(GOOD, GOOD, id="a")
    assert len(evaluator) == 3


def test_a_failing_add_leaves_the_numbering_alone():
    evaluator = tool.Evaluator()
    with pytest.raises(ValueError):
        evaluator.add(GOOD, GOOD.astype(np.float32))
    evaluator.add(GOOD, GOOD)
    assert [image["id"] for image in api_report(evaluator)["images"]] == ["1"]


@pytest.mark.parametrize("label", [GOOD, GOOD_BATCH], ids=["one image", "a batch"])
def test_one_valid_mask_of_another_size_is_refused_naming_valid(label):
    with pytest.raises(ValueError) as refused:
        tool.Evaluator().add(label, label, valid=np.ones((40, 61), bool))
    assert "valid" in str(refused.value) and "40, 61" in str(refused.value)


def test_one_valid_mask_serves_a_whole_batch():
    pairs = random_set(62, count=3, void=0.05)
    keys = sorted(pairs)
    inside = np.random.default_rng(62).random(SHAPE) < 0.7
    expected = api_report(one_by_one(pairs, valid=dict.fromkeys(keys, inside), ignore_index=255))
    batch = tool.Evaluator(ignore_index=255).add(np.stack([pairs[key][0] for key in keys]),
                                                 np.stack([pairs[key][1] for key in keys]), id=keys, valid=inside)
    assert api_report(batch) == expected


def test_ids_the_report_could_not_show_as_given_are_refused():
    """An id must be printable text below the folder, as the ids of files are: 'a\nb' would be
    shown as 'a\\nb', another id's text, and the report would not merge."""
    evaluator = tool.Evaluator()
    for bad, words in (("a\nb", "printable"), ("../up", "below"), (".hidden", "below")):
        with pytest.raises(ValueError, match=words):
            evaluator.add(GOOD, GOOD, id=bad)
    assert len(evaluator.add(GOOD, GOOD, id="a\\nb").add(GOOD, GOOD, id="city/a")) == 2


def test_ids_may_be_text_whole_numbers_and_0_d_arrays():
    evaluator = tool.Evaluator()
    evaluator.add(GOOD, GOOD, id=7).add(GOOD, GOOD, id=np.int64(8)).add(GOOD, GOOD, id=np.array("nine"))
    evaluator.add(GOOD_BATCH, GOOD_BATCH, id=np.array([10, 11, 12])).add(GOOD, GOOD)
    assert [image["id"] for image in api_report(evaluator)["images"]] == ["1", "7", "8", "10", "11", "12", "nine"]
    with pytest.raises(ValueError, match="'7' was added before"):
        evaluator.add(GOOD, GOOD, id="7")


def test_an_inference_id_above_255_is_taken_through_inference_map():
    rng = np.random.default_rng(61)
    label = rng.integers(0, 3, (12, 16)).astype(np.uint8)
    inference = np.array([0, 1, 256])[rng.integers(0, 3, (12, 16))]
    report = api_report(tool.Evaluator(inference_map={256: 2}).add(label, inference))
    assert_report_matches_sklearn(report["images"][0], label, np.where(inference == 256, 2, inference), None, 0.0)
    with pytest.raises(ValueError, match="largest value 256.*inference_map"):
        tool.Evaluator().add(label, inference)


BAD_OPTIONS = {  # options: words of the ValueError
    "bootstrap=5": ({"bootstrap": 5}, ["bootstrap 5", "at least 100"]),
    "bootstrap=True": ({"bootstrap": True}, ["bootstrap", "takes a value"]),
    "zero_division=2": ({"zero_division": 2}, ["zero_division", "'2'", "'nan'"]),
    "zero_division=None": ({"zero_division": None}, ["zero_division"]),
    "spacing=(0, 1)": ({"spacing": (0, 1)}, ["spacing", "above 0"]),
    "spacing=1": ({"spacing": 1}, ["spacing", "two values"]),
    "class_names='nope'": ({"class_names": "nope"}, ["class_names", "nope", "neither a preset", "nor a file"]),
    "class_names with a str key": ({"class_names": {"a": "b"}}, ["class_names", "'a'", "not an id"]),
    "ignore_index='x'": ({"ignore_index": "x"}, ["ignore_index", "'x'"]),
    "ignore_index=256": ({"ignore_index": 256}, ["ignore_index 256", "0..255"]),
    "confidence=1.5": ({"confidence": 1.5}, ["confidence", "between 0 and 1"]),
    "seed=-1": ({"seed": -1}, ["seed", "0 or more"]),
    "threshold=2": ({"threshold": 2.0}, ["threshold", "[0, 1]"]),
    "positive_class without scores": ({"positive_class": 1}, ["positive_class", "scores"]),
    "label_map of floats": ({"label_map": {1.5: 2}}, ["label_map", "{from id: to id}"]),
    "label_map to 300": ({"label_map": "1:300"}, ["label_map", "0..255"]),
    "groups of an id above 255": ({"groups": {"a": [300]}}, ["groups", "300"]),
    "instances=1": ({"instances": 1}, ["instances", "True"]),
    "check_with_sklearn='yes'": ({"check_with_sklearn": "yes"}, ["check_with_sklearn", "True or False"]),
    "labels='x'": ({"labels": "x"}, ["labels does not apply", "add()"]),
    "valid_masks='v'": ({"valid_masks": "v"}, ["valid_masks does not apply", "valid="]),
    "format='json'": ({"format": "json"}, ["format does not apply", "report()"]),
    "output_dir='x'": ({"output_dir": "x"}, ["output_dir does not apply", "write_folder"]),
    "jobs=2": ({"jobs": 2}, ["jobs does not apply"]),
    "digits=3": ({"digits": 3}, ["digits does not apply", "text()"]),
}


@pytest.mark.parametrize("case", BAD_OPTIONS)
def test_a_bad_option_is_a_value_error_naming_it(case):
    options, words = BAD_OPTIONS[case]
    with pytest.raises(ValueError) as refused:
        tool.Evaluator(**options)
    message = str(refused.value)
    assert "\n" not in message and "--" not in message
    for word in words:
        assert word in message, (word, message)


def test_an_unknown_option_is_a_type_error_and_a_value_error():
    for error in (TypeError, ValueError, tool.UnknownOption):
        with pytest.raises(error, match="foo is no option of an Evaluator"):
            tool.Evaluator(foo=1)
    with pytest.raises(tool.UnknownOption, match="did you mean ignore_index"):
        tool.Evaluator(ignore_idx=255)
    for digits in (99, 2.0, True):
        with pytest.raises(ValueError, match="digits must be a whole number within"):
            tool.Evaluator().text(digits=digits)


def test_help_is_no_option_and_not_its_own_suggestion():
    with pytest.raises(tool.UnknownOption) as refused:
        tool.Evaluator(help=True)
    assert "did you mean help" not in str(refused.value)


# ---------------------------------------------------------------- 7: importing and using it changes nothing

STATE_PROBE = r"""
import csv, ctypes, locale, logging, os, signal, sys, threading, warnings
loaded = []  # every C library loaded (reuse_freed_memory's call of glibc's mallopt goes through ctypes.CDLL)
class Recording(ctypes.CDLL):
    def __init__(self, *args, **kwargs):
        loaded.append(args)
        super().__init__(*args, **kwargs)
ctypes.CDLL = Recording
import numpy as np
from PIL import Image, PngImagePlugin

def handlers():
    found = {}
    for number in signal.valid_signals():
        try:
            found[int(number)] = signal.getsignal(number)
        except (OSError, ValueError):
            pass
    return found

def umask():
    mask = os.umask(0o22)
    os.umask(mask)
    return mask

def state():
    return {"argv": list(sys.argv), "path": list(sys.path), "signals": handlers(),
            "warnings": list(warnings.filters), "max_image_pixels": Image.MAX_IMAGE_PIXELS,
            "max_text_chunk": PngImagePlugin.MAX_TEXT_CHUNK,
            "streams": [(stream.encoding, stream.errors, stream.line_buffering) for stream in (sys.stdout, sys.stderr)],
            "numpy errors": np.geterr(), "numpy print": np.get_printoptions(), "cwd": os.getcwd(),
            "environ": dict(os.environ), "locale": locale.setlocale(locale.LC_ALL), "umask": umask(),
            "recursion": sys.getrecursionlimit(), "hooks": (sys.excepthook, sys.displayhook),
            "logging": (list(logging.root.handlers), logging.root.level), "csv": csv.field_size_limit(),
            "threads": threading.active_count(), "C libraries": list(loaded)}

def changed(before):
    after = state()
    return sorted(key for key in before if before[key] != after[key])

sys.argv[1:] = ["--labels", "x", "--quiet"]  # what the program that imports the module was given
sys.path.insert(0, os.environ["PROBE_ROOT"])
before = state()
import Semantic_Segmentation_Label_Metrics as tool
said = ["import changed %s" % changed(before)]
if os.environ["PROBE_USE"]:
    # what the tool imports when first needed (--distances, --check-with-sklearn) sets warnings filters
    # of its own on import (scipy.special's, numpy.matrixlib's): imported first, as a program would have
    import scipy.spatial, sklearn.metrics
    before = state()
    evaluator = tool.Evaluator(ignore_index=255, boundary=True, bootstrap=100, distances=True,
                               check_with_sklearn=True)
    evaluator.add(np.eye(20, dtype=np.uint8), np.ones((20, 20), np.uint8))
    evaluator.report(), evaluator.text()
    evaluator.write_folder(os.path.join(os.environ["PROBE_TMP"], "folder"))
    said.append("use changed %s" % changed(before))
sys.stdout.write("\n".join(said) + "\n")
"""


def probe(tmp_path, use):
    """(stdout, stderr) of STATE_PROBE in a new interpreter: import the module (and use it)."""
    done = subprocess.run([sys.executable, "-c", STATE_PROBE], capture_output=True, text=True, cwd=tmp_path,
                          timeout=60, env={**os.environ, "PROBE_ROOT": str(ROOT), "PROBE_TMP": str(tmp_path),
                                           "PROBE_USE": "1" if use else ""})
    return done.stdout, done.stderr


def test_importing_the_module_prints_nothing_and_changes_nothing(tmp_path):
    """No output; sys.argv and sys.path, signal handlers, warnings filters, Pillow's limits, the standard
    streams' error handling and the rest as they were; no C library loaded (glibc's malloc left as set)."""
    out, err = probe(tmp_path, use=False)
    assert (out, err) == ("import changed []\n", "")


def test_using_an_evaluator_changes_nothing_around_it(tmp_path):
    out, err = probe(tmp_path, use=True)
    assert (out, err) == ("import changed []\nuse changed []\n", "")


def test_an_evaluator_prints_nothing(tmp_path, capfd):
    pairs = random_set(70, count=3, void=0.05)
    evaluator = tool.Evaluator(ignore_index=255, boundary=True, distances=True, bootstrap=100,
                               check_with_sklearn=True)
    for key, (label, inference) in pairs.items():
        evaluator.add(label, inference, id=key)
    evaluator.report(), evaluator.text(brief=True)
    evaluator.write_folder(tmp_path / "folder")
    with pytest.raises(ValueError):
        evaluator.add(GOOD, GOOD.astype(float))
    assert capfd.readouterr() == ("", "")


# ---------------------------------------------------------------- 8: the report folder

def test_write_folder_writes_the_command_lines_folder_of_the_same_numbers(tmp_path, monkeypatch, capsys):
    """report.json is report(); every table is the command line's (--output-dir) on the same masks
    as files, and each image's matrix is scikit-learn's; index.html links each image's page. The
    overlays, thumbnails and colour keys are the command line's only: an Evaluator keeps no pixel."""
    monkeypatch.chdir(tmp_path)
    pairs = random_set(80, count=3, void=0.05)
    write_set(tmp_path, pairs)
    (tmp_path / "groups.txt").write_text("low: 0 1\n", encoding="utf-8")
    assert tool.main(["--ignore-index", "255", "--groups", "groups.txt", "--output-dir", "cli", "--quiet"]) == 0
    capsys.readouterr()
    evaluator = tool.Evaluator(ignore_index=255, groups={"low": [0, 1]})
    for key in sorted(pairs):
        evaluator.add(*pairs[key], id=key)
    assert evaluator.write_folder(tmp_path / "api") == tmp_path / "api"
    api, cli = tmp_path / "api", tmp_path / "cli"
    assert json.loads((api / "report.json").read_text(encoding="utf-8")) == api_report(evaluator)
    assert_same_report(json.loads((api / "report.json").read_text(encoding="utf-8")),
                       json.loads((cli / "report.json").read_text(encoding="utf-8")))
    tables = sorted(path.relative_to(cli) for path in cli.rglob("*.csv"))
    assert tables == sorted(path.relative_to(api) for path in api.rglob("*.csv"))
    assert len(tables) >= 6 + len(pairs)
    for table in tables:
        assert (api / table).read_text(encoding="utf-8") == (cli / table).read_text(encoding="utf-8"), table
    for key, (label, inference) in pairs.items():
        rows = [line.split(",") for line in (api / "matrices" / f"{key}.csv").read_text().splitlines()]
        ids = [int(cell) for cell in rows[0][1:]]
        counted = label != 255
        expected = confusion_matrix(label[counted], inference[counted], labels=ids)
        assert [row[0] for row in rows[1:]] == [str(class_id) for class_id in ids]
        np.testing.assert_array_equal([[int(cell) for cell in row[1:]] for row in rows[1:]], expected)
    page = (api / "index.html").read_text(encoding="utf-8")
    assert all(f"reports/{key}.html" in page and (api / "reports" / f"{key}.html").is_file() for key in pairs)
    assert (api / "confusion_matrix.png").is_file()


def test_write_folder_refuses_a_file_and_keeps_other_files(tmp_path):
    evaluator = tool.Evaluator().add(GOOD, GOOD)
    (tmp_path / "a file").write_text("mine")
    with pytest.raises(ValueError, match="is a file"):
        evaluator.write_folder(tmp_path / "a file")
    assert (tmp_path / "a file").read_text() == "mine"
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "notes.txt").write_text("mine")
    evaluator.write_folder(str(tmp_path / "folder"))  # a str will do
    assert (tmp_path / "folder" / "notes.txt").read_text() == "mine"
    assert json.loads((tmp_path / "folder" / "report.json").read_text()) == api_report(evaluator)



def test_an_evaluator_with_valid_masks_merges_with_one_without():
    """Valid masks are some images' own (a rank may have none): merged, the whole notes them."""
    with_mask = tool.Evaluator().add(GOOD, GOOD, id="a", valid=np.ones(SHAPE, bool))
    merged = tool.Evaluator.merged([with_mask, tool.Evaluator().add(GOOD, GOOD, id="b")])
    assert len(merged) == 2 and merged.report()["input"]["valid_masks"] == "add(valid=)"


def test_an_option_of_none_is_its_default_but_an_ignore_index_of_none_counts_every_id():
    plain = api_report(tool.Evaluator().add(GOOD, GOOD))
    assert api_report(tool.Evaluator(num_classes=None, exclude_from_means=None, class_names=None,
                                     label_map=None).add(GOOD, GOOD)) == plain
    assert tool.Evaluator(ignore_index=None).report()["ignore_index_from"] == "--ignore-index"
    with pytest.raises(ValueError, match="zero_division"):
        tool.Evaluator(zero_division=None)
