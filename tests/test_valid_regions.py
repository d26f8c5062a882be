"""Pixels that are not evaluated: --valid-masks (DRIVE's field of view) and --label-encoding kitti-road
(KITTI road's RGB ground truth). Every number is scikit-learn's on the pixels that are left, bad input
refuses its pair in one line, and the reports record how the masks were read."""

import json
import shlex
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import confusion_matrix

from conftest import ROOT, assert_report_matches_sklearn, tool
from kitti_road_oracle import ground_truth
from test_boundary import reference_boundary_counts

SHAPE = (12, 16)
IDS = ("a", "b", "c")
MAGENTA, RED, BLACK, BLUE = (255, 0, 255), (255, 0, 0), (0, 0, 0), (0, 0, 255)  # KITTI road's colours


def save(path, array):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array)).save(path)


def blocky(rng, highest, shape=SHAPE, block=3):
    """Ids 0..highest in square blocks (counted run by run, as real masks are) or, with block 1, pixel
    noise (counted pixel by pixel)."""
    small = rng.integers(0, highest + 1, (-(-shape[0] // block), -(-shape[1] // block)))
    return np.repeat(np.repeat(small, block, 0), block, 1)[:shape[0], :shape[1]].astype(np.uint8)


def field_of_view(rng, shape=SHAPE):
    """A valid region as DRIVE's: a disc, here with a few pixels more and fewer; never empty."""
    rows, columns = np.mgrid[:shape[0], :shape[1]]
    valid = (rows - shape[0] / 2) ** 2 + (columns - shape[1] / 2) ** 2 < (min(shape) / 2) ** 2
    return valid ^ (rng.random(shape) < 0.1)


def expected_matrix(labels, inferences):
    """scikit-learn's matrix of pixels (1-D arrays) over the whole label space."""
    if not len(labels):
        return np.zeros((256, 256), np.int64)
    return confusion_matrix(labels, inferences, labels=range(256))


def plain_boundary_counts(label, inference, d, counted):
    """Each id's |G & P| and |G | P|: the bands eroded on the whole masks (test_boundary's definition),
    then only the counted pixels (a bool array) taken."""
    return reference_boundary_counts(label, inference, d, counted=counted)


def run(capsys, *args):
    """(status, JSON document, stderr) of a run with --format json."""
    status = tool.main(["--format", "json", "--quiet", *args])
    captured = capsys.readouterr()
    return status, json.loads(captured.out) if captured.out else None, captured.err


# ---------------------------------------------------------------- counting

@pytest.mark.parametrize("seed", range(60))
def test_counts_leave_out_the_pixels_outside_as_scikit_learn_would_never_see_them(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(side) for side in rng.integers(1, 24, 2))
    block = int(rng.integers(1, 6))
    label, inference = blocky(rng, 4, shape, block), blocky(rng, 4, shape, block)
    valid = blocky(rng, 1, shape, int(rng.integers(1, 6))).astype(bool)
    ignore_index = int(rng.integers(0, 5)) if seed % 2 else None
    d = int(rng.integers(1, 5))
    counted = valid & (label != ignore_index if ignore_index is not None else True)
    expected = expected_matrix(label[counted], inference[counted])
    matrix, boundary = tool.count_pair(label, inference, ignore_index, d, valid)
    np.testing.assert_array_equal(matrix, expected)
    np.testing.assert_array_equal(boundary, plain_boundary_counts(label, inference, d, counted))
    np.testing.assert_array_equal(tool.count_matrix(label, inference, ignore_index, valid), expected)
    everything = tool.count_pair(label, inference, ignore_index, d, np.ones(shape, bool))
    np.testing.assert_array_equal(everything[0], tool.count_pair(label, inference, ignore_index, d)[0])
    np.testing.assert_array_equal(everything[1], tool.count_pair(label, inference, ignore_index, d)[1])


def test_a_valid_region_of_another_shape_is_a_programming_error():
    with pytest.raises(ValueError, match="valid region is 3x2"):
        tool.count_occurring(np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8), valid=np.ones((2, 3), bool))


# ---------------------------------------------------------------- --valid-masks

DRIVE_ARGS = ("--label-suffix", "_manual1", "--valid-masks", "valid", "--valid-suffix", "_mask")


@pytest.fixture
def drive(tmp_path, monkeypatch):
    """Three pairs with their valid masks (0/255) in tmp_path, named as DRIVE names them:
    labels/a_manual1.png, inferences/a.png, valid/a_mask.png. Returns {id: (label, inference, valid)}."""
    rng = np.random.default_rng(25)
    monkeypatch.chdir(tmp_path)
    pairs = {}
    for image_id, block in zip(IDS, (3, 1, 4)):
        label, inference, valid = blocky(rng, 4, block=block), blocky(rng, 4, block=block), field_of_view(rng)
        save(f"labels/{image_id}_manual1.png", label)
        save(f"inferences/{image_id}.png", inference)
        save(f"valid/{image_id}_mask.png", valid.astype(np.uint8) * 255)
        pairs[image_id] = label, inference, valid
    return pairs


def assert_scored_inside(document, pairs, ignore_index=None):
    """Every image's numbers, and the combined ones, are scikit-learn's on the pixels inside."""
    scored = {image["id"]: image for image in document["images"]}
    for image_id, (label, inference, valid) in pairs.items():
        assert_report_matches_sklearn(scored[image_id], label[valid], inference[valid], ignore_index, 0.0)
    labels = np.concatenate([label[valid] for label, _, valid in pairs.values()])
    inferences = np.concatenate([inference[valid] for _, inference, valid in pairs.values()])
    counted = labels != ignore_index if ignore_index is not None else np.ones(labels.size, bool)
    np.testing.assert_array_equal(tool.matrix_from_report(document["combined"]),
                                  expected_matrix(labels[counted], inferences[counted]))
    assert document["combined"]["images"] == len(pairs)


@pytest.mark.parametrize("args, ignore_index", [((), None), (("--ignore-index", "3"), 3),
                                                (("--jobs", "2"), None), (("--check-with-sklearn",), None)])
def test_valid_masks_give_scikit_learns_numbers_on_the_pixels_inside(drive, capsys, args, ignore_index):
    status, document, err = run(capsys, *DRIVE_ARGS, *args)
    assert status == 0, err
    assert_scored_inside(document, drive, ignore_index)
    assert document["errors"] == []


def test_boundary_counts_leave_out_the_pixels_outside(drive, capsys):
    status, document, err = run(capsys, *DRIVE_ARGS, "--boundary", "--ignore-index", "3")
    assert status == 0, err
    for image in document["images"]:
        label, inference, valid = drive[image["id"]]
        d = tool.boundary_width(label.shape, tool.BOUNDARY_RATIO)
        expected = plain_boundary_counts(label, inference, d, valid & (label != 3))
        for class_id, row in image["classes"].items():
            assert (row["boundary_intersection"], row["boundary_union"]) == tuple(expected[:, int(class_id)])


def test_recursive_finds_the_valid_masks_by_the_path_below_the_folder(tmp_path, monkeypatch, capsys):
    rng = np.random.default_rng(7)
    monkeypatch.chdir(tmp_path)
    pairs = {}
    for image_id in ("city1/x", "city2/x"):  # one file name in two sub-folders: two ids, two valid masks
        label, inference, valid = blocky(rng, 3), blocky(rng, 3), field_of_view(rng)
        save(f"labels/{image_id}.png", label)
        save(f"inferences/{image_id}.png", inference)
        save(f"valid/{image_id}_fov.png", valid)  # 1-bit
        pairs[image_id] = label, inference, valid
    status, document, err = run(capsys, "--recursive", "--valid-masks", "valid", "--valid-suffix", "_fov")
    assert status == 0, err
    assert_scored_inside(document, pairs)


def write_rgb(path, valid, colour=(0, 200, 90)):
    rgb = np.zeros((*valid.shape, 3), np.uint8)
    rgb[valid] = colour
    save(path, rgb)


def write_palette_gif(path, valid):
    image = Image.fromarray(valid.astype(np.uint8), "P")
    image.putpalette([0, 0, 0, 255, 255, 255])
    Path(path).unlink()  # in place of the PNG
    image.save(Path(path).with_suffix(".gif"))


def write_tiff(path, valid):
    Path(path).unlink()
    save(Path(path).with_suffix(".tif"), valid.astype(np.uint8) * 7)


@pytest.mark.parametrize("write", [
    lambda path, valid: save(path, valid.astype(np.uint8)),  # 0/1
    lambda path, valid: save(path, valid),  # 1-bit
    write_rgb,  # black and one colour
    write_palette_gif,  # DRIVE's masks are GIFs
    write_tiff,
], ids=["0-1", "1-bit", "rgb", "gif", "tiff"])
def test_a_valid_mask_is_read_as_masks_are_its_non_zero_pixels_counted(drive, capsys, write):
    label, inference, valid = drive["b"]
    write("valid/b_mask.png", valid)
    status, document, err = run(capsys, *DRIVE_ARGS)
    assert status == 0, err
    assert_scored_inside(document, drive)


def test_a_valid_mask_without_a_pair_is_passed_over(drive, capsys):
    save("valid/unpaired_mask.png", np.zeros((3, 3), np.uint8))  # empty and of another size: never read
    status, document, err = run(capsys, *DRIVE_ARGS)
    assert status == 0, err
    assert document["errors"] == [] and len(document["images"]) == 3


def make_grey(path):  # a mask once saved as a JPEG: greys along its edge
    valid = np.zeros(SHAPE, np.uint8)
    valid[2:10, 3:13] = 255
    valid[2, 3:13], valid[9, 3:13] = 130, 40
    save(path, valid)


BAD_VALID_MASKS = {  # how b's valid mask is spoilt: (what to do, the file at fault, words of the error)
    "missing": (lambda: Path("valid/b_mask.png").unlink(), "labels/b_manual1.png",
                ["no valid mask b_mask.* in valid"]),
    "size": (lambda: save("valid/b_mask.png", np.full((SHAPE[0], SHAPE[1] + 1), 255, np.uint8)),
             "valid/b_mask.png", ["is 17x12 but labels/b_manual1.png is 16x12", "sizes differ"]),
    "grey": (lambda: make_grey("valid/b_mask.png"), "valid/b_mask.png",
             ["4 values (0, 40, 130, 255)", "not a binary mask"]),
    "two colours": (lambda: save("valid/b_mask.png", np.dstack([np.eye(*SHAPE, dtype=np.uint8) * 255,
                                                                 np.eye(*SHAPE, k=1, dtype=np.uint8) * 255,
                                                                 np.zeros(SHAPE, np.uint8)])),
                    "valid/b_mask.png", ["3 colours ((0, 0, 0), (255, 0, 0), (0, 255, 0))", "not a binary mask"]),
    "no value besides 0": (lambda: save("valid/b_mask.png", 9 - np.eye(*SHAPE, dtype=np.uint8)),
                           "valid/b_mask.png", ["2 values (8, 9)", "not a binary mask"]),
    "empty": (lambda: save("valid/b_mask.png", np.zeros(SHAPE, np.uint8)), "valid/b_mask.png",
              ["every pixel is 0", "counts no pixel"]),
    "jpeg": (lambda: (Path("valid/b_mask.png").unlink(), save("valid/b_mask.jpg", np.full(SHAPE, 255, np.uint8))),
             "valid/b_mask.jpg", ["lossy"]),
    "two for one id": (lambda: save("valid/b_mask.gif", np.full(SHAPE, 255, np.uint8)), "valid/b_mask.png",
                       ["valid/b_mask.gif", "two masks for one id"]),
    "corrupt": (lambda: Path("valid/b_mask.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really"), "valid/b_mask.png",
                ["corrupt"]),
}


@pytest.mark.parametrize("case", BAD_VALID_MASKS)
def test_a_bad_valid_mask_refuses_its_pair_in_one_line_and_the_rest_are_scored(drive, capsys, case):
    spoil, path, words = BAD_VALID_MASKS[case]
    spoil()
    status, document, err = run(capsys, *DRIVE_ARGS)
    assert status == 1, err
    assert len(document["errors"]) == 1
    error = document["errors"][0]["error"]
    assert path in error and "\n" not in error, error
    for word in words:
        assert word in error, (word, error)
    del drive["b"]
    assert_scored_inside(document, drive)
    # in text, the same one line on stderr and no traceback
    status = tool.main(["--quiet", *DRIVE_ARGS])
    err = capsys.readouterr().err
    assert status == 1 and "Traceback" not in err
    assert [line for line in err.splitlines() if path in line] == [f"error: {error}"]


def test_every_pair_without_a_valid_mask_is_refused_not_a_crash(drive, capsys):
    for image_id in IDS:
        Path(f"valid/{image_id}_mask.png").unlink()
    status, document, err = run(capsys, *DRIVE_ARGS)
    assert status == 1 and document["images"] == [] and len(document["errors"]) == 3


# ---------------------------------------------------------------- --label-encoding kitti-road

@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_kitti_road_ground_truth_worked_by_hand(tmp_path, monkeypatch, capsys, mode):
    """Magenta is road and red not road, both evaluated; black is not evaluated, and neither is blue
    alone (road outside the evaluated area). Counted: (0, 0) road as road, (0, 1) road as not road,
    (0, 2) and (1, 1) not road as not road, (1, 2) road as road: rows label, columns inference. An
    alpha channel is left aside, as the devkit leaves it."""
    monkeypatch.chdir(tmp_path)
    rgb = np.array([[MAGENTA, MAGENTA, RED, BLACK], [BLUE, RED, MAGENTA, BLACK]], np.uint8)
    alpha = np.array([[255, 0, 90, 255], [255, 255, 0, 7]], np.uint8)
    save("labels/um_road_000000.png", rgb if mode == "RGB" else np.dstack([rgb, alpha]))
    save("inferences/um_road_000000.png", np.array([[1, 0, 0, 1], [1, 0, 1, 1]], np.uint8))
    status, document, err = run(capsys, "--label-encoding", "kitti-road")
    assert status == 0, err
    image = document["images"][0]
    assert image["pixels"] == 5
    assert image["confusion_matrix"] == {"labels": [0, 1], "matrix": [[2, 0], [1, 2]]}


def random_kitti_ground_truth(rng, shape=SHAPE):
    """Any 8-bit RGB, each channel often 0: the devkit's rule on every kind of pixel, not only the three
    colours KITTI draws."""
    rgb = rng.integers(0, 256, (*shape, 3)).astype(np.uint8)
    rgb[rng.random((*shape, 3)) < 0.5] = 0
    return rgb


@pytest.mark.parametrize("with_valid_masks", [False, True])
def test_kitti_road_encoding_is_the_devkits_ground_truth(tmp_path, monkeypatch, capsys, with_valid_masks):
    """Against the oracle's getGroundTruth (road = blue > 0, evaluated = red > 0); with --valid-masks as
    well, a pixel counts where both say so."""
    rng = np.random.default_rng(11)
    monkeypatch.chdir(tmp_path)
    pairs, args = {}, ["--label-encoding", "kitti-road"]
    for image_id in ("um_road_000000", "umm_road_000001", "uu_road_000002"):
        rgb, inference = random_kitti_ground_truth(rng), blocky(rng, 1, block=1)
        save(f"labels/{image_id}.png", rgb)
        save(f"inferences/{image_id}.png", inference)
        road, valid = ground_truth(rgb)
        if with_valid_masks:
            fov = field_of_view(rng)
            save(f"valid/{image_id}.png", fov)
            valid = valid & fov
        pairs[image_id.replace("_road", "")] = road.astype(np.uint8), inference, valid  # the image's id
    status, document, err = run(capsys, *args, *(["--valid-masks", "valid"] if with_valid_masks else []))
    assert status == 0, err
    assert_scored_inside(document, pairs)


@pytest.mark.parametrize("mode", ["L", "P", "LA"])
def test_a_kitti_road_label_that_is_not_rgb_is_refused_in_one_line(tmp_path, monkeypatch, capsys, mode):
    monkeypatch.chdir(tmp_path)
    rgb = np.array([[MAGENTA, RED], [BLACK, MAGENTA]], np.uint8)
    save("labels/good.png", rgb)
    save("inferences/good.png", np.array([[1, 1], [1, 0]], np.uint8))
    Image.fromarray(rgb).convert(mode).save("labels/grey.png")
    save("inferences/grey.png", np.zeros((2, 2), np.uint8))
    status, document, err = run(capsys, "--label-encoding", "kitti-road")
    assert status == 1, err
    [error] = document["errors"]
    assert error["error"].startswith(f"labels/grey.png: mode {mode}, not the 8-bit RGB of KITTI road's ground "
                                     "truth")
    assert "\n" not in error["error"]
    [image] = document["images"]
    assert image["id"] == "good" and image["confusion_matrix"] == {"labels": [0, 1], "matrix": [[0, 1], [1, 1]]}


# ---------------------------------------------------------------- the record, --merge and --compare

def test_the_json_head_records_how_the_masks_were_read(drive, capsys):
    status, document, err = run(capsys, *DRIVE_ARGS)
    assert status == 0, err
    assert {key: document["input"][key] for key in ("valid_masks", "valid_suffix", "label_encoding")} == {
        "valid_masks": "valid", "valid_suffix": "_mask", "label_encoding": None}
    assert list(document["input"]) == list(tool.INPUT_KEYS)
    status, document, err = run(capsys, "--label-suffix", "_manual1")
    assert status == 0, err
    assert document["input"]["valid_masks"] is document["input"]["valid_suffix"] is None


def save_report(capsys, path, *args):
    status, document, err = run(capsys, *args)
    assert status == 0, err
    Path(path).write_text(json.dumps(document))
    return document


def test_merge_refuses_shards_read_with_other_valid_masks(drive, capsys):
    Path("fov").mkdir()
    for image_id in IDS:
        Path(f"fov/{image_id}_mask.png").write_bytes(Path(f"valid/{image_id}_mask.png").read_bytes())
    whole = save_report(capsys, "whole.json", *DRIVE_ARGS)
    save_report(capsys, "s1.json", *DRIVE_ARGS, "--shard", "1/2")
    save_report(capsys, "s2.json", *DRIVE_ARGS, "--shard", "2/2")
    save_report(capsys, "other.json", "--label-suffix", "_manual1", "--valid-masks", "fov",
                "--valid-suffix", "_mask", "--shard", "2/2")
    status, merged, err = run(capsys, "--merge", "s1.json", "s2.json")
    assert status == 0, err
    assert merged == whole
    status, _, err = run(capsys, "--merge", "s1.json", "other.json")
    assert status == 2 and err.count("\n") == 1, err
    assert err.startswith("error: the reports were made with different id maps, palette, name suffixes, valid "
                          "masks or label encoding: other.json ")
    assert '"valid_masks": "fov"' in err and "s1.json" in err


@pytest.mark.parametrize("mode", ["--merge", "--compare"])
@pytest.mark.parametrize("option", [("--valid-masks", "valid"), ("--valid-suffix", "_mask"),
                                    ("--label-encoding", "kitti-road")])
def test_merge_and_compare_refuse_the_options_that_read_masks(drive, capsys, mode, option):
    save_report(capsys, "s1.json", *DRIVE_ARGS)
    save_report(capsys, "s2.json", *DRIVE_ARGS)
    with pytest.raises(SystemExit) as stop:
        tool.main([mode, "s1.json", "s2.json", *option])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(
        f"{option[0]} does not apply to {mode}: no mask is read, only the reports' counts")


def test_a_report_of_the_version_before_these_keys_merges_as_read_without_them(drive, capsys):
    whole = save_report(capsys, "whole.json", "--label-suffix", "_manual1")
    old = save_report(capsys, "s1.json", "--label-suffix", "_manual1", "--shard", "1/2")
    save_report(capsys, "s2.json", "--label-suffix", "_manual1", "--shard", "2/2")
    for key in ("valid_masks", "valid_suffix", "label_encoding"):
        del old["input"][key]
    Path("s1.json").write_text(json.dumps(old))
    status, merged, err = run(capsys, "--merge", "s1.json", "s2.json")
    assert status == 0, err
    assert merged == whole
    save_report(capsys, "s2.json", *DRIVE_ARGS, "--shard", "2/2")  # one that used them still differs
    status, _, err = run(capsys, "--merge", "s1.json", "s2.json")
    assert status == 2 and "different id maps, palette, name suffixes, valid masks" in err


@pytest.mark.parametrize("args, words", [
    (("--valid-suffix", "_mask"), "--valid-suffix needs --valid-masks"),
    (("--valid-masks", "labels"), "--valid-masks and --labels name one folder, labels, and the same name ending"),
    (("--valid-masks", "inferences", "--valid-suffix", "_x", "--inference-suffix", "_x"),
     "--valid-masks and --inferences name one folder"),
])
def test_valid_masks_options_that_cannot_work_are_usage_errors(drive, capsys, args, words):
    with pytest.raises(SystemExit) as stop:
        tool.main(list(args))
    assert stop.value.code == 2
    assert words in capsys.readouterr().err.strip().splitlines()[-1]


def test_a_valid_masks_folder_that_is_not_there_stops_the_run(drive, capsys):
    status, _, err = run(capsys, "--valid-masks", "nowhere")
    assert status == 2 and err == "error: --valid-masks nowhere: no such folder\n"


# ---------------------------------------------------------------- pictures

def test_the_overlays_show_the_pixels_outside_as_not_counted(drive, capsys):
    status, document, err = run(capsys, *DRIVE_ARGS, "--output-dir", "report", "--ignore-index", "3")
    assert status == 0, err
    for image_id, (label, inference, valid) in drive.items():
        with Image.open(f"report/overlays/{image_id}.png") as overlay:
            indices = np.asarray(overlay)
        ignored = ~valid | (label == 3)
        np.testing.assert_array_equal(indices == 2, ignored)
        np.testing.assert_array_equal(indices == 1, (label != inference) & ~ignored)
        with Image.open(f"report/predicted_as/{image_id}.png") as layer:
            shown = np.asarray(layer.convert("RGB"))
        np.testing.assert_array_equal((shown == tool.IGNORED_COLOUR).all(axis=2), ignored)


# ---------------------------------------------------------------- the README's commands

def readme_commands():
    """The commands of the README's "Pixels that are not evaluated" section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("### Pixels that are not evaluated", 1)[1].split("```", 2)[1]
    return [line for line in block.strip().splitlines() if line.startswith("python ")]


def predict(truth, rng):
    """A model's 0/1 output: the truth, a fifth of its pixels flipped."""
    return (truth ^ (rng.random(truth.shape) < 0.2)).astype(np.uint8)


def write_drive(rng):
    """DRIVE's test layout: GIF labels (0/255) and field-of-view masks, and predictions of 0/1."""
    pairs = {}
    for number in (1, 2, 19):
        label, valid = blocky(rng, 1), field_of_view(rng)
        inference = predict(label, rng)
        save(f"DRIVE/test/1st_manual/{number:02d}_manual1.gif", label * 255)
        save(f"DRIVE/test/mask/{number:02d}_test_mask.gif", valid.astype(np.uint8) * 255)
        save(f"DRIVE/test/images/{number:02d}_test.tif", np.zeros((*SHAPE, 3), np.uint8))  # not read
        save(f"predictions/{number:02d}.png", inference)
        pairs[f"{number:02d}"] = label, inference, valid
    return pairs


def write_kitti_road(rng):
    """KITTI road's ground truth in its three colours, and predictions of 0/1."""
    pairs = {}
    colours = np.array([MAGENTA, RED, BLACK], np.uint8)
    for image_id in ("um_road_000000", "umm_road_000000", "uu_road_000000"):
        rgb = colours[blocky(rng, 2)]
        road, valid = ground_truth(rgb)
        inference = predict(road, rng)
        save(f"data_road/training/gt_image_2/{image_id}.png", rgb)
        save(f"predictions/{image_id}.png", inference)
        pairs[image_id.replace("_road", "")] = road.astype(np.uint8), inference, valid  # the image's id
    return pairs


@pytest.mark.parametrize("command", readme_commands(), ids=lambda command: command.split()[3])
def test_each_readme_command_scores_its_layout_exactly(command, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(len(command))
    pairs = write_drive(rng) if "DRIVE" in command else write_kitti_road(rng)
    status, document, err = run(capsys, *shlex.split(command)[2:])
    assert status == 0, err
    assert document["warnings"] == []
    assert_scored_inside(document, pairs)


def test_the_readme_names_both_commands():
    assert [("DRIVE" in command, "kitti-road" in command) for command in readme_commands()] == [(True, False),
                                                                                                 (False, True)]
