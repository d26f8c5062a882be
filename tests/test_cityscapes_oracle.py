"""The Cityscapes oracle (cityscapes_oracle, which runs cityscapesScripts' evaluator) checked against plain
numpy on the trainId files of the trees it writes: IoU per class and its mean, and also iIoU and the category
scores as the oracle's docstring defines them (weighted instance TP / FN, unweighted FP, crowd regions
outside iIoU), all to the last bit."""

import math

import numpy as np
import pytest
from PIL import Image

import cityscapes_oracle as oracle
from cityscapesscripts.helpers.labels import id2label, name2label

N = 19
NO_CLASS = N  # the matrix's column for predicted 255
CATEGORY_TRAIN_IDS = {category: [t for t, name in enumerate(oracle.TRAIN_CLASSES)
                                 if name2label[name].category == category] for category in oracle.CATEGORIES}


def read(path):
    return np.array(Image.open(path))


def ratio(tp, denominator):
    return tp / denominator if denominator else math.nan


def mean(scores):
    """getScoreAverage: the plain mean of the non-NaN values, added in the same order."""
    valid = [score for score in scores if not math.isnan(score)]
    return sum(valid) / len(valid) if valid else math.nan


def numpy_scores(tree):
    """The four benchmark numbers from the trainId masks and the instance files, with numpy alone."""
    matrix = np.zeros((N, N + 1), np.int64)  # rows: ground truth 0..18 (255 left out); columns: + no class
    tp_weighted = {name: 0.0 for name in oracle.INSTANCE_CLASSES}
    fn_weighted = dict(tp_weighted)
    category_tp_weighted = {"human": 0.0, "vehicle": 0.0}
    category_fn_weighted = dict(category_tp_weighted)
    for image in sorted(tree.images, key=lambda image: str(image.label_ids)):  # the evaluator's order
        truth, prediction = read(image.label_train_ids), read(image.prediction_train_ids)
        instances = read(image.instance_ids)
        counted = truth != 255
        columns = np.where(prediction == 255, NO_CLASS, prediction)[counted].astype(np.int64)
        matrix += np.bincount(truth[counted].astype(np.int64) * (N + 1) + columns,
                              minlength=N * (N + 1)).reshape(N, N + 1)
        for instance in np.unique(instances[instances > 1000]):
            name = id2label[int(instance) // 1000].name
            if name not in tp_weighted:  # caravan, trailer: instances of ignored classes
                continue
            mask = instances == instance
            size = int(mask.sum())
            weight = oracle.AVG_CLASS_SIZE[name] / float(size)
            tp = int(np.count_nonzero(prediction[mask] == oracle.TRAIN[name]))
            tp_weighted[name] += float(tp) * weight
            fn_weighted[name] += float(size - tp) * weight
            category = name2label[name].category
            tp = int(np.count_nonzero(np.isin(prediction[mask], CATEGORY_TRAIN_IDS[category])))
            category_tp_weighted[category] += float(tp) * weight
            category_fn_weighted[category] += float(size - tp) * weight

    class_iou, class_iiou = {}, {}
    for c, name in enumerate(oracle.TRAIN_CLASSES):
        tp = int(matrix[c, c])
        fn = int(matrix[c].sum()) - tp
        fp = int(matrix[:, c].sum()) - tp
        class_iou[name] = ratio(tp, tp + fp + fn)
        class_iiou[name] = (ratio(tp_weighted[name], tp_weighted[name] + fp + fn_weighted[name])
                            if name in tp_weighted else math.nan)
    category_iou, category_iiou = {}, {}
    for category, ids in CATEGORY_TRAIN_IDS.items():
        others = [c for c in range(N) if c not in ids]
        tp = int(matrix[np.ix_(ids, ids)].sum())
        fn = int(matrix[ids].sum()) - tp
        fp = int(matrix[np.ix_(others, ids)].sum())
        category_iou[category] = ratio(tp, tp + fp + fn)
        if category in category_tp_weighted:
            tp_w, fn_w = category_tp_weighted[category], category_fn_weighted[category]
            category_iiou[category] = ratio(tp_w, tp_w + fp + fn_w)
        else:
            category_iiou[category] = math.nan
    return {"class_iou": class_iou, "class_iiou": class_iiou, "iou_class": mean(class_iou.values()),
            "iiou_class": mean(class_iiou.values()), "category_iou": category_iou,
            "category_iiou": category_iiou, "iou_category": mean(category_iou.values()),
            "iiou_category": mean(category_iiou.values())}


def same(ours, theirs):
    """The same float, or both NaN."""
    return math.isnan(ours) if math.isnan(theirs) else ours == theirs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_evaluators_numbers_are_numpys_on_the_train_id_masks(tmp_path, seed):
    tree = oracle.write_cityscapes_tree(tmp_path, np.random.default_rng(seed))
    scores = oracle.evaluate(tmp_path)
    for key in ("iou_class", "iiou_class", "iou_category", "iiou_category"):
        assert math.isfinite(scores[key]) and 0 < scores[key] < 1, key
    expected = numpy_scores(tree)
    # identical floats, class by class, category by category and the means: the iIoU's weighted sums only
    # because numpy_scores adds the instances in the evaluator's order (images by path, ids ascending)
    for per, mean_key in (("class_iou", "iou_class"), ("class_iiou", "iiou_class"),
                          ("category_iou", "iou_category"), ("category_iiou", "iiou_category")):
        for name, value in expected[per].items():
            assert same(scores[per][name], value), (per, name)
        assert same(scores[mean_key], expected[mean_key]), mean_key
    # the cases the tree is built to hold
    assert math.isnan(scores["class_iou"]["bus"]) and math.isnan(scores["class_iiou"]["bus"])  # nowhere
    assert scores["class_iou"]["train"] == 0 and scores["class_iiou"]["train"] == 0  # predicted, absent
    assert scores["class_iou"]["motorcycle"] > 0 and scores["class_iiou"]["motorcycle"] == 0  # crowd only
    assert [name for name, value in scores["category_iiou"].items() if not math.isnan(value)] == [
        "human", "vehicle"]


def test_the_tree_is_shaped_as_cityscapes(tmp_path):
    tree = oracle.write_cityscapes_tree(tmp_path, np.random.default_rng(3), images=2)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.png")) == sorted(
        f"{folder}/{city}/{city}_000000_00000{k}_{suffix}.png"
        for k, city in enumerate(["frankfurt", "lindau"])
        for folder, suffix in (("gtFine/val", "gtFine_labelIds"), ("gtFine/val", "gtFine_instanceIds"),
                               ("gtFine/val", "gtFine_labelTrainIds"), ("results", "leftImg8bit"),
                               ("results_trainIds", "leftImg8bit")))
    crowd = tiny = 0
    for image in tree.images:
        label_ids, instance_ids = read(image.label_ids), read(image.instance_ids)
        assert Image.open(image.instance_ids).mode == "I;16" and Image.open(image.label_ids).mode == "L"
        is_instance = instance_ids > 1000
        assert (instance_ids[is_instance] // 1000 == label_ids[is_instance]).all()
        assert (instance_ids[~is_instance] == label_ids[~is_instance]).all()
        assert (read(image.label_train_ids) == oracle.LABEL_TO_TRAIN[label_ids]).all()
        assert (read(image.prediction) == oracle.TRAIN_TO_LABEL[read(image.prediction_train_ids)]).all()
        assert set(np.unique(label_ids)) >= {0, 1, 2, 3, 7, 8, 9, 10, 23, 24, 26}
        crowd += np.count_nonzero(~is_instance & np.isin(label_ids, [24, 26, 32]))
        _, sizes = np.unique(instance_ids[is_instance], return_counts=True)
        tiny += np.count_nonzero(sizes <= 4)
        assert 24000 in instance_ids and 26000 in instance_ids  # instance numbers start at 0
    assert crowd > 0 and tiny > 0


def test_the_evaluators_errors_are_raised_not_exits(tmp_path):
    tree = oracle.write_cityscapes_tree(tmp_path, np.random.default_rng(4), images=1)
    tree.images[0].prediction.unlink()
    with pytest.raises(RuntimeError, match="Found no prediction"):
        oracle.evaluate(tmp_path)
