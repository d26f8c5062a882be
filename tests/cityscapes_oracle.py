"""Test oracle: Cityscapes' benchmark numbers (IoU class, iIoU class, IoU category, iIoU category) as
cityscapesScripts' own evaluator prints them, on small Cityscapes-shaped trees that this module writes.

Nothing of the metric is re-implemented here: evaluate() calls the installed package's functions
(cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling, "ev" below: getPrediction and
evaluateImgLists) with an argument object of its own, so no environment variable is read and no file is
written. Line numbers below are those of ev in cityscapesscripts 2.3.0.

What the evaluator does, in short:
  * It reads the prediction, gtFine_labelIds.png and (name with labelIds -> instanceIds)
    gtFine_instanceIds.png with PIL + np.array (ev 552-569). Predictions and labels are Cityscapes
    labelIds (0..33), not trainIds. The wheel on PyPI is pure Python, so the confusion matrix (34 x 34,
    rows = ground truth) is filled by the numpy path (ev 587-599): a ground-truth id outside 0..33 stops the
    run ("Unknown label"), a predicted id above 33 raises IndexError.
  * Ground-truth pixels of a label with ignoreInEval (void, parking, rail track, guard rail, bridge, tunnel,
    polegroup, caravan, trailer: every trainId-255 label) count nowhere: not as FN, not as FP.
    A prediction of an ignored label on a counted pixel is a miss of the true class and a hit of nothing.
  * IoU of a class (getIouScoreForLabel, ev 228-254) = TP / (TP + FP + FN) over the non-ignored ground
    truth; NaN when the denominator is 0, and NaN entries are left out of the means (getScoreAverage).
  * IoU of a category (getIouScoreForCategory, ev 297-328): the same with the category's non-ignored
    labels merged; 'void' is always NaN, so the mean is over flat, construction, object, nature, sky,
    human and vehicle.
  * iIoU (evaluatePair ev 602-642, getInstanceIouScoreForLabel ev 257-277): each instance of the instance
    file (ids > 1000, i.e. labelId * 1000 + k, k from 0) adds TP and FN pixels weighted by
    avgClassSize[class] / instance size; FP is the plain, unweighted pixel count of the IoU.
    Crowd ("group") regions carry the plain labelId in the instance file, are no instance and add no TP or
    FN to iIoU (they still count in the IoU, and as FP for a class predicted on them).
    Only person, rider, car, truck, bus, train, motorcycle and bicycle have an iIoU; a class without any
    instance in the set gets 0 if it was predicted on some counted pixel, else NaN.
  * iIoU of a category (getInstanceIouScoreForCategory, ev 331-350): only human and vehicle; an instance's
    TP is its pixels predicted as any label of its category.

NumPy 2.4 removed np.in1d, which ev calls (lines 606 and 646): evaluate() hands ev a numpy with in1d put
back (as np.isin on the flattened array, what in1d was) for the duration of the call.
"""

import contextlib
import io
import os
import tempfile
import types
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

import cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling as ev
from cityscapesscripts.helpers.labels import category2labels, labels, trainId2label

TRAIN_CLASSES = tuple(trainId2label[train_id].name for train_id in range(19))
"""The 19 benchmark classes, in trainId order (road, sidewalk, ..., bicycle)."""

CATEGORIES = tuple(category for category in category2labels
                   if not all(label.ignoreInEval for label in category2labels[category]))
"""The 7 categories that have a score: flat, construction, object, nature, sky, human, vehicle ('void' has
none)."""

INSTANCE_CLASSES = tuple(label.name for label in labels if label.hasInstances and not label.ignoreInEval)
"""The 8 classes with an iIoU (labels.py hasInstances, not ignoreInEval)."""

AVG_CLASS_SIZE = dict(ev.args.avgClassSize)
"""The evaluator's avgClassSize table (ev 147-158): the iIoU weight of an instance is this / its size."""

LABEL_TO_TRAIN = np.full(256, 255, np.uint8)
"""labelId -> trainId, as preparation/createTrainIdLabelImgs maps them (ignored labels -> 255)."""
for _label in labels:
    if _label.id >= 0:
        LABEL_TO_TRAIN[_label.id] = _label.trainId

TRAIN_TO_LABEL = np.zeros(256, np.uint8)
"""trainId -> labelId, labels.py's trainId2label (the first label of each trainId); 255 -> 0 'unlabeled'."""
for _train_id in range(19):
    TRAIN_TO_LABEL[_train_id] = trainId2label[_train_id].id

ID = {label.name: label.id for label in labels}
TRAIN = {name: train_id for train_id, name in enumerate(TRAIN_CLASSES)}


@dataclass
class TreeImage:
    """The files written for one image; `stem` is <city>_000000_<frame>."""
    city: str
    stem: str
    label_ids: Path        # gtFine/val/<city>/<stem>_gtFine_labelIds.png (8-bit labelIds)
    instance_ids: Path     # gtFine/val/<city>/<stem>_gtFine_instanceIds.png (16-bit)
    label_train_ids: Path  # gtFine/val/<city>/<stem>_gtFine_labelTrainIds.png (8-bit trainIds, 255 void)
    prediction: Path       # results/<city>/<stem>_leftImg8bit.png (labelIds, what the evaluator reads)
    prediction_train_ids: Path  # results_trainIds/<city>/<stem>_leftImg8bit.png (the same in trainIds)


@dataclass
class CityscapesTree:
    """What write_cityscapes_tree wrote under `root`."""
    root: Path
    labels: Path              # root/gtFine/val
    predictions: Path         # root/results (labelIds)
    predictions_train_ids: Path  # root/results_trainIds (trainIds)
    images: list = field(default_factory=list)  # of TreeImage


def _box(shape, y0, y1, x0, x1):
    """A rectangle given in fractions of the image's height and width, as a pair of slices."""
    h, w = shape
    return (slice(int(round(y0 * h)), max(int(round(y1 * h)), int(round(y0 * h)) + 1)),
            slice(int(round(x0 * w)), max(int(round(x1 * w)), int(round(x0 * w)) + 1)))


def draw_ground_truth(rng, shape):
    """One image's ground truth as json2labelImg and json2instanceImg would draw it: (labelIds, instanceIds).

    labelIds is uint8; instanceIds is uint16 and equals labelIds except on instances, where it is
    labelId * 1000 + k (k counting from 0 per class and image, as json2instanceImg numbers them).
    The picture has sky, a band of stuff classes, road and sidewalk; void and other ignored labels (ego
    vehicle, out of roi, rectification border, ground, dynamic, static, parking, rail track, guard rail,
    bridge, tunnel, polegroup); instances of person, rider, car, truck and bicycle, partly occluding one
    another; a caravan and a trailer instance (classes with instances but ignored); crowd regions
    (persongroup, cargroup, motorcyclegroup: the plain labelId in the instance file, so motorcycle has pixels
    but never an instance); and tiny instances of 1 and 4 pixels. bus and train are never in the ground truth.
    """
    h, w = shape
    label = np.zeros(shape, np.uint8)  # 0: unlabeled
    label[_box(shape, 0, 0.25, 0, 1)] = ID["sky"]
    # a band of stuff in random strips, ignored labels among them
    stuff = ["building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation", "terrain",
             "guard rail", "bridge", "tunnel", "polegroup", "static"]
    edges = np.sort(rng.choice(np.arange(1, w), size=9, replace=False))
    for x0, x1 in zip(np.r_[0, edges], np.r_[edges, w]):
        label[int(0.25 * h):int(0.5 * h), x0:x1] = ID[stuff[rng.integers(len(stuff))]]
    label[_box(shape, 0.5, 1, 0, 1)] = ID["road"]
    label[_box(shape, 0.5, 1, 0, 0.2)] = ID["sidewalk"]
    label[_box(shape, 0.55, 0.65, 0.75, 0.9)] = ID["parking"]
    label[_box(shape, 0.9, 1, 0.4, 0.55)] = ID["rail track"]
    label[_box(shape, 0.5, 0.6, 0.3, 0.4)] = ID[rng.choice(["ground", "dynamic"])]
    label[_box(shape, 0.92, 1, 0.6, 1)] = ID["ego vehicle"]
    label[_box(shape, 0.25, 0.3, 0.9, 1)] = ID["unlabeled"]
    label[:, :2] = ID["out of roi"]
    label[:, -1:] = ID["rectification border"]
    instances = label.astype(np.uint16)

    count = {}

    def paint(name, y0, y1, x0, x1, group=False):
        """Draws one object; its instance number is the next k of its class, as in json2instanceImg."""
        where = _box(shape, y0, y1, x0, x1)
        label[where] = ID[name]
        if group:
            instances[where] = ID[name]
        else:
            k = count.get(name, 0)
            count[name] = k + 1
            instances[where] = ID[name] * 1000 + k

    def somewhere(height, width, top=0.45, bottom=0.92):
        y0 = rng.uniform(top, bottom - height)
        x0 = rng.uniform(0.02, 0.98 - width)
        return y0, y0 + height, x0, x0 + width

    paint("car", *somewhere(0.2, 0.25), group=True)  # cargroup behind the cars
    paint("person", *somewhere(0.25, 0.1), group=True)  # persongroup
    paint("motorcycle", *somewhere(0.1, 0.1), group=True)  # motorcyclegroup only
    paint("caravan", *somewhere(0.2, 0.15))
    paint("trailer", *somewhere(0.1, 0.1))
    for _ in range(rng.integers(2, 4)):
        paint("car", *somewhere(0.15, 0.2))
    paint("truck", *somewhere(0.2, 0.2))
    for _ in range(rng.integers(2, 5)):
        paint("person", *somewhere(0.25, 0.05))
    paint("rider", *somewhere(0.2, 0.05))
    paint("bicycle", *somewhere(0.1, 0.08))
    # tiny instances, drawn last so nothing hides them: one pixel of person, 2 x 2 of bicycle
    y, x = rng.integers(int(0.5 * h), h - 3), rng.integers(3, w - 3)
    label[y, x], instances[y, x] = ID["person"], ID["person"] * 1000 + count.get("person", 0)
    y, x = rng.integers(int(0.5 * h), h - 3), rng.integers(3, w - 3)
    label[y:y + 2, x:x + 2] = ID["bicycle"]
    instances[y:y + 2, x:x + 2] = ID["bicycle"] * 1000 + count.get("bicycle", 0)
    return label, instances


def draw_prediction(rng, label_ids, instance_ids):
    """A plausible, imperfect prediction in trainIds (0..18, and 255 for 'no class') for one ground truth.

    Objects shifted sideways, 4% salt noise, random wrong rectangles, 'no class' (255) on some counted
    pixels, anything at all on ignored pixels, a train where there is none, one whole car missed, and never a
    bus (so bus has neither IoU nor iIoU: both NaN).
    """
    shape = label_ids.shape
    ids = [t for t in range(19) if t != TRAIN["bus"]]
    gt = LABEL_TO_TRAIN[label_ids]
    prediction = gt.copy()
    void = gt == 255
    prediction[void] = rng.choice(ids + [255], size=int(void.sum()))
    shifted = np.roll(gt, int(rng.integers(1, 3)) * int(rng.choice([-1, 1])), axis=1)
    things = (shifted >= TRAIN["person"]) & (shifted != 255)
    prediction[things] = shifted[things]
    noise = rng.random(shape) < 0.04
    prediction[noise] = rng.choice(ids, size=int(noise.sum()))
    for _ in range(3):
        y0, x0 = rng.uniform(0, 0.8), rng.uniform(0, 0.8)
        prediction[_box(shape, y0, y0 + 0.15, x0, x0 + 0.15)] = rng.choice(ids)
    prediction[_box(shape, 0.6, 0.7, 0.45, 0.6)] = TRAIN["train"]
    prediction[_box(shape, 0.3, 0.35, 0.5, 0.7)] = 255
    prediction[instance_ids == ID["car"] * 1000] = TRAIN["road"]  # car k=0 missed (if still visible)
    prediction[prediction == TRAIN["bus"]] = TRAIN["car"]
    return prediction


def write_cityscapes_tree(root, rng, images=3, shape=(64, 128), cities=("frankfurt", "lindau", "munster")):
    """Writes a small Cityscapes validation tree under root and returns a CityscapesTree.

        gtFine/val/<city>/<city>_000000_0000NN_gtFine_labelIds.png       labelIds, 8-bit
        gtFine/val/<city>/<city>_000000_0000NN_gtFine_instanceIds.png    16-bit, labelId * 1000 + k
        gtFine/val/<city>/<city>_000000_0000NN_gtFine_labelTrainIds.png  trainIds, 255 = ignored
        results/<city>/<city>_000000_0000NN_leftImg8bit.png              prediction, labelIds
        results_trainIds/<city>/<city>_000000_0000NN_leftImg8bit.png     the same prediction, trainIds

    Image NN goes to city NN % len(cities). The prediction is drawn in trainIds and written in labelIds
    through TRAIN_TO_LABEL (255 -> 0 'unlabeled'), so both copies score alike; it never holds caravan or
    trailer, which have no trainId. rng is a numpy Generator; the same seed writes the same tree.
    """
    root = Path(root)
    tree = CityscapesTree(root, root / "gtFine" / "val", root / "results", root / "results_trainIds")
    for index in range(images):
        city = cities[index % len(cities)]
        stem = f"{city}_000000_{index:06d}"
        label_ids, instance_ids = draw_ground_truth(rng, shape)
        prediction = draw_prediction(rng, label_ids, instance_ids)
        image = TreeImage(city, stem,
                          tree.labels / city / f"{stem}_gtFine_labelIds.png",
                          tree.labels / city / f"{stem}_gtFine_instanceIds.png",
                          tree.labels / city / f"{stem}_gtFine_labelTrainIds.png",
                          tree.predictions / city / f"{stem}_leftImg8bit.png",
                          tree.predictions_train_ids / city / f"{stem}_leftImg8bit.png")
        for path in (image.label_ids, image.prediction, image.prediction_train_ids):
            path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(label_ids).save(image.label_ids)
        Image.fromarray(instance_ids).save(image.instance_ids)  # uint16 -> 16-bit grey PNG
        Image.fromarray(LABEL_TO_TRAIN[label_ids]).save(image.label_train_ids)
        Image.fromarray(TRAIN_TO_LABEL[prediction]).save(image.prediction)
        Image.fromarray(prediction).save(image.prediction_train_ids)
        tree.images.append(image)
    return tree


class _NumpyWithIn1d(types.ModuleType):
    """numpy as ev sees it during evaluate(): everything of numpy, and in1d as it was before NumPy 2.4."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def in1d(ar1, ar2, assume_unique=False, invert=False):
        return np.isin(np.ravel(ar1), ar2, assume_unique=assume_unique, invert=invert)


@contextlib.contextmanager
def _numpy_for_the_evaluator():
    """Gives ev a numpy with in1d while it runs (only where numpy lacks it), and its own numpy back after."""
    if hasattr(np, "in1d"):
        yield
        return
    ev.np = _NumpyWithIn1d("numpy")
    try:
        yield
    finally:
        ev.np = np


def evaluator_args(prediction_root, export_file):
    """A fresh argument object with the values ev sets at import (ev 113-163), but quiet and not writing.

    Fresh because getPrediction caches the walk of the prediction folder in args.predictionWalk (ev 85-89)
    and generateMatrix fills args.evalLabels. evalInstLevelScore must be True for iIoU (ev 563, 602);
    evalPixelAccuracy stays False (ev 644-650 would only add per-image counts). predictionPath set here is
    what spares getPrediction the CITYSCAPES_RESULTS / CITYSCAPES_DATASET look-up (ev 70-82).
    """
    args = ev.CArgs()
    args.cityscapesPath = None
    args.exportFile = str(export_file)  # written only when JSONOutput is True
    args.groundTruthSearch = None
    args.evalInstLevelScore = True
    args.evalPixelAccuracy = False
    args.evalLabels = []
    args.printRow = 5
    args.normalized = True
    args.colorized = False
    args.bold = ""
    args.nocol = ""
    args.JSONOutput = False
    args.quiet = True
    args.avgClassSize = dict(AVG_CLASS_SIZE)
    args.predictionPath = str(prediction_root)
    args.predictionWalk = None
    return args


def evaluate(root, predictions="results"):
    """Runs cityscapesScripts' evaluator on a tree and returns its numbers as a plain dict.

    Mirrors ev.main() without arguments (ev 670-680): the ground truth is every
    root/gtFine/val/*/*_gtFine_labelIds.png (sorted here; main takes glob's order, which changes only the
    order of float additions), each one's prediction is found by ev.getPrediction under root/<predictions>
    (<city>_<seq>_<frame>*.png, exactly one), then ev.evaluateImgLists scores them. Nothing is printed
    (args.quiet; anything ev prints on an error is captured and raised as RuntimeError instead of
    ev.printError's sys.exit) and nothing is written (JSONOutput False; its file would go to a temporary
    folder).

    Returns: iou_class, iiou_class, iou_category, iiou_category (ev's averageScoreClasses,
    averageScoreInstClasses, averageScoreCategories, averageScoreInstCategories); class_iou and class_iiou
    ({name: value} for the 19 TRAIN_CLASSES, NaN where ev gives NaN: class_iiou is NaN for every class
    without instances); category_iou and category_iiou ({name: value} for the 7 CATEGORIES);
    confusion_matrix (34 x 34 list of lists over labelIds, rows = ground truth); and result, ev's whole dict.
    """
    root = Path(root)
    ground_truth = sorted(str(path) for path in (root / "gtFine" / "val").glob("*/*_gtFine_labelIds.png"))
    if not ground_truth:
        raise FileNotFoundError(f"no */*_gtFine_labelIds.png under {root / 'gtFine' / 'val'}")
    printed = io.StringIO()
    with tempfile.TemporaryDirectory() as scratch, _numpy_for_the_evaluator(), \
            contextlib.redirect_stdout(printed):
        export_file = os.path.join(scratch, "resultPixelLevelSemanticLabeling.json")
        args = evaluator_args(root / predictions, export_file)
        try:
            prediction = [ev.getPrediction(args, path) for path in ground_truth]
            result = ev.evaluateImgLists(prediction, ground_truth, args)
        except SystemExit:
            raise RuntimeError("cityscapesScripts stopped: " + printed.getvalue().strip()) from None
    return {
        "iou_class": float(result["averageScoreClasses"]),
        "iiou_class": float(result["averageScoreInstClasses"]),
        "iou_category": float(result["averageScoreCategories"]),
        "iiou_category": float(result["averageScoreInstCategories"]),
        "class_iou": {name: float(result["classScores"][name]) for name in TRAIN_CLASSES},
        "class_iiou": {name: float(result["classInstScores"][name]) for name in TRAIN_CLASSES},
        "category_iou": {name: float(result["categoryScores"][name]) for name in CATEGORIES},
        "category_iiou": {name: float(result["categoryInstScores"][name]) for name in CATEGORIES},
        "confusion_matrix": result["confMatrix"],
        "result": result,
    }


if __name__ == "__main__":  # a look at the numbers: python tests/cityscapes_oracle.py
    import json
    import time

    with tempfile.TemporaryDirectory() as folder:
        write_cityscapes_tree(folder, np.random.default_rng(0))
        start = time.perf_counter()
        scores = evaluate(folder)
        seconds = time.perf_counter() - start
    scores.pop("result")
    scores.pop("confusion_matrix")
    print(json.dumps(scores, indent=1))
    print(f"evaluate: {seconds:.3f} s")
