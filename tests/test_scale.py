"""Many images: identical results on any number of processes, shards that merge, quiet pipes."""

import io
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, assert_report_matches_sklearn, tool


@pytest.fixture
def many_pairs(tmp_path, monkeypatch):
    """Twenty small pairs (one of them broken), with class names, in tmp_path."""
    rng = np.random.default_rng(12)
    (tmp_path / "labels").mkdir()
    (tmp_path / "inferences").mkdir()
    pairs = {}
    for n in range(20):
        label = rng.choice(np.array([0, 1, 2, 7, 255], np.uint8), size=(15, 25))
        inference = np.where(rng.random(label.shape) < 0.7, label, rng.integers(0, 9, label.shape))
        pairs[f"frame{n}"] = (label, inference.astype(np.uint8))
        Image.fromarray(label).save(tmp_path / "labels" / f"frame{n}.png")
        Image.fromarray(pairs[f"frame{n}"][1]).save(tmp_path / "inferences" / f"frame{n}.png")
    (tmp_path / "labels" / "broken.png").write_bytes(b"not a png")
    (tmp_path / "inferences" / "broken.png").write_bytes(b"not a png")
    (tmp_path / "labels" / "class_names.txt").write_text("zero\none\ntwo\n255: void\n")
    monkeypatch.chdir(tmp_path)
    return pairs


def run(capsys, *args):
    status = tool.main(list(args))
    return status, capsys.readouterr()


@pytest.mark.parametrize("output", ["json", "text"])
def test_any_number_of_jobs_gives_identical_output(many_pairs, capsys, output):
    outputs = {jobs: run(capsys, "--format", output, "--jobs", str(jobs), "--ignore-index", "255")
               for jobs in (1, 2, 3)}
    assert outputs[1][0] == 1  # the broken pair
    assert outputs[1] == outputs[2] == outputs[3]


def test_parallel_numbers_equal_scikit_learn(many_pairs, capsys):
    status, captured = run(capsys, "--format", "json", "--jobs", "2")
    document = json.loads(captured.out)
    assert len(document["images"]) == 20 and [e["id"] for e in document["errors"]] == ["broken"]
    for image in document["images"]:
        label, inference = many_pairs[image["id"]]
        assert_report_matches_sklearn(image, label, inference, None, 0.0)


def test_merged_shards_equal_one_run_over_all_pairs(many_pairs, capsys, tmp_path):
    args = ["--ignore-index", "255", "--zero-division", "nan"]
    whole = run(capsys, "--format", "json", *args)
    shard_files = []
    for k in (1, 2, 3):
        status, captured = run(capsys, "--format", "json", "--shard", f"{k}/3", *args)
        shard_files.append(tmp_path / f"shard{k}.json")
        shard_files[-1].write_text(captured.out)
        ids = [image["id"] for image in json.loads(captured.out)["images"]]
        assert 5 <= len(ids) <= 7
    shutil.rmtree(tmp_path / "labels")  # the masks are not needed to merge
    shutil.rmtree(tmp_path / "inferences")
    merged = run(capsys, "--format", "json", "--merge", *map(str, shard_files))
    assert merged == whole  # with the shards' --zero-division nan
    merged_text = run(capsys, "--merge", *map(str, shard_files))
    assert merged_text[0] == 1 and "=== combined: 20 images" in merged_text[1].out
    assert "frame19" in merged_text[1].out and " 1 one" in merged_text[1].out  # names come along


def test_merge_keeps_the_name_of_a_predicted_ignore_id(many_pairs, capsys, tmp_path):
    """255 is predicted somewhere but never has a class row: its name must survive the merge."""
    label, inference = many_pairs["frame3"]
    inference = inference.copy()
    inference[0, :5] = 255
    Image.fromarray(inference).save(tmp_path / "inferences" / "frame3.png")
    args = ["--ignore-index", "255"]
    whole = run(capsys, "--format", "json", *args)
    for k in (1, 2):
        (tmp_path / f"s{k}.json").write_text(run(capsys, "--format", "json", "--shard", f"{k}/2", *args)[1].out)
    assert run(capsys, "--format", "json", "--merge", "s1.json", "s2.json") == whole
    assert "255 void" in run(capsys, "--merge", "s1.json", "s2.json")[1].out


def test_merge_refuses_overlapping_and_mismatched_reports(many_pairs, capsys, tmp_path):
    first = run(capsys, "--format", "json", "--shard", "1/2")[1].out
    (tmp_path / "a.json").write_text(first)
    (tmp_path / "b.json").write_text(first)
    status, captured = run(capsys, "--merge", "a.json", "b.json")
    assert status == 2 and "is in both a.json and b.json" in captured.err
    (tmp_path / "c.json").write_text(run(capsys, "--format", "json", "--shard", "2/2",
                                         "--ignore-index", "255")[1].out)
    status, captured = run(capsys, "--merge", "a.json", "c.json")
    assert status == 2 and "different --ignore-index" in captured.err
    (tmp_path / "e.json").write_text(run(capsys, "--format", "json", "--shard", "2/2",
                                         "--zero-division", "1")[1].out)
    status, captured = run(capsys, "--merge", "a.json", "e.json")
    assert status == 2 and "different --zero-division" in captured.err
    assert run(capsys, "--merge", "a.json", "e.json", "--zero-division", "1")[0] == 1  # the broken pair
    status, captured = run(capsys, "--merge", "c.json", "--ignore-index", "7")
    assert status == 2 and "cannot be made again" in captured.err
    (tmp_path / "d.json").write_text('{"images": 3}')
    status, captured = run(capsys, "--merge", "d.json")
    assert status == 2 and "d.json: not a report written by --format json" in captured.err
    status, captured = run(capsys, "--merge", "missing.json")
    assert status == 2 and "missing.json: cannot read the report" in captured.err
    status, captured = run(capsys, "--merge", "a.json", "a.json")
    assert status == 2 and "a.json is given twice" in captured.err
    document = json.loads(first)
    for damage, words in ((lambda image: image["confusion_matrix"]["matrix"][0].__setitem__(0, -5),
                           "not a square of pixel counts"),
                          (lambda image: image["confusion_matrix"]["matrix"][0].__setitem__(0, 10**30),
                           "not a square of pixel counts"),
                          (lambda image: image["confusion_matrix"]["labels"].__setitem__(0, -1),
                           "not ascending ids"),
                          (lambda image: image.__setitem__("id", 7), "an image's id is 7, not printable text")):
        broken = json.loads(first)
        damage(broken["images"][0])
        (tmp_path / "f.json").write_text(json.dumps(broken))
        status, captured = run(capsys, "--merge", "f.json")
        assert status == 2 and words in captured.err, captured.err
    document["images"], document["errors"] = [], []
    (tmp_path / "g.json").write_text(json.dumps(document))
    status, captured = run(capsys, "--merge", "g.json")
    assert status == 2 and "hold no image" in captured.err


@pytest.mark.parametrize("shard", ["0/2", "3/2", "1", "a/b"])
def test_bad_shards_are_usage_errors(many_pairs, shard):
    with pytest.raises(SystemExit) as stop:
        tool.main(["--shard", shard])
    assert stop.value.code == 2


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_on_a_terminal_and_not_when_quiet(many_pairs, capsys, monkeypatch):
    monkeypatch.setattr(tool, "PROGRESS_DELAY_SECONDS", 0)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    tool.main(["--format", "json"])
    assert "/21" in terminal.getvalue() and "pair" in terminal.getvalue()
    terminal.seek(0)
    terminal.truncate()
    tool.main(["--format", "json", "--quiet"])
    assert terminal.getvalue() == ""  # errors go into the JSON


def test_no_progress_bar_when_stderr_is_not_a_terminal(many_pairs, tmp_path):
    for n in range(20, 200):  # enough pairs that a terminal would see the bar
        for folder in ("labels", "inferences"):
            shutil.copyfile(tmp_path / folder / "frame0.png", tmp_path / folder / f"frame{n}.png")
    result = subprocess.run([sys.executable, str(ROOT / "Semantic_Segmentation_Label_Metrics.py"),
                             "--ignore-index", "255"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr == "error: labels/broken.png: not a readable image (corrupt, or not an image at all)\n"


def test_default_run_on_the_samples_imports_neither_scikit_learn_nor_matplotlib():
    result = subprocess.run([sys.executable, "-X", "importtime", "Semantic_Segmentation_Label_Metrics.py"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines()}
    assert "numpy" in imported and "PIL" in imported
    assert not imported & {"sklearn", "matplotlib", "scipy", "tqdm", "multiprocessing"}


def test_freed_memory_is_kept_for_reuse_on_glibc_and_nothing_fails_elsewhere(monkeypatch):
    import ctypes

    calls = []

    class FakeLibrary:
        def __init__(self, name):
            pass

        def mallopt(self, parameter, value):
            calls.append((parameter, value))
            return 1

    monkeypatch.setattr(ctypes, "CDLL", FakeLibrary)
    monkeypatch.setattr(tool.os, "confstr", lambda name: "glibc 2.36")
    tool.reuse_freed_memory()
    assert calls == [(tool.M_TOP_PAD, tool.MALLOC_TOP_PAD)]
    for confstr in ("musl", None):  # another C library, or a system that does not say
        monkeypatch.setattr(tool.os, "confstr", lambda name, value=confstr: value if value else (_ for _ in ()).throw(
            ValueError("unrecognized configuration name")))
        tool.reuse_freed_memory()
    assert len(calls) == 1

    def no_library(name):
        raise OSError("no such library")
    monkeypatch.setattr(tool.os, "confstr", lambda name: "glibc 2.36")
    monkeypatch.setattr(ctypes, "CDLL", no_library)
    tool.reuse_freed_memory()  # never a failure
    monkeypatch.delattr(tool.os, "confstr")  # not on every system
    tool.reuse_freed_memory()
