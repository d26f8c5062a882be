"""Confidence intervals (--bootstrap) and the paired comparison of models (--compare).

The fast path (draw counts times per-image class counts, one matrix product per batch) is checked against
a plain loop over the same draws that sums whole 256x256 matrices image by image and asks compute_report.
"""

import json

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, tool

SAMPLE_IDS = [f"{n:06d}_10" for n in range(10)]


def sample_matrices(ignore_index=255, band_width=0):
    """The ten samples' 256x256 matrices, and their boundary counts (None with band_width 0)."""
    matrices = []
    for image_id in SAMPLE_IDS:
        label, _ = tool.read_mask(ROOT / "labels" / f"{image_id}.png")
        inference, _ = tool.read_mask(ROOT / "inferences" / f"{image_id}.png")
        matrices.append(tool.count_pair(label, inference, ignore_index, band_width))
    return matrices


def random_matrices(rng, images, ignore_index):
    """Small random images over a few ids, some predicting the ignore id, some with no counted pixel."""
    matrices = []
    for _ in range(images):
        ids = rng.choice([0, 1, 2, 5, 9, 255], size=rng.integers(1, 5), replace=False).astype(np.uint8)
        label = rng.choice(ids, size=(6, 7)).astype(np.uint8)
        inference = np.where(rng.random(label.shape) < 0.6, label, rng.choice(ids, size=label.shape)).astype(np.uint8)
        matrices.append(tool.count_pair(label, inference, ignore_index, 2))
    return matrices


def image_counts(matrices, ignore_index):
    counts = tool.ImageCounts()
    for matrix, boundary in matrices:
        image = tool.counts_of_matrix(matrix, boundary)
        if len(image.ids):
            counts.add(image)
    return counts


def plain_loop(matrices, resamples, seed, zero_division, ignore_index):
    """Each resample's numbers from compute_report on the sum of the drawn images' whole matrices."""
    scored = [(matrix, boundary) for matrix, boundary in matrices if matrix.sum()]
    reports = []
    for draws in tool.bootstrap_draws(len(scored), resamples, seed):
        for draw in draws:
            total, boundary_total = np.zeros((256, 256), np.int64), np.zeros((2, 256), np.int64)
            for image in draw:
                total += scored[image][0]
                if scored[image][1] is not None:
                    boundary_total += scored[image][1]
            reports.append(tool.compute_report(total, zero_division, ignore_index,
                                               boundary=None if scored[0][1] is None else boundary_total))
    return reports


@pytest.mark.parametrize("source, ignore_index, zero_division", [
    ("samples", 255, 0.0), ("samples with boundary", 255, 0.0), ("random", 255, float("nan")),
    ("random", None, 1.0), ("random", 2, 0.0)])
def test_the_fast_path_equals_a_plain_loop_over_the_same_draws(source, ignore_index, zero_division):
    rng = np.random.default_rng(5)
    matrices = (sample_matrices(ignore_index, 26 if "boundary" in source else 0) if source.startswith("samples")
                else random_matrices(rng, 30, ignore_index))
    resamples, seed = 120, 11  # more than one batch of draws
    counts = image_counts(matrices, ignore_index)
    ids, dense = counts.dense()
    is_class = ids != ignore_index if ignore_index is not None else np.ones(len(ids), bool)
    fast = tool.resampled_numbers([(dense, None, None, None)], resamples, seed, is_class, zero_division)[0]
    slow = plain_loop(matrices, resamples, seed, zero_division, ignore_index)
    assert ("mean_boundary_iou" in fast.measures) == (matrices[0][1] is not None)
    for key, values in fast.measures.items():
        expected = np.array([np.nan if value is None else value for value in
                             (tool.headline_numbers(report)[key] for report in slow)])
        if key in ("cohen_kappa", "matthews_corrcoef"):  # over every id of the run here, its own there
            np.testing.assert_allclose(values, expected, rtol=1e-12, atol=1e-15)
        else:
            np.testing.assert_array_equal(values, expected, err_msg=key)
    for key in tool.CLASS_METRICS:  # each class's every metric, and their averages
        for column, class_id in enumerate(ids[is_class].tolist()):
            expected = [report["classes"].get(str(class_id), {}).get(key) for report in slow]
            np.testing.assert_array_equal(fast.classes[key][:, column],
                                          [np.nan if value is None else value for value in expected])
        for average in ("macro", "weighted"):
            expected = [report[f"{average}_avg"][key] for report in slow]
            np.testing.assert_array_equal(getattr(fast, average)[key],
                                          [np.nan if value is None else value for value in expected])
    # The intervals are the percentiles of those numbers.
    intervals = tool.confidence_intervals(counts, ignore_index, resamples, 0.9, seed, zero_division)
    for key in ("mean_iou", "accuracy"):
        values = np.array([tool.headline_numbers(report)[key] for report in slow], dtype=float)
        assert intervals[key] == list(np.percentile(values[~np.isnan(values)], [5, 95]))


def run_json(capsys, *args):
    status = tool.main([*args, "--format", "json", "--quiet"])
    return status, json.loads(capsys.readouterr().out)


def test_seeded_runs_print_the_same_intervals_and_another_seed_others(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    first = run_json(capsys, "--bootstrap", "200")[1]["combined"]["confidence_intervals"]
    again = run_json(capsys, "--bootstrap", "200", "--seed", "0")[1]["combined"]["confidence_intervals"]
    other = run_json(capsys, "--bootstrap", "200", "--seed", "1")[1]["combined"]["confidence_intervals"]
    assert first == again and first["mean_iou"] != other["mean_iou"]
    assert set(first) == {"level", "resamples", "seed", "images", "method", "classes",
                          *(key for key, measure in tool.MEASURES.items() if not (measure.boundary or measure.scores or measure.groups or measure.instances
                                                             or measure.distances))}
    assert (first["level"], first["resamples"], first["seed"], first["images"]) == (0.95, 200, 0, 10)
    assert first["classes"]["16"]["images"] == 2  # train is in two samples' labels
    assert tool.main(["--bootstrap", "200", "--brief"]) == 0
    out = capsys.readouterr().out
    lo, hi = first["mean_iou"]
    assert f"mean IoU 0.6197 [{lo:.4f}, {hi:.4f}] (95% bootstrap over 10 images)" in out
    assert "note: only 10 images" in out and "in 2 images: the interval rests on few" in out
    assert tool.rarity_note({"images": 1}) == "in 1 image: the interval rests on few"
    assert tool.rarity_note({"images": 0}) == "in no image's label, only predicted"
    assert tool.rarity_note({"images": tool.FEW_IMAGES_OF_CLASS}) == tool.rarity_note(None) == ""


def better_and_worse_models(rng, images, baseline_noise, model_noise, same_draws=False):
    """Image reports of a baseline and a model whose predictions are the label with a share of pixels
    changed to a random class."""
    models = ([], [])
    for image in range(images):
        label = np.repeat(rng.integers(0, 4, size=(8, 1)), 12, axis=1).astype(np.uint8)
        for model, noise in zip(models, (baseline_noise, model_noise)):
            noisy = rng.random(label.shape) < noise
            inference = np.where(noisy, rng.integers(0, 4, size=label.shape), label).astype(np.uint8)
            model.append(tool.image_report(f"img{image}", "l", "i", tool.count_matrix(label, inference)))
    return models


def test_a_model_better_on_every_image_has_an_interval_without_zero():
    rng = np.random.default_rng(3)
    baseline, model = better_and_worse_models(rng, 40, 0.4, 0.1)
    comparison = tool.compare_models([baseline, model], ["a.json", "b.json"], resamples=500)
    entry = comparison["comparisons"][0]
    assert entry["images"]["better"] == 40 and entry["confidence_intervals"]["mean_iou"][0] > 0
    assert entry["verdict"].startswith("b.json is better than a.json: mIoU +")
    flipped = tool.compare_models([model, baseline], ["b.json", "a.json"], resamples=500)["comparisons"][0]
    assert flipped["confidence_intervals"]["mean_iou"][1] < 0 and flipped["verdict"].startswith("a.json is worse")


def test_two_models_that_differ_by_noise_usually_show_no_clear_difference():
    holds_zero = 0
    for seed in range(8):
        rng = np.random.default_rng(100 + seed)
        baseline, model = better_and_worse_models(rng, 30, 0.3, 0.3)
        interval = tool.compare_models([baseline, model], ["a", "b"], resamples=400, seed=seed)[
            "comparisons"][0]["confidence_intervals"]["mean_iou"]
        holds_zero += interval[0] <= 0 <= interval[1]
    assert holds_zero >= 6  # a 95% interval misses now and then; most of eight must hold 0


def test_a_report_compared_with_itself_differs_by_exactly_zero(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    report = tmp_path / "report.json"
    report.write_text(json.dumps(run_json(capsys)[1]))
    status, comparison = run_json(capsys, "--compare", str(report), str(report), "--bootstrap", "300")
    assert status == 0
    entry = comparison["comparisons"][0]
    assert all(value == 0 for value in entry["delta"].values())
    assert all(interval == [0.0, 0.0] for interval in entry["confidence_intervals"].values())
    assert all(change["delta"] == 0 and change["interval"] == [0.0, 0.0] for change in entry["classes"].values())
    assert entry["images"]["same"] == 10 and entry["verdict"].startswith("no clear difference")
    assert set(comparison) == {"baseline", "bootstrap", "comparisons"}
    assert comparison["baseline"]["mean_iou"] == entry["mean_iou"]


def write_pair_reports(tmp_path, capsys, labels_a, labels_b):
    """Two JSON reports of one-image sets with the given labels (inference = label)."""
    paths = []
    for name, labels in (("a", labels_a), ("b", labels_b)):
        for folder in ("labels", "inferences"):
            (tmp_path / name / folder).mkdir(parents=True)
            for image_id, label in labels.items():
                Image.fromarray(np.asarray(label, np.uint8)).save(tmp_path / name / folder / f"{image_id}.png")
        status, document = run_json(capsys, "--labels", str(tmp_path / name / "labels"),
                                    "--inferences", str(tmp_path / name / "inferences"))
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(document))
    return [str(path) for path in paths]


@pytest.mark.parametrize("labels_b, said", [
    ({"x": [[0, 0, 1]], "y": [[1]]}, "image y is in"),
    ({"x": [[0, 1, 1]]}, "image x: "),
])
def test_reports_on_different_labels_are_refused_naming_the_first_difference(tmp_path, capsys, labels_b, said):
    paths = write_pair_reports(tmp_path, capsys, {"x": [[0, 0, 1]]}, labels_b)
    assert tool.main(["--compare", *paths]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: " + said) and error.count("\n") == 1
    if said.startswith("image x"):
        assert "2 label pixels of class 0" in error and "not on the same labels" in error


def test_compare_writes_a_page_with_both_models_overlays(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    better = tmp_path / "better"
    better.mkdir()
    for image_id in SAMPLE_IDS:  # a model that is right on four images and as before on the rest
        source = "labels" if image_id in SAMPLE_IDS[:4] else "inferences"
        Image.open(ROOT / source / f"{image_id}.png").save(better / f"{image_id}.png")
    assert tool.main(["--output-dir", str(tmp_path / "a"), "--quiet", "--brief"]) == 0
    assert tool.main(["--inferences", str(better), "--output-dir", str(tmp_path / "b"), "--quiet", "--brief"]) == 0
    capsys.readouterr()
    assert tool.main(["--compare", str(tmp_path / "a"), str(tmp_path / "b" / "report.json"),
                      "--output-dir", str(tmp_path / "c"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "=== " in out and "Images by their mean IoU: 4 better, 0 worse, 6 the same" in out
    page = (tmp_path / "c" / "compare.html").read_text()
    gains = json.loads((tmp_path / "c" / "comparison.json").read_text())["comparisons"][0]["images"]["largest_gains"]
    assert len(gains) == 4
    for change in gains:
        for side in (0, 1):
            link = f"compare_thumbnails/{side}~{change['id']}.jpg"
            assert link in page and (tmp_path / "c" / link).is_file()
    assert page.count('class="bar gain"') >= 10  # the chart of class changes: a bar per class that gained


def test_the_readme_comparison_is_what_its_commands_print(tmp_path, capsys, monkeypatch):
    """The README's comparison example: its commands, run in a copy of the samples, print its excerpt."""
    import shutil
    import subprocess
    import sys
    for folder in ("labels", "inferences"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    monkeypatch.chdir(tmp_path)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## How sure is the number"):readme.index("## Input formats and errors")]
    commands = section[section.index("python tests/make_sample_data.py --better-inferences"):]
    commands = commands[:commands.index("```")].strip().splitlines()
    subprocess.run([sys.executable, str(ROOT / "tests" / "make_sample_data.py"), *commands[0].split()[2:]],
                   check=True, capture_output=True)
    for command in commands[1:3]:
        arguments, output = command.split()[2:command.split().index(">")], command.split()[-1]
        assert tool.main(arguments) == 0
        (tmp_path / output).write_text(capsys.readouterr().out)
    assert tool.main(commands[3].split()[2:]) == 0
    printed = capsys.readouterr().out.splitlines()
    excerpt = section[section.index("$ " + commands[3]) + len(commands[3]) + 3:]
    excerpt = excerpt[:excerpt.index("```")]
    position = 0
    for line in excerpt.splitlines():
        if line and not line.startswith("[..."):
            assert line in printed[position:], line
            position = printed.index(line, position) + 1
