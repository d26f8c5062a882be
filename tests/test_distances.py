"""--distances (issue 27): each class's boundary distances per image (HD, HD95 as MONAI and as
MedPy, ASSD, MASD, NSD, boundary F1), their means over images and classes, the per-case statistics
of every per-class number, and --exclude-from-means.

Every number is checked against an independent computation: a brute-force all-pairs implementation
of the definitions on small masks (brute_force below), MedPy 0.5's hd / hd95 / assd on the binary
masks of each class, scipy's exact distance transform on large masks, numpy on the per-image values
for the per-case statistics and scikit-learn (labels=) for the means with classes left out.

The definitions (pixel spacing SY SX, rows first):
- a class's boundary in a mask: its counted pixels with a 4-neighbour that is another id, is not
  counted (a label pixel of the ignore index, a pixel outside the valid mask) or is beyond the edge;
- to_label: each inference-boundary pixel's Euclidean distance to the nearest label-boundary pixel
  of the class; to_inference: back;
- hd = max of both; hd95 = max of the two 95th percentiles; hd95_pooled = 95th percentile of both
  together; assd = mean of both together; masd = mean of the two means;
  nsd = share of both within (<=) the tolerance; boundary_f = F1 of precision = share of
  to_label nearer (<) than the tolerance and recall = share of to_inference nearer than it, 0 when
  both are 0;
- tolerance: --tolerance, else 0.0075 x hypot(H x SY, W x SX) of each image.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from medpy.metric import binary as medpy
from PIL import Image
from scipy.ndimage import distance_transform_edt
from sklearn.metrics import jaccard_score, precision_recall_fscore_support, recall_score

from conftest import tool
from test_valid_regions import plain_boundary_counts

# of a class in one mask only: None (or --empty-distance) ...
DISTANCE_KEYS = ("hd", "hd95", "hd95_pooled", "assd", "masd")
SHARE_KEYS = ("nsd", "boundary_f")  # ... and 0
KEYS = DISTANCE_KEYS + SHARE_KEYS
CLASS_METRICS = ("precision", "recall", "f1_score", "iou", "specificity")
REL = 1e-12


# ---------------------------------------------------------------- helpers

def save(path, array):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array)).save(path)


def write_pairs(pairs, labels="labels", inferences="inferences"):
    """pairs: {id: (label, inference)} as uint8 PNGs in the working folder."""
    for image_id, (label, inference) in pairs.items():
        save(f"{labels}/{image_id}.png", label)
        save(f"{inferences}/{image_id}.png", inference)


def run(capsys, *args):
    """(status, JSON document, stderr) of a run with --format json."""
    status = tool.main(["--format", "json", "--quiet", *args])
    captured = capsys.readouterr()
    return status, json.loads(captured.out) if captured.out else None, captured.err


def json_run(capsys, *args):
    status, document, err = run(capsys, *args)
    assert status == 0, err
    return document


def blocky(rng, highest, shape, block):
    """Ids 0..highest in square blocks of the given side (1: pixel noise)."""
    small = rng.integers(0, highest + 1, (-(-shape[0] // block), -(-shape[1] // block)))
    return np.repeat(np.repeat(small, block, 0), block, 1)[:shape[0], :shape[1]].astype(np.uint8)


def counted_pixels(label, ignore_index=None, valid=None):
    counted = np.ones(label.shape, bool) if valid is None else valid.copy()
    if ignore_index is not None:
        counted &= label != ignore_index
    return counted


def border(mask):
    """The definition: the pixels of a boolean mask with a 4-neighbour outside it, the image's edge
    outside too."""
    padded = np.pad(mask, 1, constant_values=False)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask & ~inner


def all_pairs(source, target, spacing):
    """Brute force: each pixel of source (raster order) to its nearest pixel of target, every pair
    measured."""
    (sy, sx), (ty, tx) = np.nonzero(source), np.nonzero(target)
    dy, dx = sy[:, None] - ty[None, :], sx[:, None] - tx[None, :]
    return np.sqrt((dy * spacing[0]) ** 2 + (dx * spacing[1]) ** 2).min(axis=1)


def by_transform(source, target, spacing):
    """The same by scipy's exact Euclidean distance transform (MedPy's way), for large masks."""
    return distance_transform_edt(~target, sampling=spacing)[source]


def numbers_of(to_label, to_inference, tolerance):
    """The seven numbers of a class from its two directed distances, as the definitions say."""
    both = np.concatenate((to_label, to_inference))
    precision = np.count_nonzero(to_label < tolerance) / len(to_label)
    recall = np.count_nonzero(to_inference < tolerance) / len(to_inference)
    return {"hd": both.max(),
            "hd95": max(np.percentile(to_label, 95), np.percentile(to_inference, 95)),
            "hd95_pooled": np.percentile(both, 95),
            "assd": both.mean(),
            "masd": (to_label.mean() + to_inference.mean()) / 2,
            "nsd": (np.count_nonzero(to_label <= tolerance)
                    + np.count_nonzero(to_inference <= tolerance)) / len(both),
            "boundary_f": (2 * precision * recall / (precision + recall)
                           if precision + recall else 0.0)}


def default_tolerance(shape, spacing):
    return 0.0075 * math.hypot(shape[0] * spacing[0], shape[1] * spacing[1])


def brute_force(label, inference, counted, ignore_index=None, spacing=(1.0, 1.0), tolerance=None,
                empty=None, directed=all_pairs):
    """{class id: its seven numbers} of one pair, of every class with a counted pixel in either
    mask."""
    if tolerance is None:
        tolerance = default_tolerance(label.shape, spacing)
    ids = set(label[counted].tolist()) | set(inference[counted].tolist())
    expected = {}
    for class_id in sorted(ids - {ignore_index}):
        in_label, in_inference = (label == class_id) & counted, (inference == class_id) & counted
        if in_label.any() and in_inference.any():
            to_label = directed(border(in_inference), border(in_label), spacing)
            to_inference = directed(border(in_label), border(in_inference), spacing)
            expected[class_id] = numbers_of(to_label, to_inference, tolerance)
        else:
            expected[class_id] = {**dict.fromkeys(DISTANCE_KEYS, empty),
                                  **dict.fromkeys(SHARE_KEYS, 0.0)}
    return expected


def assert_number(got, expected, where):
    if expected is None:
        assert got is None, where
    else:
        assert got is not None and got == pytest.approx(expected, rel=REL), where


def assert_image(report, expected, where=""):
    """An image report's classes are exactly the expected ones, each with the expected numbers."""
    assert sorted(map(int, report["classes"])) == sorted(expected), where
    for class_id, numbers in expected.items():
        row = report["classes"][str(class_id)]
        for key in KEYS:
            assert_number(row[key], numbers[key], (where, class_id, key))


def assert_medpy(row, in_label, in_inference, spacing, where=""):
    """hd, hd95_pooled and assd of a class in both masks are MedPy's on its binary masks (result:
    the inference, reference: the label; 4-connected borders, as the tool's)."""
    spacing = tuple(float(size) for size in spacing)
    for key, function in (("hd", medpy.hd), ("hd95_pooled", medpy.hd95), ("assd", medpy.assd)):
        assert row[key] == pytest.approx(function(in_inference, in_label, voxelspacing=spacing,
                                                  connectivity=1), rel=REL), (where, key)


def assert_medpy_of_image(image, label, inference, counted, spacing):
    """assert_medpy for every class of an image report in both masks."""
    for class_id in map(int, image["classes"]):
        in_label, in_inference = (label == class_id) & counted, (inference == class_id) & counted
        if in_label.any() and in_inference.any():
            assert_medpy(image["classes"][str(class_id)], in_label, in_inference, spacing,
                         (image["id"], class_id))


def spacing_args(spacing):
    return ("--spacing", *map(str, spacing)) if spacing is not None else ("--distances",)


def mean_or_none(values):
    values = [value for value in values if value is not None]
    return float(np.mean(values)) if values else None


# ---------------------------------------------------------------- 1: random small masks

def random_pair(rng, shape):
    """Blocks of ids 0..3 (or pixel noise), the inference shifted and noisy, with a one-pixel
    class 5 in each mask, a class 6 that is one row of the label and one column of the
    inference, and a class 7 that is one column of the label and one row of the inference."""
    label = blocky(rng, 3, shape, int(rng.integers(1, 6)))
    inference = np.roll(label, int(rng.integers(-2, 3)), axis=int(rng.integers(0, 2)))
    noise = rng.random(shape) < 0.1
    inference[noise] = rng.integers(0, 4, int(noise.sum()))
    height, width = shape
    for mask in (label, inference):
        mask[rng.integers(height), rng.integers(width)] = 5
    row, (start, stop) = rng.integers(height), np.sort(rng.integers(0, width + 1, 2))
    label[row, start:stop + 1] = 6
    column, (start, stop) = rng.integers(width), np.sort(rng.integers(0, height + 1, 2))
    inference[start:stop + 1, column] = 6
    column, (start, stop) = rng.integers(width), np.sort(rng.integers(0, height + 1, 2))
    label[start:stop + 1, column] = 7
    row, (start, stop) = rng.integers(height), np.sort(rng.integers(0, width + 1, 2))
    inference[row, start:stop + 1] = 7
    return label, inference


SHAPES = [(1, 1), (1, 40), (40, 1), (2, 3), (40, 40), (5, 33), (17, 9)]  # and random ones


@pytest.mark.parametrize("seed, spacing, tolerance, ignore_index, empty", [
    (1, None, None, None, None),  # the defaults: 1 1, 0.75% of each image's diagonal
    (2, (0.5, 1.25), None, None, None),
    (3, (0.5, 1.25), 1.25, 3, None),  # 1.25 is the distance of a column: < and <= differ (and
    # the images are scored by two worker processes, --jobs 2)
    (4, (1, 1), 1, None, 373.13),
    (5, (2, 0.7), 2, 0, 0),
    (6, (0.2, 5), 5, None, None),  # far from square: the offsets' disc is 57 rows tall, 3 wide
])
def test_every_number_of_random_masks_is_the_brute_forces_and_medpys(
        tmp_path, monkeypatch, capsys, seed, spacing, tolerance, ignore_index, empty):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(seed)
    shapes = SHAPES + [tuple(rng.integers(1, 41, 2).tolist()) for _ in range(5)]
    pairs = {f"img{index:02}": random_pair(rng, shape) for index, shape in enumerate(shapes)}
    write_pairs(pairs)
    args = [*spacing_args(spacing)]
    if tolerance is not None:
        args += ["--tolerance", str(tolerance)]
    if ignore_index is not None:
        args += ["--ignore-index", str(ignore_index)]
    if empty is not None:
        args += ["--empty-distance", str(empty)]
    if seed == 3:
        args += ["--jobs", "2"]
    document = json_run(capsys, *args)
    spacing = spacing or (1, 1)
    assert document["distances"] == {"spacing": [float(size) for size in spacing],
                                     "tolerance": tolerance, "empty_distance": empty}
    for image in document["images"]:
        label, inference = pairs[image["id"]]
        counted = counted_pixels(label, ignore_index)
        expected = brute_force(label, inference, counted, ignore_index, spacing, tolerance, empty)
        assert_image(image, expected, image["id"])
        assert_medpy_of_image(image, label, inference, counted, spacing)


# ---------------------------------------------------------------- 2: far apart, and large masks

def far_pairs():
    """Classes whose boundaries are far (> 10 pixels) from the other mask's: a blob moved across the
    image, a class in two blobs of which the inference found one, and one row against one column."""
    label, inference = np.zeros((50, 70), np.uint8), np.zeros((50, 70), np.uint8)
    label[2:9, 2:11], inference[30:42, 45:66] = 1, 1  # moved far
    label[20:26, 30:36], label[44:48, 2:6], inference[21:27, 30:35] = 2, 2, 2  # one blob missed
    label[25, 50:69], inference[3:40, 20] = 3, 3  # a row against a column
    other = np.full((41, 23), 4, np.uint8)
    other[0, 0], other[40, 22] = 5, 6  # one pixel in a corner, the other in the opposite one
    predicted = np.full((41, 23), 4, np.uint8)
    predicted[40, 22], predicted[0, 0] = 5, 6
    return {"far": (label, inference), "corners": (other, predicted)}


@pytest.mark.parametrize("spacing", [(1, 1), (0.3, 2.5), (4, 0.5)])
def test_far_boundaries_found_beyond_the_near_offsets_are_exact(tmp_path, monkeypatch, capsys,
                                                                 spacing):
    monkeypatch.chdir(tmp_path)
    pairs = far_pairs()
    write_pairs(pairs)
    document = json_run(capsys, *spacing_args(spacing), "--tolerance", "3")
    farthest = 0
    for image in document["images"]:
        label, inference = pairs[image["id"]]
        counted = counted_pixels(label)
        expected = brute_force(label, inference, counted, spacing=spacing, tolerance=3)
        assert_image(image, expected, image["id"])
        for class_id in expected:
            assert_medpy(image["classes"][str(class_id)], label == class_id,
                         inference == class_id, spacing, (image["id"], class_id))
            farthest = max(farthest, expected[class_id]["hd"] / max(spacing))
    assert farthest > 10  # in pixels along the coarser axis: far beyond a disc of 50 offsets


def large_pair(rng, shape=(300, 500)):
    """Ellipses, a ring and rectangles, the inference's moved, grown and sprinkled with small blobs
    far from the label's."""
    rows, columns = np.mgrid[:shape[0], :shape[1]]
    label, inference = np.zeros(shape, np.uint8), np.zeros(shape, np.uint8)
    for mask, (dy, dx, grow) in ((label, (0, 0, 1.0)), (inference, (7, -12, 1.15))):
        ellipse = ((rows - 90 - dy) / (50 * grow)) ** 2 + ((columns - 140 - dx) / (90 * grow)) ** 2
        mask[ellipse < 1] = 1
        radius = np.hypot(rows - 200 + dy, columns - 350 + dx)
        mask[(radius > 40 * grow) & (radius < 70 * grow)] = 2
        mask[280:, int(20 * grow):int(300 * grow)] = 3  # on the image's edge
    label[10:40, 400:480] = 4
    inference[150:170, 20:30] = 4
    for _ in range(15):
        y, x = rng.integers(0, shape[0] - 6), rng.integers(0, shape[1] - 6)
        inference[y:y + int(rng.integers(1, 6)), x:x + int(rng.integers(1, 6))] = rng.integers(1, 5)
    return label, inference


def test_large_masks_are_medpys_and_the_distance_transforms(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(27)
    spacing = (0.8, 1.1)
    pairs = {"big": large_pair(rng)}
    write_pairs(pairs)
    document = json_run(capsys, *spacing_args(spacing))
    label, inference = pairs["big"]
    expected = brute_force(label, inference, counted_pixels(label), spacing=spacing,
                           directed=by_transform)
    assert sorted(expected) == [0, 1, 2, 3, 4]
    image = document["images"][0]
    assert_image(image, expected)
    for class_id in expected:
        assert_medpy(image["classes"][str(class_id)], label == class_id, inference == class_id,
                     spacing, class_id)
    assert expected[4]["hd"] > 100


# ---------------------------------------------------------------- 3: empty, ignored and invalid

def empty_pairs():
    """a: class 1 in both, 2 in the label only, 3 in the inference only, 5 predicted only where the
    label is ignored (255: not counted), 255 predicted on counted pixels (no class), 4 in neither;
    b: classes 0 and 4 only."""
    label = np.zeros((9, 11), np.uint8)
    label[1:5, 1:6], label[6:9, 7:11], label[:, 0] = 1, 2, 255
    label[0, 3:8] = 255  # ignored pixels next to class 1 and inside class 0
    inference = np.zeros((9, 11), np.uint8)
    inference[2:6, 2:7], inference[7, 1:4] = 1, 3
    inference[3:6, 0], inference[0, 9] = 5, 255  # class 5 only on ignored pixels
    other, predicted = np.zeros((6, 6), np.uint8), np.zeros((6, 6), np.uint8)
    other[1:4, 1:4], predicted[2:5, 2:5] = 4, 4
    return {"a": (label, inference), "b": (other, predicted)}


@pytest.mark.parametrize("empty", [None, "0", "373.13"])
def test_a_class_in_one_mask_or_in_neither(tmp_path, monkeypatch, capsys, empty):
    monkeypatch.chdir(tmp_path)
    pairs = empty_pairs()
    write_pairs(pairs)
    args = ["--distances", "--ignore-index", "255"] + (["--empty-distance", empty] if empty else [])
    document = json_run(capsys, *args)
    empty = float(empty) if empty else None
    images = {image["id"]: image for image in document["images"]}
    for image_id, (label, inference) in pairs.items():
        counted = counted_pixels(label, 255)
        assert_image(images[image_id], brute_force(label, inference, counted, 255, empty=empty),
                     image_id)
    a = images["a"]["classes"]
    assert sorted(a) == ["0", "1", "2", "3"]  # not 4 (in neither), 5 (not counted) nor 255
    for class_id in ("2", "3"):  # in one mask only
        assert all(a[class_id][key] == empty for key in DISTANCE_KEYS)
        assert a[class_id]["nsd"] == a[class_id]["boundary_f"] == 0.0
    label, inference = pairs["a"]
    counted = counted_pixels(label, 255)
    assert_medpy(a["1"], (label == 1) & counted, (inference == 1) & counted, (1, 1))
    assert_medpy(a["0"], (label == 0) & counted, (inference == 0) & counted, (1, 1))

    combined = document["combined"]
    assert sorted(combined["classes"]) == ["0", "1", "2", "3", "4"]
    per_case = combined["per_case"]
    for key in KEYS:
        assert per_case[key]["4"]["empty"] == 1 and per_case[key]["4"]["n"] == 1  # neither in a
        assert per_case[key]["1"]["empty"] == 1 and per_case[key]["1"]["undefined"] == 0
        for class_id in ("2", "3"):
            entry = per_case[key][class_id]
            defined = key in SHARE_KEYS or empty is not None
            assert (entry["n"], entry["empty"], entry["undefined"]) == (int(defined), 1,
                                                                        1 - int(defined))
            value = 0.0 if key in SHARE_KEYS else empty
            assert entry["mean"] == entry["median"] == combined["classes"][class_id][key] == value
            assert entry["sd"] is None
    for key in CLASS_METRICS:
        assert per_case[key]["2"]["empty"] == 1 and per_case[key]["4"]["empty"] == 1


def test_pixels_outside_the_valid_masks_bound_the_classes(tmp_path, monkeypatch, capsys):
    """A class's pixel next to one outside the valid region is on its boundary; a class only
    outside is no class of the image."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(5)
    pairs, valids = {}, {}
    for image_id, shape in (("a", (20, 24)), ("b", (13, 31))):
        label, inference = random_pair(rng, shape)
        valid = blocky(rng, 3, shape, 4) > 0
        outside = ~valid & (np.arange(shape[1]) % 3 == 0)
        assert outside.any()
        inference[outside] = 8  # a class predicted outside only: not counted
        save(f"valid/{image_id}.png", valid.astype(np.uint8) * 255)
        pairs[image_id], valids[image_id] = (label, inference), valid
    write_pairs(pairs)
    document = json_run(capsys, "--spacing", "0.9", "1.3", "--valid-masks", "valid",
                        "--ignore-index", "2", "--tolerance", "1.3")
    for image in document["images"]:
        label, inference = pairs[image["id"]]
        counted = counted_pixels(label, 2, valids[image["id"]])
        expected = brute_force(label, inference, counted, 2, (0.9, 1.3), 1.3)
        assert 8 not in expected
        assert_image(image, expected, image["id"])
        assert_medpy_of_image(image, label, inference, counted, (0.9, 1.3))


# ---------------------------------------------------------------- 4: NSD and BF by hand

def test_nsd_and_boundary_f_worked_out_by_hand(tmp_path, monkeypatch, capsys):
    """With --spacing 2 1 (rows 2 apart, columns 1):

    a, 1x5: label 1 1 0 0 0, inference 1 1 1 1 0. Every pixel touches the edge, so every pixel is
      on its class's boundary.
      class 1: to_label (inference columns 0 1 2 3 to label columns 0 1) = 0 0 1 2,
               to_inference = 0 0.
        tolerance 1: NSD = (3 + 2) / 6 = 5/6; precision = #(< 1) = 2/4, recall = 2/2, BF = 2/3.
        tolerance 2: NSD = 6/6 = 1; precision = 3/4, recall = 1, BF = 6/7.
        HD 2, HD95 = max(p95(0 0 1 2) = 1.85, 0) = 1.85, pooled p95(0 0 0 0 1 2) = 1.75,
        ASSD = 3/6, MASD = (3/4 + 0) / 2 = 3/8.
      class 0: to_label (column 4 to columns 2 3 4) = 0, to_inference (2 3 4 to 4) = 2 1 0.
        tolerance 1: NSD = (1 + 2) / 4 = 3/4; precision 1, recall 1/3, BF = 1/2.
        tolerance 2: NSD = 1; precision 1, recall 2/3, BF = 4/5.
        HD 2, HD95 = max(0, p95(0 1 2) = 1.9), pooled p95(0 0 1 2) = 1.85, ASSD 3/4, MASD 1/2.
    b, 3x3: label 1 at the centre, inference 1 at the top left corner, 0 elsewhere.
      class 0: the label's boundary is its 8 pixels on the edge; the inference's is its 7 pixels on
        the edge: its centre pixel has four 0 neighbours and is inside. to_label = 0 x 7;
        to_inference: the corner to (0, 1) is 1 (not (1, 0), 2 away), the others 0.
        tolerance 1: NSD = 15/15 = 1; precision 7/7, recall 7/8, BF = 14/15.
        tolerance 2: NSD 1, BF 1.
        HD 1, HD95 = max(0, p95 of seven 0 and a 1 = 0.65), pooled p95 of fourteen 0 and a 1 = 0.3,
        ASSD 1/15, MASD (0 + 1/8) / 2 = 1/16.
      class 1: both ways sqrt(2^2 + 1^2) = sqrt 5 > 2: NSD 0, BF 0, every distance sqrt 5.
    """
    monkeypatch.chdir(tmp_path)
    a_label = np.array([[1, 1, 0, 0, 0]], np.uint8)
    a_inference = np.array([[1, 1, 1, 1, 0]], np.uint8)
    b_label, b_inference = np.zeros((3, 3), np.uint8), np.zeros((3, 3), np.uint8)
    b_label[1, 1], b_inference[0, 0] = 1, 1
    write_pairs({"a": (a_label, a_inference), "b": (b_label, b_inference)})
    distances = {("a", 1): (2, 1.85, 1.75, 0.5, 0.375), ("a", 0): (2, 1.9, 1.85, 0.75, 0.5),
                 ("b", 0): (1, 0.65, 0.3, 1 / 15, 1 / 16), ("b", 1): (math.sqrt(5),) * 5}
    shares = {1: {("a", 1): (5 / 6, 2 / 3), ("a", 0): (3 / 4, 1 / 2), ("b", 0): (1, 14 / 15),
                  ("b", 1): (0, 0)},
              2: {("a", 1): (1, 6 / 7), ("a", 0): (1, 4 / 5), ("b", 0): (1, 1), ("b", 1): (0, 0)}}
    for tolerance, expected in shares.items():
        document = json_run(capsys, "--spacing", "2", "1", "--tolerance", str(tolerance))
        for image in document["images"]:
            assert sorted(image["classes"]) == ["0", "1"]
            for class_id in (0, 1):
                row, where = image["classes"][str(class_id)], (image["id"], class_id)
                numbers = (*distances[where], *expected[where])
                for key, value in zip(KEYS, numbers):
                    assert row[key] == pytest.approx(value, rel=REL), (where, tolerance, key)
            assert image["mean_nsd"] == pytest.approx(
                np.mean([expected[image["id"], class_id][0] for class_id in (0, 1)]), rel=REL)


def test_the_default_tolerance_is_a_share_of_each_images_diagonal(tmp_path, monkeypatch, capsys):
    """Two images of one shift of a square, 10x10 and 400x400 (default tolerances 0.106 and 4.24
    pixels): in the small one only coinciding boundary pixels match, in the large one all do."""
    monkeypatch.chdir(tmp_path)
    pairs = {}
    for image_id, size in (("small", 10), ("large", 400)):
        label, inference = np.zeros((size, size), np.uint8), np.zeros((size, size), np.uint8)
        label[2:6, 2:6], inference[2:6, 4:8] = 1, 1
        pairs[image_id] = label, inference
    write_pairs(pairs)
    document = json_run(capsys, "--distances")
    images = {image["id"]: image for image in document["images"]}
    large = images["large"]["classes"]["1"]
    assert large["nsd"] == large["boundary_f"] == 1
    small = images["small"]["classes"]["1"]
    assert small["nsd"] < 1 and small["boundary_f"] < 1
    for image_id, (label, inference) in pairs.items():
        assert_image(images[image_id], brute_force(label, inference, counted_pixels(label)))


# ---------------------------------------------------------------- 5: per case, means, exclusion

def case_pairs(seed, images=5, shape=(12, 14)):
    """Pairs of ids 0..4 and 255 where some classes miss some images, one in the label only."""
    rng = np.random.default_rng(seed)
    pairs = {}
    for index in range(images):
        label = blocky(rng, 3, shape, int(rng.integers(1, 4)))
        inference = np.where(rng.random(shape) < 0.75, label, blocky(rng, 3, shape, 2))
        label[rng.random(shape) < 0.05] = 255
        if index == 0:  # 4 in one image only (in one shard only)
            label[2:5, 3:7], inference[3:6, 4:9] = 4, 4
        if index == 2:
            label[label == 3] = 1  # 3 in the inference only
        if index == 3:
            inference[inference == 2] = 0  # 2 in the label only
        pairs[f"case{index}"] = label.astype(np.uint8), inference.astype(np.uint8)
    return pairs


def assert_case_statistics(entry, values, images):
    """values: {image: value or None} of the images where the class is in either mask."""
    defined = np.array([value for value in values.values() if value is not None], np.float64)
    assert (entry["n"], entry["empty"], entry["undefined"]) == (
        len(defined), images - len(values), len(values) - len(defined))
    if not len(defined):
        assert entry["mean"] is entry["median"] is entry["q1"] is entry["q3"] is entry["sd"] is None
        return
    q1, median, q3 = np.percentile(defined, [25, 50, 75])
    for key, value in (("mean", defined.mean()), ("median", median), ("q1", q1), ("q3", q3),
                       ("sd", np.std(defined, ddof=1) if len(defined) > 1 else None)):
        assert_number(entry[key], value, key)


@pytest.mark.parametrize("empty", [None, "50"])
def test_per_case_statistics_are_numpys_on_the_per_image_values(tmp_path, monkeypatch, capsys,
                                                                empty):
    monkeypatch.chdir(tmp_path)
    pairs = case_pairs(3)
    write_pairs(pairs)
    args = ["--spacing", "1.5", "1", "--ignore-index", "255", "--boundary",
            "--zero-division", "nan", "--exclude-from-means", "0"]
    args += ["--empty-distance", empty] if empty else []
    document = json_run(capsys, *args)
    images, combined = document["images"], document["combined"]
    class_ids = sorted(combined["classes"], key=int)
    assert class_ids == ["0", "1", "2", "3", "4"]
    for image in images:  # the values themselves are the brute force's
        label, inference = pairs[image["id"]]
        assert_image(image, brute_force(label, inference, counted_pixels(label, 255), 255,
                                        (1.5, 1), empty=empty and float(empty)), image["id"])
    metrics = (*CLASS_METRICS, "boundary_iou", *KEYS)
    assert sorted(combined["per_case"]) == sorted(metrics)
    undefined = 0
    for key in metrics:
        assert sorted(combined["per_case"][key], key=int) == class_ids
        for class_id in class_ids:
            values = {image["id"]: image["classes"][class_id][key] for image in images
                      if class_id in image["classes"]}
            undefined += combined["per_case"][key][class_id]["undefined"]
            assert_case_statistics(combined["per_case"][key][class_id], values, len(images))
            if key in KEYS:  # the combined class's distance: its mean over the images
                assert (combined["classes"][class_id][key]
                        == combined["per_case"][key][class_id]["mean"])
        kept = [combined["per_case"][key][class_id]["mean"] for class_id in class_ids[1:]]
        assert_number(combined["per_case_means"][key], mean_or_none(kept), key)
    assert undefined > 0  # a label-only class's precision; its distances without --empty-distance
    for key in KEYS:  # the headline: the mean over the classes (0 left out), per image and combined
        assert_number(combined[f"mean_{key}"], mean_or_none(
            [combined["classes"][class_id][key] for class_id in class_ids[1:]]), key)
        for image in images:
            assert_number(image[f"mean_{key}"], mean_or_none(
                [row[key] for class_id, row in image["classes"].items() if class_id != "0"]),
                (image["id"], key))


def pooled(pairs, ignore_index=255):
    """The counted pixels of every pair, label and inference."""
    kept = [(label[label != ignore_index], inference[label != ignore_index])
            for label, inference in pairs.values()]
    return tuple(np.concatenate(side) for side in zip(*kept))


def assert_means_without(report, y_true, y_pred, excluded):
    """The means of a report (an image's or the combined one) are scikit-learn's with labels= the
    present classes but the excluded ones."""
    kept = sorted((set(y_true.tolist()) | set(y_pred.tolist())) - set(excluded) - {255})
    for average in ("macro", "weighted"):
        precision, recall, f1, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=kept, average=average, zero_division=0)
        iou = jaccard_score(y_true, y_pred, labels=kept, average=average, zero_division=0)
        for key, value in (("precision", precision), ("recall", recall), ("f1_score", f1),
                           ("iou", iou)):
            assert report[f"{average}_avg"][key] == pytest.approx(value, rel=REL), (average, key)
    assert report["mean_iou"] == pytest.approx(
        jaccard_score(y_true, y_pred, labels=kept, average="macro"), rel=REL)
    assert report["frequency_weighted_iou"] == pytest.approx(
        jaccard_score(y_true, y_pred, labels=kept, average="weighted"), rel=REL)
    assert report["mean_dice"] == pytest.approx(precision_recall_fscore_support(
        y_true, y_pred, labels=kept, average="macro", zero_division=0)[2], rel=REL)
    labelled = [class_id for class_id in kept if class_id in set(y_true.tolist())]
    assert report["mean_accuracy"] == pytest.approx(np.mean(recall_score(
        y_true, y_pred, labels=labelled, average=None, zero_division=0)), rel=REL)
    return kept


@pytest.mark.parametrize("excluded", ["0", "0,3"])
def test_excluded_classes_keep_their_rows_and_leave_every_mean(tmp_path, monkeypatch, capsys,
                                                               excluded):
    monkeypatch.chdir(tmp_path)
    pairs = case_pairs(8)
    write_pairs(pairs)
    excluded_ids = [int(class_id) for class_id in excluded.split(",")]
    document = json_run(capsys, "--distances", "--boundary", "--ignore-index", "255",
                        "--exclude-from-means", excluded)
    combined = document["combined"]
    assert document["exclude_from_means"] == combined["excluded_from_means"] == excluded_ids
    assert sorted(combined["classes"], key=int) == ["0", "1", "2", "3", "4"]  # rows kept

    kept = assert_means_without(combined, *pooled(pairs), excluded_ids)
    # Boundary IoU: each kept class's bands summed over images (test_boundary's definition).
    d = tool.boundary_width((12, 14), tool.BOUNDARY_RATIO)
    bands = sum(plain_boundary_counts(label, inference, d, label != 255)
                for label, inference in pairs.values())
    assert combined["mean_boundary_iou"] == pytest.approx(
        np.mean([bands[0, c] / bands[1, c] for c in kept if bands[1, c]]), rel=REL)
    # Distances and per-case means: brute force per image, then over images, then kept classes.
    per_image = {image_id: brute_force(label, inference, label != 255, 255)
                 for image_id, (label, inference) in pairs.items()}
    for key in KEYS:
        class_means = [mean_or_none([numbers[c][key] for numbers in per_image.values()
                                     if c in numbers]) for c in kept]
        assert_number(combined[f"mean_{key}"], mean_or_none(class_means), key)
        assert_number(combined["per_case_means"][key], mean_or_none(class_means), key)
    ious = [mean_or_none([jaccard_score(label[label != 255] == c, inference[label != 255] == c)
                          for label, inference in pairs.values()
                          if c in label[label != 255] or c in inference[label != 255]])
            for c in kept]
    assert combined["per_case_means"]["iou"] == pytest.approx(np.mean(ious), rel=REL)

    for image in document["images"]:
        label, inference = pairs[image["id"]]
        assert image["excluded_from_means"] == excluded_ids
        assert_means_without(image, label[label != 255], inference[label != 255], excluded_ids)
        for key in KEYS:
            assert_number(image[f"mean_{key}"], mean_or_none(
                [numbers[key] for c, numbers in per_image[image["id"]].items()
                 if c not in excluded_ids]), (image["id"], key))


# ---------------------------------------------------------------- 6: merge, bootstrap, usage

def assert_same_distances(ours, theirs):
    """The combined distances of two reports agree: each class's, the means, the per-case
    statistics (counts exactly) and the per-case means."""
    assert sorted(ours["classes"]) == sorted(theirs["classes"])
    for key in KEYS:
        for class_id in theirs["classes"]:
            assert_number(ours["classes"][class_id][key], theirs["classes"][class_id][key],
                          (class_id, key))
        assert_number(ours[f"mean_{key}"], theirs[f"mean_{key}"], key)
    assert sorted(ours["per_case"]) == sorted(theirs["per_case"])
    for key, classes in theirs["per_case"].items():
        assert sorted(ours["per_case"][key]) == sorted(classes)
        for class_id, entry in classes.items():
            for field, value in entry.items():
                if field in ("n", "empty", "undefined"):
                    assert ours["per_case"][key][class_id][field] == value, (key, class_id, field)
                else:
                    assert_number(ours["per_case"][key][class_id][field], value,
                                  (key, class_id, field))
        assert_number(ours["per_case_means"][key], theirs["per_case_means"][key], key)


def test_merged_shards_give_the_unsharded_distances(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write_pairs(case_pairs(11, images=6))
    args = ("--spacing", "0.5", "1.25", "--ignore-index", "255", "--empty-distance", "20",
            "--exclude-from-means", "0")
    whole = json_run(capsys, *args)
    for shard in ("1/2", "2/2"):
        document = json_run(capsys, *args, "--shard", shard)
        assert 0 < len(document["images"]) < 6
        Path(f"shard{shard[0]}.json").write_text(json.dumps(document))
    merged = json_run(capsys, "--merge", "shard1.json", "shard2.json")
    assert merged["distances"] == whole["distances"]
    assert merged["exclude_from_means"] == whole["exclude_from_means"] == [0]
    assert_same_distances(merged["combined"], whole["combined"])
    for key in ("mean_iou", "mean_dice", "mean_accuracy", "frequency_weighted_iou"):
        assert merged["combined"][key] == pytest.approx(whole["combined"][key], rel=REL)


def resampled(images, key, draws, excluded=()):
    """Each bootstrap resample's numbers from the per-image values: each class's mean over the drawn
    images (with repeats) where it is defined, (resamples, classes), and their mean over the classes
    but excluded, (resamples,); nan where undefined."""
    class_ids = sorted({class_id for image in images for class_id in image["classes"]}, key=int)
    table = np.array([[math.nan if image["classes"].get(class_id, {}).get(key) is None
                       else image["classes"][class_id][key] for class_id in class_ids]
                      for image in images])[draws]  # (resamples, images, classes)
    defined = (~np.isnan(table)).sum(axis=1)
    with np.errstate(invalid="ignore"):
        classes = np.where(defined > 0, np.nansum(table, axis=1) / defined, math.nan)
    kept = classes[:, [int(class_id) not in excluded for class_id in class_ids]]
    defined = (~np.isnan(kept)).sum(axis=1)
    with np.errstate(invalid="ignore"):
        means = np.where(defined > 0, np.nansum(kept, axis=1) / defined, math.nan)
    return dict(zip(class_ids, classes.T)), means


def interval(values, level=0.95):
    values = values[~np.isnan(values)]
    return np.percentile(values, [50 * (1 - level), 50 * (1 + level)]) if len(values) else None


def assert_interval(got, expected, where):
    if expected is None:
        assert got is None, where
    else:
        assert got == pytest.approx(list(expected), rel=1e-9, abs=1e-12), where


def test_bootstrap_and_compare_intervals_of_the_distances_are_percentiles_of_resamples(
        tmp_path, monkeypatch, capsys):
    """The images each resample draws are the tool's (bootstrap_draws: numpy's default_rng(seed));
    every resample's distances are computed here from the per-image values: each class's mean over
    the drawn images, the mean of those over the classes but 0; the intervals are their 2.5th and
    97.5th percentiles, and a comparison's those of the paired differences."""
    monkeypatch.chdir(tmp_path)
    pairs = case_pairs(12, images=5)
    write_pairs(pairs)
    write_pairs({image_id: (label, np.roll(inference, 1, axis=1))
                 for image_id, (label, inference) in pairs.items()}, inferences="other")
    args = ("--distances", "--ignore-index", "255", "--exclude-from-means", "0")
    base = json_run(capsys, *args, "--bootstrap", "200")
    intervals = base["combined"]["confidence_intervals"]
    draws = np.concatenate(list(tool.bootstrap_draws(len(base["images"]), 200, 0)))
    for key in KEYS:
        classes, means = resampled(base["images"], key, draws, excluded=(0,))
        assert_interval(intervals[f"mean_{key}"], interval(means), key)
        assert sorted(intervals["classes"], key=int) == list(classes)
        for class_id, values in classes.items():
            assert_interval(intervals["classes"][class_id][key], interval(values), (class_id, key))

    Path("base.json").write_text(json.dumps(base))
    model = json_run(capsys, *args, "--inferences", "other")
    Path("model.json").write_text(json.dumps(model))
    comparison = json_run(capsys, "--compare", "base.json", "model.json", "--bootstrap", "200")
    compared = comparison["comparisons"][0]
    for key in KEYS:
        assert compared["delta"][f"mean_{key}"] == pytest.approx(
            model["combined"][f"mean_{key}"] - base["combined"][f"mean_{key}"], rel=REL, abs=1e-15)
        base_classes, base_means = resampled(base["images"], key, draws, excluded=(0,))
        model_classes, model_means = resampled(model["images"], key, draws, excluded=(0,))
        assert_interval(compared["confidence_intervals"][f"mean_{key}"],
                        interval(model_means - base_means), key)
        for class_id, row in base["combined"]["classes"].items():
            metrics = compared["classes"][class_id]["metrics"][key]
            assert_number(metrics["baseline"], row[key], (class_id, key))
            assert_number(metrics["model"], model["combined"]["classes"][class_id][key],
                          (class_id, key))
            assert_interval(metrics["interval"],
                            interval(model_classes[class_id] - base_classes[class_id]),
                            (class_id, key))


def test_one_image_bootstraps_to_its_own_numbers(tmp_path, monkeypatch, capsys):
    """Every resample of one image is that image: each interval is the point, the excluded means
    and the distances' means included."""
    monkeypatch.chdir(tmp_path)
    write_pairs(case_pairs(4, images=1))
    combined = json_run(capsys, "--distances", "--ignore-index", "255", "--exclude-from-means", "0",
                        "--bootstrap", "200")["combined"]
    intervals = combined["confidence_intervals"]
    for key in ("mean_iou", "mean_dice", "mean_accuracy", "frequency_weighted_iou",
                *(f"mean_{key}" for key in KEYS)):
        assert intervals[key] == [combined[key]] * 2, key
    for class_id, row in combined["classes"].items():
        for key in ("iou", *KEYS):
            assert intervals["classes"][class_id][key] == (
                None if row[key] is None else [row[key]] * 2), (class_id, key)


def test_the_text_headline_counts_the_classes_it_averages(tmp_path, monkeypatch, capsys):
    """With --exclude-from-means 0 the text's headline (the image's and the combined one) says over
    how many classes each mean is: mIoU over 1 and 2, mHD over 1 (2 has no distance), mNSD over
    1 and 2 (2's is 0)."""
    monkeypatch.chdir(tmp_path)
    label, inference = np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8)
    label[1:4, 1:4], inference[2:5, 2:5], label[6:, 6:] = 1, 1, 2  # 2: in the label only
    write_pairs({"a": (label, inference)})
    assert tool.main(["--distances", "--exclude-from-means", "0", "--quiet"]) == 0
    said = {"mIoU": "of the 2 classes", "mHD": "of the 1 class where",
            "mNSD": "of the 2 classes where"}
    lines = [line for line in capsys.readouterr().out.splitlines()
             if line.split(" ", 1)[0] in said]
    assert len(lines) == 2 * len(said)  # the image's headline and the combined one
    for line in lines:
        assert said[line.split(" ", 1)[0]] in line, line


def test_headline_csv_has_the_distance_columns_only_with_distances(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write_pairs(case_pairs(2, images=2))
    for args, folder in (((), "plain"), (("--distances",), "with")):
        document = json_run(capsys, *args, "--output-dir", folder)
        header = Path(folder, "headline.csv").read_text(encoding="utf-8").splitlines()[0]
        assert [key in header.split(",") for key in (f"mean_{key}" for key in KEYS)] == (
            [bool(args)] * len(KEYS)), folder
        assert ("mean_hd" in document["images"][0]) == bool(args)


@pytest.mark.parametrize("args", [("--spacing", "0", "1"), ("--spacing", "-1", "1"),
                                  ("--tolerance", "abc"), ("--tolerance", "0"),
                                  ("--empty-distance", "-1")])
def test_bad_distance_options_are_one_line_and_exit_2(tmp_path, monkeypatch, capsys, args):
    monkeypatch.chdir(tmp_path)
    write_pairs(case_pairs(1, images=1))
    with pytest.raises(SystemExit) as stop:
        tool.main(["--format", "json", *args])
    assert stop.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 1 and args[0] in captured.err


# ---------------------------------------------------------------- 7: groups (BraTS' regions)

def test_groups_get_their_distances_per_image_over_images_and_per_case(tmp_path, monkeypatch,
                                                                       capsys):
    """With --groups, each group is one class against the rest for the distances too: every image's
    group numbers are the brute force's (and MedPy's) on the group's masks, the combined ones their
    means over the images where they are defined, the per-case statistics numpy's, and two merged
    shards give the same; a group in neither mask is left out and counted as empty."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(27)
    pairs = {}
    for index in range(8):
        label, inference = blocky(rng, 4, (24, 30), 3), blocky(rng, 4, (24, 30), 3)
        if index % 3 == 0:  # no 3 (the "enhancing" region) in either mask of some images
            label[label == 3], inference[inference == 3] = 1, 2
        label[0, :] = 255  # a void row: no class's, no group's
        pairs[f"{index:02d}"] = (label, inference)
    write_pairs(pairs)
    Path("groups.txt").write_text("whole: 1 2 3\ncore: 1 3\nenhancing: 3\n", encoding="utf-8")
    args = ("--distances", "--spacing", "0.5", "2", "--tolerance", "2", "--groups", "groups.txt",
            "--ignore-index", "255")
    document = json_run(capsys, *args)
    groups = {"whole": [1, 2, 3], "core": [1, 3], "enhancing": [3]}
    values = {name: {key: [] for key in ("dice", *KEYS)} for name in groups}
    for image in document["images"]:
        label, inference = pairs[image["id"]]
        counted = label != 255
        for name, ids in groups.items():
            in_label, in_inference = np.isin(label, ids) & counted, np.isin(inference, ids) & counted
            entry = image["groups"][name]
            if not (in_label.any() or in_inference.any()):
                assert all(entry[key] is None for key in KEYS), (image["id"], name)
                continue
            expected = brute_force(in_label.astype(np.uint8), in_inference.astype(np.uint8),
                                   counted, spacing=(0.5, 2.0), tolerance=2.0)[1]
            for key in KEYS:
                assert_number(entry[key], expected[key], (image["id"], name, key))
                values[name][key].append(entry[key])
            values[name]["dice"].append(entry["dice"])
            if medpy is not None and in_label.any() and in_inference.any():
                assert_medpy(entry, in_label, in_inference, (0.5, 2.0), (image["id"], name))
    combined = document["combined"]
    for name in groups:
        for key in KEYS:
            assert_number(combined["groups"][name][key], mean_or_none(values[name][key]),
                          (name, key))
        for key in ("dice", *KEYS):
            defined = [value for value in values[name][key] if value is not None]
            statistics = combined["per_case_groups"][key][name]
            assert statistics["n"] == len(defined) and statistics["empty"] == 8 - len(
                values[name][key]), (name, key)
            if len(defined) > 1:
                assert statistics["mean"] == pytest.approx(np.mean(defined), rel=REL)
                assert statistics["sd"] == pytest.approx(np.std(defined, ddof=1), rel=REL)
                assert [statistics[part] for part in ("q1", "median", "q3")] == pytest.approx(
                    np.percentile(defined, [25, 50, 75]), rel=REL)
    assert combined["per_case_groups"]["hd"]["enhancing"]["empty"] == 3  # images 0, 3 and 6
    for shard in (1, 2):
        Path(f"shard{shard}.json").write_text(json.dumps(json_run(
            capsys, *args, "--shard", f"{shard}/2")), encoding="utf-8")
    merged = json_run(capsys, "--merge", "shard1.json", "shard2.json")["combined"]
    assert merged["groups"] == combined["groups"]
    assert merged["per_case_groups"] == combined["per_case_groups"]
    intervals = json_run(capsys, *args, "--bootstrap", "100")["combined"]["confidence_intervals"]
    assert set(intervals["groups"]["whole"]) == {"iou", "dice", "precision", "recall", *KEYS}


def test_the_groups_table_says_where_its_distances_are_averaged(tmp_path, monkeypatch, capsys):
    """Over images, the text's groups table says, as the classes' distance table does, over how many
    images each group's distances are the mean and how many held it in one mask only (left out);
    merged with --groups of other ids, a group without distances says why, and the note is
    grammatical."""
    monkeypatch.chdir(tmp_path)
    empty, tumour = np.zeros((12, 12), np.uint8), np.zeros((12, 12), np.uint8)
    tumour[3:8, 3:8] = 2
    tumour[5:7, 5:7] = 3
    shifted = np.roll(tumour, 1, axis=1)
    write_pairs({"a": (tumour, shifted), "b": (tumour, np.where(tumour == 3, 1, tumour)),
                 "c": (empty, empty)})
    Path("groups.txt").write_text("whole: 1 2 3\nenhancing: 3\n", encoding="utf-8")
    assert tool.main(["--groups", "groups.txt", "--distances"]) == 0
    text = capsys.readouterr().out.split("=== combined")[1]
    table = text[text.index("Groups ("):].splitlines()
    assert "each distance the mean over the images where it is defined" in table[0]
    whole = next(line for line in table if line.startswith("whole"))
    enhancing = next(line for line in table if line.startswith("enhancing"))
    assert "one mask only" not in whole and whole.split()[-4:-3] == ["2"]  # images a and b
    assert enhancing.endswith("distances over 1 image: 1 with the group in one mask only")
    for shard in (1, 2):
        Path(f"s{shard}.json").write_text(json.dumps(json_run(
            capsys, "--groups", "groups.txt", "--distances", "--shard", f"{shard}/2")))
    Path("other.txt").write_text("whole: 1 2\nenhancing: 3\n", encoding="utf-8")
    assert tool.main(["--merge", "s1.json", "s2.json", "--groups", "other.txt"]) == 0
    captured = capsys.readouterr()
    assert "the boundary distances of those groups are left out" in captured.err
    table = captured.out.split("=== combined")[1].splitlines()
    assert next(line for line in table if line.startswith("whole")).endswith(
        "no distances: the reports were not counted with this group")
