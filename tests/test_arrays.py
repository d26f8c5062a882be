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
                     "int16 with smallest value -1, 150 pixels outside 0..255",
                     "int32 with largest value 300, 150 pixels outside 0..255; class ids must be "
                     "within 0..255; map them into it with --label-map or --inference-map",
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


def test_ids_above_255_are_mapped_in_by_an_id_map(tmp_path, monkeypatch, capsys):
    """16-bit PNG and array masks with ids up to 65535 are scored when an id map sends every id
    above 255 into 0..255 (listed, or '*: to' for the rest): the numbers are those of the masks
    mapped with numpy first; an id above 255 the map leaves out refuses its file in one line."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(28)
    wide_ids = np.array([0, 7, 300, 1000, 65535])
    lookup = {300: 1, 1000: 2, 65535: 3}  # the map below; '*: 9' sends every other id, 0 too, to 9
    (tmp_path / "map.txt").write_text("300: 1\n1000: 2\n65535: 3\n*: 9\n", encoding="utf-8")
    mapped = {}
    for index in range(3):
        label = wide_ids[rng.integers(0, 5, (12, 16))].astype(np.uint16)
        inference = rng.integers(0, 4, (12, 16)).astype(np.uint8)
        (tmp_path / "labels16").mkdir(exist_ok=True)
        Image.fromarray(label).save(tmp_path / "labels16" / f"a{index}.png")
        write(tmp_path / "labels_npy", f"a{index}", label.astype(np.int32), "npy")
        write(tmp_path / "inferences", f"a{index}", inference, "png")
        expected = np.vectorize(lambda value: lookup.get(int(value), 9))(label).astype(np.uint8)
        write(tmp_path / "expected", f"a{index}", expected, "png")
        mapped[f"a{index}"] = expected, inference
    reference = json_run(capsys, "--labels", "expected")
    for labels in ("labels16", "labels_npy"):
        document = json_run(capsys, "--labels", labels, "--label-map", "map.txt")
        assert numbers(document) == numbers(reference)
    for image in reference["images"]:
        assert_report_matches_sklearn(image, *mapped[image["id"]], None, 0.0)
    (tmp_path / "partial.txt").write_text("300: 1\n1000: 2\n", encoding="utf-8")  # no 65535, no '*'
    status = tool.main(["--labels", "labels16", "--label-map", "partial.txt", "--quiet"])
    err = capsys.readouterr().err
    assert status == 1 and "does not map (the largest 65535)" in err
    assert len(err.strip().splitlines()) == 3  # one line per file
    status = tool.main(["--labels", "labels16", "--quiet"])
    err = capsys.readouterr().err
    assert status == 1 and "largest value 65535" in err and "--label-map" in err
    for bad in ("65536: 1", "300: 256"):
        (tmp_path / "bad.txt").write_text(bad + "\n", encoding="utf-8")
        with pytest.raises(SystemExit) as stopped:
            tool.main(["--labels", "labels16", "--label-map", "bad.txt", "--quiet"])
        assert stopped.value.code == 2
        assert "from-id within 0..65535 and a to-id within 0..255" in capsys.readouterr().err


def test_a_preset_map_does_not_reach_ids_above_255(tmp_path, monkeypatch, capsys):
    """Cityscapes' instanceIds files (class id x 1000 + instance) given as labels with
    --label-map cityscapes-labelids are refused, as before: the preset's '*' maps 8-bit ids only,
    and would otherwise turn every instance pixel into void."""
    monkeypatch.chdir(tmp_path)
    label = np.full((8, 8), 7, np.uint16)
    label[2:5, 2:5] = 26001
    (tmp_path / "labels").mkdir()
    Image.fromarray(label).save(tmp_path / "labels" / "a.png")
    write(tmp_path / "inferences", "a", np.zeros((8, 8), np.uint8), "png")
    assert tool.main(["--label-map", "cityscapes-labelids", "--quiet"]) == 1
    assert "largest value 26001" in capsys.readouterr().err
