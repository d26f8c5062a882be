"""Confusion matrices and classification reports for semantic-segmentation masks.

Reads every ground-truth mask in labels/ with the model output of the same file
name in inferences/ (each pixel value 0..255 is a class id) and prints, for each
image and for all images combined, the headline numbers (aAcc, mIoU, mAcc, mDice,
fwIoU, Cohen's kappa, MCC), the confusion matrix and a classification report
(precision, recall = sensitivity, F1 = Dice, IoU = Jaccard, specificity, support,
macro and weighted averages), and what mmsegmentation, Hugging Face evaluate,
torchmetrics, detectron2 and cityscapesScripts would print on the same masks.
With --distances, each class's boundary distances too (HD, HD95, ASSD, MASD, NSD,
boundary F1), and per case (over the images) as medical imaging reports them. With
--coco-annotations or --coco-panoptic, the labels come from COCO's own files.

    python Semantic_Segmentation_Label_Metrics.py
    python Semantic_Segmentation_Label_Metrics.py --ignore-index 255
    python Semantic_Segmentation_Label_Metrics.py --labels gt --inferences pred --format json
    python Semantic_Segmentation_Label_Metrics.py --ignore-index 255 --output-dir report
    python Semantic_Segmentation_Label_Metrics.py --brief --num-classes 19
    python Semantic_Segmentation_Label_Metrics.py --distances --spacing 0.8 0.8 --per-case
    python Semantic_Segmentation_Label_Metrics.py --coco-annotations instances_val2017.json

From Python, on arrays in memory (the same options by name, the same reports):

    import Semantic_Segmentation_Label_Metrics as sslm
    evaluator = sslm.Evaluator(ignore_index=255, class_names="cityscapes")
    evaluator.add(label, prediction)  # (H, W) or (N, H, W) class ids; CPU tensors too
    report = evaluator.report()  # the dict --format json prints

Conventions: matrix[i][j] = pixels labelled i and predicted j (rows = label,
columns = inference, as in scikit-learn). The numbers are identical to
sklearn.metrics.confusion_matrix, precision_recall_fscore_support, jaccard_score,
balanced_accuracy_score (mAcc), cohen_kappa_score and matthews_corrcoef on the raw
pixel arrays (with pixels labelled --ignore-index removed).
"""
# Contents, in file order; each section uses only the ones above it:
#   constants    label space, formats, dataset presets (names, voids, colours), and Settings
#   reading      mask files to class ids, class names, id maps, palettes, COCO's annotation files
#                and panoptic PNGs (labels drawn from them), pairing, JSON reports
#   counting     a pair's tally (Counts: the confusion matrix over the ids that occur, boundary
#                counts, a score map's histogram, weighted instances, each class's boundary
#                distances: DISTANCES), tallies summed (CountsSum) and read back from JSON
#   measures     every number, one entry each: CLASS_METRICS and MEASURES, functions of a Batch
#   reports      a tally's report (a dict), other tools' conventions, summary rows, notes, id checks
#   bootstrap    each class's numbers over the images (per case), intervals over resampled
#                images, and models compared on paired resamples
#   tables       each table described once: its columns (title, key, kind, formats)
#   files        the report folder's names and paths, files written whole, the folder's lock
#   renderers    text, CSV, HTML and pictures, drawn from those descriptions
#   sinks        console text, JSON document, report folder: begin / add / finish; the folder draws
#   pipeline     scoring pairs (in worker processes), merging reports, handing results to the sinks
#   CLI          the options, Settings made from them, main()
#   API          Evaluator: the options by name, arrays added in memory, the same reports, merged

import argparse
import contextlib
import csv
import dataclasses
import functools
import html
import importlib.util
import io
import itertools
import json
import math
import os
import re
import shutil
import signal
import stat
import struct
import sys
import urllib.parse
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import NamedTuple

try:
    import fcntl
except ImportError:  # not on Windows: there, two runs writing one report folder are not kept apart
    fcntl = None
try:
    import numpy as np
    from PIL import Image, PngImagePlugin, UnidentifiedImageError
except ImportError as missing:  # run before installing the requirements: say so in one line
    if __name__ != "__main__":
        raise
    print(f"error: the Python package {'Pillow' if missing.name == 'PIL' else missing.name} is not "
          "installed; install what the tool needs with: pip install -r requirements.txt",
          file=sys.stderr)
    raise SystemExit(2)

# ---------------------------------------------------------------- constants

LABEL_SPACE = 256  # every 8-bit value is a possible class id; nothing is declared
ZERO_DIVISION_CHOICES = {"0": 0.0, "1": 1.0, "nan": math.nan}  # scikit-learn's zero_division
# Class names that say an id marks pixels to leave out (compared in lower case, apostrophes
# dropped).
VOID_NAMES = {"void", "unlabelled", "unlabeled", "ignore", "ignored", "dont care", "dontcare"}
# used when found in the labels folder and --class-names is absent
CLASS_NAMES_FILE = "class_names.txt"
# Formats that store pixel values losslessly, so they can hold class ids, and those that do not.
# (PGM and PBM are not among them: Pillow rescales their samples and inverts PBM's bits.)
MASK_FORMATS = {"PNG", "BMP", "TIFF", "GIF"}
LOSSY_FORMATS = {"JPEG", "MPO", "WEBP", "JPEG2000", "AVIF", "HEIF"}
# Files with these suffixes are treated as masks (and refused if they are not); others are passed
# over.
# NumPy files: an array of class ids (or of scores, with --scores), a .npz holding one array
ARRAY_SUFFIXES = {".npy", ".npz"}
MASK_SUFFIXES = {".png", ".bmp", ".tif", ".tiff", ".gif", ".pgm", ".pbm", ".pnm", ".ppm",
                 ".jpg", ".jpeg", ".jpe", ".jp2", ".webp", ".avif", ".heic", *ARRAY_SUFFIXES}
SCORE_SUFFIXES = MASK_SUFFIXES  # --scores: score maps may be NumPy arrays of floats too
# --scores: a score map's greyscale samples by bits, and the value of a score of 1 (KITTI's 255)
SCORE_SCALES = {8: 255, 16: 65535}
MAX_DIGITS = 17  # a float64 holds about 17 significant digits; more would show noise
MAX_RUNS_PER_PIXEL = 1 / 8  # above this, runs are too short for run-length counting to pay
WRONG_COLOUR = (255, 40, 40)  # overlay: a wrong pixel; dimmed pixels never reach this red
IGNORED_COLOUR = (150, 175, 215)  # overlay: a pixel not counted (ignore index, outside valid)
MAX_TEXT_PIXELS = 1 << 20  # more than any line of text a heat map draws takes, as Pillow renders it
THUMBNAIL_WIDTH = 480  # pixels; the page shows them at half that, sharp on high-density screens
# at most: a mask a pixel or two wide is not drawn tens of thousands high
THUMBNAIL_HEIGHT = 4 * THUMBNAIL_WIDTH
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")  # camera pictures
PAIRS_PER_WORKER = 8  # starting a worker process costs about as much as scoring a few pairs
PROGRESS_DELAY_SECONDS = 1.0  # a run shorter than this never shows a progress bar
MAX_LISTED = 10  # files listed when nothing pairs: enough to see the pattern in thousands
# Name endings that tell labels from predictions when --labels and --inferences are one folder, as
# (label's, prediction's); DeepLabV3Plus-Pytorch writes N_target.png and N_pred.png beside
# N_image.png.
ONE_FOLDER_ENDINGS = tuple((separator + label, separator + prediction) for separator in "_-"
                           for label, prediction in (
                               ("target", "pred"), ("target", "prediction"), ("gt", "pred"),
                               ("gt", "prediction"), ("gt", "output"), ("label", "pred"),
                               ("label", "prediction"), ("labels", "preds"),
                               ("labels", "predictions"),
                               ("mask", "pred"), ("mask", "prediction"), ("groundtruth", "pred"),
                               ("groundtruth", "prediction"), ("true", "pred"), ("truth", "pred")))
# an id map may send ids up to this (16-bit masks: ADE20K-full, Mapillary) into the label space
MAX_MAPPED_ID = 65535
MAX_TEXT_FILE_BYTES = 1 << 20  # class names, id map, palette: 256 ids and long names fit many times
# --boundary-ratio: the Boundary IoU paper's and detectron2's band width, of the diagonal
BOUNDARY_RATIO = 0.02
DEFAULT_THRESHOLD = 0.5  # --scores: where a score map becomes class ids
# --compare without --bootstrap: enough for the 2.5th and 97.5th percentiles
DEFAULT_RESAMPLES = 1000
MAX_RESAMPLES = 1_000_000  # --bootstrap: more adds nothing a percentile can show
# the resampled numbers the bootstrap keeps for its percentiles, at most
MAX_BOOTSTRAP_BYTES = 4 << 30
MIN_RESAMPLES = 100  # --bootstrap: fewer leave a 95% interval's 2.5% tails two resamples or none
# bootstrap resamples drawn at once: a batch's weights take 100 x images x 8 bytes
RESAMPLES_PER_BATCH = 100
IMAGES_PER_CHUNK = 100  # ImageCounts: images whose numbers are kept in one array
# a batch's resampled sums at most: a float map's score grid has a level per pixel, and 100
# resamples at once of 5 DRIVE-sized float32 maps took 5.9 GB (0.6 GB in batches this size)
RESAMPLED_BYTES_PER_BATCH = 64 << 20
FEW_IMAGES = 20  # a bootstrap over fewer images says little about the images that were not drawn
FEW_IMAGES_OF_CLASS = 5  # a class in fewer images has an interval that rests on those few
# Pillow's raw modes for greyscale samples of fewer than 8 bits, which it scales to 0..255.
LOW_BIT_RAWMODES = {"1": 1, "L;2": 2, "L;4": 4}
# A PNG's text or colour-profile chunk may decompress to this much. Pillow's own limit, 1 MiB,
# refuses genuine masks that carry a large ICC profile or metadata; 64 MiB still stops a zip bomb.
PNG_METADATA_LIMIT = 64 << 20
# What Pillow raises, besides OSError, while decoding a damaged file.
PILLOW_DECODING_ERRORS = (SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError,
                          struct.error, zlib.error, MemoryError)

_CITYSCAPES = ("road", "sidewalk", "building", "wall", "fence", "pole", "traffic light",
               "traffic sign", "vegetation", "terrain", "sky", "person", "rider", "car",
               "truck", "bus", "train", "motorcycle", "bicycle")
_PASCAL_VOC = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car",
               "cat", "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person",
               "pottedplant", "sheep", "sofa", "train", "tvmonitor")
# ADE20K's 150 classes (SceneParsing), in the order of the ids after reduce-zero-label
# (mmsegmentation's).
_ADE20K = (
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane",
    "grass", "cabinet",
    "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain", "chair",
    "car", "water",
    "painting", "sofa", "shelf", "house", "sea", "mirror", "rug", "field", "armchair",
    "seat", "fence",
    "desk", "rock", "wardrobe", "lamp", "bathtub", "railing", "cushion", "base", "box", "column",
    "signboard", "chest of drawers", "counter", "sand", "sink", "skyscraper", "fireplace",
    "refrigerator",
    "grandstand", "path", "stairs", "runway", "case", "pool table", "pillow", "screen door",
    "stairway",
    "river", "bridge", "bookcase", "blind", "coffee table", "toilet", "flower", "book",
    "hill", "bench",
    "countertop", "stove", "palm", "kitchen island", "computer", "swivel chair", "boat", "bar",
    "arcade machine", "hovel", "bus", "towel", "light", "truck", "tower", "chandelier", "awning",
    "streetlight", "booth", "television receiver", "airplane", "dirt track", "apparel",
    "pole", "land",
    "bannister", "escalator", "ottoman", "bottle", "buffet", "poster", "stage", "van", "ship",
    "fountain",
    "conveyer belt", "canopy", "washer", "plaything", "swimming pool", "stool", "barrel", "basket",
    "waterfall", "tent", "bag", "minibike", "cradle", "oven", "ball", "food", "step", "tank",
    "trade name",
    "microwave", "pot", "animal", "bicycle", "lake", "dishwasher", "screen", "blanket",
    "sculpture", "hood",
    "sconce", "vase", "traffic light", "tray", "ashcan", "fan", "pier", "crt screen",
    "plate", "monitor",
    "bulletin board", "shower", "radiator", "glass", "clock", "flag")
# CamVid as SegNet ships it: 11 classes, and 11 marks unlabelled pixels.
_CAMVID = ("sky", "building", "pole", "road", "pavement", "tree", "sign symbol", "fence", "car",
           "pedestrian", "bicyclist")
# COCO's 80 thing classes by category id (instances_*.json), with ids 1..90 of which 10 are unused.
_COCO_THINGS = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", None, "stop sign", "parking meter", "bench", "bird", "cat",
    "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", None, "backpack",
    "umbrella", None, None, "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard",
    "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", None, "wine glass", "cup", "fork", "knife", "spoon", "bowl",
    "banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut",
    "cake", "chair", "couch", "potted plant", "bed", None, "dining table", None, None, "toilet",
    None, "tv", "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave", "oven",
    "toaster", "sink", "refrigerator", None, "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush")
# COCO-Stuff's 91 stuff classes, category ids 92..182 (cocostuff's labels.txt)
_COCO_STUFF = (
    "banner", "blanket", "branch", "bridge", "building-other", "bush", "cabinet", "cage",
    "cardboard", "carpet", "ceiling-other", "ceiling-tile", "cloth", "clothes", "clouds", "counter",
    "cupboard", "curtain", "desk-stuff", "dirt", "door-stuff", "fence", "floor-marble",
    "floor-other", "floor-stone", "floor-tile", "floor-wood", "flower", "fog", "food-other",
    "fruit", "furniture-other", "grass", "gravel", "ground-other", "hill", "house", "leaves",
    "light", "mat",
    "metal", "mirror-stuff", "moss", "mountain", "mud", "napkin", "net", "paper", "pavement",
    "pillow", "plant-other", "plastic", "platform", "playingfield", "railing", "railroad", "river",
    "road", "rock", "roof", "rug", "salad", "sand", "sea", "shelf", "sky-other", "skyscraper",
    "snow", "solid-other", "stairs", "stone", "straw", "structural-other", "table", "tent",
    "textile-other", "towel", "tree", "vegetable", "wall-brick", "wall-concrete", "wall-other",
    "wall-panel", "wall-stone", "wall-tile", "wall-wood", "water-other", "waterdrops",
    "window-blind", "window-other", "wood")
# by COCO category id: the 80 things (1..90) and the 91 stuff classes (92..182)
COCO_CATEGORY_NAMES = {category: name for category, name in enumerate(
    (*_COCO_THINGS, None, *_COCO_STUFF), start=1) if name is not None}
MAX_THING = 91  # COCO's thing categories are 1..91, stuff 92..182
OTHER_STUFF = 183  # the stuff task's 'other': every pixel of a thing
# What the pixels that COCO's labels leave out are (left_out of an image report), as said.
LEFT_OUT = {"overlap": "covered by annotations of two categories",
            "crowd": "of crowd regions", "void": "of void (segment 0)"}
# Cityscapes' label table (cityscapesScripts' labels.py): (labelId, trainId, colour) of the 34
# labelIds; trainId 255 marks the labels left out of the benchmark.
CITYSCAPES_LABELS = (
    (0, 255, (0, 0, 0)), (1, 255, (0, 0, 0)), (2, 255, (0, 0, 0)), (3, 255, (0, 0, 0)),
    (4, 255, (0, 0, 0)), (5, 255, (111, 74, 0)), (6, 255, (81, 0, 81)), (7, 0, (128, 64, 128)),
    (8, 1, (244, 35, 232)), (9, 255, (250, 170, 160)), (10, 255, (230, 150, 140)),
    (11, 2, (70, 70, 70)),
    (12, 3, (102, 102, 156)), (13, 4, (190, 153, 153)), (14, 255, (180, 165, 180)),
    (15, 255, (150, 100, 100)), (16, 255, (150, 120, 90)), (17, 5, (153, 153, 153)),
    (18, 255, (153, 153, 153)), (19, 6, (250, 170, 30)), (20, 7, (220, 220, 0)),
    (21, 8, (107, 142, 35)),
    (22, 9, (152, 251, 152)), (23, 10, (70, 130, 180)), (24, 11, (220, 20, 60)),
    (25, 12, (255, 0, 0)),
    (26, 13, (0, 0, 142)), (27, 14, (0, 0, 70)), (28, 15, (0, 60, 100)), (29, 255, (0, 0, 90)),
    (30, 255, (0, 0, 110)), (31, 16, (0, 80, 100)), (32, 17, (0, 0, 230)), (33, 18, (119, 11, 32)))
# --label-map / --inference-map presets, as {from: to} with "*" for every id not listed.
ID_MAP_PRESETS = {
    "cityscapes-labelids": {**{label_id: train_id for label_id, train_id,
                               _ in CITYSCAPES_LABELS}, "*": 255},
    # ADE20K as mmsegmentation reads it: 0 (other) is left out, the 150 classes move down by one.
    "reduce-zero-label": {0: 255, **{k: k - 1 for k in range(1, 255)}, 255: 255},
}


def voc_colour(class_id):
    """Pascal VOC's colour of an id (its colour map indexes any id): the id's bits, three at a time,
    fill the channels from the top bit down."""
    colour = [0, 0, 0]
    for shift in range(7, -1, -1):
        for channel in range(3):
            colour[channel] |= ((class_id >> channel) & 1) << shift
        class_id >>= 3
    return tuple(colour)


# CamVid's colours as SegNet draws its 11 classes (void black).
_CAMVID_COLOURS = ((128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (60, 40, 222),
                   (128, 128, 0), (192, 128, 128), (64, 64, 128), (64, 0, 128), (64, 64, 0),
                   (0, 128, 192))
# ADE20K's 150 colours as mmsegmentation draws them (its ADE20KDataset palette), 'rrggbb' each. Two
# classes share one colour there (6 road and 48 skyscraper, both 8c8c8c): a colour-coded mask cannot
# tell them apart.
_ADE20K_COLOURS = bytes.fromhex(
    "787878b4787806e6e650323204c8037878508c8c8ccc05ffe6e6e604fa07e005ffebff0796053d78784608ff33"
    "ff06528fff8cccff04ff3307cc46030066c83de6faff06330b66ffff0747ff09e00907e6dcdcdcff095c7009ff"
    "08ffd607ffe0ffb8060aff47ff290a07ffffe0ff086608ffff3d06ffc207ff7a0800ff14ff0829ff05990633ff"
    "eb0cffa0961400a3ff8c8c8cfa0a0f14ff001fff00ff1f00ffe00099ff000000ffff470000ebff00adff1f00ff"
    "0bc8c8ff520000fff5003dff00ff7000ff85ff0000ffa300ff6600c2ff00008fff33ff000052ff00ff2900ffad"
    "0a00ffadff0000ff99ff5c00ff00ffff00f5ff0066ffad00ff0014ffb8b8001fff00ff3d0047ffff00cc00ffc2"
    "00ff52000aff0070ff3300ff00c2ff007aff00ffa3ff990000ff0aff70008fff005200ffa3ff00ffeb0008b8aa"
    "8500ff00ff5cb800ffff001f00b8ff00d6ffff00705cff0000e0ff70e0ff46b8a0a300ff9900ff47ff00ff00a3"
    "ffcc00ff008f00ffeb85ff00ff00ebf500ffff007afff5000abed4d6ff0000ccff1400ffffff000099ff0029ff"
    "00ffcc2900ff29ff00ad00ff00f5ff4700ff7a00ff00ffb8005cffb8ff000085ffffd60019c2c266ff005c00ff")


class Dataset(NamedTuple):
    """A dataset preset (--class-names NAME, --palette NAME): its class names; the id of its
    unlabelled pixels, named void, which it leaves out as a class-names file's 'ignore: N' line
    does; and the colours its masks are drawn in, {id: (r, g, b)}, for pictures and for reading
    colour-coded masks."""
    names: dict
    void: int
    colours: dict


_CITYSCAPES_DATASET = Dataset(
    {**dict(enumerate(_CITYSCAPES)), 255: "void"}, 255,  # the 19 train ids
    {**{train_id: colour for _, train_id, colour in CITYSCAPES_LABELS if train_id != 255},
     255: (0, 0, 0)})
# after reduce-zero-label: 0 = wall
DATASETS = {
    "cityscapes": _CITYSCAPES_DATASET,
    "kitti": _CITYSCAPES_DATASET,  # KITTI's benchmark uses Cityscapes' ids and colours
    "pascal-voc": Dataset({**dict(enumerate(_PASCAL_VOC)), 255: "void"}, 255,
                          {k: voc_colour(k) for k in (*range(len(_PASCAL_VOC)), 255)}),
    "ade20k": Dataset({**dict(enumerate(_ADE20K)), 255: "void"}, 255,
                      {**{k: tuple(_ADE20K_COLOURS[3 * k:3 * k + 3]) for k in range(len(_ADE20K))},
                       255: (0, 0, 0)}),
    "camvid": Dataset({**dict(enumerate(_CAMVID)), 11: "void"}, 11,
                      {**dict(enumerate(_CAMVID_COLOURS)), 11: (0, 0, 0)}),
    # COCO's things by their category ids, 0 where no annotation is (torchvision's background)
    "coco": Dataset({0: "background", **{category: name for category, name in
                                         COCO_CATEGORY_NAMES.items() if category <= 90}}, None,
                    {k: voc_colour(k) for k in range(91)}),
    # COCO-Stuff's stuffthingmaps PNGs: category id - 1 (0..181, 11 unused), 255 unlabelled
    "coco-stuff": Dataset({**{category - 1: name for category, name in
                              COCO_CATEGORY_NAMES.items()}, 255: "unlabeled"}, 255,
                          {**{k: voc_colour(k) for k in range(182)}, 255: (0, 0, 0)}),
}
# datasets whose masks are never colour-coded (the pictures draw them in VOC's colours)
NO_PALETTE = ("kitti", "coco", "coco-stuff")
# --palette presets: the datasets' colours, and Cityscapes' whole label table, in which the colours
# of the labels left out of the benchmark become 255 (a train id wins where two labels share a
# colour).
PALETTE_PRESETS = {
    **{name: {colour: class_id for class_id, colour in dataset.colours.items()}
       for name, dataset in DATASETS.items() if name not in NO_PALETTE},
    "cityscapes": {**{colour: 255 for _, _, colour in CITYSCAPES_LABELS},
                   **{colour: train_id for _, train_id,
                      colour in CITYSCAPES_LABELS if train_id != 255}},
}


# --instances: cityscapesScripts' average pixels of an instance of each class that has instances
# (evalPixelLevelSemanticLabeling's avgClassSize), by train id: person, rider, car, truck, bus,
# train, motorcycle, bicycle.
MAX_INSTANCE_VALUE = LABEL_SPACE * 1000  # class id x 1000 + the instance's number, at most
CITYSCAPES_INSTANCE_SIZES = {11: 3462.4756337644, 12: 3930.4788056518, 13: 12794.0202738185,
                             14: 27855.1264367816, 15: 35732.1511111111, 16: 67583.7075812274,
                             17: 6298.7200839748, 18: 4672.3249222261}
# --groups: classes scored together as one. Cityscapes' categories over its 19 train ids (as
# cityscapesScripts' labels.py groups them; void is no category); BraTS' nested tumour regions over
# BraTS 2023's labels (1 necrosis, 2 oedema, 3 enhancing tumour; the sets up to 2021 mark that 4).
GROUP_PRESETS = {
    "cityscapes-categories": {"flat": [0, 1], "construction": [2, 3, 4], "object": [5, 6, 7],
                              "nature": [8, 9], "sky": [10], "human": [11, 12],
                              "vehicle": [13, 14, 15, 16, 17, 18]},
    "brats": {"whole tumour": [1, 2, 3], "tumour core": [1, 3], "enhancing tumour": [3]},
}


@functools.lru_cache(maxsize=None)
def class_colours(dataset=None):
    """The (256, 3) uint8 colours pictures draw each id in: a dataset's own colours where it has
    them (CamVid's sky is grey, as in its own pictures), Pascal VOC's colour map for every other
    id."""
    colours = np.array([voc_colour(class_id) for class_id in range(LABEL_SPACE)], dtype=np.uint8)
    for class_id, colour in DATASETS[dataset].colours.items() if dataset else ():
        colours[class_id] = colour
    return colours


# What a report written before a field of the scoring record existed stands for: the field's
# default (AS_DEFAULT: it was made by that rule), nothing (REQUIRED: the field has always been
# written), or any value (UNKNOWN: it agrees with every report).
AS_DEFAULT, REQUIRED, UNKNOWN = "as default", "required", "unknown"
# How the input record names how the masks were read (a report's "input").
INPUT_KEYS = ("recursive", "label_suffix", "inference_suffix", "label_map", "inference_map",
              "palette", "valid_masks", "valid_suffix", "label_encoding", "instances",
              "instance_suffix", "instance_map")


class Rule(NamedTuple):
    """A field of the scoring record: how a report's value is checked and how --merge and --compare
    join the reports' values (join_records says each way)."""
    valid: object  # the JSON value -> whether the tool writes such a value
    wanted: str  # what a valid value is, as the message refusing another says
    option: str = ""  # how a user sets it, when not the field's name as an option
    old: str = AS_DEFAULT  # what a report written before the field existed stands for
    merged: str = "same"  # how --merge joins the reports' values
    compared: str = "same"  # how --compare joins the models'
    to_json: object = None  # the value -> its JSON form, when they differ
    from_json: object = None  # and back

    def json_of(self, value):
        return value if self.to_json is None else self.to_json(value)

    def value_of(self, json_value):
        return json_value if self.from_json is None else self.from_json(json_value)


def rule(valid, wanted, default=None, factory=None, **how):
    """A field of Scoring: its default (or a factory of it) and its Rule."""
    kind = {"default_factory": factory} if factory else {"default": default}
    return dataclasses.field(**kind, metadata={"rule": Rule(valid, wanted, **how)})


def _id_or_none(value):
    return value is None or (type(value) is int and 0 <= value < LABEL_SPACE)


def _how_masks_were_read(value):
    return isinstance(value, dict) and set(value) <= set(INPUT_KEYS) and all(
        type(given) is bool if key == "recursive" else isinstance(given, (str, type(None)))
        for key, given in value.items())


def _ids_by_name(value):
    return isinstance(value, dict) and all(
        isinstance(name, str) and isinstance(ids, list) and ids
        and all(type(i) is int and 0 <= i < LABEL_SPACE for i in ids) and len(set(ids)) == len(ids)
        for name, ids in value.items())


def _distance_rules(value):
    def number(given, zero=False):  # finite, above 0 (or at it)
        return type(given) in (int, float) and math.isfinite(given) and (given > 0 or zero
                                                                          and given == 0)
    return value is None or (
        isinstance(value, dict) and set(value) == {"spacing", "tolerance", "empty_distance"}
        and isinstance(value["spacing"], list) and len(value["spacing"]) == 2
        and all(map(number, value["spacing"]))
        and (value["tolerance"] is None or number(value["tolerance"]))
        and (value["empty_distance"] is None or number(value["empty_distance"], zero=True)))


def _coco_record(value):
    return value is None or isinstance(value, dict) and set(value) == {
        "files", "panoptic", "classes"} and type(value["panoptic"]) is bool and isinstance(
        value["files"], list) and all(isinstance(file, dict) and set(file) == {
            "name", "bytes", "sha256"} for file in value["files"]) and isinstance(
        value["classes"], dict) and all(type(class_id) is int and 0 <= class_id < LABEL_SPACE
                                        for class_id in value["classes"].values())


def _names_of_ids(value):
    return isinstance(value, dict) and all(
        key.isascii() and key.isdigit() and str(int(key)) == key and int(key) < LABEL_SPACE
        and isinstance(name, str) for key, name in value.items())


@dataclasses.dataclass(frozen=True)
class Scoring:
    """The scoring record: every rule that changes the numbers, one field each. It is the JSON head
    a report carries (its fields are the head's keys), and --merge and --compare join reports by
    their records (join_records). A new rule is a field here, its option, and where it acts."""
    ignore_index: int | None = rule(_id_or_none, "null or an id within 0..255", old=REQUIRED)
    # the option or file that gave the ignore index
    ignore_index_from: str | None = rule(lambda value: value is None or isinstance(value, str),
                                         "null or the option that gave it",
                                         merged="said", compared="said")
    zero_division: float = rule(  # the value of 0/0: 0, 1 or NaN (JSON: "nan")
        lambda value: value == "nan" or (type(value) is int and value in (0, 1)),
        "0, 1 or \"nan\"", default=0.0, old=REQUIRED, merged="chosen", compared="baseline",
        to_json=lambda value: "nan" if math.isnan(value) else int(value),
        from_json=lambda value: ZERO_DIVISION_CHOICES[str(value)])
    class_names: dict = rule(  # {id: name}, in id order
        _names_of_ids, "names of ids within 0..255", factory=dict, old=REQUIRED, merged="named",
        compared="baseline", to_json=lambda names: {str(key): names[key] for key in sorted(names)},
        from_json=lambda names: {int(key): name for key, name in names.items()})
    input: dict = rule(  # how the masks were read: INPUT_KEYS, as the options gave them
        _how_masks_were_read, "how the masks were read", factory=dict, old=UNKNOWN,
        option="id maps, palette, name suffixes, valid masks or label encoding",
        compared="free")
    # the Boundary IoU band's width, of the diagonal; None: no Boundary IoU
    boundary_ratio: float | None = rule(
        lambda value: value is None or (type(value) is float and 0 < value <= 1),
        "null or a ratio within (0, 1]", compared="dropped")
    # the score at and above which a score map's pixel is taken for the positive class (--scores);
    # None: the inferences are class ids
    threshold: float | None = rule(
        lambda value: value is None or (type(value) is float and 0 <= value <= 1),
        "null or a score within [0, 1]")
    # --scores: the label id of the class the score maps score (against the rest)
    positive_class: int | None = rule(_id_or_none, "null or an id within 0..255")
    # --instances: the average pixels of an instance of each class that has instances, by id (iIoU
    # weighs an instance by it over its own pixels); None: no instances
    instance_sizes: dict | None = rule(
        lambda value: value is None or isinstance(value, dict) and all(
            key.isascii() and key.isdigit() and int(key) < LABEL_SPACE
            and type(size) in (int, float) and size > 0 for key, size in value.items()),
        "null or sizes of ids within 0..255",
        to_json=lambda sizes: None if sizes is None else {str(key): sizes[key]
                                                          for key in sorted(sizes)},
        from_json=lambda sizes: None if sizes is None else {int(key): size
                                                            for key, size in sizes.items()})
    # --groups: {name: ids}, each scored as one class against the rest; None: no groups
    groups: dict | None = rule(lambda value: value is None or _ids_by_name(value),
                               "null or groups of ids within 0..255", merged="chosen",
                               compared="baseline")
    # --distances: {"spacing": [row, column], "tolerance": T or null (a share of each image's
    # diagonal), "empty_distance": D or null}; None: no boundary distances
    distances: dict | None = rule(_distance_rules, "null or the spacing, tolerance and empty "
                                  "distance of --distances", compared="dropped")
    # --exclude-from-means: ids left out of every mean over classes (they keep their rows)
    exclude_from_means: tuple = rule(
        lambda value: isinstance(value, list) and all(type(i) is int and 0 <= i < LABEL_SPACE
                                                      for i in value)
        and value == sorted(set(value)), "ids within 0..255", default=(), merged="chosen",
        compared="baseline", to_json=list, from_json=tuple)

    # --coco-annotations, --coco-panoptic: the files the labels came from ({"name", "bytes",
    # "sha256"} each), whether panoptic, and each category's class id; None: mask files
    coco: dict | None = rule(_coco_record, "null or the COCO files the labels came from",
                             option="COCO files (--coco-annotations, --coco-panoptic, "
                                    "--coco-contiguous)")

    @property
    def boundary(self):
        return self.boundary_ratio is not None

    def json(self):
        """The record as the JSON head holds it."""
        return {field.name: rule_of(field).json_of(getattr(self, field.name))
                for field in dataclasses.fields(self)}


def rule_of(field):
    """The Rule of a field of Scoring."""
    return field.metadata["rule"]


def option_of(field):
    """How a user sets a field of Scoring, as messages name it: --ignore-index."""
    return rule_of(field).option or "--" + field.name.replace("_", "-")


@dataclasses.dataclass(frozen=True)
class Settings:
    """What a run is asked to do: made once in main() from the options, passed down (and to the
    workers)."""
    scoring: Scoring = Scoring()  # with --merge or --compare: the reports', once read
    # the rules the options gave, {field of Scoring: value}: --merge and --compare check them
    given: dict = dataclasses.field(default_factory=dict)
    labels: Path = Path("labels")
    inferences: Path = Path("inferences")
    images: Path = Path("images")  # camera pictures the overlays are drawn on
    recursive: bool = False  # masks in sub-folders too, paired by relative path
    label_suffix: str = ""  # the end of a label's file name that is not part of the id
    inference_suffix: str = ""
    label_map: "IdMap | None" = None  # ids that become other ids after reading, before counting
    inference_map: "IdMap | None" = None
    palette: "Palette | None" = None  # colours of RGB masks that stand for ids
    label_encoding: str | None = None  # how label files hold their ids: LABEL_ENCODINGS; None: ids
    valid_masks: Path | None = None  # a mask per image of the pixels to count, found by its id
    valid_suffix: str = ""  # the end of a valid mask's file name that is not part of the id
    instances: Path | None = None  # Cityscapes instance files (--instances), found by the id
    instance_suffix: str = ""
    instance_map: "IdMap | None" = None  # the instances' class ids to the labels' ids
    coco_annotations: tuple = ()  # COCO annotation files the labels are drawn from
    coco_panoptic: Path | None = None  # the JSON of COCO panoptic PNG labels
    coco_contiguous: bool = False  # COCO categories numbered 1..N, not by their ids
    dataset: str | None = None  # the preset of DATASETS whose colours the pictures use; None: VOC's
    digits: int = 4
    format: str = "text"
    jobs: int | None = None  # None: decided by the number of pairs
    quiet: bool = False
    # N for the other tools' conventions; None: from the names or the ids
    num_classes: int | None = None
    brief: bool = False  # text: only the per-image summary and the combined section
    per_case: bool = False  # text: also the per-case statistics
    bootstrap: int = 0  # resamples of the images for confidence intervals; 0: none
    confidence: float = 0.95  # the intervals' level
    seed: int = 0  # of the resampling: a fixed default, so that two runs print the same intervals
    compare: tuple = ()  # JSON reports to compare: the baseline first
    shard: tuple | None = None  # (k, n)
    # the JSON head's record of a sharded run: {"of", "included", "run_ids"}
    shards: dict | None = None
    merge: tuple = ()  # JSON reports to merge instead of reading masks
    output_dir: Path | None = None
    plots_per_image: bool = False
    max_image_pixels: int = Image.MAX_IMAGE_PIXELS
    # recount every pair with scikit-learn, stopping on a difference
    check_with_sklearn: bool = False


class MaskError(Exception):
    """A mask file that cannot be used; the message names the file and the reason."""

    def __init__(self, message, path=None):
        super().__init__(message)
        self.path = path  # the file at fault, when it is one file of the pair


class OutputError(Exception):
    """The report folder cannot be written; the message names the file or image."""


class UsageError(ValueError):
    """An option's value that cannot be used; main() shows it with the usage."""


class RunError(Exception):
    """Nothing can be scored (no folder, no pair, unusable reports): the run stops with this
    message."""


class CheckFailed(Exception):
    """--check-with-sklearn found a pair whose matrix is not scikit-learn's: the run stops, naming
    it."""


def plural(count, word, words=None):
    """'1 image', '2 images': a count with its noun."""
    return f"{count} {word if count == 1 else words or word + 's'}"


def say(message):
    """A line on stderr; a closed or full stderr loses the line, never the run (nor stdout's
    report)."""
    if sys.stderr is not None:
        with contextlib.suppress(OSError, ValueError):
            print(message, file=sys.stderr, flush=True)


class Terminated(BaseException):
    """SIGTERM, raised where the run is, to stop it as Ctrl-C does (no handler of errors catches
    it)."""


# ---------------------------------------------------------------- reading

def configure_pillow(max_image_pixels):
    """Pillow's limits for a run that reads files: the decompression-bomb guard, and the text and
    colour-profile chunks a PNG may hold (set when a run starts, never on import)."""
    Image.MAX_IMAGE_PIXELS = max_image_pixels
    PngImagePlugin.MAX_TEXT_CHUNK = PNG_METADATA_LIMIT

def shown(path):
    """A file name as one line of printable text: undecodable bytes as \\xNN, control characters
    escaped."""
    text = str(path)
    if text.isascii() and text.isprintable():  # the usual name: nothing to escape
        return text
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
                   for char in text)


def natural_key(text):
    """Sort key that orders 'img2' before 'img10'. A run of digits compares as its number does (by
    length, then digits, leading zeros aside) without becoming an int, so any length of digits
    sorts."""
    parts = re.split(r"([0-9]+)", text)  # text at even places, runs of ASCII digits at odd ones
    return [(len(part.lstrip("0")), part.lstrip("0")) if place % 2 else part
            for place, part in enumerate(parts)]


def _raw_mode(image):
    """The raw mode Pillow decodes the file's samples with (e.g. 'L;4', 'RGB;16B'), or ''."""
    args = image.tile[0][3] if image.tile else None
    return args if isinstance(args, str) else args[0] if args and isinstance(args[0], str) else ""


def _greyscale_bits(image):
    """Bits per greyscale sample (from the raw mode Pillow decodes with); 8 for palette images."""
    rawmode = _raw_mode(image)
    if rawmode in LOW_BIT_RAWMODES:
        return LOW_BIT_RAWMODES[rawmode]
    if rawmode.startswith("I;16") or image.mode.startswith("I;16"):
        return 16
    return 32 if image.mode == "I" else 8


def _refuse_colours(image, path):
    """MaskError for a mask that holds colours, with the way to turn it into class ids."""
    if image.mode == "RGB":
        rgb = np.asarray(image)
        if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
            return MaskError(f"{shown(path)}: mode RGB holds colours, not class ids; its three "
                             "channels are equal, so it is a greyscale mask saved as RGB: save "
                             "Image.open(path).convert('L') as the mask", path)
    hint = ("drop the alpha channel if the grey values are the ids"
            if image.mode in ("LA", "La", "PA")
            else "for a colour-coded mask, give its dataset's colours with --palette (a preset: "
                 + ", ".join(PALETTE_PRESETS) + "; or a file of colours)")
    return MaskError(f"{shown(path)}: mode {image.mode} holds colours, not class ids; {hint}", path)


@contextlib.contextmanager
def open_image(path):
    """Image.open, refusing every image above the decompression-bomb limit: Pillow only warns up to
    twice the limit, and raises DecompressionBombWarning here as it does DecompressionBombError
    above."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as image:
            yield image


def read_mask(path, palette=None, wide=False):
    """The class ids of a mask file and the bits of its greyscale samples: (2-D uint8 array, bits).

    Palette images give their palette indices, which are the class ids; converting
    them through their colours would silently give wrong numbers (bits is 8 for
    them). Greyscale samples of 1, 2 or 4 bits are read as stored (a 4-bit 3 is
    id 3), where Pillow scales them to 0..255 for display. 16- and 32-bit
    greyscale is accepted when every value is within 0..255. RGB (and opaque RGBA)
    masks are turned into ids by palette, a Palette, when there is one. With wide (an id map
    that maps ids above 255), 16-bit and array ids up to MAX_MAPPED_ID are kept, for the map.
    Raises MaskError for anything else.
    """
    if is_array_file(path):
        return _read_id_array(path, wide)
    return read_image_file(path, lambda image: _decode_mask(image, path, palette, wide))


def is_array_file(path):
    """Whether a mask file is a NumPy file (ARRAY_SUFFIXES), read with numpy, not Pillow."""
    return Path(path).suffix.lower() in ARRAY_SUFFIXES


def load_array(path, what="mask"):
    """The 2-D array of a .npy file, or of a .npz file that holds one array (a leading or trailing
    axis of length 1, as a batch or a channel of one, is dropped); raises MaskError naming the
    file."""
    name = shown(path)
    try:
        loaded = np.load(path, allow_pickle=False)
        if hasattr(loaded, "files"):  # a .npz archive
            with loaded:
                if len(loaded.files) != 1:
                    raise MaskError(f"{name}: holds {len(loaded.files)} arrays; a {what} file "
                                    "holds one", path)
                loaded = loaded[loaded.files[0]]
    except MaskError:
        raise
    except (OSError, ValueError, EOFError, zlib.error, zipfile.BadZipFile) as error:
        raise MaskError(f"{name}: not a NumPy .npy or .npz file of numbers"
                        + (f" ({error.strerror or error})" if isinstance(error, OSError) else ""),
                        path) from None
    while loaded.ndim > 2 and 1 in (loaded.shape[0], loaded.shape[-1]):
        loaded = loaded[0] if loaded.shape[0] == 1 else loaded[..., 0]
    if loaded.ndim != 2:
        raise MaskError(f"{name}: a {loaded.ndim}-D array of shape {loaded.shape}; a {what} is "
                        "a 2-D array", path)
    return loaded


def _read_id_array(path, wide=False):
    """read_mask of a NumPy file (ids_of_array)."""
    return ids_of_array(load_array(path), shown(path), path, wide)


def ids_of_array(array, name, path=None, wide=False):
    """An array's integer ids, which must be within 0..255 (0..MAX_MAPPED_ID when wide), and their
    bits (1 for a bool array, so that it is checked against 0/255 masks as a 1-bit file is; else 8);
    raises MaskError naming the array (name) and its file (path, or None)."""
    if array.dtype.kind == "b":
        return array.view(np.uint8), 1
    if array.dtype.kind == "f":
        raise MaskError(f"{name}: an array of {array.dtype}, not of class ids; score maps are "
                        "read with --scores", path)
    if array.dtype.kind not in "iu":
        raise MaskError(f"{name}: an array of {array.dtype}; a mask holds integer class ids",
                        path)
    return _checked_ids(array, name, path, f"an array of {array.dtype}", wide), 8


def _checked_ids(values, name, path, what, wide):
    """values (integers) as class ids: uint8 when within 0..255; with wide, int32 when within
    0..MAX_MAPPED_ID, for an id map to send into the label space; else MaskError, saying how many
    pixels are outside, the range, and the options that map ids."""
    if values.dtype == np.uint8:  # nothing to check
        return values
    lowest, highest = int(values.min(initial=0)), int(values.max(initial=0))
    if 0 <= lowest and highest < LABEL_SPACE:
        return values.astype(np.uint8, copy=False)
    if wide and 0 <= lowest and highest <= MAX_MAPPED_ID:
        return values.astype(np.int32, copy=False)
    outside = int(((values < 0) | (values >= LABEL_SPACE)).sum())
    mappable = lowest >= 0 and highest <= MAX_MAPPED_ID
    found = f"largest value {highest}" if lowest >= 0 else f"smallest value {lowest}"
    raise MaskError(f"{name}: {what} with {found}, {plural(outside, 'pixel')} outside 0..255; "
                    "class ids must be within 0..255"
                    + ("" if not mappable or wide else "; map them into it with --label-map or "
                       "--inference-map (a file of 'from: to' lines, '*: to' for the rest)")
                    + ("" if lowest >= 0 else "; a negative id (such as PyTorch's ignore value "
                       "-100) cannot be mapped: set it to an id no class has, e.g. 255, and give "
                       "that as the ignore index"), path)


def read_image_file(path, decode):
    """decode(image) of the image file at path; what Pillow raises becomes a MaskError naming the
    file."""
    name = shown(path)
    try:
        with open_image(path) as image:
            return decode(image)
    except MaskError:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as bomb:
        size = re.search(r"\((\d+) pixels\)", str(bomb))  # Pillow's message holds the image's size
        raise MaskError(f"{name}: {size[1] + ' pixels, ' if size else ''}more than the "
                        f"decompression-bomb limit of {Image.MAX_IMAGE_PIXELS}; if the file is "
                        "genuine, raise the limit with --max-image-pixels", path) from None
    except UnidentifiedImageError:
        raise MaskError(f"{name}: not a readable image (corrupt, or not an image at all)",
                        path) from None
    except OSError as error:
        if error.filename is not None or isinstance(error, PermissionError):
            raise MaskError(f"{name}: cannot read the file ({error.strerror or error})",
                            path) from None
        if str(error).startswith("Unsupported"):  # e.g. a 2-bit BMP, which Pillow does not read
            raise MaskError(f"{name}: a kind of file Pillow cannot read ({error}); save masks as "
                            "PNG",
                            path) from None
        raise MaskError(f"{name}: truncated or corrupt image ({error})", path) from None
    except PILLOW_DECODING_ERRORS as error:
        if "Decompressed data too large" in str(error):
            raise MaskError(f"{name}: a text or colour-profile chunk decompresses to more than "
                            f"{PNG_METADATA_LIMIT >> 20} MiB, the most the tool reads; save the "
                            "mask without that metadata", path) from None
        raise MaskError(f"{name}: truncated or corrupt image ({type(error).__name__}: {error})",
                        path) from None


def _check_mask_file(image, path):
    """Raise MaskError for a file whose pixel values may not be the ones saved (lossy, a format
    that is no mask's, several frames, min-is-white); have Pillow read 4-bit BMP as stored."""
    name = shown(path)
    if image.format in LOSSY_FORMATS or image.info.get("compression") in ("jpeg", "tiff_jpeg"):
        raise MaskError(f"{name}: {image.format} compression is or can be lossy, and then the "
                        "pixel values are not the ones that were saved; save masks as PNG",
                        path)
    if image.format not in MASK_FORMATS:
        raise MaskError(f"{name}: {image.format} is not a mask format (expected PNG, or lossless "
                        "TIFF, BMP or GIF)", path)
    if getattr(image, "n_frames", 1) > 1:
        raise MaskError(f"{name}: holds {image.n_frames} frames (pages or animation); a mask is "
                        "a single image", path)
    if image.format == "TIFF" and image.tag_v2.get(262) == 0:  # PhotometricInterpretation
        raise MaskError(f"{name}: min-is-white TIFF, whose values Pillow inverts; save masks as "
                        "PNG", path)
    if image.format == "BMP" and image.mode == "L":
        _read_bmp_samples_as_stored(image, path)


def _decode_mask(image, path, palette=None, wide=False):
    name = shown(path)
    _check_mask_file(image, path)
    mode, bits = image.mode, _greyscale_bits(image)
    if mode == "1":  # Pillow keeps 1-bit pixels as 0/255 bytes
        return np.asarray(image.convert("L")) // 255, 1
    if mode == "P":
        indices = decoded_bytes(image)
        return (indices if palette is None else ids_of_palette_image(indices, image, palette)), 8
    if mode == "L":
        ids = decoded_bytes(image)
        if bits < 8:  # undo Pillow's scaling of 2- and 4-bit samples to 0..255
            ids = ids // (255 // ((1 << bits) - 1))
        return ids, bits
    if mode == "I" or mode.startswith("I;16"):
        return _checked_ids(np.asarray(image), name, path, f"{bits}-bit greyscale", wide), bits
    if mode == "F":
        raise MaskError(f"{name}: mode F holds floating-point values, not class ids; "
                        "save the class ids as an 8-bit greyscale PNG", path)
    if mode in ("RGB", "RGBA") and ";16" in _raw_mode(image):
        raise MaskError(f"{name}: 16 bits per colour channel, of which Pillow reads only the high "
                        "byte, so colours that differ in the low byte would become one; save "
                        "colour-coded masks with 8 bits per channel", path)
    if mode in ("RGB", "RGBA") and palette is not None:
        return ids_from_colours(image, palette, path), 8
    raise _refuse_colours(image, path)


def read_scores(path):
    """A score map of one class against the rest as (codes, levels): an integer array of the map's
    shape, indexing levels, the scores it can hold in ascending order. 8-bit greyscale holds value /
    255 (the KITTI road devkit's convention), 16-bit value / 65535, a .npy array its exact values,
    which must be within [0, 1]; raises MaskError."""
    if is_array_file(path):
        return _read_score_array(path)
    return read_image_file(path, lambda image: _decode_scores(image, path))


def _decode_scores(image, path):
    name = shown(path)
    _check_mask_file(image, path)  # a score map's values are as exact as a mask's ids
    bits = _greyscale_bits(image)
    if image.mode == "L" and bits == 8 or image.mode.startswith("I") and bits == 16:
        codes = decoded_bytes(image) if bits == 8 else np.asarray(image).astype(np.uint16)
        return codes, np.arange(SCORE_SCALES[bits] + 1) / SCORE_SCALES[bits]
    hint = ("; a grey map saved as RGB: save Image.open(path).convert('L')"
            if image.mode in ("RGB", "RGBA") else "")
    raise MaskError(f"{name}: mode {image.mode} ({bits}-bit) is not a score map: --scores reads "
                    "8- or 16-bit greyscale (value / 255 or / 65535) or .npy arrays of scores "
                    f"within [0, 1]{hint}", path)


def _read_score_array(path):
    """read_scores of a .npy file (scores_of_array)."""
    return scores_of_array(load_array(path, "score map"), shown(path), path)


def scores_of_array(array, name, path=None):
    """An array of scores within [0, 1] as read_scores gives a map: its exact values (each
    distinct value one level); raises MaskError naming the array and its file (path, or None)."""
    if array.dtype.kind not in "biuf":
        raise MaskError(f"{name}: an array of {array.dtype}; a score map is a 2-D array of "
                        "numbers within [0, 1]", path)
    scores = array.astype(np.float64)
    if np.isnan(scores).any():
        raise MaskError(f"{name}: holds NaN; a score map holds numbers within [0, 1]", path)
    if scores.size and (scores.min() < 0 or scores.max() > 1):
        raise MaskError(f"{name}: scores from {scores.min()} to {scores.max()}; a score map holds "
                        "numbers within [0, 1] (probabilities, not logits)", path)
    levels, codes = np.unique(scores, return_inverse=True)
    return codes.reshape(scores.shape), levels


def decoded_bytes(image):
    """An 8-bit (L or P) image's pixels as a uint8 array, decoded straight into the array: Pillow is
    handed the array's memory as the image's, which spares np.asarray's copy of every pixel (a third
    of reading a mask). Where Pillow keeps memory of its own after all, the pixels are copied as
    np.asarray does; and so they are where the file's tiles do not cover the whole image (a GIF
    frame smaller than its canvas), whose rest Pillow fills itself."""
    if len(image.tile) != 1 or tuple(image.tile[0][1]) != (0, 0, image.width, image.height):
        image.load()
        return np.asarray(image)
    pixels = np.empty((image.height, image.width), dtype=np.uint8)
    memory = Image.frombuffer(image.mode, image.size, pixels, "raw", image.mode, 0, 1).im
    image.im = memory
    image.load()
    return pixels if image.im is memory else np.asarray(image)


def _read_bmp_samples_as_stored(image, path):
    """Pillow takes a 4-bit BMP whose palette is the grey levels 0..15 for 8-bit greyscale, and its
    decoder fails; have it decode the 4-bit samples (as it does a 4-bit greyscale PNG's)."""
    with open(path, "rb") as file:
        header = file.read(30)
    header_size = struct.unpack_from("<I", header, 14)[0]
    bits = struct.unpack_from("<H", header, 24 if header_size == 12 else 28)[0]
    tile = image.tile[0]
    if bits == 4 and len(image.tile) == 1 and tile[0] == "raw" and tile[3][0] == "L":
        image.tile = [tuple(tile[:3]) + (("L;4", *tile[3][1:]),)]


def _valid_pixels(image, path):
    """The pixels a valid mask counts, those that are not 0 (black), as a bool array; raises
    MaskError unless the mask holds 0 and one other value (or colour) and counts some pixel."""
    _check_mask_file(image, path)
    colours = not (image.mode in ("1", "L", "I", "F") or image.mode.startswith("I;16"))
    if colours:  # palette, RGB, with alpha: each colour one word (as _rgb reads it), alpha aside
        rgb = np.asarray(image.convert("RGB")).astype(np.uint32)
        values = rgb[..., 0] | rgb[..., 1] << 8 | rgb[..., 2] << 16
    else:
        values = np.asarray(image)
    counted = values != 0
    others = values[counted]
    if others.size and (others != others[0]).any():  # a second value besides 0: not binary
        found = np.unique(values).tolist()
        listed = ", ".join(_rgb(value) if colours else str(value) for value in found[:4])
        raise MaskError(f"{shown(path)}: {len(found)} {'colours' if colours else 'values'} "
                        f"({listed}{', ...' if len(found) > 4 else ''}), not a binary mask; a "
                        "valid mask holds 0 where pixels are not counted and one other value "
                        "where they are", path)
    if not others.size:
        raise MaskError(f"{shown(path)}: every pixel is 0, so the valid mask counts no pixel",
                        path)
    return counted


def read_valid_mask(path):
    """The pixels a valid mask (--valid-masks) counts, as a bool array (see _valid_pixels); raises
    MaskError."""
    if is_array_file(path):
        return load_array(path, "valid mask") != 0
    return read_image_file(path, lambda image: _valid_pixels(image, path))


def read_kitti_road_label(image, path):
    """KITTI road's ground truth (gt_image_2, RGB) as the devkit's getGroundTruth reads it (OpenCV's
    planes 0 and 2 of its BGR order): (ids, 8, evaluated), id 1 (road) where blue > 0, else 0 (not
    road), and evaluated where red > 0; an alpha channel is left aside, as there. Raises MaskError
    for a file that is not RGB."""
    _check_mask_file(image, path)
    if image.mode not in ("RGB", "RGBA") or ";16" in _raw_mode(image):
        what = f"mode {image.mode}" if ";16" not in _raw_mode(image) else "16-bit RGB"
        raise MaskError(f"{shown(path)}: {what}, not the 8-bit RGB of KITTI road's ground truth "
                        "that --label-encoding kitti-road reads (road where blue, evaluated where "
                        "red)", path)
    rgb = np.asarray(image)
    return (rgb[..., 2] > 0).view(np.uint8), 8, rgb[..., 0] > 0


# --label-encoding: label files that hold more than ids, read as their dataset defines them, by a
# function of (image, path) -> (ids, bits, the pixels evaluated: a bool array)
LABEL_ENCODINGS = {"kitti-road": read_kitti_road_label}
KITTI_ROAD_FILE = re.compile(r"(um|umm|uu)_(road|lane)_(\d+)")  # gt_image_2's and results' names


def kitti_road_layout(listing):
    """A listing of KITTI road files keyed as the road benchmark pairs them: um_road_000000 as its
    image, um_000000, so that predictions named either way pair; the lane benchmark's ground truth
    (um_lane_000000, in the same folder) passed over. Returns (the listing, notes)."""
    masks, lanes, refused = {}, [], list(listing.refused)
    for key, path in listing.masks.items():
        folder, _, name = key.rpartition("/")
        match = KITTI_ROAD_FILE.fullmatch(name)
        if match and match[2] == "lane":
            lanes.append(path)
            continue
        image = folder + "/" * bool(folder) + f"{match[1]}_{match[3]}" if match else key
        if image in masks:
            refused.append(Refused(image, shown(path), f"{shown(path)}: a second file for image "
                                   f"{image}, after {shown(masks[image])}"))
            continue
        masks[image] = path
    notes = [f"note: passed over {plural(len(lanes), 'file')} of KITTI's lane benchmark (first: "
             f"{shown(lanes[0])}); --label-encoding kitti-road scores road"] if lanes else []
    return (listing._replace(masks=masks, refused=refused), *notes)


# --label-encoding: how a dataset that encodes its labels so names its files (find_pairs' layout)
LABEL_LAYOUTS = {"kitti-road": kitti_road_layout}


def read_label(path, palette=None, encoding=None, wide=False):
    """A label's (ids, bits, the pixels it leaves to count: a bool array, or None for every pixel):
    read_mask's (wide: as read_mask), or by its encoding of LABEL_ENCODINGS. Raises MaskError."""
    if encoding is None:
        return (*read_mask(path, palette, wide), None)
    return read_image_file(path, lambda image: LABEL_ENCODINGS[encoding](image, path))


def ids_from_colours(image, palette, path):
    """The ids an RGB (or opaque RGBA) image's colours stand for in palette; raises MaskError.

    Each pixel's colour is one 32-bit word (RGBA, alpha 255); masks are piecewise
    constant, so each run of one colour is looked up once in the sorted palette.
    """
    if image.mode == "RGBA" and np.asarray(image.getchannel("A")).min(initial=255) < 255:
        raise MaskError(f"{shown(path)}: RGBA with transparent pixels; a colour-coded mask must be "
                        "opaque", path)
    # the alpha byte is 255 everywhere
    words = np.asarray(image.convert("RGBA")).view("<u4").ravel()
    starts = np.concatenate(([0], np.flatnonzero(words[1:] != words[:-1]) + 1))
    lengths = np.diff(starts, append=words.size)
    colours = words[starts]
    where = np.minimum(np.searchsorted(palette.words, colours), len(palette.words) - 1)
    known = palette.words[where] == colours
    if not known.all():
        unknown, inverse = np.unique(colours[~known], return_inverse=True)
        shared = [word for word in unknown.tolist() if word in palette.shared]
        if shared:
            first, second = palette.shared[shared[0]]
            raise MaskError(f"{shown(path)}: colour {_rgb(shared[0])} stands for two classes in "
                            f"the palette {palette.name} (ids {first} and {second}), so the mask "
                            "cannot say which; save the masks as class ids", path)
        pixels = np.bincount(inverse, weights=lengths[~known]).astype(np.int64)
        first = np.argsort(-pixels, kind="stable")[:3]
        listed = ", ".join(f"{_rgb(int(unknown[k]))} in {plural(pixels[k], 'pixel')}"
                           for k in first)
        raise MaskError(f"{shown(path)}: {len(unknown)} "
                        f"colour{'s are' if len(unknown) > 1 else ' is'} not in the palette "
                        f"{palette.name}: {listed}{', ...' if len(unknown) > 3 else ''} (lossy "
                        "compression, or another dataset's colours?)", path)
    return np.repeat(palette.ids[where], lengths).reshape(image.height, image.width)


def _rgb(word):
    """A colour word (see colour_word) as '(r, g, b)'."""
    return f"({word & 255}, {word >> 8 & 255}, {word >> 16 & 255})"


def ids_of_palette_image(indices, image, palette):
    """A palette image's ids under --palette: its indices, unless its own palette draws every index
    it uses in a colour of --palette that stands for another id (a mask saved with a palette of its
    own order): then those ids, as the picture shows them. The two palettes that masks of ids are
    saved with, grey levels (index k drawn (k, k, k)) and Pascal VOC's colour map (labelme's,
    mmsegmentation's), are of ids."""
    used = np.flatnonzero(np.bincount(indices.ravel(), minlength=LABEL_SPACE))
    own = np.zeros((LABEL_SPACE, 3), dtype=np.uint32)
    drawn = np.asarray(image.getpalette("RGB") or [], dtype=np.uint32).reshape(-1, 3)[:LABEL_SPACE]
    own[:len(drawn)] = drawn
    colours = own[used]
    if (colours == used[:, None]).all() or (colours == class_colours()[used]).all():
        return indices
    words = colours[:, 0] | colours[:, 1] << 8 | colours[:, 2] << 16 | np.uint32(255 << 24)
    where = np.minimum(np.searchsorted(palette.words, words), len(palette.words) - 1)
    if not (palette.words[where] == words).all() or (palette.ids[where] == used).all():
        return indices
    table = np.arange(LABEL_SPACE, dtype=np.uint8)
    table[used] = palette.ids[where]
    return table[indices]


class GivenLines(NamedTuple):
    """What an option's file would hold, given as its lines instead (the Python API turns a list or
    dict into them), and the name its errors go by."""
    name: str
    lines: tuple

    def __str__(self):
        return self.name


def _text_lines(source):
    """The lines of a UTF-8 text file (or of GivenLines), numbered from 1; raises ValueError (or
    OSError). A file larger than MAX_TEXT_FILE_BYTES is refused before it is read."""
    if isinstance(source, GivenLines):
        return enumerate(source.lines, start=1)
    # reading a pipe or a device would hang
    if Path(source).exists() and not Path(source).is_file():
        raise ValueError(f"{shown(source)}: not a regular file")
    with open(source, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        data = file.read(MAX_TEXT_FILE_BYTES + 1) if size <= MAX_TEXT_FILE_BYTES else b""
    size = max(size, len(data))  # the read limit also holds for a file still growing
    if size > MAX_TEXT_FILE_BYTES:
        limit = f"{MAX_TEXT_FILE_BYTES >> 20} MiB"
        raise ValueError(f"{shown(source)}: {size} bytes, too large for a class-names, id-map or "
                         f"palette file ({limit} at most); is it the right file?")
    try:
        text = data.decode("utf-8-sig")  # -sig: files saved with a byte-order mark
        text = text.replace("\r\n", "\n").replace("\r", "\n")  # line breaks as read_text has them
    except UnicodeDecodeError as error:
        raise ValueError(f"{shown(source)}: not UTF-8 text ({error.reason} at byte "
                         f"{error.start})") from None
    return enumerate(re.split(r"\r?\n", text.removesuffix("\n")), start=1)


def _values_by_id(source, lines, value_of=str):
    """{id: value} of the lines of a file in which line k (from 0) gives id k's value, a line 'N:
    value' gives id N's wherever it stands, and a blank line gives nothing; raises ValueError.

    value_of turns a line's text into its value (raising ValueError); an id given twice is an error.
    """
    values, given_on = {}, {}
    for line_number, line in lines:
        explicit = re.fullmatch(r"\s*(-?[0-9]+)\s*:\s*(.*?)\s*", line)
        class_id, text = (int(explicit[1]), explicit[2]) if explicit else (line_number - 1,
                                                                           line.strip())
        if not text:
            continue
        where = f"{shown(source)}, line {line_number}"
        if not 0 <= class_id < LABEL_SPACE:
            raise ValueError(f"{where}: id {class_id} is outside 0..255")
        if class_id in values:
            raise ValueError(f"{where}: id {class_id} was already given on line "
                             f"{given_on[class_id]}")
        try:
            values[class_id], given_on[class_id] = value_of(text), line_number
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
    return values


def _refuse_two_readings(source, reading, other_form):
    """Raise ValueError when source, taken as reading (a preset, a list of ids), also names a
    file: which was meant cannot be told, and the numbers differ. other_form: how to give the
    former alone. A folder of that name is no file it could mean (a dataset's own folder)."""
    if Path(source).exists() and not Path(source).is_dir():
        raise ValueError(f"{shown(source)} is both {reading} and a file here; give "
                         f"./{shown(source)} for the file, or {other_form}")


def read_class_names(source):
    """Class names from a preset name or a text file: ({id: name}, the ignore id it declares or
    None).

    In the file, line k (from 0) names id k; a blank line leaves that id unnamed;
    a line 'N: name' names id N wherever it stands; a line 'ignore: N' names no
    class and says that label id N marks pixels to leave out. A preset declares
    its dataset's void id so. Raises ValueError.
    """
    if source in DATASETS:
        _refuse_two_readings(source, "a preset", "move the file away for the preset")
        return dict(DATASETS[source].names), DATASETS[source].void
    if not isinstance(source, GivenLines) and not Path(source).exists() and not re.search(
            r"[/\\.]", str(source)):
        raise ValueError(f"{shown(source)} is neither a preset (" + ", ".join(DATASETS)
                         + ") nor a file")
    lines, ignore_index, ignore_line = [], None, None
    for line_number, line in _text_lines(source):
        directive = re.fullmatch(r"\s*ignore\s*:\s*(\S*)\s*", line)
        if directive is None:
            lines.append((line_number, line))
        elif ignore_line is not None:
            raise ValueError(f"{shown(source)}, line {line_number}: the ignore id was already "
                             f"given on line {ignore_line}")
        elif directive[1].isascii() and directive[1].isdigit() and int(directive[1]) < LABEL_SPACE:
            ignore_index, ignore_line = int(directive[1]), line_number
        else:
            raise ValueError(f"{shown(source)}, line {line_number}: 'ignore:' takes an id within "
                             "0..255")
    return _values_by_id(source, lines), ignore_index


def read_instances(path):
    """A Cityscapes instance file's values (int64): class id x 1000 + the instance's number on the
    pixels of an instance, the class id elsewhere (16-bit greyscale); raises MaskError."""
    if is_array_file(path):
        return instances_of_array(load_array(path, "instance file"), shown(path), path)
    return read_image_file(path, lambda image: _decode_instances(image, path))


def instances_of_array(values, name, path=None):
    """An array of instance values (class id x 1000 + the instance's number) as int64; raises
    MaskError naming the array and its file (path, or None)."""
    if values.dtype.kind not in "iu" or values.size and not (
            0 <= values.min() <= values.max() < MAX_INSTANCE_VALUE):
        raise MaskError(f"{name}: not integers from 0 to {MAX_INSTANCE_VALUE - 1}; instance files "
                        "hold class id x 1000 + the instance's number", path)
    return values.astype(np.int64, copy=False)


def _decode_instances(image, path):
    _check_mask_file(image, path)
    bits = _greyscale_bits(image)
    if not (image.mode.startswith("I") and bits in (16, 32)):
        raise MaskError(f"{shown(path)}: mode {image.mode} ({bits}-bit) is not an instance file: "
                        "Cityscapes' are 16-bit greyscale, class id x 1000 + the instance's "
                        "number (e.g. *_gtFine_instanceIds.png)", path)
    values = np.asarray(image)  # uint16 as 16-bit files are read: no copy, and all below the most
    if values.dtype != np.uint16 and values.size and not (
            0 <= values.min() <= values.max() < MAX_INSTANCE_VALUE):
        raise MaskError(f"{shown(path)}: values from {values.min()} to {values.max()}; instance "
                        f"files hold class id x 1000 + the instance's number, below "
                        f"{MAX_INSTANCE_VALUE}", path)
    return values


def read_instance_sizes(source):
    """{id: average pixels of its instances} of --instance-sizes: lines 'id: size' (or line k giving
    id k's); raises ValueError."""
    def size_of(text):
        try:
            size = float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a size in pixels") from None
        if not 0 < size < math.inf:
            raise ValueError(f"{text!r} is not a size in pixels above 0")
        return size
    return _values_by_id(source, _text_lines(source), size_of)


def read_groups(source):
    """{name: ascending ids} of --groups: a preset of GROUP_PRESETS, or a text file of lines
    'name: id id id' (blank lines and lines from # on are left out); raises ValueError."""
    if source in GROUP_PRESETS:
        _refuse_two_readings(source, "a preset of groups", f"--groups {source} alone")
        return {name: list(ids) for name, ids in GROUP_PRESETS[source].items()}
    groups = {}
    for line_number, line in _text_lines(source):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        where = f"{shown(source)}, line {line_number}"
        match = re.fullmatch(r"([^:]+?)\s*:\s*(.*)", text)
        if not match:
            raise ValueError(f"{where}: not 'name: id id id'")
        name, ids = match[1], match[2].replace(",", " ").split()
        if not ids:
            raise ValueError(f"{where}: group {name!r} names no id")
        if not all(re.fullmatch(r"[0-9]+", word) and int(word) < LABEL_SPACE for word in ids):
            raise ValueError(f"{where}: ids are numbers within 0..255, not {' '.join(ids)!r}")
        if name in groups:
            raise ValueError(f"{where}: group {name!r} is named twice")
        groups[name] = sorted({int(word) for word in ids})
    if not groups:
        raise ValueError(f"{shown(source)}: no group in it ('name: id id id' a line)")
    return groups


class IdMap(NamedTuple):
    """An id map (--label-map, --inference-map): its name as given, the id each of the 256 ids
    becomes, and, when it maps ids above 255 (or every other id, '*'), the id each of 0..65535
    becomes, -1 for those above 255 it leaves as they are (which no class can be)."""
    name: str
    table: np.ndarray  # uint8[256]
    wide: np.ndarray | None = None  # int32[MAX_MAPPED_ID + 1], or None


def read_id_map(source):
    """An IdMap from a preset, an inline list ('255:1' or '0:0,255:1') or a text file; raises
    ValueError.

    The file has a line 'from: to' per id; '*: to' sends every id not listed to
    one id; without it, ids not listed stay as they are.
    """
    where = shown(source)
    if source in ID_MAP_PRESETS:
        _refuse_two_readings(source, "a preset", "move the file away for the preset")
        entries = list(ID_MAP_PRESETS[source].items())
    else:
        inline = re.fullmatch(r"\s*(\*|[0-9]+)\s*:\s*[0-9]+\s*(,\s*(\*|[0-9]+)\s*:\s*[0-9]+\s*)*",
                              source)
        if inline:
            spaced = ", ".join(re.sub(r"\s*:\s*", ": ", part.strip()) for part in source.split(","))
            other_form = spaced if spaced != source else spaced.replace(" ", "")  # the same list
            _refuse_two_readings(source, "a list of ids", f"'{other_form}' for the list")
            lines = enumerate(source.split(","), start=1)
        elif not Path(source).exists() and not re.search(r"[/\\.]", source):
            raise ValueError(f"{where} is neither a preset (" + ", ".join(ID_MAP_PRESETS)
                             + "), a list such as 255:1, nor a file")
        else:
            lines = _text_lines(source)
        entries, given_in = [], {}
        for line_number, line in lines:
            if not line.strip():
                continue
            entry = re.fullmatch(r"\s*(\*|[0-9]+)\s*:\s*([0-9]+)\s*", line)
            if not entry or (entry[1] != "*"
                             and int(entry[1]) > MAX_MAPPED_ID) or int(entry[2]) >= LABEL_SPACE:
                raise ValueError(f"{where}, entry {line_number}: {line.strip()!r} is not 'from: "
                                 f"to' with a from-id within 0..{MAX_MAPPED_ID} and a to-id within "
                                 "0..255 (or '*: to')")
            source_id = entry[1] if entry[1] == "*" else int(entry[1])
            if source_id in given_in:  # which of the two was meant? say so rather than pick one
                raise ValueError(f"{where}, entry {line_number}: {source_id} was already mapped in "
                                 f"entry {given_in[source_id]}")
            entries.append((source_id, int(entry[2])))
            given_in[source_id] = line_number
        if not entries:
            raise ValueError(f"{where}: maps no id (expected 'from: to' entries)")
    wide = np.arange(MAX_MAPPED_ID + 1, dtype=np.int32)
    wide[LABEL_SPACE:] = -1  # an id above 255 that the map does not send into the label space
    # '*' first, then the ids
    for source_id, target in sorted(entries, key=lambda entry: entry[0] != "*"):
        wide[slice(None) if source_id == "*" else source_id] = target
    # A preset maps 8-bit ids: its '*' does not reach ids above 255 (Cityscapes' instanceIds files
    # given as labels would become void, not be refused).
    maps_above = source not in ID_MAP_PRESETS and any(
        source_id == "*" or source_id >= LABEL_SPACE for source_id, _ in entries)
    return IdMap(source, wide[:LABEL_SPACE].astype(np.uint8), wide if maps_above else None)


class Palette(NamedTuple):
    """The colours of colour-coded masks (--palette): each colour as a 32-bit RGBA word (alpha 255),
    sorted, and the id it stands for; and the colours a preset gives to two ids, which no mask can
    be read by."""
    name: str
    words: np.ndarray  # uint32, ascending
    ids: np.ndarray  # uint8
    shared: dict = {}  # word -> the ids that share its colour


def colour_word(colour):
    """An (r, g, b) colour as the 32-bit word ids_from_colours compares: RGBA bytes, alpha 255."""
    r, g, b = colour
    return r | g << 8 | b << 16 | 255 << 24


def _colour(text):
    """(r, g, b) from 'R G B' (or 'R, G, B') or '#rrggbb'; raises ValueError."""
    match = re.fullmatch(r"#([0-9a-fA-F]{6})", text)
    if match:
        return tuple(bytes.fromhex(match[1]))
    parts = re.split(r"[\s,]+", text)
    if len(parts) != 3 or not all(part.isascii() and part.isdigit() and int(part) < 256
                                  for part in parts):
        raise ValueError(f"{text!r} is not a colour: 'R G B' with each within 0..255, or '#rrggbb'")
    return tuple(map(int, parts))


def read_palette(source):
    """A Palette from a preset or a text file in which line k (or 'N: ...') gives id k's colour,
    as 'R G B' or '#rrggbb'; raises ValueError. A colour given to two ids is an error."""
    shared = {}
    if source in PALETTE_PRESETS:
        _refuse_two_readings(source, "a preset", "move the file away for the preset")
        by_colour = dict(PALETTE_PRESETS[source])
        if source in DATASETS:  # a colour the dataset draws two classes in stands for neither
            for class_id, colour in DATASETS[source].colours.items():
                if by_colour.get(colour, class_id) != class_id:
                    shared[colour_word(colour)] = tuple(sorted((by_colour.pop(colour), class_id)))
    else:
        if not Path(source).exists() and not re.search(r"[/\\.]", source):
            raise ValueError(f"{shown(source)} is neither a preset (" + ", ".join(PALETTE_PRESETS)
                             + ") nor a file")
        by_colour = {}
        for class_id, colour in _values_by_id(source, _text_lines(source), _colour).items():
            if by_colour.setdefault(colour, class_id) != class_id:
                raise ValueError(f"{shown(source)}: colour {colour} is given to ids "
                                 f"{by_colour[colour]} and {class_id}")
    words = {colour_word(colour): class_id for colour, class_id in by_colour.items()}
    order = sorted(words)
    return Palette(source, np.array(order, dtype=np.uint32),
                   np.array([words[w] for w in order], np.uint8),
                   shared)


def id_order(key):
    """The order of image ids: natural order of what is shown, ties broken by the real name, so that
    every run (and every --shard process) sees the same order."""
    return natural_key(shown(key)), key


class Pair(NamedTuple):
    """A label and its inference; key is the file name's stem as the file system has it. The paths
    are kept as text: a run holds every pair, and a Path object weighs several times its text."""
    key: str
    label: str
    inference: str
    valid: str | None = None  # its valid mask (--valid-masks): the pixels to count
    instances: str | None = None  # its instance file (--instances)
    # --coco-annotations: the label's CocoImage; --coco-panoptic: its PanopticSegments
    annotations: object = None


class Refused(NamedTuple):
    """A file, or pair, that is not scored: its key, the file at fault (shown) and the one-line
    reason."""
    key: str
    path: str
    message: str


class Listing(NamedTuple):
    """The masks of one folder by key, and what was not taken."""
    masks: dict  # key -> path; the key is the path below the folder, without suffix and name ending
    # Refused: two masks for one key, a mask name on what is not a file, a sub-folder not read
    refused: list
    passed_over: list  # files that are not masks
    without_suffix: list  # masks whose name does not end in the suffix that was asked for
    subfolders: int  # sub-folders not searched (without recursive)


def _is_folder(entry):
    """Whether a folder entry is a folder; an entry that cannot be told (a link in a loop, or into a
    folder that cannot be read) is not, so that reading it refuses that one file with its reason."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def _files(folder, recursive):
    """(path, path below folder, in posix form) of the files of a folder (and its sub-folders),
    hidden ones left out; the number of sub-folders not searched; and the sub-folders not read, as
    (path, why). Text, not Path objects: thousands are held. Raises OSError when folder cannot be
    read."""
    if not recursive:
        with os.scandir(folder) as entries:
            entries = [(entry, _is_folder(entry)) for entry in entries
                       if not entry.name.startswith(".")]
        return [(entry.path, entry.name) for entry, is_folder in entries if not is_folder], \
            sum(is_folder for _, is_folder in entries), []
    files, not_read = _walk(folder)
    return files, 0, not_read


def _unreadable(error):
    return f"cannot read the folder ({error.strerror or error}); its masks are not scored"


def _walk(folder):
    """The files of a folder and its sub-folders as (path, path below folder), following links
    to folders, each real folder once (by st_dev and st_ino); and the sub-folders not read, as
    (path, why): one that cannot be read, a link back into a folder on its way (a loop), a second
    link to a folder already read. Real sub-folders are read before linked ones: of a folder's
    two names, the link is passed over."""
    files, not_read, links = [], [], []
    top = os.stat(folder)
    top_identity = (top.st_dev, top.st_ino)
    read_as = {top_identity: os.fspath(folder)}  # each folder read, by identity: its path
    folders = [(os.fspath(folder), "", (top_identity,))]  # to read: path, below, folders on the way

    def enter(path, below, chain, what):
        try:
            status = os.stat(path)
        except OSError as error:
            not_read.append((path, _unreadable(error)))
            return
        identity = (status.st_dev, status.st_ino)
        if identity in chain:
            not_read.append((path, f"a {what} in a loop: not followed"))
        elif identity in read_as:  # the same files under other ids: counted once
            first = shown(read_as[identity])
            not_read.append((path, f"a second {what} to {first}, already read: not followed"))
        else:
            read_as[identity] = path
            folders.append((path, below, chain + (identity,)))

    while folders or links:
        if not folders:  # every real folder is read: the next link, in id order
            links.sort(key=lambda link: id_order(link[1]), reverse=True)
            enter(*links.pop(), "link")
            continue
        path, below, chain = folders.pop()
        try:
            with os.scandir(path) as listing:
                entries = sorted((entry for entry in listing if not entry.name.startswith(".")),
                                 key=lambda entry: entry.name, reverse=True)  # read in name order
        except OSError as error:
            if len(chain) == 1:  # the folder itself
                raise
            not_read.append((path, _unreadable(error)))
            continue
        for entry in entries:
            entry_below = f"{below}/{entry.name}" if below else entry.name
            if not _is_folder(entry):
                files.append((entry.path, entry_below))
            elif entry.is_symlink():
                links.append((entry.path, entry_below, chain))
            else:
                enter(entry.path, entry_below, chain, "folder")
    return files, not_read


def list_masks(folder, recursive=False, suffix="", kinds=MASK_SUFFIXES):
    """The masks of a folder by key: the path below the folder without the file's suffix and without
    the name's ending suffix (e.g. '_gtFine_labelTrainIds'). Returns a Listing; kinds are the file
    suffixes listed as masks.

    The class names file is passed over silently; other files whose suffix is
    not an image's go to passed_over. Two files with the same key, a mask name
    on something that is not a file (a named pipe), or a sub-folder that cannot
    be read (or a link in a loop, or to a folder already read), are refused.
    """
    masks, passed_over, without_suffix = {}, [], []
    files, subfolders, not_read = _files(folder, recursive)
    # no mask's key ends in /
    refused = [Refused(Path(path).relative_to(folder).as_posix() + "/", shown(path),
                       f"{shown(path)}: {why}") for path, why in not_read]
    for path, below in sorted(files, key=lambda item: id_order(item[1])):
        if below == CLASS_NAMES_FILE:
            continue
        below_stem, extension = os.path.splitext(below)
        stem = os.path.basename(below_stem)
        if extension.lower() not in kinds or not stem:
            passed_over.append(path)
            continue
        if suffix and (not stem.endswith(suffix) or stem == suffix):
            without_suffix.append(path)
            continue
        key = below_stem[:len(below_stem) - len(suffix)]
        # reading a pipe or a device would hang
        if not os.path.isfile(path) and os.path.exists(path):
            refused.append(Refused(key, shown(path), f"{shown(path)}: not a regular file"))
        elif key in masks:
            refused.append(Refused(key, shown(path),
                                   f"{shown(masks[key])} and {shown(path)}: two masks for one id"))
        else:
            masks[key] = path
    for error in refused:
        masks.pop(error.key, None)
    return Listing(masks, refused, passed_over, without_suffix, subfolders)


def name_ending(names):
    """The ending the names share from a separator on, after their last number:
    '_gtFine_labelTrainIds' of Cityscapes' labels, '_mask' of 'x_mask' and 'y_mask'; '' when they
    share none."""
    shared = os.path.commonprefix([name[::-1] for name in names])[::-1]
    parts = re.split(r"([_\-. ])", shared)  # words at even places, separators at odd ones
    start = next((index + 1 for index in range(len(parts) - 1, -1, -2)
                  if parts[index].isdigit()), 1)
    return "".join(parts[start:])


def _same_file(first, second):
    """Whether two paths are one file: the same path, a link to it, or a hard link."""
    try:
        return first == second or os.path.samestat(os.stat(first), os.stat(second))
    except OSError:  # one that cannot be read is refused when it is read
        return False


def _pair(labels, inferences, labels_dir, inferences_dir):
    """Pairs of the keys found in both listings, and a Refused for each key found in one only."""
    refused = labels.refused + inferences.refused
    refused_keys = {error.key for error in refused}
    pairs = []
    for key in sorted((labels.masks.keys() | inferences.masks.keys()) - refused_keys, key=id_order):
        if key not in inferences.masks:
            label = shown(labels.masks[key])
            why = f"{label}: no inference of that name in {shown(inferences_dir)}"
            refused.append(Refused(key, label, why))
        elif key not in labels.masks:
            inference = shown(inferences.masks[key])
            refused.append(Refused(key, inference,
                                   f"{inference}: no label of that name in {shown(labels_dir)}"))
        # a file against itself proves nothing
        elif _same_file(labels.masks[key], inferences.masks[key]):
            label, inference = shown(labels.masks[key]), shown(inferences.masks[key])
            refused.append(Refused(key, label,
                                   f"{label}: the label and the inference are the same file "
                                               f"({inference})"))
        else:
            pairs.append(Pair(key, str(labels.masks[key]), str(inferences.masks[key])))
    # Two names shown alike (a newline, and a backslash and n) are two images with one id in every
    # report: the first keeps it, the others are refused.
    first_of_id = {}
    for pair in list(pairs):
        first = first_of_id.setdefault(shown(pair.key), pair)
        if first is not pair:
            pairs.remove(pair)
            refused.append(Refused(pair.key, shown(pair.label),
                                   f"{shown(pair.label)}: its id {shown(pair.key)} "
                                   f"is shown as {shown(first.label)}'s is; rename one of them"))
    return pairs, refused


def _endings_said(listing):
    """How the names of a folder's masks end: 'in _x (3 files), in _y (2)'."""
    endings = {}
    for path in listing.masks.values():
        ending = name_ending([Path(path).stem]) or "(no ending)"
        endings[ending] = endings.get(ending, 0) + 1
    return ", ".join(f"{ending} ({plural(count, 'file')})" for ending, count in endings.items())


def by_file_name(listing):
    """A Listing's masks keyed by their file name alone, without their sub-folders; None when two of
    them would share a key."""
    masks = {key.rpartition("/")[2]: path for key, path in listing.masks.items()}
    return listing._replace(masks=masks) if len(masks) == len(listing.masks) else None


def _other_pairings(labels, inferences, labels_dir, inferences_dir, recursive, suffixes_given):
    """The other ways to pair two folders' masks when their ids pair nothing, in turn: without each
    folder's common name ending (when no suffix was given), and, with recursive, by file name alone
    (when it is unique in each folder: labels in sub-folders, as Cityscapes' cities, against
    predictions written flat). Yields (label listing, inference listing, the note that says so)."""
    listings = [(labels, inferences, "")]  # with what differs from the exact names
    endings = name_ending([Path(p).stem for p in labels.masks.values()]), \
        name_ending([Path(p).stem for p in inferences.masks.values()])
    if not suffixes_given and any(endings) and endings[0] != endings[1]:
        without = (f"without the endings {endings[0] or '(none)'} of the labels and "
                   f"{endings[1] or '(none)'} of the inferences (--label-suffix and "
                   "--inference-suffix say so and silence this note)")
        listings.append((list_masks(labels_dir, recursive, endings[0]),
                         list_masks(inferences_dir, recursive, endings[1]), without))
        note = f"note: no file names match; pairing by their names {without}"
        yield listings[-1][0], listings[-1][1], note
    if recursive:
        for label_listing, inference_listing, without in listings:
            flat = by_file_name(label_listing), by_file_name(inference_listing)
            if all(flat):
                yield (*flat,
                       "note: no ids match with their sub-folders; pairing by file name alone, "
                       "which is unique in both folders" + (f", and {without}" if without else ""))


def _ending_counts(keys):
    """{(label ending, prediction ending): ids paired} of ONE_FOLDER_ENDINGS that pair any key."""
    def ids(ending):
        return {key[:-len(ending)] for key in keys
                if key.endswith(ending) and key.rpartition("/")[2] != ending}
    counts = {endings: len(ids(endings[0]) & ids(endings[1])) for endings in ONE_FOLDER_ENDINGS}
    return {endings: count for endings, count in counts.items() if count}


def one_folder_endings(folder, recursive):
    """The pair of ONE_FOLDER_ENDINGS that pairs the most masks of a folder, and how many it pairs;
    raises RunError when none pairs any, or two pair as many: which files are labels is unknown."""
    counts = _ending_counts(list_masks(folder, recursive).masks.keys())
    most = max(counts.values(), default=0)
    best = [f"*{label} against *{prediction}" for (label, prediction), count in counts.items()
            if count == most]
    if len(best) == 1:
        return next(item for item in counts.items() if item[1] == most)
    why = (f"{' and '.join(best)} pair as many ids, {most}" if best
           else "no known pair of name endings, such as _target and _pred, pairs them")
    raise RunError(f"--labels and --inferences name one folder, {shown(folder)}, and its files "
                   f"cannot be told apart ({why}): give --label-suffix and --inference-suffix")


def _claimed_by(listing, other):
    """listing without other's masks: in one folder, a file that ends in both suffixes ('' and
    _pred) is the longer one's."""
    taken = set(other.masks.values())
    masks = {key: path for key, path in listing.masks.items() if path not in taken}
    return listing._replace(masks=masks)


def pairs_in_one_folder(folder, recursive, label_suffix, inference_suffix):
    """find_pairs of one folder given as both --labels and --inferences: labels and predictions
    told apart by the suffixes given, else by the pair of known name endings that pairs the most;
    the other files are passed over, counted in one note. Raises RunError when the files cannot
    be told apart."""
    note = ""
    if not (label_suffix or inference_suffix):
        (label_suffix, inference_suffix), count = one_folder_endings(folder, recursive)
        note = (f"note: --labels and --inferences are one folder: pairing *{label_suffix} against "
                f"*{inference_suffix} ({plural(count, 'pair')})")
    elif label_suffix == inference_suffix:
        raise RunError(f"--labels and --inferences name one folder, {shown(folder)}, and "
                       "--label-suffix and --inference-suffix are the same: its files cannot be "
                       "told apart; give the two endings that do")
    labels = list_masks(folder, recursive, label_suffix)
    inferences = list_masks(folder, recursive, inference_suffix)
    if len(label_suffix) < len(inference_suffix):
        labels = _claimed_by(labels, inferences)
    else:
        inferences = _claimed_by(inferences, labels)
    pairs, refused = _pair(labels, inferences, folder, folder)
    refused = list(dict.fromkeys(refused))  # a sub-folder that cannot be read is in both listings
    in_neither = set(inferences.without_suffix).intersection(labels.without_suffix)
    others = sorted([*in_neither, *labels.passed_over], key=lambda path: natural_key(shown(path)))
    passed = (f"passed over {plural(len(others), 'other file')} (first: {shown(others[0])})"
              if others else "")
    notes = []
    if note:
        notes.append(f"{note}; {passed + '; ' if passed else ''}--label-suffix and "
                     "--inference-suffix say so and silence this note")
    elif passed:
        neither = f"neither {label_suffix or '(nothing)'} nor {inference_suffix or '(nothing)'}"
        notes.append(f"note: {shown(folder)} is both --labels and --inferences: {passed}, as their "
                     f"names end in {neither}")
    hints = [] if pairs else [
        f"in one folder, {plural(len(labels.masks), 'mask')} taken for labels and "
        f"{len(inferences.masks)} for inferences share no id: give both --label-suffix and "
        "--inference-suffix, the endings that tell them apart"]
    return pairs, refused, notes, hints


def find_pairs(labels_dir, inferences_dir, recursive=False, label_suffix="", inference_suffix="",
               inference_kinds=MASK_SUFFIXES, layout=None):
    """Pair label and inference files by their real names; returns (pairs, refused, notes, hints).

    Pairs come in id order. Two names that are shown alike (a tab and a
    backslash-t) are different names and are never paired with each other. When
    exact names pair nothing, the first of _other_pairings that pairs files is
    taken (a note says so). notes are for stderr; hints say why nothing paired,
    when nothing did. One folder given as both is paired by pairs_in_one_folder:
    a file is never paired with itself. layout: a dataset's way of naming its files (of
    LABEL_LAYOUTS), which keys both listings as the dataset pairs them.
    """
    if os.path.samefile(labels_dir, inferences_dir):  # the same files on both sides
        return pairs_in_one_folder(labels_dir, recursive, label_suffix, inference_suffix)
    labels = list_masks(labels_dir, recursive, label_suffix)
    inferences = list_masks(inferences_dir, recursive, inference_suffix, inference_kinds)
    notes, hints = [], []
    if layout is not None:
        (labels, *notes), (inferences, *more) = layout(labels), layout(inferences)
        notes += more
    pairs, refused = _pair(labels, inferences, labels_dir, inferences_dir)
    if not pairs:
        for label_listing, inference_listing, note in _other_pairings(labels, inferences,
                                                                      labels_dir, inferences_dir,
                                                                      recursive,
                                                                      label_suffix
                                                                      or inference_suffix):
            retried = _pair(label_listing, inference_listing, labels_dir, inferences_dir)
            if retried[0]:
                (labels, inferences), (pairs, refused) = (label_listing, inference_listing), retried
                notes.append(note)
                break
    for listing, folder, suffix in ((labels, labels_dir, label_suffix),
                                    (inferences, inferences_dir, inference_suffix)):
        if listing.without_suffix:
            count = len(listing.without_suffix)
            notes.append(f"note: passed over {plural(count, 'file')} in {shown(folder)} whose name "
                         f"does not end in {suffix} (first: {shown(listing.without_suffix[0])})")
    passed_over = labels.passed_over + inferences.passed_over
    if passed_over:
        what = "are not masks" if len(passed_over) > 1 else "is not a mask"
        notes.append(f"note: passed over {plural(len(passed_over), 'file')} that {what}: "
                     + ", ".join(map(shown, passed_over[:5]))
                     + (", ..." if len(passed_over) > 5 else ""))
    if not pairs:
        if labels.subfolders or inferences.subfolders:
            hints.append(f"{plural(labels.subfolders, 'sub-folder')} of "
                         f"{shown(labels_dir)} and {inferences.subfolders} of "
                         f"{shown(inferences_dir)} were not searched: use --recursive")
        if labels.masks and inferences.masks:
            hints.append(f"label names end in {_endings_said(labels)}; inference names in "
                         f"{_endings_said(inferences)}: give the ending that is not part of the id "
                         "with --label-suffix and --inference-suffix")
    return pairs, refused, notes, hints


def with_valid_masks(pairs, folder, recursive=False, suffix="", layout=None, field="valid",
                     what="valid mask"):
    """The pairs with their valid masks (or another file per pair: field, the Pair's field, what,
    its name), found in folder by the pair's key (list_masks and layout, as labels are), and a
    Refused for each pair without one; one of no pair is passed over. Raises OSError when folder
    cannot be read."""
    listing = list_masks(folder, recursive, suffix)
    listing = listing if layout is None else layout(listing)[0]
    not_taken = {error.key: error for error in listing.refused}  # two masks for one id, ...
    found, refused = [], []
    for pair in pairs:
        if pair.key in listing.masks:
            found.append(pair._replace(**{field: str(listing.masks[pair.key])}))
        elif pair.key in not_taken:
            refused.append(not_taken[pair.key])
        else:
            label = shown(pair.label)
            refused.append(Refused(pair.key, label, f"{label}: no {what} "
                                   f"{shown(pair.key + suffix)}.* in {shown(folder)}"))
    return found, refused


def read_pair(label_path, inference_path, palette=None, label_map=None, inference_map=None,
              ignore_index=None, label_encoding=None, valid_path=None):
    """The class ids of a label and its inference, each mapped by its IdMap, checked to fit
    together, and the pixels to count: (label, inference, valid), valid a bool array, or None when
    every pixel counts. A label_encoding (of LABEL_ENCODINGS) may leave pixels out, and so does a
    valid mask (valid_path) where it is 0. Raises MaskError."""
    label, label_bits, valid = read_label(label_path, palette, label_encoding,
                                          _maps_wide(label_map))
    inference, inference_bits = read_mask(inference_path, palette, _maps_wide(inference_map))
    _check_same_size(label_path, label.shape, inference_path, inference.shape)
    valid = _with_valid_mask(valid, valid_path, label_path, label.shape)
    label = mapped_ids(label, label_map, label_path, "--label-map")
    inference = mapped_ids(inference, inference_map, inference_path, "--inference-map")
    _check_bit_depths(MaskSide(label_path, label, label_bits, label_map, "--label-map"),
                      MaskSide(inference_path, inference, inference_bits, inference_map,
                               "--inference-map"),
                      ignore_index)
    return label, inference, valid


def _maps_wide(id_map):
    return id_map is not None and id_map.wide is not None


def mapped_ids(ids, id_map, path, option):
    """ids through an IdMap (None: as they are): uint8 ids by its table, wider ones (read for a map
    of ids above 255) by its wide table; raises MaskError when it leaves an id above 255."""
    if id_map is None:
        return ids
    if ids.dtype == np.uint8:
        return id_map.table[ids]
    mapped = id_map.wide[ids]
    unmapped = mapped < 0
    if unmapped.any():
        raise MaskError(f"{shown(path)}: {plural(int(unmapped.sum()), 'pixel')} with ids above "
                        f"255 that {option} {shown(id_map.name)} does not map (the largest "
                        f"{int(ids[unmapped].max())}); give each a 'from: to' line, or '*: to' for "
                        "the rest", path)
    return mapped.astype(np.uint8)


def _check_same_size(path, shape, other_path, other_shape, at_fault=None):
    """Raise MaskError, naming both files, unless two masks have one size."""
    if shape != other_shape:
        raise MaskError(f"{shown(path)} is {shape[1]}x{shape[0]} but {shown(other_path)} is "
                        f"{other_shape[1]}x{other_shape[0]}: sizes differ", at_fault)


def _with_valid_mask(valid, valid_path, label_path, shape):
    """The pixels to count: those of valid (None: every pixel) that the valid mask at valid_path (if
    any) counts too; raises MaskError."""
    if valid_path is None:
        return valid
    counted = read_valid_mask(valid_path)
    _check_same_size(valid_path, counted.shape, label_path, shape, at_fault=valid_path)
    return counted if valid is None else valid & counted  # both must hold


def read_score_pair(label_path, scores_path, positive_class, palette=None, label_map=None,
                    ignore_index=None, label_encoding=None, valid_path=None):
    """A label and its score map (--scores), read as read_pair reads a pair: (the label's pixels of
    the positive class, the pixels counted or None for all, and the map's codes and levels as
    read_scores gives them); raises MaskError."""
    label, _, valid = read_label(label_path, palette, label_encoding, _maps_wide(label_map))
    codes, levels = read_scores(scores_path)
    _check_same_size(label_path, label.shape, scores_path, codes.shape)
    valid = _with_valid_mask(valid, valid_path, label_path, label.shape)
    label = mapped_ids(label, label_map, label_path, "--label-map")
    if ignore_index is not None:
        valid = label != ignore_index if valid is None else valid & (label != ignore_index)
    return label == positive_class, valid, codes, levels


class CocoImage(NamedTuple):
    """What an image's label is made of under --coco-annotations, carried by its Pair: its size, and
    its annotations as (class id, whether a crowd region, segmentation as the file gives it), and
    their ids as the file gives them, for messages; where its camera picture may be (its file_name
    without the suffix, when a path below the pictures' folder)."""
    height: int
    width: int
    shapes: tuple
    ids: tuple = ()
    picture: str | None = None

    def classes(self):
        return {class_id for class_id, _, _ in self.shapes}


class PanopticSegments(NamedTuple):
    """A COCO panoptic PNG's segments (--coco-panoptic), carried by its Pair: {segment id: class
    id}, and the ids of the crowd segments."""
    classes: dict
    crowd: frozenset


class CocoLabels(NamedTuple):
    """The labels of COCO files: {key: (the label's text, its CocoImage or PanopticSegments)}, the
    images or annotations refused, the record of the files (Scoring.coco), the class names the
    categories give, and notes for stderr."""
    labels: dict
    refused: list
    record: dict
    names: dict
    notes: list


def read_coco_json(path, lists):
    """The document of a COCO JSON file that holds each of lists (e.g. images, annotations) as a
    list; raises RunError naming the file."""
    try:
        with open(path, "rb") as file:
            document = json.load(file)
    except OSError as error:
        raise RunError(f"{shown(path)}: cannot read the file ({error.strerror or error})") from None
    except (ValueError, RecursionError) as error:
        raise RunError(f"{shown(path)}: not JSON ({shown(str(error))[:200]})") from None
    missing = [key for key in lists if not isinstance(document, dict)
               or not isinstance(document.get(key), list)]
    if missing:
        raise RunError(f"{shown(path)}: not a COCO annotation file: it has no '{missing[0]}' list")
    return document


def coco_files_record(paths):
    """The files' names, sizes and SHA-256 hashes, so that merged shards are known to come from the
    same files."""
    import hashlib  # only a COCO run pays for the import
    record = []
    for path in paths:
        digest = hashlib.sha256()
        with open(path, "rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
        record.append({"name": Path(path).name, "bytes": os.path.getsize(path),
                       "sha256": digest.hexdigest()})
    return record


def _coco_categories(documents):
    """{category id: name} of the documents' categories; raises RunError for one that is not an id
    and a name, or one id named two ways."""
    categories = {}
    for path, document in documents:
        for category in document.get("categories") or []:
            category_id = category.get("id") if isinstance(category, dict) else None
            name = category.get("name") if isinstance(category, dict) else None
            if type(category_id) is not int or category_id < 0 or not isinstance(name, str):
                raise RunError(f"{shown(path)}: a category without a whole-number id and a name: "
                               f"{shown(json.dumps(category))[:100]}")
            if categories.setdefault(category_id, name) != name:
                raise RunError(f"{shown(path)}: category {category_id} is named "
                               f"{shown(name)!r} here and {shown(categories[category_id])!r} in "
                               "another file")
    return categories


def class_of_categories(categories, contiguous, used=None):
    """{category id: class id}: the category ids as they are, or with contiguous 1..N in the order
    of the ids (0 is left to the pixels no annotation covers); a category beyond the label space is
    left out, unless an annotation is of it (used: the categories annotations are of; None: all):
    then RunError."""
    ordered = sorted(categories)
    classes = dict(zip(ordered, range(1, len(ordered) + 1))) if contiguous else {
        category: category for category in ordered}
    beyond = [category for category, class_id in classes.items() if class_id >= LABEL_SPACE]
    if [category for category in beyond if used is None or category in used]:
        raise RunError(f"category {beyond[0]} is beyond the label space 0..255"
                       + ("" if contiguous else ": number the categories 1..N with "
                          "--coco-contiguous"))
    return {category: class_id for category, class_id in classes.items()
            if class_id < LABEL_SPACE}


def _polygon_problem(segmentation, height, width):
    """Why a segmentation's polygons cannot be drawn, or None: each is a list of an even number,
    at least 6 (3 points), of finite numbers, none farther outside the image than its own size
    (pycocotools' drawing grows with the vertices' reach, and crashes far out)."""
    reach = max(height, width)
    for polygon in segmentation:
        if not isinstance(polygon, list) or not all(
                type(value) in (int, float) and math.isfinite(value) for value in polygon):
            return "a polygon that is not a list of finite numbers"
        if len(polygon) < 6 or len(polygon) % 2:
            return (f"a polygon of {len(polygon)} numbers; a polygon is x, y pairs of at least 3 "
                    "points")
        if not all(-reach <= value <= 2 * reach for value in polygon):
            return (f"a polygon with a vertex far outside the {width}x{height} image "
                    f"({max(polygon, key=abs)})")
    return None if segmentation else "no polygon"


def _segmentation_problem(segmentation, height, width):
    """Why an annotation's segmentation cannot be drawn on an image of height x width, or None:
    polygons, or a run-length encoding (counts a list, or COCO's compressed text) of the image's
    size."""
    if isinstance(segmentation, list):
        return _polygon_problem(segmentation, height, width)
    if not isinstance(segmentation, dict) or "counts" not in segmentation:
        return "a segmentation that is neither polygons nor a run-length encoding"
    counts = segmentation["counts"]
    if segmentation.get("size") != [height, width]:
        return (f"a run-length encoding of size {shown(json.dumps(segmentation.get('size')))}, "
                f"not the image's [{height}, {width}]")
    if isinstance(counts, list) and all(type(run) is int and run >= 0 for run in counts):
        return None if sum(counts) == height * width else (
            f"a run-length encoding of {sum(counts)} pixels, not the image's {height * width}")
    return None if isinstance(counts, str) and counts and all(
        "0" <= character <= "o" for character in counts) else (
        "a run-length encoding whose counts are neither runs nor COCO's compressed text")


def _coco_images(documents):
    """{image id: (key, file_name, height, width)} of the documents' images, keyed by the file
    name's stem; a Refused for each image that cannot be used, and the ids of those left out (whose
    annotations are passed over); raises RunError for an image listed two ways."""
    images, refused, keys, left_out = {}, [], {}, set()
    for path, document in documents:
        for image in document["images"]:
            image = image if isinstance(image, dict) else {}
            image_id, file_name = image.get("id"), image.get("file_name")
            sides = [image.get(side) for side in ("height", "width")]
            problem = ("no id" if not isinstance(image_id, int | str) or image_id == ""
                       else "no file name" if not isinstance(file_name, str) or not file_name
                       else None if all(type(side) in (int, float) and side >= 1
                                        and float(side).is_integer() for side in sides)
                       else "no height and width in whole pixels")
            if problem:
                left_out.add(image_id if isinstance(image_id, int | str) else None)
                named = isinstance(file_name, str) and file_name  # its inference's key
                refused.append(Refused(
                    os.path.splitext(file_name.replace("\\", "/").split("/")[-1])[0] if named
                    else str(image_id), shown(path),
                    f"{shown(path)}: image {shown(json.dumps(image_id))} has {problem}"))
                continue
            key = os.path.splitext(file_name.replace("\\", "/").split("/")[-1])[0]
            entry = (key, file_name, *(int(side) for side in sides))
            if images.setdefault(image_id, entry) != entry:
                raise RunError(f"{shown(path)}: image {shown(json.dumps(image_id))} is "
                               f"{shown(file_name)} {entry[3]}x{entry[2]} here and otherwise in "
                               "another file")
            if keys.setdefault(key, image_id) != image_id:
                refused.append(Refused(key, shown(file_name), f"{shown(path)}: images "
                                       f"{keys[key]} and {image_id} have one file name, "
                                       f"{shown(key)}; the second is left out"))
                del images[image_id]
                left_out.add(image_id)
    return images, refused, left_out


def read_coco_annotations(paths, contiguous=False):
    """The labels of COCO annotation files (instances and stuff, merged): CocoLabels. One pass over
    each file. Category ids are class ids as they are, or 1..N (contiguous); 0 is where no
    annotation is. Stuff's 'other' (183) is left out beside thing annotations, whose pixels it
    covers. An annotation that cannot be drawn refuses its image; one of an image not listed is
    refused as that image id. Raises RunError for a file that is not COCO."""
    twice = given_twice(paths)
    if twice is not None:
        raise RunError(f"{shown(twice[0])} is given twice")
    documents = [(path, read_coco_json(path, ("images", "annotations"))) for path in paths]
    categories = _coco_categories(documents)
    notes, other_left_out = [], OTHER_STUFF in categories and any(
        category <= MAX_THING for category in categories)
    if other_left_out:
        del categories[OTHER_STUFF]
        notes.append(f"note: the stuff category {OTHER_STUFF} ('other') is left out: its pixels "
                     "are the things' of the instance annotations")
    used = {annotation.get("category_id") for _, document in documents
            for annotation in document["annotations"] if isinstance(annotation, dict)}
    classes = class_of_categories(categories, contiguous, used)
    images, refused, left_out = _coco_images(documents)
    text = "+".join(shown(path) for path in paths)
    shapes, ids = ({image_id: [] for image_id in images} for _ in range(2))
    bad = {}
    for path, document in documents:
        for annotation in document["annotations"]:
            fields = annotation if isinstance(annotation, dict) else {}
            image_id, category = fields.get("image_id"), fields.get("category_id")
            if category == OTHER_STUFF and other_left_out or image_id in left_out:
                continue
            problem = _annotation_problem(fields, images, categories)
            if problem and image_id not in images:
                refused.append(Refused(str(image_id), shown(path), f"{shown(path)}: {problem}"))
            elif problem:
                bad.setdefault(image_id, f"{shown(path)}: {problem}")
            else:
                shapes[image_id].append((classes[category], bool(fields.get("iscrowd")),
                                         fields["segmentation"]))
                ids[image_id].append(fields.get("id"))
    labels = {}
    for image_id, (key, file_name, height, width) in images.items():
        label = f"{text}#{image_id}"
        if image_id in bad:
            refused.append(Refused(key, label, bad[image_id]))
        else:
            picture = os.path.splitext(file_name.replace("\\", "/"))[0]
            below = not picture.startswith("/") and ".." not in picture.split("/")
            labels[key] = (label, CocoImage(height, width, tuple(shapes[image_id]),
                                            tuple(ids[image_id]), picture if below else None))
    names = {**{classes[category]: name for category, name in categories.items()
                if category in classes}, 0: "background"}
    record = {"files": coco_files_record(paths), "panoptic": False,
              "classes": {str(category): class_id for category, class_id in classes.items()}}
    return CocoLabels(labels, refused, record, names, notes)


def _annotation_problem(annotation, images, categories):
    """Why an annotation cannot be drawn, or None: its image and category must be listed, its
    segmentation drawable on the image."""
    image_id, category = annotation.get("image_id"), annotation.get("category_id")
    which = f"annotation {shown(json.dumps(annotation.get('id')))}"
    if image_id not in images:
        return f"{which} is of image {shown(json.dumps(image_id))}, which is not among the images"
    if category not in categories:
        return f"{which}: category {shown(json.dumps(category))} is not among the categories"
    if annotation.get("iscrowd", 0) not in (0, 1, False, True):
        return f"{which}: iscrowd is neither 0 nor 1"
    _, _, height, width = images[image_id]
    problem = _segmentation_problem(annotation.get("segmentation"), height, width)
    return None if problem is None else f"{which}: {problem}"


def rasterised(image, name="the image"):
    """An image's label drawn from its annotations (a CocoImage): (ids, the pixels to count, the
    pixels left out as {"crowd": n, "overlap": n}). A pixel no annotation covers is 0; one that
    annotations of one category cover is that category's class; one that annotations of two
    categories cover (torchvision's reference leaves them out) and one of a crowd region are not
    counted. Polygons are drawn by pycocotools, as COCO's own tools draw them. The annotations'
    runs are then swept together: between two consecutive run ends, every pixel is covered by the
    same annotations, so each such stretch is painted at once (a mask per annotation would cost
    several times the decoding of the image's PNG). Raises MaskError, naming the image (name),
    for compressed runs that do not cover it."""
    height, width = image.height, image.width
    if not image.shapes:
        return np.zeros((height, width), np.uint8), None, {"crowd": 0, "overlap": 0}
    runs, counts = coco_runs([shape[2] for shape in image.shapes], height, width)
    first = np.cumsum(counts) - counts
    covered = np.add.reduceat(runs, first)
    wrong = np.flatnonzero((covered != height * width) | np.logical_or.reduceat(runs < 0, first))
    if wrong.size:
        which = (f"annotation {shown(json.dumps(image.ids[wrong[0]]))}" if image.ids
                 else "an annotation")
        raise MaskError(f"{name}: {which}: a compressed run-length encoding of "
                        f"{int(covered[wrong[0]])} pixels, not the image's {height * width}")
    starts, ends, owner = _ones_of_runs(runs, counts)
    class_of, crowd_of = (np.array(column, np.int64)[owner] for column in zip(*(
        (class_id, is_crowd) for class_id, is_crowd, _ in image.shapes)))
    # at each run's start its annotation's coverage begins, at its end it ends: (annotations of
    # classes, their classes' sum and sum of squares, crowd regions) over each stretch
    where = np.concatenate((starts, ends, [0, height * width]))
    order = np.argsort(where, kind="stable")
    counted = 1 - crowd_of
    weights = np.zeros((4, where.size), np.int64)  # the runs' starts, their ends, the two bounds
    weights[:, :starts.size] = counted, counted * class_of, counted * class_of ** 2, crowd_of
    weights[:, starts.size:2 * starts.size] = -weights[:, :starts.size]
    annotations, total, squares, crowds = np.cumsum(weights[:, order], axis=1)[:, :-1]
    lengths = np.diff(where[order])
    overlap = total * total != annotations * squares  # two classes: the sum's square is less
    crowd = crowds > 0
    left_out = overlap | crowd
    # The pixels left out are painted an id no class has, when there is one, so that one array is
    # turned from COCO's column-major order to row-major (a copy of every pixel), not two.
    mark = next((class_id for class_id in range(LABEL_SPACE - 1, 0, -1)
                 if class_id not in image.classes()), None) if left_out.any() else None
    value = np.where(left_out, mark or 0, total // np.maximum(annotations, 1)).astype(np.uint8)
    label = np.ascontiguousarray(np.repeat(value, lengths).reshape(width, height).T)
    valid = None if mark is None else label != mark
    if left_out.any() and mark is None:  # every id a class: the left-out pixels apart
        valid = np.ascontiguousarray(~np.repeat(left_out, lengths).reshape(width, height).T)
    return label, valid, {"crowd": int(lengths[crowd].sum()),
                          "overlap": int(lengths[overlap & ~crowd].sum())}


def coco_runs(segmentations, height, width):
    """The run lengths of annotations' segmentations over their image, each in column-major order,
    0s first, one after another, and how many are each one's: runs as given, compressed runs read,
    polygons drawn by pycocotools (every polygon of the image in one call) and each annotation's
    joined."""
    texts, polygons, owners = {}, [], []
    for index, segmentation in enumerate(segmentations):
        if isinstance(segmentation, list):
            polygons += segmentation
            owners += [index] * len(segmentation)
        elif not isinstance(segmentation["counts"], list):
            texts[index] = segmentation["counts"].encode("ascii")
    if polygons:
        from pycocotools import mask as coco_mask  # only polygons need it
        drawn = {}
        for owner, rle in zip(owners, coco_mask.frPyObjects(polygons, height, width)):
            drawn.setdefault(owner, []).append(rle)
        texts.update({owner: (parts[0] if len(parts) == 1 else coco_mask.merge(parts))["counts"]
                      for owner, parts in drawn.items()})
    order = sorted(texts)
    runs, counts = compressed_runs(*(texts[index] for index in order)) if texts else ([], [])
    if len(order) == len(segmentations):  # no runs given as they are (a crowd's): all read
        return runs, counts
    read = dict(zip(order, np.split(runs, np.cumsum(counts)[:-1])))
    given = [read[index] if index in read else np.array(segmentation["counts"], np.int64)
             for index, segmentation in enumerate(segmentations)]
    return np.concatenate(given), np.array([len(part) for part in given])


def compressed_runs(*texts):
    """The run lengths of texts in COCO's compressed run-length form (bytes), read at once as
    pycocotools' rleFrString reads each: a number in characters of 5 bits from '0' (the 6th bit:
    more follow; the 5th of the last: negative), and from a text's 4th number on, the difference
    from the number two before. Returns the runs, one text's after another, and how many each
    text's are."""
    codes = np.frombuffer(b"".join(texts), np.uint8).astype(np.int64) - 48
    last = codes < 0x20
    first = np.concatenate(([True], last[:-1]))
    index = np.arange(codes.size)
    place = index - np.maximum.accumulate(np.where(first, index, 0))
    values = np.add.reduceat((codes & 0x1F) << (5 * place), np.flatnonzero(first))
    negative = codes[last] & 0x10 != 0
    values[negative] -= np.left_shift(1, 5 * (place[last][negative] + 1))
    ends = np.cumsum(last)[np.cumsum([len(text) for text in texts]) - 1]  # each text's numbers
    number = np.arange(values.size) - np.repeat(ends - np.diff(ends, prepend=0),
                                                np.diff(ends, prepend=0))
    runs = values.copy()
    for parity in (1, 2):  # the chains of differences: numbers 1, 3, 5, ... and 2, 4, 6, ...
        chain = np.flatnonzero((number >= parity) & (number % 2 == parity % 2))
        sums = np.cumsum(values[chain])
        opens = np.maximum.accumulate(np.where(number[chain] == parity,
                                               np.arange(chain.size), 0))
        runs[chain] = sums - (sums - values[chain])[opens]
    return runs, np.diff(ends, prepend=0)


def _ones_of_runs(runs, counts):
    """The 1s of runs (every second run, from the second) of several annotations, one after
    another, counts of each, as stretches of the image in column-major order: (starts, ends, whose:
    the index of the annotation each stretch is of)."""
    first = np.cumsum(counts) - counts
    ends = np.cumsum(runs)
    ends -= np.repeat(ends[first] - runs[first], counts)  # each from the image's start
    ones = (np.arange(runs.size) - np.repeat(first, counts)) % 2 == 1
    return (ends - runs)[ones], ends[ones], np.repeat(np.arange(len(counts)), counts)[ones]


def read_coco_panoptic(path, contiguous=False):
    """The segments of COCO panoptic PNGs from their JSON (--coco-panoptic): CocoLabels keyed by
    the PNG's name without its suffix, the labels' text left to their files. A segment's category
    gives its class (as read_coco_annotations numbers them); raises RunError for a file that is not
    COCO panoptic."""
    document = read_coco_json(path, ("annotations", "categories"))
    classes = class_of_categories(_coco_categories([(path, document)]), contiguous)
    labels, refused = {}, []
    for entry in document["annotations"]:
        entry = entry if isinstance(entry, dict) else {}
        file_name, segments = entry.get("file_name"), entry.get("segments_info")
        if not isinstance(file_name, str) or not file_name or not isinstance(segments, list):
            raise RunError(f"{shown(path)}: an annotation without a file name and segments_info: "
                           f"{shown(json.dumps(entry))[:100]}")
        key = os.path.splitext(file_name.replace("\\", "/").split("/")[-1])[0]
        problem = next((f"segment {shown(json.dumps(segment))[:80]} of {shown(file_name)} has no "
                        "id of 1 or more and category among the categories"
                        for segment in segments if not isinstance(segment, dict)
                        or type(segment.get("id")) is not int or segment["id"] < 1
                        or segment.get("category_id") not in classes), None)
        if problem:
            refused.append(Refused(key, shown(file_name), f"{shown(path)}: {problem}"))
            continue
        labels[key] = (None, PanopticSegments(
            {segment["id"]: classes[segment["category_id"]] for segment in segments},
            frozenset(segment["id"] for segment in segments if segment.get("iscrowd"))))
    names = {classes[category]: name for category, name in
             _coco_categories([(path, document)]).items()}
    record = {"files": coco_files_record([path]), "panoptic": True,
              "classes": {str(category): class_id for category, class_id in classes.items()}}
    return CocoLabels(labels, refused, record, names, [])


def panoptic_ids(path, segments):
    """A COCO panoptic PNG's class ids by its segments (PanopticSegments): (ids, the pixels to
    count, the pixels left out as {"void": n, "crowd": n}). A pixel's segment id is R + 256 G +
    256^2 B; 0 is void, and void and crowd segments are not counted. Raises MaskError."""
    rgb = read_image_file(path, lambda image: _panoptic_rgb(image, path)).astype(np.int32)
    segment = rgb[..., 0] | rgb[..., 1] << 8 | rgb[..., 2] << 16
    known = np.array(sorted({0, *segments.classes}), dtype=np.int32)
    where = np.minimum(np.searchsorted(known, segment), len(known) - 1)
    unknown = known[where] != segment
    if unknown.any():
        raise MaskError(f"{shown(path)}: segment {int(segment[unknown][0])} is not among its "
                        "segments_info in the panoptic JSON", path)
    class_of = np.array([segments.classes.get(value, 0) for value in known.tolist()], np.uint8)
    crowd_of = np.array([value in segments.crowd for value in known.tolist()])
    void, crowd = where == 0, crowd_of[where]
    return class_of[where], ~(void | crowd), {"void": int(np.count_nonzero(void)),
                                               "crowd": int(np.count_nonzero(crowd))}


def _panoptic_rgb(image, path):
    _check_mask_file(image, path)
    if image.mode != "RGB":
        raise MaskError(f"{shown(path)}: mode {image.mode}, not the RGB of a COCO panoptic PNG "
                        "(segment id = R + 256 G + 256^2 B)", path)
    return np.asarray(image)


def read_coco_pair(pair, settings):
    """A pair whose label comes from COCO files (its Pair's annotations): (label, inference, the
    pixels to count, the pixels left out), read as read_pair reads a pair; raises MaskError."""
    if isinstance(pair.annotations, CocoImage):
        label, valid, left_out = rasterised(pair.annotations, shown(pair.label))
    else:
        label, valid, left_out = panoptic_ids(pair.label, pair.annotations)
    inference, _ = read_mask(pair.inference, settings.palette, _maps_wide(settings.inference_map))
    _check_same_size(pair.label, label.shape, pair.inference, inference.shape,
                     at_fault=pair.inference)
    valid = _with_valid_mask(valid, pair.valid, pair.label, label.shape)
    return (mapped_ids(label, settings.label_map, pair.label, "--label-map"),
            mapped_ids(inference, settings.inference_map, pair.inference, "--inference-map"),
            valid, left_out)


class MaskSide(NamedTuple):
    """One file of a pair, for checking the two against each other."""
    path: Path
    ids: np.ndarray  # after its id map
    bits: int  # of its stored greyscale samples (8 for every other kind of mask)
    id_map: IdMap | None
    option: str  # the option that maps its ids


def _check_bit_depths(label, inference, ignore_index=None):
    """Refuse a pair whose greyscale bit depths disagree in a way that changes the ids.

    A 1-bit 0/1 mask next to an 8-bit 0/255 one is the typical case: every pixel
    would count as an error. The pair passes when every id of the deeper file is
    one the shallower file can hold (one of its stored values, through its id map),
    the label's ignore index aside (its pixels are not counted): so a map such as
    255:1 on the 0/255 side, or a void 255 in the label, lets it pass.
    """
    if min(label.bits, inference.bits) >= 8 or label.bits == inference.bits:
        return
    low, high = (label, inference) if label.bits < inference.bits else (inference, label)
    stored = np.arange(1 << low.bits)
    holdable = np.unique(low.id_map.table[stored]) if low.id_map is not None else stored
    present = np.flatnonzero(np.bincount(high.ids.ravel(), minlength=LABEL_SPACE))
    if high is label and ignore_index is not None:
        present = present[present != ignore_index]
    foreign = np.setdiff1d(present, holdable)
    if foreign.size:
        can_hold = (f"ids {', '.join(map(str, holdable))} after its id map"
                    if low.id_map is not None
                    else f"ids 0..{(1 << low.bits) - 1}")
        raise MaskError(f"{shown(low.path)} stores {low.bits}-bit samples ({can_hold}) but "
                        f"{shown(high.path)} has ids up to {int(foreign[-1])}: the two files "
                        f"disagree in bit depth; map the ids with {high.option} (e.g. "
                        f"{int(foreign[-1])}:{int(holdable[-1])}) or save both masks with the same "
                        "ids and bit depth")


class Reports(NamedTuple):
    """What --merge and --compare take from JSON reports: the images and refused files, and how
    they were made."""
    images: list  # image reports, checked: ids, files and matrices well formed
    refused: list  # Refused
    heads: list  # (path, the report's JSON document) of each report
    scoring: "Scoring"  # their records joined (join_records)
    notes: list  # what joining them left out
    shards: dict | None  # the merged JSON head's record of the shards, or None
    incomplete: list  # warnings that shards or ids of the run are missing


# an image id is a path below the masks' folder: no system has longer paths
MAX_ID_CHARACTERS = 4096
INT64_MAX = 2**63 - 1  # the largest count of one cell
# int64 sums of the summed matrix, doubled for F1 (2 tp + fp + fn), stay exact
MAX_PIXELS = 2**62 - 1


def _problem(what, value, wanted):
    """ValueError saying what is wrong with a field of a report, its value shown short and
    escaped."""
    text = shown(json.dumps(value) if isinstance(value, (str, int, float, bool, type(None)))
                 else type(value).__name__)
    return ValueError(f"{what} is {text[:60] + '...' if len(text) > 60 else text}, not {wanted}")


def _check_id(value, what="an image's id"):
    """The id, unless it is not one the tool writes: printable text, a relative path with no hidden
    part."""
    if not isinstance(value,
                      str) or not value or len(value) > MAX_ID_CHARACTERS or value != shown(value):
        raise _problem(what, value,
                       f"printable text of at most {MAX_ID_CHARACTERS} characters, as ids are")
    if any(part in ("", ".", "..") or part.startswith(".") for part in value.split("/")):
        raise _problem(what, value, "a path below the masks' folder, as ids are")
    return value


def _check_image_report(image):
    """Raise ValueError unless an image of a JSON report has what --merge needs, well formed."""
    if not isinstance(image, dict):
        raise _problem("an entry of images", image, "an image report")
    image_id = _check_id(image.get("id"))
    for key in ("label", "inference"):  # null: an array the Python API was given
        if key not in image or not isinstance(image[key], str | None):
            raise _problem(f"image {image_id}: {key}", image.get(key), "a file name or null")
    left_out = image.get("left_out", {})
    if not (isinstance(left_out, dict) and all(why in LEFT_OUT and type(pixels) is int
                                               and 0 <= pixels <= INT64_MAX
                                               for why, pixels in left_out.items())):
        raise _problem(f"image {image_id}: left_out", left_out, "counts of pixels left out")
    matrix = image.get("confusion_matrix")
    labels, rows = (matrix.get("labels"), matrix.get("matrix")) if isinstance(matrix,
                                                                              dict) else (None,
                                                                                          None)
    if not (isinstance(labels, list) and all(type(value) is int and 0 <= value < LABEL_SPACE
                                             for value in labels)
            and labels == sorted(set(labels))):
        raise ValueError(f"image {image_id}: the matrix labels are not ascending ids within 0..255")
    if not (isinstance(rows, list) and len(rows) == len(labels)
            and all(isinstance(row, list) and len(row) == len(labels) for row in rows)
            and all(type(count) is int and 0 <= count <= INT64_MAX for row in rows
                    for count in row)):
        raise ValueError(f"image {image_id}: the matrix is not a square of pixel counts")


def _check_boundary_counts(image):
    """Raise ValueError unless every class of an image report (checked by _check_image_report) has
    boundary counts that can be merged: 0 <= intersection <= union <= the class's pixels in the
    label and in the inference together (its bands lie within them), so that sums over images stay
    within the pixels'."""
    classes = image.get("classes")
    labels, rows = image["confusion_matrix"]["labels"], image["confusion_matrix"]["matrix"]
    pixels_of = {class_id: sum(rows[index]) + sum(row[index] for row in rows) for index,
                 class_id in enumerate(labels)}
    if not isinstance(classes, dict) or not all(
            isinstance(class_id, str) and class_id.isascii() and class_id.isdigit()
            and int(class_id) in pixels_of
            and isinstance(entry, dict) and type(entry.get("boundary_intersection")) is int
            and type(entry.get("boundary_union")) is int
            and 0 <= entry["boundary_intersection"] <= entry["boundary_union"]
            <= pixels_of[int(class_id)]
            for class_id, entry in classes.items()):
        raise ValueError(f"image {image['id']}: the classes' boundary counts are not 0 <= "
                         "intersection <= union <= the class's pixels in the label and the "
                         "inference")


def _check_report(document):
    """Raise ValueError, naming the field, unless a JSON document is a report that --merge can
    use."""
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    checks = {
        "label_space": (lambda v: type(v) is int and v == LABEL_SPACE, str(LABEL_SPACE), REQUIRED),
        **{field.name: (rule_of(field).valid, rule_of(field).wanted, rule_of(field).old)
           for field in dataclasses.fields(Scoring)},
        "shards": (lambda v: v is None or (
            isinstance(v, dict) and set(v) == {"of", "included", "run_ids"}
            and type(v["of"]) is int and v["of"] >= 1 and type(v["run_ids"]) is int
            and v["run_ids"] >= 0
            and isinstance(v["included"], list) and v["included"]
            and all(type(k) is int and 1 <= k <= v["of"] for k in v["included"])
            and len(set(v["included"])) == len(v["included"])), "null or the shards of a run",
            AS_DEFAULT),  # older reports have none
        "images": (lambda v: isinstance(v, list), "a list of image reports", REQUIRED),
        "errors": (lambda v: isinstance(v, list) and all(
            isinstance(e, dict) and isinstance(e.get("path"), str)
            and isinstance(e.get("error"), str)
            for e in v), "a list of refused files", REQUIRED),
    }
    for key, (valid, wanted, old) in checks.items():
        if key not in document and old == REQUIRED:
            raise ValueError(f"it has no {key}")
        if key in document and not valid(document[key]):
            raise _problem(key, document[key], wanted)
    ignore_index = document["ignore_index"]
    with_boundary = document.get("boundary_ratio") is not None
    for image in document["images"]:
        _check_image_report(image)
        if with_boundary:
            _check_boundary_counts(image)
        labels, rows = image["confusion_matrix"]["labels"], image["confusion_matrix"]["matrix"]
        if ignore_index in labels and any(rows[labels.index(ignore_index)]):
            raise ValueError(f"image {image['id']}: pixels labelled the ignore index "
                             f"{ignore_index} are counted")
    for error in document["errors"]:  # an id may be refused twice, and refused as another is scored
        _check_id(error.get("id"), "an error's id")


def _merged_shards(records):
    """The merged JSON head's shards record, and warnings for shards missing; raises RunError.

    records: (path, the report's shards record, the ids it holds). When every shard
    is there, the merged report is the whole run's, and its record is None.
    """
    sharded = [(path, shards) for path, shards, _ in records if shards is not None]
    if not sharded:
        return None, []
    if len(sharded) < len(records):
        raise RunError(f"{shown(sharded[0][0])} is a shard (--shard) and "
                       f"{shown(next(path for path, shards, _ in records if shards is None))} is "
                       "not: merge the shards of one run")
    runs = {(shards["of"], shards["run_ids"]) for _, shards in sharded}
    if len(runs) > 1:
        raise RunError("the reports are shards of different runs: " + ", ".join(
            f"{shown(path)} is of {shards['of']} shards of {shards['run_ids']} ids" for path,
            shards in sharded))
    (count, run_ids), included = runs.pop(), {}
    for path, shards in sharded:
        for k in shards["included"]:
            if k in included:
                raise RunError(f"shard {k}/{count} is in both {shown(included[k])} and "
                               f"{shown(path)}")
            included[k] = path
    # Shard k holds ids only when k <= run_ids (a shard beyond them has nothing to score, and no
    # report).
    holding = min(count, run_ids)
    missing_count = holding - sum(k <= holding for k in included)
    missing = [k for k in range(1, min(holding, len(included) + MAX_LISTED) + 1)
               if k not in included][:MAX_LISTED]
    ids = sum(len(held) for _, _, held in records)
    incomplete = []
    if missing_count:
        incomplete.append(f"shard{'s' if missing_count > 1 else ''} "
                          + ", ".join(f"{k}/{count}" for k in missing)
                          + (f" and {missing_count - len(missing)} more"
                             if missing_count > len(missing) else "")
                          + f" {'are' if missing_count > 1 else 'is'} missing: the merged report "
                          f"covers {ids} of the run's {run_ids} image ids")
    elif ids != run_ids:
        incomplete.append(f"the shards cover {ids} image ids but the run had {run_ids}: were masks "
                          "added or removed between the shard runs?")
    return ({"of": count, "included": sorted(included), "run_ids": run_ids} if incomplete
            else None), incomplete


def given_twice(paths):
    """(the path, the one given before it) of the first file given twice under any spelling (a link,
    a '..'), or None. A set of real paths, each folder resolved once: linear in thousands of
    shards."""
    seen, folders = {}, {}
    for path in map(Path, paths):
        if path.parent not in folders:
            folders[path.parent] = os.path.realpath(path.parent)
        real = os.path.join(folders[path.parent], path.name)
        with contextlib.suppress(OSError):  # a path the system refuses: reading it will say so
            if path.name in ("", ".", "..") or path.is_symlink():
                real = os.path.realpath(path)
        if real in seen:
            return path, seen[real]
        seen[real] = path
    return None


def _read_report_file(path):
    """A JSON report's document, checked by _check_report; raises RunError naming the file."""
    try:
        if Path(path).exists() and not Path(path).is_file():
            raise OSError("not a regular file")
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RunError(f"{shown(path)}: cannot read the report "
                       f"({getattr(error, 'strerror', None) or error})") from None
    try:
        document = json.loads(text)
    except RecursionError:
        raise RunError(f"{shown(path)}: not a report written by --format json (nested too "
                       "deeply)") from None
    except ValueError as error:  # JSONDecodeError, or a number too long to convert
        raise RunError(f"{shown(path)}: not JSON ({shown(str(error))[:200]})") from None
    try:
        _check_report(document)
    except ValueError as error:
        raise RunError(f"{shown(path)}: not a report written by --format json "
                       f"({error})") from None
    if "input" in document:  # a key written by no older version: its option was not there to use
        document["input"] = {key: document["input"].get(key, False if key == "recursive" else None)
                             for key in INPUT_KEYS}
    return document


def read_reports(paths, given=None, how="merged"):
    """The images and refused files of JSON reports (from --format json), for --merge and
    --compare; raises RunError. Every field is checked by type and range, and what will be shown is
    escaped. An image id in two reports, shards of different runs, or pixel counts whose sum a
    64-bit count cannot hold are errors, and so are records that join_records(given, how) cannot
    join. Returns Reports."""
    images, refused, heads, records, source, pixels, overlap = [], [], [], [], {}, 0, None
    twice = given_twice(paths)
    if twice is not None:
        again, first = twice
        raise RunError(f"{shown(again)} is given twice"
                       + (f" (as {shown(first)})" if again != first else ""))
    for path in paths:
        document = _read_report_file(path)
        heads.append((path, document))
        held = {image["id"] for image in document["images"]}
        if len(held) < len(document["images"]):
            raise RunError(f"{shown(path)}: not a report written by --format json (an image id is "
                           "in it twice)")
        held |= {error["id"] for error in document["errors"]}  # one id may have several errors
        # said after the shards' check, which says more
        if overlap is None and held & source.keys():
            image_id = min(held & source.keys(), key=id_order)
            overlap = RunError(f"image {image_id} is in both {shown(source[image_id])} and "
                               f"{shown(path)}: shards must not overlap (were both made with the "
                               "same --shard?)")
        source.update(dict.fromkeys(held, path))
        records.append((path, document.get("shards"), held))
        for image in document["images"]:
            pixels += sum(map(sum, image["confusion_matrix"]["matrix"]))
            images.append({**image, "label": image["label"] and shown(image["label"]),
                           "inference": image["inference"] and shown(image["inference"])})
        refused += [Refused(e["id"], shown(e["path"]), shown(e["error"]))
                    for e in document["errors"]]
    if pixels > MAX_PIXELS:
        raise RunError(f"the reports count {pixels} pixels in all, more than the tool adds up "
                       "exactly (2^62 - 1)")
    scoring, notes = join_records(heads, given or {}, how)
    shards, incomplete = _merged_shards(records)
    if overlap is not None:
        raise overlap
    return Reports(images, refused, heads, scoring, notes, shards, incomplete)


def tallied_groups(reports, groups):
    """The images of Reports with each instance tally's groups, and each group's distances, kept
    where the report counted them with the ids of groups ({name: ids}, or None), in the order of
    groups: they are kept by name, so a group counted with other ids, or not counted (a report
    written without --groups), has none, and its iIoU and distances are left out. Returns (the
    images, a note naming the groups left out, or None)."""
    made_with = [head.get("groups") or {} for _, head in reports.heads for _ in head["images"]]
    images, lost = [], {"iIoU": set(), "boundary distances": set()}
    for image, theirs in zip(reports.images, made_with):
        same = {name for name, ids in (groups or {}).items() if list(theirs.get(name, ())) == ids}
        weighted = image.get("instances")
        if weighted is not None:
            kept = {name: pair for name, pair in weighted["groups"].items() if name in same}
            lost["iIoU"] |= {name for name, ids in (groups or {}).items() if name not in kept
                             and all(str(i) in weighted["classes"] for i in ids)}
            image = {**image, "instances": {**weighted, "groups": kept}}
        if groups is not None:  # as counts_of_report reads a group's distances: by its place
            counted = image.get("groups") or {}
            lost["boundary distances"] |= {name for name in groups if name not in same
                                           and "hd" in next(iter(counted.values()), {})}
            image = {**image, "groups": {name: counted[name] if name in same else {}
                                         for name in groups}}
        images.append(image)
    names = sorted(set.union(*lost.values()))
    left_out = [what for what, left in lost.items() if left]
    return images, None if not names else (
        f"the reports were not counted with --groups as given ({', '.join(names)}): the "
        f"{' and '.join(left_out)} of those groups "
        f"{'is' if left_out == ['iIoU'] else 'are'} left out; give --groups when the masks are "
        "counted")


def _rule_said(value):
    """A rule's JSON value as a message shows it: an option's value, or none; a COCO record by its
    files (name and the start of the hash), whether panoptic, and its categories' class ids."""
    if isinstance(value, dict) and _coco_record(value):
        files = ", ".join(f"{file['name']} (SHA-256 {file['sha256'][:12]})"
                          for file in value["files"])
        classes = list(value["classes"].items())
        return shown(f"{files}{', panoptic' if value['panoptic'] else ''}, categories "
                     + ", ".join(f"{category}->{class_id}" for category, class_id in classes[:6])
                     + (", ..." if len(classes) > 6 else ""))
    return "none" if value is None else shown(value if isinstance(value, str)
                                              else json.dumps(value))


def _joined_names(known):
    """The class names of reports, joined id by id; raises RunError when two name an id
    differently."""
    names = {}
    for path, report_names in known:
        for class_id, name in report_names.items():
            if names.setdefault(class_id, (name, path))[0] != name:
                raise RunError(f"id {class_id} is named {shown(name)!r} in {shown(path)}, "
                               f"{shown(names[class_id][0])!r} in {shown(names[class_id][1])}")
    return {class_id: name for class_id, (name, _) in sorted(names.items())}


def join_records(heads, given, how):
    """The scoring record (Scoring) of reports read together, and notes to show; raises RunError.

    heads: (path, JSON document) of each report, checked by _check_report; given: the rules the
    options gave, {field: value}; how: "merged" (--merge) or "compared" (--compare), the Rule's
    attribute that says how each field is joined:
      same      the reports must agree, and an option given must be their value (their counts
                were made with it and cannot be made again without the masks)
      chosen    the option's value; else the reports', which must agree
      named     the option's names; else the reports' names joined id by id
      baseline  the option's value; else the first report's
      said      the reports' value when they agree, else None
      free      the first report's: the models may differ (how each model's masks were read)
      dropped   the reports' value when they agree, else None: the numbers it changes are left out
    Values are compared in their JSON form, which has no NaN unequal to itself.
    """
    joined, notes = {}, []
    for field in dataclasses.fields(Scoring):
        rule, name, option = rule_of(field), field.name, option_of(field)
        way = getattr(rule, how)
        default = Scoring().json()[name]  # as a report before the field existed was made
        known = [(path, head.get(name, default)) for path, head in heads
                 if name in head or rule.old != UNKNOWN]
        first = known[0] if known else (None, default)
        other = next(((path, value) for path, value in known if value != first[1]), None)
        if name in given and way in ("chosen", "named", "baseline"):
            joined[name] = given[name]
            continue
        if other is not None and way in ("same", "chosen"):
            raise RunError(f"the reports were made with different {option}: {shown(other[0])} "
                           f"{_rule_said(other[1])}, {shown(first[0])} {_rule_said(first[1])}"
                           + (f"; give one with {option}" if way == "chosen" else ""))
        # (dropped: the reports' numbers are still shown, so an option given must be theirs too)
        if name in given and way in ("same", "dropped") and rule.json_of(given[name]) != first[1]:
            raise RunError(f"{option} {_rule_said(rule.json_of(given[name]))} differs from the "
                           f"reports' {_rule_said(first[1])}: their counts were made with it, and "
                           "cannot be made again without the masks")
        if other is not None and way == "dropped":
            notes.append(f"the reports were made with different {option}: the numbers it changes "
                         "are left out")
        value = None if other is not None and way in ("said", "dropped") else first[1]
        value = shown(value) if isinstance(value, str) else value  # text shown, escaped
        joined[name] = (_joined_names([(path, rule.value_of(names)) for path, names in known])
                        if way == "named" else rule.value_of(value))
    return Scoring(**joined), notes


# ---------------------------------------------------------------- counting

def count_matrix(label, inference, ignore_index=None, valid=None):
    """256x256 int64 confusion matrix: [i, j] = pixels labelled i and predicted j (see
    count_pair)."""
    return count_pair(label, inference, ignore_index, valid=valid)[0]


def count_pair(label, inference, ignore_index=None, band_width=0, valid=None):
    """(matrix, boundary) of a pair over the whole label space: the 256x256 int64 confusion matrix,
    [i, j] = pixels labelled i and predicted j, and with band_width d > 0 the (2, 256) boundary
    counts (see count_occurring); else None."""
    counts = count_occurring(label, inference, ignore_index, band_width, valid)
    matrix = np.zeros((LABEL_SPACE, LABEL_SPACE), dtype=np.int64)
    matrix[np.ix_(counts.ids, counts.ids)] = counts.matrix
    if counts.boundary is None:
        return matrix, None
    boundary = np.zeros((2, LABEL_SPACE), dtype=np.int64)
    boundary[:, counts.ids] = counts.boundary
    return matrix, boundary


class Counts(NamedTuple):
    """A pair's counts over the ids that occur in it, which is all a report needs (and a few hundred
    bytes where the whole label space's matrix takes 512 KB)."""
    ids: np.ndarray  # ascending: every id some counted pixel is labelled or predicted as
    # int64 confusion matrix over ids: [a, b] = pixels labelled ids[a], predicted ids[b]
    matrix: np.ndarray
    # int64 (2, len(ids)): boundary intersection and union of each id, or None
    boundary: np.ndarray | None
    scores: "ScoreCounts | None" = None  # --scores: the score map's tally
    instances: "InstanceCounts | None" = None  # --instances: the instances' weighted pixels
    distances: "DistanceCounts | None" = None  # --distances: each class's boundary distances
    # --distances with --groups: each group's, over the groups in order
    group_distances: "DistanceCounts | None" = None


class InstanceCounts(NamedTuple):
    """An image's instances as iIoU weighs them: {id: [TP, FN]} of each class that has instances,
    and {name: [TP, FN]} of each group all of whose classes have them, every pixel of an instance
    weighted by its class's average instance size over the instance's own size (float64)."""
    classes: dict
    groups: dict


def count_instances(instances, inference, counted, sizes, class_map=None, groups=None):
    """The InstanceCounts of a Cityscapes instance file against the inference, as
    cityscapesScripts' evalPixelLevelSemanticLabeling weighs them: an instance is the pixels of one
    value above 1000 (a crowd region holds its bare class id, and is no instance), of class value
    // 1000 (mapped by class_map, a (256,) table); its TP are its pixels predicted as its class (or
    within the group), weighted by sizes[class] / its pixels. Pixels not counted are left out."""
    pixels = instances > 1000
    if counted is not None:
        pixels &= counted
    values, predicted = instances[pixels], inference[pixels]
    value_class = _value_classes(None if class_map is None else class_map.tobytes())
    per_value = np.bincount(values, minlength=MAX_INSTANCE_VALUE)
    ids = np.flatnonzero(per_value)
    classes = value_class[ids]
    weight = np.array([sizes.get(int(c), 0.0) for c in classes]) / per_value[ids]

    def weighted(hit):  # (weighted TP, weighted FN) of each instance, hit: its pixels' TP
        tp = np.bincount(values[hit], minlength=MAX_INSTANCE_VALUE)[ids]
        return tp * weight, (per_value[ids] - tp) * weight
    tp, fn = weighted(predicted == value_class[values])
    counts = InstanceCounts({c: np.array([tp[classes == c].sum(), fn[classes == c].sum()])
                             for c in sorted(sizes)}, {})
    for name, group in (groups or {}).items():
        if all(c in sizes for c in group):
            member = np.zeros(LABEL_SPACE, dtype=bool)
            member[group] = True
            tp, fn = weighted(member[predicted])
            inside = member[classes]
            counts.groups[name] = np.array([tp[inside].sum(), fn[inside].sum()])
    return counts


@functools.lru_cache(maxsize=4)
def _value_classes(class_map):
    """The class of every instance value, value // 1000, through class_map (the bytes of a (256,)
    table, or None): a table looked up once per pixel instead of a division per pixel."""
    table = np.arange(LABEL_SPACE, dtype=np.uint8) if class_map is None else np.frombuffer(
        class_map, dtype=np.uint8)
    return np.repeat(table, 1000)


def summed_instances(tallies):
    """One InstanceCounts of several: their weighted pixels added, class by class and group by
    group (a group only where every tally has it)."""
    names = set.intersection(*(set(tally.groups) for tally in tallies))
    return InstanceCounts({c: sum(tally.classes[c] for tally in tallies)
                           for c in tallies[0].classes},
                          {name: sum(tally.groups[name] for tally in tallies)
                           for name in tallies[0].groups if name in names})


class ScoreCounts(NamedTuple):
    """A score map's tally against its label: the scores that occur on counted pixels, ascending,
    and how many pixels of the positive class and of the rest hold each (int64). It is summed,
    merged and resampled as the confusion matrix is, and every score-map number comes from it."""
    levels: np.ndarray  # float64
    positives: np.ndarray
    negatives: np.ndarray


def count_scores(positive, codes, levels, counted=None):
    """The ScoreCounts of a score map (codes and levels, as read_scores gives them) against
    positive, its label's pixels of the positive class; counted: the pixels counted (None: all).
    One histogram pass: memory does not grow with the pixels."""
    size = len(levels)
    cells = codes.astype(np.intp)  # a cell per (level, side): level, or size + level if positive
    np.add(cells, size, out=cells, where=positive)
    if counted is not None:
        np.copyto(cells, 2 * size, where=~counted)  # one cell past the others, not kept
    per_cell = np.bincount(cells.ravel(), minlength=2 * size + 1)[:2 * size].astype(np.int64)
    negatives, positives = per_cell[:size], per_cell[size:]
    occurs = (negatives > 0) | (positives > 0)
    return ScoreCounts(levels[occurs], positives[occurs], negatives[occurs])


def counts_at_threshold(tally, threshold):
    """The Counts of a score map at a threshold, from its tally alone: ids 0 (the rest) and 1 (the
    positive class), a pixel predicted 1 when it scores at or above the threshold; what counting
    the binarised masks gives, without a second pass over the pixels."""
    above = tally.levels >= threshold
    matrix = np.array([[tally.negatives[~above].sum(), tally.negatives[above].sum()],
                       [tally.positives[~above].sum(), tally.positives[above].sum()]],
                      dtype=np.int64)
    ids = np.flatnonzero(matrix.any(axis=0) | matrix.any(axis=1))
    return Counts(ids, matrix[np.ix_(ids, ids)], None, tally)


def summed_scores(tallies):
    """One ScoreCounts of several, over every score that occurs in any: exact integer sums."""
    levels, where = np.unique(np.concatenate([tally.levels for tally in tallies]),
                              return_inverse=True)
    sums = np.zeros((2, len(levels)), dtype=np.int64)
    for row, side in enumerate(("positives", "negatives")):
        np.add.at(sums[row], where, np.concatenate([getattr(tally, side) for tally in tallies]))
    return ScoreCounts(levels, sums[0], sums[1])


def count_occurring(label, inference, ignore_index=None, band_width=0, valid=None):
    """The Counts of a pair: its confusion matrix over the ids that occur, and with band_width d > 0
    each id's boundary intersection |G & P| and union |G | P|, where G and P are the id's boundary
    bands of width d in the label and in the inference (boundary_band). Pixels whose label is
    ignore_index are not counted at all, nor are those where valid, a bool array of the masks'
    shape (or None: every pixel), is False; the bands are still drawn on the whole masks.

    A pixel's cell is its label and inference id, with a bit for each band it is in; the cells are
    counted run by run where the masks are piecewise constant, else pixel by pixel with np.bincount.
    """
    if label.shape != inference.shape:
        raise ValueError(f"label is {label.shape[1]}x{label.shape[0]}, "
                         f"inference is {inference.shape[1]}x{inference.shape[0]}")
    bands = (boundary_band(label, band_width).ravel(),
             boundary_band(inference, band_width).ravel()) \
        if band_width else ()
    label_shape = label.shape
    label, inference = label.ravel(), inference.ravel()
    if valid is not None:  # as if the pixels outside were never there; runs still form inside
        if valid.shape != label_shape:
            raise ValueError(f"valid region is {valid.shape[1]}x{valid.shape[0]}, label is "
                             f"{label_shape[1]}x{label_shape[0]}")
        inside = valid.astype(bool, copy=False).ravel()  # a mask, never indices
        label, inference = label[inside], inference[inside]
        bands = tuple(band[inside] for band in bands)
    # Masks are piecewise constant: where the pixels form few runs of one (label,
    # inference) pair, count each run's cell weighted by its length, which is
    # several times faster than a cell per pixel and gives the same counts.
    change = label[1:] != label[:-1]
    for plane in (inference, *bands):
        change |= plane[1:] != plane[:-1]
    changes = np.flatnonzero(change)  # pixel k + 1 starts a run
    if label.size and changes.size < MAX_RUNS_PER_PIXEL * label.size:
        ids, counts = _count_runs(label, inference, bands, changes, ignore_index)
    else:
        ids, counts = _count_pixels(label, inference, bands, ignore_index)
    if not bands:
        return Counts(ids, counts[0], None)
    in_label_band, in_inference_band = counts[1] + counts[3], counts[2] + counts[3]
    intersection = np.diagonal(counts[3])
    union = in_label_band.sum(axis=1) + in_inference_band.sum(axis=0) - intersection
    return Counts(ids, counts.sum(axis=0), np.array([intersection, union]))


def _count_runs(label, inference, bands, changes, ignore_index):
    """(ids, (planes, ids, ids) counts) of count_occurring, run by run: each run of one cell (label,
    inference and bands) starts after a change, and adds its length to its cell. The planes are
    the pixels in neither band, the label's, the inference's, both (one plane without bands)."""
    planes = 4 if bands else 1
    run_starts = np.zeros(changes.size + 1, dtype=np.intp)
    run_starts[1:] = changes
    run_starts[1:] += 1
    lengths = np.empty_like(run_starts)
    lengths[:-1] = run_starts[1:]
    lengths[:-1] -= run_starts[:-1]
    lengths[-1] = label.size - run_starts[-1]
    run_labels = label[run_starts].astype(np.intp)
    run_inferences = inference[run_starts].astype(np.intp)
    run_planes = sum((band[run_starts].astype(np.intp) << bit
                      for bit, band in enumerate(bands)), 0)
    if ignore_index is not None:  # leave those runs out
        counted = run_labels != ignore_index
        run_labels, run_inferences = run_labels[counted], run_inferences[counted]
        lengths = lengths[counted]
        run_planes = run_planes[counted] if bands else 0
    occurs = np.zeros(LABEL_SPACE, dtype=bool)
    occurs[run_labels] = occurs[run_inferences] = True
    ids = np.flatnonzero(occurs)
    position = np.zeros(LABEL_SPACE, dtype=np.intp)
    position[ids] = np.arange(len(ids))
    cells = (run_planes * len(ids)
             + position.take(run_labels)) * len(ids) + position.take(run_inferences)
    counts = np.zeros(planes * len(ids) ** 2, dtype=np.int64)
    np.add.at(counts, cells, lengths)  # integer sums: exact
    counts = counts.reshape(planes, len(ids), len(ids))
    return ids, counts


def _count_pixels(label, inference, bands, ignore_index):
    """(ids, (planes, ids, ids) counts) of count_occurring, a cell per pixel with np.bincount."""
    planes = 4 if bands else 1
    codes = label.astype(np.uint32 if bands else np.uint16)
    codes <<= 8
    codes |= inference
    for bit, band in enumerate(bands, start=16):
        codes |= band.astype(np.uint32) << bit
    counts = np.bincount(codes, minlength=planes * LABEL_SPACE * LABEL_SPACE)
    counts = counts.astype(np.int64, copy=False)
    counts = counts.reshape(planes, LABEL_SPACE, LABEL_SPACE)
    if ignore_index is not None:
        counts[:, ignore_index, :] = 0  # same as removing those pixels before counting
    every_plane = counts.sum(axis=0)
    ids = np.flatnonzero((every_plane.sum(axis=1) > 0) | (every_plane.sum(axis=0) > 0))
    counts = counts[:, ids][:, :, ids]
    return ids, counts


def boundary_width(shape, ratio):
    """The boundary band's width d for an image of shape (height, width): ratio x its diagonal,
    rounded, at least 1 (as the Boundary IoU reference's mask_to_boundary)."""
    return max(1, round(ratio * math.sqrt(shape[0] ** 2 + shape[1] ** 2)))


def boundary_band(ids, d):
    """The boundary bands of width d of every id at once, as a bool array: each pixel is in its own
    id's band when a pixel of another id, or the image's edge, is within chessboard distance d of
    it.

    For each id c this is (ids == c) minus its erosion: the mask padded by one pixel of background,
    eroded d times with a 3x3 square, and unpadded (Cheng et al.'s mask_to_boundary). A pixel's
    square of radius d holds another id exactly when one of its rows holds a change within d across,
    or its column holds a change within d down; so two window passes over the changes between
    neighbours replace d erosions per id.
    """
    height, width = ids.shape
    # Changes across: the pair (x - 1, x) at column x + d - 1, the first and last against the edge.
    across_pairs = np.zeros((height, width + d), bool)
    across_pairs[:, d - 1] = across_pairs[:, width + d - 1] = True
    np.not_equal(ids[:, 1:], ids[:, :-1], out=across_pairs[:, d:width + d - 1])
    across = _window_any(across_pairs, 2 * d, axis=1)[:, :width]  # a change in the row within d
    # Changes down: the pair (y - 1, y) at row y + d - 1; a row with a change across counts as one.
    down = np.zeros((height + d, width), bool)
    down[d - 1] = down[height + d - 1] = True
    np.not_equal(ids[1:], ids[:-1], out=down[d:height + d - 1])
    down[d:height + d] |= across  # rows y - d .. y + d - 1 of across
    band = _window_any(down, 2 * d, axis=0)[:height]
    if d < height:
        band[:height - d] |= across[d:]  # row y + d of across
    return band


def _window_any(flags, size, axis):
    """out[i] = any(flags[i : i + size]) along axis 0 or 1 (windows cut at the end): log2(size) ORs
    of the array with itself shifted, each window twice as long as the last."""
    result, n = flags.copy(), flags.shape[axis]

    def part(start, stop):
        return result[start:stop] if axis == 0 else result[:, start:stop]

    span = 1
    while span * 2 <= size and span < n:
        part(0, n - span)[...] |= part(span, n)
        span *= 2
    rest = min(size, n) - span
    if rest > 0:  # the last windows overlap the ones before: harmless for an or
        part(0, n - rest)[...] |= part(rest, n)
    return result


# --distances: each class's boundary in a mask is its pixels with a 4-neighbour of another id, not
# counted, or beyond the image edge (MedPy's inner border, 4-connectivity, the edge outside).
NO_CLASS = LABEL_SPACE  # the id of the pixels not counted, past every class id
# A border pixel's nearest border pixel of its class in the other mask is looked for first at the
# offsets of a disc of about this many pixels, nearest first: a vectorised look-up that finds most
# of them; the rest are found in a k-d tree of the class's border pixels.
NEAR_OFFSETS = 80
# The disc is looked up for this many pixels at a time: the part of the map they read stays in the
# cache through the disc's offsets (the look-up measured 20% quicker than all at once).
NEAR_CHUNK = 16384
# The k-d trees' leaf size: bigger leaves than scipy's 16 are quicker to build, as quick to query.
LEAF_SIZE = 64
# --tolerance: by default this share of the image's diagonal (MATLAB's bfscore and
# evaluateSemanticSegmentation)
TOLERANCE_OF_DIAGONAL = 0.0075
MIN_SPACING = 1e-12  # --spacing: within this and its inverse, a distance's square is a float


def _percentile(values, percent):
    """np.percentile(values, percent) of a 1-D float array, computed as numpy computes it (its
    linear method: the order statistics around (n - 1) * percent / 100, interpolated as its _lerp
    does), without the 45 us a call of numpy's, most of the time of an image's numbers."""
    at = (len(values) - 1) * (percent / 100)
    below = math.floor(at)
    if at >= len(values) - 1:
        return values.max()
    low, high = np.partition(values, (below, below + 1))[below:below + 2]
    weight, step = at - below, high - low
    return low + step * weight if weight < 0.5 else high - step * (1 - weight)


def _bf_score(to_label, to_inference, tolerance):
    """MATLAB's BF score: the F1 of the inference boundary's precision and recall, a boundary pixel
    matched when the other boundary is nearer than the tolerance; 0 when neither matches."""
    precision = np.count_nonzero(to_label < tolerance) / len(to_label)
    recall = np.count_nonzero(to_inference < tolerance) / len(to_inference)
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


class Distance(NamedTuple):
    """A per-class boundary number of one image: its column title, what it is, its value from the
    class's directed distances (to_label: of each inference boundary pixel to the label's boundary,
    to_inference: back; float64 arrays in raster order, neither empty) and the tolerance, and
    whether it is a distance (else a share, 0 when the class is in one mask only)."""
    title: str
    meaning: str
    value: object
    is_distance: bool = True


DISTANCES = {
    "hd": Distance("HD", "Hausdorff distance: the farthest boundary pixel of either from the other",
                   lambda to_label, to_inference, tolerance: max(to_label.max(),
                                                                 to_inference.max())),
    "hd95": Distance("HD95", "the larger of the two directed 95th percentiles (MONAI, Metrics "
                     "Reloaded)",
                     lambda to_label, to_inference, tolerance: max(
                         _percentile(to_label, 95), _percentile(to_inference, 95))),
    "hd95_pooled": Distance("HD95 pooled", "the 95th percentile of both directions' distances "
                            "together (MedPy's hd95)",
                            lambda to_label, to_inference, tolerance: _percentile(
                                np.concatenate((to_label, to_inference)), 95)),
    "assd": Distance("ASSD", "the mean of both directions' distances together (MedPy 0.5's assd, "
                     "MONAI's symmetric)", lambda to_label, to_inference, tolerance: np.concatenate(
                         (to_label, to_inference)).mean()),
    "masd": Distance("MASD", "the mean of the two directed means (Metrics Reloaded's MASD, MedPy "
                     "before 0.5)", lambda to_label, to_inference, tolerance: (
                         to_label.mean() + to_inference.mean()) / 2),
    "nsd": Distance("NSD", "normalised surface distance (surface Dice): the share of both "
                    "boundaries within the tolerance of the other",
                    lambda to_label, to_inference, tolerance: (
                        np.count_nonzero(to_label <= tolerance)
                        + np.count_nonzero(to_inference <= tolerance))
                    / (len(to_label) + len(to_inference)), is_distance=False),
    "boundary_f": Distance("BF", "boundary F1 (MATLAB's bfscore): of boundary precision and recall "
                           "nearer than the tolerance", _bf_score, is_distance=False),
}


class DistanceCounts(NamedTuple):
    """--distances: each id's DISTANCES summed over images, and the images where each is defined
    (of one image: its values, 0 where undefined, and 1 or 0), (distances, ids) each: sums of them
    are those of the images together, as the confusion matrix's are."""
    sums: np.ndarray  # float64
    cases: np.ndarray  # int64
    tolerance: float | None = None  # of one image: the tolerance of its NSD and BF


def border_pixels(ids, counted=None):
    """The border pixels of every class of a mask at once: (their flat indices, ascending, and their
    ids as uint16). counted: the pixels counted (None: all); a pixel not counted is no class's.
    (Compared in the flattened mask, where only the first and last columns, border anyway, meet
    wrong neighbours; with one scratch array, as each fresh array of the mask's size costs its
    page faults.)"""
    if counted is not None:
        ids = np.where(counted, ids, np.uint16(NO_CLASS))
    height, width = ids.shape
    flat = ids.ravel()
    border, differs = np.empty(flat.size, dtype=bool), np.empty(flat.size, dtype=bool)
    np.not_equal(flat[1:], flat[:-1], out=differs[1:])  # each pixel against its left neighbour
    np.logical_or(differs[1:-1], differs[2:], out=border[1:-1])
    np.not_equal(flat[width:], flat[:-width], out=differs[width:])  # against the one above
    border[width:-width] |= differs[width:-width]
    border[width:-width] |= differs[2 * width:]
    edges = border.reshape(height, width)
    edges[[0, -1]] = True
    edges[:, [0, -1]] = True
    if counted is not None:
        border &= counted.ravel()
    where = np.flatnonzero(border)
    return where, flat[where].astype(np.uint16)


@functools.lru_cache(maxsize=8)
def near_offsets(spacing):
    """The (dy, dx) offsets of a disc of about NEAR_OFFSETS pixels, nearest first (the first is
    (0, 0)), and their distances with the spacing (sy, sx)."""
    # the disc in units of the finer axis, at most NEAR_OFFSETS pixels along either axis: a ratio
    # of spacings of a million makes it a line, not a million pixels wide
    scaled = (spacing[0] / min(spacing), spacing[1] / min(spacing))
    radius = min(math.sqrt(NEAR_OFFSETS * scaled[0] * scaled[1] / math.pi), NEAR_OFFSETS)
    dy, dx = np.mgrid[-int(radius // scaled[0]):int(radius // scaled[0]) + 1,
                      -int(radius // scaled[1]):int(radius // scaled[1]) + 1]
    distance = pixel_distances(dy, dx, spacing)
    inside = pixel_distances(dy, dx, scaled) <= radius
    order = np.argsort(distance[inside], kind="stable")
    return dy[inside][order], dx[inside][order], distance[inside][order]


def pixel_distances(dy, dx, spacing):
    """Euclidean distances of pixel offsets with the spacing, computed as scipy's
    distance_transform_edt computes them."""
    return np.sqrt((dy * spacing[0]) ** 2 + (dx * spacing[1]) ** 2)


def nearest_border(points, point_ids, border, border_ids, shape, spacing):
    """The distance of each border pixel (flat index, of its id) to the nearest border pixel of the
    same id in the other mask (border, border_ids, as border_pixels gives them); inf where that
    mask has no border pixel of the id. Exact: first the offsets of near_offsets nearest first in a
    map of the other mask's border pixels, then a k-d tree of the id's border pixels for the pixels
    still unmatched."""
    height, width = shape
    dys, dxs, near = near_offsets(spacing)
    pad_y, pad_x = int(dys.max(initial=0)), int(dxs.max(initial=0))
    codes, no_border = _border_codes(border_ids)
    found = np.full((height + 2 * pad_y) * (width + 2 * pad_x), no_border, dtype=codes.dtype)
    found[_padded(border, width, pad_y, pad_x)] = codes[border_ids]
    at, wanted = _padded(points, width, pad_y, pad_x), codes[point_ids]
    present = wanted != no_border  # the pixels of ids the other mask has
    coincide = (found[at] == wanted) & present  # the disc's first offset, (0, 0)
    distance = np.where(coincide, 0.0, math.inf)
    left = np.flatnonzero(present ^ coincide)
    offsets = list(zip((dys * (width + 2 * pad_x) + dxs).tolist(), near.tolist()))[1:]
    left = np.concatenate([_match_near(distance, chunk, found, at[chunk], wanted[chunk], offsets,
                                       no_border - 1)
                           for chunk in np.split(left, range(NEAR_CHUNK, len(left), NEAR_CHUNK))])
    return _farther_border(distance, left, points[left], point_ids[left], border, border_ids,
                           width, spacing)


def _match_near(distance, left, found, at, wanted, offsets, matched):
    """nearest_border's look-up in the disc for the pixels left (at their indices in the padded map
    found, of the codes wanted) at the offsets ((step in the map, distance), nearest first): their
    distance where matched; returns those unmatched. matched: the code of no id, given to the
    pixels matched."""
    unmatched = len(left)
    for step, length in offsets:
        if not unmatched:
            break
        hit = np.flatnonzero(found[at + step] == wanted)
        if len(hit):
            distance[left[hit]] = length
            wanted[hit], unmatched = matched, unmatched - len(hit)
            if 2 * unmatched < len(left):  # the matched pixels dropped once they are most
                kept = wanted != matched
                left, at, wanted = left[kept], at[kept], wanted[kept]
    return left[wanted != matched]


def _border_codes(border_ids):
    """Codes of the ids of border pixels (an array over the ids) and the code of the ids with none:
    uint8 where they fit with a code to spare, as a map of them half the size is quicker to read."""
    present = np.flatnonzero(np.bincount(border_ids, minlength=NO_CLASS + 1))
    dtype = np.uint8 if len(present) < 254 else np.uint16
    codes = np.full(NO_CLASS + 1, np.iinfo(dtype).max, dtype=dtype)
    codes[present] = np.arange(len(present))
    return codes, np.iinfo(dtype).max


def _padded(flat_indices, width, pad_y, pad_x):
    """Flat indices of an image's pixels in the image padded by pad_y rows and pad_x columns."""
    padded_width = width + 2 * pad_x
    return flat_indices + flat_indices // width * (2 * pad_x) + pad_y * padded_width + pad_x


def _farther_border(distance, left, points, point_ids, border, border_ids, width, spacing):
    """nearest_border for the pixels left (points, of point_ids) beyond the disc: a k-d tree of each
    id's border pixels, its nearest one's distance recomputed from the pixel offsets."""
    from scipy.spatial import cKDTree  # only a run with --distances pays for the import
    for class_id in np.unique(point_ids).tolist():
        mine = point_ids == class_id
        y, x = np.divmod(points[mine], width)
        other_y, other_x = np.divmod(border[border_ids == class_id], width)
        tree = cKDTree(np.column_stack((other_y * spacing[0], other_x * spacing[1])),
                       leafsize=LEAF_SIZE, balanced_tree=False,
                       compact_nodes=False)  # (quicker, as measured)
        _, nearest = tree.query(np.column_stack((y * spacing[0], x * spacing[1])))
        distance[left[mine]] = pixel_distances(other_y[nearest] - y, other_x[nearest] - x,
                                               spacing)
    return distance


def count_distances(label, inference, ids, is_class, counted, rules):
    """The DistanceCounts of a pair over ids (its Counts' ids; is_class: those that are classes),
    with rules the scoring record's distances ({"spacing", "tolerance", "empty_distance"}). A class
    in both masks has every number; in one only, its distances are the empty distance (or
    undefined) and its shares 0; an id that is no class has none."""
    spacing = tuple(rules["spacing"])
    tolerance = rules["tolerance"]
    if tolerance is None:
        tolerance = TOLERANCE_OF_DIAGONAL * math.hypot(label.shape[0] * spacing[0],
                                                       label.shape[1] * spacing[1])
    sides = [border_pixels(mask, counted) for mask in (inference, label)]
    directed = [nearest_border(*sides[0], *sides[1], label.shape, spacing),  # to the label
                nearest_border(*sides[1], *sides[0], label.shape, spacing)]  # to the inference
    sums = np.zeros((len(DISTANCES), len(ids)))
    cases = np.zeros((len(DISTANCES), len(ids)), dtype=np.int64)
    grouped = []  # each side's distances and ids, by id (stable: raster order within an id)
    for (_, side_ids), distances in zip(sides, directed):
        order = np.argsort(side_ids, kind="stable")
        grouped.append((distances[order], np.searchsorted(side_ids[order],
                                                          np.arange(NO_CLASS + 1))))
    empty = rules["empty_distance"]
    for column, class_id in enumerate(ids.tolist()):
        if not is_class[column]:
            continue
        to_label, to_inference = (distances[starts[class_id]:starts[class_id + 1]]
                                  for distances, starts in grouped)
        both = len(to_label) and len(to_inference)
        for row, distance in enumerate(DISTANCES.values()):
            value = (distance.value(to_label, to_inference, tolerance) if both
                     else empty if distance.is_distance else 0.0)
            if value is not None:
                sums[row, column], cases[row, column] = value, 1
    return DistanceCounts(sums, cases, tolerance)


def count_group_distances(label, inference, counted, groups, rules):
    """The DistanceCounts of each group (--groups: {name: ids}) over the groups, its pixels one
    class against the rest, as count_distances counts a class; a group in neither mask has none."""
    sums = np.zeros((len(DISTANCES), len(groups)))
    cases = np.zeros((len(DISTANCES), len(groups)), dtype=np.int64)
    tolerance = None
    for column, ids in enumerate(groups.values()):
        member = np.zeros(LABEL_SPACE, dtype=np.uint8)
        member[ids] = 1
        inside = [member[mask] for mask in (label, inference)]
        if not any((side if counted is None else side & counted).any() for side in inside):
            continue
        tally = count_distances(*inside, np.ones(1, dtype=np.intp), np.ones(1, dtype=bool),
                                counted, rules)
        sums[:, column], cases[:, column], tolerance = tally.sums[:, 0], tally.cases[:, 0], \
            tally.tolerance
    return DistanceCounts(sums, cases, tolerance)


def counts_of_matrix(matrix, boundary=None, scores=None, instances=None, distances=None):
    """The Counts of a whole label space's (256, 256) matrix and (2, 256) boundary counts (or None):
    over the ids with a pixel labelled or predicted as them (with a score map's tally, weighted
    instances and a whole label space's DistanceCounts, if any)."""
    ids = np.flatnonzero((matrix.sum(axis=1) > 0) | (matrix.sum(axis=0) > 0))
    return Counts(ids, matrix[np.ix_(ids, ids)], None if boundary is None else boundary[:, ids],
                  scores, instances, None if distances is None else DistanceCounts(
                      distances.sums[:, ids], distances.cases[:, ids]))


def counts_of_report(report, boundary=False, distances=False):
    """The Counts back from an image's report as JSON holds it (its confusion matrix, with boundary
    each class's boundary counts, with distances each class's DISTANCES): the one place a tally is
    read from JSON (a report writes it in compute_report). Ids without a pixel, which no report of
    the tool lists, are left out, as counting leaves them out."""
    ids = np.array(report["confusion_matrix"]["labels"], dtype=np.intp)
    matrix = np.array(report["confusion_matrix"]["matrix"], dtype=np.int64)
    matrix = matrix.reshape(len(ids), len(ids))
    kept = (matrix.sum(axis=1) > 0) | (matrix.sum(axis=0) > 0)
    entries = ([report["classes"].get(str(class_id), {}) for class_id in ids[kept].tolist()]
               if boundary else [])
    sides = None if not boundary else np.array(
        [[entry.get(key, 0) for entry in entries]
         for key in ("boundary_intersection", "boundary_union")], dtype=np.int64)
    sides = None if sides is None else sides.reshape(2, len(entries))
    tally = report.get("scores", {}).get("counts")
    scores = None if tally is None else ScoreCounts(
        np.array(tally["levels"], dtype=np.float64).reshape(-1),
        *(np.array(tally[side], dtype=np.int64).reshape(-1) for side in ("positives", "negatives")))
    weighted = report.get("instances")
    instances = None if weighted is None else InstanceCounts(
        *({int(key) if group == "classes" else key: np.array(pair, dtype=np.float64)
           for key, pair in weighted[group].items()} for group in ("classes", "groups")))
    values = None if not distances else np.array(
        [[math.nan if report["classes"].get(str(class_id), {}).get(key) is None
          else report["classes"][str(class_id)][key] for class_id in ids[kept].tolist()]
         for key in DISTANCES], dtype=np.float64).reshape(len(DISTANCES), -1)
    group_values = None if not distances or "groups" not in report else np.array(
        [[math.nan if entry.get(key) is None else entry[key]
          for entry in report["groups"].values()] for key in DISTANCES],
        dtype=np.float64).reshape(len(DISTANCES), -1)
    return Counts(ids[kept], matrix[np.ix_(kept, kept)], sides, scores, instances,
                  *(None if part is None else DistanceCounts(
                      np.nan_to_num(part, nan=0.0), (~np.isnan(part)).astype(np.int64),
                      report.get("tolerance")) for part in (values, group_values)))


def matrix_from_report(report):
    """The 256x256 matrix back from a report's compact confusion_matrix."""
    return whole_matrix(counts_of_report(report))


def whole_matrix(counts):
    """A Counts' matrix over the whole label space, 256x256."""
    matrix = np.zeros((LABEL_SPACE, LABEL_SPACE), dtype=np.int64)
    matrix[np.ix_(counts.ids, counts.ids)] = counts.matrix
    return matrix


class CountsSum:
    """The sum of tallies (Counts), image by image: the one place tallies are added up, for the
    combined report of a run, of merged reports and of each model compared."""

    def __init__(self, boundary=False, scores=False, distances=False):
        self.matrix = np.zeros((LABEL_SPACE, LABEL_SPACE), dtype=np.int64)
        self.distances = DistanceCounts(np.zeros((len(DISTANCES), LABEL_SPACE)), np.zeros(
            (len(DISTANCES), LABEL_SPACE), dtype=np.int64)) if distances else None
        self.boundary = np.zeros((2, LABEL_SPACE), dtype=np.int64) if boundary else None
        empty = np.zeros(0, dtype=np.int64)
        # score tallies, summed a thousand at a time (a sum of sparse tallies is a sort)
        self.scores = [ScoreCounts(empty.astype(np.float64), empty, empty)] if scores else None
        self.instances = None  # --instances: the InstanceCounts summed so far
        self.group_distances = None  # --distances with --groups: their DistanceCounts summed

    def add(self, counts):
        if len(counts.ids):
            self.matrix[np.ix_(counts.ids, counts.ids)] += counts.matrix
            if self.boundary is not None:
                self.boundary[:, counts.ids] += counts.boundary
            if self.distances is not None:  # (in image order: as per_case_statistics adds)
                for total, part in zip(self.distances, counts.distances[:2]):
                    total[:, counts.ids] += part
        if self.scores is not None and counts.scores is not None:
            self.scores.append(counts.scores)
            if len(self.scores) > 1000:
                self.scores = [summed_scores(self.scores)]
        if counts.instances is not None:
            self.instances = counts.instances if self.instances is None else summed_instances(
                [self.instances, counts.instances])
        if counts.group_distances is not None:
            parts = counts.group_distances[:2]
            self.group_distances = [part.copy() for part in parts] if self.group_distances is None \
                else [total + part for total, part in zip(self.group_distances, parts)]

    def counts(self):
        """The summed Counts, over the ids that occur in any of them."""
        return counts_of_matrix(self.matrix, self.boundary,
                                None if self.scores is None else summed_scores(self.scores),
                                self.instances, self.distances)._replace(
            group_distances=None if self.group_distances is None
            else DistanceCounts(*self.group_distances))


# ---------------------------------------------------------------- measures
# Every number is one entry: a per-class metric of CLASS_METRICS, or a headline measure of MEASURES.
# Each is a function of a Batch, the statistics of tallies with a row per tally: a report is a batch
# of one, the bootstrap a batch of resamples, a comparison two paired batches. So each has its value
# in every report, its interval under --bootstrap and its difference under --compare, by
# construction.

class ClassMetric(NamedTuple):
    """A per-class metric: its column title, the field's other name for it, and its ratio
    (numerator, denominator) of a class's counts (tp, fp, fn, tn, arrays alike); 0/0 is
    --zero-division."""
    title: str
    also: str
    ratio: object


CLASS_METRICS = {
    "precision": ClassMetric("precision", "", lambda tp, fp, fn, tn: (tp, tp + fp)),
    "recall": ClassMetric("recall", "sensitivity", lambda tp, fp, fn, tn: (tp, tp + fn)),
    "f1_score": ClassMetric("f1_score", "Dice", lambda tp, fp, fn, tn: (2 * tp, 2 * tp + fp + fn)),
    "iou": ClassMetric("IoU", "Jaccard", lambda tp, fp, fn, tn: (tp, tp + fp + fn)),
    "specificity": ClassMetric("specificity", "", lambda tp, fp, fn, tn: (tn, tn + fp)),
}


class Batch(NamedTuple):
    """Tallies as the measures see them, a row per tally, each the sum of some images' Counts over
    one list of ids: TP, label pixels and predicted pixels of each id (the statistics every measure
    is a function of, linear in the Counts, so that sums of them are the statistics of summed
    Counts), and with --boundary each id's boundary intersection and union."""
    stats: np.ndarray  # (rows, 3 or 5, ids)
    is_class: np.ndarray  # (ids,) bool: the ids that are classes (the ignore index is not)
    zero_division: float
    levels: np.ndarray | None = None  # --scores: the scores that occur, ascending
    # --scores: (rows, 2, levels) pixels of the positive class and of the rest at each score
    scores: np.ndarray | None = None
    # --groups: (rows, 3, groups) pixels labelled and predicted in each group (TP), labelled in it,
    # predicted in it (group_statistics)
    groups: np.ndarray | None = None
    ids: np.ndarray | None = None  # the ids of stats' columns (--instances looks classes up)
    instance_ids: np.ndarray | None = None  # --instances: the classes that have instances
    # (rows, 2, classes then groups): InstanceCounts' weighted TP and FN, nan for a group without
    instances: np.ndarray | None = None
    # --distances: (rows, distances, ids) DISTANCES summed over images, and the images each is
    # defined in (DistanceCounts)
    distance_sums: np.ndarray | None = None
    distance_cases: np.ndarray | None = None
    # and with --groups, (rows, distances, groups) of the groups
    group_distance_sums: np.ndarray | None = None
    group_distance_cases: np.ndarray | None = None
    excluded: tuple = ()  # --exclude-from-means: ids left out of every mean over classes

    @property
    def boundary(self):
        return self.stats.shape[1] == 5


def statistics_of(counts):
    """The (3 or 5, ids) statistics of a Batch of one tally: TP, label pixels, predicted pixels per
    id, and its boundary intersection and union when it has them."""
    rows = [np.diagonal(counts.matrix), counts.matrix.sum(axis=1), counts.matrix.sum(axis=0)]
    return np.array(rows + ([] if counts.boundary is None else list(counts.boundary)),
                    dtype=np.int64)


def batch_of_counts(counts, ignore_index=None, zero_division=0.0, groups=None, excluded=()):
    """The Batch of one tally, over its own ids (so that its numbers are scikit-learn's to the last
    bit); groups: {name: ids} (--groups), or None; excluded: ids left out of the means."""
    tally, weighted = counts.scores, counts.instances
    return Batch(statistics_of(counts)[None], counts.ids != ignore_index, zero_division,
                 None if tally is None else tally.levels,
                 None if tally is None else np.array([[tally.positives, tally.negatives]]),
                 None if groups is None else group_statistics(counts, list(groups.values()))[None],
                 counts.ids,
                 None if weighted is None else np.array(sorted(weighted.classes)),
                 None if weighted is None else instance_grid(weighted, groups)[None],
                 *(None if tallies is None else part[None]
                   for tallies in (counts.distances, counts.group_distances)
                   for part in (tallies or (None, None))[:2]),
                 excluded=tuple(excluded))


def instance_grid(weighted, groups=None):
    """(2, classes then groups) float64 of an InstanceCounts: the weighted TP and FN of each class
    that has instances (ascending), then of each group (of groups, {name: ids}, in order), nan for a
    group the tally has not."""
    missing = np.full(2, math.nan)
    return np.array([weighted.classes[c] for c in sorted(weighted.classes)]
                    + [weighted.groups.get(name, missing) for name in groups or ()]).T.reshape(
        2, -1)


def group_statistics(counts, groups):
    """(3, groups) int64 of a tally, for each group (a list of ids): the pixels labelled and
    predicted in it (a confusion inside a group is correct), labelled in it, and predicted in it.
    Linear in the matrix, so sums of them are those of summed tallies."""
    stats = np.zeros((3, len(groups)), dtype=np.int64)
    for column, ids in enumerate(groups):
        member = np.isin(counts.ids, ids)
        labelled = counts.matrix[member]
        stats[:, column] = (labelled[:, member].sum(), labelled.sum(),
                            counts.matrix[:, member].sum())
    return stats


class Numbers(NamedTuple):
    """Every number of a Batch: each class metric's values for the classes (rows, classes), nan
    where a class does not occur in a row; their macro and weighted averages (rows,); the boundary
    IoU of each class with --boundary; and each headline measure's value (rows,), nan where
    undefined."""
    classes: dict
    macro: dict
    weighted: dict
    boundary_iou: np.ndarray | None
    measures: dict
    groups: dict | None = None  # --groups: each class metric's values, (rows, groups)
    iiou: np.ndarray | None = None  # --instances: (rows, classes that have instances)
    group_iiou: np.ndarray | None = None  # and with --groups, (rows, groups)
    distances: dict | None = None  # --distances: each of DISTANCES' means, (rows, classes)
    in_means: object = slice(None)  # an index of the classes the means are over


def _divide(numerator, denominator, zero_division):
    """numerator / denominator, element by element; 0/0 becomes zero_division (scikit-learn's
    rule)."""
    result = np.full(np.shape(numerator), zero_division, dtype=np.float64)
    return np.divide(numerator, denominator, out=result, where=denominator != 0)


def _macro_average(values):
    """Unweighted mean, leaving undefined (nan) values out, as scikit-learn does.

    np.nanmean adds the numbers in the same order as scikit-learn, so the result
    is identical to the last bit (a mean of only the defined values may not be).
    """
    return float(np.nanmean(values)) if (~np.isnan(values)).any() else math.nan


def _weighted_average(values, weights):
    """Mean weighted by support, leaving undefined (nan) values out, as scikit-learn does."""
    defined = ~np.isnan(values)
    if not defined.any():
        return math.nan
    # e.g. no labelled class predicted: scikit-learn takes the plain mean
    if weights[defined].sum() == 0:
        return float(np.mean(values[defined]))
    return float(np.average(values[defined], weights=weights[defined]))


def _averages(table, present, weights):
    """The macro and weighted (by weights, the support) averages of a (metrics, rows, classes)
    table, each row over its present classes, (metrics, rows) nan where none is defined. Each row is
    summed as np.nanmean and np.average sum it, so a report's averages are scikit-learn's to the
    last bit; when every class is present and defined (a report, usually) all rows are done at
    once."""
    if table.shape[2] and present.all() and not np.isnan(table).any() and weights.sum(axis=1).all():
        return (table.sum(axis=2) / table.shape[2],
                (table * weights).sum(axis=2) / weights.sum(axis=1, dtype=np.float64))
    macro, weighted = np.full(table.shape[:2], math.nan), np.full(table.shape[:2], math.nan)
    for (metric, row), values in np.ndenumerate(np.empty(table.shape[:2])):
        chosen = present[row]
        if chosen.any():
            macro[metric, row] = _macro_average(table[metric, row][chosen])
            weighted[metric, row] = _weighted_average(table[metric, row][chosen],
                                                      weights[row][chosen])
    return macro, weighted


def _row_means(values, chosen, otherwise=math.nan):
    """The mean of each row's chosen values, otherwise where a row has none."""
    if chosen.all() and values.shape[1]:  # (np.mean of a row adds as its sum along the axis does)
        return values.sum(axis=1) / values.shape[1]
    return np.array([np.mean(row[mask]) if mask.any() else otherwise for row,
                     mask in zip(values, chosen)])


def class_metric_table(tp, fp, fn, tn, zero_division):
    """Every metric of CLASS_METRICS from a class's counts (arrays alike): (metrics, *shape)."""
    numerators, denominators = zip(*(metric.ratio(tp, fp, fn, tn)
                                     for metric in CLASS_METRICS.values()))
    return _divide(np.array(numerators), np.array(denominators), zero_division)


def image_class_numbers(stats, pixels, zero_division):
    """One class's numbers in each image, {key: (images,)}, nan where the class does not occur:
    CLASS_METRICS of its (images, 3 or 5) statistics (pixels: each image's counted pixels), and
    the boundary IoU when they hold boundary counts; as a report of each image has them."""
    tp, label, predicted = stats[:, 0], stats[:, 1], stats[:, 2]
    table = class_metric_table(tp, predicted - tp, label - tp, pixels - label - predicted + tp,
                               zero_division)
    table[:, (label == 0) & (predicted == 0)] = math.nan
    values = dict(zip(CLASS_METRICS, table))
    if stats.shape[1] == 5:
        values["boundary_iou"] = _divide(stats[:, 3], stats[:, 4], zero_division)
        values["boundary_iou"][stats[:, 4] == 0] = math.nan
    return values


def evaluate(batch):
    """Numbers of every row of a Batch: CLASS_METRICS and their averages, then MEASURES."""
    # (no copy when every id is a class, as usual)
    classes = batch.stats if batch.is_class.all() else batch.stats[:, :, batch.is_class]
    tp, label, predicted = classes[:, 0], classes[:, 1], classes[:, 2]
    pixels = batch.stats[:, 1].sum(axis=1)[:, None]
    fp = predicted - tp  # FP: pixels predicted as the class that are something else
    fn = label - tp  # FN: pixels of the class predicted as something else
    tn = pixels - tp - fp - fn  # TN: pixels neither labelled nor predicted as the class
    present = (label > 0) | (predicted > 0)  # every class of a report; not so in a resample
    # the classes the means are over: an index (a view, not a copy, when that is every class)
    in_means = slice(None) if not batch.excluded else ~np.isin(batch.ids[batch.is_class],
                                                               batch.excluded)
    # Every metric at once: a (metrics, rows, classes) table, averaged as (metrics x rows) rows.
    table = class_metric_table(tp, fp, fn, tn, batch.zero_division)
    macro, weighted = (dict(zip(CLASS_METRICS, average)) for average in _averages(
        table[:, :, in_means], present[:, in_means], label[:, in_means]))
    if not present.all():
        table[:, ~present] = math.nan
    values = dict(zip(CLASS_METRICS, table))
    boundary_iou = None
    if batch.boundary:
        boundary_iou = _divide(classes[:, 3], classes[:, 4], batch.zero_division)
        # no band in label or inference: left out of the mean
        boundary_iou[classes[:, 4] == 0] = math.nan
    distances = None if batch.distance_sums is None else {
        key: _ratio(batch.distance_sums[:, row, batch.is_class],
                    batch.distance_cases[:, row, batch.is_class])
        for row, key in enumerate(DISTANCES)}
    groups = None if batch.groups is None else _group_metrics(batch)
    if batch.group_distance_sums is not None:  # each group's distances beside its metrics
        groups.update({key: _ratio(batch.group_distance_sums[:, row],
                                   batch.group_distance_cases[:, row])
                       for row, key in enumerate(DISTANCES)})
    numbers = Numbers(values, macro, weighted, boundary_iou, {}, groups, *_instance_ious(batch),
                      distances, in_means)
    held = {"boundary": batch.boundary, "scores": batch.scores is not None,
            "groups": batch.groups is not None, "instances": batch.instances is not None,
            "distances": distances is not None}
    for key, measure in MEASURES.items():
        if all(held[need] for need in held if getattr(measure, need)):
            numbers.measures[key] = np.asarray(measure.value(batch, numbers), dtype=np.float64)
    return numbers


def _instance_ious(batch):
    """iIoU, as cityscapesScripts' getInstanceIouScoreForLabel: weighted TP / (weighted TP + FP +
    weighted FN), FP the pixels predicted as the class (or group) labelled as another class,
    unweighted; nan where that is 0/0. (iIoU of the classes, iIoU of the groups or None), or (None,
    None) without instances."""
    if batch.instances is None:
        return None, None
    classes = len(batch.instance_ids)
    by_id = np.zeros((len(batch.stats), LABEL_SPACE))  # an id that does not occur has none
    by_id[:, batch.ids] = batch.stats[:, 2] - batch.stats[:, 0]
    false_positives = by_id[:, batch.instance_ids]
    if batch.groups is not None:
        false_positives = np.concatenate([false_positives,
                                          batch.groups[:, 2] - batch.groups[:, 0]], axis=1)
    tp, fn = batch.instances[:, 0], batch.instances[:, 1]
    iiou = _ratio(tp, tp + false_positives + fn)
    return iiou[:, :classes], None if batch.groups is None else iiou[:, classes:]


def _group_metrics(batch):
    """Every class metric of each group, scored as one class against the rest: {metric: (rows,
    groups)}, nan where a group does not occur in a row (no pixel labelled or predicted in it)."""
    tp, label, predicted = (batch.groups[:, row] for row in range(3))
    pixels = batch.stats[:, 1].sum(axis=1)[:, None]
    fp, fn = predicted - tp, label - tp
    tn = pixels - tp - fp - fn
    metrics = {}
    for key, metric in CLASS_METRICS.items():
        values = _divide(*metric.ratio(tp, fp, fn, tn), batch.zero_division)
        values[(label == 0) & (predicted == 0)] = math.nan
        metrics[key] = values
    return metrics


def _ratio(numerator, denominator):
    """numerator / denominator elementwise, nan where the denominator is 0 (as the tools' numpy
    gives)."""
    numerator, denominator = np.asarray(numerator, np.float64), np.asarray(denominator, np.float64)
    return np.divide(numerator, denominator, out=np.full(numerator.shape, math.nan),
                     where=denominator != 0)


def pixel_accuracy(batch, numbers):
    """aAcc: correct pixels over counted pixels."""
    return _ratio(batch.stats[:, 0].sum(axis=1), batch.stats[:, 1].sum(axis=1))


def mean_accuracy(batch, numbers):
    """mAcc: the mean recall of the classes in the label (a class only predicted has no recall):
    their recall is TP / label pixels, never 0/0."""
    return _row_means(numbers.classes["recall"][:, numbers.in_means],
                      batch.stats[:, 1, batch.is_class][:, numbers.in_means] > 0)


def mean_boundary_iou(batch, numbers):
    """mBIoU: the mean boundary IoU of the classes with a boundary band in the label or the
    inference; --zero-division when none has one; undefined when no class occurs."""
    occurs = ~np.isnan(numbers.classes["iou"][:, numbers.in_means])
    boundary_iou = numbers.boundary_iou[:, numbers.in_means]
    means = _row_means(boundary_iou, ~np.isnan(boundary_iou), batch.zero_division)
    return np.where(occurs.any(axis=1), means, math.nan)


def mean_distance(key):
    """The headline measure of a distance of DISTANCES: the mean over the classes where it is
    defined (in an image, its value; over images, the class's mean over them)."""
    def value(batch, numbers):
        values = numbers.distances[key][:, numbers.in_means]
        return _row_means(values, ~np.isnan(values))
    return value


def cohen_kappa(batch, numbers):
    """Cohen's kappa: 1 - observed disagreement / the disagreement expected by chance (the counts
    label and inference would have if independent, with their own class frequencies), as
    scikit-learn computes it from the matrix; 0/0 (chance expects no disagreement: one class only)
    gives --zero-division."""
    label, predicted = batch.stats[:, 1].astype(np.float64), batch.stats[:, 2].astype(np.float64)
    pixels = predicted.sum(axis=1)
    by_chance = predicted[:, :, None] * label[:, None, :]
    by_chance /= np.maximum(pixels, 1)[:, None, None]
    by_chance *= _off_diagonal(label.shape[1])
    expected = by_chance.sum(axis=(1, 2))
    observed = pixels - batch.stats[:, 0].sum(axis=1, dtype=np.float64)
    kappa = 1 - _ratio(observed, expected)
    kappa[expected == 0] = batch.zero_division
    kappa[pixels == 0] = math.nan
    return kappa


@functools.lru_cache(maxsize=None)
def _off_diagonal(ids):
    """An (ids, ids) float64 matrix of ones with a diagonal of zeros: the cells of disagreement."""
    return 1 - np.eye(ids)


def matthews_corrcoef(batch, numbers):
    """The Matthews correlation coefficient in its multiclass form (Gorodkin's R_K), as scikit-learn
    computes it: (c s - t.p) / sqrt((s^2 - p.p)(s^2 - t.t)) with c correct pixels of s, t and p the
    label's and the inference's pixels per class. 0/0 (one side holds a single class) gives
    --zero-division."""
    values = []
    for stats in batch.stats:
        label, predicted = stats[1].astype(np.float64), stats[2].astype(np.float64)
        correct, pixels = np.sum(stats[0], dtype=np.float64), predicted.sum()
        covariance = correct * pixels - np.dot(label, predicted)
        spread = (pixels ** 2 - np.dot(predicted, predicted)) * (pixels ** 2 - np.dot(label, label))
        values.append(math.nan if not pixels else batch.zero_division if spread == 0
                      else covariance / np.sqrt(spread))
    return np.array(values)


def mean_group_iou(batch, numbers):
    """The mean IoU of the groups that occur (--groups); undefined when none does."""
    iou = numbers.groups["iou"]
    return _row_means(iou, ~np.isnan(iou))


def mean_iiou(batch, numbers):
    """The mean iIoU of the classes that have instances, those where it is defined."""
    return _row_means(numbers.iiou, ~np.isnan(numbers.iiou))


def mean_group_iiou(batch, numbers):
    """The mean iIoU of the groups all of whose classes have instances, where it is defined."""
    return _row_means(numbers.group_iiou, ~np.isnan(numbers.group_iiou))


def roc_auc(batch, numbers):
    """ROC AUC: the chance that a pixel of the positive class scores above one of the rest, a tie
    counting half; the trapezoidal area under the ROC curve, as scikit-learn's roc_auc_score gives
    it. Undefined without pixels of either side."""
    positives, negatives = batch.scores[:, 0].astype(np.float64), batch.scores[:, 1]
    above = np.cumsum(positives[:, ::-1], axis=1)[:, ::-1] - positives  # strictly higher scores
    above += positives / 2
    return _ratio((negatives * above).sum(axis=1), positives.sum(axis=1) * negatives.sum(axis=1))


def average_precision(batch, numbers):
    """AP as scikit-learn's average_precision_score: the precision at each score, from the highest
    down, weighted by the recall that score adds (its positive pixels over all). Undefined without
    positive pixels."""
    positives, negatives = batch.scores[:, 0, ::-1], batch.scores[:, 1, ::-1]
    tp = np.cumsum(positives, axis=1, dtype=np.float64)
    precision = _ratio(tp, tp + np.cumsum(negatives, axis=1))
    added = np.where(positives > 0, positives * precision, 0.0)  # no recall added: no weight
    return _ratio(added.sum(axis=1), positives.sum(axis=1))


KITTI_THRESHOLDS = np.arange(256) / 255  # the KITTI road devkit's: a pixel scoring >= t is road
KITTI_RECALLS = np.arange(0, 1.1, 0.1)  # its 11 recall points (0.30000000000000004 and all)
KITTI_EPSILON = 1e-10  # the devkit adds it to the denominators of precision and F


def kitti_curve(batch):
    """The KITTI road devkit's curve of each row (its evalExp and pxEval_maximizeFMeasure): (tp,
    fp, precision, recall, F) at each threshold of KITTI_THRESHOLDS, (rows, 256); a pixel scoring
    at or above a threshold is predicted positive. F is -inf where no positive pixel is found,
    which the devkit leaves out of its curve."""
    positives, negatives = (batch.scores[:, side].astype(np.float64) for side in (0, 1))
    first = np.searchsorted(batch.levels, KITTI_THRESHOLDS)  # the first score at or above each
    tp, fp = (np.concatenate([np.cumsum(side[:, ::-1], axis=1)[:, ::-1],
                              np.zeros((len(side), 1))], axis=1)[:, first]
              for side in (positives, negatives))
    precision = tp / (tp + fp + KITTI_EPSILON)
    recall = _ratio(tp, positives.sum(axis=1)[:, None])
    f = 2 * precision * recall / (precision + recall + KITTI_EPSILON)
    f[~(tp > 0)] = -np.inf
    return tp, fp, precision, recall, f


def max_f(batch, numbers):
    """MaxF, the KITTI road benchmark's: the largest F1 over the thresholds k/255 (with the
    devkit's 1e-10 in the denominators). Undefined without positive pixels."""
    f = kitti_curve(batch)[4]
    best = f.max(axis=1, initial=-np.inf)
    return np.where(np.isfinite(best), best, math.nan)


def kitti_road_numbers(batch):
    """The rest of the devkit's numbers of a Batch's first row: the threshold of MaxF (the lowest
    one on a tie), the 11-point average precision (the largest precision at recall >= r, for r = 0,
    0.1, ..., 1) and precision, recall, FPR and FNR at MaxF (without the 1e-10); None when
    undefined."""
    tp, fp, precision, recall, f = (values[0] for values in kitti_curve(batch))
    positives, negatives = batch.scores[0, 0].sum(), batch.scores[0, 1].sum()
    if not np.isfinite(f).any():
        return dict.fromkeys(("max_f_threshold", "kitti_ap", "precision_at_max_f",
                              "recall_at_max_f", "fpr_at_max_f", "fnr_at_max_f"))
    best, kept = int(f.argmax()), tp > 0
    ap = np.mean([precision[kept & (recall >= point)].max(initial=0) for point in KITTI_RECALLS])
    return {"max_f_threshold": float(KITTI_THRESHOLDS[best]), "kitti_ap": float(ap),
            "precision_at_max_f": float(tp[best] / (tp[best] + fp[best])),
            "recall_at_max_f": float(tp[best] / positives),
            "fpr_at_max_f": float(fp[best] / negatives) if negatives else None,
            "fnr_at_max_f": float((positives - tp[best]) / positives)}


class Measure(NamedTuple):
    """A headline number: the field's name for it, what a page's figure calls it, its value for each
    row of a Batch (given the row's Numbers so far), what it is in a sentence (a function of the
    report), and whether it needs --boundary."""
    name: str
    figure: str
    value: object  # (Batch, Numbers) -> (rows,) float64, nan where undefined
    meaning: object = None  # report -> str; None: the figure says it
    boundary: bool = False
    scores: bool = False  # whether it needs score maps (--scores)
    groups: bool = False  # whether it needs class groups (--groups)
    instances: bool = False  # whether it needs instances (--instances)
    distances: bool = False  # whether it needs boundary distances (--distances)


def _classes_said(report, labelled=False, key=None, where=""):
    """How many classes a mean is over (labelled: those in the label; key: those where that number
    is defined, said by where), and those --exclude-from-means left out."""
    classes = [class_id for class_id, entry in report["classes"].items()
               if (entry["support"] > 0 or not labelled) and (key is None or entry.get(key)
                                                               is not None)]
    left_out = [class_id for class_id in classes
                if int(class_id) in report.get("excluded_from_means", ())]
    return plural(len(classes) - len(left_out), "class", "classes") + where + (
        f" (left out by --exclude-from-means: {', '.join(left_out)})" if left_out else "")


def _groups_said(report):
    return plural(sum(entry["iou"] is not None for entry in report["groups"].values()), "group")


def _zero_by_zero(report, both):
    """Where kappa (both: label and inference hold one and the same id) or MCC (either holds one) is
    0/0."""
    matrix = report["confusion_matrix"]["matrix"]
    held = (sum(map(any, matrix)), sum(map(any, zip(*matrix))))
    undefined = held == (1, 1) if both else 1 in held
    return ", 0/0 here (one id only), shown as --zero-division says" if undefined else ""


def _distance_said(key, report):
    distance = DISTANCES[key]
    return (f"mean {distance.title} of the "
            f"{_classes_said(report, key=key, where=' where it is defined')}"
            f"{', each its mean over the images' if 'images' in report else ''}: "
            f"{distance.meaning}")


# The headline numbers, as the field names them, by their JSON key (a report holds each at its top
# level).
MEASURES = {
    "accuracy": Measure("aAcc", "pixel accuracy", pixel_accuracy, lambda report: (
        "pixel accuracy: {} of {} pixels correct".format(
            sum(row[k] for k, row in enumerate(report["confusion_matrix"]["matrix"])),
            report["pixels"]))),
    "mean_iou": Measure("mIoU", "mean IoU", lambda batch, numbers: numbers.macro["iou"],
                        lambda report: (
        f"mean IoU (Jaccard) of the {_classes_said(report)}"
        + (", pooled over all pixels" if "images" in report else ""))),
    "mean_accuracy": Measure("mAcc", "mean accuracy", mean_accuracy, lambda report: (
        f"mean recall (sensitivity) of the {_classes_said(report, labelled=True)} in the label, "
        "= balanced accuracy")),
    "mean_dice": Measure("mDice", "mean Dice", lambda batch, numbers: numbers.macro["f1_score"],
                         lambda report: f"mean F1 (Dice) of the {_classes_said(report)}"),
    "frequency_weighted_iou": Measure("fwIoU", "frequency-weighted IoU",
                                      lambda batch, numbers: numbers.weighted["iou"],
                                      lambda report: "IoU weighted by each class's pixels in the "
                                      "label" + ("" if "excluded_from_means" not in report else
                                                 f", over the {_classes_said(report)}")),
    "cohen_kappa": Measure("kappa", "Cohen's kappa", cohen_kappa, lambda report: (
        "Cohen's kappa: agreement beyond chance" + _zero_by_zero(report, both=True))),
    "matthews_corrcoef": Measure("MCC", "Matthews correlation", matthews_corrcoef, lambda report: (
        "Matthews correlation coefficient" + _zero_by_zero(report, both=False))),
    "mean_boundary_iou": Measure("mBIoU", "mean boundary IoU", mean_boundary_iou, lambda report: (
        "mean boundary IoU (Cheng et al. 2021) of the classes with a boundary band"),
        boundary=True),
    "mean_group_iou": Measure("mGIoU", "mean group IoU", mean_group_iou, lambda report: (
        f"mean IoU of the {_groups_said(report)}, each scored as one class against the rest"),
        groups=True),
    "mean_iiou": Measure("miIoU", "mean instance-level IoU", mean_iiou, lambda report: (
        "mean iIoU of the classes with instances (cityscapesScripts' iIoU: each instance's pixels "
        "weighted by its class's average instance size over its own)"), instances=True),
    "mean_group_iiou": Measure("mGiIoU", "mean group iIoU", mean_group_iiou, lambda report: (
        "mean iIoU of the groups whose classes have instances"), groups=True, instances=True),
    "roc_auc": Measure("AUC", "ROC AUC", roc_auc, lambda report: (
        "area under the ROC curve of the score maps (scikit-learn's roc_auc_score)"), scores=True),
    "average_precision": Measure("AP", "average precision", average_precision, lambda report: (
        "average precision of the score maps (scikit-learn's average_precision_score)"),
        scores=True),
    "max_f": Measure("MaxF", "KITTI MaxF", max_f, lambda report: (
        "the largest F1 over the thresholds k/255, as the KITTI road devkit finds it"),
        scores=True),
    **{f"mean_{key}": Measure(f"m{distance.title.replace(' ', '')}", f"mean {distance.title}",
                              mean_distance(key), functools.partial(_distance_said, key),
                              distances=True)
       for key, distance in DISTANCES.items()},
}


# ---------------------------------------------------------------- reports

def compute_report(matrix, zero_division=0.0, ignore_index=None, class_names=None, boundary=None,
                   groups=None, excluded=()):
    """Classification report of a pair's Counts, or of a 256x256 confusion matrix (and its (2, 256)
    boundary counts, when given), as a JSON-ready dict: the tally it comes from, each class's entry,
    and every number of CLASS_METRICS and MEASURES (a Batch of one); with groups ({name: ids}),
    each group's numbers; excluded: ids left out of every mean over classes.

    Undefined values are None. Only classes that occur (in the label or the
    inference) get a row and enter the averages; ignore_index never gets a row.
    With boundary counts each class gets its boundary IoU and the counts it comes from.
    """
    counts = matrix if isinstance(matrix, Counts) else counts_of_matrix(matrix, boundary)
    class_names = class_names or {}
    batch = batch_of_counts(counts, ignore_index, zero_division, groups, excluded)
    numbers = evaluate(batch)
    _, support, predicted = batch.stats[0][:3, batch.is_class].tolist()
    report_classes = {}
    table = np.array([values[0] for values in numbers.classes.values()])
    values_by_class, undefined = table.T.tolist(), np.isnan(table).any()
    for class_id, values, count, guessed in zip(counts.ids[batch.is_class].tolist(),
                                                values_by_class, support,
                                                predicted):
        # no 0/0 left undefined: the usual case
        report_classes[str(class_id)] = {
            "name": class_names.get(class_id),
            **(dict(zip(CLASS_METRICS, values)) if not undefined
               else {key: None if value != value else value for key,
                     value in zip(CLASS_METRICS, values)}),
            "support": count,
            "occurs_in": "both" if count and guessed else "label" if count else "inference",
        }
    if counts.boundary is not None:
        _add_boundary_counts(report_classes, counts.boundary[:, batch.is_class], zero_division)
    for key, values in (numbers.distances or {}).items():
        for entry, value in zip(report_classes.values(), values[0].tolist()):
            entry[key] = None if value != value else value
    return {
        "pixels": int(batch.stats[0][1].sum()),
        "confusion_matrix": {"labels": counts.ids.tolist(), "matrix": counts.matrix.tolist()},
        "classes": report_classes,
        "unexpected_ids": _unexpected_ids(counts, class_names),
        **({"excluded_from_means": sorted(excluded)} if excluded else {}),
        **({} if counts.distances is None or counts.distances.tolerance is None
           else {"tolerance": counts.distances.tolerance}),
        "macro_avg": {key: _number(values[0]) for key, values in numbers.macro.items()},
        "weighted_avg": {key: _number(values[0]) for key, values in numbers.weighted.items()},
        **{key: _number(values[0]) for key, values in numbers.measures.items()},
        **({} if counts.scores is None else {"scores": _score_block(counts.scores, batch,
                                                                    numbers)}),
        **({} if groups is None else {"groups": _group_block(groups, numbers)}),
        **({} if counts.instances is None else _instance_block(counts.instances, batch, numbers,
                                                               report_classes)),
    }


def _instance_block(weighted, batch, numbers, report_classes):
    """--instances: each class's iIoU in its entry (of the report being made), and the report's
    "instances": the weighted tally --merge sums."""
    for column, class_id in enumerate(batch.instance_ids.tolist()):
        if str(class_id) in report_classes:
            report_classes[str(class_id)]["iiou"] = _number(numbers.iiou[0][column])
    return {"instances": {"classes": {str(c): pair.tolist() for c, pair in
                                      sorted(weighted.classes.items())},
                          "groups": {name: pair.tolist() for name, pair in
                                     weighted.groups.items()}}}


GROUP_METRICS = {"iou": "iou", "dice": "f1_score", "precision": "precision", "recall": "recall"}


def group_numbers(group_values):
    """A group's numbers, {JSON name: the key of Numbers.groups}: GROUP_METRICS, and DISTANCES when
    the groups have them."""
    return {**GROUP_METRICS, **{key: key for key in DISTANCES if key in group_values}}


def _group_block(groups, numbers):
    """A report's "groups": each group's ids and numbers (GROUP_METRICS: their JSON names and the
    CLASS_METRICS they are), None where the group does not occur."""
    return {name: {"ids": ids, **{key: _number(numbers.groups[metric][0][column])
                                  for key, metric in group_numbers(numbers.groups).items()},
                   **({} if numbers.group_iiou is None
                      else {"iiou": _number(numbers.group_iiou[0][column])})}
            for column, (name, ids) in enumerate(groups.items())}


def _score_block(tally, batch, numbers):
    """A report's "scores": the score-map numbers (those of MEASURES again, and the KITTI road
    devkit's), the pixels on each side, and the tally itself, from which --merge sums them."""
    return {**{key: _number(values[0]) for key, values in numbers.measures.items()
               if MEASURES[key].scores},
            **kitti_road_numbers(batch),
            "positives": int(tally.positives.sum()), "negatives": int(tally.negatives.sum()),
            "counts": {"levels": tally.levels.tolist(), "positives": tally.positives.tolist(),
                       "negatives": tally.negatives.tolist()}}


def _number(value):
    """A float for JSON and display, or None where the value is undefined."""
    return None if math.isnan(value) else float(value)


def _add_boundary_counts(report_classes, boundary, zero_division):
    """Add each class's boundary IoU to its entry, and the counts it comes from, which merge
    exactly: boundary is the classes' (2, classes) boundary intersection and union."""
    boundary_iou = _divide(boundary[0], boundary[1], zero_division)
    for entry, value, common, either in zip(report_classes.values(), boundary_iou.tolist(),
                                            boundary[0].tolist(), boundary[1].tolist()):
        entry.update(boundary_iou=None if value != value else value, boundary_intersection=common,
                     boundary_union=either)


def _unexpected_ids(counts, class_names):
    """{id: the pixels it is labelled or predicted on} of the ids without a class name, when there
    are names."""
    if not class_names:
        return {}
    carrying = counts.matrix.sum(axis=1) + counts.matrix.sum(axis=0) - np.diagonal(counts.matrix)
    return {str(class_id): int(pixels) for class_id, pixels in zip(counts.ids.tolist(), carrying)
            if class_id not in class_names}


def headline_numbers(report):
    """A report's headline numbers, by their keys in MEASURES (those the report has)."""
    return {key: report[key] for key in MEASURES if key in report}


def confused_pairs(report, count, class_names):
    """The count largest off-diagonal cells of a report's matrix: rows of CONFUSED_TABLE, largest
    first."""
    labels = report["confusion_matrix"]["labels"]
    if not labels:
        return []
    matrix = np.array(report["confusion_matrix"]["matrix"], dtype=np.int64)
    errors = matrix.copy()
    np.fill_diagonal(errors, 0)
    label_pixels, all_errors = matrix.sum(axis=1), errors.sum()
    largest = np.argsort(-errors, axis=None, kind="stable")[:count]
    pairs = []
    for row, column in zip(*np.unravel_index(largest, errors.shape)):
        if errors[row, column]:
            pairs.append({"label": (labels[row], class_names.get(labels[row])),
                          "predicted": (labels[column], class_names.get(labels[column])),
                          "pixels": int(errors[row, column]),
                          "of_label": errors[row, column] / label_pixels[row],
                          "of_errors": errors[row, column] / all_errors})
    return pairs


def worst_class(report):
    """(id, entry) of the class in the label with the lowest IoU, or None when there is none.

    Only when no labelled class has an IoU does a class found only in the
    inference count: naming a hallucinated class as the image's worst would hide
    the labelled class the model missed. A class --exclude-from-means leaves out of the mean IoU
    is not named either (it would be the worst of an image whose other classes are all missed).
    """
    excluded = report.get("excluded_from_means", ())
    defined = [(entry["support"] == 0, entry["iou"], int(class_id), entry)
               for class_id, entry in report["classes"].items()
               if entry["iou"] is not None and int(class_id) not in excluded]
    if not defined:
        return None
    *_, class_id, entry = min(defined, key=lambda item: item[:3])
    return class_id, entry


def image_report(image_id, label_path, inference_path, counts, scoring=Scoring()):
    """The report of one image's Counts under the scoring record, with its id and files first (None
    for arrays given in memory, which have no file)."""
    return {"id": image_id, "label": label_path and shown(label_path),
            "inference": inference_path and shown(inference_path),
            **compute_report(counts, scoring.zero_division, scoring.ignore_index,
                             scoring.class_names, groups=scoring.groups,
                             excluded=scoring.exclude_from_means)}


def files_compared(report):
    """': label vs inference' of an image report's files, or '' for arrays given in memory."""
    return "" if report["label"] is None else f": {report['label']} vs {report['inference']}"


def combined_report(total, summary_rows, scoring=Scoring(), image_ious=None, num_classes=None):
    """The report of the summed Counts under the scoring record, with the image count, the mean of
    per-image mean IoUs, and the headline numbers as other tools would compute them (image_ious: an
    ImageIoUs of the same images)."""
    ignore_index, class_names = scoring.ignore_index, scoring.class_names
    report = {"images": len(summary_rows),
              **compute_report(total, scoring.zero_division, ignore_index, class_names,
                               groups=scoring.groups, excluded=scoring.exclude_from_means),
              "mean_image_mean_iou": _number(_macro_average(np.array(
                  [math.nan if row["mean_iou"] is None else row["mean_iou"]
                   for row in summary_rows])))}
    matrix = whole_matrix(total)
    report["conventions"] = peer_conventions(report, matrix, image_ious or ImageIoUs(),
                                             *number_of_classes(num_classes, class_names or {},
                                                                ignore_index,
                                                                matrix), ignore_index)
    if (class_names == DATASETS["cityscapes"].names
            and scoring.groups == GROUP_PRESETS["cityscapes-categories"]):
        report["cityscapes"] = cityscapes_numbers(report)
    if scoring.distances is not None:
        report["conventions"]["distances"] = distance_conventions(report)
    return report


# The boundary numbers as other tools name them: (tool, {their name: the key of MEASURES that is
# their number, or None where they compute it otherwise}, how they differ), by a short key.
DISTANCE_PEERS = {
    "monai": ("MONAI", {"HD95": "mean_hd95", "ASD": "mean_assd", "NSD": "mean_nsd"},
              "compute_hausdorff_distance(percentile=95): the larger directed 95th percentile; "
              "compute_average_surface_distance(symmetric=True): both directions' distances "
              "together; compute_surface_dice: within the tolerance (<=); the same 4-connected "
              "inner border; a class in one mask only gives HD and ASD inf, HD95 nan, NSD 0, and "
              "one in neither nan"),
    "medpy": ("MedPy 0.5", {"hd95": "mean_hd95_pooled", "assd": "mean_assd", "hd": "mean_hd"},
              "medpy.metric.binary.hd95 takes the 95th percentile of both directions' distances "
              "pooled, which is not MONAI's HD95; assd pools them too; a mask without the class "
              "stops it (RuntimeError)"),
    "medpy_old": ("MedPy before 0.5", {"assd": "mean_masd"},
                  "its assd was the mean of the two directed means (changed in 0.5.0, 2024)"),
    "metrics_reloaded": ("Metrics Reloaded", {"HD95": "mean_hd95", "ASSD": "mean_assd",
                                              "MASD": "mean_masd", "NSD": "mean_nsd"},
                         "its reference code's definitions; a class in one mask only: distances "
                         "undefined (the worst value when aggregated), NSD 0; in neither: "
                         "distances 0 and NSD 1, where this tool leaves the case out"),
    "deepmind": ("DeepMind surface-distance", {"robust HD95": None, "surface Dice": None},
                 "compute_robust_hausdorff and compute_surface_dice_at_tolerance measure between "
                 "surface elements on the pixel-corner grid, each weighted by its length, and "
                 "pick the percentile by cumulative length without interpolation: the same "
                 "definitions on another boundary, so their values differ"),
    "matlab": ("MATLAB", {"ClassMetrics.MeanBFScore, averaged": "mean_boundary_f"},
               "bfscore: the same inner border (4-connected, the image edge outside); a boundary "
               "pixel matches when the other boundary is nearer than the threshold, by default "
               "0.75% of the diagonal; DataSetMetrics.MeanBFScore is the mean over images of each "
               "image's mean over classes instead"),
}


def distance_conventions(report):
    """The boundary numbers of a combined report as other tools name them (DISTANCE_PEERS), each the
    mean over classes of their means over images."""
    return {key: {"name": name, "numbers": {their: None if ours is None else report[ours]
                                            for their, ours in numbers.items()}, "rule": rule}
            for key, (name, numbers, rule) in DISTANCE_PEERS.items()}


def cityscapes_numbers(report):
    """The Cityscapes benchmark's four numbers, as cityscapesScripts names them, of a combined
    report over its 19 train ids with their categories as groups: IoU class (its own convention: a
    class predicted but absent counts as 0), iIoU class, IoU category, iIoU category (None without
    --instances)."""
    return {"iou_class": report["conventions"]["tools"]["cityscapes"]["mIoU"],
            "iiou_class": report.get("mean_iiou"), "iou_category": report["mean_group_iou"],
            "iiou_category": report.get("mean_group_iiou")}


class ImageIoUs:
    """Each id's IoU summed over the images it occurs in, and the number of those images: what an
    average over images (torchmetrics' MeanIoU) needs, kept in 4 KB however many images there
    are."""

    def __init__(self):
        self.sums = np.zeros(LABEL_SPACE)
        self.images = np.zeros(LABEL_SPACE, dtype=np.int64)

    def add(self, counts):
        """Add one image's Counts."""
        tp = np.diagonal(counts.matrix)
        union = counts.matrix.sum(axis=0) + counts.matrix.sum(axis=1) - tp
        # a predicted ignore id occurs too: a tool without an ignore index sees it
        occurs = union > 0
        self.sums[counts.ids[occurs]] += tp[occurs] / union[occurs]
        self.images[counts.ids[occurs]] += 1


def number_of_classes(option, class_names, ignore_index, matrix):
    """N, the class count other tools are given, and where it comes from: --num-classes; else the
    named ids 0, 1, 2, ... up to the largest named id below the ignore index, void names aside
    (Cityscapes' names give 19, not 256 for void; COCO's category ids, which leave some unused,
    91); else 1 + the largest id that occurs, the ignore index aside."""
    if option is not None:
        return option, "--num-classes"
    count = 0
    while count in class_names and count != ignore_index:
        count += 1
    voids = void_ids(class_names)
    below = [class_id for class_id in class_names if class_id not in voids
             and (ignore_index is None or class_id < ignore_index)]
    if count:
        return max(count, max(below) + 1), "the class names"
    occurring = np.flatnonzero((matrix.sum(axis=1) > 0) | (matrix.sum(axis=0) > 0))
    occurring = occurring[occurring != ignore_index] if ignore_index is not None else occurring
    return (int(occurring[-1]) + 1 if occurring.size else 0), "the ids that occur"


# Other evaluators: (short name, full name, how it computes the headline numbers, in our words, from
# its code); N is the class count each is given.
PEER_RULES = {
    "mmsegmentation": ("mmsegmentation, HF evaluate",
                       "mmsegmentation IoUMetric and Hugging Face evaluate mean_iou",
                       "classes 0..N-1 whose union is not 0, pooled over all pixels; pixels "
                       "labelled an id >= N are not counted, but a prediction of class c on them "
                       "still counts against c; mFscore leaves out a class with TP = 0 (its F is "
                       "0/0 there); mmsegmentation prints x100, rounded to 2 decimals"),
    "torchmetrics_jaccard": ("torchmetrics JaccardIndex",
                             "torchmetrics MulticlassJaccardIndex(average='macro')",
                             "classes 0..N-1 that occur, pooled over all pixels; stops on an id >= "
                             "N"),
    "torchmetrics_mean_iou": ("torchmetrics MeanIoU", "torchmetrics MeanIoU",
                              "each image's IoU of each class 0..N-1 that occurs in it, averaged "
                              "over all such (image, class) pairs: a small image or a rare class "
                              "weighs as much as a large one; it has no ignore index (here ignored "
                              "pixels are removed first) and stops on an id >= N"),
    "detectron2": ("detectron2", "detectron2 SemSegEvaluator",
                   "only the classes in the label: a class that is only predicted never lowers a "
                   "mean; an id >= N gives no number to trust (a label of N is taken for void, a "
                   "larger id is counted in another class's cell, and past (N+1)^2 cells it "
                   "stops); it calls aAcc pACC and mAcc mACC, and prints x100"),
    "cityscapes": ("cityscapesScripts", "cityscapesScripts evalPixelLevelSemanticLabeling",
                   "classes 0..N-1 (the 19 of Cityscapes); pixels labelled an id >= N count "
                   "against no class, as void does; a class with TP + FP + FN = 0 is left out"),
}
PEER_NUMBERS = ("aAcc", "mIoU", "mAcc", "mDice", "mFscore", "fwIoU")  # as the tools name them


def our_conventional_numbers(report):
    """This tool's numbers under the names of PEER_NUMBERS (mFscore is our mDice: F1 is never 0/0
    here)."""
    by_name = {measure.name: report.get(key) for key, measure in MEASURES.items()}
    ours = {name: by_name[name] for name in PEER_NUMBERS if name in by_name}
    return {**ours, "mFscore": ours["mDice"]}


def peer_conventions(report, matrix, image_ious, num_classes, num_classes_from, ignore_index):
    """The headline numbers as each tool in PEER_RULES would compute them on the pixels of matrix (a
    256x256 matrix whose ignore row is empty), with N = num_classes. A tool that stops on ids >= N
    gets "refused" instead of numbers; "agree" says whether every tool gives this tool's own
    numbers."""
    n = num_classes
    labelled, predicted = matrix.sum(axis=1), matrix.sum(axis=0)
    beyond = [k for k in np.flatnonzero((labelled > 0) | (predicted > 0)).tolist() if k >= n]
    listed = ", ".join(map(str, beyond[:8])) + (", ..." if len(beyond) > 8 else "")
    held = f"the masks hold ids >= N ({listed})"
    refusals = {"torchmetrics_jaccard": f"stops: {held}", "torchmetrics_mean_iou": f"stops: {held}",
                "detectron2": f"no number to trust: {held}, which it takes for void, counts in "
                              "another class's cell, or stops on"} if beyond else {}
    tools = peer_numbers(matrix, image_ious, n, ignore_index)
    ours = our_conventional_numbers(report)
    conventions = {"num_classes": n, "num_classes_from": num_classes_from, "agree": True,
                   "tools": {}}
    for tool, numbers in tools.items():
        stops = refusals.get(tool)
        short, name, rule = PEER_RULES[tool]
        entry = {"short": short, "name": name, "rule": rule, "refused": stops}
        entry.update({name: None if stops else _number(value) for name, value in numbers.items()})
        conventions["tools"][tool] = entry
        conventions["agree"] &= stops is None and all(
            entry[name] is None and ours[name] is None
            or None not in (entry[name], ours[name])
            and math.isclose(entry[name], ours[name], rel_tol=1e-12, abs_tol=1e-15)
            for name in numbers)
    return conventions


def peer_numbers(matrix, image_ious, n, ignore_index):
    """{tool of PEER_RULES: {its name of a number: the value it computes}} on the pixels of a
    256x256 matrix, with N = n classes (nan where a tool's number is undefined)."""
    labelled, predicted = matrix.sum(axis=1), matrix.sum(axis=0)
    tp, label, prediction = np.diag(matrix)[:n], labelled[:n], predicted[:n]
    # mmsegmentation and HF evaluate: histograms of the ids 0..N-1 over the counted pixels.
    union = prediction + label - tp
    precision, recall = _ratio(tp, prediction), _ratio(tp, label)
    with np.errstate(invalid="ignore"):
        fscore = 2 * precision * recall / (precision + recall)
    tools = {"mmsegmentation": {"aAcc": _ratio(tp.sum(), label.sum()).item(),
                                "mIoU": _macro_average(_ratio(tp, union)),
                                "mAcc": _macro_average(recall),
                                "mDice": _macro_average(_ratio(2 * tp, prediction + label)),
                                "mFscore": _macro_average(fscore)}}
    # torchmetrics: the same classes, the ignore id's own column (when below N) left out.
    iou = _ratio(tp, union)
    if ignore_index is not None and ignore_index < n:
        iou[ignore_index] = math.nan
    tools["torchmetrics_jaccard"] = {"mIoU": _macro_average(iou)}
    tools["torchmetrics_mean_iou"] = {"mIoU": _ratio(image_ious.sums[:n].sum(),
                                                     image_ious.images[:n].sum()).item()}
    # detectron2: the classes with pixels in the label.
    in_label = label > 0
    weights = label / max(label.sum(), 1)
    tools["detectron2"] = {"aAcc": _ratio(tp.sum(), label.sum()).item(),
                           "mIoU": float(np.mean(iou[in_label])) if in_label.any() else math.nan,
                           "mAcc": float(np.mean(recall[in_label])) if in_label.any() else math.nan,
                           "fwIoU": float(np.sum(iou[in_label] * weights[in_label]))
                           if in_label.any() else math.nan}
    # cityscapesScripts: false positives only from pixels labelled a class 0..N-1.
    false_positives = matrix[:n, :n].sum(axis=0) - tp
    city = _ratio(tp, tp + false_positives + (label - tp))
    if ignore_index is not None and ignore_index < n:
        city[ignore_index] = math.nan
    tools["cityscapes"] = {"mIoU": _macro_average(city)}
    return tools


def summary_row(report, file=None):
    """What the per-image summary shows of a report: kept for every image, so it stays small.

    file is the name of the image's output files (see output_name).
    """
    worst = worst_class(report)
    row = {"id": report["id"], "file": file, "pixels": report["pixels"],
           "accuracy": report["accuracy"], "mean_iou": report["mean_iou"],
           "macro_f1": report["macro_avg"]["f1_score"],
           "worst_class": worst and (worst[0], worst[1]["name"], worst[1]["iou"])}
    if "mean_boundary_iou" in report:
        row["mean_boundary_iou"] = report["mean_boundary_iou"]
    return row


def occurrence_note(entry, zero_division):
    """Why a class row holds a 0/0, when it occurs on one side only."""
    if entry["occurs_in"] == "both":
        return ""
    as_shown = {0.0: "shown as 0", 1.0: "shown as 1"}.get(zero_division, "undefined")
    if entry["occurs_in"] == "label":
        return f"label only: never predicted, precision is 0/0, {as_shown}"
    if entry["occurs_in"] == "inference":
        return f"inference only: no support, recall is 0/0, {as_shown}"
    return ""


def unexpected_note(report):
    listed = ", ".join(f"{class_id} ({plural(pixels, 'pixel')})"
                       for class_id, pixels in report["unexpected_ids"].items())
    return f"unexpected ids (no class name; wrong file or mapping?): {listed}"


def undefined_note(report):
    """A note when some values are undefined (0/0 with --zero-division nan) and left out of the
    averages."""
    if any(entry[m] is None for entry in report["classes"].values() for m in CLASS_METRICS):
        return "(undefined values, 0/0 with --zero-division nan, are left out of both averages)"
    return None


def void_ids(class_names):
    """The ids whose class name says they mark pixels to leave out (void, unlabelled, ...)."""
    return [class_id for class_id, name in sorted(class_names.items())
            if name.strip().lower().replace("'", "") in VOID_NAMES]


def void_note(report, ignore_index, class_names):
    """A hint when a labelled id is counted as a class though it is likely void: its name says so,
    or it is an unnamed 255, never predicted, in a task of several classes besides it. (An unnamed
    255 next to one other class is more likely a foreground.)"""
    named = [class_id for class_id in void_ids(class_names) if class_id != ignore_index
             and report["classes"].get(str(class_id), {}).get("support")]
    if named:
        return (f"note: id {named[0]} is named {class_names[named[0]]!r} and its label pixels are "
                "counted as a class; if it marks pixels to leave out, run again with "
                f"--ignore-index {named[0]}")
    void = report["classes"].get("255")
    others = [class_id for class_id, entry in report["classes"].items() if class_id != "255"
              and entry["support"]]
    if ignore_index is None and 255 not in class_names and void and void["occurs_in"] == "label" \
            and len(others) >= 2:
        return ("note: id 255 is in the labels but never predicted; if it marks pixels to leave "
                "out (void), run again with --ignore-index 255")
    return None


# Known ways in which two files can mean different things by the same id: the map from the labels'
# id to the inferences' id that each stands for, and the option that undoes it.
CITYSCAPES_TRAIN_IDS = {label_id: train_id for label_id, train_id,
                        _ in CITYSCAPES_LABELS if train_id != 255}
ID_SCHEMES = (
    (CITYSCAPES_TRAIN_IDS.get,
     "Cityscapes labelIds in the labels against trainIds in the inferences",
     "--label-map cityscapes-labelids"),
    ({train_id: label_id for label_id, train_id in CITYSCAPES_TRAIN_IDS.items()}.get,
     "Cityscapes trainIds in the labels against labelIds in the inferences",
     "--inference-map cityscapes-labelids"),
    (lambda k: k - 1 if 0 < k < 255 else None,
     "ids before reduce-zero-label in the labels (ADE20K's 0 = other, "
     "k = class k-1) against ids after it in the inferences", "--label-map reduce-zero-label"),
    (lambda k: k + 1 if k < 254 else None,
     "ids after reduce-zero-label in the labels against ids before it in "
     "the inferences", "--inference-map reduce-zero-label"),
)
# a label id with fewer of the counted pixels says too little about the ids
MIN_SHARE_OF_PIXELS = 0.0005
# Inferences holding this many ids, and this many times as many as the labels, hold scores
# (probabilities saved as 0..255, or masks resized with interpolation), not class ids: no model of a
# dataset's classes predicts so many (COCO-Stuff has 171, ADE20K 150); nor this many against a
# binary task's labels.
SCORE_MAP_IDS = 200
SCORE_MAP_RATIO = 8
BINARY_SCORE_MAP_IDS = 32


def id_scheme_warnings(matrix, ignore_index=None):
    """What the counts of a (combined) matrix say about the ids: warnings that the numbers are wrong
    as the ids stand, naming the option that fixes it where there is one; [] when nothing is amiss.

    Score maps on one side (score_map_warnings); and where the label's id is mostly
    predicted as another id for most classes, and those other ids are all different
    (a renaming, not a poor model that predicts one class everywhere), the ids do
    not mean the same in both.
    """
    labelled, predicted = matrix.sum(axis=1), matrix.sum(axis=0)
    label_ids = set(np.flatnonzero(labelled).tolist())
    inference_ids = set(np.flatnonzero(predicted).tolist())
    both = label_ids | inference_ids
    for labels, inferences, option in (({0, 255}, {0, 1}, "--label-map 255:1"),
                                       ({0, 1}, {0, 255}, "--inference-map 255:1")):
        if 255 in both and 1 in both and label_ids <= labels and inference_ids <= inferences:
            return [f"the labels hold ids {sorted(label_ids)} and the inferences "
                    f"{sorted(inference_ids)}: one class in two encodings (0/255 and 0/1)? Map it "
                    f"with {option}; leaving 255 out as void would drop that class instead of "
                    "scoring it"]
    score_maps = score_map_warnings(labelled, predicted, ignore_index)
    if score_maps:
        return score_maps
    sizeable = [k for k in sorted(label_ids) if k != ignore_index
                and labelled[k] >= MIN_SHARE_OF_PIXELS * labelled.sum()]
    dominant = {k: int(np.argmax(matrix[k])) for k in sizeable}
    moved = {k: p for k, p in dominant.items() if p != k and matrix[k, p] * 2 > labelled[k]}
    if len(moved) < max(2, len(sizeable) / 2):
        return _scheme_by_agreement(matrix)
    mapping = ", ".join(f"{k}→{p}" for k, p in list(moved.items())[:8]) + (", ..."
                                                                           if len(moved) > 8
                                                                           else "")
    said = (f"most pixels of {len(moved)} of the {len(sizeable)} label ids are predicted as "
            f"another id (label→inference: {mapping})")
    for scheme, reading, option in ID_SCHEMES:
        expected = {k: scheme(k) for k in moved if scheme(k) is not None}
        if len(expected) >= 2 and sum(moved[k] == target for k,
                                      target in expected.items()) >= 0.8 * len(expected):
            return [f"{said}: this looks like {reading}: use {option}"]
    if len(set(moved.values())) == len(moved):
        return [f"{said}, each to a different id: the two seem to number the classes differently; "
                "map one onto the other with --label-map or --inference-map"]
    return _scheme_by_agreement(matrix)


def score_map_warnings(labelled, predicted, ignore_index=None):
    """A warning when the inferences hold scores, not class ids: SCORE_MAP_IDS ids or more, and
    SCORE_MAP_RATIO times as many as the labels hold; or, against labels of one or two ids (a binary
    task), BINARY_SCORE_MAP_IDS or more (probabilities saved as percentages). labelled, predicted:
    pixels per id; a predicted ignore id is no class of the labels'."""
    label_ids, inference_ids = np.flatnonzero(labelled), np.flatnonzero(predicted)
    inference_ids = inference_ids[inference_ids != ignore_index]
    # (Not the labels: many label ids against few predicted ones is a model that predicts one
    # class.)
    ids = len(inference_ids)
    many = ids >= SCORE_MAP_IDS and ids >= SCORE_MAP_RATIO * len(label_ids)
    if many or len(label_ids) <= 2 and len(inference_ids) >= BINARY_SCORE_MAP_IDS:
        return [f"the inferences hold {len(inference_ids)} ids from {inference_ids[0]} to "
                f"{inference_ids[-1]}, the labels {plural(len(label_ids), 'id')}: these look like "
                "score maps (a probability per pixel saved as 0..255, or masks resized with "
                "interpolation), not class ids, and the numbers are not meaningful: score "
                "probability maps with --scores (ROC AUC, AP, MaxF, and the report at "
                "--threshold), or threshold them into class ids"]
    return []


def positive_class_warnings(report, scoring):
    """Warnings that score maps were not scored as meant: labels none of whose counted pixels is the
    positive class (every number of the maps undefined: the id given is likely wrong), or maps
    that hold only 0 and 1 of 255, class ids saved as masks (nothing reaches a threshold of 0.5)."""
    block = report.get("scores")
    if block is None:
        return []
    warnings = []
    if block["negatives"] and not block["positives"]:
        warnings.append("no counted pixel is labelled the positive class "
                        f"{scoring.positive_class}: give the labels' id of the class the maps "
                        "score with --positive-class (e.g. 255 for masks saved as 0/255, as "
                        "DRIVE's manual labels are), or map it to 1 with --label-map")
    if set(block["counts"]["levels"]) <= {0.0, 1 / 255} and 1 / 255 in block["counts"]["levels"]:
        warnings.append("the score maps hold only the values 0 and 1 (of 255): these are class "
                        "ids, not scores; score them without --scores")
    return warnings


def unweighted_instances_hint(report):
    """A hint when --instances weighed no pixel, though the labels hold classes that have
    instances: their files' classes are likely of another scheme (Cityscapes' labelIds against
    train-id labels)."""
    weighted = report.get("instances")
    if weighted is None or any(any(pair) for pair in weighted["classes"].values()):
        return []
    held = [c for c in weighted["classes"] if report["classes"].get(c, {}).get("support")]
    return [f"the labels hold classes that have instances ({', '.join(held)}), but no pixel of an "
            "instance file was an instance of them: are the instance files' classes Cityscapes' "
            "labelIds? give --instance-map cityscapes-labelids"] if held else []


def ignored_foreground_hint(matrix, ignore_index=None):
    """A warning, no doubt (healthy scans, a shard of negatives), when every counted label pixel is
    0 with 255 ignored and the inferences hold 1: 255 may be the labels' foreground, saved 0/255."""
    label_ids = set(np.flatnonzero(matrix.sum(axis=1)).tolist())
    if ignore_index == 255 and label_ids == {0} and matrix[:, 1].any():
        return ["every counted label pixel is 0 and the inferences hold 1: if 255 is the labels' "
                "foreground (0/255 against 0/1), ignoring it drops the whole class; map it with "
                "--label-map 255:1 instead"]
    return []


def _scheme_by_agreement(matrix):
    """A warning when most counted pixels agree once the labels are read in one of ID_SCHEMES and at
    most half as many as they are: what a model with the other scheme's ids gives, however many of
    its classes it confuses (on a few images, its confusions can hide the renaming from
    id_scheme_warnings' count of ids)."""
    counted, as_they_are = matrix.sum(), np.trace(matrix)  # (the ignore index's row is not counted)
    for scheme, reading, option in ID_SCHEMES:
        agreeing = [int(matrix[k, scheme(k)]) for k in range(LABEL_SPACE) if scheme(k) is not None]
        agreeing_ids, agreeing = sum(map(bool, agreeing)), sum(agreeing)
        # Two ids at least: one class predicted as another is a poor model (or swapped binary ids),
        # not a scheme.
        if counted and agreeing_ids >= 2 and agreeing > counted / 2 and agreeing > 2 * as_they_are:
            return [f"{agreeing / counted:.0%} of the counted pixels agree if these are {reading}, "
                    f"{as_they_are / counted:.0%} as the ids are: use {option}"]
    return []


# ---------------------------------------------------------------- bootstrap
# Numbers over the images: each image's statistics kept (ImageCounts), each class's per-case
# statistics, and the images resampled for intervals and paired comparisons.

class ImageCounts:
    """Each image's Batch statistics (statistics_of: TP, label and predicted pixels per id that
    occurs in it, and with --boundary its boundary counts; with --distances its DistanceCounts),
    for the per-case statistics and the bootstrap. Kept small: the images' ids and numbers side by
    side in a few large arrays, a chunk per IMAGES_PER_CHUNK images, the counts in the smallest
    integer type that holds them (an array per image would weigh more than its numbers)."""

    def __init__(self, groups=None):
        self.chunks = []  # (ids per image, ids, statistics, distance sums, distance cases)
        self.pending = []  # the images added since the last chunk: (ids, statistics, distances)
        self.scores = []  # --scores: each image's ScoreCounts, in the same order
        self.group_names = groups  # --groups: {name: ids}, or None
        self.group_ids = None if groups is None else list(groups.values())
        self.groups = []  # and each image's group_statistics
        self.instances = []  # --instances: each image's instance_grid
        self.instance_ids = None  # and the classes that have instances
        self.group_distances = []  # --distances with --groups: each image's of the groups

    def add(self, counts):
        """Add one image's Counts."""
        self.pending.append((counts.ids.astype(np.uint8), statistics_of(counts),
                             counts.distances))
        if len(self.pending) == IMAGES_PER_CHUNK:
            self._keep_pending()
        if counts.scores is not None:
            self.scores.append(counts.scores)
        if self.group_ids is not None:
            self.groups.append(group_statistics(counts, self.group_ids))
        if counts.instances is not None:
            self.instances.append(instance_grid(counts.instances, self.group_names))
            self.instance_ids = np.array(sorted(counts.instances.classes))
        if counts.group_distances is not None:
            self.group_distances.append(counts.group_distances[:2])

    def group_distance_grids(self):
        """(images, distances, groups) float64 sums and int64 cases of each image's groups'
        DistanceCounts, or (None, None)."""
        if not self.group_distances:
            return None, None
        sums, cases = zip(*self.group_distances)
        return np.array(sums), np.array(cases, dtype=np.int64)

    def _keep_pending(self):
        ids, stats, distances = zip(*self.pending)
        stats = np.concatenate(stats, axis=1)
        stats = stats.astype(np.min_scalar_type(int(stats.max(initial=0))))  # exact
        self.chunks.append((np.array([len(image_ids) for image_ids in ids]), np.concatenate(ids),
                            stats, *((None, None) if distances[0] is None else (
                                np.concatenate([tally.sums for tally in distances], axis=1),
                                np.concatenate([tally.cases for tally in distances],
                                               axis=1).astype(np.uint8)))))
        self.pending = []

    def __len__(self):
        return sum(len(chunk[0]) for chunk in self.chunks) + len(self.pending)

    def _chunks(self):
        if self.pending:
            self._keep_pending()
        return self.chunks

    def ids(self):
        """The ids that occur in any image, ascending."""
        return np.unique(np.concatenate([chunk[1] for chunk in self._chunks()]
                                        or [np.zeros(0, np.uint8)]))

    def _spread(self, ids, part, dtype):
        """An (images, rows, ids) array of a part of the chunks (2: statistics, 3 and 4: distance
        sums and cases), each image's numbers at its ids' columns, 0 elsewhere."""
        chunks = self._chunks()
        rows = chunks[0][part].shape[0] if chunks else 3
        grid = np.zeros((len(self), rows, len(ids)), dtype=dtype)
        first = 0
        for per_image, image_ids, *numbers in chunks:
            image = np.repeat(np.arange(first, first + len(per_image)), per_image)
            grid[image, :, np.searchsorted(ids, image_ids)] = numbers[part - 2].T
            first += len(per_image)
        return grid

    def columns(self, ids):
        """For each of ids in turn, (statistics (images, 3 or 5) int64, distance sums and cases
        (images, distances) or None) of every image, 0 where the image has not the id; and first,
        each image's counted pixels: memory proportional to the images, not to images x ids."""
        chunks = self._chunks()
        at = [np.repeat(np.arange(len(per_image)), per_image) for per_image, *_ in chunks]
        starts = np.cumsum([0] + [len(chunk[0]) for chunk in chunks])
        pixels = np.zeros(len(self), dtype=np.int64)
        for (_, _, stats, *_), image, first in zip(chunks, at, starts):
            np.add.at(pixels, first + image, stats[1].astype(np.int64))
        yield pixels
        for class_id in ids.tolist():
            parts = [np.zeros((len(self), chunks[0][part].shape[0] if chunks else 3),
                              dtype=np.int64 if part != 3 else np.float64)
                     if chunks and chunks[0][part] is not None else None for part in (2, 3, 4)]
            for (_, image_ids, *numbers), image, first in zip(chunks, at, starts):
                has = image_ids == class_id
                for column, number in zip(parts, numbers):
                    if column is not None:
                        column[first + image[has]] = number[:, has].T
            yield parts

    def dense(self, ids=None):
        """(ids, statistics): ids (by default those that occur in any image), and an (images, 3 or
        5, ids) int64 array of each image's statistics: memory proportional to images x ids."""
        ids = self.ids() if ids is None else ids
        return ids, self._spread(ids, 2, np.int64)

    def distance_grids(self, ids):
        """(images, distances, ids) float64 sums and int64 cases of each image's DistanceCounts over
        ids (which hold every id of theirs), or (None, None) without distances."""
        if not self._chunks() or self.chunks[0][3] is None:
            return None, None
        return self._spread(ids, 3, np.float64), self._spread(ids, 4, np.int64)

    def instance_grid(self):
        """An (images, 2, classes then groups) float64 array of each image's instance_grid, or
        None."""
        return np.array(self.instances) if self.instances else None

    def group_grid(self):
        """An (images, 3, groups) int64 array of each image's group_statistics, or None."""
        return np.array(self.groups, dtype=np.int64).reshape(
            len(self.groups), 3, len(self.group_ids)) if self.group_ids is not None else None

    def levels(self):
        """The scores that occur in any image's score map, ascending (None without score maps)."""
        return np.unique(np.concatenate([tally.levels for tally in self.scores])) \
            if self.scores else None

    def score_grid(self, levels):
        """An (images, 2, levels) int64 array of each image's positive and negative pixels at each
        of levels (which hold every score of theirs), or None without score maps; raises RunError
        past MAX_BOOTSTRAP_BYTES (16-bit or float maps of many images)."""
        if levels is None:
            return None
        needed = len(self.scores) * 2 * len(levels) * 8
        if needed > MAX_BOOTSTRAP_BYTES:
            raise RunError(f"--bootstrap over {plural(len(self.scores), 'score map')} holding "
                           f"{len(levels)} different scores would take {needed / 2**30:.1f} GiB; "
                           "save the maps with 8 bits (256 scores) to resample them")
        grid = np.zeros((len(self.scores), 2, len(levels)), dtype=np.int64)
        for row, tally in enumerate(self.scores):
            at = np.searchsorted(levels, tally.levels)
            grid[row, 0, at], grid[row, 1, at] = tally.positives, tally.negatives
        return grid


def per_case_statistics(image_counts, images, ignore_index=None, zero_division=0.0, excluded=()):
    """The combined report's "per_case": for every per-class number (CLASS_METRICS, boundary IoU,
    DISTANCES), each class's statistics over the images where it is defined (_case_statistics),
    as medical imaging reports them beside the pooled numbers; and "per_case_means": each
    number's mean over the classes (but excluded) of their means. images: the images scored
    (those without a counted pixel hold no class). Class by class, so that memory grows with the
    images, not with images x classes."""
    class_ids = [class_id for class_id in image_counts.ids().tolist() if class_id != ignore_index]
    columns = image_counts.columns(np.array(class_ids, dtype=np.intp))
    pixels, per_case = next(columns), {}
    for class_id, (stats, sums, cases) in zip(class_ids, columns):
        values = image_class_numbers(stats, pixels, zero_division)
        for row, key in enumerate(DISTANCES if sums is not None else ()):
            values[key] = _ratio(sums[:, row], cases[:, row])
        occurs = (stats[:, 1] > 0) | (stats[:, 2] > 0)
        for key, value in values.items():
            per_case.setdefault(key, {})[str(class_id)] = _case_statistics(value, occurs, images)
    means = {key: [entry["mean"] for class_id, entry in classes.items()
                   if entry["mean"] is not None and int(class_id) not in excluded]
             for key, classes in per_case.items()}
    return {"per_case": per_case,
            "per_case_means": {key: float(np.mean(kept)) if kept else None
                               for key, kept in means.items()},
            **({} if image_counts.group_ids is None else {
                "per_case_groups": _per_case_groups(image_counts, pixels, images, zero_division)})}


def _per_case_groups(image_counts, pixels, images, zero_division):
    """--groups: each group's numbers (GROUP_METRICS, and DISTANCES) over the images where it is
    defined, as per_case_statistics gives a class's: {number: {group: statistics}}."""
    stats = image_counts.group_grid()
    sums, cases = image_counts.group_distance_grids()
    per_case = {}
    for column, name in enumerate(image_counts.group_names):
        values = image_class_numbers(stats[:, :, column], pixels, zero_division)
        values = {key: values[metric] for key, metric in GROUP_METRICS.items()}
        for row, key in enumerate(DISTANCES if sums is not None else ()):
            values[key] = _ratio(sums[:, row, column], cases[:, row, column])
        occurs = (stats[:, 1, column] > 0) | (stats[:, 2, column] > 0)
        for key, value in values.items():
            per_case.setdefault(key, {})[name] = _case_statistics(value, occurs, images)
    return per_case


def _case_statistics(values, occurs, images):
    """A class's number over the images (values, nan where undefined; occurs: where the class is
    in label or inference): mean, sample sd, median and quartiles (numpy's linear percentiles) of
    the n images where it is defined; empty: the images where the class is in neither (left out,
    Metrics Reloaded's rule); undefined: those where it is, but the number is not (a distance of a
    class in one mask only, a 0/0 left undefined). The mean adds the values in image order, as the
    combined report's means over images do, so the two are equal to the last bit."""
    defined = values[~np.isnan(values)]
    entry = {"mean": None, "sd": None, "median": None, "q1": None, "q3": None, "n": len(defined),
             "empty": images - int(occurs.sum()), "undefined": int(occurs.sum()) - len(defined)}
    if len(defined):
        median, q1, q3 = np.percentile(defined, [50, 25, 75]).tolist()
        entry.update(mean=float(np.cumsum(defined)[-1] / len(defined)), median=median, q1=q1,
                     q3=q3, sd=float(np.std(defined, ddof=1)) if len(defined) > 1 else None)
    return entry


def bootstrap_draws(images, resamples, seed, per_batch=RESAMPLES_PER_BATCH):
    """The images each bootstrap resample draws (with replacement, as many as there are), in batches
    of per_batch rows: numpy's default_rng(seed), so that a seed gives the same draws everywhere
    (and however they are batched: the generator's stream is drawn in turn)."""
    rng = np.random.default_rng(seed)
    for start in range(0, resamples, per_batch):
        yield rng.integers(0, images, size=(min(per_batch, resamples - start), images))


def exact_parts(flat, images):
    """An (images, k) int64 array of counts as float64 parts whose sums over any resample of the
    images are exact: [(part, scale)], flat = the sum of part x scale. float64 holds every integer
    below 2^53: one part when a count times the images stays below, else a high part and a low one
    (a resample can draw one image every time, so sums reach images x the largest count, past
    int64's range near 2^62). Raises RunError when even two parts cannot be exact (counts near 2^63
    over millions of images)."""
    largest = int(flat.max(initial=0))
    if largest * images < 2**53:
        return [(flat.astype(np.float64), 1.0)]
    shift = 53 - images.bit_length()  # the low part is below 2^shift, so its sums stay below 2^53
    if (largest >> shift) * images >= 2**53:
        raise RunError(f"a count of {largest} pixels over {images} images is too large for exact "
                       "bootstrap sums: run without --bootstrap")
    return [((flat >> shift).astype(np.float64), float(2**shift)),
            ((flat & (2**shift - 1)).astype(np.float64), 1.0)]


def resampled_batches(models, resamples, seed):
    """The summed counts of each bootstrap resample, a batch at a time: models is a list of tuples
    of (images, ...) arrays or None over the same images (paired: every model sees the same draws;
    a model's statistics, score grid, group statistics and weighted instances). Yields, per batch
    of draws, one tuple per model of (rows, ...) float64 arrays (None for None): of int64 counts
    each sum the exact integer rounded once to float64; of float64 (weighted) ones, the sum as
    float64 adds it.

    A resample's sum is its draw counts times the images' counts: one matrix product per batch, not
    a loop over images; exact, as every product and partial sum is an integer below 2^53
    (exact_parts)."""
    images = models[0][0].shape[0]

    def flat(model, counts):  # the model's arrays of counts (or not) side by side
        return np.concatenate([array.reshape(images, -1) for array in model if array is not None
                               and (array.dtype.kind in "iu") == counts] or [np.zeros((images, 0))],
                              axis=1)
    parts = [exact_parts(flat(model, True), images) for model in models]
    weighted = [flat(model, False) for model in models]
    # the sums of a resample, all models: fewer resamples at once when they are wide
    width = max(1, sum(part[0][0].shape[1] + floats.shape[1]
                       for part, floats in zip(parts, weighted)))
    per_batch = max(1, min(RESAMPLES_PER_BATCH, RESAMPLED_BYTES_PER_BATCH // (8 * width)))
    for draws in bootstrap_draws(images, resamples, seed, per_batch):
        rows = len(draws)
        weights = np.bincount((draws + images * np.arange(rows)[:, None]).ravel(),
                              minlength=rows * images)
        weights = weights.reshape(rows, images).astype(np.float64)
        batch = []
        for model, model_parts, floats in zip(models, parts, weighted):
            (high, scale), *low = model_parts
            sums = weights @ high
            if low:  # one rounding, of the exact sum: as int64's sum converted to float64 would be
                sums = sums * scale + weights @ low[0][0]
            batch.append(_split_sums(model, sums, weights @ floats, rows))
        yield batch


def _split_sums(model, sums, float_sums, rows):
    """A model's resampled sums, counts and weighted ones, back in its arrays' shapes."""
    pieces = {True: iter(np.split(sums, np.cumsum(
        [array[0].size for array in model if array is not None and array.dtype.kind in "iu"]
    )[:-1], axis=1)), False: iter(np.split(float_sums, np.cumsum(
        [array[0].size for array in model if array is not None and array.dtype.kind not in "iu"]
    )[:-1], axis=1))}
    return tuple(None if array is None else next(pieces[array.dtype.kind in "iu"]).reshape(
        rows, *array.shape[1:]) for array in model)


def resampled_numbers(models, resamples, seed, is_class, zero_division=0.0, levels=None,
                      ids=None, instance_ids=None, excluded=()):
    """The Numbers of every bootstrap resample, for each model (as resampled_batches: statistics,
    and score grids over levels with --scores): each batch of sums is evaluated at once, and only
    its numbers are kept, a float per resample for each measure, average and class's metric,
    whatever the images (ids: the statistics' ids, instance_ids: the classes with instances). One
    Numbers per model, each array (resamples, ...)."""
    parts = [[] for _ in models]
    for batch in resampled_batches(models, resamples, seed):
        for kept, (stats, grid, groups, instances, *distances) in zip(parts, batch):
            distances = (*distances, None, None, None, None)[:4]  # classes' and groups', or not
            kept.append(evaluate(Batch(stats, is_class, zero_division, levels, grid, groups, ids,
                                       instance_ids, instances, *distances, tuple(excluded))))
    return [joined_numbers(kept) for kept in parts]


def joined_numbers(parts):
    """One Numbers of the rows of several, in turn."""
    def joined(values):
        return np.concatenate(values) if values[0] is not None else None
    return Numbers(*({key: joined([getattr(part, field)[key] for part in parts]) for key in group}
                     if isinstance(group, dict) else group if field == "in_means"
                     else joined([getattr(part, field) for part in parts])
                     for field, group in zip(Numbers._fields, parts[0])))


def bootstrap_bytes(resamples, classes, models=1):
    """The memory resampled_numbers takes at most: a float per resample for each measure, average
    and class metric, twice (the batches' numbers, and all of them joined)."""
    per_resample = len(MEASURES) + 2 * len(CLASS_METRICS) + (len(CLASS_METRICS) + 1) * classes
    return 2 * models * resamples * per_resample * 8


def check_bootstrap_memory(resamples, classes, models=1):
    """Raise RunError when the resampled numbers would take more than MAX_BOOTSTRAP_BYTES."""
    needed = bootstrap_bytes(resamples, classes, models)
    if needed > MAX_BOOTSTRAP_BYTES:
        most = resamples * MAX_BOOTSTRAP_BYTES // needed
        raise RunError(f"--bootstrap {resamples} over {plural(classes, 'class', 'classes')} would "
                       f"keep {needed / 2**30:.1f} GiB of resampled numbers, more than the "
                       f"{MAX_BOOTSTRAP_BYTES >> 30} GiB the tool allows itself; give at most "
                       f"{most}")


def percentile_interval(values, level):
    """The central `level` share of the defined values: [lo, hi], or None when none is defined."""
    defined = values[~np.isnan(values)]
    if not defined.size:
        return None
    return [float(bound) for bound in np.percentile(defined, [50 * (1 - level), 50 * (1 + level)])]


def confidence_intervals(image_counts, ignore_index, resamples, level, seed, zero_division=0.0,
                         excluded=()):
    """Percentile bootstrap intervals of the combined (pooled) numbers, every measure and each
    class's every metric: the images are resampled with replacement, and each resample's numbers
    come from its summed counts."""
    ids, counts = image_counts.dense()
    is_class = ids != ignore_index if ignore_index is not None else np.ones(len(ids), bool)
    check_bootstrap_memory(resamples, int(is_class.sum()))
    levels = image_counts.levels()
    model = (counts, image_counts.score_grid(levels), image_counts.group_grid(),
             image_counts.instance_grid(), *image_counts.distance_grids(ids),
             *image_counts.group_distance_grids())
    numbers = resampled_numbers([model], resamples, seed, is_class, zero_division, levels, ids,
                                image_counts.instance_ids, excluded)[0]
    # images whose label holds the class
    images_of_class = ((counts[:, 1] > 0).sum(axis=0))[is_class]
    classes = {}
    for column, class_id in enumerate(ids[is_class].tolist()):
        classes[str(class_id)] = {
            "iou": percentile_interval(numbers.classes["iou"][:, column], level),
            "images": int(images_of_class[column]),
            **{key: percentile_interval(values[:, column], level)
               for key, values in {**numbers.classes, **(numbers.distances or {})}.items()
               if key != "iou"}}
    return {"level": level, "resamples": resamples, "seed": seed, "images": len(counts),
            "method": "percentile bootstrap over images (the pooled numbers of each resample)",
            **{key: percentile_interval(values, level) for key, values in numbers.measures.items()},
            "classes": classes,
            **({} if numbers.groups is None else {"groups": {
                name: {key: percentile_interval(numbers.groups[metric][:, column], level)
                       for key, metric in group_numbers(numbers.groups).items()}
                for column, name in enumerate(image_counts.group_names)}})}


LARGEST_CHANGES = 5  # images listed with the largest losses, and with the largest gains


def _summed(reports, groups=None, distances=False):
    """The Counts of each image report, their sum, and their ImageCounts (of groups, if any; with
    distances, each class's DISTANCES)."""
    boundary = bool(reports) and "mean_boundary_iou" in reports[0]
    total = CountsSum(boundary, bool(reports) and "scores" in reports[0], distances)
    per_image = ImageCounts(groups)
    for report in reports:
        counts = counts_of_report(report, boundary, distances)
        total.add(counts)
        if len(counts.ids):
            per_image.add(counts)
    return total.counts(), per_image


def _change(before, after, resampled_before, resampled_after, level):
    """A number of two models: both values, the difference, and its paired interval (None without
    resamples)."""
    interval = None if resampled_before is None else percentile_interval(
        resampled_after - resampled_before, level)
    return {"baseline": before, "model": after, "delta": None if None in (before, after)
            else after - before,
            "interval": interval}


def compare_models(models, names, ignore_index=None, zero_division=0.0, class_names=None,
                   resamples=1000, level=0.95, seed=0, groups=None, distances=False, excluded=()):
    """Each model against the first (the baseline), on the same images: models holds one list of
    image reports per model, in the same image order; names are what the models are called (their
    reports).

    Every difference comes with a paired bootstrap interval: one set of draws of the images, applied
    to every model, so that each resample's difference is between the models on the same images.
    Every measure and each class's every metric is compared (with distances, each class's
    DISTANCES too; excluded: ids left out of the means). Returns the comparison as a JSON-ready
    dict."""
    summed = [_summed(reports, groups, distances) for reports in models]
    pooled = [compute_report(total, zero_division, ignore_index, class_names, groups=groups,
                             excluded=excluded) for total, _ in summed]
    ids = np.unique(np.concatenate([per_image.ids() for _, per_image in summed]))
    is_class = ids != ignore_index if ignore_index is not None else np.ones(len(ids), bool)
    dense = [per_image.dense(ids)[1] for _, per_image in summed]
    images = len(dense[0])  # those with counted pixels: the same in every model, as the labels are
    check_bootstrap_memory(resamples, int(is_class.sum()), len(models))
    every = [per_image.levels() for _, per_image in summed]
    scored = images and all(levels is not None for levels in every)  # every model's score maps
    levels = np.unique(np.concatenate(every)) if scored else None
    grids = [per_image.score_grid(levels) for _, per_image in summed]
    numbers = resampled_numbers([(stats, grid, per_image.group_grid(), per_image.instance_grid(),
                                  *per_image.distance_grids(ids), *per_image.group_distance_grids())
                                 for stats, grid, (_, per_image) in zip(dense, grids, summed)],
                                resamples, seed, is_class, zero_division, levels, ids,
                                summed[0][1].instance_ids, excluded) if images else []
    images_of_class = (dense[0][:, 1] > 0).sum(axis=0)[is_class]
    comparison = {"baseline": {"report": names[0], "images": images, **headline_numbers(pooled[0])},
                  "bootstrap": {"level": level, "resamples": resamples, "seed": seed,
                                "method": "paired percentile bootstrap over images: the same "
                                          "resampled images for every model"},
                  "comparisons": []}
    for model in range(1, len(models)):
        base, this = headline_numbers(pooled[0]), headline_numbers(pooled[model])
        changes = {key: _change(base[key], this[key],
                                *(numbers[index].measures[key] if numbers else None
                                                        for index in (0, model)), level)
                                                        for key in base}
        classes = {}
        for column, class_id in enumerate(ids[is_class].tolist()):
            metrics = _class_changes(pooled, numbers, model, class_id, column, (
                *CLASS_METRICS, *(DISTANCES if distances else ())), level)
            classes[str(class_id)] = {"name": (class_names or {}).get(class_id), **metrics["iou"],
                                      "images": int(images_of_class[column]), "metrics": metrics}
        order = sorted(classes, key=lambda class_id: (classes[class_id]["delta"] is None,
                                                      -(classes[class_id]["delta"] or 0),
                                                      int(class_id)))
        delta = {key: change["delta"] for key, change in changes.items()}
        intervals = {key: change["interval"] for key, change in changes.items()}
        comparison["comparisons"].append({
            "model": names[model], **this, "delta": delta, "confidence_intervals": intervals,
            "verdict": verdict(names[model], names[0], delta["mean_iou"], intervals["mean_iou"],
                               level, images),
            "classes": {class_id: classes[class_id] for class_id in order},
            **({} if groups is None else {"groups": _group_changes(pooled, numbers, model,
                                                                    level)}),
            "images": image_changes(models[0], models[model])})
    return comparison


def _class_changes(pooled, numbers, model, class_id, column, keys, level):
    """A class's every number (keys) in the baseline and a model, each _change."""
    return {key: _change(*(pooled[index]["classes"].get(str(class_id), {}).get(key)
                           for index in (0, model)),
                         *(_class_values(numbers[index], key)[:, column] if numbers else None
                           for index in (0, model)), level) for key in keys}


def _class_values(numbers, key):
    """The values of a per-class number of CLASS_METRICS or DISTANCES, (rows, classes)."""
    return numbers.classes[key] if key in numbers.classes else numbers.distances[key]


def _group_changes(pooled, numbers, model, level):
    """Each group's numbers in the baseline and the model, their difference and its interval."""
    return {name: {key: _change(pooled[0]["groups"][name][key], pooled[model]["groups"][name][key],
                                *(numbers[index].groups[metric][:, column] if numbers else None
                                  for index in (0, model)), level)
                   for key, metric in group_numbers(pooled[0]["groups"][name]).items()}
            for column, name in enumerate(pooled[0]["groups"])}


def image_changes(baseline, model):
    """How many images got better, worse or stayed the same by their mean IoU, and those that
    changed most."""
    changes = [{"id": before["id"], "baseline": before["mean_iou"], "model": after["mean_iou"],
                "delta": after["mean_iou"] - before["mean_iou"]}
               for before, after in zip(baseline, model)
               if None not in (before["mean_iou"], after["mean_iou"])]
    by_change = sorted(changes, key=lambda change: (change["delta"], id_order(change["id"])))
    return {"better": sum(change["delta"] > 0 for change in changes),
            "worse": sum(change["delta"] < 0 for change in changes),
            "same": sum(change["delta"] == 0 for change in changes),
            "largest_losses": [change for change in by_change[:LARGEST_CHANGES]
                               if change["delta"] < 0],
            "largest_gains": [change for change in reversed(by_change[-LARGEST_CHANGES:])
                              if change["delta"] > 0]}


def verdict(model, baseline, delta, interval, level, images):
    """One plain sentence: is the model better than the baseline, by mIoU, and how sure is that."""
    if delta is None or interval is None:
        return f"{shown(model)} and {shown(baseline)} have no mean IoU to compare"
    said = (f"mIoU {delta * 100:+.1f} points [{interval[0] * 100:+.1f}, {interval[1] * 100:+.1f}] "
            f"({level * 100:g}%, paired bootstrap over {plural(images, 'image')})")
    if interval[0] > 0:
        return f"{shown(model)} is better than {shown(baseline)}: {said}"
    if interval[1] < 0:
        return f"{shown(model)} is worse than {shown(baseline)}: {said}"
    return f"no clear difference between {shown(model)} and {shown(baseline)}: {said}"


# ---------------------------------------------------------------- tables

class Column(NamedTuple):
    """One column of a table, for every format that shows it.

    kind says how a value is shown: "score" (a ratio with --digits decimals,
    None as undefined), "change" (a signed score), "interval" and "change
    interval" ([lo, hi] of scores or changes), "count", "text" (numbers written
    out, aligned as numbers), "class" (an id and its name, or a row title),
    "image" (an image id, linked to its page in HTML),
    "class score" (a class and its IoU), "note" (trailing text), "rank",
    "thumbnail". A value a row does not have leaves its cell empty.
    """
    title: str  # the header in the text and HTML tables
    key: str  # the row's key for the value
    kind: str
    csv: tuple = ()  # CSV headers, when the value spreads over several cells; else the key
    formats: str = "text html csv"  # where the column appears
    also: str = ""  # another field's name for the same number, shown under the title
    optional: bool = False  # shown only when a row has a value for it (e.g. bootstrap intervals)

    def csv_headers(self):
        return self.csv or (self.key,)


GROUPS_TABLE = (Column("group", "name", "class"), Column("IoU", "iou", "score"),
                Column("Dice", "dice", "score"), Column("precision", "precision", "score"),
                Column("recall", "recall", "score"), Column("iIoU", "iiou", "score", optional=True),
                *(Column(distance.title, key, "score", optional=True)
                  for key, distance in DISTANCES.items()),
                Column("IoU interval", "iou_interval", "interval", optional=True),
                Column("images", "images", "count", optional=True),
                Column("ids", "ids", "note"), Column("", "note", "note"))


def group_rows(report):
    """The rows of GROUPS_TABLE for a report with groups (with --bootstrap, each IoU's interval).
    Over images with distances, as distance_rows says of classes: the images where the group
    occurs, and a note when its distances leave out those holding it in one mask only."""
    intervals = report.get("confidence_intervals", {}).get("groups", {})
    cases = report.get("per_case_groups", {})
    rows = []
    for name, entry in report["groups"].items():
        row = {"name": name, **entry, "ids": " ".join(map(str, entry["ids"])),
               **({"iou_interval": intervals[name]["iou"]} if name in intervals else {})}
        if name in cases.get("nsd", {}) and cases["nsd"][name]["n"]:  # distances counted
            row["images"] = cases["nsd"][name]["n"]  # a share is defined where it occurs
            hd = cases["hd"][name]
            if hd["undefined"]:
                row["note"] = (f"distances over {plural(hd['n'], 'image')}: {hd['undefined']} "
                               "with the group in one mask only")
        elif name in cases.get("nsd", {}) and cases["nsd"][name]["undefined"]:
            row["note"] = "no distances: the reports were not counted with this group"
        rows.append(row)
    return rows


def class_table():
    """The classification report: a row per class, then the macro and weighted averages; a column
    per metric of CLASS_METRICS (read when drawn, so that an entry added to it is a column
    everywhere)."""
    return _class_table(tuple(CLASS_METRICS.items()))


@functools.lru_cache(maxsize=4)
def _class_table(metrics):
    return (Column("class", "class", "class", csv=("class_id", "name")),
            *(Column(metric.title, key, "score", also=metric.also) for key, metric in metrics),
            Column("boundary IoU", "boundary_iou", "score", optional=True),
            Column("iIoU", "iiou", "score", optional=True),
            *(Column(distance.title, key, "score", formats="csv", optional=True)
              for key, distance in DISTANCES.items()),
            Column("support", "support", "count"),
            Column("IoU interval", "iou_interval", "interval", formats="text html", optional=True),
            Column("images", "images", "count", formats="text html", optional=True),
            Column("", "note", "note", formats="text html"),
            Column("occurs in", "occurs_in", "note", formats="csv"))


def distance_table():
    """Each class's boundary distances (--distances): a row per class, a column per entry of
    DISTANCES; over images, the images where the class occurs."""
    return (Column("class", "class", "class", csv=("class_id", "name")),
            *(Column(distance.title, key, "score") for key, distance in DISTANCES.items()),
            Column("images", "images", "count", optional=True),
            Column("", "note", "note"))


def distance_rows(report):
    """The rows of distance_table() for a report with distances: over images, each number the mean
    over the images where it is defined, and a note when that leaves some out."""
    per_case = report.get("per_case", {})
    rows = []
    for class_id, entry in report["classes"].items():
        row = {"class": (int(class_id), entry["name"]),
               **{key: entry.get(key) for key in DISTANCES}}
        if per_case:
            cases = per_case["hd"][class_id]
            row["images"] = per_case["nsd"][class_id]["n"]  # a share is defined where it occurs
            if cases["undefined"]:
                row["note"] = (f"distances over {plural(cases['n'], 'image')}: "
                               f"{cases['undefined']} with the class in one mask only")
        elif entry.get("hd") is None:
            row["note"] = f"only in the {entry['occurs_in']}: no distance (--empty-distance)"
        rows.append(row)
    return rows


# Per-case statistics (see per_case_rows): a row per number and class, the numbers in turn.
PER_CASE_TABLE = (Column("number", "number", "class", formats="text html"),
                  Column("metric", "metric", "class", formats="csv"),
                  Column("class", "class", "class", csv=("class_id", "name")),
                  Column("mean ± sd", "mean_sd", "text", formats="text html"),
                  Column("median [q1, q3]", "median_quartiles", "text", formats="text html"),
                  *(Column(key, key, "score", formats="csv")
                    for key in ("mean", "sd", "median", "q1", "q3")),
                  Column("n", "n", "count"), Column("empty", "empty", "count"),
                  Column("undefined", "undefined", "count"))


def per_case_title(key):
    """A per-class number's title, as the per-case table names it."""
    if key in DISTANCES:
        return DISTANCES[key].title
    return {"f1_score": "F1 (Dice)", "boundary_iou": "boundary IoU"}.get(
        key, CLASS_METRICS[key].title if key in CLASS_METRICS else key)


def headline_table():
    """Every headline number of each image, a column per entry of MEASURES (headline.csv)."""
    return tuple(Column(measure.name, key, "score",
                        optional=measure.boundary or measure.scores or measure.groups
                        or measure.instances or measure.distances)
                 for key, measure in MEASURES.items())


def summary_table():
    """The per-image summary: a row per image (the index page orders them worst first)."""
    return (Column("#", "rank", "rank", formats="html"),
            Column("image", "id", "image"),
            Column("pixels", "pixels", "count"),
            Column("accuracy", "accuracy", "score"),
            Column("mean IoU", "mean_iou", "score"),
            Column("mean boundary IoU", "mean_boundary_iou", "score", optional=True),
            Column("macro F1", "macro_f1", "score", formats="html csv"),
            Column("worst class (IoU)", "worst_class", "class score",
                   csv=("worst_class_id", "worst_class_name", "worst_class_iou")),
            Column("errors on the picture", "file", "thumbnail", formats="html"))
# The headline numbers, named as the field names them: a row per number (see headline_rows).
HEADLINE_TABLE = (Column("headline", "name", "class"),
                  Column("value", "value", "score"),
                  Column("interval", "interval", "interval", optional=True),
                  Column("", "meaning", "note"))
# What other tools would print: a row per tool (see convention_rows).
CONVENTIONS_TABLE = (Column("tool", "name", "class"),
                     *(Column(name, name, "score") for name in PEER_NUMBERS),
                     Column("", "refused", "note"))
# A model against the baseline (see comparison_rows): its headline numbers, each class's IoU, the
# images.
CHANGE_COLUMNS = (Column("change", "delta", "change"),
                  Column("interval", "interval", "change interval", optional=True))
COMPARISON_TABLE = (Column("headline", "name", "class"), Column("baseline", "baseline", "score"),
                    Column("model", "model", "score"), *CHANGE_COLUMNS)
COMPARISON_CLASS_TABLE = (Column("class", "class", "class"),
                          Column("baseline IoU", "baseline", "score"),
                          Column("model IoU", "model", "score"), *CHANGE_COLUMNS,
                          Column("images", "images", "count"), Column("", "note", "note"))
COMPARISON_IMAGE_TABLE = (Column("image", "id", "class"),
                          Column("baseline mIoU", "baseline", "score"),
                          Column("model mIoU", "model", "score"),
                          Column("change", "delta", "change"))
# The most confused pairs (see confused_pairs): a row per off-diagonal cell of the matrix.
CONFUSED_TABLE = (Column("label", "label", "class"), Column("predicted as", "predicted", "class"),
                  Column("pixels", "pixels", "count"),
                  Column("share of the label's pixels", "of_label", "score"),
                  Column("share of all errors", "of_errors", "score"))
MATRIX_CORNER = "label \\ inference"  # the matrix's corner: rows are labels, columns inferences
# the optional columns a run with --boundary fills
BOUNDARY_KEYS = {"boundary_iou", "mean_boundary_iou"}


def columns_for(table, output, rows=(), present=None):
    """The columns of a table that output ("text", "html" or "csv") shows: an optional column only
    when its key is in present (by default, when one of rows has a value for it)."""
    if present is None:
        present = {column.key for column in table if column.optional
                   and any(row.get(column.key) is not None for row in rows)}
    return [column for column in table if output in column.formats.split()
            and (not column.optional or column.key in present)]


def csv_header(table, present=()):
    """A table's CSV header: the headers of its CSV columns (optional ones when their key is in
    present)."""
    return [header for column in columns_for(table, "csv", present=set(present))
            for header in column.csv_headers()]


def class_table_rows(report, zero_division):
    """The rows of class_table() for a report: (class rows, average rows)."""
    intervals = report.get("confidence_intervals", {}).get("classes", {})
    rows = []
    for class_id, entry in report["classes"].items():
        interval = intervals.get(class_id)
        notes = [note for note in (occurrence_note(entry, zero_division),
                                   rarity_note(interval)) if note]
        rows.append({**entry, "class": (int(class_id), entry["name"]), **class_interval(interval),
                     "note": "; ".join(notes)})
    # the support of the classes averaged, as scikit-learn's classification_report(labels=) shows
    excluded = report.get("excluded_from_means", ())
    support = report["pixels"] - sum(entry["support"] for class_id, entry
                                     in report["classes"].items() if int(class_id) in excluded)
    averages = [{"class": title, **report[key], "support": support}
                for title, key in (("macro avg", "macro_avg"), ("weighted avg", "weighted_avg"))]
    if "mean_boundary_iou" in report:  # the mean over the classes with a boundary: a macro average
        averages[0]["boundary_iou"] = report["mean_boundary_iou"]
    return rows, averages


def class_interval(interval):
    """A class row's bootstrap columns: its IoU interval and the images that hold it, when there
    are."""
    return {"iou_interval": interval["iou"], "images": interval["images"]} if interval else {}


def rarity_note(interval):
    """Why a class's interval is worth little: it rests on the few images whose label holds the
    class."""
    if interval is None or interval["images"] >= FEW_IMAGES_OF_CLASS:
        return ""
    if not interval["images"]:
        return "in no image's label, only predicted"
    return f"in {plural(interval['images'], 'image')}: the interval rests on few"


def headline_rows(report):
    """The rows of HEADLINE_TABLE for a report: each headline number with the field's name for it,
    what it is, and (short) what a figure on a page says."""
    intervals = report.get("confidence_intervals", {})
    rows = [{"name": measure.name, "value": report[key], "figure": measure.figure,
             "meaning": measure.meaning(report) if measure.meaning else measure.figure,
             "interval": intervals.get(key)} for key, measure in MEASURES.items() if key in report]
    if "mean_image_mean_iou" in report:  # after the pooled mIoU, so that the two are told apart
        rows.insert(2, {"name": "mIoU/image", "value": report["mean_image_mean_iou"],
                        "figure": "mean over images of each image's mean IoU",
                        "meaning": "mean over images of each image's mean IoU "
                                   "(each image with counted pixels weighs alike)"})
    return rows


def few_images_said(images):
    """Why an interval over fewer than FEW_IMAGES images is worth little."""
    return (f"only {plural(images, 'image')}: an interval from fewer than about {FEW_IMAGES} "
            "images is rough, and narrower than it should be")


def interval_notes(report):
    """The bootstrap's summary line, and a note when there are too few images for it to say much."""
    intervals = report.get("confidence_intervals")
    if not intervals:
        return []
    level, images = f"{intervals['level'] * 100:g}%", intervals["images"]
    lines = [f"intervals: {level} percentile bootstrap over the {plural(images, 'image')} "
             f"({intervals['resamples']} resamples of the images, seed {intervals['seed']}): each "
             "resample's pooled numbers"]
    if images < FEW_IMAGES:
        lines.append(f"note: {few_images_said(images)}")
    return lines


def convention_rows(report):
    """The rows of CONVENTIONS_TABLE: this tool's numbers, then each other tool's, and their
    rules."""
    ours = {name: value for name, value in our_conventional_numbers(report).items()
            if name != "mFscore"}
    rows = [{"name": "this tool", **ours}]
    excluded = report.get("excluded_from_means")
    rules = ["this tool: every id that occurs (0..255) but the ignore index, pooled over all "
             "pixels" + (f"; ids {', '.join(map(str, excluded))} left out of its means "
                         "(--exclude-from-means), which the other tools count" if excluded else "")]
    for entry in report["conventions"]["tools"].values():
        rows.append({"name": entry["short"], "refused": entry["refused"],
                     **{name: entry[name] for name in PEER_NUMBERS if name in entry
                        and not entry["refused"]}})
        rules.append(f"{entry['name']}: {entry['rule']}")
    return rows, rules


def comparison_rows(comparison, entry):
    """The rows of COMPARISON_TABLE and COMPARISON_CLASS_TABLE for one model of a comparison."""
    baseline = comparison["baseline"]
    headline = [{"name": measure.name, "baseline": baseline[key], "model": entry[key],
                 "delta": entry["delta"][key], "interval": entry["confidence_intervals"][key]}
                for key, measure in MEASURES.items() if key in entry["delta"]]
    classes = [{**change, "class": (int(class_id), change["name"]), "note": rarity_note(change)}
               for class_id, change in entry["classes"].items()]
    return headline, classes


def matrix_table(report, class_names):
    """The confusion matrix over the occurring ids: (ids, [(id, name, counts)]), for every
    format."""
    labels = report["confusion_matrix"]["labels"]
    return labels, [(class_id, class_names.get(class_id), row)
                    for class_id, row in zip(labels, report["confusion_matrix"]["matrix"])]


# ---------------------------------------------------------------- files
# The report folder's files: their names and paths, written whole or not at all, and the lock that
# keeps two runs apart.

# Where an image's files stand in the report folder, by what they are.
# or its own suffix
IMAGE_FILES = {"page": ("reports", ".html"), "matrix": ("matrices", ".csv"),
               "overlay": ("overlays", ".png"),
               "predicted_as": ("predicted_as", ".png"), "label": ("label_colours", ".png"),
               "prediction": ("inference_colours", ".png"), "picture": ("pictures", ".jpg"),
               "thumbnail": ("thumbnails", ".jpg"), "plot": ("plots", ".png"),
               "curve": ("curves", ".csv")}
# --compare's copies of the reports' thumbnails: a folder of their own, as any name may be an
# image's.
COMPARISON_THUMBNAILS = "compare_thumbnails"
OUTPUT_SUBFOLDERS = (*(name for name, _ in IMAGE_FILES.values()), COMPARISON_THUMBNAILS)
# The files a run writes at the top of its report folder (as FolderSink and write_comparison_folder
# name them), besides OUTPUT_SUBFOLDERS: an input report must not be one of them.
FOLDER_FILES = {"merge": ("report.json", "classes.csv", "headline.csv", "combined.csv",
                          "per_case.csv", "confusion_matrix.csv", "summary.csv", "score_curve.csv",
                          "confusion_matrix.png", "index.html", ".lock"),
                "compare": ("comparison.json", "compare.html", ".lock")}
# a file name's limit is 255 bytes; room for the suffix and a temporary name's parts
MAX_NAME_BYTES = 200


HASHED_NAME = re.compile(r"~[0-9a-f]{10}$")


def output_name(key):
    """The name an image's output files get: its key where that is a plain file name, else a safe
    form of it with a short hash of the key, so that two keys never share a file."""
    plain = (key == shown(key) and key not in ("", ".", "..") and not key.startswith(".")
             and "/" not in key and "\\" not in key and len(key.encode()) <= MAX_NAME_BYTES
             and not HASHED_NAME.search(key))  # else a plain key could be another key's hashed name
    if plain:
        return key
    import hashlib  # loads OpenSSL (3 MB): only a run with such names pays for it
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:10]
    safe = re.sub(r"[^\w .,+=@-]", "_", shown(key)).lstrip(".")
    # 100 bytes: letters of other scripts take 2 to 4
    safe = safe.encode()[:100].decode(errors="ignore")
    return f"{safe}~{digest}"


def file_path(folder, file, what, suffix=None):
    """The path of an image's file of kind what (a key of IMAGE_FILES) in the report folder; suffix
    for a kind whose files keep their own (the camera pictures)."""
    subfolder, kind_suffix = IMAGE_FILES[what]
    return folder / subfolder / f"{file}{kind_suffix if suffix is None else suffix}"


def file_link(file, what, suffix=None):
    """file_path as a link relative to the report folder's top."""
    subfolder, kind_suffix = IMAGE_FILES[what]
    return f"{subfolder}/{urllib.parse.quote(file)}{kind_suffix if suffix is None else suffix}"


# What _replacing writes, .<name>.<pid>.part, for the files a report folder holds: nothing else
# matches.
TEMPORARY_NAME = re.compile(r"\..+\.(html|csv|json|png|jpg|jpeg|gif|webp|bmp)\.[0-9]+\.part")


@contextlib.contextmanager
def _replacing(path):
    """A temporary path beside path, renamed to path when the block ends without an error, so that
    an interrupted run never leaves half a file; raises OutputError naming path when it cannot be
    written.

    The temporary name is the file's own with a dot before it and .<pid>.part after: at most 14
    bytes longer than the name (a pid has at most 7 digits), which output_name leaves room for.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield temporary
        os.replace(temporary, path)
    except OSError as error:  # name what the system refused: a folder on the way, else the file
        # Never another file the error names: copying a picture out of space names the picture read.
        on_the_way = error.filename is not None and Path(error.filename) in path.parents
        culprit = error.filename if on_the_way else path
        raise OutputError(f"{shown(culprit)}: {error.strerror or error}") from None
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


LOCK_NAME = ".lock"  # in the report folder while a run writes it; holds the run's process id


@contextlib.contextmanager
def folder_lock(folder):
    """Hold the report folder for this run: a second run writing it at the same time is refused
    (RunError); temporary files of a killed run are removed, now and when this run ends."""
    path = folder / LOCK_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for subfolder in (folder / name for name in OUTPUT_SUBFOLDERS):
            if subfolder.is_symlink() or (subfolder.exists() and not subfolder.is_dir()):
                raise OutputError(f"{shown(subfolder)}: a link or a file where the report folder's "
                                  "own sub-folder belongs; files are never written or removed "
                                  "through it")
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            os.close(descriptor)
            raise OutputError(f"{shown(path)}: not a regular file")
        lock = open(descriptor, "r+", encoding="utf-8")
    except OSError as error:
        raise OutputError(f"{shown(error.filename or path)}: {error.strerror or error}") from None
    with lock:
        if fcntl is not None:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                # The lock file of a run that just ended is gone: then the lock taken is on nothing.
                held = os.path.samestat(os.fstat(lock.fileno()), os.stat(path))
            except BlockingIOError:
                held = False
            except OSError:  # a file system without locks: go on, as on Windows
                held = True
            if not held:
                lock.seek(0)
                holder = lock.read().strip()
                raise RunError(f"--output-dir {shown(folder)}: another run"
                               + (f" (process {holder})" if holder.isdigit() else "")
                               + " is writing this report folder; wait for it to end, or choose "
                               "another folder")
            lock.truncate(0)
            lock.write(str(os.getpid()))
            lock.flush()
        remove_leftovers(folder)
        try:
            yield
        finally:
            remove_leftovers(folder)
            with contextlib.suppress(OSError):
                path.unlink()  # while still held: a run waiting for it then finds it gone


def remove_leftovers(folder):
    """Remove the temporary files that a killed run left in a report folder (nothing else)."""
    for subfolder in (folder, *(folder / name for name in OUTPUT_SUBFOLDERS)):
        with contextlib.suppress(OSError), os.scandir(subfolder) as entries:
            for entry in entries:
                if TEMPORARY_NAME.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                    os.unlink(entry.path)


@contextlib.contextmanager
def atomic_open(path, newline=None):
    """A text file that appears at path, whole, only when the with-block ends without an error."""
    with _replacing(path) as temporary, open(temporary, "w", encoding="utf-8",
                                             newline=newline) as file:
        yield file


def write_atomically(path, write):
    """write(temporary path), then rename it to path."""
    with _replacing(path) as temporary:
        write(temporary)


def write_text(path, text):
    with atomic_open(path) as file:
        file.write(text)


def save_image(image, path, **options):
    write_atomically(path, lambda temporary: image.save(temporary, format=path.suffix[1:].upper()
                                                         .replace("JPG", "JPEG"), **options))


# ---------------------------------------------------------------- renderers: text

def _value(value, digits, width):
    text = "undefined" if value is None else f"{value:.{digits}f}"
    return text.rjust(width)


def _class_title(class_id, name):
    """An id and its name as one line of printable text (a name may hold anything a file can)."""
    return f"{class_id:>3} {shown(name)}" if name else f"{class_id:>3}"


def _text(column, value, digits):
    """A value as the text table shows it, before alignment."""
    if value is None and column.kind in ("class score", "note"):
        return "-" if column.kind == "class score" else ""
    if column.kind == "class":
        return _class_title(*value) if isinstance(value, tuple) else value
    if column.kind == "class score":
        class_id, name, iou = value
        return f"{_class_title(class_id, name)} ({iou:.{digits}f})"
    if column.kind in ("score", "change", "interval", "change interval"):
        return _score_text(value, digits, column.kind)
    return str(value)


def _text_of(column, digits):
    """How the text table shows a column's values: _text, with a score column's format chosen
    once."""
    if column.kind == "score":
        spec = f".{digits}f"
        return lambda value: "undefined" if value is None else format(value, spec)
    return lambda value: _text(column, value, digits)


def _score_text(value, digits, kind="score"):
    """A score, a signed change, or an interval of either, with digits decimals; '' for a missing
    interval."""
    signed = "+" if kind.startswith("change") else ""
    if kind.endswith("interval"):
        if value is None:
            return ""
        return f"[{value[0]:{signed}.{digits}f}, {value[1]:{signed}.{digits}f}]"
    return "undefined" if value is None else f"{value:{signed}.{digits}f}"


def text_table(table, rows, averages=(), digits=4):
    """The lines of a table: header, rows, and the average rows after a blank line.

    Text columns are left-aligned, numbers right-aligned; a score column is as
    wide as its title or its numbers. Trailing text (notes, the worst class) is not padded.
    """
    every_row = [*rows, *averages]
    columns = columns_for(table, "text", every_row)
    header_rows = [[column.title for column in columns]]
    if any(column.also for column in columns):  # the other names of a number, under its title
        header_rows.append([column.also for column in columns])
    cells = []  # per column: its header cells, then each row's text
    fields = []  # per column: how its cells are aligned in a line
    for index, column in enumerate(columns):
        show = _text_of(column, digits)
        texts = [header[index] for header in header_rows]
        texts += [show(row[column.key]) if column.key in row else "" for row in every_row]
        if column.kind in ("note", "class score"):  # trailing text, two spaces from the last column
            cells.append(["  " + text if text else "" for text in texts])
            fields.append("{}")
            continue
        width = max(digits + 3 if column.kind == "score" else 0, *map(len, texts))
        left = column.kind in ("class", "image")
        cells.append(texts)
        # a text column after another is two spaces apart, as a number column is
        fields.append((f"  {{:<{width}}}" if index else f"{{:<{width}}}") if left
                      else f"{{:>{width + 2}}}")
    template = "".join(fields)
    lines = [template.format(*line).rstrip() for line in zip(*cells)]
    heading, body = lines[:len(header_rows)], lines[len(header_rows):]
    return heading + body[:len(rows)] + ([""] + body[len(rows):] if averages else [])


def format_matrix(report, class_names):
    """The confusion matrix over the occurring ids as aligned text."""
    labels, rows = matrix_table(report, class_names)
    if not labels:
        return "Confusion matrix: no pixels counted."
    titles = [_class_title(class_id, name) for class_id, name, _ in rows]
    title_width = max(len(MATRIX_CORNER), *map(len, titles))
    # Counts and ids are not negative: the widest is the largest.
    width = len(str(max(max(max(counts) for _, _, counts in rows), labels[-1]))) + 2
    numbers = f"%{width}d" * len(labels)  # a row's numbers, formatted at once
    lines = ["Confusion matrix (rows = label, columns = inference, in pixels)",
             MATRIX_CORNER.ljust(title_width) + numbers % tuple(labels)]
    lines += [title.ljust(title_width) + numbers % tuple(counts) for title,
              (_, _, counts) in zip(titles, rows)]
    return "\n".join(lines)


def format_report(report, digits=4, zero_division=0.0):
    """The classification report as aligned text."""
    if not report["classes"]:
        return "Classification report: no pixels counted, every metric is undefined."
    rows, averages = class_table_rows(report, zero_division)
    lines = ["Classification report", *text_table(class_table(), rows, averages, digits)]
    undefined = undefined_note(report)
    if undefined:
        lines.append(undefined)
    if report["unexpected_ids"]:
        lines.append(unexpected_note(report))
    return "\n".join(lines)


def format_groups(report, digits=4):
    """The groups' numbers as aligned text; '' without groups."""
    if "groups" not in report:
        return ""
    over = ("; IoU to recall pooled over all pixels, each distance the mean over the images "
            "where it is defined; an image holding a group in neither mask is left out of its "
            "distances"
            if "hd" in report.get("per_case_groups", {}) else "")
    return "\n".join([f"Groups (each scored as one class against the rest; a confusion inside a "
                      f"group is correct{over})", *text_table(GROUPS_TABLE, group_rows(report),
                                                              digits=digits)])


def format_headline(report, digits=4):
    """The headline numbers, one line each, named as the field names them."""
    if not report["pixels"]:
        return "Headline numbers: no pixels counted, every number is undefined."
    lines = ["Headline numbers", *text_table(HEADLINE_TABLE, headline_rows(report), digits=digits)]
    intervals = report.get("confidence_intervals")
    if intervals and intervals["mean_iou"]:
        lines.append(f"mean IoU {_score_text(report['mean_iou'], digits)} "
                     f"{_score_text(intervals['mean_iou'], digits, 'interval')} "
                     f"({intervals['level'] * 100:g}% bootstrap over "
                     f"{plural(intervals['images'], 'image')})")
    return "\n".join(lines + interval_notes(report))


def format_cityscapes(report, digits=4):
    """The Cityscapes benchmark's four numbers in its own words; '' when they are not there."""
    numbers = report.get("cityscapes")
    if numbers is None:
        return ""
    said = [f"{title} {_score_text(numbers[key], digits)}" for title, key in (
        ("IoU class", "iou_class"), ("iIoU class", "iiou_class"), ("IoU category", "iou_category"),
        ("iIoU category", "iiou_category"))]
    return ("Cityscapes benchmark: " + ", ".join(said)
            + ("" if numbers["iiou_class"] is not None else " (iIoU: give --instances)"))


def format_score_map(report, digits=4):
    """The score-map block (--scores): the pixels on each side and the KITTI road devkit's numbers
    at MaxF; '' for a report without score maps."""
    block = report.get("scores")
    if block is None:
        return ""
    lines = [f"Score map: {block['positives']} pixels of the positive class, {block['negatives']} "
             "of the rest (a pixel scoring at or above a threshold is taken as positive)"]
    if block["max_f_threshold"] is None:
        return "\n".join(lines + ["MaxF: undefined, no pixel of the positive class"])
    said = {key: _score_text(block[key], digits) for key in block if key != "counts"}
    lines += [f"MaxF {said['max_f']} at threshold {said['max_f_threshold']} "
              f"({round(block['max_f_threshold'] * 255)}/255): precision "
              f"{said['precision_at_max_f']}, recall {said['recall_at_max_f']}, FPR "
              f"{said['fpr_at_max_f']}, FNR {said['fnr_at_max_f']}",
              f"KITTI AP {said['kitti_ap']} (the devkit's 11-point average precision; AP above "
              "is scikit-learn's)"]
    return "\n".join(lines)


def per_case_rows(report, digits):
    """The rows of PER_CASE_TABLE for a combined report: each number's classes, then the mean of
    the classes' means (the classes left out of the means are not in it)."""
    def said(value):
        return _score_text(value, digits)
    rows = []
    for key, classes in report["per_case"].items():
        for class_id, entry in classes.items():
            rows.append({**entry, "number": per_case_title(key), "metric": key,
                         "class": (int(class_id), report["classes"][class_id]["name"]),
                         **_spread_said(entry, said)})
        mean = report["per_case_means"][key]
        rows.append({"number": per_case_title(key), "metric": key, "class": "mean of the classes",
                     "mean": mean, "mean_sd": "" if mean is None else said(mean)})
    for key, groups in report.get("per_case_groups", {}).items():
        rows += [{**entry, "number": per_case_title(GROUP_METRICS.get(key, key)), "metric": key,
                  "class": f"group {name}", **_spread_said(entry, said)}
                 for name, entry in groups.items()]
    return rows


def _spread_said(entry, said):
    """A per-case entry's mean ± sd and median [q1, q3], as the per-case table shows them."""
    if entry["mean"] is None:
        return {"mean_sd": "", "median_quartiles": ""}
    return {"mean_sd": said(entry["mean"]) + ("" if entry["sd"] is None
                                              else f" ± {said(entry['sd'])}"),
            "median_quartiles": f"{said(entry['median'])} [{said(entry['q1'])}, "
                                f"{said(entry['q3'])}]"}


def format_per_case(report, digits=4):
    """The per-case statistics of a combined report as aligned text."""
    return "\n".join(["Per case: each class's numbers over the images where it occurs (sample sd, "
                      "numpy's linear quartiles; empty: images holding the class in neither mask, "
                      "left out)", *text_table(PER_CASE_TABLE, per_case_rows(report, digits),
                                               digits=digits)]
                     + (["note: a group in neither mask is left out and counted as empty, as a "
                         "class is; BraTS' scripts score such a region Dice 1 and HD95 0"]
                        if report.get("per_case_groups") else []))


def distances_said(report, scoring):
    """What a report's boundary distances are: their unit and the tolerance of NSD and BF."""
    rules = scoring.distances
    spacing = " x ".join(f"{size:g}" for size in rules["spacing"])
    tolerance = (f"{rules['tolerance']:g}" if rules["tolerance"] is not None
                 else f"{TOLERANCE_OF_DIAGONAL:.2%} of the image's diagonal"
                 + (f" = {report['tolerance']:.4g}" if "tolerance" in report else ""))
    return ("Boundary distances, in "
            + ("pixels" if rules["spacing"] == [1, 1] else f"the unit of the spacing {spacing}")
            + (", each the mean over the images where it is defined" if "images" in report else "")
            + f"; NSD: the share of boundary pixels within {tolerance} of the other boundary, BF: "
            "the F1 of those nearer than it (MATLAB's bfscore)")


def format_distances(report, scoring, digits=4):
    """The boundary distances as aligned text; '' without them."""
    if scoring.distances is None or not report["classes"]:
        return ""
    return "\n".join([distances_said(report, scoring),
                      *text_table(distance_table(), distance_rows(report), digits=digits)])


def class_count_said(conventions, how_to_set=False):
    """N, the class count other tools are given, and where it comes from; with how_to_set, the
    option that sets it when it did not come from that option."""
    said = f"N = {conventions['num_classes']} classes, from {conventions['num_classes_from']}"
    return said + ("; --num-classes sets it" if how_to_set
                   and conventions["num_classes_from"] != "--num-classes"
                   else "")


def format_conventions(report, digits=4):
    """What other tools would print on the same pixels: one line when they all agree, else a table
    and each tool's rule."""
    conventions = report["conventions"]
    if conventions["agree"]:
        return ("Other tools (" + ", ".join(entry["short"]
                                            for entry in conventions["tools"].values())
                + ") would print these same numbers on these masks "
                f"({class_count_said(conventions)}).")
    rows, rules = convention_rows(report)
    return "\n".join(["What other tools would print on these masks "
                      f"({class_count_said(conventions, True)})",
                      *text_table(CONVENTIONS_TABLE, rows, digits=digits),
                      *(f"- {rule}" for rule in rules)])


def format_distance_conventions(report, digits=4):
    """The boundary numbers as other tools name them, a line each; '' without distances."""
    peers = report.get("conventions", {}).get("distances")
    if not peers:
        return ""
    lines = ["Boundary numbers as other tools name them (means over classes of the means over "
             "images)"]
    for entry in peers.values():
        said = ", ".join(f"{name} {_score_text(value, digits)}" if value is not None
                         else f"{name} not computed here"
                         for name, value in entry["numbers"].items())
        lines.append(f"- {entry['name']}: {said}. {entry['rule']}")
    return "\n".join(lines)


def format_summary(rows, digits=4):
    """One line per image: id, pixels, accuracy, mean IoU, worst class; the lowest mean IoU
    marked."""
    scored = [(row["mean_iou"], index) for index, row in enumerate(rows)
              if row["mean_iou"] is not None]
    lowest = min(scored)[1] if len(scored) > 1 else None
    header, *lines = text_table(summary_table(), rows, digits=digits)
    if lowest is not None:
        lines[lowest] += "  <- lowest mean IoU"
    return "\n".join(["Per-image summary", header, *lines])


def format_image_section(image, scoring=Scoring(), digits=4):
    """One image's heading, confusion matrix and classification report."""
    ignore_index, class_names = scoring.ignore_index, scoring.class_names
    heading = (f"=== {image['id']}{files_compared(image)}, {image['pixels']} pixels counted ===")
    if image["pixels"] == 0:
        heading += f"\nevery label pixel is the ignore index {ignore_index}: nothing to score"
    return "\n\n".join(part for part in (
        heading, format_headline(image, digits), format_score_map(image, digits),
        format_matrix(image, class_names), format_report(image, digits, scoring.zero_division),
        format_distances(image, scoring, digits), format_groups(image, digits)) if part)


def format_combined_section(combined, scoring=Scoring(), digits=4, skipped_ids=(), per_case=False):
    """The combined heading, matrix, report and both means, clearly told apart (per_case: and the
    per-case statistics)."""
    ignore_index, class_names = scoring.ignore_index, scoring.class_names
    heading = (f"=== combined: {plural(combined['images'], 'image')}, "
               f"{combined['pixels']} pixels counted ===")
    if skipped_ids:
        heading += (f"\n{len(skipped_ids)} skipped because of errors (listed at the end): "
                    + ", ".join(skipped_ids))
    lines = [heading, format_headline(combined, digits), format_cityscapes(combined, digits),
             format_score_map(combined, digits),
             format_matrix(combined, class_names), format_report(combined, digits,
                                                                 scoring.zero_division),
             format_distances(combined, scoring, digits), format_groups(combined, digits),
             format_per_case(combined, digits) if per_case and "per_case" in combined else ""]
    lines = [line for line in lines if line]
    if void_note(combined, ignore_index, class_names):
        lines.append(void_note(combined, ignore_index, class_names))
    if combined["pixels"]:
        lines += [part for part in (format_conventions(combined, digits),
                                    format_distance_conventions(combined, digits)) if part]
    return "\n\n".join(lines)


NOTHING_TO_COMPARE = ("no image has counted pixels (each label pixel is the ignore index): there "
                      "is nothing to compare")


def format_comparison(comparison, digits=4):
    """Each model against the baseline: the verdict, the headline numbers, each class's IoU (largest
    gains first) and the images that changed most."""
    baseline, bootstrap = comparison["baseline"], comparison["bootstrap"]
    images = baseline["images"]
    sections = [f"Baseline {baseline['report']}: {plural(images, 'image')} with counted pixels; "
                f"intervals: {bootstrap['level'] * 100:g}% paired percentile bootstrap over the "
                f"images ({bootstrap['resamples']} resamples, seed {bootstrap['seed']}), the same "
                "resamples for every model"]
    if not images:  # every label pixel is the ignore index: no number, no interval
        sections = [f"Baseline {baseline['report']}: {NOTHING_TO_COMPARE}"]
    elif images < FEW_IMAGES:
        sections[0] += f"\nnote: {few_images_said(images)}"
    for entry in comparison["comparisons"]:
        headline, classes = comparison_rows(comparison, entry)
        changes = entry["images"]
        lines = [f"=== {entry['model']} against {baseline['report']} ===", "", entry["verdict"], "",
                 *text_table(COMPARISON_TABLE, headline, digits=digits), "",
                 "IoU per class, largest gains first",
                 *text_table(COMPARISON_CLASS_TABLE, classes, digits=digits), "",
                 f"Images by their mean IoU: {changes['better']} better, {changes['worse']} worse, "
                 f"{changes['same']} the same"]
        for title, key in (("Largest losses", "largest_losses"),
                           ("Largest gains", "largest_gains")):
            if changes[key]:
                lines += ["", title, *text_table(COMPARISON_IMAGE_TABLE, changes[key],
                                                 digits=digits)]
        sections.append("\n".join(lines))
    return "\n\n\n".join(sections)


# ---------------------------------------------------------------- renderers: CSV

def _csv_value(value):
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else value


def csv_rows(table, rows, first=(), present=()):
    """CSV rows of a table (no header), each starting with the cells of first; present as
    csv_header's."""
    columns = columns_for(table, "csv", present=set(present))
    lines = []
    for row in rows:
        cells = list(first)
        for column in columns:
            value, headers = row.get(column.key), column.csv_headers()
            values = value if len(headers) > 1 else (value,)
            cells += [_csv_value(item) for item in (values or (None,) * len(headers))]
        lines.append(cells)
    return lines


def matrix_csv_rows(report):
    """The confusion matrix as CSV rows, with a header row and a header column of ids."""
    labels, rows = matrix_table(report, {})
    return [[MATRIX_CORNER, *labels]] + [[class_id, *counts] for class_id, _, counts in rows]


def score_curve_rows(report):
    """--scores: the ROC and precision-recall curves of a report's tally as CSV rows, a row per
    score that occurs, from the highest down: the pixels of each side at or above it (TP, FP), and
    precision, recall (the true positive rate) and the false positive rate there."""
    tally = report["scores"]["counts"]
    tp = np.cumsum(tally["positives"][::-1])
    fp = np.cumsum(tally["negatives"][::-1])
    positives, negatives = report["scores"]["positives"], report["scores"]["negatives"]
    rows = [["score", "tp", "fp", "precision", "recall", "fpr"]]
    for score, hits, misses in zip(tally["levels"][::-1], tp.tolist(), fp.tolist()):
        rows.append([score, hits, misses, hits / (hits + misses),
                     hits / positives if positives else "",
                     misses / negatives if negatives else ""])
    return rows


def write_csv(path, rows):
    with atomic_open(path, newline="") as file:
        csv.writer(file).writerows(rows)


# ---------------------------------------------------------------- renderers: HTML

# 0..1
HEAT_MAP_COLOURS = ((247, 251, 255), (198, 219, 239), (107, 174, 214), (33, 113, 181), (8, 48, 107))
CONFUSED_PAIRS = 20  # the most confused (label, predicted) pairs the index page lists


def share_colours(shares):
    """RGB colours of shares 0..1 along HEAT_MAP_COLOURS (white to dark blue), for heat maps and
    tables."""
    stops = np.linspace(0, 1, len(HEAT_MAP_COLOURS))
    return np.stack([np.interp(shares, stops, [colour[channel] for colour in HEAT_MAP_COLOURS])
                     for channel in range(3)], axis=-1).round().astype(np.uint8)


PAGE_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2733;
       margin: 0; background: #f4f6f8; }
main { max-width: 1320px; margin: 0 auto; padding: 20px 28px 48px; }
h1 { font-size: 22px; margin: 8px 0 2px; } h2 { font-size: 17px; margin: 28px 0 10px; }
.meta { color: #5b6876; margin: 0 0 14px; }
.card { background: #fff; border: 1px solid #dde3e9; border-radius: 8px; padding: 16px 18px; }
.heatmap-card { text-align: center; }
.heatmap-card img.heatmap { max-width: min(100%, 1100px); }
.headline { display: flex; flex-wrap: wrap; gap: 10px; margin: 0 0 14px; }
.figure { background: #fff; border: 1px solid #dde3e9; border-radius: 8px; padding: 8px 14px; }
.figure b { display: block; font-size: 21px; font-variant-numeric: tabular-nums; }
.figure span { color: #5b6876; font-size: 12px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 8px; border-bottom: 1px solid #e6ebf0; text-align: right;
  vertical-align: middle; }
th { background: #eef2f6; font-weight: 600; position: sticky; top: 0; }
td.text, th.text { text-align: left; white-space: nowrap; }
tr.total td { font-weight: 600; background: #f8fafc; }
.note { color: #8a5a00; font-size: 12px; margin: 6px 0; }
.undefined { color: #98a2ad; }
img.heatmap { max-width: 100%; height: auto; }
img.thumb { max-width: 240px; max-height: 240px; display: block; border-radius: 4px;
  background: #ddd; }
.pair { margin: 10px 0; } .pair figure { display: inline-block; margin: 0 14px 0 0; }
.pair h3 { font-size: 14px; margin: 0 0 8px; }
.legend span { display: inline-block; width: 12px; height: 12px; border-radius: 2px;
  margin: 0 4px -1px 12px; }
.errors li { font-family: ui-monospace, monospace; font-size: 12px; }
nav.pager { display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 8px 0 4px; }
.pictures { display: grid; gap: 10px; margin: 0 0 10px; }
.pictures.three { grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); }
.pictures.two { grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); }
.pictures figure { margin: 0; background: #fff; border: 1px solid #dde3e9; border-radius: 8px;
  padding: 6px; }
.pictures img { width: 100%; height: auto; display: block; border-radius: 4px; }
.pictures figcaption { color: #5b6876; font-size: 12px; margin: 4px 2px 0; }
img.pixelated { image-rendering: pixelated; }
.stack { position: relative; display: block; }
.stack img.layer { position: absolute; left: 0; top: 0; width: 100%; height: 100%; }
img.dimmed { filter: grayscale(1) brightness(.7); } img.half { filter: brightness(.5); }
.classes span.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px;
  margin: 0 4px -1px 0;
                       border: 1px solid rgba(0,0,0,.15); }
.classes { display: flex; flex-wrap: wrap; gap: 4px 16px; margin: 6px 0; font-size: 13px; }
.bars { display: grid; grid-template-columns: max-content 1fr max-content; gap: 3px 10px;
  align-items: center; }
.bars .track { position: relative; height: 14px; background: #eef2f6; border-radius: 3px; }
.bars .bar { position: absolute; left: 0; top: 0; bottom: 0; background: #4a7fc1;
  border-radius: 3px; }
.bars .bbar { position: absolute; left: 0; top: 5px; height: 4px; background: #e0892b; }
.bars .whisker { position: absolute; top: 6px; height: 2px; background: #1d2733; }
.bars .whisker::before, .bars .whisker::after { content: ""; position: absolute; top: -3px;
  width: 1px;
                                                height: 8px; background: #1d2733; }
.bars .whisker::after { right: 0; }
.bars .middle { position: absolute; left: 50%; top: -2px; bottom: -2px; width: 1px;
  background: #5b6876; }
.bars .gain { background: #2e7d32; } .bars .loss { background: #c62828; }
.bars .value { font-variant-numeric: tabular-nums; font-size: 12px; color: #5b6876; }
th.vertical { vertical-align: bottom; } th.vertical span { writing-mode: vertical-rl;
  transform: rotate(180deg);
                                                             white-space: nowrap; }
td.shaded { text-align: right; }
table.narrow { width: auto; min-width: 60%; }
th .also { font-weight: 400; color: #5b6876; font-size: 12px; }
.rules li { color: #5b6876; font-size: 12px; margin: 3px 0; }
a { color: #1f5fa8; }
"""
NUMBER_KINDS = ("score", "change", "interval", "change interval", "count", "rank")  # right-aligned


def _cell(value, digits):
    if value is None:
        return '<td class="undefined">undefined</td>'
    return f"<td>{value:.{digits}f}</td>"


def _html_cell(column, row, digits, page_folder):
    """One <td> of a row; page_folder is where the page stands relative to the report folder's
    top."""
    if column.key not in row:
        return "<td></td>"
    value = row[column.key]
    if column.kind == "score":
        return _cell(value, digits)
    if column.kind in ("change", "interval", "change interval"):
        return f"<td>{_score_text(value, digits, column.kind)}</td>"
    if column.kind in NUMBER_KINDS:
        return f"<td>{value}</td>"
    if column.kind == "text":
        return f"<td>{html.escape(value)}</td>"
    if column.kind == "note":
        return f'<td class="text note">{html.escape(value or "")}</td>'
    if column.kind == "image":
        return (f'<td class="text"><a href="{page_folder}{file_link(row["file"], "page")}">'
                f"{html.escape(value)}</a></td>")
    if column.kind == "thumbnail":
        return (f'<td><a href="{page_folder}{file_link(row["file"], "page")}"><img class="thumb" '
                f'loading="lazy" src="{page_folder}{file_link(row["file"], "thumbnail")}" '
                f'alt="errors of {html.escape(row["id"])}"></a></td>')
    if column.kind == "class score" and value is not None:
        class_id, name, iou = value
        title = html.escape(_class_title(class_id, name).strip())
        return f'<td class="text">{title} ({iou:.{digits}f})</td>'
    return f'<td class="text">{html.escape(_text(column, value, digits).strip())}</td>'


def html_table(table, rows, averages=(), digits=4, attributes="", page_folder=""):
    """A table as HTML: a header row, the rows, and the average rows in bold."""
    columns = columns_for(table, "html", [*rows, *averages])
    header = "".join(("<th>" if column.kind in NUMBER_KINDS else '<th class="text">')
                     + html.escape(column.title)
                     + (f'<br><span class="also">{html.escape(column.also)}</span>' if column.also
                        else "") + "</th>"
                     for column in columns)
    def cells(row):
        return "".join(_html_cell(column, row, digits, page_folder) for column in columns)
    lines = ([f"<tr>{cells(row)}</tr>" for row in rows]
             + [f'<tr class="total">{cells(row)}</tr>' for row in averages])
    return f"<table{attributes}><tr>{header}</tr>\n" + "\n".join(lines) + "</table>"


def html_groups(report, digits):
    """The groups' table of a page; '' without groups."""
    if "groups" not in report:
        return ""
    return ('<h2>Groups (each scored as one class against the rest)</h2><div class="card">'
            + html_table(GROUPS_TABLE, group_rows(report), digits=digits) + "</div>")


def html_distances(report, scoring, digits):
    """The boundary distances' table of a page; '' without them."""
    if scoring.distances is None or not report["classes"]:
        return ""
    return ('<h2>Boundary distances</h2><p class="note">'
            f'{html.escape(distances_said(report, scoring))}</p><div class="card">'
            + html_table(distance_table(), distance_rows(report), digits=digits) + "</div>")


def html_per_case(report, digits):
    """The per-case statistics' table of the index page; '' without them."""
    if not report.get("per_case"):
        return ""
    return ('<h2>Per case: each class over the images where it occurs</h2><p class="note">mean '
            '± sample sd, median [q1, q3] (numpy\'s linear quartiles); empty: images holding the '
            'class in neither mask, left out; <a href="per_case.csv">per_case.csv</a></p><div '
            'class="card">' + html_table(PER_CASE_TABLE, per_case_rows(report, digits),
                                         digits=digits) + "</div>")


def html_class_table(report, digits, zero_division):
    """The classification report as an HTML table (class rows, then the averages), with its
    notes."""
    notes = [unexpected_note(report)] if report["unexpected_ids"] else []
    return (html_table(class_table(), *class_table_rows(report, zero_division), digits=digits)
            + "".join(f'<p class="note">{html.escape(note)}</p>' for note in notes))


def html_matrix_table(report, class_names):
    """The confusion matrix with class names on both axes, each cell shaded by its share of the row
    (the label's pixels), as the heat map is."""
    labels, rows = matrix_table(report, class_names)
    lines = [f'<table class="matrix"><tr><th class="text">{html.escape(MATRIX_CORNER)}</th>'
             + "".join('<th class="vertical"><span>'
                       f'{html.escape(_class_title(class_id, name).strip())}</span></th>'
                       for class_id, name, _ in rows) + "</tr>"]
    counts = np.array([row for _, _, row in rows], dtype=np.int64).reshape(len(rows), len(rows))
    totals = np.maximum(counts.sum(axis=1, keepdims=True), 1)
    colours, dark = share_colours(counts / totals).tolist(), (counts * 2 > totals).tolist()
    for (class_id, name, row), row_colours, row_dark in zip(rows, colours, dark):
        lines.append('<tr><td '
                     f'class="text">{html.escape(_class_title(class_id, name).strip())}</td>'
                     + "".join(
            '<td class="shaded" '
            f'style="background:rgb({r},{g},{b}){";color:#fff" if is_dark else ""}">{count}</td>'
            for count, (r, g, b), is_dark in zip(row, row_colours, row_dark)) + "</tr>")
    return "\n".join(lines) + "</table>"


def confused_table(pairs, digits):
    """The most confused pairs (rows of CONFUSED_TABLE) as an HTML table."""
    return html_table(CONFUSED_TABLE, pairs, digits=digits, attributes=" class=narrow")


def html_class_legend(class_ids, class_names, colours):
    """Each class's colour in the label and prediction pictures (colours: (256, 3)), and its
    name."""
    return '<div class="classes">' + "".join(
        f'<span><span class="swatch" style="background:rgb({r},{g},{b})"></span>'
        f"{html.escape(_class_title(class_id, class_names.get(class_id)).strip())}</span>"
        for class_id in class_ids for r, g, b in [colours[class_id].tolist()]) + "</div>"


def html_class_bars(report, digits):
    """IoU per class as bars, worst first; with --bootstrap its interval as a whisker, with
    --boundary the boundary IoU as a thin orange bar."""
    intervals = report.get("confidence_intervals", {}).get("classes", {})
    order = sorted(report["classes"].items(),
                   key=lambda item: (item[1]["iou"] is None, item[1]["iou"] or 0.0, int(item[0])))
    cells = []
    for class_id, entry in order:
        iou, boundary = entry["iou"] or 0.0, entry.get("boundary_iou")
        interval = intervals.get(class_id, {}).get("iou")
        track = f'<span class="bar" style="width:{iou * 100:.2f}%"></span>'
        if boundary is not None:
            track += f'<span class="bbar" style="width:{boundary * 100:.2f}%"></span>'
        if interval:
            track += (f'<span class="whisker" style="left:{interval[0] * 100:.2f}%;'
                      f'width:{(interval[1] - interval[0]) * 100:.2f}%"></span>')
        value = _score_text(entry["iou"],
                            digits) + (f" [{_score_text(interval, digits, 'interval')[1:-1]}]"
                                                       if interval else "")
        if boundary is not None:
            value += f" &middot; boundary {_score_text(boundary, digits)}"
        title = html.escape(_class_title(int(class_id), entry["name"]).strip())
        cells.append(f'<span>{title}</span><span class="track">{track}</span>'
                     f'<span class="value">{value}</span>')
    said = ["the bar is IoU"] + (["the whisker its interval"] if intervals else []) + (
        ["the thin orange bar boundary IoU"] if "mean_boundary_iou" in report else [])
    return (f'<p class="meta">{"; ".join(said)}.</p><div class="bars">' + "".join(cells) + "</div>")


def html_change_bars(classes, digits):
    """Each class's IoU change as a bar from the middle (gains right, losses left) with its
    interval."""
    cells = []
    for row in classes:
        if row["delta"] is None:
            continue
        delta, interval = row["delta"], row["interval"]
        start, width = (50, delta * 50) if delta >= 0 else (50 + delta * 50, -delta * 50)
        track = ('<span class="middle"></span><span class="bar '
                 f'{"gain" if delta >= 0 else "loss"}" '
                 f'style="left:{start:.2f}%;width:{width:.2f}%"></span>')
        if interval:
            track += (f'<span class="whisker" style="left:{50 + interval[0] * 50:.2f}%;'
                      f'width:{(interval[1] - interval[0]) * 50:.2f}%"></span>')
        cells.append(f'<span>{html.escape(_class_title(*row["class"]).strip())}</span><span '
                     f'class="track">{track}</span><span '
                     f'class="value">{_score_text(delta, digits, "change")}'
                     + (f" [{_score_text(interval, digits, 'change interval')[1:-1]}]"
                        if interval else "")
                     + "</span>")
    return '<div class="bars">' + "".join(cells) + "</div>"


def _figure(value, caption, digits, title=""):
    shown_value = "undefined" if value is None else f"{value:.{digits}f}"
    return (f'<div class="figure" title="{html.escape(title)}"><b>{shown_value}</b>'
            f'<span>{html.escape(caption)}</span></div>')


def html_headline(report, digits):
    """The headline numbers as figures: the field's name and what it is, the meaning on hover."""
    return ('<div class="headline">' + "".join(
        _figure(row["value"], f"{row['name']}: {row['figure']}"
                + (f" {_score_text(row['interval'], digits, 'interval')}"
                   if row.get("interval") else ""),
                digits, row["meaning"])
        for row in headline_rows(report)) + "</div>")


CURVE_SIDE = 240  # pixels: a score-map curve's square plot
CURVE_POINTS = 1000  # a curve drawn through more points looks no different, and weighs more


def svg_curve(points, marked, x_title, y_title, caption):
    """A curve in the unit square as inline SVG: points (x, y) in order, marked (x, y) the point
    shown as a dot (None: none), the axes' titles and the caption under it."""
    side, margin = CURVE_SIDE, 34
    step = max(1, len(points) // CURVE_POINTS)
    kept = points[::step] + ([points[-1]] if (len(points) - 1) % step else [])

    def at(x, y):
        return margin + x * side, margin / 2 + (1 - y) * side
    dot = "" if marked is None else ('<circle cx="{:.1f}" cy="{:.1f}" r="4" fill="#d62728">'
                                     "<title>MaxF</title></circle>").format(*at(*marked))
    middle = margin / 2 + side / 2
    return (f'<figure><svg width="{side + margin * 1.5:.0f}" height="{side + margin * 1.5:.0f}" '
            f'role="img" aria-label="{html.escape(caption)}">'
            f'<rect x="{margin}" y="{margin / 2}" width="{side}" height="{side}" fill="none" '
            'stroke="#b8c2cc"/><polyline fill="none" stroke="#2b6cb0" stroke-width="1.5" points="'
            + " ".join("{:.1f},{:.1f}".format(*at(x, y)) for x, y in kept) + f'"/>{dot}'
            + "".join(f'<text x="{x:.0f}" y="{y:.0f}" font-size="10" fill="#5b6876" '
                      f'text-anchor="middle">{tick}</text>' for x, y, tick in (
                          (margin, side + margin, "0"), (margin + side, side + margin, "1"),
                          (margin - 8, margin / 2 + 8, "1")))
            + f'<text x="{margin + side / 2}" y="{side + margin * 1.35:.0f}" font-size="11" '
            f'text-anchor="middle">{html.escape(x_title)}</text>'
            f'<text x="10" y="{middle}" font-size="11" text-anchor="middle" '
            f'transform="rotate(-90 10 {middle})">{html.escape(y_title)}</text>'
            f"</svg><figcaption>{html.escape(caption)}</figcaption></figure>")


def html_score_curves(report, digits):
    """--scores: the ROC and precision-recall curves of a report's tally, with the KITTI MaxF
    point marked, and the devkit's numbers; '' without score maps or without both sides."""
    block = report.get("scores")
    if block is None or not block["positives"] or not block["negatives"]:
        return ""
    rows = score_curve_rows(report)[1:]
    roc = [(0.0, 0.0)] + [(row[5], row[4]) for row in rows]
    pr = [(row[4], row[3]) for row in rows]
    maxf = block["max_f_threshold"] is not None
    lines = format_score_map(report, digits).splitlines()
    return ('<h2>Score map</h2><div class="card"><div class="pictures two">'
            + svg_curve(roc, (block["fpr_at_max_f"], block["recall_at_max_f"]) if maxf else None,
                        "false positive rate", "true positive rate (recall)",
                        f"ROC curve, AUC {_score_text(block['roc_auc'], digits)}")
            + svg_curve(pr, (block["recall_at_max_f"], block["precision_at_max_f"]) if maxf
                        else None, "recall", "precision",
                        "precision-recall curve, AP "
                        f"{_score_text(block['average_precision'], digits)} (red: MaxF)")
            + "</div>" + "".join(f'<p class="meta">{html.escape(line)}</p>' for line in lines)
            + "</div>")


def html_distance_conventions(report, digits):
    """The boundary numbers as other tools name them; '' without distances."""
    text = format_distance_conventions(report, digits)
    return "" if not text else (
        '<h2>Boundary numbers as other tools name them</h2><div class="card"><pre>'
        + html.escape(text.split("\n", 1)[1]) + "</pre></div>")


def html_conventions(report, digits):
    """What other tools would print: one line when they all agree, else their table and rules."""
    conventions = report["conventions"]
    if conventions["agree"]:
        return ('<p class="meta">Other tools would print these same numbers on these masks '
                f'({html.escape(class_count_said(conventions))}).</p>')
    rows, rules = convention_rows(report)
    return (f'<h2>What other tools would print on these masks</h2><p class="meta">'
            f'{html.escape(class_count_said(conventions, True))}</p><div class="card">'
            + html_table(CONVENTIONS_TABLE, rows, digits=digits)
            + '<ul class="rules">' + "".join(f"<li>{html.escape(rule)}</li>" for rule in rules)
            + "</ul></div>")


def _page(title, body):
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{PAGE_STYLE}</style></head>\n"
            f"<body><main>\n{body}\n</main></body></html>\n")


OVERLAY_LEGEND = ('<p class="legend">Errors:<span style="background:rgb(%d,%d,%d)"></span>wrong '
                  'pixel<span style="background:rgb(%d,%d,%d)"></span>not counted (the label is '
                  'the ignore index, or outside the valid region)<span '
                  'style="background:#6f7780"></span>correct: the camera '
                  'picture in dimmed grey, or the '
                  "label's class colours at half brightness where there is no picture. Errors by "
                  "the class predicted: each wrong pixel in the colour of the class it was "
                  "predicted as (the class colours above)</p>" % (*WRONG_COLOUR, *IGNORED_COLOUR))
# where an image page's previous / next go, once the order is known
NAVIGATION = "<!--navigation-->"
SMALL_PICTURE_WIDTH = 640  # pixels: narrower masks are shown enlarged, each pixel a sharp block
# an image page's matrix table at most; 256 ids make 65,536 cells, 4 MB a page
MAX_MATRIX_TABLE_IDS = 60


def image_page(report, file, settings, pictures):
    """reports/<file>.html: one image's pictures (camera picture, label and prediction in class
    colours, both overlays) with the legend of its classes, its numbers, report and matrix.
    pictures: None when no picture was drawn (merged reports), else (width, the suffix of the camera
    picture's copy or None)."""
    image_id, digits, names = report["id"], settings.digits, settings.scoring.class_names

    shown_pictures = ""
    if pictures is not None:
        links = {what: "../" + file_link(file, what, pictures[1] if what == "picture" else None)
                 for what in IMAGE_FILES}
        base = ("picture", "dimmed") if pictures[1] else ("label", "half")  # what the layers lie on
        shown_pictures = ('<div class="pictures three">'
                          + (picture_figure(links, "picture", "camera picture", pictures[0])
                             if pictures[1] else "")
                          + picture_figure(links, "label", "label, in class colours", pictures[0])
                          + picture_figure(links, "prediction", "prediction, in class colours",
                                           pictures[0])
                          + '</div><div class="pictures two">'
                          + picture_figure(links, "overlay", "errors", pictures[0], base)
                          + picture_figure(links, "predicted_as", "errors by the class predicted",
                                           pictures[0], base)
                          + "</div>"
                          + html_class_legend(report["confusion_matrix"]["labels"], names,
                                                     class_colours(settings.dataset))
                                                     + OVERLAY_LEGEND)
    links = [f'<a href="../{file_link(file, "matrix")}">matrix as CSV</a>']
    if "scores" in report:
        links.append(f'<a href="../{file_link(file, "curve")}">curves as CSV</a>')
    if settings.plots_per_image:
        links.append(f'<a href="../{file_link(file, "plot")}">heat map</a>')
    pairs = confused_pairs(report, 5, names)
    body = (f'<nav class="pager"><a href="../index.html">&larr; all images</a>{NAVIGATION}</nav>'
            f"<h1>{html.escape(image_id)}</h1>"
            f'<p class="meta">{html.escape(files_compared(report).removeprefix(": "))}'
            f'{"" if report["label"] is None else ", "}{plural(report["pixels"], "pixel")} counted '
            f'&middot; {" &middot; ".join(links)}</p>'
            + (html_headline(report, digits) if report["pixels"] else "")
            + html_score_curves(report, digits) + shown_pictures
            + '<h2>Classification report</h2><div class="card">'
            + html_class_table(report, digits, settings.scoring.zero_division) + "</div>"
            + html_distances(report, settings.scoring, digits) + html_groups(report, digits)
            + (f'<h2>Most confused</h2><div class="card">{confused_table(pairs, digits)}</div>'
               if pairs else "")
            + '<h2>Confusion matrix (rows = label, columns = inference, pixels; shaded by the '
            'share of the label)</h2>'
            + (f'<div class="card" style="overflow-x:auto">{html_matrix_table(report, names)}</div>'
               if len(report["confusion_matrix"]["labels"]) <= MAX_MATRIX_TABLE_IDS else
               f'<p class="note">{len(report["confusion_matrix"]["labels"])} ids occur in this '
               f'image: its matrix of {len(report["confusion_matrix"]["labels"]) ** 2} cells is in '
               f'<a href="../{file_link(file, "matrix")}">'
               "its CSV</a>, too large to show here; the most confused pairs are above.</p>"))
    return _page(f"{image_id}: segmentation report", body)


def picture_figure(links, what, caption, width, base=None):
    """A picture of an image's page, linked to its file; with base (what, CSS class), a layer laid
    on that picture (the camera picture in dimmed grey, or the label at half brightness)."""
    small = " pixelated" if width < SMALL_PICTURE_WIDTH else ""
    picture = (f'<img class="{"layer" if base else ""}{small}" src="{links[what]}" '
               f'alt="{html.escape(caption)}">')
    if base:
        picture = (f'<span class="stack"><img class="{base[1]}{small}" src="{links[base[0]]}" '
                   'alt="">'
                   f"{picture}</span>")
    return (f'<figure><a href="{links[what]}">{picture}</a>'
            f'<figcaption>{html.escape(caption)}</figcaption></figure>')


def image_navigation(order, index):
    """An image page's previous / next links, in the order of the index page (worst mean IoU
    first)."""
    links = []
    for step, arrow in ((-1, "&larr; previous"), (1, "next &rarr;")):
        if 0 <= index + step < len(order):
            row = order[index + step]
            links.append(f'<a href="{urllib.parse.quote(row["file"])}.html">{arrow}: '
                         f'{html.escape(row["id"])}</a>')
    return (f"<span>image {index + 1} of {len(order)}, worst mean IoU first</span>"
            + "".join(links))


def worst_first(rows):
    """The summary rows in the index page's order: lowest mean IoU first, images without one
    last."""
    return sorted(rows, key=lambda row: (row["mean_iou"] is None, row["mean_iou"] or 0.0,
                                         natural_key(row["id"])))


def index_page(combined, rows, refused, warnings, settings, has_overlays):
    """index.html: the combined numbers, IoU per class, heat map, most confused pairs, report, other
    tools' numbers, then every image, worst mean IoU first; the files that were skipped, counted at
    the top."""
    digits, scoring = settings.digits, settings.scoring
    ignore_index = scoring.ignore_index
    table = [column for column in summary_table() if has_overlays or column.kind != "thumbnail"]
    notes = [f"warning: {warning}" for warning in warnings] + [
        note for note in (void_note(combined, ignore_index, scoring.class_names),) if note]
    skipped = (f'<p class="note"><a href="#refused">{plural(len(refused), "file")} skipped because '
               'of errors</a>, '
               "listed at the bottom; the numbers are of the other images</p>" if refused else "")
    error_list = ('<h2 id="refused">Refused files</h2><ul class="errors">'
                  + "".join(f"<li>{html.escape(error.message)}</li>" for error in refused) + "</ul>"
                  if refused else "")
    meta = (f'{plural(combined["images"], "image")}, {plural(combined["pixels"], "pixel")} counted '
            f'· ignore index {"none" if ignore_index is None else ignore_index} · zero division '
            f'{scoring.json()["zero_division"]}'
            + (f' · left out of the means (--exclude-from-means): '
               f'{", ".join(map(str, scoring.exclude_from_means))}'
               if scoring.exclude_from_means else ""))
    pairs = confused_pairs(combined, CONFUSED_PAIRS, scoring.class_names)
    body = (f'<h1>Segmentation report</h1><p class="meta">{html.escape(meta)} &middot; '
            '<a href="report.json">report.json</a>, '
            '<a href="summary.csv">summary.csv</a>, <a href="classes.csv">classes.csv</a>, '
            '<a href="headline.csv">headline.csv</a> (per '
            'image), <a href="combined.csv">combined.csv</a>, <a '
            'href="confusion_matrix.csv">confusion_matrix.csv</a></p>'
            + skipped + "".join(f'<p class="note">{html.escape(note)}</p>' for note in notes)
            + (html_headline(combined, digits) if combined["pixels"] else "")
            + html_score_curves(combined, digits)
            + ('<h2>IoU per class, worst first</h2><div '
               f'class="card">{html_class_bars(combined, digits)}</div>'
               if combined["classes"] else "")
            + '<h2>Confusion matrix, all images</h2><div class="card heatmap-card"><a '
            'href="confusion_matrix.png"><img class="heatmap" src="confusion_matrix.png" '
            'alt="confusion matrix of all images, normalised per label row"></a></div>'
            + ('<h2>Most confused, all images</h2><div class="card">'
               f"{confused_table(pairs, digits)}</div>" if pairs else "")
            + '<h2>Classification report, all images</h2>'
            f'<div class="card">{html_class_table(combined, digits, scoring.zero_division)}</div>'
            + html_distances(combined, scoring, digits) + html_groups(combined, digits)
            + html_per_case(combined, digits)
            + (html_conventions(combined, digits) + html_distance_conventions(combined, digits)
               if combined["pixels"] else "")
            + f'<h2>Images, worst mean IoU first</h2>{OVERLAY_LEGEND if has_overlays else ""}<div '
            'class="card">'
            + html_table(table, [{**row, "rank": rank} for rank,
                                 row in enumerate(worst_first(rows), start=1)],
                         digits=digits, attributes=' class="images"')
            + "</div>" + error_list)
    return _page("Segmentation report", body)


def comparison_page(comparison, overlays, digits):
    """compare.html: for each model, the verdict, the headline with intervals, the chart of class
    changes, the class table, and the images that changed most with both models' overlays side by
    side. overlays: {(model index, image id): link} of the overlays copied into the folder."""
    baseline, bootstrap = comparison["baseline"], comparison["bootstrap"]
    body = [f"<h1>Models against {html.escape(baseline['report'])}</h1>"
            f'<p class="meta">{baseline["images"]} images; intervals: '
            f'{bootstrap["level"] * 100:g}% paired percentile bootstrap over the images '
            f'({bootstrap["resamples"]} resamples, seed {bootstrap["seed"]}) &middot; <a '
            'href="comparison.json">comparison.json</a></p>']
    if not baseline["images"]:  # every label pixel is the ignore index: no number, no interval
        body[0] = (f"<h1>Models against {html.escape(baseline['report'])}</h1>"
                   f'<p class="note">{NOTHING_TO_COMPARE} &middot; <a '
                   'href="comparison.json">comparison.json</a></p>')
    elif baseline["images"] < FEW_IMAGES:
        body.append(f'<p class="note">{html.escape(few_images_said(baseline["images"]))}</p>')
    for index, entry in enumerate(comparison["comparisons"], start=1):
        headline, classes = comparison_rows(comparison, entry)
        changes = entry["images"]
        body += [f"<h2>{html.escape(entry['model'])}</h2>"
                 f"<p><b>{html.escape(entry['verdict'])}</b></p>",
                 f'<div class="card">{html_table(COMPARISON_TABLE, headline, digits=digits)}</div>',
                 '<h2>IoU per class, largest gains first</h2><div class="card"><p '
                 'class="meta">the bar is the '
                 "change of IoU (gains right, losses left), the whisker its paired interval</p>"
                 f"{html_change_bars(classes, digits)}</div>",
                 '<div '
                 f'class="card">{html_table(COMPARISON_CLASS_TABLE, classes, digits=digits)}</div>',
                 f"<h2>Images by their mean IoU: {changes['better']} better, {changes['worse']} "
                 f"worse, {changes['same']} the same</h2>"]
        for title, key in (("Largest losses", "largest_losses"),
                           ("Largest gains", "largest_gains")):
            for change in changes[key]:
                pictures = "".join(
                    f'<figure><a href="{overlays[(side, change["id"])]}"><img class="thumb" '
                    f'loading="lazy" src="{overlays[(side, change["id"])]}" alt="{label} '
                    f'errors"></a><figcaption>{label}: '
                    f'{_score_text(change[key_], digits)}</figcaption></figure>'
                    for side, label, key_ in ((0, "baseline", "baseline"),
                                              (index, "model", "model"))
                    if (side, change["id"]) in overlays)
                body.append(f'<div class="card pair"><h3>{title[:-1].lower()}: '
                            f'{html.escape(change["id"])} '
                            f'({_score_text(change["delta"], digits, "change")})</h3>'
                            + (pictures
                               or '<p class="meta">no overlays: compare the report.json of report '
                               'folders '
                                           "(--output-dir) to see them here</p>") + "</div>")
    return _page("Model comparison", "".join(body))


# ---------------------------------------------------------------- renderers: pictures

def not_counted(label, ignore_index=None, valid=None):
    """Where pixels are not counted, as a bool array: labelled ignore_index, or outside valid (a
    bool array, or None for no such region)."""
    ignored = label == ignore_index if ignore_index is not None else np.zeros(label.shape, bool)
    return ignored if valid is None else ignored | ~valid


def error_layer(label, inference, ignore_index=None, valid=None):
    """The model's errors as a layer to lay on the camera picture: wrong pixels WRONG_COLOUR,
    pixels not counted (not_counted) IGNORED_COLOUR, the rest transparent. A palette PNG of three
    colours is lossless, so every error pixel stays sharp and exact, and it is small and fast to
    write; the page lays it on the picture's JPEG (a tenth of a PNG's bytes), so no composite of the
    two is encoded, and the picture shows through."""
    ignored = not_counted(label, ignore_index, valid)
    indices = np.zeros(label.shape, dtype=np.uint8)
    indices[(label != inference) & ~ignored] = 1
    indices[ignored] = 2
    return _palette_image(indices, [(0, 0, 0), WRONG_COLOUR, IGNORED_COLOUR], transparent=0)


def predicted_as_layer(label, inference, ignore_index=None, colours=None, valid=None):
    """Each wrong pixel in the colour of the class it was predicted as, pixels not counted
    IGNORED_COLOUR, the rest transparent: a palette PNG whose indices are the predicted ids, with
    two ids that no wrong pixel was predicted as standing for transparent and for ignored (RGBA when
    every id was predicted). colours: the (256, 3) class colours, by default class_colours()."""
    colours = class_colours() if colours is None else colours
    ignored = not_counted(label, ignore_index, valid)
    wrong = (label != inference) & ~ignored
    free = np.setdiff1d(np.arange(LABEL_SPACE), inference[wrong])
    if len(free) < 2:
        layer = np.zeros(label.shape + (4,), dtype=np.uint8)
        layer[wrong, :3], layer[ignored, :3] = colours[inference[wrong]], IGNORED_COLOUR
        layer[wrong | ignored, 3] = 255
        return Image.fromarray(layer, "RGBA")
    clear, void = free[:2]
    indices = np.full(label.shape, clear, dtype=np.uint8)
    indices[wrong] = inference[wrong]
    indices[ignored] = void
    palette = colours.copy()
    palette[void] = IGNORED_COLOUR
    return _palette_image(indices, palette, transparent=int(clear))


def _palette_image(indices, palette, transparent=None):
    image = Image.fromarray(indices, "P")
    image.putpalette(np.asarray(palette, dtype=np.uint8).ravel().tolist())
    if transparent is not None:
        image.info["transparency"] = transparent
    return image


def class_colour_image(ids, colours):
    """A mask in its class colours ((256, 3)): a palette image whose indices are the ids
    themselves."""
    return _palette_image(ids, colours)


def draw_thumbnail(label, inference, ignore_index, colours, valid=None):
    """The errors on the label's class colours at half brightness, THUMBNAIL_WIDTH wide (or
    THUMBNAIL_HEIGHT high, for a mask much higher than wide): a block with any wrong pixel is red,
    so small errors still show. (The label, not the camera picture: decoding a photograph would cost
    more than everything else the report folder draws.)"""
    scale = min(THUMBNAIL_WIDTH / label.shape[1], THUMBNAIL_HEIGHT / label.shape[0])
    size = (max(1, round(label.shape[1] * scale)), max(1, round(label.shape[0] * scale)))
    enlarged = scale > 1
    # enlarged: sharp pixel blocks
    resample = Image.Resampling.NEAREST if enlarged else Image.Resampling.BOX
    thumbnail = np.asarray(class_colour_image(label, colours).convert("RGB").resize(size,
                                                                                    resample)) // 2
    ignored = not_counted(label, ignore_index, valid)
    for mask, colour, share in (((label != inference) & ~ignored, WRONG_COLOUR, 0),
                                (ignored, IGNORED_COLOUR, 127)):
        shrunk = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(size, resample))
        thumbnail[shrunk > share] = colour
    return Image.fromarray(thumbnail)


def find_picture(images_dir, key, size, endings=("",)):
    """The camera picture of an image, (path, its format), or (None, why not): found by its key,
    with one of the name endings (Cityscapes' pictures end in _leftImg8bit, as the predictions named
    after them). Only its header is read: its size must be the masks'."""
    for path in (images_dir / f"{key}{ending}{suffix}" for ending in endings
                 for suffix in PICTURE_SUFFIXES):
        if path.is_file():
            try:
                with open_image(path) as picture:
                    if picture.size != size:
                        return None, (f"{shown(path)} is {picture.size[0]}x{picture.size[1]}, not "
                                      f"{size[0]}x{size[1]}")
                    return path, picture.format
            except (Image.DecompressionBombWarning, Image.DecompressionBombError):
                return None, (f"{shown(path)}: more pixels than the decompression-bomb limit of "
                              f"{Image.MAX_IMAGE_PIXELS} (--max-image-pixels)")
            except (OSError, *PILLOW_DECODING_ERRORS) as error:
                return None, f"{shown(path)}: cannot read ({error})"
    return None, f"no {shown(key)}.* in {shown(images_dir)}"


def draw_pictures(key, label, inference, settings, valid=None, picture=None):
    """An image's pictures in the report folder: the camera picture, the label and the prediction in
    class colours, the layers of errors and of what each wrong pixel was predicted as (to lay on the
    picture, or on the label without one), and a thumbnail of the errors; pixels outside valid (the
    pixels counted, or None) are shown as ignored ones. Returns (why the camera
    picture is missing, or None; the suffix of its copy, or None). picture: where else the camera
    picture may be, below the pictures' folder, without a suffix (a COCO image's file_name)."""
    # (path, format) or (None, why not)
    for name in dict.fromkeys((picture or key, key)):
        found, detail = find_picture(settings.images, name, label.shape[::-1],
                                     dict.fromkeys(("", settings.inference_suffix,
                                                    settings.label_suffix)))
        if found is not None:
            break
    file, folder = output_name(key), settings.output_dir
    # Palette PNGs at compress_level 1: lossless and a byte a pixel; higher levels save a few per
    # cent of bytes for several times the time.
    colours = class_colours(settings.dataset)
    ignore_index = settings.scoring.ignore_index
    for what, image in (("overlay", error_layer(label, inference, ignore_index, valid)),
                        ("predicted_as", predicted_as_layer(label, inference, ignore_index,
                                                            colours, valid)),
                        ("label", class_colour_image(label, colours)),
                        ("prediction", class_colour_image(inference, colours))):
        save_image(image, file_path(folder, file, what), compress_level=1)
    save_image(draw_thumbnail(label, inference, ignore_index, colours, valid),
               file_path(folder, file, "thumbnail"), quality=85)
    if found is None:
        return detail, None
    suffix, why_not = copy_picture(found, detail, file, folder)
    return why_not, suffix


BROWSER_FORMATS = {"PNG": ".png", "JPEG": ".jpg", "MPO": ".jpg", "GIF": ".gif", "WEBP": ".webp",
                   "BMP": ".bmp"}


def copy_picture(path, picture_format, file, folder):
    """The camera picture in the report folder, for the page: its bytes as they are when a browser
    shows its format (no decoding, no encoding), else as a JPEG. Returns (the copy's suffix, None),
    or (None, why not) when a picture to convert cannot be decoded: that costs only its own
    picture."""
    suffix = BROWSER_FORMATS.get(picture_format)
    if suffix:
        write_atomically(file_path(folder, file, "picture", suffix),
                         lambda temporary: shutil.copyfile(path, temporary))
        return suffix, None
    try:
        with open_image(path) as picture:
            converted = picture.convert("RGB")
    except (Image.DecompressionBombWarning, Image.DecompressionBombError, OSError,
            *PILLOW_DECODING_ERRORS) as error:
        return None, f"{shown(path)}: cannot read ({error})"
    save_image(converted, file_path(folder, file, "picture", ".jpg"), quality=85)
    return ".jpg", None


HEAT_MAP_SIDE = 1100  # pixels: the matrix part of a heat map at most, whatever the class count
HEAT_MAP_TEXT_CELL = 26  # pixels: a cell this large or larger shows its share as text


@functools.lru_cache(maxsize=None)
def _font(size):
    from PIL import ImageFont  # only a run that draws a heat map pays for it
    return ImageFont.load_default(size=size)


INK, QUIET_INK, FAINT_INK = (29, 39, 51), (91, 104, 118), (138, 150, 163)  # heat maps' text colours


def draw_heat_map(report, class_names, title):
    """A report's matrix as a heat map image, each row normalised to the label's pixels (so the
    diagonal is recall). Readable at any class count: cells shrink to fit HEAT_MAP_SIDE, a cell
    shows its share as text only when large enough, and class names stand on both axes while there
    is room for them."""
    from PIL import ImageDraw

    labels = report["confusion_matrix"]["labels"]
    cell = max(2, min(44, HEAT_MAP_SIDE // max(len(labels), 1)))
    name_size = min(13, cell - 1)
    if name_size >= 7:  # room for every class's id and name
        names = [_class_title(class_id, class_names.get(class_id)).strip() for class_id in labels]
    else:  # too many classes: the ids of every few, as ticks (the most confused pairs name them)
        step = math.ceil(10 / cell)
        names = [str(class_id) if index % step == 0 else ""
                 for index, class_id in enumerate(labels)]
    name_font, title_font = _font(max(name_size, 8)), _font(15)
    name_width = max([name_font.getbbox(name)[2] for name in names] + [0]) + 8
    left, top, side = 30 + name_width, 60 + name_width, cell * len(labels)
    image = Image.new("RGB", (left + side + 110, top + side + 40), "white")
    draw = ImageDraw.Draw(image)
    draw.text((12, 10), title, fill=INK, font=title_font)
    draw.text((left, 34), "inference (predicted class)", fill=QUIET_INK, font=_font(12))
    axis = Image.new("RGB", (200, 16), "white")
    ImageDraw.Draw(axis).text((0, 0), "label (true class)", fill=QUIET_INK, font=_font(12))
    image.paste(axis.rotate(90, expand=True), (6, top))
    if not labels:
        draw.text((left, top), "no pixels counted", fill=INK, font=title_font)
        return image
    counts = np.array(report["confusion_matrix"]["matrix"], dtype=np.int64)
    rows = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    cells = np.repeat(np.repeat(share_colours(shares), cell, axis=0), cell, axis=1)
    if cell >= 6:  # a white line between cells
        cells[cell - 1::cell, :] = cells[:, cell - 1::cell] = 255
    image.paste(Image.fromarray(cells), (left, top))
    _draw_axis_names(image, draw, names, name_font, name_width, (left, top), cell)
    if cell >= HEAT_MAP_TEXT_CELL:
        _draw_shares(draw, shares, counts, (left, top), cell)
    bar_left, bar_height = left + side + 24, min(side, 300)  # the colour scale, 100% at the top
    scale = share_colours(np.linspace(1, 0, bar_height))[:, None, :].repeat(16, axis=1)
    image.paste(Image.fromarray(scale), (bar_left, top))
    for share, y in ((1, top), (0.5, top + bar_height // 2), (0, top + bar_height - 1)):
        draw.text((bar_left + 22, y), f"{share:.0%}", fill=QUIET_INK, font=_font(11), anchor="lm")
    return image


def _draw_axis_names(image, draw, names, font, name_width, corner, cell):
    """Each row's name left of the matrix and each column's, turned upright, above it."""
    from PIL import ImageDraw

    left, top = corner
    for index, name in enumerate(names):
        if not name:
            continue
        middle = top + index * cell + cell // 2
        draw.text((left - 6, middle), name, fill=INK, font=font, anchor="rm")
        column = Image.new("RGB", (name_width, max(cell, 12)), "white")
        ImageDraw.Draw(column).text((2, column.height // 2), name, fill=INK, font=font, anchor="lm")
        image.paste(column.rotate(90, expand=True),
                    (left + index * cell + (cell - column.height) // 2, top - name_width - 2))


def _draw_shares(draw, shares, counts, corner, cell):
    """Each counted cell's share of its row as text: white on dark cells, faint below half a per
    cent."""
    left, top = corner
    font = _font(max(8, cell // 3))
    for (row, column), share in np.ndenumerate(shares):
        if counts[row, column]:
            text = "<1%" if share < 0.005 else f"{share:.0%}"
            colour = (255, 255, 255) if share > 0.5 else FAINT_INK if share < 0.005 else INK
            draw.text((left + column * cell + cell // 2, top + row * cell + cell // 2), text,
                      fill=colour, font=font, anchor="mm")


def plot_confusion_matrix(report, class_names, path, title):
    """Write a report's heat map (draw_heat_map) as a PNG."""
    # Pillow checks the text it draws against the decompression-bomb guard, which is for input
    # files, not ours: a --max-image-pixels below what text takes is lifted while drawing (only
    # then, as the limit is every thread's: a Python API user's loader may be reading images).
    limit = Image.MAX_IMAGE_PIXELS
    lift = limit is not None and limit < MAX_TEXT_PIXELS
    if lift:
        Image.MAX_IMAGE_PIXELS = None
    try:
        heat_map = draw_heat_map(report, class_names, title)
    finally:
        if lift:
            Image.MAX_IMAGE_PIXELS = limit
    save_image(heat_map, path, compress_level=1)


def draw_image_plot(report, file, settings):
    plot_confusion_matrix(report, settings.scoring.class_names,
                          file_path(settings.output_dir, file, "plot"),
                          f"{report['id']}: share of each label's pixels")


@contextlib.contextmanager
def drawing(image_id):
    """Turn any failure to draw or write an image's files into an OutputError naming it."""
    try:
        yield
    except OutputError:
        raise
    except OSError as error:
        raise OutputError(f"{image_id}: {error}") from None
    except Exception as error:
        raise OutputError(f"{image_id}: drawing its pictures failed ({type(error).__name__}: "
                          f"{error})") from None


# ---------------------------------------------------------------- sinks
# Each output is a sink: begin() before the first image, add(result) for each scored image, in id
# order, and finish(combined, rows, refused, warnings) at the end; rows are the images' summary
# rows, refused the files that were not scored, warnings what the counts say about the ids. A sink
# is a context manager, so that an interrupted run leaves no half-written file.

class Result(NamedTuple):
    """What scoring one pair gives: its report, or the one-line reason it was refused."""
    # the file name's stem as the file system has it; finds pictures and names output files
    key: str
    path: str  # the file at fault (shown), when refused; else the label
    report: dict | None
    error: str | None
    counts: "Counts | None" = None  # the pair's tally, which the combined report sums
    drawn: "Drawn | None" = None  # what the report folder drew of the pair (FolderSink.draw)


class Drawn(NamedTuple):
    """What the report folder drew of a pair, for its page."""
    width: int  # the masks' width
    picture: str | None  # the suffix of the camera picture's copy, when there is one
    note: str | None  # why the overlay had no camera picture


def json_head(settings):
    """The JSON document's first keys: how the numbers were made (the scoring record), and of which
    shards."""
    return {"label_space": LABEL_SPACE, **settings.scoring.json(), "shards": settings.shards}


class Console:
    """Standard output that a closed pipe or a full disk cannot stop: the first failure is kept and
    later writes are dropped, so that the run still finishes its report folder and says what went
    wrong."""

    def __init__(self, stream):
        self.stream, self.error = stream, None

    def write(self, text):
        self._do(self.stream.write, text)

    def flush(self):
        self._do(self.stream.flush)

    def _do(self, action, *args):
        if self.error is not None:
            return
        try:
            action(*args)
        except OSError as error:
            self.error = error
            # Python flushes stdout once more at exit: send what is left to /dev/null, without a
            # word.
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), self.stream.fileno())

    def failure(self):
        """The one-line error and exit status when writing failed, else None."""
        if self.error is None:
            return None
        if isinstance(self.error, BrokenPipeError):  # the reader went away, e.g. `| head`
            return "standard output was closed before the whole report was written", 1
        why = self.error.strerror or self.error
        return f"cannot write the report to standard output ({why})", 2


class Sink:
    """An output: begin(), add(result) per scored image, finish(combined, rows, refused, warnings).

    A context manager, so that one holding files can remove them when the run fails.
    """

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        return None

    def begin(self):
        pass


class JsonSink(Sink):
    """One JSON document on a stream, written image by image: memory does not grow with the
    images."""

    def __init__(self, stream, settings):
        self.stream, self.settings, self.first = stream, settings, True

    def begin(self):
        self.stream.write(json.dumps(json_head(self.settings))[:-1] + ', "images": [')

    def add(self, result):
        self.stream.write(("" if self.first else ", ") + json.dumps(result.report))
        self.first = False

    def finish(self, combined, rows, refused, warnings):
        errors = [{"id": shown(error.key), "path": error.path, "error": error.message}
                  for error in refused]
        self.stream.write('], "combined": ' + json.dumps(combined) + ', "errors": '
                          + json.dumps(errors)
                          + ', "warnings": ' + json.dumps(warnings) + "}\n")
        self.stream.flush()


class TextSink(Sink):
    """The console report: each image's section as it comes, then the summary, the combined section,
    and the refused files on stderr."""

    def __init__(self, stream, settings, bar=None):
        self.stream, self.settings, self.bar = stream, settings, bar

    def _write(self, text):
        self.bar.write(text, file=self.stream,
                       end="") if self.bar is not None else self.stream.write(text)

    def add(self, result):
        s = self.settings
        if not s.brief:
            self._write(format_image_section(result.report, s.scoring, s.digits) + "\n\n\n")

    def finish(self, combined, rows, refused, warnings):
        s = self.settings
        if rows:
            self.stream.write(format_summary(rows, s.digits) + "\n\n\n")
        self.stream.write(format_combined_section(combined, s.scoring, s.digits,
                                                  [shown(error.key) for error in refused],
                                                  s.per_case) + "\n")
        self.stream.flush()
        for error in refused:
            say(f"error: {error.message}")


class FolderSink(Sink):
    """The report folder: report.json and classes.csv streamed, each image's matrix and page as it
    comes; the summary, the combined files, the heat map and index.html at the end.

    With merged reports there are no overlays (no masks were read), and the
    per-image heat maps are drawn here, as no worker drew them.
    """

    def __init__(self, settings, merged):
        self.settings, self.folder, self.merged = settings, settings.output_dir, merged
        # the optional CSV columns
        needed = {"boundary": settings.scoring.boundary,
                  "scores": settings.scoring.threshold is not None,
                  "groups": settings.scoring.groups is not None,
                  "instances": settings.scoring.instance_sizes is not None,
                  "distances": settings.scoring.distances is not None}
        self.present = (BOUNDARY_KEYS if settings.scoring.boundary else set()) | (
            {"iiou"} if needed["instances"] else set()) | (
            set(DISTANCES) if needed["distances"] else set()) | {
            key for key, measure in MEASURES.items()
            if all(given for need, given in needed.items() if getattr(measure, need))
            and any(getattr(measure, need) for need in needed)}
        self.held, self.files = contextlib.ExitStack(), contextlib.ExitStack()
        self.picture_notes = []

    def __enter__(self):
        # released last, after the files are closed
        self.held.enter_context(folder_lock(self.folder))
        self.held.enter_context(self.files)
        return self

    def begin(self):
        self.json = JsonSink(self.files.enter_context(atomic_open(self.folder / "report.json")),
                             self.settings)
        self.json.begin()
        self.classes = csv.writer(self.files.enter_context(atomic_open(self.folder / "classes.csv",
                                                                       newline="")))
        self.classes.writerow(["id", *csv_header(class_table(), self.present)])
        self.headline = csv.writer(self.files.enter_context(
            atomic_open(self.folder / "headline.csv", newline="")))
        self.headline.writerow(["id", *csv_header(headline_table(), self.present)])

    def add(self, result):
        report, file = result.report, output_name(result.key)
        self.json.add(result)
        self.classes.writerows(csv_rows(class_table(),
                                        class_table_rows(report,
                                                         self.settings.scoring.zero_division)[0],
                                        first=[report["id"]], present=self.present))
        self.headline.writerows(csv_rows(headline_table(), [headline_numbers(report)],
                                         first=[report["id"]], present=self.present))
        with drawing(report["id"]):
            write_csv(file_path(self.folder, file, "matrix"), matrix_csv_rows(report))
            if "scores" in report:
                write_csv(file_path(self.folder, file, "curve"), score_curve_rows(report))
            write_text(file_path(self.folder, file, "page"), image_page(
                report, file, self.settings, None if self.merged else result.drawn[:2]))
            if self.merged and self.settings.plots_per_image:
                draw_image_plot(report, file, self.settings)
        if result.drawn and result.drawn.note:
            self.picture_notes.append(result.drawn.note)

    def finish(self, combined, rows, refused, warnings):
        s = self.settings
        self.json.finish(combined, rows, refused, warnings)
        self.files.close()  # report.json, classes.csv, headline.csv are whole: put them in place
        # The combined set's files stand at the top, apart from the images' (an image may be named
        # combined).
        class_rows, averages = class_table_rows(combined, s.scoring.zero_division)
        with drawing("combined"):
            write_csv(self.folder / "confusion_matrix.csv", matrix_csv_rows(combined))
            if "scores" in combined:
                write_csv(self.folder / "score_curve.csv", score_curve_rows(combined))
            if "per_case" in combined:
                write_csv(self.folder / "per_case.csv", [csv_header(PER_CASE_TABLE)] + csv_rows(
                    PER_CASE_TABLE, [{**row, "class": row["class"] if isinstance(
                        row["class"], tuple) else (None, row["class"])}
                        for row in per_case_rows(combined, s.digits)]))
            write_csv(self.folder / "combined.csv",
                      [csv_header(class_table(), self.present)] + csv_rows(
                class_table(), class_rows + [{**row, "class": (None, row["class"])}
                                             for row in averages],
                present=self.present))
            write_csv(self.folder / "summary.csv", [csv_header(summary_table(), self.present)]
                      + csv_rows(summary_table(), rows, present=self.present))
            plot_confusion_matrix(combined, s.scoring.class_names,
                                  self.folder / "confusion_matrix.png",
                                  f"All {combined['images']} images: share of each label's pixels")
            write_text(self.folder / "index.html", index_page(combined, rows, refused, warnings, s,
                                                              has_overlays=not self.merged))
            order = worst_first(rows)
            # now that the order is known: each page's previous / next
            for index, row in enumerate(order):
                page = file_path(self.folder, row["file"], "page")
                write_text(page, page.read_text(encoding="utf-8").replace(NAVIGATION,
                                                                          image_navigation(order,
                                                                                           index),
                                                                                           1))
        if s.quiet:
            return
        notes = self.picture_notes
        if notes:
            say(f"note: {len(notes)} overlay{'s are' if len(notes) > 1 else ' is'} drawn on the "
                f"label's class colours, for want of a camera picture (first: {notes[0]})")
        say(f"wrote {shown(self.folder)}/: index.html, report.json, summary.csv, classes.csv, "
            "headline.csv, combined.csv, per_case.csv, confusion_matrix.csv, confusion_matrix.png, "
            "matrices/ "
            f"and reports/ ({len(rows)})"
            + (", overlays/, predicted_as/, label_colours/, inference_colours/ and thumbnails/ "
               f"({len(rows)})"
               if not self.merged else "")
            + (f", pictures/ ({len(rows) - len(notes)})" if not self.merged
               and len(rows) > len(notes) else "")
            + (f", plots/ ({len(rows)})" if s.plots_per_image else "")
            + (f", score_curve.csv and curves/ ({len(rows)})" if "scores" in combined else ""))

    def __exit__(self, *exception):
        return self.held.__exit__(*exception)

    @staticmethod
    def draw(key, label, inference, report, settings, valid=None, picture=None):
        """A pair's pictures (draw_pictures) and, with --plots-per-image, its heat map, drawn where
        the masks are (in a worker process): its Drawn. A report folder that cannot be written stops
        the run (OutputError): it is no fault of the masks, and dropping their pair would change the
        numbers."""
        with drawing(report["id"]):
            note, picture = draw_pictures(key, label, inference, settings, valid, picture)
            if settings.plots_per_image:
                draw_image_plot(report, output_name(key), settings)
        return Drawn(label.shape[1], picture, note)


# ---------------------------------------------------------------- pipeline

def score_pair(pair, settings):
    """Score one pair: (a Result with its report and tally, or with the error that refused it; the
    pair's (label, inference, valid) of read_pair when scored, else None)."""
    try:
        scoring, tally, instances, left_out = settings.scoring, None, None, None
        if pair.annotations is not None:  # a label of COCO files
            label, inference, valid, left_out = read_coco_pair(pair, settings)
        elif scoring.threshold is None:  # valid: the pixels to count, or None for every one
            label, inference, valid = read_pair(pair.label, pair.inference, settings.palette,
                                                settings.label_map, settings.inference_map,
                                                scoring.ignore_index, settings.label_encoding,
                                                pair.valid)
        else:
            positive, valid, codes, levels = read_score_pair(
                pair.label, pair.inference, scoring.positive_class, settings.palette,
                settings.label_map, scoring.ignore_index, settings.label_encoding, pair.valid)
            label, inference, tally = thresholded(positive, valid, codes, levels,
                                                  scoring.threshold)
        if pair.instances is not None:
            instances = read_instances(pair.instances)
            _check_same_size(pair.instances, instances.shape, pair.label, label.shape,
                             at_fault=pair.instances)
        counts = tally_pair(label, inference, valid, scoring, tally, instances,
                            settings.instance_map)
        if settings.check_with_sklearn:
            check_with_sklearn(pair.label, pair.inference, label, inference, counts,
                               scoring.ignore_index, valid)
        report = image_report(shown(pair.key), pair.label, pair.inference, counts, scoring)
        if left_out is not None:
            report["left_out"] = left_out
    except MaskError as error:
        return Result(pair.key, shown(error.path or pair.label), None, str(error)), None
    except CheckFailed:  # stops the run: every number of it is in doubt
        raise
    except Exception as error:  # a bug of ours must still name the file and spare the other pairs
        return Result(pair.key, shown(pair.label), None, (
            f"{shown(pair.label)}, {shown(pair.inference)}: internal error "
            f"({type(error).__name__}: {error})")), None
    return Result(pair.key, shown(pair.label), report, None, counts), (label, inference, valid)


def tally_pair(label, inference, valid, scoring, scores=None, instances=None, instance_map=None):
    """The Counts of a pair read into class ids, under the scoring record: its matrix (from scores,
    a ScoreCounts at the threshold, when there are no boundary bands to count), and what the rules
    add (boundary counts, the score tally, with instances, an instance file's values, through
    instance_map, their InstanceCounts, boundary distances). valid: the pixels to count, or
    None."""
    if scores is not None and not scoring.boundary:  # no pixel to count again
        counts = counts_at_threshold(scores, scoring.threshold)
    else:
        band_width = boundary_width(label.shape,
                                    scoring.boundary_ratio) if scoring.boundary else 0
        counts = count_occurring(label, inference, scoring.ignore_index, band_width, valid)
        counts = counts._replace(scores=scores)
    if instances is None and scoring.distances is None:
        return counts
    counted = _counted(label, valid, scoring.ignore_index)
    if instances is not None:
        counts = counts._replace(instances=count_instances(
            instances, inference, counted, scoring.instance_sizes,
            None if instance_map is None else instance_map.table, scoring.groups))
    if scoring.distances is not None:
        counts = counts._replace(distances=count_distances(
            label, inference, counts.ids, counts.ids != scoring.ignore_index, counted,
            scoring.distances), group_distances=None if scoring.groups is None
            else count_group_distances(label, inference, counted, scoring.groups,
                                       scoring.distances))
    return counts


def _counted(label, valid, ignore_index):
    """The pixels a pair counts (a bool array), or None for every one."""
    if ignore_index is None:
        return valid
    return label != ignore_index if valid is None else valid & (label != ignore_index)


def thresholded(positive, counted, codes, levels, threshold):
    """A label's pixels of the positive class (bool) and its score map (codes indexing levels, as
    read_scores gives them) as (the label's ids: 1 for the positive class, 0 for the rest; the map
    at the threshold, 1 at or above it, else 0; the pair's ScoreCounts over the pixels counted, a
    bool array or None for every one)."""
    label = positive.view(np.uint8)
    # levels ascend: a code at or past the first level at the threshold scores at or above it
    inference = (codes >= np.searchsorted(levels, threshold)).view(np.uint8)
    return label, inference, count_scores(positive, codes, levels, counted)


def pair_task(pair, settings):
    """What a worker does with a pair: score it and, with a report folder, have the folder draw its
    pictures while the masks are at hand (they never travel to the parent); returns the Result."""
    result, masks = score_pair(pair, settings)
    if masks is not None and settings.output_dir is not None:
        label, inference, valid = masks
        result = result._replace(drawn=FolderSink.draw(pair.key, label, inference, result.report,
                                                       settings, valid, getattr(
                                                           pair.annotations, "picture", None)))
    return result


def check_with_sklearn(label_name, inference_name, label, inference, counts, ignore_index,
                       valid=None):
    """Raise CheckFailed unless a pair's Counts equal
    sklearn.metrics.confusion_matrix(labels=range(256)) of its raw id arrays, the pixels labelled
    ignore_index and those outside valid (when not None) removed first (scikit-learn has no ignore
    index): the matrix every number comes from, proven on the user's own data."""
    from sklearn.metrics import confusion_matrix  # only a run with this option pays for the import
    counted = np.ones(label.shape, bool) if valid is None else valid.copy()
    if ignore_index is not None:
        counted &= label != ignore_index
    label, inference = label[counted], inference[counted]
    expected = np.zeros((LABEL_SPACE, LABEL_SPACE), dtype=np.int64)
    if label.size:  # scikit-learn refuses empty arrays; their matrix is empty
        expected = confusion_matrix(label, inference, labels=range(LABEL_SPACE))
    ours = np.zeros((LABEL_SPACE, LABEL_SPACE), dtype=np.int64)
    ours[np.ix_(counts.ids, counts.ids)] = counts.matrix
    differ = np.argwhere(ours != expected)
    if differ.size:
        row, column = differ[0].tolist()
        raise CheckFailed(f"{shown(label_name)}, {shown(inference_name)}: the confusion matrix "
                          f"differs from scikit-learn's in {plural(len(differ), 'cell')}, first "
                          f"[{row}][{column}]: {ours[row, column]} here, {expected[row, column]} "
                          "by scikit-learn; no number of this run is to be trusted: please report "
                          "it")


# glibc's malloc hands every large freed block back to the system and maps fresh pages for the next,
# so each decoded mask's pages are faulted in anew: a fifth to a third of a run's time. Keeping this
# much free memory at the heap's top (M_TOP_PAD), more than a 2048x1024 pair and its arrays need,
# lets each pair reuse the pages of the one before.
MALLOC_TOP_PAD = 64 << 20
M_TOP_PAD = -2  # mallopt's parameter number for it, in glibc's malloc.h


def reuse_freed_memory():
    """Have glibc keep MALLOC_TOP_PAD of freed memory for reuse; nothing changes with another C
    library or on another system (the call is skipped, or fails quietly)."""
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"):
            return
        import ctypes  # only where glibc is
        ctypes.CDLL(None).mallopt(M_TOP_PAD, MALLOC_TOP_PAD)
    except (AttributeError, ValueError, OSError):  # no confstr name, no symbol, no library
        return


def _start_worker(max_image_pixels):
    reuse_freed_memory()  # inherited when forked; a spawned worker sets it anew
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle, once
    # the parent ends its workers with SIGTERM: no word
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    configure_pillow(max_image_pixels)


def score_pairs(pairs, settings, jobs=1):
    """pair_task of every pair, yielded in the order of pairs, decoded in `jobs` processes."""
    score = functools.partial(pair_task, settings=settings)
    if jobs <= 1 or len(pairs) <= 1:
        yield from map(score, pairs)
        return
    import multiprocessing  # only a run with workers pays for the import
    jobs = min(jobs, len(pairs))
    # Pairs go to the workers in chunks: fewer round trips, but each worker keeps some work in hand.
    chunk = max(1, min(16, len(pairs) // (4 * jobs)))
    with multiprocessing.Pool(jobs, _start_worker, (settings.max_image_pixels,)) as pool:
        yield from pool.imap(score, pairs, chunksize=chunk)


def default_jobs(pair_count):
    """All cores when there are enough pairs to pay for starting the workers, else 1."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os,
                                                    "sched_getaffinity") else os.cpu_count() or 1
    return cores if pair_count >= PAIRS_PER_WORKER * cores else 1


def merged_results(images, settings):
    """Rescore the images of merged reports from their matrices, as score_pairs would yield them."""
    for image in sorted(images, key=lambda image: id_order(image["id"])):
        counts = counts_of_report(image, settings.scoring.boundary,
                                  settings.scoring.distances is not None)
        report = image_report(image["id"], image["label"], image["inference"], counts,
                              settings.scoring)
        if "left_out" in image:  # what its COCO label left out
            report["left_out"] = image["left_out"]
        yield Result(image["id"], image["label"], report, None, counts=counts)


def shard_of(pairs, refused, shard):
    """The pairs and refused files of shard (k, n): every n-th image id, from the k-th, in id
    order."""
    k, n = shard
    keys = sorted({item.key for item in pairs + refused}, key=id_order)
    chosen = set(keys[k - 1::n])
    return [pair for pair in pairs if pair.key in chosen], [error for error in refused
                                                            if error.key in chosen]


def progress_bar(total, quiet):
    """A tqdm bar on stderr when it is a terminal (and the run lasts), else None."""
    if quiet or sys.stderr is None or not sys.stderr.isatty():
        return None
    from tqdm import tqdm  # only a terminal session pays for the import
    # no monitor thread, so worker processes fork a single-threaded parent
    tqdm.monitor_interval = 0
    return tqdm(total=total, unit="pair", file=sys.stderr, delay=PROGRESS_DELAY_SECONDS,
                leave=False)


NUMBERS_IN_DOUBT = 3  # the exit status of a run whose report the tool itself believes wrong


class Tallies:
    """What a run keeps of its scored images: their summed Counts, each id's IoU summed over the
    images (ImageIoUs), and each image's statistics (ImageCounts: the per-case statistics and
    --bootstrap; score-map tallies only for --bootstrap, as they are larger): some hundred bytes per
    image."""

    def __init__(self, settings):
        scoring = settings.scoring
        self.total = CountsSum(scoring.boundary, scoring.threshold is not None,
                               scoring.distances is not None)
        self.image_ious = ImageIoUs()
        self.images = ImageCounts(scoring.groups)
        self.resampled = bool(settings.bootstrap)

    def add(self, counts):
        self.total.add(counts)
        self.image_ious.add(counts)
        if len(counts.ids):
            self.images.add(counts if self.resampled else counts._replace(scores=None))

    def combined(self, rows, settings):
        """The combined report of the images, its per-case statistics, and with --bootstrap its
        intervals."""
        scoring = settings.scoring
        combined = combined_report(self.total.counts(), rows, scoring, self.image_ious,
                                   settings.num_classes)
        combined.update(per_case_statistics(self.images, len(rows), scoring.ignore_index,
                                            scoring.zero_division, scoring.exclude_from_means))
        if self.resampled and len(self.images):
            combined["confidence_intervals"] = confidence_intervals(
                self.images, scoring.ignore_index, settings.bootstrap, settings.confidence,
                settings.seed, scoring.zero_division, scoring.exclude_from_means)
        return combined


def left_out_hint(left_out):
    """What the COCO labels left out, in a sentence, or none."""
    said = [f"{plural(pixels, 'pixel')} {LEFT_OUT[why]}" for why, pixels in left_out.items()
            if pixels]
    return [f"not counted, by the rules for COCO's labels: {'; '.join(said)}"] if said else []


def report_to(sinks, results, refused, settings, bar=None, incomplete=(), tell=None):
    """Hand every result to every sink as it arrives (refused ones join refused), then the combined
    report; returns the doubts: warnings that the numbers are wrong as the ids stand
    (id_scheme_warnings). Every warning (incomplete ones, the doubts, hints) goes to tell before the
    sinks finish. Only the tallies and one small summary row per image are kept."""
    tallies, rows, left_out = Tallies(settings), [], {}
    for result in results:
        if bar is not None:
            bar.update()
        if result.error is not None:
            refused.append(Refused(result.key, result.path, result.error))
            continue
        tallies.add(result.counts)
        for sink in sinks:
            sink.add(result)
        rows.append(summary_row(result.report, output_name(result.key)))
        for why, pixels in result.report.get("left_out", {}).items():
            left_out[why] = left_out.get(why, 0) + pixels
    combined = tallies.combined(rows, settings)
    if left_out:
        combined["left_out"] = left_out
    refused.sort(key=lambda error: id_order(error.key))
    doubts = (id_scheme_warnings(tallies.total.matrix, settings.scoring.ignore_index)
              + positive_class_warnings(combined, settings.scoring))
    hints = (ignored_foreground_hint(tallies.total.matrix, settings.scoring.ignore_index)
             + unweighted_instances_hint(combined) + left_out_hint(left_out))
    warnings = [*incomplete, *doubts, *hints]
    for warning in warnings if tell is not None else ():
        tell(warning)
    for sink in sinks:
        sink.finish(combined, rows, refused, warnings)
    return doubts


def consume_results(results, count, refused, settings, merged=False, incomplete=()):
    """Report the results (report_to) on standard output and in the report folder; returns the exit
    status: NUMBERS_IN_DOUBT when the counts say the ids do not mean what they should.

    incomplete are warnings that the merged reports miss images: with them, the status is 1.
    Standard output failing (a closed pipe, a full disk) does not stop the report folder.
    """
    bar, console = progress_bar(count, settings.quiet), Console(sys.stdout)
    with contextlib.ExitStack() as stack:
        if bar is not None:
            stack.callback(bar.close)
        sinks = [FolderSink(settings, merged)] if settings.output_dir else []  # notes, then errors
        # A check that stops the run must not leave half a JSON document: it is held until the end.
        document = io.StringIO() if settings.check_with_sklearn else console
        sinks.append(TextSink(console, settings, bar) if settings.format == "text"
                     else JsonSink(document, settings))
        for sink in sinks:
            stack.enter_context(sink).begin()
        # Closed first when the run stops: the workers end before the sinks clean up after them.
        results = stack.enter_context(contextlib.closing(results))
        doubts = report_to(sinks, results, refused, settings, bar, incomplete,
                           lambda warning: say(f"warning: {warning}"))
        if document is not console and settings.format == "json":
            console.write(document.getvalue())
            console.flush()
    failure = console.failure()
    if failure:
        message, status = failure
        say(f"error: {message}" + (f"; the report folder {shown(settings.output_dir)}/ is complete"
                                   if settings.output_dir else ""))
        return status
    return NUMBERS_IN_DOUBT if doubts else 1 if refused or incomplete else 0


def with_companions(pairs, settings):
    """The pairs with the files that go with each (--valid-masks, --instances), and a Refused for
    each pair without one, as for one file alone; raises RunError when a folder cannot be read."""
    refused = []
    for folder, suffix, layout, field, what in (
            (settings.valid_masks, settings.valid_suffix,
             LABEL_LAYOUTS.get(settings.label_encoding), "valid", "valid mask"),
            (settings.instances, settings.instance_suffix, None, "instances", "instance file")):
        if folder is None:
            continue
        try:
            pairs, without = with_valid_masks(pairs, folder, settings.recursive, suffix, layout,
                                              field, what)
        except OSError as error:
            raise RunError(f"cannot list the {what}s: {error}") from None
        refused += without
    return pairs, refused


def names_through(names, table):
    """Class names carried to the ids an id map (its table) sends the named ids to: an id that one
    named id becomes takes its name; one that several become is left unnamed."""
    named = {}
    for class_id, name in names.items():
        named.setdefault(int(table[class_id]), []).append(name)
    return {class_id: found[0] for class_id, found in named.items() if len(found) == 1}


def listed_pairs(settings):
    """The run's pairs, the files refused, notes and hints (find_pairs), and its Settings: with
    COCO's files, the labels are theirs (each Pair carries what its label is made of), the scoring
    record notes the files, and the classes are named by their categories unless named."""
    if not (settings.coco_annotations or settings.coco_panoptic):
        return (*find_pairs(settings.labels, settings.inferences, settings.recursive,
                            settings.label_suffix, settings.inference_suffix,
                            SCORE_SUFFIXES if settings.scoring.threshold is not None
                            else MASK_SUFFIXES, LABEL_LAYOUTS.get(settings.label_encoding)),
                settings)
    if settings.coco_annotations:
        coco = read_coco_annotations(settings.coco_annotations, settings.coco_contiguous)
        labels = Listing({key: text for key, (text, _) in coco.labels.items()}, [], [], [], 0)
        pairs, refused = _pair(labels, list_masks(settings.inferences, settings.recursive,
                                                  settings.inference_suffix),
                               "+".join(map(shown, settings.coco_annotations)),
                               settings.inferences)
        notes, hints = [], []
    else:
        coco = read_coco_panoptic(settings.coco_panoptic, settings.coco_contiguous)
        pairs, refused, notes, hints = find_pairs(settings.labels, settings.inferences,
                                                  settings.recursive, settings.label_suffix,
                                                  settings.inference_suffix)
        refused += [Refused(pair.key, shown(pair.label), f"{shown(pair.label)}: no entry of that "
                            f"name in {shown(settings.coco_panoptic)}'s annotations")
                    for pair in pairs if pair.key not in coco.labels]
        found = {item.key for item in pairs + refused}
        refused += [Refused(key, shown(settings.coco_panoptic), f"{shown(settings.coco_panoptic)}: "
                            f"no PNG of {shown(key)} in {shown(settings.labels)}")
                    for key in coco.labels if key not in found]
    pairs = [pair._replace(annotations=coco.labels[pair.key][1]) for pair in pairs
             if pair.key in coco.labels]
    said = {error.key for error in coco.refused}  # an image refused is not refused again
    refused = coco.refused + [error for error in refused if error.key not in said]
    names = settings.scoring.class_names or (
        coco.names if settings.label_map is None  # the categories' names, at the mapped ids
        else names_through(coco.names, settings.label_map.table))
    if settings.dataset == "coco" and settings.coco_contiguous:  # the preset names category ids
        names = {0: names[0], **{class_id: names[int(category)] for category, class_id
                                 in coco.record["classes"].items() if int(category) in names}}
    return pairs, refused, coco.notes + notes, hints, dataclasses.replace(
        settings, scoring=dataclasses.replace(settings.scoring, class_names=names,
                                              coco=coco.record))


def score(settings):
    """Score the mask folders and report; returns the exit status."""
    for option, folder in (("--labels", settings.labels), ("--inferences", settings.inferences),
                           ("--valid-masks", settings.valid_masks),
                           ("--instances", settings.instances)):
        if folder is not None and not folder.is_dir():
            raise RunError(f"{option} {shown(folder)}: "
                           + ("a file, not a folder" if folder.exists() else "no such folder"))
    try:
        pairs, refused, notes, hints, settings = listed_pairs(settings)
    except OSError as error:
        raise RunError(f"cannot list the masks: {error}") from None
    run_pairs = len(pairs)
    if settings.shard:
        run_ids = len({item.key for item in pairs + refused})
        pairs, refused = shard_of(pairs, refused, settings.shard)
        settings = dataclasses.replace(settings, shards={"of": settings.shard[1],
                                                         "included": [settings.shard[0]],
                                                         "run_ids": run_ids})
    # a job array's task past the last id
    if settings.shard and not pairs and not refused and run_ids:
        if not settings.quiet:
            say(f"note: shard {settings.shard[0]}/{settings.shard[1]} holds none of the run's "
                f"{plural(run_ids, 'image id')}: its report is empty, and merges as such")
        return consume_results(score_pairs([], settings), 0, [], settings)
    # A shard whose ids were all refused still reports them (exit 1), so that its task ends and it
    # merges.
    if not pairs and not (settings.shard and run_pairs):
        labels = settings.labels or "+".join(map(shown, settings.coco_annotations))
        raise RunError(f"no pair of masks with the same name in {shown(labels)} and "
                       f"{shown(settings.inferences)}"
                       + (f" (shard {settings.shard[0]}/{settings.shard[1]})"
                          if settings.shard else "")
                       + "".join(f"\n  {hint}" for hint in hints)
                       + "".join(f"\n  {error.message}" for error in refused[:MAX_LISTED])
                       + (f"\n  ... and {len(refused) - MAX_LISTED} more"
                          if len(refused) > MAX_LISTED else ""))
    pairs, without = with_companions(pairs, settings)
    refused += without
    if not settings.quiet:
        for note in notes:
            say(note)
    for void in void_ids(settings.scoring.class_names)[:1]:
        if void != settings.scoring.ignore_index and not settings.quiet:
            say(f"note: id {void} is named {settings.scoring.class_names[void]!r}, but without "
                f"--ignore-index {void} its pixels count as a class like any other")
    jobs = settings.jobs or default_jobs(len(pairs))
    return consume_results(score_pairs(pairs, settings, jobs), len(pairs), refused, settings)


def merge(settings):
    """Rebuild the report from JSON reports of shards, without touching a mask.

    What the options leave open (zero division, class names) is taken from the reports.
    """
    reports = read_reports(settings.merge, settings.given)
    if not reports.images and not reports.refused:
        raise RunError("the reports hold no image")
    settings = dataclasses.replace(settings, scoring=reports.scoring, shards=reports.shards)
    images, note = tallied_groups(reports, reports.scoring.groups)
    if note is not None and not settings.quiet:
        say(f"note: {note}")
    return consume_results(merged_results(images, settings), len(images),
                           reports.refused,
                           settings, merged=True, incomplete=reports.incomplete)


def read_comparison(paths, given):
    """The JSON reports of --compare (a report folder stands for its report.json), each read as
    --merge reads one, checked to be on the same labels and joined by their records (given: the
    rules the options gave); raises RunError naming the first difference. Returns (paths,
    [Reports], the joined Scoring, notes)."""
    paths = [path / "report.json" if path.is_dir() else path for path in paths]
    reports = [read_reports([path], given, "compared") for path in paths]
    scoring, notes = join_records([head for other in reports for head in other.heads], given,
                                  "compared")
    baseline, base_path = reports[0], paths[0]
    base_ids = {image["id"]: image for image in baseline.images}
    for path, other in zip(paths[1:], reports[1:]):
        ids = {image["id"]: image for image in other.images}
        for image_id in sorted(base_ids.keys() ^ ids.keys(), key=id_order)[:1]:
            holder, missing = (base_path, path) if image_id in base_ids else (path, base_path)
            raise RunError(f"image {image_id} is in {shown(holder)} but not in {shown(missing)}: "
                           "compare reports on the same images")
        for image_id in sorted(base_ids, key=id_order):
            before, after = (label_pixels(images[image_id]) for images in (base_ids, ids))
            if before != after:
                class_id = min(before.keys() ^ after.keys() | {k
                                                               for k in before.keys() & after.keys()
                                                               if before[k] != after[k]})
                raise RunError(f"image {image_id}: {shown(base_path)} has "
                               f"{before.get(class_id, 0)} label pixels of class {class_id}, "
                               f"{shown(path)} {after.get(class_id, 0)}: the reports are not on "
                               "the same labels")
    return paths, reports, scoring, notes


def label_pixels(image):
    """{id: pixels} of an image report's label side (its matrix's row sums), the ids with pixels
    only."""
    rows = image["confusion_matrix"]["matrix"]
    return {class_id: sum(row) for class_id, row in zip(image["confusion_matrix"]["labels"], rows)
            if sum(row)}


def write_comparison_folder(comparison, paths, settings):
    """--compare with --output-dir: comparison.json, the pictures of the errors of the images that
    changed most (thumbnails copied from the reports' folders, where they have them), and
    compare.html."""
    folder = settings.output_dir
    write_text(folder / "comparison.json", json.dumps(comparison))
    overlays = {}
    for index, entry in enumerate(comparison["comparisons"], start=1):
        for change in entry["images"]["largest_losses"] + entry["images"]["largest_gains"]:
            for side in (0, index):
                source = file_path(paths[side].parent, output_name(change["id"]), "thumbnail")
                key = (side, change["id"])
                if key not in overlays and paths[side].name == "report.json" and source.is_file():
                    # A copy is named by the model's place and the image's file: '~' never stands in
                    # a place.
                    copy = f"{side}~{output_name(change['id'])}.jpg"
                    write_atomically(folder / COMPARISON_THUMBNAILS / copy,
                                     functools.partial(shutil.copyfile, source))
                    overlays[key] = f"{COMPARISON_THUMBNAILS}/{urllib.parse.quote(copy)}"
    write_text(folder / "compare.html", comparison_page(comparison, overlays, settings.digits))
    if not settings.quiet:
        say(f"wrote {shown(folder)}/: compare.html, comparison.json, {COMPARISON_THUMBNAILS}/ "
            f"({len(overlays)})")


def compare(settings):
    """Compare models' JSON reports with the first one's, with paired bootstrap intervals; print the
    comparison (text or JSON) and, with --output-dir, write its page. Returns the exit status."""
    paths, reports, scoring, notes = read_comparison(settings.compare, settings.given)
    for note in notes if not settings.quiet else ():
        say(f"note: {note}")
    order = sorted((image["id"] for image in reports[0].images), key=id_order)
    models = []
    for other in reports:
        images, note = tallied_groups(other, scoring.groups)
        if note is not None and not settings.quiet and other is reports[0]:
            say(f"note: {note}")
        by_id = {image["id"]: image for image in images}
        models.append([image_report(image_id, by_id[image_id]["label"],
                                    by_id[image_id]["inference"],
                                    counts_of_report(by_id[image_id], scoring.boundary,
                                                     scoring.distances is not None), scoring)
                       for image_id in order])
    document = compare_models(models, [shown(path) for path in paths], scoring.ignore_index,
                              scoring.zero_division, scoring.class_names,
                              settings.bootstrap or DEFAULT_RESAMPLES, settings.confidence,
                              settings.seed, scoring.groups, scoring.distances is not None,
                              scoring.exclude_from_means)
    console = Console(sys.stdout)
    if settings.output_dir is not None:
        with folder_lock(settings.output_dir):
            write_comparison_folder(document, paths, settings)
    if settings.format == "json":
        console.write(json.dumps(document) + "\n")
    else:
        console.write(format_comparison(document, settings.digits) + "\n")
    console.flush()
    failure = console.failure()
    if failure:
        say(f"error: {failure[0]}")
        return failure[1]
    return 0


# ---------------------------------------------------------------- CLI

def parse_ignore_index(text):
    """An id, or 'none'."""
    if text == "none":
        return text
    if not (text.isascii() and text.lstrip("-").isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r} is not an id or none")
    return int(text)


def parse_ids(text):
    """'0' or '0,255' -> (0, 255): ids within the label space, ascending, each once."""
    words = text.replace(",", " ").split()
    if not words or not all(word.isascii() and word.isdigit() and int(word) < LABEL_SPACE
                            for word in words):
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of ids within 0..255, e.g. 0 "
                                         "or 0,255")
    return tuple(sorted({int(word) for word in words}))


def parse_number(text):
    """A finite number (the checks of its range are the option's)."""
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number")
    return number


def parse_shard(text):
    """'K/N' -> (K, N), with 1 <= K <= N."""
    match = re.fullmatch(r"(\d+)/(\d+)", text)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise argparse.ArgumentTypeError(f"{text!r} is not K/N with 1 <= K <= N")
    return int(match[1]), int(match[2])


def _add_reading_options(parser):
    group = parser.add_argument_group("reading the masks")
    group.add_argument("--labels", default="labels", type=Path, metavar="DIR",
                        help="folder of ground-truth masks (default: labels)")
    group.add_argument("--inferences", default="inferences", type=Path, metavar="DIR",
                        help="folder of model outputs with the same file names (default: "
                        "inferences)")
    group.add_argument("--recursive", action="store_true",
                        help="also find masks in sub-folders, paired by their path below the "
                             "folder; the id is that path without the suffix (e.g. "
                             "frankfurt/frankfurt_000000_000294)")
    group.add_argument("--label-suffix", default="", metavar="S",
                        help="the end of the labels' file names (before the extension) that is not "
                             "part of the id, e.g. _gtFine_labelTrainIds; other files are passed "
                             "over")
    group.add_argument("--inference-suffix", default="", metavar="S",
                        help="the same for the inferences, e.g. _leftImg8bit")
    group.add_argument("--label-map", metavar="MAP",
                        help="turn the labels' ids into others before counting: a preset ("
                             + ", ".join(ID_MAP_PRESETS) + "), a list such as 255:1, or a text "
                             "file with a line 'from: to' per id ('*: to' for every id not listed)")
    group.add_argument("--inference-map", metavar="MAP", help="the same for the inferences")
    group.add_argument("--palette", metavar="PALETTE",
                        help="read colour-coded (RGB) masks: each colour becomes the id it stands "
                             "for; a preset (" + ", ".join(PALETTE_PRESETS)
                             + ") or a text file in which line "
                             "k (or 'N: ...') gives id k's colour as 'R G B' or '#rrggbb'")
    group.add_argument("--valid-masks", type=Path, metavar="DIR",
                        help="folder of a mask per image, found by the image's id, of the pixels "
                             "to count: those that are not 0 (e.g. DRIVE's field-of-view masks); "
                             "the others are left out, as ignored pixels are")
    group.add_argument("--valid-suffix", default="", metavar="S",
                        help="the end of the valid masks' file names that is not part of the id, "
                             "e.g. _test_mask")
    group.add_argument("--instances", type=Path, metavar="DIR",
                        help="folder of Cityscapes instance files (16-bit: class id x 1000 + the "
                             "instance's number), found by the image's id, for iIoU")
    group.add_argument("--instance-suffix", default="", metavar="S",
                        help="the end of the instance files' names that is not part of the id, "
                             "e.g. _gtFine_instanceIds")
    group.add_argument("--instance-map", metavar="MAP",
                        help="turn the instances' class ids into the labels' ids, as --label-map "
                             "(cityscapes-labelids when the labels are train ids)")
    group.add_argument("--instance-sizes", metavar="FILE",
                        help="the average pixels of an instance of each class, lines 'id: size' "
                             "(default: cityscapesScripts' table, by train id)")
    group.add_argument("--label-encoding", choices=LABEL_ENCODINGS,
                        help="read label files that hold more than ids: kitti-road reads KITTI "
                             "road's RGB ground truth as its devkit does (blue: road, id 1, else "
                             "0; pixels without red are not counted)")
    group.add_argument("--images", default="images", type=Path, metavar="DIR",
                        help="folder of the camera pictures the overlays are drawn on (default: "
                        "images)")
    group.add_argument("--max-image-pixels", type=int, metavar="N",
                        help="refuse masks of more pixels than this, as a guard against "
                             "decompression bombs (default: Pillow's limit, "
                             f"{Image.MAX_IMAGE_PIXELS})")


def _add_coco_options(parser):
    group = parser.add_argument_group("COCO's labels: annotation files, panoptic PNGs")
    group.add_argument("--coco-annotations", nargs="+", type=Path, metavar="FILE",
                        help="the labels are drawn from COCO annotation files (instances and/or "
                             "stuff, merged; needs pycocotools), an image's inference found by its "
                             "file_name in --inferences: class id = category id (0 where no "
                             "annotation is); crowd regions and pixels of two categories are not "
                             "counted")
    group.add_argument("--coco-panoptic", type=Path, metavar="JSON",
                        help="the labels in --labels are COCO panoptic PNGs (segment id = R + 256 "
                             "G + 256^2 B) whose segments this JSON's segments_info names: class "
                             "id = category id; void (0) and crowd segments are not counted")
    group.add_argument("--coco-contiguous", action="store_true",
                        help="number COCO's categories 1..N in the order of their ids (the JSON "
                             "head's coco.classes records it)")


def _add_numbers_options(parser):
    group = parser.add_argument_group("the numbers")
    group.add_argument("--ignore-index", type=parse_ignore_index, metavar="N",
                        help="label id whose pixels are not counted at all, e.g. 255 (void); "
                             "a prediction of N on a counted pixel is still an error; 'none' "
                             "counts every id, also when the class names file declares one "
                             "(default: the class names file's 'ignore: N', else none)")
    group.add_argument("--zero-division", choices=ZERO_DIVISION_CHOICES,
                        help="value of an undefined ratio (0/0), as scikit-learn's zero_division; "
                             "nan leaves it undefined and out of the averages (default: 0, or "
                             "with --merge the reports' own)")
    group.add_argument("--class-names", metavar="NAME_OR_FILE",
                        help="class names: a preset (" + ", ".join(DATASETS)
                             + ") or a text file, line k naming id k, 'N: name' for any id "
                             f"(default: <labels>/{CLASS_NAMES_FILE} when it exists)")
    group.add_argument("--num-classes", type=int, metavar="N",
                        help="the class count other tools are given (mmsegmentation, torchmetrics, "
                             "detectron2, ...), for the table of what they would print (default: "
                             "0 up to the largest named id below the ignore index, void names "
                             "aside, else 1 + the largest id that occurs)")
    group.add_argument("--boundary", action="store_true",
                        help="also Boundary IoU per class and its mean (Cheng et al., CVPR 2021): "
                             "the IoU of the bands of each class's pixels within d of its edge in "
                             "label and inference")
    group.add_argument("--boundary-ratio", type=float, metavar="R",
                        help="the band's width d = R x the image's diagonal, at least 1 pixel; "
                             f"implies --boundary (default: {BOUNDARY_RATIO}, the paper's)")
    group.add_argument("--groups", metavar="NAME_OR_FILE",
                        help="also score groups of classes, each as one class against the rest (a "
                             "confusion inside a group is correct): a preset ("
                             + ", ".join(GROUP_PRESETS) + ") or a text file of lines 'name: id id "
                             "id'; groups may overlap")
    group.add_argument("--scores", action="store_true",
                        help="the inferences are score maps of one class against the rest: 8-bit "
                             "greyscale (value / 255, as KITTI road's), 16-bit (/ 65535) or .npy "
                             "arrays within [0, 1]; adds ROC AUC, AP and KITTI's MaxF, and "
                             "scores the maps at --threshold as class ids")
    group.add_argument("--threshold", type=float, metavar="T",
                        help="with --scores, a pixel scoring T or more is the positive class "
                             f"(default: {DEFAULT_THRESHOLD}); implies --scores")
    group.add_argument("--positive-class", type=int, metavar="N",
                        help="with --scores, the label id the maps score (default: 1); the other "
                             "ids are the rest")
    group.add_argument("--bootstrap", type=int, default=0, metavar="N",
                        help="confidence intervals of the combined numbers and of each class's "
                             f"IoU: resample the images N times, at least {MIN_RESAMPLES} (1000 is "
                             "a good value; default: off)")
    group.add_argument("--confidence", type=float, default=0.95, metavar="LEVEL",
                        help="the level of the intervals (default: 0.95)")
    group.add_argument("--seed", type=int, default=0, metavar="S",
                        help="the seed of the resampling, so that runs print the same intervals "
                        "(default: 0)")
    group.add_argument("--check-with-sklearn", action="store_true",
                        help="also count every pair's confusion matrix with scikit-learn's "
                             "confusion_matrix on the raw arrays and stop, exit 3, on any "
                             "difference: proof on your own data that every number comes from the "
                             "matrix scikit-learn defines (slower)")


def _add_distance_options(parser):
    group = parser.add_argument_group("boundary distances and the means over classes")
    group.add_argument("--distances", action="store_true",
                        help="also boundary distances of each class in each image (HD, HD95 as "
                             "MONAI and as MedPy, ASSD, MASD, NSD, boundary F1) and their means "
                             "over images; a class's boundary is its pixels with a 4-neighbour of "
                             "another id or off the image")
    group.add_argument("--spacing", type=parse_number, nargs=2, metavar=("SY", "SX"),
                        help="for --distances, the pixel size along rows and along columns, e.g. "
                             "in mm (default: 1 1, distances in pixels); implies --distances")
    group.add_argument("--tolerance", type=parse_number, metavar="T",
                        help="for NSD and the boundary F1, a boundary pixel within T of the other "
                             "boundary (in the spacing's unit) matches (default: 0.75%% of each "
                             "image's diagonal, MATLAB's); implies --distances")
    group.add_argument("--empty-distance", type=parse_number, metavar="D",
                        help="the distances of a class in one of label and inference only "
                             "(default: none, left out of the means; BraTS uses 373.13); implies "
                             "--distances")
    group.add_argument("--exclude-from-means", type=parse_ids, metavar="IDS",
                        help="ids left out of every mean over classes (mIoU, mDice, mAcc, the "
                             "macro and weighted averages, the distances' means), e.g. 0 for "
                             "background; still counted in the matrix and the pixel accuracy, "
                             "each with its row")


def _add_output_options(parser):
    group = parser.add_argument_group("the output")
    group.add_argument("--format", choices=("text", "json"), default="text",
                        help="text for people, json for other programs (default: text)")
    group.add_argument("--brief", action="store_true",
                        help="text: only the per-image summary and the combined section, headline "
                        "first")
    group.add_argument("--per-case", action="store_true",
                        help="text: also each class's numbers over the images where it occurs, "
                             "as medical imaging reports them: mean +- sd, median [q1, q3] (JSON "
                             "and the report folder always have them)")
    group.add_argument("--digits", type=int, default=4, metavar="N",
                        help="decimal places in the text report (default: 4)")
    group.add_argument("--output-dir", type=Path, metavar="DIR",
                        help="also write a report folder: report.json, summary.csv, classes.csv, "
                             "matrices/, a confusion-matrix heat map, overlays of the errors on "
                             "the camera pictures, and index.html to browse them (DIR may exist; "
                             "other files in it are left alone)")
    group.add_argument("--plots-per-image", action="store_true",
                        help="with --output-dir, also draw a heat map per image in plots/")
    group.add_argument("--quiet", action="store_true",
                        help="no progress bar and no notes on stderr; errors are still shown")


def _add_run_options(parser):
    group = parser.add_argument_group("other runs: models compared, shards, workers")
    group.add_argument("--compare", nargs="+", type=Path, metavar="REPORT.json",
                        help="compare models: BASELINE.json MODEL.json [MORE.json ...], JSON "
                             "reports (--format json, or a report folder's report.json) on the "
                             "same labels; paired bootstrap intervals of the differences "
                             "(--bootstrap resamples, default 1000); the options that read masks, "
                             "--brief, --num-classes and --plots-per-image are refused")
    group.add_argument("--merge", nargs="+", type=Path, metavar="REPORT.json",
                        help="rebuild the report from JSON reports written with --format json "
                             "(e.g. by --shard runs) without reading any mask; image ids must "
                             "not overlap; the options that read masks are refused")
    group.add_argument("--shard", type=parse_shard, metavar="K/N",
                        help="score only shard K of N: every N-th image id from the K-th, in id "
                             "order; merge the shards' JSON reports with --merge")
    group.add_argument("--jobs", type=int, metavar="N",
                        help="processes that decode and count masks (default: all cores when "
                             f"there are at least {PAIRS_PER_WORKER} pairs per core, else 1)")


class OptionParser(argparse.ArgumentParser):
    """The options' parser, whose usage error is one line (and where to read more), exit 2."""

    def error(self, message):
        say(f"error: {message}")
        raise SystemExit(2)


def build_parser(parser_class=OptionParser):
    parser = parser_class(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit status: 0 when every pair was scored; 1 when some files were refused (the "
               "rest are scored and reported, the errors listed on stderr or under \"errors\" in "
               "JSON), when --merge finds shards missing, or when stdout was closed early (the "
               "report folder is still finished); 2 on a usage error, when there is nothing to "
               "score, or when the report cannot be written; 3 when the report is written but the "
               "tool believes its numbers wrong (its warnings say why: ids of another scheme, "
               "0/255 against 0/1, score maps); 130 when interrupted (Ctrl-C), 143 when stopped "
               "(SIGTERM).")
    _add_reading_options(parser)
    _add_coco_options(parser)
    _add_numbers_options(parser)
    _add_distance_options(parser)
    _add_output_options(parser)
    _add_run_options(parser)
    return parser


# The options --merge and --compare refuse: they read no mask (nor draw one), and why each cannot
# apply.
NO_MASK_READ = "no mask is read, only the reports' counts"
NOT_WITH_REPORTS = (("labels", NO_MASK_READ), ("inferences", NO_MASK_READ),
                    ("recursive", NO_MASK_READ),
                    ("label_suffix", NO_MASK_READ), ("inference_suffix", NO_MASK_READ),
                    ("label_map", NO_MASK_READ), ("inference_map", NO_MASK_READ),
                    ("palette", NO_MASK_READ), ("valid_masks", NO_MASK_READ),
                    ("valid_suffix", NO_MASK_READ), ("label_encoding", NO_MASK_READ),
                    ("instances", NO_MASK_READ), ("instance_suffix", NO_MASK_READ),
                    ("instance_map", NO_MASK_READ), ("instance_sizes", NO_MASK_READ),
                    ("boundary",
                     "no mask is read; the reports' boundary counts are taken when they have them"),
                    ("boundary_ratio",
                     "no mask is read; the reports' boundary counts are taken when they have them"),
                    ("scores", "no mask is read; the reports' score tallies are taken when they "
                               "have them"),
                    ("jobs", NO_MASK_READ), ("shard",
                                             "no mask is read, so there is nothing to share out"),
                    ("images", "no overlay is drawn, as no mask is read"),
                    ("max_image_pixels", NO_MASK_READ), ("coco_annotations", NO_MASK_READ),
                    ("coco_panoptic", NO_MASK_READ), ("coco_contiguous", NO_MASK_READ),
                    ("check_with_sklearn", "no mask is read, so there is no pixel to count again"))
NOT_IN_A_COMPARISON = (("brief", "the comparison has one text form"),
                       ("per_case", "the comparison shows no per-case table"),
                       ("num_classes", "the comparison shows no other tool's numbers"),
                       ("plots_per_image", "the comparison draws no heat map"))


def refuse_options_that_cannot_apply(parser, options):
    """Raise UsageError naming the first option given (not left at its default) that --merge or
    --compare cannot use: taking it in silence would let a user believe it did something."""
    mode = "--compare" if options.compare else "--merge" if options.merge else None
    if mode is None:
        return
    # as parsed: --labels' default is a Path, as a given value is
    defaults = vars(parser.parse_args([]))
    refused = NOT_WITH_REPORTS + (NOT_IN_A_COMPARISON if mode == "--compare" else ())
    for dest, why in refused:
        if getattr(options, dest) != defaults[dest]:
            raise UsageError(f"--{dest.replace('_', '-')} does not apply to {mode}: {why}")


def _check_values(options):
    """Raise UsageError for an option's value that cannot be used, or options that do not go
    together (the rules' values are checked by given_rules)."""
    if not 0 <= options.digits <= MAX_DIGITS:
        raise UsageError(f"--digits must be within 0..{MAX_DIGITS}")
    if options.num_classes is not None and not 1 <= options.num_classes <= LABEL_SPACE:
        raise UsageError(f"--num-classes must be within 1..{LABEL_SPACE}")
    if not 0 <= options.bootstrap <= MAX_RESAMPLES:
        raise UsageError(f"--bootstrap must be within 0..{MAX_RESAMPLES}")
    if 0 < options.bootstrap < MIN_RESAMPLES:
        raise UsageError(f"--bootstrap {options.bootstrap}: give at least {MIN_RESAMPLES} "
                         "resamples (1000 is a good value), or 0 for none: an interval's ends are "
                         "percentiles of the resamples, which fewer cannot place")
    if not 0 < options.confidence < 1:
        raise UsageError("--confidence must be between 0 and 1, e.g. 0.95")
    if options.seed < 0:
        raise UsageError("--seed must be 0 or more")
    if options.spacing and not all(MIN_SPACING <= size <= 1 / MIN_SPACING
                                   for size in options.spacing):
        raise UsageError(f"--spacing {' '.join(f'{size:g}' for size in options.spacing)}: a "
                         "pixel's size must be above 0 along both axes, e.g. 0.8 0.8 (mm), "
                         f"within {MIN_SPACING:g}..{1 / MIN_SPACING:g}")
    for option, value in (("--tolerance", options.tolerance),
                          ("--empty-distance", options.empty_distance)):
        if value is not None and (value < 0 or value == 0 and option == "--tolerance"):
            raise UsageError(f"{option} {value:g}: it must be "
                             + ("above 0" if option == "--tolerance" else "0 or more"))
    if options.compare is not None and len(options.compare) < 2:
        raise UsageError("--compare takes a baseline report and at least one model's report")
    if options.compare and options.merge:
        raise UsageError("--compare and --merge are two different runs: merge the shards first")
    if options.brief and options.format != "text":
        raise UsageError("--brief shortens the text report; the JSON document is always whole")
    if options.per_case and options.format != "text":
        raise UsageError("--per-case adds a table to the text report; the JSON document always "
                         "has per_case")
    if options.jobs is not None and options.jobs < 1:
        raise UsageError("--jobs must be 1 or more")
    if options.check_with_sklearn and importlib.util.find_spec("sklearn") is None:
        raise UsageError("--check-with-sklearn needs scikit-learn: pip install scikit-learn")
    if options.max_image_pixels is not None and options.max_image_pixels < 1:
        raise UsageError("--max-image-pixels must be 1 or more")
    if options.output_dir is not None:
        _check_output_dir(options)
    elif options.plots_per_image:
        raise UsageError("--plots-per-image needs --output-dir")
    if options.valid_suffix and options.valid_masks is None:
        raise UsageError("--valid-suffix needs --valid-masks")
    for option, folder, suffix in (("--labels", options.labels, options.label_suffix),
                                   ("--inferences", options.inferences, options.inference_suffix)):
        if options.valid_masks is not None and _same_file(options.valid_masks, folder) \
                and options.valid_suffix == suffix:  # each mask would count where it is not 0
            raise UsageError(f"--valid-masks and {option} name one folder, {shown(folder)}, and "
                             "the same name ending: give the valid masks' ending with "
                             "--valid-suffix")


def _check_coco(options):
    """Raise UsageError for COCO options that cannot be used, or with options that cannot apply to
    COCO's labels."""
    coco = "--coco-annotations" if options.coco_annotations else "--coco-panoptic" \
        if options.coco_panoptic else None
    if options.coco_annotations and options.coco_panoptic:
        raise UsageError("--coco-annotations and --coco-panoptic are two sources of labels: give "
                         "one")
    if coco is None:
        if options.coco_contiguous:
            raise UsageError("--coco-contiguous numbers the categories of --coco-annotations or "
                             "--coco-panoptic")
        return
    if options.coco_annotations and importlib.util.find_spec("pycocotools") is None:
        raise UsageError("--coco-annotations draws the annotations with pycocotools: pip install "
                         "pycocotools")
    given = [option for option, value in (
        ("--scores", options.scores or options.threshold is not None),
        ("--label-encoding", options.label_encoding), ("--instances", options.instances),
        ("--labels", coco == "--coco-annotations" and options.labels != Path("labels")),
        ("--label-suffix", coco == "--coco-annotations" and options.label_suffix)) if value]
    if given:
        raise UsageError(f"{given[0]} does not apply to the labels of {coco}")
    if options.class_names == "coco-stuff":
        raise UsageError("--class-names coco-stuff names the ids of COCO-Stuff's stuffthingmaps "
                         f"PNGs (category id - 1); with {coco} the ids are the categories', named "
                         "by the file")


def _check_output_dir(options):
    """Raise UsageError when --output-dir cannot be written: a file, an input folder, or a folder
    whose own files would replace a report that --merge or --compare reads."""
    folder = options.output_dir
    inputs = [options.labels, options.inferences, options.images, options.valid_masks]
    problem = (output_dir_problem(folder, [] if options.merge or options.compare
                                  else [path for path in inputs if path is not None])
               or overwritten_input(folder, options.compare, "compare")
               or overwritten_input(folder, options.merge, "merge"))
    if problem:
        raise UsageError(f"--output-dir {shown(folder)}: {problem}")


def _read_option_files(options, reading_reports):
    """The class names, id maps and palette the options name (or the labels folder's class names
    file), read: ({option: what was read}, the option the names came from); raises UsageError."""
    names_source, names_option = options.class_names, "--class-names"
    # no labels folder: the Python API's arrays
    names_file = options.labels and options.labels / CLASS_NAMES_FILE
    if names_source is None and not reading_reports and names_file and _exists(names_file):
        names_source, names_option = names_file, shown(names_file)
    readers = ((names_option, read_class_names, names_source),
               ("--label-map", read_id_map, options.label_map),
               ("--inference-map", read_id_map, options.inference_map),
               ("--palette", read_palette, options.palette),
               ("--groups", read_groups, options.groups),
               ("--instance-map", read_id_map, options.instance_map),
               ("--instance-sizes", read_instance_sizes, options.instance_sizes))
    read = {}
    for option, reader, source in readers:
        try:
            read[option] = reader(source) if source is not None else None
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise UsageError(f"{option}: {error}") from None
    return read, names_option


def given_rules(options, names, reading_reports, groups=None):
    """{field of Scoring: value} of the rules the options gave, each checked by its Rule (raises
    UsageError). A field is given by the option of its name; names is (class names read, the ignore
    index they declare, the option or file they came from), or None. Scoring masks, the ignore
    index may come from the names and the input record from the options that read masks; with
    --merge or --compare, the reports' own. groups: --groups, read."""
    given = {field.name: getattr(options, field.name) for field in dataclasses.fields(Scoring)
             if getattr(options, field.name, None) is not None
             # a file, read: make_settings gives its sizes; a flag and the options it goes with
             and field.name not in ("instance_sizes", "distances")}
    if options.distances or options.spacing or options.tolerance is not None \
            or options.empty_distance is not None:
        given["distances"] = {"spacing": list(options.spacing or (1.0, 1.0)),
                              "tolerance": options.tolerance,
                              "empty_distance": options.empty_distance}
    if "ignore_index" in given:  # "none" given counts every id, also a declared one
        given.update(ignore_index=None if options.ignore_index == "none" else options.ignore_index,
                     ignore_index_from="--ignore-index")
    if "zero_division" in given:
        given["zero_division"] = ZERO_DIVISION_CHOICES[options.zero_division]
    if options.boundary:
        given.setdefault("boundary_ratio", BOUNDARY_RATIO)
    if options.scores:
        given.setdefault("threshold", DEFAULT_THRESHOLD)
    if "threshold" in given:
        given.setdefault("positive_class", 1)
    elif "positive_class" in given:
        raise UsageError("--positive-class is the class that --scores scores: give --scores")
    if "threshold" in given and given.get("ignore_index", None) in (0, 1):
        raise UsageError("--scores scores the positive class (1) against the rest (0): an ignore "
                         f"index of {given['ignore_index']} would be one of them; map it to "
                         "another id with --label-map")
    if names is not None:
        given["class_names"], declared, source = names
        if declared is not None and "ignore_index" not in given and not reading_reports:
            given.update(ignore_index=declared, ignore_index_from=source)
    if not reading_reports:  # as given; a folder (--valid-masks) as its text
        given["input"] = {key: (str(value) if isinstance(value, Path) else value)
                          or (False if key == "recursive" else None)
                          for key, value in ((key, getattr(options, key)) for key in INPUT_KEYS)}
    if groups is not None:
        given["groups"] = groups
        _check_groups(groups, given.get("ignore_index"), given.get("class_names"))
    for field in (field for field in dataclasses.fields(Scoring) if field.name in given):
        value = rule_of(field).json_of(given[field.name])
        if not rule_of(field).valid(value):
            raise UsageError(f"{option_of(field)} {_rule_said(value)} is not "
                             + rule_of(field).wanted.removeprefix("null or "))
    return given


def _check_groups(groups, ignore_index, class_names):
    """Raise UsageError for a group that names an id that is no class: the ignore index, or, when
    the classes are named, an id without a name."""
    for name, ids in groups.items():
        for class_id in ids:
            if class_id == ignore_index or class_names and class_id not in class_names:
                why = ("the ignore index" if class_id == ignore_index
                       else "no class of the class names")
                raise UsageError(f"--groups: group {name!r} names id {class_id}, which is {why}")


def make_settings(options):
    """The run's Settings from the parsed options; raises UsageError for a bad value."""
    _check_values(options)
    _check_coco(options)
    if options.coco_annotations:  # no labels folder, nor its class names file
        options = argparse.Namespace(**{**vars(options), "labels": None})
    reading_reports = bool(options.merge or options.compare)  # no mask is read
    read, names_option = _read_option_files(options, reading_reports)
    names = read[names_option] and (*read[names_option], f"--class-names {options.class_names}"
                                    if names_option == "--class-names" else names_option)
    given = given_rules(options, names, reading_reports, read["--groups"])
    if options.instances is not None:  # the sizes iIoU weighs instances by
        given["instance_sizes"] = read["--instance-sizes"] or dict(CITYSCAPES_INSTANCE_SIZES)
    elif options.instance_sizes is not None:
        raise UsageError("--instance-sizes weighs the instances of --instances: give --instances")
    dataset = next((source for source in (options.class_names, options.palette)
                    if source in DATASETS), None)
    settings = {name: getattr(options, name) for name in (
        "labels", "inferences", "images", "recursive", "label_suffix", "inference_suffix",
        "label_encoding", "valid_masks", "valid_suffix", "instances", "instance_suffix", "digits",
        "format", "brief", "per_case",
        "num_classes", "bootstrap", "confidence", "seed", "jobs", "quiet", "shard", "output_dir",
        "plots_per_image", "check_with_sklearn", "coco_panoptic", "coco_contiguous")}
    return Settings(
        **settings, scoring=Scoring(**given), given=given, dataset=dataset,
        coco_annotations=tuple(options.coco_annotations or ()),
        label_map=read["--label-map"], inference_map=read["--inference-map"],
        instance_map=read["--instance-map"],
        palette=read["--palette"], compare=tuple(options.compare or ()),
        merge=tuple(options.merge or ()),
        max_image_pixels=options.max_image_pixels or Image.MAX_IMAGE_PIXELS)


def output_dir_problem(folder, input_folders):
    """Why the report folder cannot be used, or None: it must not be a file, nor touch an input
    folder."""
    if folder.exists() and not folder.is_dir():
        return "is a file"
    resolved = folder.resolve()
    for input_folder in input_folders:
        source = input_folder.resolve()
        if resolved == source or source in resolved.parents or resolved in source.parents:
            return f"overlaps the input folder {shown(input_folder)}"
    return None


def overwritten_input(folder, reports, mode):
    """Why the report folder of --merge or --compare (mode) cannot be used, or None: it must not
    write over one of the reports it reads (a file of its own, or in a sub-folder of its own),
    however either is named (links, '..', another hard link)."""
    real_folder = Path(os.path.realpath(folder))
    own = [real_folder / name for name in FOLDER_FILES[mode]]
    subfolders = [real_folder / name for name in OUTPUT_SUBFOLDERS]
    for report in reports or ():
        path = report / "report.json" if mode == "compare" and _is_dir(report) else report
        real = Path(os.path.realpath(path))
        if real in own or any(subfolder in real.parents for subfolder in subfolders) or any(
                _same_file(path, file) for file in own):
            return (f"would write over the input report {shown(path)} (--{mode}); choose another "
                    "folder")
    return None


def _is_dir(path):
    try:
        return path.is_dir()
    except OSError:
        return False


def _exists(path):
    try:
        return path.exists()
    except OSError:  # a folder that cannot be searched: the listing will say so
        return False


def system_problem(error):
    """An OSError as one line: the file it names, and what the system said."""
    return f"{shown(error.filename)}: {error.strerror}" if error.filename else shown(str(error))


def fail(message):
    say(f"error: {message}")
    return 2


@contextlib.contextmanager
def sigterm_as_interrupt():
    """SIGTERM raises Terminated while the block runs (in the main thread; elsewhere it is left
    alone)."""
    def terminate(signal_number, frame):
        raise Terminated
    try:
        previous = signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def main(argv=None):
    reuse_freed_memory()
    for stream in (sys.stdout, sys.stderr):  # a console that cannot show a name shows it escaped
        with contextlib.suppress(AttributeError, ValueError, OSError):
            stream.reconfigure(errors="backslashreplace")
    with sigterm_as_interrupt():
        try:
            return run(argv)
        except KeyboardInterrupt:
            say("interrupted")
            return 130
        except Terminated:
            say("terminated")
            return 143


def run(argv):
    parser = build_parser()
    try:
        options = parser.parse_args(argv)
        refuse_options_that_cannot_apply(parser, options)
        settings = make_settings(options)
    except UsageError as error:
        parser.error(str(error))
    # a path the system refuses outright: too long, a folder that cannot be searched
    except OSError as error:
        return fail(system_problem(error))
    configure_pillow(settings.max_image_pixels)
    if sys.stdout is None:
        return fail("there is no standard output to write the report to")
    try:
        if settings.compare:
            return compare(settings)
        return merge(settings) if settings.merge else score(settings)
    except RunError as error:
        return fail(str(error))
    except CheckFailed as error:
        say(f"error: --check-with-sklearn: {error}")
        return NUMBERS_IN_DOUBT
    except OutputError as error:
        return fail(f"cannot write the report folder {shown(settings.output_dir)}/: {error}")
    except OSError as error:
        return fail(system_problem(error))


# ---------------------------------------------------------------- API

# The options an Evaluator has no use for (of files, folders, output and runs), and what it has
# instead.
FILES_ONLY = "it reads files; add() takes arrays of class ids"
NOT_IN_AN_EVALUATOR = {
    "labels": "add() takes the labels", "inferences": "add() takes the inferences",
    "recursive": FILES_ONLY, "label_suffix": FILES_ONLY, "inference_suffix": FILES_ONLY,
    "instance_suffix": FILES_ONLY, "images": FILES_ONLY, "max_image_pixels": FILES_ONLY,
    "palette": FILES_ONLY + " (turn colours into ids first)", "label_encoding": FILES_ONLY,
    "valid_masks": "give add() each image's valid mask: valid=", "valid_suffix": FILES_ONLY,
    "format": "report() is the JSON document, text() the text",
    "quiet": "an Evaluator prints nothing",
    "brief": "give it to text()", "per_case": "give it to text()", "digits": "give it to text()",
    "output_dir": "use write_folder(path)", "plots_per_image": "give it to write_folder()",
    "merge": "use Evaluator.merged()", "compare": "compare the reports with --compare",
    "shard": "each process adds its own images; merge the evaluators", "jobs": FILES_ONLY,
    "coco_annotations": FILES_ONLY, "coco_panoptic": FILES_ONLY, "coco_contiguous": FILES_ONLY}
# instances=True: add() takes each image's instance array (instances=), recorded so in the input
INSTANCES_GIVEN = "add(instances=)"
# an (H, W, 3) or (H, W, 4) array whose H and W are at least this is colours, not a batch
MIN_COLOUR_SIDE = 16


class UnknownOption(TypeError, ValueError):
    """An Evaluator option of no name the command line has (a TypeError, as for any unexpected
    keyword, and a ValueError, as for any option the Evaluator refuses)."""


class NumbersInDoubtWarning(UserWarning):
    """What the command line's exit status 3 says: the tool believes the report's numbers wrong as
    the ids stand (the warning says why)."""


class RaisingParser(OptionParser):
    """The options' parser of the Python API: a bad value raises UsageError, printing nothing."""

    def error(self, message):
        raise UsageError(message)


def api_message(text):
    """A message of the command line in the Python API's words: option --ignore-index is argument
    ignore_index, flag --scores is scores=True, and the reports merged are evaluators."""
    flags = {action.option_strings[0] for action in build_parser()._actions
             if action.nargs == 0 or action.dest == "instances"}
    text = text.replace("the reports were made", "the evaluators were made")
    return re.sub(r"(?:argument )?(--[a-z][a-z-]*)", lambda match: match[1][2:].replace(
        "-", "_") + ("=True" if match[1] in flags else ""), text)


def _option_text(flag, value):
    """A number, text or path as the command line's text of option flag; raises UsageError."""
    if isinstance(value, bool | np.bool_):
        raise UsageError(f"{flag} takes a value, not {value}")
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return repr(float(value))
    if isinstance(value, str | Path):
        return str(value)
    raise UsageError(f"{flag}: a {type(value).__name__} is not a value for it")


def _given_lines(name, value):
    """An option's file given as a list or dict (class_names, groups, instance_sizes): GivenLines in
    the file's form, read by the same reader; raises UsageError."""
    entries = dict(enumerate(value)) if isinstance(value, list | tuple) else value
    lines = []
    for key, entry in entries.items():
        if name == "groups":
            if not isinstance(key, str) or not isinstance(entry, list | tuple | set | np.ndarray
                                                          | range) or not all(
                    isinstance(class_id, int | np.integer) for class_id in entry):
                raise UsageError(f"--{name}: give {{name: [id, id, ...]}}, not {key!r}: {entry!r}")
            lines.append(f"{key}: {' '.join(str(int(class_id)) for class_id in entry)}")
            continue
        if not isinstance(key, int | np.integer) or isinstance(key, bool):
            raise UsageError(f"--{name}: {key!r} is not an id")
        if entry is None or entry == "":  # an id left unnamed
            continue
        if not isinstance(entry, str | int | float) or "\n" in str(entry):
            raise UsageError(f"--{name}: id {key}: {entry!r} is not a one-line value")
        lines.append(f"{int(key)}: {entry}")
    return GivenLines(f"the {type(value).__name__} given", tuple(lines))


def _argv_and_lines(options, parser):
    """The command line of an Evaluator's options, for parser, and those given as lists or dicts
    (GivenLines, by the option's name); raises UsageError, or UnknownOption."""
    actions = {action.dest: action for action in parser._actions if action.option_strings}
    argv, lines = [], {}
    for name, value in options.items():
        # None: as not given, the option's default (an ignore index of None counts every id, and
        # zero division has three values, none of them None)
        if value is None and name not in ("ignore_index", "zero_division"):
            continue
        if name not in actions or name == "help":
            import difflib  # only a misspelt option pays for the import
            close = difflib.get_close_matches(name, set(actions) - {"help"}, 1)
            raise UnknownOption(f"{name} is no option of an Evaluator"
                                + (f"; did you mean {close[0]}?" if close else ""))
        if name in NOT_IN_AN_EVALUATOR:
            raise UsageError(f"{name} does not apply to an Evaluator: "
                             f"{NOT_IN_AN_EVALUATOR[name]}")
        action, flag = actions[name], actions[name].option_strings[0]
        if name in ("class_names", "groups", "instance_sizes") and isinstance(value, list | tuple
                                                                             | dict):
            lines[name] = _given_lines(name, value)
        elif name == "instances":
            if value is not True and value is not False:
                raise UsageError("--instances is True when add() is given instance arrays")
            lines[name] = INSTANCES_GIVEN if value else None
        elif name == "exclude_from_means" and isinstance(value, list | tuple | set | range
                                                         | np.ndarray) and not len(value):
            continue  # no id left out, as without the option
        elif action.nargs == 0:  # a flag
            if not isinstance(value, bool | np.bool_):
                raise UsageError(f"{flag} is True or False, not {value!r}")
            argv += [flag] if value else []
        elif action.nargs == 2:  # --spacing
            values = list(value) if isinstance(value, list | tuple | np.ndarray) else [value]
            if len(values) != 2:
                raise UsageError(f"{flag} takes two values, (SY, SX)")
            argv += [flag, *(_option_text(flag, size) for size in values)]
        else:
            argv.append(f"{flag}={_typed_option_text(name, flag, value)}")
    return argv, lines


def _typed_option_text(name, flag, value):
    """The command line's text of an option whose Python values differ from its words: None for no
    ignore index, NaN for zero division, a list of ids, an id map as a dict."""
    if name == "ignore_index" and value is None:
        return "none"
    if name == "zero_division" and isinstance(value, float | int | np.number) \
            and not isinstance(value, bool):
        return "nan" if math.isnan(value) else f"{value:g}"
    if name == "exclude_from_means" and isinstance(value, list | tuple | set | range | np.ndarray):
        return ",".join(_option_text(flag, class_id) for class_id in sorted(value))
    if name.endswith("_map") and isinstance(value, dict):
        if not all(isinstance(target, int | np.integer) and (source == "*" or isinstance(
                source, int | np.integer) and source >= 0) for source, target in value.items()) \
                or not value:
            raise UsageError(f"{flag}: give {{from id: to id}} ('*' for every id not listed)")
        return ",".join(f"{source}:{int(target)}" for source, target in value.items())
    return _option_text(flag, value)


def evaluator_settings(options):
    """The Settings of an Evaluator's options, by the command line's parser and checks; raises
    ValueError (UsageError) naming the option as the Python API names it."""
    try:
        parser = build_parser(RaisingParser)
        argv, lines = _argv_and_lines(options, parser)
        parsed = parser.parse_args(argv)
        parsed.labels = parsed.inferences = parsed.images = None  # nothing read from a folder
        for name, value in lines.items():
            setattr(parsed, name, value)
        settings = make_settings(parsed)
    except UsageError as error:  # a list or dict given has entries where a file has lines
        raise UsageError(re.sub(r"(the (?:list|dict) given), line", r"\1, entry",
                                api_message(str(error)))) from None
    except OSError as error:  # a file an option names that cannot be read
        raise UsageError(api_message(system_problem(error))) from None
    return dataclasses.replace(settings, quiet=True)


def _batch_of(array, what):
    """An array (or anything numpy.asarray takes, a CPU tensor too) of one image (H, W) or a batch
    (N, H, W) as a batch; a channel axis of length 1 ((H, W, 1), (N, 1, H, W), (N, H, W, 1)) is
    dropped. Raises ValueError."""
    try:
        array = np.asarray(array)
    except (TypeError, ValueError, RuntimeError) as error:  # a GPU tensor, one that needs grad
        raise ValueError(f"{what}: not an array ({error})") from None
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{what}: an array of {array.dtype}; give an array of numbers")
    shape = array.shape
    if array.ndim in (3, 4) and shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 4 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim == 4 and array.dtype.kind == "f":
        raise ValueError(f"{what}: an array of {array.dtype} of shape {shape}, scores of each "
                         "class rather than class ids; take each pixel's class: argmax(1)")
    # (H, W, 3): an RGB picture, not a batch of images 3 pixels wide
    if array.ndim == 3 and shape[-1] in (3, 4) and min(shape[:2]) >= MIN_COLOUR_SIDE:
        raise ValueError(f"{what}: an array of shape {shape}, colours rather than class ids; give "
                         "one image's ids, (H, W), or a batch of them, (N, H, W)")
    if array.ndim not in (2, 3) or 0 in array.shape[-2:]:
        raise ValueError(f"{what}: an array of shape {shape}; give one image, (H, W), or a batch "
                         "of them, (N, H, W)")
    return array if array.ndim == 3 else array[np.newaxis]


def _as_ids(array, name, id_map, option):
    """An image's array as class ids through its id map (ids_of_array: a bool array is 0/1); raises
    MaskError."""
    if array.dtype.kind == "f":
        raise MaskError(f"{name}: an array of {array.dtype}"
                        + (" with NaN" if np.isnan(array).any() else "")
                        + ", not of class ids; take each pixel's class first (e.g. "
                        "logits.argmax(1)), or give a score map with scores=True")
    ids, _ = ids_of_array(array, name, None, _maps_wide(id_map))
    return mapped_ids(ids, id_map, name, option)


def _id_text(value):
    """An image id given to add() as text: text, a whole number (a 0-d array or tensor too), or a
    path, as the ids of files are (printable, below the folder: so that its report merges);
    raises ValueError."""
    value = value.item() if hasattr(value, "item") and np.ndim(value) == 0 else value
    if isinstance(value, bool) or not isinstance(value, str | int | Path) or value == "":
        raise ValueError(f"id: {value!r} is not an image id (text or a whole number)")
    return _check_id(str(value), "id")


def _compact(counts):
    """Counts kept for a report to come: ids and matrix in the smallest types that hold them."""
    matrix = counts.matrix
    return counts._replace(ids=counts.ids.astype(np.uint8), matrix=matrix.astype(
        np.min_scalar_type(int(matrix.max(initial=0)))))


def _full(counts):
    """Counts kept by _compact as counting made them."""
    return counts._replace(ids=counts.ids.astype(np.intp), matrix=counts.matrix.astype(np.int64))


def _digits(digits):
    """The decimal places of a text or folder report; raises ValueError."""
    if isinstance(digits, bool) or not isinstance(digits, int | np.integer) \
            or not 0 <= digits <= MAX_DIGITS:
        raise ValueError(f"digits must be a whole number within 0..{MAX_DIGITS}")
    return int(digits)


class Evaluator:
    """Scores arrays in memory as the command line scores mask files, with the same options (by
    name: ignore_index=255, class_names="cityscapes", ...), the same checks and the same reports.

    It keeps each image's tally (its confusion matrix over the ids that occur, and what the
    options add), never its pixels; evaluators of parts of a data set merge into the evaluator of
    the whole (Evaluator.merged, +).
    """

    def __init__(self, **options):
        self._settings = evaluator_settings(options)
        self._images = []  # (id, whether add() was given it, the image's Counts, compact)
        self._ids = set()
        self._number = 1  # the first number an image added without an id may take

    def __len__(self):
        return len(self._images)

    def __repr__(self):
        return f"<Evaluator of {plural(len(self), 'image')}>"

    def add(self, label, inference, id=None, valid=None, instances=None):
        """Add an image, label and inference (H, W), or a batch of them (N, H, W): integer class
        ids (with scores=True, the inference is a score map within [0, 1]). id: the image's id
        (a list of N for a batch; default: its number). valid: the pixels to count, those that are
        not 0 (one (H, W) mask serves a whole batch). instances: with instances=True, the instance
        values. Raises ValueError, adding no image of the batch."""
        labels, inferences = _batch_of(label, "label"), _batch_of(inference, "inference")
        if labels.shape != inferences.shape:
            raise ValueError(f"label has shape {np.shape(label)} but inference "
                             f"{np.shape(inference)}: sizes differ")
        companions = []
        for given, name in ((valid, "valid"), (instances, "instances")):
            part = None if given is None else _batch_of(given, name)
            if part is not None and name == "valid" and len(part) == 1 \
                    and part.shape[1:] == labels.shape[1:]:
                part = np.broadcast_to(part, labels.shape)
            if part is not None and part.shape != labels.shape:
                raise ValueError(f"{name} has shape {np.shape(given)} but label "
                                 f"{np.shape(label)}: sizes differ")
            companions.append(part)
        if (instances is not None) != (self._settings.scoring.instance_sizes is not None):
            raise ValueError("instances: give add() instance arrays when the Evaluator is made "
                             "with instances=True, and only then")
        keys = self._new_ids(id, len(labels))
        try:
            tallies = [_compact(self._tally(key, labels[index], inferences[index],
                                            *(part if part is None else part[index]
                                              for part in companions)))
                       for index, key in enumerate(keys)]
        except MaskError as error:
            raise ValueError(api_message(str(error))) from None
        if valid is not None:
            self._record_input(valid_masks="add(valid=)")
        self._take([(key, id is not None, counts) for key, counts in zip(keys, tallies)])
        return self

    def _take(self, images):
        self._images += images
        self._ids.update(key for key, *_ in images)
        numbered = [int(key) for key, given, _ in images if not given]
        self._number = max([self._number - 1, *numbered]) + 1

    def _record_input(self, **read):
        """Note in the scoring record how the masks were read (as --valid-masks is noted)."""
        scoring = self._settings.scoring
        self._settings = dataclasses.replace(self._settings, scoring=dataclasses.replace(
            scoring, input={**scoring.input, **read}))

    def _new_ids(self, given, count):
        """The ids of count images to add: given (an id, or one for each image), or the first
        numbers not taken; raises ValueError."""
        if given is None:
            numbers = (str(number) for number in itertools.count(self._number))
            return list(itertools.islice((key for key in numbers if key not in self._ids), count))
        single = isinstance(given, str | Path) or np.ndim(given) == 0
        keys = [_id_text(key) for key in ([given] if single else list(given))]
        if len(keys) != count:
            raise ValueError(f"id: {plural(len(keys), 'id')} for {plural(count, 'image')}")
        again = next((key for key in keys if key in self._ids), None)
        if again is not None:
            raise ValueError(f"id: image {again!r} was added before; each image is added once")
        if len(set(keys)) < len(keys):
            twice = next(key for key in keys if keys.count(key) > 1)
            raise ValueError(f"id: {twice!r} is given to two images of the batch")
        return keys

    def _tally(self, key, label, inference, valid, instances):
        """One image's Counts, as score_pair counts a pair read from files; raises MaskError."""
        settings, scoring = self._settings, self._settings.scoring
        names = [f"image {key}: {what}" for what in ("label", "inference", "instances")]
        label = _as_ids(label, names[0], settings.label_map, "--label-map")
        counted = None if valid is None else valid != 0
        if instances is not None:
            instances = instances_of_array(instances, names[2])
        tally = None
        if scoring.threshold is None:
            inference = _as_ids(inference, names[1], settings.inference_map, "--inference-map")
        else:
            codes, levels = scores_of_array(inference, names[1])
            counted = _counted(label, counted, scoring.ignore_index)
            label, inference, tally = thresholded(label == scoring.positive_class, counted, codes,
                                                  levels, scoring.threshold)
        counts = tally_pair(label, inference, counted, scoring, tally, instances,
                            settings.instance_map)
        if settings.check_with_sklearn:
            check_with_sklearn(names[0], names[1], label, inference, counts, scoring.ignore_index,
                               counted)
        return counts

    @classmethod
    def merged(cls, evaluators):
        """One Evaluator of the images of evaluators made with the same options: its report is
        that of one evaluator given every image (their tallies add up exactly). Their scoring
        records are joined as --merge joins reports' (class names id by id); the intervals' options
        and num_classes are the first's. Ids given to add() must differ across them; images added
        without an id are numbered anew. Raises ValueError."""
        evaluators = list(evaluators)
        if not evaluators or not all(isinstance(other, Evaluator) for other in evaluators):
            raise TypeError("Evaluator.merged takes a list of Evaluators")
        if len({id(other) for other in evaluators}) < len(evaluators):
            raise ValueError("an evaluator is given twice: its images would count twice")
        heads = [json_head(other._settings) for other in evaluators]
        if any(head["input"].get("valid_masks") for head in heads):  # some images had them
            heads = [{**head, "input": {**head["input"], "valid_masks": "add(valid=)"}}
                     for head in heads]
        try:
            scoring, _ = join_records([(f"evaluator {number}", head)
                                       for number, head in enumerate(heads, start=1)], {},
                                      "merged")
        except RunError as error:
            raise ValueError(api_message(str(error))) from None
        whole = cls.__new__(cls)
        whole._settings = dataclasses.replace(evaluators[0]._settings, scoring=scoring)
        whole._images, whole._ids, whole._number = [], set(), 1
        given = [image for other in evaluators for image in other._images if image[1]]
        keys = [key for key, *_ in given]
        if len(set(keys)) < len(keys):
            twice = next(key for key in keys if keys.count(key) > 1)
            raise ValueError(f"image {twice!r} is in more than one evaluator; merged evaluators "
                             "hold different images")
        whole._take(given)
        numbered = [counts for other in evaluators for _, given, counts in other._images
                    if not given]
        whole._take([(key, False, counts)
                      for key, counts in zip(whole._new_ids(None, len(numbered)), numbered)])
        return whole

    def __add__(self, other):
        return Evaluator.merged([self, other]) if isinstance(other, Evaluator) else NotImplemented

    def __radd__(self, other):  # sum(evaluators) starts from 0
        return Evaluator.merged([self]) if other == 0 else NotImplemented

    def _report(self, sinks, settings):
        """The images' results to the sinks, then the combined report; a NumbersInDoubtWarning
        for each reason to believe the numbers wrong."""
        for sink in sinks:
            sink.begin()
        for doubt in report_to(sinks, self._results(settings.scoring), [], settings):
            warnings.warn(api_message(doubt), NumbersInDoubtWarning, stacklevel=3)

    def _results(self, scoring):
        """Each image's Result, in id order, its report made from its tally (as --merge makes
        them)."""
        for key, _, counts in sorted(self._images, key=lambda image: id_order(image[0])):
            counts = _full(counts)
            yield Result(shown(key), None, image_report(shown(key), None, None, counts, scoring),
                         None, counts)

    def report(self):
        """The report as --format json writes it: a dict of the same keys and numbers."""
        document = io.StringIO()
        self._report([JsonSink(document, self._settings)], self._settings)
        return json.loads(document.getvalue())

    def text(self, brief=False, per_case=False, digits=4):
        """The report as the command line prints it (with --brief, --per-case, --digits)."""
        settings = dataclasses.replace(self._settings, brief=bool(brief), per_case=bool(per_case),
                                       digits=_digits(digits))
        document = io.StringIO()
        self._report([TextSink(document, settings)], settings)
        return document.getvalue()

    def write_folder(self, path, plots_per_image=False, digits=4):
        """Write the report folder of --output-dir at path (as --merge writes it: no overlays, as no
        pixel is kept); returns its Path. Raises ValueError for a path that is a file, OSError when
        the folder cannot be written."""
        folder = Path(path)
        problem = output_dir_problem(folder, [])
        if problem:
            raise ValueError(f"{shown(folder)}: {problem}")
        settings = dataclasses.replace(self._settings, output_dir=folder, digits=_digits(digits),
                                       plots_per_image=bool(plots_per_image))
        try:
            with FolderSink(settings, merged=True) as sink:
                self._report([sink], settings)
        except OutputError as error:
            raise OSError(f"cannot write the report folder {shown(folder)}/: {error}") from None
        return folder

if __name__ == "__main__":
    raise SystemExit(main())
