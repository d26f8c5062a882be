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

BIG = 2**61  # counts near the 2^62 pixels that --merge accepts


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
    """Item 2: 'none' given is not 'not given': on reports made with an ignore index it is refused."""
    save_report(capsys, pairs / "with.json", "--ignore-index", "3")
    save_report(capsys, pairs / "without.json")
    status = tool.main(["--merge", "with.json", "--ignore-index", "none", "--quiet"])
    one_line_error(capsys, status, "--ignore-index none differs from the reports' 3",
                   "ignored pixels cannot be counted again without the masks")
    assert json_run(capsys, "--merge", "with.json", "--ignore-index", "3")[0] == 0
    status, document, _ = json_run(capsys, "--merge", "without.json", "--ignore-index", "none")
    assert status == 0 and document["ignore_index"] is None
    status = tool.main(["--merge", "without.json", "--ignore-index", "3", "--quiet"])
    one_line_error(capsys, status, "--ignore-index 3 differs from the reports' none")


def test_compare_checks_ignore_index_against_the_reports(pairs, capsys):
    """Item 2: --compare took no notice of --ignore-index; now it must agree with the reports'."""
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
