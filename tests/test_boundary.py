"""Boundary IoU (--boundary): the bands against a plain per-class erosion, a case worked by hand, ignored
pixels, and exact merging."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage

from conftest import ROOT, tool

SAMPLE_IDS = [f"{n:06d}_10" for n in range(10)]


def reference_band(mask, d):
    """The definition, per id: the binary mask padded by one pixel of background, eroded d times with a
    3x3 square (scipy), unpadded, and taken from the mask. Returns the union of every id's band."""
    band = np.zeros(mask.shape, bool)
    for class_id in np.unique(mask):
        binary = np.pad(mask == class_id, 1)
        eroded = ndimage.binary_erosion(binary, structure=np.ones((3, 3), bool), iterations=d)[1:-1, 1:-1]
        band |= (mask == class_id) & ~eroded
    return band


def reference_boundary_counts(label, inference, d, ignore_index=None, counted=None):
    """Each id's |G & P| and |G | P| from the reference bands (eroded on the whole masks), ignored
    pixels (or those outside counted, a bool array) taken out of both."""
    if counted is None:
        counted = label != ignore_index if ignore_index is not None else np.ones(label.shape, bool)
    label_band, inference_band = reference_band(label, d), reference_band(inference, d)
    counts = np.zeros((2, 256), np.int64)
    for class_id in range(256):
        in_label = (label == class_id) & label_band & counted
        in_inference = (inference == class_id) & inference_band & counted
        counts[:, class_id] = (in_label & in_inference).sum(), (in_label | in_inference).sum()
    return counts


@st.composite
def blocky_masks(draw):
    """Masks of a few ids, either pixel noise or blocks (as real masks are), of any small size."""
    ids = draw(st.lists(st.integers(0, 255), min_size=1, max_size=4, unique=True))
    shape = draw(st.tuples(st.integers(1, 20), st.integers(1, 20)))
    block = draw(st.integers(1, 6))
    small = draw(arrays(np.uint8, ((shape[0] - 1) // block + 1, (shape[1] - 1) // block + 1),
                        elements=st.sampled_from(ids)))
    return np.repeat(np.repeat(small, block, axis=0), block, axis=1)[:shape[0], :shape[1]], ids


@settings(max_examples=300, deadline=None)
@given(blocky_masks(), st.integers(1, 12))
def test_the_bands_equal_erosions_of_each_class(mask_and_ids, d):
    mask, _ = mask_and_ids
    np.testing.assert_array_equal(tool.boundary_band(mask, d), reference_band(mask, d))


@settings(max_examples=150, deadline=None)
@given(blocky_masks(), blocky_masks(), st.integers(1, 8), st.booleans())
def test_boundary_counts_equal_the_definition(first, second, d, ignore):
    (label, ids), (other, _) = first, second
    inference = np.resize(other, label.shape)  # same shape, other ids
    ignore_index = ids[0] if ignore else None
    matrix, boundary = tool.count_pair(label, inference, ignore_index, d)
    np.testing.assert_array_equal(boundary, reference_boundary_counts(label, inference, d, ignore_index))
    np.testing.assert_array_equal(matrix, tool.count_matrix(label, inference, ignore_index))
    # Each image's report is made from the counts over the ids that occur: the same report.
    counts = tool.count_occurring(label, inference, ignore_index, d)
    np.testing.assert_array_equal(counts.boundary, boundary[:, counts.ids])
    assert tool.compute_report(counts, 0.0, ignore_index) == tool.compute_report(matrix, 0.0, ignore_index,
                                                                                 boundary=boundary)


@pytest.mark.parametrize("ratio", [0.005, 0.02, 0.05])
def test_every_sample_against_the_definition(ratio):
    for image_id in SAMPLE_IDS[:4] if ratio != 0.02 else SAMPLE_IDS:
        label, _ = tool.read_mask(ROOT / "labels" / f"{image_id}.png")
        inference, _ = tool.read_mask(ROOT / "inferences" / f"{image_id}.png")
        d = tool.boundary_width(label.shape, ratio)
        assert d == max(1, int(round(ratio * np.sqrt(label.shape[0] ** 2 + label.shape[1] ** 2))))
        np.testing.assert_array_equal(tool.boundary_band(label, d), reference_band(label, d))
        _, boundary = tool.count_pair(label, inference, 255, d)
        np.testing.assert_array_equal(boundary, reference_boundary_counts(label, inference, d, 255))


def test_two_classes_touching_worked_by_hand():
    # A 4x8 image, d = 1 (0.02 of its diagonal of 8.9 rounds to 0, and d is at least 1). The label is
    # class 2 in columns 0-3 and class 3 in columns 4-7; the inference moves the edge one column right.
    label = np.array([[2] * 4 + [3] * 4] * 4, np.uint8)
    inference = np.array([[2] * 5 + [3] * 3] * 4, np.uint8)
    assert tool.boundary_width(label.shape, 0.02) == 1
    # Each class's band: its pixels next to the image's edge or to the other class. Both classes' bands
    # hold the edge between them: column 3 is class 2's, column 4 class 3's. (Eroding the label map as one
    # image, as detectron2 does, takes min over 3x3: column 4 would become 2, "boundary" 3 - 2 = class 1,
    # and column 3 would be no boundary at all.)
    expected_label_band = np.array([[1, 1, 1, 1, 1, 1, 1, 1],
                                    [1, 0, 0, 1, 1, 0, 0, 1],
                                    [1, 0, 0, 1, 1, 0, 0, 1],
                                    [1, 1, 1, 1, 1, 1, 1, 1]], bool)
    expected_inference_band = np.array([[1, 1, 1, 1, 1, 1, 1, 1],
                                        [1, 0, 0, 0, 1, 1, 0, 1],
                                        [1, 0, 0, 0, 1, 1, 0, 1],
                                        [1, 1, 1, 1, 1, 1, 1, 1]], bool)
    np.testing.assert_array_equal(tool.boundary_band(label, 1), expected_label_band)
    np.testing.assert_array_equal(tool.boundary_band(inference, 1), expected_inference_band)
    report = tool.compute_report(*tool.count_pair(label, inference, None, 1)[:1], boundary=tool.count_pair(
        label, inference, None, 1)[1])
    # Class 2: G = 12 pixels (16 minus the interior 2x2), P = 20 - 6 = 14; G & P = 12 - 2 (column 3's middle
    # rows, interior in the inference) = 10; union 12 + 14 - 10 = 16.
    two = report["classes"]["2"]
    assert (two["boundary_intersection"], two["boundary_union"], two["boundary_iou"]) == (10, 16, 10 / 16)
    # Class 3: G = 12, P = 12 - 2 interior (column 6's middle rows) = 10 of 12 pixels; G & P: rows 0 and
    # 3 of columns 5-7 (6) and column 7's middle rows (2) = 8; union 12 + 10 - 8 = 14.
    three = report["classes"]["3"]
    assert (three["boundary_intersection"], three["boundary_union"], three["boundary_iou"]) == (8, 14, 8 / 14)
    assert report["mean_boundary_iou"] == (10 / 16 + 8 / 14) / 2


def test_ignored_pixels_never_count_in_either_band():
    rng = np.random.default_rng(4)
    label = np.repeat(np.repeat(rng.choice([0, 1, 255], (6, 8)), 4, 0), 4, 1).astype(np.uint8)
    inference = np.repeat(np.repeat(rng.choice([0, 1, 255], (6, 8)), 4, 0), 4, 1).astype(np.uint8)
    matrix, boundary = tool.count_pair(label, inference, 255, 3)
    counted = label != 255
    label_band, inference_band = reference_band(label, 3), reference_band(inference, 3)
    removed = 0
    for class_id in (0, 1):
        in_label, in_inference = (label == class_id) & label_band, (inference == class_id) & inference_band
        assert boundary[0, class_id] == (in_label & in_inference & counted).sum()
        assert boundary[1, class_id] == ((in_label | in_inference) & counted).sum()
        removed += ((in_label | in_inference) & ~counted).sum()
    assert removed > 0  # predictions on void pixels were in the bands, and are not counted
    report = tool.compute_report(matrix, 0.0, 255, boundary=boundary)
    assert set(report["classes"]) == {"0", "1"}  # void gets no row, even where it is predicted
    # A class's edge against labelled void is an edge: its pixels there are in its band.
    assert label_band[(label == 0) & ndimage.binary_dilation(label == 255, np.ones((3, 3), bool))].all()


def run_json(capsys, *args):
    status = tool.main([*args, "--format", "json", "--quiet"])
    assert status in (0, 1)
    return json.loads(capsys.readouterr().out)


def test_merged_shards_give_one_runs_boundary_iou(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    whole = run_json(capsys, "--boundary")
    assert whole["boundary_ratio"] == 0.02
    shards = []
    for k in (1, 2, 3):
        shard = tmp_path / f"shard{k}.json"
        shard.write_text(json.dumps(run_json(capsys, "--boundary", "--shard", f"{k}/3")))
        shards.append(str(shard))
    merged = run_json(capsys, "--merge", *shards)
    assert merged == whole
    # The combined boundary IoU is the pooled one: summed intersections over summed unions.
    for class_id, entry in whole["combined"]["classes"].items():
        images = [image["classes"][class_id] for image in whole["images"] if class_id in image["classes"]]
        intersection = sum(image["boundary_intersection"] for image in images)
        union = sum(image["boundary_union"] for image in images)
        assert (entry["boundary_intersection"], entry["boundary_union"]) == (intersection, union)
        assert entry["boundary_iou"] == intersection / union
    measured = [entry["boundary_iou"] for entry in whole["combined"]["classes"].values() if entry["boundary_union"]]
    assert whole["combined"]["mean_boundary_iou"] == pytest.approx(sum(measured) / len(measured), rel=1e-15)
    # Reports with and without --boundary do not merge.
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps(run_json(capsys, "--shard", "1/3")))
    assert tool.main(["--merge", str(plain), shards[1], shards[2]]) == 2
    assert "--boundary" in capsys.readouterr().err


def test_boundary_in_the_comparison_and_the_bootstrap(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    report = tmp_path / "a.json"
    report.write_text(json.dumps(run_json(capsys, "--boundary")))
    comparison = run_json(capsys, "--compare", str(report), str(report), "--bootstrap", "100")
    entry = comparison["comparisons"][0]
    assert entry["mean_boundary_iou"] == comparison["baseline"]["mean_boundary_iou"]
    assert entry["delta"]["mean_boundary_iou"] == 0 and entry["confidence_intervals"]["mean_boundary_iou"] == [0, 0]
    intervals = run_json(capsys, "--boundary", "--bootstrap", "100")["combined"]["confidence_intervals"]
    low, high = intervals["mean_boundary_iou"]
    assert low <= high and 0 < low < 1


def test_boundary_counts_a_class_cannot_have_are_refused_by_merge(tmp_path, capsys, monkeypatch):
    # Counts each below 2**63 whose sum over images is not (it wrapped round to negative) are refused, as
    # is any union larger than the class's pixels in the label and the inference, where its bands lie.
    monkeypatch.chdir(ROOT)
    document = run_json(capsys, "--boundary")
    first = next(iter(document["images"][0]["classes"]))
    for image in document["images"]:
        image["classes"].get(first, {}).update(boundary_intersection=2**62, boundary_union=2**62)
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(document))
    assert tool.main(["--merge", str(tampered), "--format", "json"]) == 2
    assert "boundary counts are not 0 <= intersection <= union <= the class's pixels" in capsys.readouterr().err
    image = document["images"][0]
    labels, rows = image["confusion_matrix"]["labels"], image["confusion_matrix"]["matrix"]
    index = labels.index(int(first))
    most = sum(rows[index]) + sum(row[index] for row in rows)
    for union, status in ((most, 0), (most + 1, 2)):
        image["classes"][first].update(boundary_intersection=0, boundary_union=union)
        for other in document["images"][1:]:
            other["classes"].get(first, {}).update(boundary_intersection=0, boundary_union=0)
        tampered.write_text(json.dumps(document))
        assert tool.main(["--merge", str(tampered), "--format", "json", "--quiet"]) == status
        capsys.readouterr()
