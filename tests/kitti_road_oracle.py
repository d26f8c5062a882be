"""Test oracle: the KITTI road benchmark's pixel evaluation (MaxF, AP), re-implemented from its definition.

Written from a reading of the KITTI road devkit (devkit_road/python/helper.py and evaluateRoad.py, as
vendored in e.g. mr-abramenko/traversable-region-detection); no code is taken from it. numpy only.

The definition, in short:
  * ground truth PNG: road = blue channel > 0, evaluated area = red channel > 0; only evaluated pixels count;
  * a score map is an 8-bit grey image, score = value / 255 (float32), thresholds are k / 255 for k = 0..255,
    and a pixel is called road at threshold t when its score is >= t (so grey value v is road iff v >= k);
  * the false-negative / false-positive counts per threshold and the positive / negative totals are summed
    over all images of a category, and only then is the F-measure maximised and the AP computed.
"""

import numpy as np

THRESHOLDS = np.arange(256) / 255.0
"""The devkit's 256 thresholds, k / 255 in float64 (same values as np.array(range(0, 256)) / 255.0)."""

RECALL_POINTS = np.arange(0, 1.1, 0.1)
"""The devkit's 11 recall points, deliberately built like the devkit builds them: three of them are a hair
above their decimal value (0.30000000000000004, 0.6000000000000001, 0.7000000000000001), so a recall of
exactly 0.3 does NOT reach the 0.3 point."""

EPS = 1e-10
"""The devkit adds this to the precision and F-measure denominators."""


def ground_truth(rgb):
    """Mirrors getGroundTruth: (road, valid) boolean maps from a gt_image_2 picture given in R, G, B order.

    The devkit reads the PNG with OpenCV (B, G, R order) and takes plane 0 (blue) > 0 as road and plane 2
    (red) > 0 as the evaluated ("valid") area. In RGB order that is road = B > 0, valid = R > 0; green is
    ignored; nothing is inverted or flipped. KITTI colours: magenta = valid road, red = valid non-road,
    black = not evaluated. A pixel that is blue but not red is road outside the evaluated area, so it is
    not counted at all.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] < 3:
        raise ValueError("ground truth must be an H x W x 3 (or 4) image")
    return rgb[:, :, 2] > 0, rgb[:, :, 0] > 0


def scores_from_grey(grey):
    """Mirrors evaluateRoad.main's reading of a probability PNG: float32(value) / 255, clipped to [0, 1].

    The devkit reads the PNG as 8-bit grey (OpenCV flag 0), so a colour PNG is first converted to grey and a
    16-bit PNG is reduced to 8 bits by OpenCV; this oracle takes the 8-bit grey array. Because float32(v/255)
    is never below the float64 threshold v/255, grey value v counts as road exactly at threshold indices
    k <= v.
    """
    grey = np.asarray(grey)
    if grey.dtype != np.uint8:
        raise ValueError("the devkit scores 8-bit grey pictures; give a uint8 array")
    return np.clip(grey.astype(np.float32) / 255, 0.0, 1.0)


def eval_exp(scores, road, valid=None, thresholds=THRESHOLDS):
    """Mirrors evalExp (with the devkit's call: validMap=None, validArea=the gt's evaluated area).

    Only pixels where `valid` is true count (all pixels when valid is None). For each threshold t:
      fn[i] = road pixels with score <  t     (missed road)
      fp[i] = non-road pixels with score >= t (false road)
    pos / neg = number of counted road / non-road pixels. These are per-threshold counts, not cumulative in
    any other sense; true positives are pos - fn and true negatives neg - fp. fn[0] is 0 for scores >= 0.
    Thresholds must be ascending (the devkit builds histogram bins from them).
    """
    scores = np.asarray(scores)
    road = np.asarray(road, dtype=bool)
    if scores.ndim != 2 or road.shape != scores.shape:
        raise ValueError("scores and road must be 2-D maps of one shape")
    counted = np.ones(road.shape, bool) if valid is None else np.asarray(valid, dtype=bool)
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if np.any(np.diff(thresholds) < 0):
        raise ValueError("thresholds must be ascending")
    # The comparisons are made in float64, as the devkit's histogram does.
    pos_scores = np.sort(scores[road & counted].astype(np.float64))
    neg_scores = np.sort(scores[~road & counted].astype(np.float64))
    fn = np.searchsorted(pos_scores, thresholds, side="left")  # how many are < t
    fp = neg_scores.size - np.searchsorted(neg_scores, thresholds, side="left")  # how many are >= t
    return {"fn": fn.astype(np.int64), "fp": fp.astype(np.int64),
            "pos": int(pos_scores.size), "neg": int(neg_scores.size)}


def pool(per_image):
    """Mirrors evaluateRoad.main's pooling: fn, fp, pos and neg are summed over all images of a category."""
    per_image = list(per_image)
    if not per_image:
        raise ValueError("nothing to pool")
    return {"fn": sum(c["fn"] for c in per_image), "fp": sum(c["fp"] for c in per_image),
            "pos": sum(c["pos"] for c in per_image), "neg": sum(c["neg"] for c in per_image)}


def _ratio(top, bottom, float32):
    """top / bottom as the devkit's calcEvalMeasures would give it (nan for 0/0, inf for x/0)."""
    kind = np.float32 if float32 else np.float64
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(kind(top) / kind(bottom))


def maximize_f(counts, thresholds=THRESHOLDS, beta=1.0, float32=False):
    """Mirrors pxEval_maximizeFMeasure (and calcEvalMeasures for the working point) on pooled counts.

    Per threshold: tp = pos - fn, recall = tp / pos, precision = tp / (tp + fp + 1e-10).
    Thresholds where recall and precision are both 0 (tp == 0) are dropped from the curves.
    AP: for each of the 11 RECALL_POINTS r, the largest precision among kept thresholds with recall >= r;
    AP is the mean of those 11 numbers (the devkit would crash if some r had no such threshold).
    F = (1 + b^2) P R / (b^2 P + R + 1e-10) with b = 1; MaxF is its largest value, the FIRST one on ties
    (np.argmax), i.e. the lowest such threshold.
    Quirk kept: the argmax index is taken on the kept (filtered) curves but used to pick the counts and the
    threshold from the unfiltered arrays. With ascending thresholds the dropped entries are a tail, so the two
    agree; with other inputs the devkit's working point could be misaligned, and so is this oracle's.
    Working-point rates use the integer counts at that index, without the 1e-10 terms:
    precision = tp/(tp+fp), recall = tpr = tp/pos, fpr = fp/neg, fnr = fn/pos, tnr = tn/neg,
    accuracy = (tp+tn)/(pos+neg), q = tp/(tp+fp+fn). The devkit computes these in float32 (exact counts
    above 2**24 get rounded); float32=True does the same, the default gives float64.
    pos == 0 makes the devkit fail (recall 0/0); here it raises ValueError.
    """
    fn = np.asarray(counts["fn"], dtype=np.float64)
    fp = np.asarray(counts["fp"], dtype=np.float64)
    pos, neg = int(counts["pos"]), int(counts["neg"])
    if pos == 0:
        raise ValueError("no road pixel in the evaluated area: the devkit's recall is undefined")
    tp = pos - fn
    tn = neg - fp
    if np.any(tp < 0) or np.any(tn < 0):
        raise ValueError("counts larger than the totals")
    recall = tp / pos
    precision = tp / (tp + fp + EPS)
    kept = ~((recall == 0) & (precision == 0))
    recall_curve, precision_curve = recall[kept], precision[kept]

    best_precisions = []
    for point in RECALL_POINTS:
        reaching = precision_curve[recall_curve >= point]
        if reaching.size == 0:
            raise ValueError(f"no threshold reaches recall {point!r}; the devkit would crash here")
        best_precisions.append(reaching.max())
    ap = float(sum(best_precisions) / len(best_precisions))

    b2 = beta ** 2
    f = (1 + b2) * precision_curve * recall_curve / (b2 * precision_curve + recall_curve + EPS)
    index = int(np.argmax(f))
    n_tp, n_fp, n_fn, n_tn = (int(a[index]) for a in (tp, fp, fn, tn))
    return {
        "max_f": float(f[index]), "index": index, "threshold": float(np.asarray(thresholds)[index]), "ap": ap,
        "precision": _ratio(n_tp, n_tp + n_fp, float32), "recall": _ratio(n_tp, n_tp + n_fn, float32),
        "fpr": _ratio(n_fp, n_fp + n_tn, float32), "fnr": _ratio(n_fn, n_tp + n_fn, float32),
        "tnr": _ratio(n_tn, n_fp + n_tn, float32),
        "accuracy": _ratio(n_tp + n_tn, n_tp + n_fp + n_fn + n_tn, float32),
        "q": _ratio(n_tp, n_tp + n_fp + n_fn, float32),
        "tp": n_tp, "fp": n_fp, "fn": n_fn, "tn": n_tn, "pos": pos, "neg": neg,
        "precision_curve": precision_curve, "recall_curve": recall_curve,
    }


def evaluate(pairs):
    """Whole devkit pipeline for one category: pairs of (gt RGB picture, uint8 grey score picture)."""
    per_image = []
    for gt_rgb, grey in pairs:
        road, valid = ground_truth(gt_rgb)
        per_image.append(eval_exp(scores_from_grey(grey), road, valid))
    return maximize_f(pool(per_image))


def _self_check():
    magenta, red, black, blue = (255, 0, 255), (255, 0, 0), (0, 0, 0), (0, 0, 255)
    # Row 0: valid road with grey 255, 200, 100, 60; row 1: valid non-road with 150, 50, 20, 0;
    # row 2: pixels that must not count (black = not evaluated, blue = road outside the evaluated area).
    gt = np.array([[magenta] * 4, [red] * 4, [black, black, blue, blue]], dtype=np.uint8)
    grey = np.array([[255, 200, 100, 60], [150, 50, 20, 0], [255, 0, 0, 255]], dtype=np.uint8)
    road, valid = ground_truth(gt)
    assert road.sum() == 6 and valid.sum() == 8
    counts = eval_exp(scores_from_grey(grey), road, valid)
    assert (counts["pos"], counts["neg"]) == (4, 4)
    assert counts["fn"][0] == 0 and counts["fp"][0] == 4        # threshold 0: everything is road
    assert counts["fn"][60] == 0 and counts["fn"][61] == 1      # grey 60 is road at k = 60, not at 61
    assert counts["fp"][150] == 1 and counts["fp"][151] == 0    # >= side for negatives too
    assert counts["fn"][255] == 3 and counts["fp"][255] == 0    # grey 255 stays road at the last threshold
    result = evaluate([(gt, grey)])
    # Best F: k = 51..60 give tp 4, fp 1, fn 0 -> P 0.8, R 1, F 8/9; the first of them wins.
    assert abs(result["max_f"] - 8 / 9) < 1e-9 and result["index"] == 51
    assert result["threshold"] == 51 / 255.0
    assert (result["tp"], result["fp"], result["fn"], result["tn"]) == (4, 1, 0, 3)
    assert (result["precision"], result["recall"], result["fpr"], result["fnr"]) == (0.8, 1.0, 0.25, 0.0)
    # AP: recall points 0..0.5 reach precision 1 (k >= 151: R 0.5), points 0.6..1.0 reach 0.8 -> 10/11.
    assert abs(result["ap"] - 10 / 11) < 1e-9

    # The 0.3 recall point is 0.30000000000000004: a recall of exactly 3/10 does not reach it.
    road = np.zeros((2, 10), bool)
    road[0] = True
    grey = np.array([[255] * 3 + [100] * 7, [100] * 10], dtype=np.uint8)
    result = maximize_f(eval_exp(scores_from_grey(grey), road))
    assert abs(result["ap"] - (3 * 1.0 + 8 * 0.5) / 11) < 1e-9, result["ap"]
    # Dropped tail: with no road pixel above 254 the last threshold (tp 0) is left off the curves.
    result = maximize_f(eval_exp(scores_from_grey(np.array([[254, 0]], np.uint8)), np.array([[True, False]])))
    assert result["recall_curve"].size == 255 and result["max_f"] > 0.999
    print("kitti_road_oracle self-check passed")


if __name__ == "__main__":
    _self_check()
