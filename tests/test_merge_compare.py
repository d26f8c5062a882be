"""--merge and --compare: what they accept, what they refuse, what they write and how exact they are.

Each test reproduces one defect of an adversarial review (its number in the docstring) and fails on
the code before its fix.
"""

import json
import os
import time
import tracemalloc

import numpy as np
import pytest
from PIL import Image

from conftest import tool

BIG = 2**61 - 2**59  # a cell's count: a report holds 2^62 pixels at most, and one image 2 x BIG of them
SMALL = 2**55  # the pixels of each of the other images


def write_pair(folder, name, label, inference=None, labels="labels", inferences="inferences"):
    for side, mask in ((labels, label), (inferences, label if inference is None else inference)):
        path = folder / side / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.asarray(mask, np.uint8)).save(path)


def masks(seed, shape=(12, 16), classes=4):
    rng = np.random.default_rng(seed)
    label = rng.integers(0, classes, shape, dtype=np.uint8)
    inference = np.where(rng.random(shape) < 0.7, label, rng.integers(0, classes, shape)).astype(np.uint8)
    return label, inference


def json_run(capsys, *args):
    """(status, the JSON document on stdout, stderr) of a run with --format json."""
    status = tool.main(["--format", "json", "--quiet", *args])
    captured = capsys.readouterr()
    return status, json.loads(captured.out) if captured.out else None, captured.err


def save_report(capsys, path, *args):
    """A JSON report of the masks in the working folder, written to path; returns its document."""
    status, document, err = json_run(capsys, *args)
    assert status == 0, err
    path.write_text(json.dumps(document))
    return document


def one_line_error(capsys, status, *words):
    captured = capsys.readouterr()
    assert status == 2 and captured.err.count("\n") == 1 and captured.err.startswith("error: "), captured.err
    for word in words:
        assert word in captured.err, (word, captured.err)


def usage_error(capsys, *args):
    """The last line of a usage error (argparse's, exit 2)."""
    with pytest.raises(SystemExit) as stop:
        tool.main(list(args))
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


@pytest.fixture
def pairs(tmp_path, monkeypatch):
    """Three pairs of masks in tmp_path (the working folder)."""
    for index, name in enumerate(("a", "b", "c")):
        write_pair(tmp_path, name, *masks(index))
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ---------------------------------------------------------------- 2: --ignore-index with reports

def test_merge_takes_ignore_index_none_as_a_value_that_must_agree(pairs, capsys):
    """'none' given is not 'not given': on reports made with an ignore index it is refused."""
    save_report(capsys, pairs / "with.json", "--ignore-index", "3")
    save_report(capsys, pairs / "without.json")
    status = tool.main(["--merge", "with.json", "--ignore-index", "none", "--quiet"])
    one_line_error(capsys, status, "--ignore-index none differs from the reports' 3",
                   "cannot be made again without the masks")
    assert json_run(capsys, "--merge", "with.json", "--ignore-index", "3")[0] == 0
    status, document, _ = json_run(capsys, "--merge", "without.json", "--ignore-index", "none")
    assert status == 0 and document["ignore_index"] is None
    status = tool.main(["--merge", "without.json", "--ignore-index", "3", "--quiet"])
    one_line_error(capsys, status, "--ignore-index 3 differs from the reports' none")


def test_compare_checks_ignore_index_against_the_reports(pairs, capsys):
    """--compare took no notice of --ignore-index; now it must agree with the reports'."""
    save_report(capsys, pairs / "with.json", "--ignore-index", "3")
    save_report(capsys, pairs / "without.json")
    for reports, given, accepted in ((["with.json"] * 2, "3", True), (["with.json"] * 2, "2", False),
                                     (["with.json"] * 2, "none", False), (["without.json"] * 2, "none", True),
                                     (["without.json"] * 2, "3", False)):
        status = tool.main(["--compare", *reports, "--ignore-index", given, "--quiet"])
        if accepted:
            assert status == 0
            capsys.readouterr()
        else:
            one_line_error(capsys, status, f"--ignore-index {given} differs from the reports'")


# ---------------------------------------------------------------- 3 and 10: bootstrap sums and memory

def huge_report(tmp_path, capsys, model):
    """A report of ten images a0..a9 whose counts add up to 0.82 x 2^62: a0 holds 2 x BIG pixels labelled
    0 (model "a" predicts 1 on half of them, model "b" on none), the others SMALL pixels each."""
    for index in range(10):
        write_pair(tmp_path, f"a{index}", *masks(index))
    document = save_report(capsys, tmp_path / "plain.json")
    for image in document["images"]:
        big = image["id"] == "a0"
        matrix = ([[2 * BIG, 0], [0, 0]] if model == "b" else [[BIG, BIG], [0, 0]]) if big \
            else [[SMALL, 0], [0, 0]]
        image["confusion_matrix"] = {"labels": [0, 1], "matrix": matrix}
    path = tmp_path / f"{model}.json"
    path.write_text(json.dumps(document))
    return path


def exact_accuracies(model, resamples, seed):
    """Each resample's accuracy from Python's integers, as the tool must compute it: the exact sums,
    rounded once to float64."""
    values = []
    for draws in tool.bootstrap_draws(10, resamples, seed):
        for draw in draws:
            big = int((draw == 0).sum())
            correct = big * (BIG if model == "a" else 2 * BIG) + SMALL * (10 - big)
            pixels = big * 2 * BIG + SMALL * (10 - big)
            values.append(float(correct) / float(pixels))
    return np.array(values)


def test_bootstrap_sums_of_counts_near_2_to_the_62_are_exact_never_wrapped(tmp_path, monkeypatch, capsys):
    """A resample that draws the big image three times sums past 2^63: int64 wrapped it to
    negative pixels, whose numbers were left out as undefined (a narrower interval); the sums are exact
    now, in --merge and in --compare."""
    monkeypatch.chdir(tmp_path)
    a, b = huge_report(tmp_path, capsys, "a"), huge_report(tmp_path, capsys, "b")
    status, document, err = json_run(capsys, "--merge", str(a), "--bootstrap", "1000")
    assert status == 0, err
    intervals = document["combined"]["confidence_intervals"]
    assert intervals["accuracy"] == tool.percentile_interval(exact_accuracies("a", 1000, 0), 0.95)
    assert all(0 <= bound <= 1 for key in tool.MEASURES if intervals.get(key)
               for bound in intervals[key])
    status, comparison, err = json_run(capsys, "--compare", str(a), str(b))
    assert status == 0, err
    change = exact_accuracies("b", 1000, 0) - exact_accuracies("a", 1000, 0)
    entry = comparison["comparisons"][0]
    assert entry["confidence_intervals"]["accuracy"] == tool.percentile_interval(change, 0.95)
    assert all(-1 <= bound <= 1 for interval in entry["confidence_intervals"].values() if interval
               for bound in interval)


def many_ids_counts(images=30, ids=200, seed=0):
    rng = np.random.default_rng(seed)
    counts = tool.ImageCounts()
    for _ in range(images):
        labels = np.sort(rng.choice(ids, size=ids // 2, replace=False))
        counts.add(tool.Counts(labels, rng.integers(0, 50, size=(len(labels), len(labels))), None))
    return counts


def test_bootstrap_memory_stays_bounded_by_the_numbers_it_keeps(capsys):
    """Every batch's summed counts were kept (3 x ids floats per resample, copied twice more);
    now each batch becomes its numbers at once, and only those are kept: a float per resample for each
    measure, average and class metric (twice, while the batches' numbers are joined)."""
    counts, resamples, ids = many_ids_counts(), 3000, 200
    kept = tool.bootstrap_bytes(resamples, ids)  # bytes of the numbers themselves
    tracemalloc.start()
    try:
        intervals = tool.confidence_intervals(counts, None, resamples, 0.95, 0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(intervals["classes"]) == ids
    assert peak < 1.5 * kept + (4 << 20), (peak, kept)
    models = [[tool.image_report(f"i{index}", "l", "i", tool.count_matrix(*masks(seed * 100 + index, classes=60)))
               for index in range(30)] for seed in (1, 2)]
    kept = tool.bootstrap_bytes(resamples, 60, models=2)
    tracemalloc.start()
    try:
        tool.compare_models(models, ["a", "b"], resamples=resamples)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * kept + (4 << 20), (peak, kept)


# ---------------------------------------------------------------- 6: too few resamples

@pytest.mark.parametrize("resamples", ["1", "10", "99"])
def test_too_few_bootstrap_resamples_are_a_usage_error_naming_the_minimum(pairs, capsys, resamples):
    """'is better [+6.5, +6.5]' from one resample; below MIN_RESAMPLES, a percentile is no interval."""
    save_report(capsys, pairs / "r.json")
    for args in (["--bootstrap", resamples], ["--compare", "r.json", "r.json", "--bootstrap", resamples]):
        said = usage_error(capsys, *args)
        assert f"--bootstrap {resamples}" in said and str(tool.MIN_RESAMPLES) in said and "percentile" in said
    assert json_run(capsys, "--bootstrap", str(tool.MIN_RESAMPLES))[0] == 0
    assert json_run(capsys, "--bootstrap", "0")[1]["combined"].get("confidence_intervals") is None  # off


# ---------------------------------------------------------------- 14: options that cannot apply

MASK_OPTIONS = [("--labels", "x"), ("--inferences", "x"), ("--images", "x"), ("--recursive",),
                ("--label-suffix", "_x"), ("--inference-suffix", "_x"), ("--label-map", "255:1"),
                ("--inference-map", "255:1"), ("--palette", "cityscapes"), ("--boundary",),
                ("--boundary-ratio", "0.05"), ("--shard", "1/2"), ("--jobs", "2"), ("--max-image-pixels", "1000")]
NOT_IN_A_COMPARISON = [("--num-classes", "19"), ("--brief",), ("--plots-per-image", "--output-dir", "out")]


@pytest.mark.parametrize("mode, option", [*(("--merge", option) for option in MASK_OPTIONS),
                                          *(("--compare", option) for option in MASK_OPTIONS + NOT_IN_A_COMPARISON)])
def test_merge_and_compare_refuse_options_that_cannot_apply_to_them(pairs, capsys, mode, option):
    """They were taken and silently ignored; now a usage error names the option and why."""
    save_report(capsys, pairs / "r.json")
    reports = ["r.json"] * (2 if mode == "--compare" else 1)
    said = usage_error(capsys, mode, *reports, *option)
    assert f"{option[0]} does not apply to {mode}" in said, said
    assert not (pairs / "out").exists()


def test_merge_and_compare_take_every_option_that_applies_to_them(pairs, capsys):
    save_report(capsys, pairs / "r.json", "--class-names", "cityscapes", "--ignore-index", "none")
    shared = ["--zero-division", "1", "--digits", "3", "--class-names", "cityscapes", "--bootstrap", "100",
              "--confidence", "0.9", "--seed", "3", "--quiet", "--ignore-index", "none"]
    assert tool.main(["--merge", "r.json", *shared, "--format", "text", "--brief", "--num-classes", "19",
                      "--output-dir", "merged", "--plots-per-image", "--labels", "labels"]) == 0
    assert tool.main(["--compare", "r.json", "r.json", *shared, "--format", "json", "--output-dir", "compared"]) == 0
    assert (pairs / "merged" / "plots").is_dir() and (pairs / "compared" / "compare.html").is_file()


# ---------------------------------------------------------------- 12: a report given twice

def test_a_report_given_twice_is_found_in_linear_time_under_any_spelling(pairs, capsys):
    """The check compared each path with all before it (5 s at 8,000 reports), and only by
    spelling; now a set of resolved paths: a link or a '..' is the same file."""
    paths = [pairs / "shards" / f"s{index}.json" for index in range(20_000)]
    started = time.perf_counter()
    assert tool.given_twice(paths + [pairs / "shards" / "x" / ".." / "s7.json"]) == (
        pairs / "shards" / "x" / ".." / "s7.json", pairs / "shards" / "s7.json")
    assert time.perf_counter() - started < 1.0
    assert tool.given_twice(paths) is None
    save_report(capsys, pairs / "r.json")
    (pairs / "sub").mkdir()
    os.symlink(pairs / "r.json", pairs / "link.json")
    for spelling in ("sub/../r.json", "link.json"):
        status = tool.main(["--merge", "r.json", spelling])
        one_line_error(capsys, status, f"{spelling} is given twice", "r.json")


# ---------------------------------------------------------------- 16: reports of an older version

def test_a_report_without_input_merges_with_a_newer_one(pairs, capsys):
    """A report from before "input" was recorded merged alone but not with a newer one, and the
    message said the masks were read differently; a missing record is unknown, not different."""
    whole = json_run(capsys)[1]
    old = save_report(capsys, pairs / "s1.json", "--shard", "1/2")
    new = save_report(capsys, pairs / "s2.json", "--shard", "2/2")
    del old["input"]
    (pairs / "s1.json").write_text(json.dumps(old))
    for order in (["s1.json", "s2.json"], ["s2.json", "s1.json"]):
        status, merged, err = json_run(capsys, "--merge", *order)
        assert status == 0, err
        assert merged["input"] == new["input"] and merged == whole
    new["input"]["label_map"] = "255:1"  # a record that contradicts another is still refused
    (pairs / "s2.json").write_text(json.dumps(new))
    (pairs / "s3.json").write_text(json.dumps({**old, "input": whole["input"], "images": [], "errors": []}))
    status = tool.main(["--merge", "s1.json", "s2.json", "s3.json"])
    one_line_error(capsys, status, "the reports were made with different id maps, palette, name suffixes, valid "
                                   "masks or label encoding")


# ---------------------------------------------------------------- 7: never write over an input

def test_merge_and_compare_never_write_over_one_of_their_input_reports(pairs, capsys):
    """--merge shard/report.json --output-dir shard replaced the shard's report with the merged one."""
    assert tool.main(["--output-dir", "shard", "--quiet"]) == 0
    before = (pairs / "shard" / "report.json").read_bytes()
    os.symlink(pairs / "shard", pairs / "alias")
    for given in ("shard/report.json", "alias/report.json"):
        said = usage_error(capsys, "--merge", given, "--output-dir", "shard")
        assert f"would write over the input report {given} (--merge)" in said
    said = usage_error(capsys, "--merge", "shard/report.json", "--output-dir", "alias")
    assert "would write over the input report shard/report.json (--merge)" in said
    (pairs / "c").mkdir()
    (pairs / "c" / "comparison.json").write_bytes(before)
    said = usage_error(capsys, "--compare", "shard", "c/comparison.json", "--output-dir", "c")
    assert "would write over the input report c/comparison.json (--compare)" in said
    assert (pairs / "shard" / "report.json").read_bytes() == before == (pairs / "c" / "comparison.json").read_bytes()
    # A comparison may go into a report folder: it writes none of the report's files.
    assert tool.main(["--compare", "shard", "shard", "--output-dir", "shard", "--quiet"]) == 0
    assert (pairs / "shard" / "report.json").read_bytes() == before
    assert (pairs / "shard" / "compare.html").is_file()


# ---------------------------------------------------------------- 8 and 17: the comparison's thumbnails

def two_report_folders(root, monkeypatch, capsys, ids):
    """Report folders a (a noisy model) and b (a perfect one) over the same labels of the ids, in root
    (the working folder)."""
    monkeypatch.chdir(root)
    for index, image_id in enumerate(ids):
        label, inference = masks(index)
        write_pair(root, image_id, label, inference, inferences="noisy")
        write_pair(root, image_id, label, label, inferences="perfect")
    for folder, inferences in (("a", "noisy"), ("b", "perfect")):
        assert tool.main(["--inferences", inferences, "--output-dir", folder, "--quiet", "--brief"]) == 0
    capsys.readouterr()


def page_pictures(page):
    """The files a page's pictures link to, relative to its folder."""
    import re
    import urllib.parse
    return [urllib.parse.unquote(link) for link in re.findall(r'<img[^>]* src="([^"]+)"', page)]


def test_the_comparisons_copies_never_take_the_name_of_an_images_thumbnail(tmp_path, monkeypatch, capsys):
    """The copy of image x's thumbnail was thumbnails/0~x.jpg: in a report folder, that is image
    0~x's own thumbnail, which the comparison overwrote."""
    two_report_folders(tmp_path, monkeypatch, capsys, ["x", "0~x"])
    own = (tmp_path / "a" / "thumbnails" / "0~x.jpg").read_bytes()
    assert tool.main(["--compare", "a", "b", "--output-dir", "a", "--quiet"]) == 0
    assert (tmp_path / "a" / "thumbnails" / "0~x.jpg").read_bytes() == own
    pictures = page_pictures((tmp_path / "a" / "compare.html").read_text(encoding="utf-8"))
    assert len(pictures) == 4 and all((tmp_path / "a" / picture).is_file() for picture in pictures)
    assert (tmp_path / "a" / pictures[0]).read_bytes() != own


def test_the_comparison_copies_the_thumbnails_of_ids_with_spaces_and_accents(tmp_path, monkeypatch, capsys):
    """The source was looked for under its link (URL-quoted: a%20b.jpg), not its file name."""
    two_report_folders(tmp_path, monkeypatch, capsys, ["a b", "é", "plain"])
    assert tool.main(["--compare", "a/report.json", "b", "--output-dir", "c", "--quiet"]) == 0
    pictures = page_pictures((tmp_path / "c" / "compare.html").read_text(encoding="utf-8"))
    assert len(pictures) == 6 and all((tmp_path / "c" / picture).is_file() for picture in pictures)
    assert any("a b" in picture for picture in pictures) and any("é" in picture for picture in pictures)


# ---------------------------------------------------------------- 18: nothing to compare

def test_a_comparison_with_no_counted_pixel_says_there_is_nothing_to_compare(tmp_path, monkeypatch, capsys):
    """Every label pixel ignored: 'only 0 images: an interval ... is rough' said nothing true."""
    for index in range(3):
        write_pair(tmp_path, f"v{index}", np.full((4, 5), 255, np.uint8), masks(index, (4, 5))[1])
    monkeypatch.chdir(tmp_path)
    save_report(capsys, tmp_path / "r.json", "--ignore-index", "255")
    assert tool.main(["--compare", "r.json", "r.json", "--output-dir", "out"]) == 0
    out = capsys.readouterr().out
    page = (tmp_path / "out" / "compare.html").read_text(encoding="utf-8")
    for said in (out, page):
        assert "only 0 images" not in said and "is rough" not in said and "resamples" not in said
        assert "no image has counted pixels" in said and "nothing to compare" in said


# ---------------------------------------------------------------- 9: a shard of refused ids only

def test_a_shard_whose_ids_were_all_refused_still_writes_a_report_that_merges(tmp_path, monkeypatch, capsys):
    """Shard 2/2 held only b, a label without an inference: it exited 2 with no report, so the
    job-array task failed and the merge said the shard was missing forever."""
    write_pair(tmp_path, "a", *masks(0))
    write_pair(tmp_path, "b", masks(1)[0])
    (tmp_path / "inferences" / "b.png").unlink()
    monkeypatch.chdir(tmp_path)
    status, whole, _ = json_run(capsys)
    assert status == 1
    for k in (1, 2):
        status, document, err = json_run(capsys, "--shard", f"{k}/2")
        assert status == k - 1, err  # shard 2: refused files, exit 1
        (tmp_path / f"s{k}.json").write_text(json.dumps(document))
    assert document["images"] == [] and [error["id"] for error in document["errors"]] == ["b"]
    assert document["shards"] == {"of": 2, "included": [2], "run_ids": 2}
    status, merged, err = json_run(capsys, "--merge", "s1.json", "s2.json")
    assert status == 1 and "missing" not in err
    assert merged == whole
