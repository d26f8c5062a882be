"""Never a plausible wrong number: presets that leave their void out, exit status 3 when the tool doubts its
own numbers (ids of another scheme, score maps), colour masks read exactly or refused, dataset colours in
the pictures, and --check-with-sklearn, which proves every pair's matrix against scikit-learn.

Every fixture is built in tmp_path; every number is checked against scikit-learn on the arrays drawn here.
"""

import zlib
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, tool
from test_datasets import (SHAPE, assert_numbers_match_sklearn, paint, predict, run_json, save_mask,
                           warnings_of)


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def write_pairs(pairs):
    """labels/<id>.png and inferences/<id>.png of {id: (label, inference)}."""
    for image_id, (label, inference) in pairs.items():
        save_mask(f"labels/{image_id}.png", label)
        save_mask(f"inferences/{image_id}.png", inference)
    return pairs


# ---------------------------------------------------------------- presets declare their void

@pytest.mark.parametrize("preset, void, classes", [("camvid", 11, 11), ("cityscapes", 255, 19),
                                                   ("kitti", 255, 19), ("pascal-voc", 255, 21),
                                                   ("ade20k", 255, 150)])
def test_a_preset_leaves_its_void_out_as_an_ignore_line_does(capsys, preset, void, classes):
    """CamVid's preset named 11 void but counted it: mIoU 0.6051 for 0.6995, '11 void (0.0000)' the worst
    class. A preset now declares its void exactly as a class-names file's 'ignore:' line does."""
    rng = np.random.default_rng(void + classes)
    ids = np.array([*range(min(classes, 12)), void], np.uint8)
    pairs = write_pairs({key: (label, predict(label, range(min(classes, 12)), 0.8, rng))
                         for key in ("a", "b") for label in [rng.choice(ids, size=SHAPE)]})
    status, document, err = run_json(capsys, "--class-names", preset)
    assert status == 0, err
    assert (document["ignore_index"], document["ignore_index_from"]) == (void, f"--class-names {preset}")
    assert str(void) not in document["combined"]["classes"]
    assert_numbers_match_sklearn(document, pairs, void)
    status, document, err = run_json(capsys, "--class-names", preset, "--ignore-index", "none")
    assert status in (0, tool.NUMBERS_IN_DOUBT), err
    assert (document["ignore_index"], document["ignore_index_from"]) == (None, "--ignore-index")
    assert f"note: id {void} is named 'void'" in err  # counted, and said so
    assert_numbers_match_sklearn(document, pairs, None)


def test_the_json_head_says_where_the_ignore_index_came_from(capsys):
    write_pairs({"a": (np.zeros(SHAPE, np.uint8), np.zeros(SHAPE, np.uint8))})
    assert run_json(capsys)[1]["ignore_index_from"] is None
    assert run_json(capsys, "--ignore-index", "7")[1]["ignore_index_from"] == "--ignore-index"
    Path("labels/class_names.txt").write_text("zero\nignore: 9\n")
    document = run_json(capsys)[1]
    assert (document["ignore_index"], document["ignore_index_from"]) == (9, "labels/class_names.txt")
    Path("names.txt").write_text("zero\nignore: 8\n")
    document = run_json(capsys, "--class-names", "names.txt")[1]
    assert (document["ignore_index"], document["ignore_index_from"]) == (8, "--class-names names.txt")


def test_the_void_hint_names_any_id_the_class_names_call_void(capsys):
    """The hint was written for 255 only; CamVid's void is 11, and a names file may call it unlabelled."""
    rng = np.random.default_rng(3)
    write_pairs({key: (label, predict(label, range(5), 0.9, rng)) for key in ("a", "b")
                 for label in [rng.choice(np.array([0, 1, 2, 3, 4, 11], np.uint8), size=SHAPE)]})
    Path("names.txt").write_text("sky\nbuilding\npole\nroad\ntree\n11: Unlabelled\n")
    assert tool.main(["--class-names", "names.txt", "--brief"]) == 0
    captured = capsys.readouterr()
    assert "note: id 11 is named 'Unlabelled', but without --ignore-index 11" in captured.err
    assert "if it marks pixels to leave out, run again with --ignore-index 11" in captured.out
    assert tool.main(["--class-names", "names.txt", "--brief", "--ignore-index", "11"]) == 0
    captured = capsys.readouterr()
    assert "--ignore-index 11" not in captured.out + captured.err


# ---------------------------------------------------------------- exit status 3: numbers the tool doubts

def probability_maps(rng, count=3):
    """Road probability maps as KITTI road's devkit reads them (score = value / 255) against 0/1 labels."""
    pairs = {}
    for n in range(count):
        label = np.zeros(SHAPE, np.uint8)
        label[SHAPE[0] // 2:] = 1
        ramp = np.linspace(0, 255, SHAPE[0] * SHAPE[1]).reshape(SHAPE)
        score = np.clip(ramp + rng.normal(0, 20, SHAPE), 0, 255).astype(np.uint8)
        pairs[f"um_road_{n:06d}"] = (label, score)
    return pairs


def test_grey_score_maps_are_warned_of_and_exit_3(capsys):
    """A grey road-probability map was scored as 255 classes: mIoU 0.0035, exit 0, no warning."""
    pairs = write_pairs(probability_maps(np.random.default_rng(5)))
    status, document, err = run_json(capsys)
    assert status == tool.NUMBERS_IN_DOUBT == 3
    (warning,) = warnings_of(document, err)
    assert "score maps" in warning and "not meaningful" in warning
    assert_numbers_match_sklearn(document, pairs, None)  # the report is still written, and exact
    assert tool.main(["--brief"]) == 3  # text too
    assert "warning: the inferences hold" in capsys.readouterr().err


def test_many_classes_of_a_real_model_are_no_score_map(capsys):
    """150 classes predicted against labels of 30: a poor ADE20K model, whose ids are ids."""
    rng = np.random.default_rng(6)
    label = rng.integers(0, 30, SHAPE, np.uint8)
    inference = np.where(rng.random(SHAPE) < 0.5, label, rng.integers(0, 150, SHAPE)).astype(np.uint8)
    write_pairs({"a": (label, inference)})
    status, document, err = run_json(capsys)
    assert status == 0, err
    assert warnings_of(document, err) == []


def test_ade20k_predictions_as_mmsegmentation_writes_them_exit_3_with_the_old_command(capsys):
    """mmsegmentation's IoUMetric adds 1 to what it writes under reduce_zero_label (files hold 1..150); the
    README's old line read them with the labels' map only: mIoU 0.0001, a right warning, and exit 0."""
    rng = np.random.default_rng(7)
    pairs = {}
    for n in range(3):
        truth = rng.integers(0, 150, SHAPE, np.uint8)
        guess = predict(truth, range(150), 0.85, rng)
        save_mask(f"annotations/ADE_val_{n:08d}.png", (truth + 1).astype(np.uint8))
        save_mask(f"results/ADE_val_{n:08d}.png", (guess + 1).astype(np.uint8))
        pairs[f"ADE_val_{n:08d}"] = (truth, guess)
    old = ["--labels", "annotations", "--inferences", "results", "--label-map", "reduce-zero-label",
           "--ignore-index", "255", "--class-names", "ade20k"]
    status, document, err = run_json(capsys, *old)
    assert status == tool.NUMBERS_IN_DOUBT
    assert any("--inference-map reduce-zero-label" in text for text in warnings_of(document, err))
    status, document, err = run_json(capsys, *old, "--inference-map", "reduce-zero-label")
    assert status == 0, err
    assert_numbers_match_sklearn(document, pairs, 255)


def test_the_readme_lists_exit_status_3():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "**3**" in readme.split("## Options", 1)[1].split("## Your dataset", 1)[0]
    assert "3 when the report is written but the tool believes its numbers wrong" in \
        tool.build_parser().epilog


# ---------------------------------------------------------------- colour masks: exact or refused

CAMVID_COLOURS = ((128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (60, 40, 222), (128, 128, 0),
                  (192, 128, 128), (64, 64, 128), (64, 0, 128), (64, 64, 0), (0, 128, 192))  # SegNet's


@pytest.mark.parametrize("palette, colours, void", [
    ("camvid", {**{k: [c] for k, c in enumerate(CAMVID_COLOURS)}, 11: [(0, 0, 0)]}, 11),
    ("ade20k", {0: [(120, 120, 120)], 1: [(180, 120, 120)], 2: [(6, 230, 230)], 149: [(92, 0, 255)],
                255: [(0, 0, 0)]}, 255),
])
def test_camvid_and_ade20k_colour_masks_are_read_through_their_palettes(capsys, palette, colours, void):
    rng = np.random.default_rng(8)
    classes = [k for k in colours if k != void]
    pairs = {}
    for key in ("a", "b"):
        label = rng.choice(np.array(list(colours), np.uint8), size=SHAPE)
        inference = predict(label, classes, 0.8, rng)
        save_mask(f"labels/{key}.png", paint(label, colours, rng))
        save_mask(f"inferences/{key}.png", paint(inference, colours, rng))
        pairs[key] = (label, inference)
    status, document, err = run_json(capsys, "--palette", palette, "--class-names", palette)
    assert status == 0, err
    assert_numbers_match_sklearn(document, pairs, void)


def test_a_colour_ade20k_gives_two_classes_is_refused_not_guessed(capsys):
    """mmsegmentation draws ADE20K's road (6) and skyscraper (48) both (140, 140, 140)."""
    label = np.zeros((*SHAPE, 3), np.uint8)
    label[:] = (120, 120, 120)
    label[:4] = (140, 140, 140)
    save_mask("labels/a.png", label)
    save_mask("inferences/a.png", label)
    save_mask("labels/b.png", np.full((*SHAPE, 3), 120, np.uint8))
    save_mask("inferences/b.png", np.full((*SHAPE, 3), 120, np.uint8))
    status, document, err = run_json(capsys, "--palette", "ade20k")
    assert status == 1
    (error,) = document["errors"]
    assert "(140, 140, 140) stands for two classes" in error["error"] and "6 and 48" in error["error"]
    assert [image["id"] for image in document["images"]] == ["b"]


def test_a_palette_image_drawn_in_the_datasets_colours_at_other_indices_is_read_by_colour(capsys):
    """Defect 4: a palette-mode PNG whose own palette shows Cityscapes' colours at indices of its own order
    was scored by index: a perfect prediction scored 0."""
    rng = np.random.default_rng(9)
    cityscapes = {k: [colour] for k, colour in enumerate(tool.DATASETS["cityscapes"].colours.values())}
    label = rng.integers(0, 19, SHAPE, np.uint8)
    save_mask("labels/a.png", paint(label, cityscapes, rng))
    order = rng.permutation(19)  # index k of the file is drawn in the colour of class order[k]
    indices = np.argsort(order)[label].astype(np.uint8)
    own_palette = [value for k in order for value in tool.DATASETS["cityscapes"].colours[int(k)]]
    save_mask("inferences/a.png", indices, palette=own_palette)
    status, document, err = run_json(capsys, "--palette", "cityscapes")
    assert status == 0, err
    assert document["combined"]["mean_iou"] == 1.0
    assert_numbers_match_sklearn(document, {"a": (label, label)}, None)


def test_a_palette_image_of_grey_levels_or_of_the_datasets_own_order_is_read_by_index(capsys):
    rng = np.random.default_rng(10)
    label = rng.integers(0, 3, SHAPE, np.uint8)
    grey = [value for k in range(256) for value in (k, k, k)]
    save_mask("labels/a.png", label, palette=grey)  # index 0 is black, Cityscapes' void colour
    save_mask("inferences/a.png", label, palette=grey)
    status, document, err = run_json(capsys, "--palette", "cityscapes")
    assert status == 0, err
    assert_numbers_match_sklearn(document, {"a": (label, label)}, None)


def write_48_bit_png(path, rgb16):
    """An RGB PNG of 16 bits per channel (Pillow writes none)."""
    height, width, _ = rgb16.shape
    rows = b"".join(b"\0" + rgb16[y].astype(">u2").tobytes() for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0))
                           + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_sixteen_bit_colour_masks_are_refused_not_cut_to_their_high_bytes(capsys):
    """Defect 5: two colours that differ in the low byte became one after Pillow's cut, then an id."""
    rgb = np.zeros((*SHAPE, 3), np.uint16)
    rgb[:, :8] = (128 * 257 + 5, 64 * 257, 128 * 257)  # not road's colour, though its high bytes are
    write_48_bit_png("labels/a.png", rgb)
    save_mask("inferences/a.png", np.zeros((*SHAPE, 3), np.uint8))
    status, document, err = run_json(capsys, "--palette", "cityscapes")
    assert status == 1
    assert "labels/a.png: 16 bits per colour channel" in document["errors"][0]["error"]
    assert "Traceback" not in err


# ---------------------------------------------------------------- dataset colours in the pictures

@pytest.mark.parametrize("options, class_id, colour", [
    (["--class-names", "camvid"], 0, (128, 128, 128)),  # CamVid's sky: grey, not VOC's black
    (["--class-names", "cityscapes"], 0, (128, 64, 128)),  # road
    (["--palette", "cityscapes"], 10, (70, 130, 180)),  # sky, read from colour masks
    (["--class-names", "ade20k"], 2, (6, 230, 230)),
    ([], 1, (128, 0, 0)),  # no dataset: Pascal VOC's colour map
])
def test_pictures_draw_each_dataset_in_its_own_colours(capsys, options, class_id, colour):
    ids = np.full(SHAPE, class_id, np.uint8)
    if "--palette" in options:
        save_mask("labels/a.png", np.full((*SHAPE, 3), colour, np.uint8))
        save_mask("inferences/a.png", np.full((*SHAPE, 3), colour, np.uint8))
    else:
        write_pairs({"a": (ids, ids)})
    assert tool.main([*options, "--output-dir", "out", "--quiet"]) == 0, capsys.readouterr().err
    picture = Image.open("out/label_colours/a.png").convert("RGB")
    assert picture.getpixel((0, 0)) == colour
    legend = Path("out/reports/a.html").read_text(encoding="utf-8")
    assert "background:rgb(%d,%d,%d)" % colour in legend


# ---------------------------------------------------------------- --check-with-sklearn

def test_check_with_sklearn_passes_on_the_samples(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert tool.main(["--check-with-sklearn", "--brief", "--jobs", "2"]) == 0
    assert "error" not in capsys.readouterr().err


def test_check_with_sklearn_passes_on_masks_of_all_256_ids(capsys):
    rng = np.random.default_rng(11)
    write_pairs({key: (rng.integers(0, 256, (64, 64), np.uint8), rng.integers(0, 256, (64, 64), np.uint8))
                 for key in ("a", "b", "c")})
    status, _, err = run_json(capsys, "--check-with-sklearn", "--ignore-index", "255")
    assert status in (0, tool.NUMBERS_IN_DOUBT) and "check-with-sklearn" not in err, err


def test_check_with_sklearn_stops_on_a_count_that_differs(capsys, monkeypatch):
    """A count made wrong in the test (not in the tool) stops the run, exit 3, naming the pair."""
    rng = np.random.default_rng(12)
    write_pairs({key: (label, predict(label, range(4), 0.8, rng)) for key in ("a", "b")
                 for label in [rng.integers(0, 4, SHAPE, np.uint8)]})
    counted = tool.count_occurring

    def one_pixel_off(label, inference, *args):
        counts = counted(label, inference, *args)
        counts.matrix[0, 1] += 1
        return counts
    monkeypatch.setattr(tool, "count_occurring", one_pixel_off)
    assert tool.main(["--quiet", "--jobs", "1"]) == 0  # unchecked, the wrong count passes
    capsys.readouterr()
    assert tool.main(["--check-with-sklearn", "--quiet", "--jobs", "1"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("error: --check-with-sklearn: labels/a.png, inferences/a.png: the confusion matrix "
                          "differs from scikit-learn's in 1 cell, first [0][1]")
    assert err.count("\n") == 1


def test_check_with_sklearn_does_not_apply_to_merge(capsys):
    Path("r.json").write_text("{}")
    with pytest.raises(SystemExit) as stop:
        tool.main(["--merge", "r.json", "--check-with-sklearn"])
    assert stop.value.code == 2
    assert "--check-with-sklearn does not apply to --merge" in capsys.readouterr().err


# ---------------------------------------------------------------- cases a review found

def test_labels_0_1_against_predictions_0_255_with_255_ignored_exit_3(capsys):
    """The reverse encoding, with a void border ignored: the predicted 255 was left out of the check."""
    rng = np.random.default_rng(13)
    for n in range(3):
        label = (rng.random(SHAPE) < 0.4).astype(np.uint8)
        label[:2] = 255
        save_mask(f"labels/{n}.png", label)
        save_mask(f"inferences/{n}.png", np.where(label == 1, 255, 0).astype(np.uint8))
    status, document, err = run_json(capsys, "--ignore-index", "255")
    assert status == tool.NUMBERS_IN_DOUBT
    assert any("--inference-map 255:1" in text for text in warnings_of(document, err))


@pytest.mark.parametrize("levels", [101, 256])
def test_probabilities_saved_as_percentages_against_binary_labels_exit_3(capsys, levels):
    rng = np.random.default_rng(levels)
    for n in range(3):
        label = np.zeros(SHAPE, np.uint8)
        label[SHAPE[0] // 2:] = 1
        score = np.clip(np.linspace(0, 1, label.size).reshape(SHAPE) + rng.normal(0, 0.1, SHAPE), 0, 1)
        save_mask(f"labels/{n}.png", label * 255)
        save_mask(f"inferences/{n}.png", np.round(score * (levels - 1)).astype(np.uint8))
    status, document, err = run_json(capsys)
    assert status == tool.NUMBERS_IN_DOUBT
    assert any("score maps" in text for text in warnings_of(document, err))


def test_healthy_scans_with_a_void_border_are_scored_without_doubt(capsys):
    """Every counted label pixel 0, a few false positives: a hint that 255 might be the foreground, but no
    exit 3 (a shard of negative cases is a legitimate run)."""
    for n in range(3):
        label = np.zeros((50, 50), np.uint8)
        label[:2] = 255
        inference = np.zeros((50, 50), np.uint8)
        inference[20:22, 20:22] = 1
        save_mask(f"labels/{n}.png", label)
        save_mask(f"inferences/{n}.png", inference)
    status, document, err = run_json(capsys, "--ignore-index", "255")
    assert status == 0, err
    assert any("if 255 is the labels' foreground" in text for text in warnings_of(document, err))


def test_one_ade20k_image_of_a_noisy_model_is_no_score_map(capsys):
    rng = np.random.default_rng(14)
    truth = rng.choice(np.arange(0, 150, 10, dtype=np.uint8), size=(64, 64))
    noise = rng.integers(0, 150, truth.shape).astype(np.uint8)
    write_pairs({"a": (truth, np.where(rng.random(truth.shape) < 0.5, truth, noise).astype(np.uint8))})
    status, document, err = run_json(capsys, "--class-names", "ade20k")
    assert status == 0, err
    assert not any("score maps" in text for text in document["warnings"])


def test_a_palette_image_in_pascal_vocs_colour_map_is_read_by_index_under_another_palette(capsys):
    """labelme and mmsegmentation save ids as palette PNGs with VOC's colour map: index 0 is black, CamVid's
    void, but the file holds id 0 (sky), not void."""
    voc = [value for colour in tool.class_colours().tolist() for value in colour]
    label = np.zeros(SHAPE, np.uint8)
    label[SHAPE[0] // 2:] = 1
    inference = label.copy()
    inference[:3] = 1
    save_mask("labels/a.png", label, palette=voc)
    camvid = {k: [colour] for k, colour in tool.DATASETS["camvid"].colours.items()}
    save_mask("inferences/a.png", paint(inference, camvid, np.random.default_rng(0)))
    status, document, err = run_json(capsys, "--palette", "camvid", "--class-names", "camvid")
    assert status == 0, err
    assert_numbers_match_sklearn(document, {"a": (label, inference)}, 11)


def test_a_check_that_stops_the_run_leaves_no_half_json_document(capsys, monkeypatch):
    rng = np.random.default_rng(15)
    write_pairs({key: (rng.integers(0, 3, SHAPE, np.uint8), rng.integers(0, 3, SHAPE, np.uint8))
                 for key in ("a", "b", "c")})
    counted = tool.count_occurring

    def wrong_on_b(label, inference, *args):
        counts = counted(label, inference, *args)
        if counts.matrix.sum() and not wrong_on_b.calls:
            counts.matrix[0, 0] += 1
        wrong_on_b.calls += 1
        return counts
    wrong_on_b.calls = 0
    monkeypatch.setattr(tool, "count_occurring", wrong_on_b)
    status, document, err = run_json(capsys, "--check-with-sklearn", "--jobs", "1")
    assert status == 3 and document is None  # nothing on stdout, not half a document
    assert "error: --check-with-sklearn: labels/a.png" in err
