"""Pairing files with care: never a file with itself (one folder given as both sides, links), --recursive
through linked sub-folders, option files that are too large or that are also presets, and a write failure
that names the file being written.

Every fixture is built in tmp_path, the working folder of each test.
"""

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, assert_report_matches_sklearn, tool
from test_datasets import run_json

SHAPE = (12, 16)
SCRIPT = ROOT / "Semantic_Segmentation_Label_Metrics.py"


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def save(path, array):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def masks(seed, classes=4):
    rng = np.random.default_rng(seed)
    label = rng.integers(0, classes, SHAPE, dtype=np.uint8)
    inference = np.where(rng.random(SHAPE) < 0.7, label, rng.integers(0, classes, SHAPE)).astype(np.uint8)
    return label, inference


def run_process(args, **options):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120,
                          **options)


def errors_of(document):
    return [error["error"] for error in document["errors"]]


def assert_one_line(err, *words):
    """stderr ends in one error line holding every word, and holds no traceback."""
    assert "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    assert "error: " in last, err
    for word in words:
        assert word in last, (word, err)


# ---------------------------------------------------------------- A. never a file against itself

VOC = np.array([tool.class_colours()[k] for k in range(21)] + [tool.class_colours()[255]], np.uint8)


def write_vainf_results(count, rng):
    """DeepLabV3Plus-Pytorch's results/ folder: N_image.png (the photo), N_target.png and N_pred.png in VOC
    colours (255 drawn as (224, 224, 192), as its decode_target does), N_overlay.png (a figure, RGBA).
    Returns {N: (label ids, inference ids)}."""
    expected = {}
    for n in range(count):
        truth = rng.choice(np.array(list(range(21)) + [255], np.uint8), size=SHAPE)
        guess = np.where(rng.random(SHAPE) < 0.7, truth % 21, rng.integers(0, 21, SHAPE)).astype(np.uint8)
        save(f"results/{n}_image.png", rng.integers(0, 256, (*SHAPE, 3), dtype=np.uint8))
        save(f"results/{n}_target.png", VOC[np.where(truth == 255, 21, truth)])
        save(f"results/{n}_pred.png", VOC[guess])
        save(f"results/{n}_overlay.png", rng.integers(0, 256, (SHAPE[0] * 2, SHAPE[1] * 2, 4), dtype=np.uint8))
        expected[str(n)] = (truth, guess)
    return expected


def test_one_folder_of_deeplab_results_pairs_target_against_pred_and_passes_over_the_rest(capsys):
    expected = write_vainf_results(12, np.random.default_rng(1))
    status, document, err = run_json(capsys, "--labels", "results", "--inferences", "results",
                                     "--palette", "pascal-voc", "--ignore-index", "255")
    assert status == 0, err
    assert [image["id"] for image in document["images"]] == [str(n) for n in range(12)]
    for image in document["images"]:
        assert_report_matches_sklearn(image, *expected[image["id"]], 255, 0.0)
    assert err.count("\n") == 1, err  # one note, no other line
    assert err.startswith("note: --labels and --inferences are one folder: pairing *_target against *_pred "
                          "(12 pairs); passed over 24 other files (first: results/0_image.png)"), err
    assert document["combined"]["mean_iou"] < 1


def test_one_folder_given_as_both_never_scores_a_file_against_itself(capsys):
    for name in ("a", "b"):
        save(f"masks/{name}.png", masks(0)[0])
    os.symlink("masks", "also_masks")
    for args in (("--labels", "masks", "--inferences", "masks"), ("--labels", "masks", "--inferences", "also_masks"),
                 ("--labels", "masks", "--inferences", "./masks/"),
                 ("--labels", "masks", "--inferences", "masks", "--label-suffix", "_x", "--inference-suffix", "_x")):
        status, document, err = run_json(capsys, *args)
        assert status == 2 and document is None, (args, err)
        assert err.count("\n") == 1, err
        assert_one_line(err, "one folder", "--label-suffix", "--inference-suffix")


def test_one_folder_whose_endings_pair_two_ways_is_refused_naming_both(capsys):
    for name in ("a", "b"):
        label, inference = masks(1)
        save(f"out/{name}_mask.png", label)
        save(f"out/{name}_label.png", label)
        save(f"out/{name}_pred.png", inference)
    status, _, err = run_json(capsys, "--labels", "out", "--inferences", "out")
    assert status == 2
    assert_one_line(err, "_mask", "_label", "--label-suffix")


@pytest.mark.parametrize("label_ending, inference_ending", [("_gt", "_pred"), ("-label", "-prediction"),
                                                            ("_labels", "_preds"), ("_groundtruth", "_prediction")])
def test_one_folder_pairs_by_known_endings(label_ending, inference_ending, capsys):
    expected = {}
    for index, name in enumerate(("x1", "x2", "x10")):
        expected[name] = masks(index)
        save(f"out/{name}{label_ending}.png", expected[name][0])
        save(f"out/{name}{inference_ending}.png", expected[name][1])
    status, document, err = run_json(capsys, "--labels", "out", "--inferences", "out")
    assert status == 0, err
    assert f"pairing *{label_ending} against *{inference_ending} (3 pairs)" in err
    assert [image["id"] for image in document["images"]] == ["x1", "x2", "x10"]
    for image in document["images"]:
        assert_report_matches_sklearn(image, *expected[image["id"]], None, 0.0)


def test_one_folder_with_the_suffixes_given_uses_them_silently(capsys):
    expected = {name: masks(index) for index, name in enumerate(("a", "b"))}
    for name, (label, inference) in expected.items():
        save(f"out/{name}_truth.png", label)
        save(f"out/{name}_model.png", inference)
    status, document, err = run_json(capsys, "--labels", "out", "--inferences", "out",
                                     "--label-suffix", "_truth", "--inference-suffix", "_model")
    assert status == 0 and err == "", err
    for image in document["images"]:
        assert_report_matches_sklearn(image, *expected[image["id"]], None, 0.0)


def test_a_label_and_an_inference_that_are_one_file_are_refused(capsys):
    for name in ("hard", "soft", "good"):
        save(f"labels/{name}.png", masks(2)[0])
    os.link("labels/hard.png", "inferences.png")  # a hard link, moved into place below
    os.mkdir("inferences")
    os.rename("inferences.png", "inferences/hard.png")
    os.symlink(os.path.abspath("labels/soft.png"), "inferences/soft.png")
    save("inferences/good.png", masks(2)[1])
    status, document, err = run_json(capsys)
    assert status == 1, err
    assert [image["id"] for image in document["images"]] == ["good"]
    assert errors_of(document) == [
        f"labels/{name}.png: the label and the inference are the same file (inferences/{name}.png)"
        for name in ("hard", "soft")]


# ---------------------------------------------------------------- B. --recursive through linked folders

def write_city(folder, city, seed):
    label, inference = masks(seed)
    save(f"{folder}/labels/{city}/{city}_0.png", label)
    save(f"{folder}/inferences/{city}/{city}_0.png", inference)
    return label, inference


def test_recursive_follows_linked_sub_folders(capsys):
    expected = {"frankfurt/frankfurt_0": write_city("set", "frankfurt", 3),
                "lindau/lindau_0": write_city("elsewhere", "lindau", 4)}
    for side in ("labels", "inferences"):
        os.symlink(os.path.abspath(f"elsewhere/{side}/lindau"), f"set/{side}/lindau")
    status, document, err = run_json(capsys, "--labels", "set/labels", "--inferences", "set/inferences",
                                     "--recursive")
    assert status == 0, err
    assert sorted(image["id"] for image in document["images"]) == sorted(expected)
    for image in document["images"]:
        assert_report_matches_sklearn(image, *expected[image["id"]], None, 0.0)


def test_recursive_names_a_link_in_a_loop_and_scores_the_rest(capsys):
    label, inference = write_city(".", "bonn", 5)
    os.symlink("..", "labels/bonn/up")  # labels/bonn/up/bonn/up/... without end
    status, document, err = run_json(capsys, "--recursive")
    assert status == 1, err
    assert [image["id"] for image in document["images"]] == ["bonn/bonn_0"]
    assert errors_of(document) == ["labels/bonn/up: a link in a loop: not followed"]
    assert_report_matches_sklearn(document["combined"], label, inference, None, 0.0)


def test_recursive_reads_a_folder_reached_by_two_links_once(capsys):
    label, inference = write_city(".", "aachen", 6)
    save("shared/s_0.png", label)
    os.symlink(os.path.abspath("labels/aachen"), "labels/0_alias")  # before aachen in id order
    for name in ("ulm", "zug"):
        os.symlink(os.path.abspath("shared"), f"labels/{name}")
        save(f"inferences/{name}/s_0.png", inference)
    status, document, err = run_json(capsys, "--recursive")
    assert status == 1, err
    assert [image["id"] for image in document["images"]] == ["aachen/aachen_0", "ulm/s_0"]
    errors = errors_of(document)
    assert "labels/0_alias: a second link to labels/aachen, already read: not followed" in errors
    assert "labels/zug: a second link to labels/ulm, already read: not followed" in errors
    assert document["combined"]["pixels"] == 2 * label.size


# ---------------------------------------------------------------- C. option files too large to be one

@pytest.mark.parametrize("option", ["--class-names", "--label-map", "--palette"])
def test_a_huge_option_file_is_refused_before_it_is_read(option):
    save("labels/a.png", masks(7)[0])
    save("inferences/a.png", masks(7)[1])
    with open("huge.txt", "wb") as huge:
        huge.truncate(3 << 30)  # 3 GiB, sparse: nothing is written

    def limit_memory():  # a tool that reads it all fails here rather than take the machine's memory
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    started = time.monotonic()
    result = run_process([option, "huge.txt"], preexec_fn=limit_memory, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert result.returncode == 2, result.stderr
    assert_one_line(result.stderr, option, "huge.txt", "3221225472 bytes")
    assert time.monotonic() - started < 30


# ---------------------------------------------------------------- D. a write failure names what is written

def test_a_full_disk_while_copying_a_picture_names_the_copy_not_the_picture(monkeypatch, capsys):
    label, inference = masks(8)
    save("labels/a.png", label)
    save("inferences/a.png", inference)
    save("images/a.png", np.zeros((*SHAPE, 3), np.uint8))

    def copyfile(source, destination, **options):
        raise OSError(errno.ENOSPC, "No space left on device", str(source))
    monkeypatch.setattr(tool.shutil, "copyfile", copyfile)
    assert tool.main(["--output-dir", "out", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "out/pictures/a.png: No space left on device" in err
    assert "images/a.png" not in err


# ---------------------------------------------------------------- E. a preset that is also a file

@pytest.mark.parametrize("option, value, content", [
    ("--class-names", "camvid", "sky\nroad\n"),
    ("--palette", "pascal-voc", "0 0 0\n255 0 0\n"),
    ("--label-map", "reduce-zero-label", "0: 1\n"),
    ("--inference-map", "1:0", "1: 1\n"),  # an inline list
])
def test_a_value_that_is_both_a_preset_and_a_file_is_refused_naming_both(option, value, content, capsys):
    save("labels/a.png", np.zeros(SHAPE, np.uint8))
    save("inferences/a.png", np.ones(SHAPE, np.uint8))
    Path(value).write_text(content)
    status, _, err = run_json(capsys, option, value)
    assert status == 2
    assert_one_line(err, option, value, "a file", f"./{value}")
    status, document, err = run_json(capsys, option, f"./{value}")  # the file, said as a path
    assert status == 0, err
    os.unlink(value)
    status, document, err = run_json(capsys, option, value)  # the preset, or the list
    assert status in (0, tool.NUMBERS_IN_DOUBT), err  # read (the id check may doubt these made-up masks)
