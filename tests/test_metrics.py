"""The numbers: hand-worked cases, then scikit-learn as the oracle on generated arrays."""

import contextlib
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sklearn.metrics import cohen_kappa_score, confusion_matrix

from conftest import ZERO_DIVISIONS, assert_report_matches_sklearn, tool


def test_matrix_orientation_and_metrics_worked_by_hand():
    # Four pixels of class 1: three predicted 1, one predicted 2. Two pixels of class 2: both predicted 2.
    label = np.array([[1, 1, 1, 1, 2, 2]], dtype=np.uint8)
    inference = np.array([[1, 1, 1, 2, 2, 2]], dtype=np.uint8)
    matrix = tool.count_matrix(label, inference)
    assert matrix.dtype == np.int64 and matrix.shape == (256, 256)
    assert matrix[1, 1] == 3 and matrix[1, 2] == 1 and matrix[2, 2] == 2  # rows = label
    assert matrix[2, 1] == 0 and matrix.sum() == 6

    report = tool.compute_report(matrix)
    one, two = report["classes"]["1"], report["classes"]["2"]
    assert (one["precision"], one["recall"], one["iou"], one["support"]) == (1.0, 0.75, 0.75, 4)
    assert one["f1_score"] == 6 / 7  # 2TP / (2TP + FP + FN) = 6 / (6 + 0 + 1)
    assert (two["precision"], two["recall"], two["iou"], two["support"]) == (2 / 3, 1.0, 2 / 3, 2)
    assert report["accuracy"] == 5 / 6
    assert report["mean_iou"] == (0.75 + 2 / 3) / 2
    assert report["weighted_avg"]["recall"] == (4 * 0.75 + 2 * 1.0) / 6
    assert report["confusion_matrix"] == {"labels": [1, 2], "matrix": [[3, 1], [0, 2]]}


@pytest.mark.parametrize("zero_division, shown", [(0.0, 0.0), (1.0, 1.0), (math.nan, None)])
def test_undefined_ratios_follow_zero_division(zero_division, shown):
    # Class 3 is never predicted (precision 0/0); class 7 is predicted but has no support (recall 0/0).
    label = np.array([[3, 3, 5, 5]], dtype=np.uint8)
    inference = np.array([[5, 5, 5, 7]], dtype=np.uint8)
    report = tool.compute_report(tool.count_matrix(label, inference), zero_division)
    assert report["classes"]["3"]["occurs_in"] == "label"
    assert report["classes"]["3"]["precision"] == shown
    assert report["classes"]["3"]["recall"] == 0.0
    assert report["classes"]["7"]["occurs_in"] == "inference"
    assert report["classes"]["7"]["recall"] == shown
    assert report["classes"]["7"]["support"] == 0


def test_ignore_index_pixels_are_not_counted_but_predicting_it_is_an_error():
    label = np.array([[255, 255, 4, 4]], dtype=np.uint8)
    inference = np.array([[4, 9, 255, 4]], dtype=np.uint8)
    report = tool.compute_report(tool.count_matrix(label, inference, ignore_index=255),
                                 ignore_index=255)
    assert report["pixels"] == 2
    assert report["confusion_matrix"] == {"labels": [4, 255], "matrix": [[1, 1], [0, 0]]}
    assert list(report["classes"]) == ["4"]  # the ignore id never gets a row
    assert report["classes"]["4"]["recall"] == 0.5


def test_image_with_every_pixel_ignored_is_undefined_not_zero():
    label = np.full((3, 3), 255, dtype=np.uint8)
    report = tool.compute_report(tool.count_matrix(label, label, ignore_index=255), ignore_index=255)
    assert report["pixels"] == 0 and report["classes"] == {}
    assert report["accuracy"] is None and report["mean_iou"] is None
    assert report["weighted_avg"] == dict.fromkeys(tool.CLASS_METRICS) == report["macro_avg"]
    assert report["mean_accuracy"] is report["cohen_kappa"] is report["matthews_corrcoef"] is None


def test_sizes_that_differ_are_refused():
    with pytest.raises(ValueError, match="label is 3x2, inference is 2x3"):
        tool.count_matrix(np.zeros((2, 3), np.uint8), np.zeros((3, 2), np.uint8))


def test_unexpected_ids_are_those_without_a_name():
    label = np.array([[0, 0, 40]], dtype=np.uint8)
    inference = np.array([[0, 41, 41]], dtype=np.uint8)
    report = tool.compute_report(tool.count_matrix(label, inference), class_names={0: "road"})
    assert report["unexpected_ids"] == {"40": 1, "41": 2}
    assert report["classes"]["0"]["name"] == "road" and report["classes"]["40"]["name"] is None
    assert tool.compute_report(tool.count_matrix(label, inference))["unexpected_ids"] == {}


@st.composite
def mask_pairs(draw):
    """A label and an inference over a random small subset of 0..255, with maybe an ignore id."""
    # Up to 12 ids: averages over 8 or more classes are where summation order shows in the last bit.
    ids = draw(st.lists(st.integers(0, 255), min_size=1, max_size=12, unique=True))
    shape = draw(st.tuples(st.integers(1, 24), st.integers(1, 24)))
    label = draw(arrays(np.uint8, shape, elements=st.sampled_from(ids)))
    inference = draw(arrays(np.uint8, shape, elements=st.sampled_from(ids)))
    ignore_index = draw(st.none() | st.sampled_from(ids) | st.integers(0, 255))
    return label, inference, ignore_index


# MAX_RUNS_PER_PIXEL picks the way of counting: 0 always counts pixel by pixel (bincount), infinity
# always counts runs; both are forced here rather than left to whichever the data happens to pick.
COUNTING_PATHS = {"bincount": 0, "runs": math.inf}


@contextlib.contextmanager
def counting_path(name):
    """Force one way of counting, and check that it is the one that ran."""
    calls = {"bincount": 0, "runs": 0}
    real_bincount, real_add_at = np.bincount, np.add.at

    def bincount(*args, **kwargs):
        calls["bincount"] += 1
        return real_bincount(*args, **kwargs)

    class CountingAdd:  # np.add is a ufunc whose attributes cannot be set: stand in for it
        def at(self, *args):
            calls["runs"] += 1
            return real_add_at(*args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tool, "MAX_RUNS_PER_PIXEL", COUNTING_PATHS[name])
        patch.setattr(tool.np, "bincount", bincount)
        patch.setattr(tool.np, "add", CountingAdd())
        yield calls
    assert calls[name] > 0 and calls["runs" if name == "bincount" else "bincount"] == 0


@pytest.mark.parametrize("path", COUNTING_PATHS)
@settings(max_examples=300, deadline=None)
@given(mask_pairs(), st.sampled_from(ZERO_DIVISIONS))
def test_every_number_equals_scikit_learn(path, pair, zero_division):
    label, inference, ignore_index = pair
    with counting_path(path):
        matrix = tool.count_matrix(label, inference, ignore_index)
        counts = tool.count_occurring(label, inference, ignore_index)
    report = tool.compute_report(matrix, zero_division, ignore_index)
    assert_report_matches_sklearn(report, label, inference, ignore_index, zero_division)
    # What each image's report is made from: the matrix over the ids that occur, not the whole label space.
    counted = label != ignore_index
    ids = np.union1d(label[counted], inference[counted])
    np.testing.assert_array_equal(counts.ids, ids)
    whole = (confusion_matrix(label[counted], inference[counted], labels=range(256)) if ids.size
             else np.zeros((256, 256)))
    np.testing.assert_array_equal(counts.matrix, whole[np.ix_(ids, ids)])
    assert counts.matrix.dtype == np.int64 and counts.boundary is None
    assert_report_matches_sklearn(tool.compute_report(counts, zero_division, ignore_index), label, inference,
                                  ignore_index, zero_division)


@st.composite
def piecewise_constant_pairs(draw):
    """Masks made of long runs, as real ones are, with a few stray pixels: the run-length path."""
    ids = draw(st.lists(st.integers(0, 255), min_size=1, max_size=5, unique=True))
    size = draw(st.integers(1, 4000))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    masks = []
    for _ in range(2):
        boundaries = np.sort(rng.integers(0, size, draw(st.integers(0, 6))))
        mask = np.asarray(ids, np.uint8)[rng.integers(0, len(ids), boundaries.size + 1)].repeat(
            np.diff(np.concatenate(([0], boundaries, [size]))))
        stray = rng.integers(0, size, draw(st.integers(0, 5)))
        mask[stray] = rng.choice(np.asarray(ids, np.uint8), stray.size)
        masks.append(mask.reshape(1, size))
    return masks[0], masks[1], draw(st.none() | st.sampled_from(ids))


@settings(max_examples=200, deadline=None)
@given(piecewise_constant_pairs())
def test_counting_runs_of_pixels_equals_scikit_learn(pair):
    label, inference, ignore_index = pair
    report = tool.compute_report(tool.count_matrix(label, inference, ignore_index), 0.0, ignore_index)
    assert_report_matches_sklearn(report, label, inference, ignore_index, 0.0)


def test_both_ways_of_counting_agree_with_scikit_learn_on_a_large_mask():
    rng = np.random.default_rng(0)
    label = np.repeat(rng.integers(0, 5, 2000).astype(np.uint8), 500).reshape(1000, 1000)  # few runs
    noisy = rng.integers(0, 5, label.shape).astype(np.uint8)  # about a run per pixel
    for inference in (label, noisy):
        expected = confusion_matrix(label.ravel(), inference.ravel(), labels=range(256))
        np.testing.assert_array_equal(tool.count_matrix(label, inference), expected)


def test_worst_class_is_one_in_the_label_before_a_hallucinated_one():
    label = np.array([[1, 1, 1, 2, 2, 2]], dtype=np.uint8)
    inference = np.array([[1, 1, 9, 1, 2, 2]], dtype=np.uint8)  # 9 is hallucinated: IoU 0
    class_id, entry = tool.worst_class(tool.compute_report(tool.count_matrix(label, inference)))
    assert class_id == 1 and entry["iou"] == 0.5
    only_hallucinated = tool.compute_report(tool.count_matrix(label[:, :1], np.array([[9]], np.uint8)))
    assert tool.worst_class(only_hallucinated)[0] == 1  # IoU 0, and in the label


def test_class_names_file_by_line_and_by_explicit_id(tmp_path):
    path = tmp_path / "names.txt"
    path.write_text("road\n\nbuilding\n255: void\n", encoding="utf-8")
    assert tool.read_class_names(str(path)) == ({0: "road", 2: "building", 255: "void"}, None)
    path.write_text("road\nignore: 255\nbuilding\n", encoding="utf-8")  # the directive names no class
    assert tool.read_class_names(str(path)) == ({0: "road", 2: "building"}, 255)
    path.write_text("road\nignore: 1\nignore: 2\n", encoding="utf-8")  # which one? say so, never pick
    with pytest.raises(ValueError, match="line 3: the ignore id was already given on line 2"):
        tool.read_class_names(str(path))
    assert tool.read_class_names("cityscapes")[0][18] == "bicycle"
    assert tool.read_class_names("pascal-voc")[0][20] == "tvmonitor"
    assert tool.read_class_names("pascal-voc")[0][255] == "void"


def test_natural_order_of_ids():
    assert sorted(["img10", "img2", "img1"], key=tool.natural_key) == ["img1", "img2", "img10"]


def test_class_colours_are_the_pascal_voc_colour_map():
    colours = tool.class_colours()
    assert tuple(colours[0]) == (0, 0, 0) and tuple(colours[1]) == (128, 0, 0)
    assert tuple(colours[15]) == (192, 128, 128) and tuple(colours[255]) == (224, 224, 192)
    assert len({tuple(colour) for colour in colours}) == 256  # every id has its own colour


def test_headline_meanings_count_one_class_in_the_singular():
    report = tool.compute_report(tool.count_matrix(np.zeros((2, 2), np.uint8), np.zeros((2, 2), np.uint8)))
    meanings = {row["name"]: row["meaning"] for row in tool.headline_rows(report)}
    assert meanings["mIoU"] == "mean IoU (Jaccard) of the 1 class"
    assert meanings["mAcc"].startswith("mean recall (sensitivity) of the 1 class in the label")
    assert meanings["aAcc"] == "pixel accuracy: 4 of 4 pixels correct"


def test_headline_says_where_kappa_and_mcc_are_0_by_0():
    # An empty foreground in both (all background): kappa and MCC are 0/0, shown as --zero-division says.
    empty = tool.compute_report(tool.count_matrix(np.zeros((2, 2), np.uint8), np.zeros((2, 2), np.uint8)))
    meanings = {row["name"]: row["meaning"] for row in tool.headline_rows(empty)}
    assert meanings["kappa"].endswith(", 0/0 here (one id only), shown as --zero-division says")
    assert meanings["MCC"].endswith(", 0/0 here (one id only), shown as --zero-division says")
    # A false positive: the label holds one id, the inference two. Kappa is defined (0), MCC is 0/0.
    label, inference = np.zeros((2, 2), np.uint8), np.array([[0, 1], [0, 0]], np.uint8)
    one_wrong = tool.compute_report(tool.count_matrix(label, inference))
    meanings = {row["name"]: row["meaning"] for row in tool.headline_rows(one_wrong)}
    assert "0/0" not in meanings["kappa"] and "0/0" in meanings["MCC"]
    assert one_wrong["cohen_kappa"] == cohen_kappa_score(label.ravel(), inference.ravel()) == 0.0  # defined
