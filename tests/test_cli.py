"""The command line: main([...]) in-process on masks built in tmp_path, and the README's command."""

import json
import re
import math
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, assert_report_matches_sklearn, tool


def write_pairs(folder, pairs):
    """Save {id: (label, inference)} as PNGs in folder/labels and folder/inferences."""
    (folder / "labels").mkdir(exist_ok=True)
    (folder / "inferences").mkdir(exist_ok=True)
    for image_id, (label, inference) in pairs.items():
        Image.fromarray(label).save(folder / "labels" / f"{image_id}.png")
        Image.fromarray(inference).save(folder / "inferences" / f"{image_id}.png")


@pytest.fixture
def three_pairs(tmp_path, monkeypatch):
    rng = np.random.default_rng(7)
    pairs = {}
    for image_id in ("img10", "img2", "img1"):
        label = rng.choice(np.array([0, 1, 2, 255], np.uint8), size=(20, 30))
        inference = np.where(rng.random(label.shape) < 0.8, label, rng.integers(0, 4, label.shape))
        inference[inference == 255] = 3
        pairs[image_id] = (label, inference.astype(np.uint8))
    write_pairs(tmp_path, pairs)
    monkeypatch.chdir(tmp_path)
    return pairs


def run_json(capsys, *args):
    status = tool.main(["--format", "json", *args])
    return status, json.loads(capsys.readouterr().out)


def test_json_has_the_documented_shape_and_types(three_pairs, capsys):
    status, document = run_json(capsys, "--class-names", "cityscapes")
    assert status == 0
    assert set(document) == {"label_space", "ignore_index", "ignore_index_from", "zero_division", "class_names",
                             "input", "shards", "boundary_ratio", "threshold", "positive_class", "instance_sizes", "groups",
                             "distances", "exclude_from_means", "coco", "images",
                             "combined", "errors", "warnings"}
    assert document["shards"] is None and document["boundary_ratio"] is None  # no --shard, no --boundary
    assert document["coco"] is None  # labels from mask files, not COCO's
    assert document["input"] == {"recursive": False, "label_suffix": None, "inference_suffix": None,
                                 "label_map": None, "inference_map": None, "palette": None,
                                 "valid_masks": None, "valid_suffix": None, "label_encoding": None,
                                 "instances": None, "instance_suffix": None, "instance_map": None}
    assert document["warnings"] == []
    # The preset declares its void, as a class-names file's 'ignore: 255' line does, and the head says so.
    assert (document["label_space"], document["ignore_index"], document["zero_division"]) == (256, 255, 0)
    assert document["ignore_index_from"] == "--class-names cityscapes"
    assert document["class_names"] == {str(class_id): name for class_id, name
                                       in sorted(tool.DATASETS["cityscapes"].names.items())}
    assert [image["id"] for image in document["images"]] == ["img1", "img2", "img10"]
    assert document["errors"] == []
    average_keys = {"precision", "recall", "f1_score", "iou", "specificity"}
    headline_keys = {"accuracy", "mean_iou", "mean_accuracy", "mean_dice", "frequency_weighted_iou", "cohen_kappa",
                     "matthews_corrcoef"}
    for image in document["images"]:
        assert set(image) == {"id", "label", "inference", "pixels", "confusion_matrix", "classes",
                              "unexpected_ids", "macro_avg", "weighted_avg", *headline_keys}
        assert all(type(image[key]) is float for key in headline_keys)
        assert image["label"] == f"labels/{image['id']}.png"
        assert image["inference"] == f"inferences/{image['id']}.png"
        assert type(image["pixels"]) is int
        assert all(type(value) is int for row in image["confusion_matrix"]["matrix"] for value in row)
        for class_id, entry in image["classes"].items():
            assert set(entry) == {"name", "precision", "recall", "f1_score", "iou", "specificity", "support",
                                  "occurs_in"}
            assert type(entry["support"]) is int and class_id.isdigit()
            assert entry["occurs_in"] in ("both", "label", "inference")
        assert image["classes"]["0"]["name"] == "road"
        assert set(image["macro_avg"]) == set(image["weighted_avg"]) == average_keys
        assert image["mean_iou"] == image["macro_avg"]["iou"]
    combined = document["combined"]
    assert set(combined) == {"images", "pixels", "confusion_matrix", "classes", "unexpected_ids",
                             "macro_avg", "weighted_avg", *headline_keys, "mean_image_mean_iou", "conventions",
                             "per_case", "per_case_means"}
    assert combined["images"] == 3
    conventions = combined["conventions"]
    assert set(conventions) == {"num_classes", "num_classes_from", "agree", "tools"}
    assert (conventions["num_classes"], conventions["num_classes_from"]) == (19, "the class names")
    assert set(conventions["tools"]) == {"mmsegmentation", "torchmetrics_jaccard", "torchmetrics_mean_iou",
                                         "detectron2", "cityscapes"}
    for entry in conventions["tools"].values():
        described = {"short", "name", "rule", "refused"}
        assert described < set(entry) and set(entry) - described <= set(tool.PEER_NUMBERS)


@pytest.mark.parametrize("zero_division", ["0", "1", "nan"])
@pytest.mark.parametrize("ignore_index", [None, 255, 1])
def test_json_numbers_equal_scikit_learn_per_image_and_combined(three_pairs, capsys,
                                                                 zero_division, ignore_index):
    args = ["--zero-division", zero_division]
    if ignore_index is not None:
        args += ["--ignore-index", str(ignore_index)]
    status, document = run_json(capsys, *args)
    assert status == 0
    z = float(zero_division)
    assert document["zero_division"] == (zero_division if math.isnan(z) else int(z))
    for image in document["images"]:
        label, inference = three_pairs[image["id"]]
        assert_report_matches_sklearn(image, label, inference, ignore_index, z)
    ordered = [three_pairs[image["id"]] for image in document["images"]]
    all_labels = np.concatenate([label.ravel() for label, _ in ordered])
    all_inferences = np.concatenate([inference.ravel() for _, inference in ordered])
    assert_report_matches_sklearn(document["combined"], all_labels, all_inferences, ignore_index, z)
    image_means = [image["mean_iou"] for image in document["images"]]
    assert document["combined"]["mean_image_mean_iou"] == pytest.approx(np.mean(image_means))


def test_json_has_no_nan_and_null_for_undefined(three_pairs, capsys):
    status = tool.main(["--format", "json", "--zero-division", "nan"])
    text = capsys.readouterr().out
    assert status == 0 and "NaN" not in text
    document = json.loads(text)
    label_only = [entry for image in document["images"] for entry in image["classes"].values()
                  if entry["occurs_in"] == "label"]
    assert label_only and all(entry["precision"] is None for entry in label_only)
    assert tool.main(["--zero-division", "nan"]) == 0
    assert "undefined values, 0/0 with --zero-division nan, are left out of both averages" in \
        capsys.readouterr().out


def test_text_report_has_every_section(three_pairs, capsys):
    assert tool.main(["--class-names", "cityscapes", "--ignore-index", "none"]) == 0
    out = capsys.readouterr().out
    assert out.count("=== img") == 3
    assert out.index("=== img1:") < out.index("=== img2:") < out.index("=== img10:")
    assert out.index("Per-image summary") < out.index("=== combined: 3 images")
    assert out.count("Confusion matrix (rows = label, columns = inference") == 4
    assert out.count("Classification report") == 4
    assert "label only: never predicted" in out  # 255 is in the labels and never predicted
    assert out.count("Headline numbers") == 4
    assert "recall (sensitivity)" in out and "F1 (Dice)" in out and "IoU (Jaccard)" in out
    combined = out[out.index("=== combined: 3 images"):]
    # The headline comes first in the combined section, and says the pooled mean IoU once.
    assert combined.index("Headline numbers") < combined.index("Confusion matrix") < combined.index(
        "What other tools would print")
    assert len(re.findall(r"^mIoU .*pooled over all pixels", combined, re.MULTILINE)) == 1
    assert "macro avg of IoU" not in combined
    assert "mean over images of each image's mean IoU" in combined
    assert " 0 road" in out and "255 void" in out


def test_brief_shows_the_summary_and_the_combined_section_only(three_pairs, capsys):
    assert tool.main(["--brief"]) == 0
    brief = capsys.readouterr().out
    assert "=== img" not in brief and brief.index("Per-image summary") < brief.index("=== combined: 3 images")
    assert tool.main([]) == 0
    whole = capsys.readouterr().out
    assert whole.endswith(brief)  # the same summary and combined section
    with pytest.raises(SystemExit) as stop:
        tool.main(["--brief", "--format", "json"])
    assert stop.value.code == 2


def test_text_numbers_are_the_json_numbers(three_pairs, capsys):
    _, document = run_json(capsys, "--ignore-index", "255")
    assert tool.main(["--ignore-index", "255", "--digits", "6"]) == 0
    out = capsys.readouterr().out
    combined = document["combined"]
    words = " ".join(out.split())
    for name, value in (("aAcc", combined["accuracy"]), ("mIoU", combined["mean_iou"]),
                        ("mIoU/image", combined["mean_image_mean_iou"]), ("mAcc", combined["mean_accuracy"]),
                        ("mDice", combined["macro_avg"]["f1_score"]), ("fwIoU", combined["weighted_avg"]["iou"]),
                        ("kappa", combined["cohen_kappa"]), ("MCC", combined["matthews_corrcoef"])):
        assert f" {name} {value:.6f} " in words
    for row in combined["confusion_matrix"]["matrix"]:
        assert " ".join(str(value) for value in row) in " ".join(out.split())


def test_class_names_file_in_labels_folder_is_used_and_unexpected_ids_listed(three_pairs, capsys):
    with open("labels/class_names.txt", "w", encoding="utf-8") as names:
        names.write("zero\none\n")
    _, document = run_json(capsys)
    combined = document["combined"]
    assert combined["classes"]["1"]["name"] == "one"
    labels = np.concatenate([label.ravel() for label, _ in three_pairs.values()])
    inferences = np.concatenate([inference.ravel() for _, inference in three_pairs.values()])
    for unnamed in (2, 3, 255):
        expected = int(np.sum((labels == unnamed) | (inferences == unnamed)))
        assert combined["unexpected_ids"][str(unnamed)] == expected
    assert tool.main([]) == 0
    assert "unexpected ids (no class name" in capsys.readouterr().out


def test_missing_partner_is_reported_and_the_rest_still_scored(three_pairs, tmp_path, capsys):
    (tmp_path / "inferences" / "img2.png").unlink()
    status, document = run_json(capsys)
    assert status == 1
    assert [image["id"] for image in document["images"]] == ["img1", "img10"]
    assert document["errors"] == [{"id": "img2", "path": "labels/img2.png",
                                   "error": "labels/img2.png: no inference of that name in inferences"}]


def test_the_readme_shows_what_the_tool_prints(capsys, monkeypatch):
    """The README's excerpt of real output, line for line, in order."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = "$ python Semantic_Segmentation_Label_Metrics.py --ignore-index 255\n"
    excerpt = readme[readme.index(command) + len(command):]
    excerpt = excerpt[:excerpt.index("```")]
    monkeypatch.chdir(ROOT)
    assert tool.main(["--ignore-index", "255"]) == 0
    printed = capsys.readouterr().out.splitlines()
    position = 0
    for line in excerpt.splitlines():
        if line and not line.startswith("[..."):
            assert line in printed[position:], line
            position = printed.index(line, position) + 1


def test_usage_errors_exit_2(three_pairs, capsys):
    for args in (["--ignore-index", "256"], ["--zero-division", "2"], ["--digits", "-1"],
                 ["--class-names", "no-such-file.txt"], ["--max-image-pixels", "0"]):
        with pytest.raises(SystemExit) as stop:
            tool.main(args)
        assert stop.value.code == 2
    assert "no-such-file.txt" in capsys.readouterr().err


def test_readme_command_runs_on_the_samples_as_a_user_would():
    """The README's command, in a subprocess from the repository root."""
    result = subprocess.run([sys.executable, "Semantic_Segmentation_Label_Metrics.py"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # labels/class_names.txt says 'ignore: 255': nothing to warn about
    assert "=== combined: 10 images, 4337601 pixels counted ===" in result.stdout
    assert result.stdout.count("=== 0000") == 10
    assert "Per-image summary" in result.stdout and "=== combined: 10 images" in result.stdout


def test_names_that_are_shown_alike_are_never_paired(tmp_path, monkeypatch, capsys):
    # A label whose name holds a real tab, an inference whose name holds a backslash and a t:
    # both are shown as pair\ttab, and they are different files.
    monkeypatch.chdir(tmp_path)
    mask = np.zeros((4, 4), np.uint8)
    write_pairs(tmp_path, {"good": (mask, mask)})
    Image.fromarray(mask).save(tmp_path / "labels" / "pair\ttab.png")
    Image.fromarray(mask).save(tmp_path / "inferences" / "pair\\ttab.png")
    status, document = run_json(capsys, "--output-dir", "out")
    assert status == 1
    assert [image["id"] for image in document["images"]] == ["good"]
    assert sorted(error["error"] for error in document["errors"]) == [
        "inferences/pair\\ttab.png: no label of that name in labels",
        "labels/pair\\ttab.png: no inference of that name in inferences"]


def test_a_name_with_a_tab_finds_its_picture_and_names_safe_files(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    label = np.zeros((6, 8), np.uint8)
    inference = label.copy()
    inference[0, 0] = 1
    write_pairs(tmp_path, {"a\tb": (label, inference)})
    (tmp_path / "images").mkdir()
    Image.fromarray(np.full((6, 8, 3), 200, np.uint8)).save(tmp_path / "images" / "a\tb.png")
    assert tool.main(["--output-dir", "out"]) == 0
    captured = capsys.readouterr()
    assert "=== a\\tb:" in captured.out and "for want of a camera picture" not in captured.err
    written = [path.name for path in (tmp_path / "out").rglob("*") if path.is_file()]
    assert all(name.isprintable() for name in written)


def test_a_run_before_installing_the_requirements_says_so_in_one_line():
    # Pillow made unimportable, as on a fresh machine before `pip install -r requirements.txt`.
    hide_pillow = ("import runpy, sys; sys.modules['PIL'] = None; "
                   "runpy.run_path('Semantic_Segmentation_Label_Metrics.py', run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", hide_pillow], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == ("error: the Python package Pillow is not installed; install what the tool needs "
                             "with: pip install -r requirements.txt\n")
