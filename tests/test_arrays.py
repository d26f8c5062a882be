"""Masks saved as NumPy arrays (.npy, or .npz holding one array) are read as PNG masks are: the same
numbers (scikit-learn's on the raw arrays), the same checks, one line for each bad file."""

import numpy as np
import pytest
from PIL import Image

from conftest import assert_report_matches_sklearn, json_run, tool


def write(folder, name, array, kind):
    """array saved as folder/name.<kind>: png, npy, npz (one array) or npz2 (two arrays)."""
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "png":
        Image.fromarray(array.reshape(array.shape[-2:]).astype(np.uint8)).save(
            folder / f"{name}.png")
    elif kind == "npy":
        np.save(folder / f"{name}.npy", array)
    else:
        np.savez(folder / f"{name}.npz", **({"a": array} if kind == "npz" else
                                            {"a": array, "b": array}))


def pairs(seed, count=4, shape=(20, 30)):
    rng = np.random.default_rng(seed)
    return {f"img{index}": (rng.integers(0, 5, shape).astype(np.uint8),
                            rng.integers(0, 5, shape).astype(np.uint8)) for index in range(count)}


def numbers(document):
    """What a report says of its masks, without the file names."""
    return [{key: value for key, value in image.items() if key not in ("label", "inference")}
            for image in document["images"]], document["combined"]


@pytest.mark.parametrize("kinds", [("npy", "npy"), ("png", "npz"), ("npz", "png")])
def test_array_masks_are_scored_as_png_masks(tmp_path, monkeypatch, capsys, kinds):
    monkeypatch.chdir(tmp_path)
    masks = pairs(1)
    for name, (label, inference) in masks.items():
        write(tmp_path / "png" / "labels", name, label, "png")
        write(tmp_path / "png" / "inferences", name, inference, "png")
        # other integer types and a batch axis of one, as a model's output often is
        write(tmp_path / "arrays" / "labels", name, label.astype(np.int64), kinds[0])
        write(tmp_path / "arrays" / "inferences", name, inference[None].astype(np.int32),
              kinds[1])
    as_png = json_run(capsys, "--labels", "png/labels", "--inferences", "png/inferences",
                      "--ignore-index", "4")
    as_arrays = json_run(capsys, "--labels", "arrays/labels", "--inferences",
                         "arrays/inferences", "--ignore-index", "4")
    assert numbers(as_arrays) == numbers(as_png)
    for image in as_arrays["images"]:
        label, inference = masks[image["id"]]
        assert_report_matches_sklearn(image, label, inference, 4, 0.0)


def test_bad_arrays_are_one_line_each_and_the_rest_is_scored(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    label = np.arange(600, dtype=np.uint8).reshape(20, 30) % 4
    bad = {"floats": label.astype(np.float32), "negative": label.astype(np.int16) - 1,
           "above_255": label.astype(np.int32) * 100, "three_d": np.stack([label, label]),
           "strings": label.astype(str)}
    for name, array in {"good": label, **bad}.items():
        write(tmp_path / "labels", name, label, "png")
        write(tmp_path / "inferences", name, array, "npy")
    write(tmp_path / "labels", "two", label, "png")
    write(tmp_path / "inferences", "two", label, "npz2")
    write(tmp_path / "labels", "garbage", label, "png")
    (tmp_path / "inferences" / "garbage.npy").write_bytes(b"not an array")
    status = tool.main(["--quiet"])
    captured = capsys.readouterr()
    assert status == 1 and "=== good:" in captured.out
    lines = captured.err.strip().splitlines()
    assert len(lines) == len(bad) + 2 and all(line.startswith("error: inferences/")
                                              for line in lines)
    said = "\n".join(lines)
    for expected in ("float32, not of class ids; score maps are read with --scores",
                     "ids outside 0..255 (from -1 to 2)", "ids outside 0..255 (from 0 to 300)",
                     "a 3-D array", "a mask holds integer class ids", "holds 2 arrays",
                     "garbage.npy: not a NumPy .npy or .npz file"):
        assert expected in said, expected


def test_a_png_and_an_array_for_one_id_are_refused_as_two_masks(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    label, inference = pairs(2, count=1)["img0"]
    write(tmp_path / "labels", "x", label, "png")
    write(tmp_path / "labels", "x", label, "npy")
    write(tmp_path / "inferences", "x", inference, "png")
    assert tool.main(["--quiet"]) == 2
    assert "labels/x.npy and labels/x.png: two masks for one id" in capsys.readouterr().err


def test_array_score_maps_valid_masks_and_bool_masks(tmp_path, monkeypatch, capsys):
    """--scores reads float arrays from .npz as from .npy; a valid mask may be an array (non-zero
    counts); a bool array is a 0/1 mask, checked against a 0/255 one as a 1-bit file is."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(3)
    label = (rng.random((16, 24)) < 0.4).astype(np.uint8)
    scores = rng.random((16, 24))
    valid = rng.random((16, 24)) < 0.8
    write(tmp_path / "labels", "a", label, "png")
    write(tmp_path / "npy", "a", scores, "npy")
    write(tmp_path / "npz", "a", scores, "npz")
    write(tmp_path / "valid", "a", valid, "npy")
    by_npy, by_npz = (json_run(capsys, "--scores", "--inferences", folder, "--valid-masks", "valid")
                      for folder in ("npy", "npz"))
    assert numbers(by_npy) == numbers(by_npz)
    assert by_npy["combined"]["pixels"] == int(valid.sum())
    write(tmp_path / "bool_labels", "a", label.astype(bool), "npy")
    write(tmp_path / "wide", "a", label * 255, "png")
    status = tool.main(["--labels", "bool_labels", "--inferences", "wide", "--quiet"])
    assert status == 1 and "disagree in bit depth" in capsys.readouterr().err
