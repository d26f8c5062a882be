"""Shared test helpers: import the tool from the repository root, compare it with scikit-learn."""

import html
import json
import math
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, cohen_kappa_score, confusion_matrix,
                             jaccard_score, matthews_corrcoef, multilabel_confusion_matrix,
                             precision_recall_fscore_support)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import Semantic_Segmentation_Label_Metrics as tool  # noqa: E402

ZERO_DIVISIONS = (0.0, 1.0, math.nan)


def json_run(capsys, *args):
    """The JSON document of a run (--format json --quiet) that must exit 0."""
    status = tool.main(["--format", "json", "--quiet", *args])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return json.loads(captured.out)


@pytest.fixture
def repo_root():
    return ROOT


def none_to_nan(values):
    return np.array([math.nan if value is None else value for value in values], dtype=np.float64)


def assert_same_number(ours, theirs):
    """Identical floats, where None (JSON's undefined) stands for scikit-learn's nan."""
    theirs = float(theirs)
    if math.isnan(theirs):
        assert ours is None
    else:
        assert ours == theirs


def assert_report_matches_sklearn(report, label, inference, ignore_index, zero_division):
    """Check every number of a report against scikit-learn on the raw pixels.

    scikit-learn has no ignore index, so pixels labelled ignore_index are removed first.
    """
    y_true, y_pred = label.ravel(), inference.ravel()
    if ignore_index is not None:
        counted = y_true != ignore_index
        y_true, y_pred = y_true[counted], y_pred[counted]

    expected_matrix = confusion_matrix(y_true, y_pred, labels=range(256)) if y_true.size else 0
    np.testing.assert_array_equal(tool.matrix_from_report(report), expected_matrix)
    assert report["pixels"] == y_true.size

    occurring = sorted(set(y_true.tolist()) | set(y_pred.tolist()))
    assert report["confusion_matrix"]["labels"] == occurring
    classes = [c for c in occurring if c != ignore_index]
    assert list(report["classes"]) == [str(c) for c in classes]
    if not classes:
        assert report["accuracy"] is None and report["mean_iou"] is None
        assert report["mean_accuracy"] is report["cohen_kappa"] is report["matthews_corrcoef"] is None
        return

    rows = [report["classes"][str(c)] for c in classes]
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=classes, average=None, zero_division=zero_division)
    np.testing.assert_array_equal(none_to_nan([r["precision"] for r in rows]), precision)
    np.testing.assert_array_equal(none_to_nan([r["recall"] for r in rows]), recall)
    np.testing.assert_array_equal(none_to_nan([r["f1_score"] for r in rows]), f1)
    np.testing.assert_array_equal([r["support"] for r in rows], support)
    # An occurring class always has TP + FP + FN > 0, so IoU is never 0/0; jaccard_score
    # takes no nan for zero_division, and none is needed.
    jaccard_zero_division = 0.0 if math.isnan(zero_division) else zero_division
    iou = jaccard_score(y_true, y_pred, labels=classes, average=None,
                        zero_division=jaccard_zero_division)
    np.testing.assert_array_equal(none_to_nan([r["iou"] for r in rows]), iou)

    for average in ("macro", "weighted"):
        ours = report[f"{average}_avg"]
        p, r, f, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=classes, average=average, zero_division=zero_division)
        for key, theirs in (("precision", p), ("recall", r), ("f1_score", f)):
            assert_same_number(ours[key], theirs)
        assert_same_number(ours["iou"], jaccard_score(
            y_true, y_pred, labels=classes, average=average, zero_division=jaccard_zero_division))
    assert report["mean_iou"] == report["macro_avg"]["iou"]
    assert_same_number(report["accuracy"], accuracy_score(y_true, y_pred))

    # Specificity, one class against the rest: tn / (tn + fp) of multilabel_confusion_matrix; 0/0 (every
    # counted pixel labelled the class) follows zero_division, and it averages like the others.
    one_against_rest = multilabel_confusion_matrix(y_true, y_pred, labels=classes)
    tn, fp = one_against_rest[:, 0, 0], one_against_rest[:, 0, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        specificity = np.where(tn + fp > 0, tn / (tn + fp), zero_division)
    np.testing.assert_array_equal(none_to_nan([r["specificity"] for r in rows]), specificity)
    # scikit-learn has no average of specificity: the definition's (the mean of the defined values, plain and
    # weighted by support), to the last bits of summation order.
    defined = ~np.isnan(specificity)
    if defined.any():
        weights = support[defined] if support[defined].sum() else None
        assert report["macro_avg"]["specificity"] == pytest.approx(np.mean(specificity[defined]), rel=1e-14)
        assert report["weighted_avg"]["specificity"] == pytest.approx(
            np.average(specificity[defined], weights=weights), rel=1e-14)
    else:
        assert report["macro_avg"]["specificity"] is report["weighted_avg"]["specificity"] is None
    # mAcc is balanced accuracy; kappa and MCC as scikit-learn computes them. An undefined kappa or MCC
    # (0/0) follows zero_division; scikit-learn's matthews_corrcoef gives 0 there.
    with warnings.catch_warnings():  # of classes only predicted (left out of mAcc), of 0/0, of one class
        warnings.simplefilter("ignore")
        assert report["mean_accuracy"] == balanced_accuracy_score(y_true, y_pred)
        kappa = cohen_kappa_score(y_true, y_pred)  # nan where 0/0, in every version the requirements allow
        kappa = zero_division if math.isnan(kappa) else kappa  # (replace_undefined_by only from 1.8 on)
        mcc = matthews_corrcoef(y_true, y_pred)
    assert_same_number(report["cohen_kappa"], kappa)
    if len(np.unique(y_true)) == 1 or len(np.unique(y_pred)) == 1:  # undefined: one side holds one class
        assert mcc == 0.0
        assert_same_number(report["matthews_corrcoef"], zero_division)
    else:
        assert report["matthews_corrcoef"] == mcc
    for c, row in zip(classes, rows):
        in_label, in_inference = c in set(y_true.tolist()), c in set(y_pred.tolist())
        assert row["occurs_in"] == ("both" if in_label and in_inference
                                    else "label" if in_label else "inference")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (Debian's chromium package); "
                                                             ".ci/run installs it")
# Added to a copy of a page: loads every (lazy) picture, then writes what it saw into the DOM.
PROBE = """<script>
  window.addEventListener('load', async () => {
    const images = [...document.images];
    images.forEach(image => { image.loading = 'eager'; });
    await Promise.all(images.map(image => image.complete ? null
      : new Promise(done => { image.onload = image.onerror = done; })));
    document.body.dataset.images = images.length;
    document.body.dataset.loaded = images.filter(image => image.naturalWidth > 0).length;
    document.body.dataset.legend = [...document.querySelectorAll('.classes > span')]
      .map(entry => entry.textContent.trim()).join('|');
    document.body.dataset.next = [...document.querySelectorAll('nav a')]
      .filter(link => link.textContent.startsWith('next')).map(link => link.href).join('');
  });
</script></body>"""


def render(page, tmp_path, screenshot=None, height=900):
    """The DOM of a page in headless Chromium after PROBE loaded every picture, and maybe a screenshot."""
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars", f"--window-size=1366,{height}",
             "--virtual-time-budget=15000"]
    probe = page.with_name(f"probe-{page.name}")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE), encoding="utf-8")
    try:
        dom = subprocess.run(flags + ["--dump-dom", probe.as_uri()], capture_output=True, text=True,
                             timeout=120).stdout
        if screenshot:
            subprocess.run(flags + [f"--screenshot={screenshot}", page.as_uri()], capture_output=True, timeout=120)
    finally:
        probe.unlink()
    return dom


def dom_attribute(dom, name):
    """The value PROBE wrote as data-<name> on the page's body."""
    start = dom.index(f'data-{name}="') + len(name) + 7
    return html.unescape(dom[start:dom.index('"', start)])
