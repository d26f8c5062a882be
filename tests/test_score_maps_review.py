"""Score maps (--scores) on the layouts users have: defects found by trying them, each pinned here."""

import json

import numpy as np

from conftest import tool
from test_score_maps import json_run, write_maps


def test_resampled_score_grids_of_float_maps_are_summed_in_batches_of_bounded_size(monkeypatch):
    """A float map holds a score per pixel: 20 DRIVE maps' grid is millions of levels wide, and 100
    resamples of it at once took tens of GB (the run was killed, not refused). A batch of resampled
    sums stays within RESAMPLED_BYTES_PER_BATCH, whatever the width."""
    monkeypatch.setattr(tool, "RESAMPLED_BYTES_PER_BATCH", 1 << 20, raising=False)
    rng = np.random.default_rng(0)
    stats = rng.integers(0, 100, (3, 3, 2))
    grid = rng.integers(0, 3, (3, 2, 20_000))
    rows = 0
    for batch in tool.resampled_batches([(stats, grid)], 250, 0):
        sums = batch[0]
        assert sum(part.nbytes for part in sums) <= 1 << 20
        rows += len(sums[0])
    assert rows == 250


def test_bootstrap_intervals_do_not_depend_on_how_resamples_are_batched(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_maps(tmp_path, 11, images=6, kind="npy")
    args = ("--inferences", "scores", "--scores", "--ignore-index", "255", "--bootstrap", "150")
    whole = json_run(capsys, *args)
    monkeypatch.setattr(tool, "RESAMPLED_BYTES_PER_BATCH", 64 << 10, raising=False)
    assert json.dumps(json_run(capsys, *args)) == json.dumps(whole)
