"""Public datasets' layouts and id schemes: sub-folders and name suffixes, id maps, colour palettes,
class-name presets and the warnings about mismatched id schemes.

Every fixture is built in tmp_path. Every number is checked against scikit-learn on the raw pixel
arrays after the mapping the options ask for (done here with numpy, from the literal tables below).
"""

import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, assert_report_matches_sklearn, tool

SHAPE = (24, 32)

# Cityscapes labelId -> trainId (cityscapesScripts' labels.py); every other id is 255.
LABELID_TO_TRAINID = {
    0: 255, 1: 255, 2: 255, 3: 255, 4: 255, 5: 255, 6: 255, 7: 0, 8: 1, 9: 255, 10: 255,
    11: 2, 12: 3, 13: 4, 14: 255, 15: 255, 16: 255, 17: 5, 18: 255, 19: 6, 20: 7,
    21: 8, 22: 9, 23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 29: 255, 30: 255,
    31: 16, 32: 17, 33: 18,
}
# The colours of Cityscapes trainIds 0..18.
CITYSCAPES_COLOURS = (
    (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153), (153, 153, 153),
    (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60),
    (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32),
)
# The PASCAL VOC colour map of ids 0..20; 255 (void) is (224, 224, 192).
VOC_COLOURS = (
    (0, 0, 0), (128, 0, 0), (0, 128, 0), (128, 128, 0), (0, 0, 128), (128, 0, 128), (0, 128, 128),
    (128, 128, 128), (64, 0, 0), (192, 0, 0), (64, 128, 0), (192, 128, 0), (64, 0, 128), (192, 0, 128),
    (64, 128, 128), (192, 128, 128), (0, 64, 0), (128, 64, 0), (0, 192, 0), (128, 192, 0), (0, 64, 128),
)
# A palette file mixing every line form: line k gives id k, "N: ..." gives id N.
PALETTE_FILE = "0 0 0\n#ff0000\n0 255 0\n7: 0 0 255\n255: #ffffff\n"
# Per palette: {id: colours that stand for it}. Cityscapes' black and its other (non-train) label
# colours all stand for 255.
PALETTE_COLOURS = {
    "cityscapes": {**{k: [c] for k, c in enumerate(CITYSCAPES_COLOURS)},
                   255: [(0, 0, 0), (81, 0, 81), (0, 0, 90), (250, 170, 160)]},
    "pascal-voc": {**{k: [c] for k, c in enumerate(VOC_COLOURS)}, 255: [(224, 224, 192)]},
    "palette.txt": {0: [(0, 0, 0)], 1: [(255, 0, 0)], 2: [(0, 255, 0)], 7: [(0, 0, 255)],
                    255: [(255, 255, 255)]},
}


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    """Every test runs in its own empty folder."""
    monkeypatch.chdir(tmp_path)


# ---------------------------------------------------------------- helpers

def save_mask(path, array, palette=None):
    """Save an array as an image at path (folders made as needed): greyscale for 2-D uint8, RGB or
    RGBA for 3 or 4 channels, 16-bit for uint16; a palette-mode PNG of the indices when palette
    (a flat [r, g, b, ...] list) is given."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if palette is None:
        image = Image.fromarray(array)
    else:
        image = Image.frombytes("P", array.shape[::-1], array.tobytes())
        image.putpalette(palette)
    image.save(path)


def run_json(capsys, *args):
    """main(["--format", "json", *args]) in-process: (exit status, parsed JSON or None, stderr).
    argparse's SystemExit counts as its exit code."""
    try:
        status = tool.main(["--format", "json", *args])
    except SystemExit as stop:
        status = stop.code
    captured = capsys.readouterr()
    return status, json.loads(captured.out) if captured.out.strip() else None, captured.err


def warnings_of(document, err):
    """The run's JSON "warnings", after checking stderr has a "warning:" line exactly when there are some."""
    assert any(line.startswith("warning:") for line in err.splitlines()) == bool(document["warnings"]), err
    return document["warnings"]


def assert_numbers_match_sklearn(document, expected, ignore_index):
    """Each image report and the combined report against scikit-learn; expected is
    {image id: (label ids, inference ids)} as the tool should have read and mapped them."""
    assert sorted(image["id"] for image in document["images"]) == sorted(expected)
    ordered = [expected[image["id"]] for image in document["images"]]
    for image, (label, inference) in zip(document["images"], ordered):
        assert_report_matches_sklearn(image, label, inference, ignore_index, 0.0)
    assert_report_matches_sklearn(document["combined"], np.concatenate([lab.ravel() for lab, _ in ordered]),
                                  np.concatenate([inf.ravel() for _, inf in ordered]), ignore_index, 0.0)


def predict(truth, classes, right, rng):
    """A model's output: the true id on about a share `right` of the pixels (where it is one of
    classes), elsewhere an id of classes drawn at random."""
    classes = np.array(list(classes), np.uint8)
    guess = rng.choice(classes, size=truth.shape)
    keep = (rng.random(truth.shape) < right) & np.isin(truth, classes)
    return np.where(keep, truth, guess).astype(np.uint8)


def paint(ids, colours, rng):
    """An RGB mask of an id mask: each pixel gets one of the colours of its id, chosen at random."""
    rgb = np.zeros((*ids.shape, 3), np.uint8)
    for class_id, options in colours.items():
        where = ids == class_id
        rgb[where] = np.array(options, np.uint8)[rng.integers(len(options), size=int(where.sum()))]
    return rgb


def lookup(mapping, default=None):
    """A 256-entry numpy table of {from: to}; unlisted ids go to default, or stay when it is None."""
    table = np.arange(256, dtype=np.uint8) if default is None else np.full(256, default, np.uint8)
    table[list(mapping)] = list(mapping.values())
    return table


def flat_pairs(ids, rng, make_label, make_inference):
    """Write labels/<id>.png and inferences/<id>.png; returns {id: (label, inference)} as written."""
    pairs = {}
    for image_id in ids:
        label = make_label(rng)
        inference = make_inference(label, rng)
        save_mask(f"labels/{image_id}.png", label)
        save_mask(f"inferences/{image_id}.png", inference)
        pairs[image_id] = (label, inference)
    return pairs


# ---------------------------------------------------------------- 1. Cityscapes folder tree

@pytest.fixture
def cityscapes_tree():
    """gtFine/<city>/ with trainId labels among the other gtFine files, pred/<city>/ with predictions;
    returns {expected id: (label, inference)}."""
    rng = np.random.default_rng(1)
    expected = {}
    for city in ("frankfurt", "lindau"):
        for k in (1, 2):
            stem = f"{city}_000000_00000{k}"
            label = rng.choice(np.array([*range(19), 255], np.uint8), size=SHAPE)
            inference = predict(label, range(19), 0.8, rng)
            save_mask(f"gtFine/{city}/{stem}_gtFine_labelTrainIds.png", label)
            save_mask(f"gtFine/{city}/{stem}_gtFine_labelIds.png", rng.integers(0, 34, SHAPE, np.uint8))
            save_mask(f"gtFine/{city}/{stem}_gtFine_instanceIds.png", rng.integers(0, 27000, SHAPE, np.uint16))
            save_mask(f"gtFine/{city}/{stem}_gtFine_color.png", paint(label, PALETTE_COLOURS["cityscapes"], rng))
            Path(f"gtFine/{city}/{stem}_gtFine_polygons.json").write_text("{}")
            save_mask(f"pred/{city}/{stem}_leftImg8bit.png", inference)
            expected[f"{city}/{stem}"] = (label, inference)
    return expected


CITYSCAPES_SUFFIXES = ("--labels", "gtFine", "--inferences", "pred",
                       "--label-suffix", "_gtFine_labelTrainIds", "--inference-suffix", "_leftImg8bit")


def test_cityscapes_tree_pairs_by_relative_path_without_the_suffixes(cityscapes_tree, capsys):
    status, document, err = run_json(capsys, *CITYSCAPES_SUFFIXES, "--recursive", "--ignore-index", "255")
    assert status == 0, err
    assert [image["id"] for image in document["images"]] == sorted(cityscapes_tree)
    assert document["errors"] == [] and warnings_of(document, err) == []
    # The other gtFine files are passed over with a note, never refused.
    assert err and all(line.startswith(("note:", " ")) for line in err.splitlines()), err
    assert_numbers_match_sklearn(document, cityscapes_tree, 255)


def write_predictions_flat():
    """Every city's predictions moved into pred/ itself, as an evaluator may write them."""
    for city_folder in list(Path("pred").iterdir()):
        for prediction in list(city_folder.iterdir()):
            prediction.rename(Path("pred") / prediction.name)
        city_folder.rmdir()


def test_cityscapes_labels_in_city_folders_pair_with_predictions_written_flat_by_file_name(cityscapes_tree, capsys):
    write_predictions_flat()
    status, document, err = run_json(capsys, *CITYSCAPES_SUFFIXES, "--recursive", "--ignore-index", "255")
    assert status == 0, err
    assert "note: no ids match with their sub-folders; pairing by file name alone" in err
    flat = {image_id.rpartition("/")[2]: masks for image_id, masks in cityscapes_tree.items()}
    assert [image["id"] for image in document["images"]] == sorted(flat)
    assert_numbers_match_sklearn(document, flat, 255)


def test_a_file_name_in_two_sub_folders_is_never_paired_by_name_alone(cityscapes_tree, capsys):
    write_predictions_flat()
    name = "frankfurt_000000_000001_gtFine_labelTrainIds.png"  # now in two cities' folders: which one is it?
    Path(f"gtFine/lindau/{name}").write_bytes(Path(f"gtFine/frankfurt/{name}").read_bytes())
    status, _, err = run_json(capsys, *CITYSCAPES_SUFFIXES, "--recursive")
    assert status == 2 and "pairing by file name" not in err


@pytest.mark.parametrize("args, hint", [
    (CITYSCAPES_SUFFIXES, "--recursive"),  # the sub-folders were not searched
    (("--labels", "gtFine", "--inferences", "pred", "--recursive"), "_gtFine_labelTrainIds"),  # no suffixes
])
def test_cityscapes_tree_that_pairs_nothing_exits_2_with_a_hint(cityscapes_tree, capsys, args, hint):
    status, _, err = run_json(capsys, *args)
    assert status == 2
    assert hint in err


# ---------------------------------------------------------------- 2., 3., 5. id maps and warnings

TRAIN_TO_LABELID = {train: label for label, train in LABELID_TO_TRAINID.items() if train != 255}


def cityscapes_labelids_pairs():
    """Labels in Cityscapes labelIds 0..33, predictions in trainIds (90% right)."""
    to_train_ids = lookup(LABELID_TO_TRAINID, default=255)
    return flat_pairs(("a", "b"), np.random.default_rng(2),
                      lambda rng: rng.integers(0, 34, SHAPE, np.uint8),
                      lambda label, rng: predict(to_train_ids[label], range(19), 0.9, rng)), to_train_ids


def test_cityscapes_labelids_against_trainids_warns_and_the_preset_map_fixes_it(capsys):
    pairs, to_train_ids = cityscapes_labelids_pairs()
    status, document, err = run_json(capsys)
    assert status == tool.NUMBERS_IN_DOUBT  # the report is written, and the status says it is wrong
    assert any("cityscapes-labelids" in text for text in warnings_of(document, err))
    assert "cityscapes-labelids" in err

    status, document, err = run_json(capsys, "--label-map", "cityscapes-labelids", "--ignore-index", "255")
    assert status == 0, err
    assert warnings_of(document, err) == []
    assert_numbers_match_sklearn(document, {key: (to_train_ids[label], inference)
                                            for key, (label, inference) in pairs.items()}, 255)


@pytest.mark.parametrize("scheme, option", [("labelIds", "--label-map cityscapes-labelids"),
                                            ("unreduced", "--label-map reduce-zero-label")])
def test_three_real_predictions_with_the_other_scheme_s_ids_still_warn(capsys, scheme, option):
    # The shipped model's own confusions on three images hide the renaming from a count of ids that mostly
    # move to their scheme's id; the pixels that agree once the labels are read in the scheme do not.
    to_label_ids = lookup(TRAIN_TO_LABELID, default=0)  # void (255) is labelId 0, "unlabeled"
    for n in range(3):
        label = np.asarray(Image.open(ROOT / "labels" / f"{n:06d}_10.png"))
        inference = np.asarray(Image.open(ROOT / "inferences" / f"{n:06d}_10.png"))
        save_mask(f"labels/{n}.png", to_label_ids[label] if scheme == "labelIds"
                  else np.where(label == 255, 0, label.astype(int) + 1).astype(np.uint8))
        save_mask(f"inferences/{n}.png", inference)
    status, document, err = run_json(capsys, "--ignore-index", "255")
    assert status == tool.NUMBERS_IN_DOUBT  # the report is written, and the status says it is wrong
    assert any(option in text for text in warnings_of(document, err)), err
    assert document["combined"]["mean_iou"] < 0.1  # what the warning saves the user from taking for a result


def test_one_class_predicted_as_its_neighbour_id_is_no_id_scheme():
    # Label 1 mostly predicted as 0 fits "k -> k - 1" for one id only: a poor model, not reduce-zero-label.
    matrix = np.zeros((256, 256), np.int64)
    matrix[1, 0], matrix[1, 1], matrix[0, 0] = 900, 50, 50
    assert not any("reduce-zero-label" in text for text in tool.id_scheme_warnings(matrix))
    matrix[2, 1] = 900  # a second id moved the same way: the scheme is what the pixels show
    assert any("--label-map reduce-zero-label" in text for text in tool.id_scheme_warnings(matrix))


def test_ade20k_unreduced_labels_warn_and_reduce_zero_label_fixes_it(capsys):
    """Labels 0..150 with 0 = other; the model predicts label - 1 in 0..149."""
    pairs = flat_pairs(("a", "b"), np.random.default_rng(3),
                       lambda rng: rng.integers(0, 151, SHAPE, np.uint8),
                       lambda label, rng: predict(label.astype(np.int16) - 1, range(150), 0.9, rng))
    status, document, err = run_json(capsys)
    assert status == tool.NUMBERS_IN_DOUBT  # the report is written, and the status says it is wrong
    assert any("reduce-zero-label" in text for text in warnings_of(document, err))
    assert "reduce-zero-label" in err

    status, document, err = run_json(capsys, "--label-map", "reduce-zero-label", "--ignore-index", "255",
                                     "--class-names", "ade20k")
    assert status == 0, err
    assert warnings_of(document, err) == []
    reduce_zero_label = lookup({0: 255, **{k: k - 1 for k in range(1, 255)}, 255: 255})
    assert_numbers_match_sklearn(document, {key: (reduce_zero_label[label], inference)
                                            for key, (label, inference) in pairs.items()}, 255)
    assert document["class_names"]["0"] == "wall"
    assert document["combined"]["classes"]["0"]["name"] == "wall"


def binary_pairs():
    """Labels 0/255, predictions 0/1 (90% right)."""
    return flat_pairs(("a", "b"), np.random.default_rng(5),
                      lambda rng: rng.choice(np.array([0, 255], np.uint8), size=SHAPE),
                      lambda label, rng: predict((label == 255).astype(np.uint8), [0, 1], 0.9, rng))


def test_binary_0_255_labels_against_0_1_predictions_warn_to_map_255_to_1(capsys):
    binary_pairs()
    status, document, err = run_json(capsys)
    assert status == tool.NUMBERS_IN_DOUBT  # the report is written, and the status says it is wrong
    texts = warnings_of(document, err)
    assert any("255: 1" in text or "255:1" in text for text in texts)
    # 255 is the object class here, not void: ignoring it would be wrong advice.
    assert not any("--ignore-index 255" in text for text in texts) and "--ignore-index 255" not in err


@pytest.mark.parametrize("label_map", ["255:1", "0:0,255:1", "binary.map"])
def test_binary_label_map_inline_or_from_a_file_fixes_it(capsys, label_map):
    pairs = binary_pairs()
    Path("binary.map").write_text("255: 1\n")  # unlisted ids (0) stay
    status, document, err = run_json(capsys, "--label-map", label_map)
    assert status == 0, err
    assert warnings_of(document, err) == []
    assert_numbers_match_sklearn(document, {key: (np.where(label == 255, 1, label).astype(np.uint8), inference)
                                            for key, (label, inference) in pairs.items()}, None)


def test_a_map_file_with_a_star_sends_every_unlisted_id_there(capsys):
    pairs = flat_pairs(("a",), np.random.default_rng(6),
                       lambda rng: rng.integers(0, 3, SHAPE, np.uint8),
                       lambda label, rng: rng.integers(0, 6, SHAPE, np.uint8))
    Path("inference.map").write_text("0: 0\n1: 1\n5: 2\n*: 255\n")
    status, document, err = run_json(capsys, "--inference-map", "inference.map")
    assert status == 0, err
    to_ids = lookup({0: 0, 1: 1, 5: 2}, default=255)
    assert_numbers_match_sklearn(document, {key: (label, to_ids[inference])
                                            for key, (label, inference) in pairs.items()}, None)


@pytest.mark.parametrize("text, words", [
    ("1:1,1:2", "entry 2: 1 was already mapped in entry 1"), ("map.txt:1: 2\n1: 3\n", "entry 2: 1 was already"),
    ("map.txt:*: 0\n*: 1\n", "entry 2: * was already mapped in entry 1"), ("map.txt:\n", "maps no id")])
def test_an_id_map_that_maps_an_id_twice_or_none_is_refused(text, words):
    # Which of two entries was meant? The map says so rather than let the last one win silently.
    if text.startswith("map.txt:"):
        Path("map.txt").write_text(text.removeprefix("map.txt:"))
        text = "map.txt"
    with pytest.raises(ValueError, match=re.escape(words)):
        tool.read_id_map(text)


# ---------------------------------------------------------------- 4. colour masks and palettes

@pytest.mark.parametrize("palette", list(PALETTE_COLOURS))
def test_rgb_masks_are_read_through_the_palette(capsys, palette):
    """Labels and inferences saved as colours; the first label as RGBA with every alpha 255."""
    Path("palette.txt").write_text(PALETTE_FILE)
    colours = PALETTE_COLOURS[palette]
    classes = [class_id for class_id in colours if class_id != 255]
    rng = np.random.default_rng(4)
    expected = {}
    for image_id in ("a", "b"):
        label = rng.choice(np.array(list(colours), np.uint8), size=SHAPE)
        inference = predict(label, classes, 0.8, rng)
        label_rgb = paint(label, colours, rng)
        if image_id == "a":
            label_rgb = np.dstack([label_rgb, np.full(SHAPE, 255, np.uint8)])
        save_mask(f"labels/{image_id}.png", label_rgb)
        save_mask(f"inferences/{image_id}.png", paint(inference, colours, rng))
        expected[image_id] = (label, inference)
    status, document, err = run_json(capsys, "--palette", palette, "--ignore-index", "255")
    assert status == 0, err
    assert_numbers_match_sklearn(document, expected, 255)


def test_a_colour_not_in_the_palette_refuses_only_that_pair(capsys):
    rng = np.random.default_rng(8)
    colours = PALETTE_COLOURS["cityscapes"]
    expected = {}
    for image_id in ("a", "bad", "c"):
        label = rng.choice(np.array(list(colours), np.uint8), size=SHAPE)
        inference = predict(label, range(19), 0.8, rng)
        inference_rgb = paint(inference, colours, rng)
        if image_id == "bad":
            inference_rgb[3, 5] = (1, 2, 3)
        else:
            expected[image_id] = (label, inference)
        save_mask(f"labels/{image_id}.png", paint(label, colours, rng))
        save_mask(f"inferences/{image_id}.png", inference_rgb)
    status, document, err = run_json(capsys, "--palette", "cityscapes", "--ignore-index", "255")
    assert status == 1
    assert [error["id"] for error in document["errors"]] == ["bad"]
    assert "inferences/bad.png" in document["errors"][0]["error"]
    assert "not in the palette" in document["errors"][0]["error"]
    assert_numbers_match_sklearn(document, expected, 255)


def test_palette_mode_pngs_are_still_read_by_their_indices(capsys):
    """The PNG's own palette holds VOC colours, not Cityscapes ones: --palette cityscapes leaves it alone."""
    rng = np.random.default_rng(9)
    voc_palette = [value for colour in VOC_COLOURS for value in colour]
    label = rng.integers(0, 19, SHAPE, np.uint8)
    inference = predict(label, range(19), 0.8, rng)
    save_mask("labels/a.png", label, palette=voc_palette)
    save_mask("inferences/a.png", inference, palette=voc_palette)
    status, document, err = run_json(capsys, "--palette", "cityscapes")
    assert status == 0, err
    assert_numbers_match_sklearn(document, {"a": (label, inference)}, None)


# ---------------------------------------------------------------- 6., 7. class names: ignore line, presets

def test_class_names_file_ignore_line_sets_the_ignore_index_and_none_undoes_it(capsys):
    pairs = flat_pairs(("a", "b"), np.random.default_rng(10),
                       lambda rng: rng.choice(np.array([0, 1, 255], np.uint8), size=SHAPE),
                       lambda label, rng: predict(label, [0, 1], 0.8, rng))
    Path("labels/class_names.txt").write_text("background\nobject\nignore: 255\n")

    status, document, err = run_json(capsys)
    assert status == 0, err
    assert document["ignore_index"] == 255
    assert document["class_names"] == {"0": "background", "1": "object"}  # "ignore" names no class
    assert_numbers_match_sklearn(document, pairs, 255)

    status, document, err = run_json(capsys, "--ignore-index", "none")
    assert status == 0, err
    assert document["ignore_index"] is None
    assert_numbers_match_sklearn(document, pairs, None)


@pytest.mark.parametrize("preset, names", [
    ("ade20k", {0: "wall", 1: "building", 149: "flag"}),
    ("camvid", {0: "sky", 3: "road", 11: "void"}),
    ("kitti", {0: "road", 13: "car", 18: "bicycle"}),
])
def test_class_name_presets(capsys, preset, names):
    save_mask("labels/a.png", np.zeros(SHAPE, np.uint8))
    save_mask("inferences/a.png", np.zeros(SHAPE, np.uint8))
    status, document, err = run_json(capsys, "--class-names", preset)
    assert status == 0, err
    assert {class_id: document["class_names"][str(class_id)] for class_id in names} == names


def test_unknown_class_names_preset_exits_2_listing_the_presets(capsys):
    save_mask("labels/a.png", np.zeros(SHAPE, np.uint8))
    save_mask("inferences/a.png", np.zeros(SHAPE, np.uint8))
    with pytest.raises(SystemExit) as stop:
        tool.main(["--class-names", "nosuchpreset"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "nosuchpreset" in err
    assert all(preset in err for preset in ("cityscapes", "pascal-voc", "ade20k", "camvid", "kitti"))


# ---------------------------------------------------------------- 8. no false warnings

@pytest.mark.parametrize("args", [(), ("--ignore-index", "255")])
def test_the_shipped_samples_give_no_warning(capsys, monkeypatch, args):
    monkeypatch.chdir(ROOT)
    status, document, err = run_json(capsys, *args)
    assert status == 0, err
    assert warnings_of(document, err) == []


# Id schemes done right: (ids in the labels, ids the model predicts).
SCHEMES = {"cityscapes trainIds": ([*range(19), 255], range(19)),
           "ade20k reduced": ([*range(150), 255], range(150)),
           "binary": ([0, 1], [0, 1])}


@pytest.mark.parametrize("model", ["good", "poor", "majority"])
@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_right_ids_give_no_warning_however_good_the_model(capsys, scheme, model):
    """Good: 90% of pixels right. Poor: 40% right, errors spread over the other classes.
    Majority: the labels' most frequent class everywhere."""
    label_ids, classes = SCHEMES[scheme]
    weights = 1 / np.arange(1, len(label_ids) + 1)  # skewed, so that a majority class exists
    rng = np.random.default_rng(11)
    labels = [rng.choice(np.array(label_ids, np.uint8), size=SHAPE, p=weights / weights.sum())
              for _ in range(2)]
    for image_id, label in zip("ab", labels):
        if model == "majority":
            inference = np.full(SHAPE, label_ids[0], np.uint8)
        else:
            inference = predict(label, classes, 0.9 if model == "good" else 0.4, rng)
        save_mask(f"labels/{image_id}.png", label)
        save_mask(f"inferences/{image_id}.png", inference)
    status, document, err = run_json(capsys)
    assert status == 0, err
    assert warnings_of(document, err) == []


# ---------------------------------------------------------------- 9. pairing by common endings

def test_common_endings_are_removed_to_pair_when_exact_names_pair_nothing(capsys):
    pairs = {}
    rng = np.random.default_rng(12)
    for image_id in ("a", "b"):
        label = rng.integers(0, 3, SHAPE, np.uint8)
        pairs[image_id] = (label, predict(label, range(3), 0.8, rng))
        save_mask(f"labels/{image_id}_mask.png", pairs[image_id][0])
        save_mask(f"inferences/{image_id}_pred.png", pairs[image_id][1])
    status, document, err = run_json(capsys)
    assert status == 0, err
    assert "pairing by" in err
    assert [image["id"] for image in document["images"]] == ["a", "b"]
    assert_numbers_match_sklearn(document, pairs, None)


def test_nothing_pairs_exits_2_naming_the_endings(capsys):
    for stem in ("a_gtFine_labelTrainIds", "b_gtFine_labelTrainIds"):
        save_mask(f"labels/{stem}.png", np.zeros(SHAPE, np.uint8))
    for stem in ("c_leftImg8bit", "d_leftImg8bit"):
        save_mask(f"inferences/{stem}.png", np.zeros(SHAPE, np.uint8))
    status, _, err = run_json(capsys)
    assert status == 2
    assert "_gtFine_labelTrainIds" in err and "_leftImg8bit" in err


# ---------------------------------------------------------------- 10. the "input" record

INPUT_KEYS = ("recursive", "label_suffix", "inference_suffix", "label_map", "inference_map", "palette")


def test_json_input_records_the_options_as_given(capsys):
    rng = np.random.default_rng(13)
    colours = PALETTE_COLOURS["pascal-voc"]
    label = rng.choice(np.array([0, 1, 255], np.uint8), size=SHAPE)
    save_mask("labels/sub/a_lab.png", paint(label, colours, rng))
    save_mask("inferences/sub/a_inf.png", paint(np.minimum(label, 1), colours, rng))  # right, as mapped
    save_mask("labels/b.png", np.zeros(SHAPE, np.uint8))
    save_mask("inferences/b.png", np.zeros(SHAPE, np.uint8))
    Path("inference.map").write_text("0: 0\n1: 1\n*: 255\n")

    status, document, err = run_json(capsys)  # nothing used: only b, at the top, is scored
    assert status == 0, err
    assert {"input", "warnings"} <= set(document)
    assert document["input"]["recursive"] in (False, None)
    assert all(document["input"][key] is None for key in INPUT_KEYS[1:])

    given = {"recursive": True, "label_suffix": "_lab", "inference_suffix": "_inf", "label_map": "0:0,255:1",
             "inference_map": "inference.map", "palette": "pascal-voc"}
    status, document, err = run_json(capsys, "--recursive", "--label-suffix", "_lab", "--inference-suffix", "_inf",
                                     "--label-map", "0:0,255:1", "--inference-map", "inference.map",
                                     "--palette", "pascal-voc")
    assert status == 0, err
    assert {key: document["input"][key] for key in INPUT_KEYS} == given
    assert "sub/a" in [image["id"] for image in document["images"]]


# ---------------------------------------------------------------- the README's "Your dataset" commands

VOC_PALETTE = [v for colour in VOC_COLOURS for v in colour] + [0, 0, 0] * (255 - len(VOC_COLOURS)) + [224, 224, 192]


def readme_dataset_commands():
    """The commands of the README's "Your dataset" section, with the comment line above each."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Your dataset", 1)[1].split("```", 2)[1]
    lines = block.strip().splitlines()
    return [(lines[k - 1], line) for k, line in enumerate(lines) if line.startswith("python ")]


def write_dataset(labels_dir, inferences_dir, rng):
    """A layout for one README command, from its folders; returns (expected {id: (label, inference)} as
    the command should read them, the ignore id). The ground truth is drawn in the dataset's own ids."""
    expected, count = {}, 3
    for n in range(count):
        truth = rng.choice(np.array(list(range(19)) + [255], np.uint8), size=SHAPE)
        guess = predict(truth, range(19), 0.8, rng)
        if labels_dir == "gtFine/val":  # both Cityscapes commands: labelIds and labelTrainIds files side by side
            city = ("frankfurt", "lindau")[n % 2]
            stem = f"{city}_000000_{n:06d}"
            labelids = np.where(truth == 255, 0, lookup(TRAIN_TO_LABELID)[truth]).astype(np.uint8)
            save_mask(f"gtFine/val/{city}/{stem}_gtFine_labelTrainIds.png", truth)
            save_mask(f"gtFine/val/{city}/{stem}_gtFine_labelIds.png", labelids)
            save_mask(f"gtFine/val/{city}/{stem}_gtFine_color.png", np.zeros((*SHAPE, 3), np.uint8))
            save_mask(f"results/{city}/{stem}_leftImg8bit.png", guess)
            expected[f"{city}/{stem}"] = (truth, guess)
        elif labels_dir == "training/semantic":  # KITTI: labelIds
            save_mask(f"training/semantic/{n:06d}_10.png",
                      np.where(truth == 255, 0, lookup(TRAIN_TO_LABELID)[truth]).astype(np.uint8))
            save_mask(f"predictions/{n:06d}_10.png", guess)
            expected[f"{n:06d}_10"] = (truth, guess)
        elif labels_dir == "VOC2012/SegmentationClass":  # palette PNGs against predictions in VOC colours
            truth, guess = np.where(truth > 18, 255, truth % 21).astype(np.uint8), guess % 21
            save_mask(f"VOC2012/SegmentationClass/2007_{n:06d}.png", truth, palette=VOC_PALETTE)
            save_mask(f"results/2007_{n:06d}.png", paint(guess, {k: [c] for k, c in enumerate(VOC_COLOURS)}, rng))
            expected[f"2007_{n:06d}"] = (truth, guess)
        elif labels_dir.startswith("ADEChallengeData2016"):  # 0 = other, class k saved as k + 1
            truth = np.where(truth == 255, 255, truth * 7).astype(np.uint8)  # ids spread over 0..149
            guess = np.where(rng.random(SHAPE) < 0.8, np.where(truth == 255, 0, truth), 3).astype(np.uint8)
            save_mask(f"{labels_dir}/ADE_val_{n:08d}.png", np.where(truth == 255, 0, truth + 1).astype(np.uint8))
            # results/: as mmsegmentation's IoUMetric writes them (class k as k + 1); predictions/: k as k.
            saved = guess + 1 if inferences_dir == "results" else guess
            save_mask(f"{inferences_dir}/ADE_val_{n:08d}.png", saved.astype(np.uint8))
            expected[f"ADE_val_{n:08d}"] = (truth, guess)
        elif labels_dir == "CamVid/testannot":  # 11 classes, 11 = void
            truth, guess = np.where(truth == 255, 11, truth % 11).astype(np.uint8), guess % 11
            save_mask(f"CamVid/testannot/0001TP_{n:06d}.png", truth)
            save_mask(f"results/0001TP_{n:06d}.png", guess)
            expected[f"0001TP_{n:06d}"] = (truth, guess)
        elif labels_dir == inferences_dir == "results":  # DeepLabV3Plus-Pytorch's --save_val_results
            truth, guess = np.where(truth > 18, 255, truth % 21).astype(np.uint8), guess % 21
            save_mask(f"results/{n}_image.png", rng.integers(0, 256, (*SHAPE, 3), np.uint8))  # the photo
            save_mask(f"results/{n}_target.png", paint(truth, PALETTE_COLOURS["pascal-voc"], rng))
            save_mask(f"results/{n}_pred.png", paint(guess, PALETTE_COLOURS["pascal-voc"], rng))
            figure = rng.integers(0, 256, (2 * SHAPE[0], 2 * SHAPE[1], 4), np.uint8)  # RGBA, larger
            save_mask(f"results/{n}_overlay.png", figure)
            expected[str(n)] = (truth, guess)
        else:  # a binary task: 0/255 masks against 0/1 predictions
            truth, guess = (truth > 9).astype(np.uint8), (guess > 9).astype(np.uint8)
            save_mask(f"masks/case{n}.png", truth * 255)
            save_mask(f"predictions/case{n}.png", guess)
            expected[f"case{n}"] = (truth, guess)
    return expected


@pytest.mark.parametrize("comment, command", readme_dataset_commands(), ids=lambda text: text[:40])
def test_each_readme_dataset_command_scores_its_layout_exactly(comment, command, capsys):
    args = shlex.split(command)[2:]
    expected = write_dataset(args[args.index("--labels") + 1], args[args.index("--inferences") + 1],
                             np.random.default_rng(len(command)))
    status, document, err = run_json(capsys, *args)
    assert status == 0, err
    assert warnings_of(document, err) == []
    ignore_index = int(args[args.index("--ignore-index") + 1]) if "--ignore-index" in args else None
    assert document["ignore_index"] == ignore_index
    assert_numbers_match_sklearn(document, expected, ignore_index)


def test_the_readme_names_a_command_for_each_dataset():
    comments = " ".join(comment for comment, _ in readme_dataset_commands())
    for dataset in ("Cityscapes", "KITTI", "Pascal VOC", "ADE20K", "CamVid", "binary", "DeepLabV3Plus-Pytorch"):
        assert dataset in comments


def test_recursive_ids_write_only_inside_the_report_folder_and_find_their_pictures(cityscapes_tree, capsys):
    for (city, stem) in (("frankfurt", "frankfurt_000000_000001"), ("lindau", "lindau_000000_000002")):
        save_mask(f"leftImg8bit/{city}/{stem}_leftImg8bit.png", np.full((*SHAPE, 3), 90, np.uint8))
    before = {path for path in Path(".").rglob("*")}
    status = tool.main(["--labels", "gtFine", "--inferences", "pred", "--recursive", "--images", "leftImg8bit",
                        "--label-suffix", "_gtFine_labelTrainIds", "--inference-suffix", "_leftImg8bit",
                        "--output-dir", "out"])
    err = capsys.readouterr().err
    assert status == 0, err
    written = {path for path in Path(".").rglob("*")} - before
    assert written and all(path == Path("out") or Path("out") in path.parents for path in written)
    assert len(list(Path("out/reports").glob("*.html"))) == len(list(Path("gtFine").rglob("*_labelTrainIds.png")))
    assert "note: 2 overlays are drawn on the label's class colours" in err  # two of the four have pictures
