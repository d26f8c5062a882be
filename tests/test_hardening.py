"""Hostile and unlucky input: merged reports, names, signals, stdout and the report folder.

Each test reproduces one attack or accident, crafted in tmp_path, and checks
that the tool writes nothing outside the folders it was given, keeps one order,
and answers with one line and an exit status, never a traceback.
"""

import copy
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from conftest import ROOT, assert_report_matches_sklearn, tool

SCRIPT = str(ROOT / "Semantic_Segmentation_Label_Metrics.py")


def write_pair(folder, name, label, inference=None):
    for side, mask in (("labels", label), ("inferences", label if inference is None else inference)):
        (folder / side / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(mask).save(folder / side / f"{name}.png")


def masks(seed, shape=(12, 16), classes=4):
    rng = np.random.default_rng(seed)
    label = rng.integers(0, classes, shape, dtype=np.uint8)
    inference = np.where(rng.random(shape) < 0.7, label, rng.integers(0, classes, shape)).astype(np.uint8)
    return label, inference


def files_under(folder):
    return {path for path in Path(folder).rglob("*")}


def one_line_error(captured, *words):
    """The run said one line on stderr, starting 'error: ', holding every word, and no traceback."""
    assert captured.err.count("\n") == 1 and captured.err.startswith("error: "), captured.err
    assert "Traceback" not in captured.err + captured.out
    for word in words:
        assert word in captured.err, (word, captured.err)


def run_process(args, cwd, **options):
    return subprocess.run([sys.executable, SCRIPT, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, **options)


@pytest.fixture
def report(tmp_path, monkeypatch, capsys):
    """A real JSON report of three pairs, as a document, made in tmp_path (the working folder)."""
    for index, name in enumerate(("a", "b", "c")):
        write_pair(tmp_path, name, *masks(index))
    monkeypatch.chdir(tmp_path)
    assert tool.main(["--format", "json", "--class-names", "cityscapes"]) == 0
    return json.loads(capsys.readouterr().out)


def merge(tmp_path, capsys, document, *args):
    """Run --merge on a document (or text) written to tmp_path/merged.json; (status, captured)."""
    path = tmp_path / "merged.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    status = tool.main(["--merge", str(path), *args])
    return status, capsys.readouterr()


# ---------------------------------------------------------------- security and wrong numbers

@pytest.mark.parametrize("image_id", ["/tmp/x/victim", "../victim", "a/../../victim", "a//b", ".hidden", "",
                                      "a\x1b[31mred", "tab\there", "x" * 5000])
def test_a_merged_id_that_is_no_path_below_the_folder_is_refused_and_nothing_is_written(
        report, tmp_path, capsys, image_id):
    """Ids are what the tool writes (printable, relative, no '..'); anything else is refused."""
    report["images"][0]["id"] = image_id.replace("/tmp/x", str(tmp_path / "x"))
    before = files_under(tmp_path.parent)
    status, captured = merge(tmp_path, capsys, report, "--output-dir", str(tmp_path / "out"))
    assert status == 2
    one_line_error(captured, "merged.json: not a report written by --format json", "an image's id is")
    assert "\x1b" not in captured.err and "\t" not in captured.err  # shown escaped
    assert len(captured.err) < 400  # a 5,000-character id is cut short
    assert files_under(tmp_path.parent) - before <= {tmp_path / "merged.json", tmp_path / "out"}


def test_ids_with_folders_map_to_safe_files_inside_the_report_folder(report, tmp_path, capsys):
    """Recursive ids hold '/': their files get safe, unique names inside the folder."""
    for image, image_id in zip(report["images"], ("city/a", "city_a", "other/city/a")):
        image["id"] = image_id
    before = files_under(tmp_path.parent)
    status, _ = merge(tmp_path, capsys, report, "--output-dir", str(tmp_path / "out"))
    assert status == 0
    new = files_under(tmp_path.parent) - before - {tmp_path / "merged.json"}
    assert new and all(path == tmp_path / "out" or tmp_path / "out" in path.parents for path in new)
    pages = sorted(path.name for path in (tmp_path / "out" / "reports").iterdir())
    assert len(pages) == 3 and all("/" not in name for name in pages)
    assert not (tmp_path / "out" / "reports" / "city").exists()


@pytest.mark.parametrize("key, value, words", [
    ("ignore_index", "<script>alert(1)</script>", "ignore_index is \"<script>"),
    ("ignore_index", True, "ignore_index is true, not null or an id within 0..255"),
    ("ignore_index", 256, "ignore_index is 256"),
    ("ignore_index", 1.0, "ignore_index is 1.0"),
    ("zero_division", "<b>", "zero_division is \"<b>\""),
    ("zero_division", True, "zero_division is true"),
    ("zero_division", 0.5, "zero_division is 0.5"),
    ("label_space", 256.0, "label_space is 256.0, not 256"),
    ("label_space", "256", "label_space is \"256\""),
    ("class_names", [], "class_names is list"),
    ("class_names", {"01": "x"}, "class_names is dict"),
    ("class_names", {"1": 5}, "class_names is dict"),
    ("input", {"palette": ["x"]}, "input is dict"),
    ("images", {}, "images is dict"),
    ("images", ["x"], "an entry of images is \"x\", not an image report"),
    ("errors", [{"id": 5, "path": "p", "error": "e"}], "an error's id is 5"),
    ("errors", [{"id": "a"}], "errors is list"),
    ("shards", {"of": 2, "included": [3], "run_ids": 3}, "shards is dict"),
    ("shards", "1/2", "shards is \"1/2\""),
])
def test_every_field_of_a_merged_report_is_checked_by_type_and_range(report, tmp_path, capsys, key, value,
                                                                       words):
    """A field of the wrong type or range is one line naming it, exit 2, nothing written."""
    report[key] = value
    status, captured = merge(tmp_path, capsys, report, "--output-dir", str(tmp_path / "out"))
    assert status == 2
    one_line_error(captured, "merged.json: not a report written by --format json", words)
    assert not (tmp_path / "out" / "index.html").exists()


def test_everything_a_page_shows_from_a_merged_report_is_escaped(report, tmp_path, capsys):
    report["class_names"]["0"] = "<script>alert(1)</script>"
    report["images"][0]["label"] = "<img src=x onerror=alert(1)>.png"
    report["errors"] = [{"id": "d", "path": "<b>d.png</b>", "error": "<script>bad</script>\x1b[31m"}]
    status, captured = merge(tmp_path, capsys, report, "--output-dir", str(tmp_path / "out"))
    assert status == 1
    assert "\x1b" not in captured.err and "\\x1b[31m" in captured.err  # escaped, as file names are
    for page in (tmp_path / "out").rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "<script>" not in text and "<img src=x" not in text and "<b>d.png" not in text, page


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_ids_alike_in_natural_order_come_in_one_order_and_shards_split_them_exactly(tmp_path, seed):
    """The ids img1, img01 and img001 sort as equal numbers; the raw name decides, in every process."""
    names = ["img1", "img01", "img001", "img2", "img002", "b", "a10", "a010", "a9"]
    for index in np.random.default_rng(seed).permutation(len(names)):  # created in a random order
        write_pair(tmp_path, names[index], *masks(int(index)))
    expected = ["a9", "a010", "a10", "b", "img001", "img01", "img1", "img002", "img2"]
    shards = []
    for k in (1, 2, 3):
        result = run_process(["--format", "json", "--shard", f"{k}/3"], tmp_path,
                             env={**os.environ, "PYTHONHASHSEED": str(seed * 3 + k)})
        assert result.returncode == 0, result.stderr
        shards.append([image["id"] for image in json.loads(result.stdout)["images"]])
    assert shards == [expected[0::3], expected[1::3], expected[2::3]]


def test_ids_of_thousands_of_digits_sort_without_converting_them():
    long = "9" * 5000
    assert sorted([f"x{long}", "x10", "x9"], key=tool.id_order) == ["x9", "x10", f"x{long}"]


def test_merged_counts_whose_sum_would_overflow_are_refused_and_those_that_fit_are_exact(
        report, tmp_path, capsys):
    """The summed matrix is int64 and F1 doubles a count: totals from 2^62 on are refused,
    not wrapped to negative pixels or scores above 1."""
    report["images"] = report["images"][:2]
    for image in report["images"]:
        image["confusion_matrix"] = {"labels": [0, 1], "matrix": [[2**61, 0], [0, 0]]}
    status, captured = merge(tmp_path, capsys, report, "--format", "json")
    assert status == 2
    one_line_error(captured, "4611686018427387904 pixels in all, more than the tool adds up exactly")
    report["images"][1]["confusion_matrix"] = {"labels": [0, 1], "matrix": [[2**60, 2**60 - 2], [0, 1]]}
    status, captured = merge(tmp_path, capsys, report, "--format", "json")
    assert status == 0
    combined = json.loads(captured.out)["combined"]
    assert combined["pixels"] == 2**62 - 1
    assert combined["confusion_matrix"]["matrix"] == [[2**61 + 2**60, 2**60 - 2], [0, 1]]
    tp, fn = 2**61 + 2**60, 2**60 - 2
    assert combined["classes"]["0"]["f1_score"] == 2 * tp / (2 * tp + fn)  # exact: Python's integers
    assert all(0 <= entry[metric] <= 1 for entry in combined["classes"].values() for metric in tool.CLASS_METRICS
               if entry[metric] is not None)


def test_an_image_named_combined_keeps_its_files_apart_from_the_combined_set(tmp_path, monkeypatch, capsys):
    """The combined set's files stand at the top; per-image tables hold images only."""
    label, inference = masks(5)
    write_pair(tmp_path, "combined", label, inference)
    other = masks(6, classes=3)
    write_pair(tmp_path, "other", *other)
    monkeypatch.chdir(tmp_path)
    assert tool.main(["--output-dir", "out", "--quiet"]) == 0
    out = tmp_path / "out"
    image_matrix = [row.split(",") for row in (out / "matrices" / "combined.csv").read_text().splitlines()]
    labels = sorted(set(label.ravel().tolist()) | set(inference.ravel().tolist()))
    assert [[int(value) for value in row[1:]] for row in image_matrix[1:]] == \
        tool.count_matrix(label, inference)[np.ix_(labels, labels)].tolist()
    combined_matrix = (out / "confusion_matrix.csv").read_text().split()
    assert combined_matrix != (out / "matrices" / "combined.csv").read_text().split()
    summary = (out / "summary.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in summary[1:]] == ["combined", "other"]
    classes = [line.split(",")[0] for line in (out / "classes.csv").read_text().splitlines()[1:]]
    assert classes == ["combined"] * len(labels) + ["other"] * len(set(np.concatenate(other).ravel().tolist()))


def test_a_report_with_two_errors_for_one_id_merges(tmp_path, monkeypatch, capsys):
    """Everything the tool writes, it reads back."""
    label, inference = masks(1)
    write_pair(tmp_path, "b", label, inference)
    Image.fromarray(label).save(tmp_path / "labels" / "a.png")
    Image.fromarray(label).save(tmp_path / "labels" / "a.bmp")
    Image.fromarray(inference).save(tmp_path / "inferences" / "a.png")
    Image.fromarray(inference).save(tmp_path / "inferences" / "a.gif")
    monkeypatch.chdir(tmp_path)
    assert tool.main(["--format", "json"]) == 1
    written = capsys.readouterr().out
    assert [error["id"] for error in json.loads(written)["errors"]] == ["a", "a"]
    (tmp_path / "own.json").write_text(written)
    assert tool.main(["--format", "json", "--merge", "own.json"]) == 1
    assert capsys.readouterr().out == written


def test_merging_some_shards_says_which_are_missing_and_the_rest_completes_it(tmp_path, monkeypatch, capsys):
    """Each shard's head records K/N and the run's id count; --merge checks them."""
    for index in range(7):
        write_pair(tmp_path, f"f{index}", *masks(index))
    monkeypatch.chdir(tmp_path)
    assert tool.main(["--format", "json"]) == 0
    whole = capsys.readouterr().out
    for k in (1, 2, 3):
        assert tool.main(["--format", "json", "--shard", f"{k}/3"]) == 0
        shard = capsys.readouterr().out
        assert json.loads(shard)["shards"] == {"of": 3, "included": [k], "run_ids": 7}
        (tmp_path / f"s{k}.json").write_text(shard)
    assert tool.main(["--format", "json", "--merge", "s1.json", "s3.json"]) == 1
    captured = capsys.readouterr()
    warning = "shard 2/3 is missing: the merged report covers 5 of the run's 7 image ids"
    assert captured.err == f"warning: {warning}\n"
    document = json.loads(captured.out)
    assert document["warnings"] == [warning] and document["shards"] == {"of": 3, "included": [1, 3], "run_ids": 7}
    (tmp_path / "s13.json").write_text(captured.out)
    assert tool.main(["--format", "json", "--merge", "s13.json", "s2.json"]) == 0  # complete: the whole run
    assert capsys.readouterr().out == whole
    assert tool.main(["--merge", "s1.json", "s13.json"]) == 2
    one_line_error(capsys.readouterr(), "shard 1/3 is in both s1.json and s13.json")
    assert tool.main(["--format", "json", "--shard", "1/2"]) == 0
    (tmp_path / "t1.json").write_text(capsys.readouterr().out)
    assert tool.main(["--merge", "t1.json", "s2.json"]) == 2
    one_line_error(capsys.readouterr(), "shards of different runs")


# ---------------------------------------------------------------- crashes, hangs and lost output

def test_a_second_run_on_a_folder_being_written_is_refused(tmp_path, monkeypatch, capsys):
    """A lock on the report folder; the lock file goes when the run ends."""
    import fcntl
    write_pair(tmp_path, "a", *masks(0))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    with open(tmp_path / "out" / ".lock", "w") as held:  # as a run in another process holds it
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("4242")
        held.flush()
        assert tool.main(["--output-dir", "out"]) == 2
        one_line_error(capsys.readouterr(), "another run (process 4242) is writing this report folder")
    assert not (tmp_path / "out" / "index.html").exists()
    assert tool.main(["--output-dir", "out"]) == 0  # released: the next run goes on
    assert (tmp_path / "out" / "index.html").exists() and not (tmp_path / "out" / ".lock").exists()


def test_two_runs_started_together_never_mix_one_folder(tmp_path):
    for index in range(40):
        write_pair(tmp_path, f"f{index:02d}", *masks(index, shape=(64, 64)))
    runs = [subprocess.Popen([sys.executable, SCRIPT, "--output-dir", "out", "--quiet"], cwd=tmp_path,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(run.wait(timeout=300), run.stderr.read()) for run in runs]
    assert sorted(status for status, _ in results) in ([0, 0], [0, 2])  # one after the other, or refused
    for status, err in results:
        assert "Traceback" not in err and (status == 0 or "another run" in err)
    document = json.loads((tmp_path / "out" / "report.json").read_text())
    assert len(document["images"]) == 40 and (tmp_path / "out" / "index.html").read_text().count(
        'class="thumb"') == 40


def closed_pipe():
    """The write end of a pipe whose reader has gone: every write fails with EPIPE."""
    read, write = os.pipe()
    os.close(read)
    return write


@pytest.mark.parametrize("args", [[], ["--format", "json"]])
def test_a_closed_stdout_still_finishes_the_report_folder(tmp_path, args):
    """A reader gone early (| head) costs stdout only; exit 1, one clean line."""
    write = closed_pipe()
    try:
        result = subprocess.run([sys.executable, SCRIPT, "--output-dir", str(tmp_path / "out"), "--quiet",
                                 *args], cwd=ROOT, stdout=write, stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(write)
    assert result.returncode == 1
    assert result.stderr == ("error: standard output was closed before the whole report was written; "
                             f"the report folder {tmp_path / 'out'}/ is complete\n")
    assert len(json.loads((tmp_path / "out" / "report.json").read_text())["images"]) == 10
    assert (tmp_path / "out" / "index.html").exists()


def test_head_reading_one_line_of_a_long_report_ends_cleanly(tmp_path):
    result = subprocess.run(f"'{sys.executable}' '{SCRIPT}' --output-dir '{tmp_path / 'out'}' --quiet | head -1; "
                            "echo status ${PIPESTATUS[0]}", shell=True, executable="bash", cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    status = int(result.stdout.split("status ")[-1])
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
    assert (status, result.stderr) in ((0, ""), (1, "error: standard output was closed before the whole "
                                                    f"report was written; the report folder {tmp_path / 'out'}/ "
                                                    "is complete\n"))
    assert (tmp_path / "out" / "index.html").exists()


@pytest.mark.parametrize("stdout, status, words", [
    ("/dev/full", 2, "error: cannot write the report to standard output (No space left on device)\n"),
    (None, 1, "error: standard output was closed before the whole report was written\n"),
])
def test_stdout_that_cannot_be_written_is_one_line_and_no_noise(stdout, status, words):
    """A small report to /dev/full or to a closed pipe: exit 2 or 1, one line."""
    target = open(stdout, "w") if stdout else None
    write = target.fileno() if target else closed_pipe()
    try:
        result = subprocess.run([sys.executable, SCRIPT, "--format", "json"], cwd=ROOT, stdout=write,
                                stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        target.close() if target else os.close(write)
    assert (result.returncode, result.stderr) == (status, words)


def test_long_legal_names_never_stop_a_run(tmp_path, monkeypatch, capsys):
    """Names up to the file system's 255 bytes, and undecodable ones, write every file."""
    names = ["x" * 251, "é" * 125, "ü" * 100 + "\udcff" * 20 + "ß" * 10]
    for index, name in enumerate(names):
        assert len(os.fsencode(name + ".png")) <= 255
        write_pair(tmp_path, name, *masks(index))
    monkeypatch.chdir(tmp_path)
    assert tool.main(["--output-dir", "out", "--plots-per-image", "--quiet"]) == 0
    for subfolder in ("matrices", "reports", "overlays", "thumbnails", "plots"):
        written = list((tmp_path / "out" / subfolder).iterdir())
        assert len(written) == 3 and all(len(os.fsencode(path.name)) <= 200 for path in written), subfolder
    assert not list((tmp_path / "out").rglob(".*.part"))


def test_a_camera_picture_above_the_bomb_limit_costs_only_its_overlay(tmp_path):
    """Between 1x and 2x the limit (a warning in Pillow) and above 2x (an error): one note."""
    for name in ("a", "b", "c"):
        write_pair(tmp_path, name, *masks(0, shape=(20, 20)))
    (tmp_path / "images").mkdir()
    Image.new("RGB", (20, 20), "white").save(tmp_path / "images" / "a.png")
    Image.new("RGB", (30, 30), "white").save(tmp_path / "images" / "b.png")  # 900 pixels: 1.8x
    Image.new("RGB", (60, 60), "white").save(tmp_path / "images" / "c.png")  # 3600 pixels: 7.2x
    result = run_process(["--output-dir", "out", "--max-image-pixels", "500"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("note: 2 overlays are drawn on the label's class colours") == 1
    assert "images/b.png: more pixels than the decompression-bomb limit of 500" in result.stderr
    assert "Warning" not in result.stderr and "Traceback" not in result.stderr
    assert len(list((tmp_path / "out" / "overlays").iterdir())) == 3


@pytest.mark.parametrize("text, words", [
    ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
    ('{"images": [' + "1" * 5000 + "]}", "not JSON"),
    ("{", "not JSON"),
    ("[]", "not a JSON object"),
    ('{"images": []}', "it has no label_space"),
])
def test_malformed_merge_input_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch, text, words):
    """What json.loads or a wrong shape would raise becomes one line."""
    monkeypatch.chdir(tmp_path)
    status, captured = merge(tmp_path, capsys, text)
    assert status == 2
    one_line_error(captured, "merged.json:", words)


def test_a_merged_id_of_thousands_of_digits_is_refused_in_one_line(report, tmp_path, capsys):
    report["images"][0]["id"] = "7" * 5000
    status, captured = merge(tmp_path, capsys, report)
    assert status == 2
    one_line_error(captured, "an image's id is \"7777")


def child_processes(pid):
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(child) for child in found]


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


@pytest.fixture(scope="module")
def slow_folders(tmp_path_factory):
    """Enough pairs for a run with --jobs 2 and a report folder to last several seconds, so that a
    signal sent once 20 pictures are drawn always finds it running, also on a fast or a busy machine."""
    folder = tmp_path_factory.mktemp("slow")
    rng = np.random.default_rng(0)
    label = rng.integers(0, 6, (200, 320), dtype=np.uint8)
    for index in range(900):
        write_pair(folder, f"f{index:03d}", label, np.roll(label, index, axis=1))
    return folder


@pytest.mark.parametrize("sent, status, said", [(signal.SIGTERM, 143, "terminated\n"),
                                                (signal.SIGINT, 130, "interrupted\n")])
def test_a_signal_stops_the_run_cleanly_with_no_worker_left_and_no_temporary_file(slow_folders, tmp_path,
                                                                                   sent, status, said):
    """SIGTERM as Ctrl-C; workers end with the parent; .part files are removed."""
    out = tmp_path / "out"
    # A test run in the background (as by `cmd &`) inherits SIGINT ignored: give the tool Ctrl-C back.
    run = subprocess.Popen([sys.executable, SCRIPT, "--output-dir", str(out), "--jobs", "2", "--quiet"],
                           cwd=slow_folders, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           start_new_session=True,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not (out / "overlays").exists() or len(list((out / "overlays").iterdir())) < 20:
        assert time.monotonic() < deadline and run.poll() is None
        time.sleep(0.05)
    workers = child_processes(run.pid)
    assert workers
    if sent == signal.SIGINT:
        os.killpg(run.pid, sent)  # Ctrl-C reaches the whole process group
    else:
        os.kill(run.pid, sent)
    assert run.wait(timeout=60) == status
    assert run.stderr.read() == said
    time.sleep(0.2)
    assert not [pid for pid in workers if alive(pid)]
    assert not [path for path in out.rglob("*") if path.name.endswith(".part")]
    assert not (out / "report.json").exists() and not (out / ".lock").exists()


def test_leftovers_of_a_killed_run_are_removed_by_the_next_run_and_nothing_else(tmp_path, monkeypatch, capsys):
    """Kill -9 cannot be caught; the next run in that folder removes what it left."""
    write_pair(tmp_path, "a", *masks(0))
    out = tmp_path / "out"
    (out / "overlays").mkdir(parents=True)
    leftovers = [out / ".report.json.12345.part", out / "overlays" / ".a.png.999.part", out / ".lock"]
    kept = [out / "notes.txt", out / ".a.part", out / "overlays" / ".keep.1.partial"]
    for path in leftovers + kept:
        path.write_text("x")
    monkeypatch.chdir(tmp_path)
    assert tool.main(["--output-dir", "out", "--quiet"]) == 0
    assert not [path for path in leftovers if path.exists()] and all(path.exists() for path in kept)


def test_a_run_killed_with_sigkill_leaves_only_what_the_next_run_removes(slow_folders, tmp_path):
    out = tmp_path / "out"
    run = subprocess.Popen([sys.executable, SCRIPT, "--output-dir", str(out), "--jobs", "1", "--quiet"],
                           cwd=slow_folders, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (out / "overlays").exists() or len(list((out / "overlays").iterdir())) < 5:
        assert time.monotonic() < deadline and run.poll() is None
        time.sleep(0.05)
    run.kill()
    run.wait(timeout=60)
    result = run_process(["--output-dir", str(out), "--quiet", "--labels", "labels", "--inferences", "inferences"],
                         slow_folders)
    assert result.returncode == 0, result.stderr
    assert not [path for path in out.rglob("*") if path.name.endswith(".part") or path.name == ".lock"]


def test_a_class_names_file_that_is_a_named_pipe_is_refused_not_waited_for(tmp_path):
    """Reading a pipe would hang; the same for the maps and the palette."""
    write_pair(tmp_path, "a", *masks(0))
    os.mkfifo(tmp_path / "names.txt")
    for option in ("--class-names", "--label-map", "--palette"):
        result = run_process([option, "names.txt"], tmp_path)
        assert result.returncode == 2 and "names.txt: not a regular file" in result.stderr, result.stderr
    os.mkfifo(tmp_path / "labels" / "class_names.txt")
    result = run_process([], tmp_path)
    assert result.returncode == 2 and "labels/class_names.txt: not a regular file" in result.stderr


def test_ctrl_c_while_the_options_are_read_is_no_traceback(tmp_path, monkeypatch, capsys):
    def interrupted(source):
        raise KeyboardInterrupt
    write_pair(tmp_path, "a", *masks(0))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tool, "read_class_names", interrupted)
    assert tool.main(["--class-names", "cityscapes"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


# ---------------------------------------------------------------- messages

def test_a_report_file_that_cannot_be_written_is_named_with_the_folder(tmp_path, monkeypatch, capsys):
    write_pair(tmp_path, "a", *masks(0))
    (tmp_path / "out" / "report.json").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert tool.main(["--output-dir", "out"]) == 2
    one_line_error(capsys.readouterr(), "cannot write the report folder out/: out/report.json: Is a directory")


def test_an_automatically_found_class_names_file_is_named_in_its_error(tmp_path, monkeypatch, capsys):
    write_pair(tmp_path, "a", *masks(0))
    (tmp_path / "labels" / "class_names.txt").write_text("road\n0: street\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        tool.main([])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "labels/class_names.txt, line 2: id 0 was already given" in err
    assert "--class-names" not in err.splitlines()[-1]


def test_pngs_with_large_metadata_and_a_4_bit_greyscale_bmp_are_read(tmp_path, monkeypatch, capsys):
    label, inference = masks(3, shape=(30, 40), classes=16)
    write_pair(tmp_path, "plain", label, inference)
    text = PngImagePlugin.PngInfo()
    text.add_text("comment", "x" * (3 << 20), zip=True)  # 3 MiB of zTXt: Pillow's own limit is 1 MiB
    Image.fromarray(label).save(tmp_path / "labels" / "ztxt.png", pnginfo=text)
    Image.fromarray(label).save(tmp_path / "labels" / "iccp.png", icc_profile=b"\0" * (3 << 20))
    for name in ("ztxt", "iccp", "bmp4"):
        Image.fromarray(inference).save(tmp_path / "inferences" / f"{name}.png")
    write_bmp4(tmp_path / "labels" / "bmp4.bmp", label)
    monkeypatch.chdir(tmp_path)
    assert tool.main(["--format", "json"]) == 0
    for image in json.loads(capsys.readouterr().out)["images"]:
        assert_report_matches_sklearn(image, label, inference, None, 0.0)


def write_bmp4(path, ids):
    """A 4-bit BMP whose palette is the grey levels 0..15: each pixel's sample is its id."""
    height, width = ids.shape
    stride = (width * 4 + 31) // 32 * 4
    rows = b""
    for row in ids[::-1]:  # bottom-up
        padded = np.append(row, 0) if width % 2 else row
        rows += bytes((padded[0::2] << 4 | padded[1::2]).astype(np.uint8)).ljust(stride, b"\0")
    palette = b"".join(bytes((level, level, level, 0)) for level in range(16))
    offset = 14 + 40 + len(palette)
    header = b"BM" + np.array([offset + len(rows), 0, offset], "<u4").tobytes()[:4] + b"\0\0\0\0" \
        + np.array([offset], "<u4").tobytes()
    info = (np.array([40, width, height], "<i4").tobytes() + np.array([1, 4], "<u2").tobytes()
            + np.array([0, len(rows), 2835, 2835, 16, 16], "<u4").tobytes())
    path.write_bytes(header + info + palette + rows)


def test_a_two_bit_bmp_is_explained_not_called_corrupt(tmp_path):
    path = tmp_path / "two.bmp"
    write_bmp4(path, np.zeros((2, 8), np.uint8))
    data = bytearray(path.read_bytes())
    data[28] = 2  # bits per pixel
    path.write_bytes(bytes(data))
    with pytest.raises(tool.MaskError, match="a kind of file Pillow cannot read .*save masks as PNG"):
        tool.read_mask(path)


def test_control_characters_in_class_names_reach_the_terminal_escaped(tmp_path, monkeypatch, capsys):
    write_pair(tmp_path, "a", *masks(0))
    (tmp_path / "names.txt").write_text("\x1b[31mred\x1b[0m\nbell\x07\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert tool.main(["--class-names", "names.txt"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\\x1b[31mred" in out


def test_memory_kept_per_image_is_small(monkeypatch):
    """The README's figure: what a run keeps per image (a summary row) stays under 1 KB."""
    import io
    import tracemalloc
    label, inference = masks(0, shape=(64, 64), classes=19)
    matrix = tool.count_matrix(label, inference)
    settings = tool.Settings(scoring=tool.Scoring(class_names=tool.DATASETS["cityscapes"].names),
                             format="json", quiet=True)
    monkeypatch.setattr(sys, "stdout", io.StringIO())

    def results(count):
        for index in range(count):
            key = f"frankfurt/frankfurt_{index:06d}_000019"
            counts = tool.counts_of_matrix(matrix.copy())
            report = tool.image_report(key, f"labels/{key}.png", f"inferences/{key}.png", counts,
                                       settings.scoring)
            yield tool.Result(key, report["label"], report, None, counts=counts)
            sys.stdout.seek(0)  # the document is not what is measured
            sys.stdout.truncate()

    peaks = {}
    for count in (200, 1200):
        tracemalloc.start()
        tool.consume_results(results(count), count, [], settings)
        peaks[count] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    per_image = (peaks[1200] - peaks[200]) / 1000
    assert per_image < 1024, per_image


# ---------------------------------------------------------------- whatever --merge is given

def mutations(document):
    """Hypothesis: a report with one value somewhere replaced, a key dropped, or a list entry repeated."""
    paths = []

    def walk(value, path):
        paths.append(path)
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, path + (key,))
        elif isinstance(value, list):
            for index, item in enumerate(value[:3]):
                walk(item, path + (index,))
    walk(document, ())
    json_values = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
                               | st.text(max_size=20), lambda inner: st.lists(inner, max_size=3)
                               | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)
    return st.tuples(st.sampled_from(paths), st.sampled_from(["replace", "drop", "repeat"]), json_values)


@pytest.fixture(scope="module")
def real_report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("real")
    for index, name in enumerate(("a", "b", "dir/c")):
        write_pair(folder, name, *masks(index))
    Image.fromarray(masks(9)[0]).save(folder / "labels" / "lonely.png")
    result = run_process(["--format", "json", "--recursive", "--class-names", "cityscapes"], folder)
    return json.loads(result.stdout)


def mutate(document, path, how, value):
    document = copy.deepcopy(document)
    if not path:
        return value
    *parents, last = path
    holder = document
    for key in parents:
        holder = holder[key]
    if how == "replace":
        holder[last] = value
    elif how == "drop":
        del holder[last]
    elif isinstance(holder, list):
        holder.append(holder[last])
    else:
        holder[f"{last}2"] = holder[last]
    return document


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_merge_of_any_mutated_report_is_a_report_or_one_line(real_report, tmp_path_factory, data):
    """A valid report, or one line and exit 2: never a traceback, never a file outside the folder."""
    folder = tmp_path_factory.mktemp("fuzz")
    path, how, value = data.draw(mutations(real_report))
    document = mutate(real_report, path, how, value)
    (folder / "in.json").write_text(json.dumps(document), encoding="utf-8")
    stdout, stderr = (folder / "stdout"), (folder / "stderr")
    import contextlib
    with open(stdout, "w") as out, open(stderr, "w") as err, \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = tool.main(["--merge", str(folder / "in.json"), "--format", "json",
                            "--output-dir", str(folder / "report"), "--quiet"])
    err = stderr.read_text()
    assert status in (0, 1, 2, tool.NUMBERS_IN_DOUBT) and "Traceback" not in err
    if status == 2:
        assert err.count("\n") == 1 and err.startswith("error: ") and stdout.read_text() == ""
    else:
        merged = json.loads(stdout.read_text())
        assert merged["images"] == json.loads((folder / "report" / "report.json").read_text())["images"]
    written = {path.relative_to(folder) for path in folder.rglob("*")}
    assert all(str(path).split("/")[0] in ("in.json", "stdout", "stderr", "report") for path in written)


def test_every_reliability_promise_of_the_readme_names_tests_that_exist():
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## Reliability")[1].split("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "`" in line]
    assert len(rows) >= 15
    for row in rows:
        names = re.findall(r"`(\w+\.py)?::(\w+)`", row)  # `file.py::test`, or `::test` of the same file
        assert names and names[0][0], row
        current = names[0][0]
        for file, test in names:
            current = file or current
            assert f"def {test}(" in (ROOT / "tests" / current).read_text(encoding="utf-8"), (current, test)


# ---------------------------------------------------------------- what a second review found

@pytest.mark.parametrize("planted", ["reports", "matrices", "overlays", ".lock"])
def test_links_planted_in_the_report_folder_are_never_written_through(tmp_path, monkeypatch, capsys, planted):
    """A sub-folder or the lock file that is a link (or a file) stops the run before anything is written."""
    write_pair(tmp_path, "a", *masks(0))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim = elsewhere / "victim"
    victim.write_text("precious")
    (elsewhere / ".x.html.1.part").write_text("not ours")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / planted).symlink_to(victim if planted == ".lock" else elsewhere)
    monkeypatch.chdir(tmp_path)
    assert tool.main(["--output-dir", "out"]) == 2
    one_line_error(capsys.readouterr(), f"out/{planted}")
    assert sorted(path.name for path in elsewhere.iterdir()) == [".x.html.1.part", "victim"]
    assert victim.read_text() == "precious"


def test_a_plain_name_never_takes_the_hashed_name_of_another(tmp_path, monkeypatch, capsys):
    write_pair(tmp_path, "x/y", *masks(0))
    write_pair(tmp_path, tool.output_name("x/y"), *masks(1))  # a file named as x/y's files are
    monkeypatch.chdir(tmp_path)
    assert tool.main(["--recursive", "--output-dir", "out", "--quiet"]) == 0
    assert len(list((tmp_path / "out" / "reports").iterdir())) == 2


def test_names_shown_alike_are_not_two_images_with_one_id(tmp_path, monkeypatch, capsys):
    for name in ("a\nb", "a\\nb"):
        write_pair(tmp_path, name, *masks(0))
    monkeypatch.chdir(tmp_path)
    assert tool.main(["--format", "json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert [image["id"] for image in document["images"]] == ["a\\nb"]
    assert "is shown as" in document["errors"][0]["error"]
    (tmp_path / "own.json").write_text(json.dumps(document))
    assert tool.main(["--format", "json", "--merge", "own.json"]) == 1  # and it merges


def test_dollar_signs_in_names_are_drawn_as_they_are(tmp_path, monkeypatch, capsys):
    write_pair(tmp_path, "a$x^$", *masks(0))
    (tmp_path / "names.txt").write_text("road\n$x^$\n")
    monkeypatch.chdir(tmp_path)
    assert tool.main(["--class-names", "names.txt", "--output-dir", "out", "--plots-per-image", "--quiet"]) == 0
    assert (tmp_path / "out" / "confusion_matrix.png").exists() and (tmp_path / "out" / "index.html").exists()


def test_shards_beyond_the_ids_and_huge_shard_counts_merge_cleanly(tmp_path, monkeypatch, capsys):
    for index in range(3):
        write_pair(tmp_path, f"f{index}", *masks(index))
    monkeypatch.chdir(tmp_path)
    assert tool.main(["--format", "json"]) == 0
    whole = capsys.readouterr().out
    for k in (1, 2, 3, 4, 5):  # shards 4/5 and 5/5 hold no id: empty reports, as a job array's tasks need
        assert tool.main(["--format", "json", "--shard", f"{k}/5"]) == 0
        captured = capsys.readouterr()
        (tmp_path / f"s{k}.json").write_text(captured.out)
        assert ("holds none of the run's 3 image ids" in captured.err) == (k > 3)
    assert json.loads((tmp_path / "s5.json").read_text())["images"] == []
    for shards in (["s1.json", "s2.json", "s3.json"], [f"s{k}.json" for k in range(1, 6)]):
        assert tool.main(["--format", "json", "--merge", *shards]) == 0  # the empty ones are not missed
        assert capsys.readouterr().out == whole
    assert tool.main(["--format", "json", "--shard", "1/1000000000"]) == 0
    (tmp_path / "g.json").write_text(capsys.readouterr().out)
    assert tool.main(["--format", "json", "--merge", "g.json"]) == 1
    assert capsys.readouterr().err == ("warning: shards 2/1000000000, 3/1000000000 are missing: the merged "
                                       "report covers 1 of the run's 3 image ids\n")


def test_a_merged_matrix_that_counts_ignored_pixels_is_refused(report, tmp_path, capsys):
    report["ignore_index"] = 255
    report["images"][0]["confusion_matrix"] = {"labels": [0, 255], "matrix": [[10, 0], [0, 1000]]}
    status, captured = merge(tmp_path, capsys, report)
    assert status == 2
    one_line_error(captured, "pixels labelled the ignore index 255 are counted")


@pytest.mark.parametrize("redirect", ["2>&-", "2>/dev/full"])
def test_a_closed_or_full_stderr_costs_only_stderr(tmp_path, redirect):
    result = subprocess.run(f"'{sys.executable}' '{SCRIPT}' --output-dir '{tmp_path / 'out'}' --format json "
                            f"--merge /dev/null {redirect}; echo status $?", shell=True, cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.stdout.endswith("status 2\n")  # /dev/null is no report: said where it can be
    result = subprocess.run(f"'{sys.executable}' '{SCRIPT}' --output-dir '{tmp_path / 'out'}' --format json "
                            f"{redirect}", shell=True, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and len(json.loads(result.stdout)["images"]) == 10
    assert (tmp_path / "out" / "index.html").exists()


def test_paths_the_system_refuses_are_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert tool.main(["--labels", "a" * 300]) == 2
    one_line_error(capsys.readouterr(), "a" * 20)
    write_pair(tmp_path, "a", *masks(0))
    assert tool.main(["--output-dir", "b" * 300]) == 2
    one_line_error(capsys.readouterr(), "File name too long")


def test_names_a_console_cannot_encode_are_shown_escaped(tmp_path):
    write_pair(tmp_path, "日本", *masks(0))
    result = run_process([], tmp_path, env={**os.environ, "PYTHONIOENCODING": "ascii"})
    assert result.returncode == 0 and "\\u65e5\\u672c" in result.stdout and "Traceback" not in result.stderr
