"""Score maps (--scores): ROC AUC and AP equal scikit-learn's on the raw pixels, KITTI's MaxF, its threshold,
11-point AP and rates equal a plain re-implementation of the road devkit's definition (kitti_road_oracle);
ties, one-sided images, 16-bit and .npy maps, merges, intervals and bad input."""

import csv
import json

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

import kitti_road_oracle as oracle
from conftest import assert_report_matches_sklearn, tool


def run(capsys, *args):
    status = tool.main([*args, "--quiet"])
    captured = capsys.readouterr()
    return status, captured


def json_run(capsys, *args):
    status, captured = run(capsys, "--format", "json", *args)
    assert status == 0, captured.err
    return json.loads(captured.out)


def write_maps(folder, seed, images=5, shape=(30, 40), kind="png8", ties=False, void=True):
    """Binary labels (255 on a void border) and score maps of a model that is right more often than not;
    kind: png8, png16 or npy. Returns {id: (label, scores as the tool reads them)}."""
    rng = np.random.default_rng(seed)
    (folder / "labels").mkdir(parents=True, exist_ok=True)
    (folder / "scores").mkdir(parents=True, exist_ok=True)
    written = {}
    for index in range(images):
        label = (rng.random(shape) < 0.3).astype(np.uint8)
        if void:
            label[0] = 255
        scores = np.clip(0.45 * (label == 1) + 0.55 * rng.random(shape), 0, 1)
        if ties:  # few distinct scores: ties on both sides
            scores = np.round(scores * 4) / 4
        key = f"img{index}"
        Image.fromarray(label).save(folder / "labels" / f"{key}.png")
        if kind == "png8":
            values = np.round(scores * 255).astype(np.uint8)
            Image.fromarray(values).save(folder / "scores" / f"{key}.png")
            scores = values / 255
        elif kind == "png16":
            values = np.round(scores * 65535).astype(np.uint16)
            Image.fromarray(values).save(folder / "scores" / f"{key}.png")
            scores = values / 65535
        else:
            np.save(folder / "scores" / f"{key}.npy", scores)
        written[key] = (label, scores)
    return written


def counted(pairs, keys=None):
    """The counted pixels' (is positive, score) of some pairs, pooled."""
    keys = sorted(pairs) if keys is None else keys
    truth = np.concatenate([pairs[key][0][pairs[key][0] != 255] == 1 for key in keys])
    scores = np.concatenate([pairs[key][1][pairs[key][0] != 255] for key in keys])
    return truth, scores


@pytest.mark.parametrize("kind,ties", [("png8", False), ("png16", False), ("npy", False), ("npy", True),
                                       ("png8", True)])
def test_roc_auc_and_ap_are_scikit_learns_per_image_and_pooled(tmp_path, capsys, monkeypatch, kind, ties):
    monkeypatch.chdir(tmp_path)
    pairs = write_maps(tmp_path, 1, kind=kind, ties=ties)
    document = json_run(capsys, "--inferences", "scores", "--scores", "--ignore-index", "255")
    for image in document["images"]:
        truth, scores = counted(pairs, [image["id"]])
        assert image["scores"]["roc_auc"] == pytest.approx(roc_auc_score(truth, scores), abs=1e-12)
        assert image["scores"]["average_precision"] == pytest.approx(
            average_precision_score(truth, scores), abs=1e-12)
        assert image["scores"]["positives"] == truth.sum() and image["scores"]["negatives"] == (~truth).sum()
    truth, scores = counted(pairs)
    combined = document["combined"]
    assert combined["roc_auc"] == combined["scores"]["roc_auc"] == pytest.approx(roc_auc_score(truth, scores),
                                                                                 abs=1e-12)
    assert combined["average_precision"] == pytest.approx(average_precision_score(truth, scores), abs=1e-12)
    assert document["threshold"] == 0.5 and document["positive_class"] == 1


def test_kitti_numbers_are_the_devkits(tmp_path, capsys, monkeypatch):
    """MaxF, its threshold (the lowest on a tie), the 11-point AP and the rates at MaxF, pooled over images
    as the devkit's evaluateRoad sums FN and FP, against the oracle written from its definition."""
    monkeypatch.chdir(tmp_path)
    pairs = write_maps(tmp_path, 2, images=6, ties=True)
    document = json_run(capsys, "--inferences", "scores", "--scores", "--ignore-index", "255")
    per_image = []
    for key, (label, scores) in sorted(pairs.items()):
        grey = np.asarray(Image.open(tmp_path / "scores" / f"{key}.png"))
        per_image.append(oracle.eval_exp(oracle.scores_from_grey(grey), label == 1, label != 255))
        expected = oracle.maximize_f(per_image[-1])
        got = next(image for image in document["images"] if image["id"] == key)["scores"]
        assert got["max_f"] == pytest.approx(expected["max_f"], abs=1e-12)
        assert got["max_f_threshold"] == expected["threshold"]
    expected, got = oracle.maximize_f(oracle.pool(per_image)), document["combined"]["scores"]
    assert got["max_f"] == pytest.approx(expected["max_f"], abs=1e-12)
    assert got["max_f_threshold"] == expected["threshold"]
    assert got["kitti_ap"] == pytest.approx(expected["ap"], abs=1e-12)
    for ours, theirs in (("precision_at_max_f", "precision"), ("recall_at_max_f", "recall"),
                         ("fpr_at_max_f", "fpr"), ("fnr_at_max_f", "fnr")):
        assert got[ours] == pytest.approx(expected[theirs], abs=1e-12)


def test_the_report_at_the_threshold_is_the_ordinary_report_of_the_binarised_maps(tmp_path, capsys,
                                                                                   monkeypatch):
    """A pixel scoring at or above --threshold is the positive class (1), the rest 0; the report is exactly
    scikit-learn's on those masks, with the ignored pixels left out."""
    monkeypatch.chdir(tmp_path)
    pairs = write_maps(tmp_path, 3, kind="npy")
    document = json_run(capsys, "--inferences", "scores", "--threshold", "0.6", "--ignore-index", "255",
                        "--check-with-sklearn")  # the matrix from the tally, recounted by scikit-learn
    for image in document["images"]:
        label, scores = pairs[image["id"]]
        assert_report_matches_sklearn(image, label, np.where(label == 255, 0, scores >= 0.6).astype(np.uint8),
                                      255, 0.0)


def test_one_class_against_the_rest_of_multiclass_labels(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(4)
    for folder in ("labels", "scores"):
        (tmp_path / folder).mkdir()
    label = rng.integers(0, 4, (20, 30), dtype=np.uint8)
    scores = (rng.random(label.shape) * 200 + 55 * (label == 2)).astype(np.uint8)
    Image.fromarray(label).save(tmp_path / "labels" / "a.png")
    Image.fromarray(scores).save(tmp_path / "scores" / "a.png")
    document = json_run(capsys, "--inferences", "scores", "--scores", "--positive-class", "2")
    assert document["combined"]["scores"]["roc_auc"] == pytest.approx(
        roc_auc_score((label == 2).ravel(), scores.ravel()), abs=1e-12)
    assert document["combined"]["confusion_matrix"]["labels"] == [0, 1]
    assert document["combined"]["classes"]["1"]["support"] == (label == 2).sum()


def test_images_of_one_side_are_undefined_and_the_pool_is_not(tmp_path, capsys, monkeypatch):
    """An image with no positive pixel has no AUC, AP or MaxF (null, as scikit-learn would refuse); the
    pooled numbers are still those of every counted pixel."""
    monkeypatch.chdir(tmp_path)
    pairs = write_maps(tmp_path, 5, images=3)
    label, _ = pairs["img1"]
    label[label == 1] = 0
    Image.fromarray(label).save(tmp_path / "labels" / "img1.png")
    document = json_run(capsys, "--inferences", "scores", "--scores", "--ignore-index", "255")
    empty = next(image for image in document["images"] if image["id"] == "img1")["scores"]
    assert empty["roc_auc"] is empty["average_precision"] is empty["max_f"] is empty["kitti_ap"] is None
    truth, scores = counted(pairs)
    assert document["combined"]["roc_auc"] == pytest.approx(roc_auc_score(truth, scores), abs=1e-12)


def test_shards_merge_exactly_and_intervals_and_differences_cover_the_score_numbers(tmp_path, capsys,
                                                                                   monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_maps(tmp_path, 6, images=8, kind="npy")
    whole = json_run(capsys, "--inferences", "scores", "--scores", "--ignore-index", "255")
    for k in (1, 2):
        (tmp_path / f"s{k}.json").write_text(json.dumps(json_run(
            capsys, "--inferences", "scores", "--scores", "--ignore-index", "255", "--shard", f"{k}/2")))
    assert json_run(capsys, "--merge", "s1.json", "s2.json") == whole
    booted = json_run(capsys, "--inferences", "scores", "--scores", "--ignore-index", "255",
                      "--bootstrap", "200")["combined"]
    for key in ("roc_auc", "average_precision", "max_f"):
        low, high = booted["confidence_intervals"][key]
        assert low <= booted[key] <= high and low < high
    (tmp_path / "whole.json").write_text(json.dumps(whole))
    (tmp_path / "whole2.json").write_text(json.dumps(whole))
    comparison = json_run(capsys, "--compare", "whole.json", "whole2.json", "--bootstrap", "100")
    assert comparison["comparisons"][0]["delta"]["roc_auc"] == 0
    assert comparison["comparisons"][0]["confidence_intervals"]["max_f"] == [0, 0]


@pytest.mark.parametrize("name,array,words", [
    ("nan.npy", np.full((30, 40), np.nan), "holds NaN"),
    ("logits.npy", np.full((30, 40), 3.0), "within [0, 1]"),
    ("cube.npy", np.zeros((3, 30, 40)), "2-D array"),
    ("small.npy", np.zeros((10, 10)), "sizes differ"),
])
def test_bad_score_maps_are_one_line_and_the_rest_is_scored(tmp_path, capsys, monkeypatch, name, array, words):
    monkeypatch.chdir(tmp_path)
    write_maps(tmp_path, 7, images=2, kind="npy")
    (tmp_path / "scores" / "img1.npy").unlink()
    np.save(tmp_path / "scores" / "img1.npy", array)
    status, captured = run(capsys, "--inferences", "scores", "--scores", "--ignore-index", "255", "--format", "json")
    document = json.loads(captured.out)
    assert status == 1 and "Traceback" not in captured.err
    errors = [error["error"] for error in document["errors"]]
    assert len(errors) == 1 and "img1.npy" in errors[0] and words in errors[0] and "\n" not in errors[0]
    assert [image["id"] for image in document["images"]] == ["img0"]


def test_an_rgb_score_map_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_maps(tmp_path, 8, images=2)
    Image.new("RGB", (40, 30), (10, 200, 30)).save(tmp_path / "scores" / "img1.png")
    status, captured = run(capsys, "--inferences", "scores", "--scores", "--ignore-index", "255")
    assert status == 1 and "img1.png" in captured.err and "not a score map" in captured.err


def test_a_grey_map_without_scores_is_a_warning_naming_scores_and_exit_3(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_maps(tmp_path, 9, images=3, void=False)
    status, captured = run(capsys, "--inferences", "scores")
    assert status == tool.NUMBERS_IN_DOUBT and "--scores" in captured.err


def test_an_ignore_index_of_a_binarised_id_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_maps(tmp_path, 10, images=1)
    with pytest.raises(SystemExit):
        tool.main(["--inferences", "scores", "--scores", "--ignore-index", "0"])
    assert "map it to another id" in capsys.readouterr().err


def test_the_report_folder_holds_the_curves_as_scikit_learn_draws_them(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pairs = write_maps(tmp_path, 11, images=3, ties=True)
    status, captured = run(capsys, "--inferences", "scores", "--scores", "--ignore-index", "255",
                           "--output-dir", "out")
    assert status == 0, captured.err
    with open(tmp_path / "out" / "score_curve.csv", newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["score", "tp", "fp", "precision", "recall", "fpr"]
    truth, scores = counted(pairs)
    fpr, tpr, thresholds = roc_curve(truth, scores, drop_intermediate=False)
    ours = np.array([[float(value) for value in row[:3] + row[4:]] for row in rows[1:]])
    np.testing.assert_allclose(ours[:, 0], thresholds[1:], rtol=0, atol=1e-15)
    np.testing.assert_allclose(ours[:, 3], tpr[1:], rtol=0, atol=1e-15)
    np.testing.assert_allclose(ours[:, 4], fpr[1:], rtol=0, atol=1e-15)
    for key in pairs:  # each image's curves too, and its page and the index draw them
        with open(tmp_path / "out" / "curves" / f"{key}.csv", newline="") as file:
            image_rows = [[float(value) for value in row[:3] + row[4:]] for row in list(csv.reader(file))[1:]]
        fpr, tpr, thresholds = roc_curve(*counted(pairs, [key]), drop_intermediate=False)
        np.testing.assert_allclose(np.array(image_rows)[:, [0, 3, 4]], np.array([thresholds, tpr, fpr]).T[1:],
                                   rtol=0, atol=1e-15)
        page = (tmp_path / "out" / "reports" / f"{key}.html").read_text()
        assert page.count("<polyline") == 2 and "<title>MaxF</title>" in page and "curves as CSV" in page
    assert (tmp_path / "out" / "index.html").read_text().count("<polyline") == 2


def test_kitti_road_ground_truth_as_it_ships_against_road_maps(tmp_path, capsys, monkeypatch):
    """--label-encoding kitti-road with --scores: blue is road, red the evaluated area, and the numbers are
    the devkit's (the oracle reads the RGB ground truth as getGroundTruth does)."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(12)
    for folder in ("gt_image_2", "results"):
        (tmp_path / folder).mkdir()
    per_image = []
    for index in range(4):
        road, valid = rng.random((30, 40)) < 0.4, rng.random((30, 40)) < 0.85
        rgb = np.zeros((30, 40, 3), np.uint8)
        rgb[..., 0], rgb[..., 2] = valid * 255, road * 255
        grey = np.clip(road * 120 + rng.integers(0, 136, road.shape), 0, 255).astype(np.uint8)
        Image.fromarray(rgb).save(tmp_path / "gt_image_2" / f"um_road_{index:06d}.png")
        Image.fromarray(grey).save(tmp_path / "results" / f"um_road_{index:06d}.png")
        per_image.append(oracle.eval_exp(oracle.scores_from_grey(grey), *oracle.ground_truth(rgb)))
    document = json_run(capsys, "--labels", "gt_image_2", "--inferences", "results", "--label-encoding",
                        "kitti-road", "--scores")
    expected, got = oracle.maximize_f(oracle.pool(per_image)), document["combined"]["scores"]
    assert got["max_f"] == pytest.approx(expected["max_f"], abs=1e-12)
    assert (got["max_f_threshold"], got["kitti_ap"]) == (expected["threshold"], pytest.approx(expected["ap"]))
    assert got["positives"] + got["negatives"] == expected["pos"] + expected["neg"]


@pytest.mark.parametrize("seed", range(5))
def test_the_matrix_at_the_threshold_from_the_tally_is_the_binarised_masks_counted(seed):
    """counts_at_threshold (no second pass over the pixels) equals count_occurring of the binarised
    masks, with pixels left out, on maps with ties at the threshold itself."""
    rng = np.random.default_rng(seed)
    positive, counted = rng.random((25, 30)) < 0.3, rng.random((25, 30)) < 0.8
    codes, levels = rng.integers(0, 5, (25, 30)), np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    tally = tool.count_scores(positive, codes, levels, counted)
    ours = tool.counts_at_threshold(tally, 0.5)
    plain = tool.count_occurring(positive.astype(np.uint8), (levels[codes] >= 0.5).astype(np.uint8),
                                 valid=counted)
    np.testing.assert_array_equal(ours.ids, plain.ids)
    np.testing.assert_array_equal(ours.matrix, plain.matrix)


@pytest.mark.parametrize("named", ["{c}_road_{n}", "{c}_{n}"])
def test_kitti_roads_layout_pairs_predictions_named_either_way_and_passes_lanes_over(tmp_path, capsys,
                                                                                     monkeypatch, named):
    """gt_image_2 holds um_road_000000.png and um_lane_000000.png; predictions are um_road_000000.png (the
    devkit's results) or um_000000.png (the image's name): the road files pair, the lane files are passed
    over with a note, and the ids are the images' names."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(13)
    for folder in ("gt_image_2", "results"):
        (tmp_path / folder).mkdir()
    for category, number in (("um", "000000"), ("umm", "000001"), ("uu", "000002")):
        rgb = np.zeros((10, 12, 3), np.uint8)
        rgb[..., 0], rgb[..., 2] = 255, (rng.random((10, 12)) < 0.5) * 255
        for task in ("road", "lane"):
            Image.fromarray(rgb).save(tmp_path / "gt_image_2" / f"{category}_{task}_{number}.png")
        Image.fromarray(rng.integers(0, 256, (10, 12), dtype=np.uint8)).save(
            tmp_path / "results" / f"{named.format(c=category, n=number)}.png")
    status = tool.main(["--labels", "gt_image_2", "--inferences", "results", "--label-encoding", "kitti-road",
                        "--scores", "--format", "json"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert [image["id"] for image in json.loads(captured.out)["images"]] == ["um_000000", "umm_000001",
                                                                            "uu_000002"]
    assert "passed over 3 files of KITTI's lane benchmark" in captured.err


def test_labels_without_the_positive_class_are_a_doubt_naming_positive_class(tmp_path, capsys, monkeypatch):
    """Masks saved as 0/255 (DRIVE's manual labels) scored for class 1: no positive pixel, every score-map
    number undefined; a warning names --positive-class and the exit status is 3; --positive-class 255 scores
    them."""
    monkeypatch.chdir(tmp_path)
    pairs = write_maps(tmp_path, 14, images=2, void=False)
    for key, (label, _) in pairs.items():
        Image.fromarray(label * 255).save(tmp_path / "labels" / f"{key}.png")
    status, captured = run(capsys, "--inferences", "scores", "--scores")
    assert status == tool.NUMBERS_IN_DOUBT and "--positive-class" in captured.err
    document = json_run(capsys, "--inferences", "scores", "--scores", "--positive-class", "255")
    truth, scores = counted(pairs)
    assert document["combined"]["roc_auc"] == pytest.approx(roc_auc_score(truth, scores), abs=1e-12)


def test_class_id_masks_given_to_scores_are_a_doubt(tmp_path, capsys, monkeypatch):
    """0/1 masks read as scores are 0 and 1/255: nothing reaches 0.5; a warning says these are class ids
    and the exit status is 3."""
    monkeypatch.chdir(tmp_path)
    pairs = write_maps(tmp_path, 15, images=2, void=False)
    for key, (label, _) in pairs.items():
        Image.fromarray(label).save(tmp_path / "scores" / f"{key}.png")
    status, captured = run(capsys, "--inferences", "scores", "--scores")
    assert status == tool.NUMBERS_IN_DOUBT and "score them without --scores" in captured.err
