"""Boundary distances (--distances) and per-case statistics: every class's HD, HD95, HD95 pooled, ASSD,
MASD, NSD and boundary F1 of every image equal MedPy 0.5's (hd, hd95, assd) and a brute-force all-pairs
computation on the class's inner border (ignored pixels in no class); the combined numbers are each
class's mean over the images where it is defined, the headline their mean over the classes; the per-case
statistics are numpy's over the images; shards merge into the whole run; and what --exclude-from-means
leaves out of the means it leaves out of the text and the summary too."""

import json
import math

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import binary_erosion, generate_binary_structure

from conftest import json_run, tool

try:  # the reference the README names (tests/requirements.txt); the brute force checks every number anyway
    from medpy.metric import binary as medpy
except ImportError:
    medpy = None

KEYS = ("hd", "hd95", "hd95_pooled", "assd", "masd", "nsd", "boundary_f")


def write_pairs(folder, seed, images=6, shape=(24, 30)):
    """Masks of a background, blobs of classes 1..3 (each missing from one side now and then), a
    one-pixel class 4 on the edge, and a frame of 255; returns {id: (label, inference)}."""
    rng = np.random.default_rng(seed)
    for side in ("labels", "inferences"):
        (folder / side).mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[:shape[0], :shape[1]]
    pairs = {}
    for index in range(images):
        masks = []
        for _ in range(2):
            mask = np.zeros(shape, np.uint8)
            for class_id in (1, 2, 3):
                if rng.random() < 0.75:
                    cy, cx, r = rng.integers(0, shape[0]), rng.integers(0, shape[1]), rng.integers(1, 7)
                    mask[(y - cy) ** 2 + (x - cx) ** 2 <= r * r] = class_id
            if rng.random() < 0.5:
                mask[0, rng.integers(0, shape[1])] = 4
            masks.append(mask)
        label, inference = masks
        label[-1] = 255  # not counted: no class's pixel, and a border of the classes it touches
        Image.fromarray(label).save(folder / "labels" / f"img{index}.png")
        Image.fromarray(inference).save(folder / "inferences" / f"img{index}.png")
        pairs[f"img{index}"] = label, inference
    return pairs


def border(mask):
    """MedPy's inner border: the mask minus its erosion by the 4-connected cross, the edge outside."""
    return mask ^ binary_erosion(mask, structure=generate_binary_structure(2, 1))


def directed(points, others, spacing):
    """Each border pixel's distance to the nearest of the others, from the pixel offsets (as scipy's
    distance_transform_edt computes it), all pairs."""
    a, b = np.argwhere(points), np.argwhere(others)
    dy, dx = a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1]
    return np.sqrt((dy * spacing[0]) ** 2 + (dx * spacing[1]) ** 2).min(axis=1)


def brute_force(label, inference, spacing, tolerance):
    to_label = directed(border(inference), border(label), spacing)
    to_inference = directed(border(label), border(inference), spacing)
    both = np.concatenate([to_label, to_inference])
    precision, recall = np.mean(to_label < tolerance), np.mean(to_inference < tolerance)
    return {"hd": both.max(),
            "hd95": max(np.percentile(to_label, 95), np.percentile(to_inference, 95)),
            "hd95_pooled": np.percentile(both, 95), "assd": both.mean(),
            "masd": (to_label.mean() + to_inference.mean()) / 2, "nsd": np.mean(both <= tolerance),
            "boundary_f": 2 * precision * recall / (precision + recall) if precision + recall else 0.0}


@pytest.mark.parametrize("spacing, tolerance, empty", [
    ((1.0, 1.0), 2.0, None),  # integer distances: ties at the tolerance, <= for NSD and < for BF
    ((0.5, 2.0), None, None),  # anisotropic; the default tolerance, 0.75% of the diagonal in mm
    ((0.7, 0.7), 1.4, 373.13),  # BraTS' empty distance
])
def test_every_distance_is_medpys_and_brute_forces(tmp_path, capsys, monkeypatch, spacing, tolerance, empty):
    monkeypatch.chdir(tmp_path)
    pairs = write_pairs(tmp_path, int(spacing[1] * 10))
    document = json_run(capsys, "--ignore-index", "255", "--spacing", *map(str, spacing),
                        *(["--tolerance", str(tolerance)] if tolerance else []),
                        *(["--empty-distance", str(empty)] if empty is not None else []),
                        "--exclude-from-means", "0")
    values = {key: {} for key in KEYS}  # {key: {class: [value per image where the class occurs]}}
    one_sided = 0
    for image in document["images"]:
        label, inference = pairs[image["id"]]
        counted = label != 255
        expected_tolerance = tolerance or 0.0075 * math.hypot(label.shape[0] * spacing[0],
                                                              label.shape[1] * spacing[1])
        assert image["tolerance"] == pytest.approx(expected_tolerance, rel=1e-15)
        for class_id, entry in image["classes"].items():
            ours, theirs = (label == int(class_id)) & counted, (inference == int(class_id)) & counted
            if ours.any() and theirs.any():
                expected = brute_force(ours, theirs, spacing, expected_tolerance)
                for key in KEYS:
                    assert entry[key] == pytest.approx(expected[key], rel=1e-14, abs=1e-14), (image["id"],
                                                                                             class_id, key)
                if medpy is not None:  # MedPy 0.5: hd, hd95 (pooled), assd
                    for key, value in (("hd", medpy.hd), ("hd95_pooled", medpy.hd95), ("assd", medpy.assd)):
                        assert entry[key] == pytest.approx(value(theirs, ours, voxelspacing=spacing), abs=1e-14)
            else:  # in one mask only: the empty distance (or undefined), NSD and BF 0
                one_sided += 1
                expected = {key: 0.0 if key in ("nsd", "boundary_f") else empty for key in KEYS}
                assert {key: entry[key] for key in KEYS} == expected
            for key in KEYS:
                values[key].setdefault(class_id, []).append(math.nan if expected[key] is None
                                                            else expected[key])
    assert one_sided  # the data hold the case
    combined = document["combined"]
    for key in KEYS:
        means = {}
        for class_id, per_image in values[key].items():
            per_image = np.array(per_image)
            defined = per_image[~np.isnan(per_image)]
            means[class_id] = defined.mean() if len(defined) else None
            if means[class_id] is None:  # in one mask only in every image where it occurs
                assert combined["classes"][class_id][key] is None
            else:
                assert combined["classes"][class_id][key] == pytest.approx(means[class_id], rel=1e-13)
            cases = combined["per_case"][key][class_id]
            assert (cases["n"], cases["undefined"], cases["empty"]) == (
                len(defined), len(per_image) - len(defined), len(pairs) - len(per_image))
            if len(defined) > 1:
                q1, median, q3 = np.percentile(defined, [25, 50, 75])
                assert [cases[name] for name in ("mean", "sd", "median", "q1", "q3")] == pytest.approx(
                    [defined.mean(), np.std(defined, ddof=1), median, q1, q3], rel=1e-13)
        kept = [mean for class_id, mean in means.items() if mean is not None and class_id != "0"]
        assert combined[f"mean_{key}"] == pytest.approx(np.mean(kept), rel=1e-13)


def test_per_case_dice_is_numpys_over_the_images_where_the_class_occurs(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pairs = write_pairs(tmp_path, 3, images=8)
    combined = json_run(capsys, "--ignore-index", "255", "--exclude-from-means", "0")["combined"]
    dice = {}
    for label, inference in pairs.values():
        counted = label != 255
        label, inference = label[counted], inference[counted]
        for class_id in set(np.unique(label)) | set(np.unique(inference)):
            truth, predicted = label == class_id, inference == class_id
            dice.setdefault(str(class_id), []).append(2 * np.sum(truth & predicted)
                                                      / (truth.sum() + predicted.sum()))
    for class_id, values in dice.items():
        entry = combined["per_case"]["f1_score"][class_id]
        assert entry["n"] == len(values) and entry["empty"] == len(pairs) - len(values)
        assert entry["mean"] == pytest.approx(np.mean(values), rel=1e-14)
    assert combined["per_case_means"]["f1_score"] == pytest.approx(
        np.mean([np.mean(values) for class_id, values in dice.items() if class_id != "0"]), rel=1e-14)


def test_shards_of_a_run_with_distances_merge_into_the_whole_run(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_pairs(tmp_path, 5, images=7)
    rules = ["--ignore-index", "255", "--spacing", "0.7", "0.7", "--tolerance", "2", "--exclude-from-means", "0"]
    whole = json_run(capsys, *rules)
    for k in (1, 2):
        (tmp_path / f"s{k}.json").write_text(json.dumps(json_run(capsys, *rules, "--shard", f"{k}/2")))
    merged = json_run(capsys, "--merge", "s2.json", "s1.json")
    assert merged["images"] == whole["images"] and merged["combined"] == whole["combined"]


def test_compare_refuses_distance_rules_its_reports_were_not_made_with(tmp_path, capsys, monkeypatch):
    """--compare shows the reports' distances: a --spacing, --tolerance or --empty-distance of its own was
    taken in silence, and the numbers shown were those of the reports' rules."""
    monkeypatch.chdir(tmp_path)
    write_pairs(tmp_path, 6, images=3)
    (tmp_path / "r.json").write_text(json.dumps(json_run(capsys, "--spacing", "0.7", "0.7", "--tolerance", "2")))
    for option in (["--spacing", "1", "1"], ["--tolerance", "5"], ["--empty-distance", "373.13"], ["--distances"]):
        status = tool.main(["--compare", "r.json", "r.json", "--quiet", *option])
        err = capsys.readouterr().err
        assert status == 2 and err.count("\n") == 1 and "differs from the reports'" in err, (option, err)
    assert tool.main(["--compare", "r.json", "r.json", "--quiet", "--spacing", "0.7", "0.7", "--tolerance",
                      "2"]) == 0
    with pytest.raises(SystemExit) as stop:  # the comparison has no per-case table to add
        tool.main(["--compare", "r.json", "r.json", "--per-case"])
    assert stop.value.code == 2 and "--per-case does not apply to --compare" in capsys.readouterr().err


def test_a_class_left_out_of_the_means_is_no_images_worst_nor_in_the_averages_support(tmp_path, capsys,
                                                                                     monkeypatch):
    monkeypatch.chdir(tmp_path)
    for side in ("labels", "inferences"):
        (tmp_path / side).mkdir()
    label, inference = np.zeros((10, 10), np.uint8), np.zeros((10, 10), np.uint8)
    label[:4, :4], inference[5:, 5:] = 120, 1  # 120 missed, 1 only predicted; background all but right
    for name, (ours, theirs) in {"a": (label, inference), "b": (np.zeros_like(label),) * 2}.items():
        Image.fromarray(ours).save(tmp_path / "labels" / f"{name}.png")
        Image.fromarray(theirs).save(tmp_path / "inferences" / f"{name}.png")
    assert tool.main(["--exclude-from-means", "0", "--distances", "--per-case", "--quiet"]) == 0
    out = capsys.readouterr().out
    summary = out[out.index("Per-image summary"):out.index("=== combined")].splitlines()
    assert summary[2].split()[-2:] == ["120", "(0.0000)"]
    assert summary[3].split()[-1] == "-"  # background only: no class in the mean, none the worst (was 0)
    averages = [line.split() for line in out[out.index("=== combined"):].splitlines() if " avg " in line]
    assert [row[-1] for row in averages] == ["16", "16"]  # classes 1 and 120's 0 + 16 pixels, not 200
    per_case = out[out.index("Per case:"):].splitlines()
    assert any(line.split()[:3] == ["specificity", "120", "1.0000"] for line in per_case), per_case
    assert any(line.split()[:5] == ["specificity", "mean", "of", "the", "classes"] for line in per_case)
