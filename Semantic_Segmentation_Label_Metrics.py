"""Confusion matrices and classification reports for semantic-segmentation masks.

Reads every ground-truth mask in labels/ with the model output of the same file
name in inferences/ (each pixel value 0..255 is a class id) and prints, for each
image and for all images combined, the confusion matrix and a classification
report (precision, recall, F1, IoU, support, accuracy, averages).

    python Semantic_Segmentation_Label_Metrics.py
    python Semantic_Segmentation_Label_Metrics.py --ignore-index 255
    python Semantic_Segmentation_Label_Metrics.py --labels gt --inferences pred --format json > report.json
    python Semantic_Segmentation_Label_Metrics.py --ignore-index 255 --output-dir report

Conventions: matrix[i][j] = pixels labelled i and predicted j (rows = label,
columns = inference, as in scikit-learn). The numbers are identical to
sklearn.metrics.confusion_matrix and precision_recall_fscore_support on the raw
pixel arrays (with pixels labelled --ignore-index removed).
"""

import argparse
import contextlib
import csv
import functools
import html
import json
import math
import os
import re
import signal
import struct
import sys
import urllib.parse
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

LABEL_SPACE = 256  # every 8-bit value is a possible class id; nothing is declared
METRICS = ("precision", "recall", "f1_score", "iou")
ZERO_DIVISION_CHOICES = {"0": 0.0, "1": 1.0, "nan": math.nan}  # scikit-learn's zero_division
CLASS_NAMES_FILE = "class_names.txt"  # used when found in the labels folder and --class-names is absent
# Formats that store pixel values losslessly, so they can hold class ids, and those that do not.
# (PGM and PBM are not among them: Pillow rescales their samples and inverts PBM's bits.)
MASK_FORMATS = {"PNG", "BMP", "TIFF", "GIF"}
LOSSY_FORMATS = {"JPEG", "MPO", "WEBP", "JPEG2000", "AVIF", "HEIF"}
# Files with these suffixes are treated as masks (and refused if they are not); others are passed over.
MASK_SUFFIXES = {".png", ".bmp", ".tif", ".tiff", ".gif", ".pgm", ".pbm", ".pnm", ".ppm",
                 ".jpg", ".jpeg", ".jpe", ".jp2", ".webp", ".avif", ".heic"}
MAX_DIGITS = 17  # a float64 holds about 17 significant digits; more would show noise
MAX_RUNS_PER_PIXEL = 1 / 8  # above this, runs are too short for run-length counting to pay
WRONG_COLOUR = (255, 40, 40)  # overlay: a wrong pixel; dimmed pixels never reach this red
IGNORED_COLOUR = (150, 175, 215)  # overlay: a pixel whose label is the ignore index; not a grey
THUMBNAIL_WIDTH = 480  # pixels; the page shows them at half that, sharp on high-density screens
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")  # camera pictures
PAIRS_PER_WORKER = 8  # starting a worker process costs about as much as scoring a few pairs
PROGRESS_DELAY_SECONDS = 1.0  # a run shorter than this never shows a progress bar
# Pillow's raw modes for greyscale samples of fewer than 8 bits, which it scales to 0..255.
LOW_BIT_RAWMODES = {"1": 1, "L;2": 2, "L;4": 4}
# What Pillow raises, besides OSError, while decoding a damaged file.
PILLOW_DECODING_ERRORS = (SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError,
                          struct.error, zlib.error, MemoryError)

_CITYSCAPES = ("road", "sidewalk", "building", "wall", "fence", "pole", "traffic light",
               "traffic sign", "vegetation", "terrain", "sky", "person", "rider", "car",
               "truck", "bus", "train", "motorcycle", "bicycle")
_PASCAL_VOC = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car",
               "cat", "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person",
               "pottedplant", "sheep", "sofa", "train", "tvmonitor")
# Built-in --class-names presets; both datasets mark unlabelled pixels with 255.
CLASS_NAME_PRESETS = {
    "cityscapes": {**dict(enumerate(_CITYSCAPES)), 255: "void"},  # the 19 train ids
    "pascal-voc": {**dict(enumerate(_PASCAL_VOC)), 255: "void"},
}


class MaskError(Exception):
    """A mask file that cannot be used; the message names the file and the reason."""

    def __init__(self, message, path=None):
        super().__init__(message)
        self.path = path  # the file at fault, when it is one file of the pair


# ---------------------------------------------------------------- reading

def shown(path):
    """A file name as one line of printable text: undecodable bytes as \\xNN, control characters escaped."""
    text = str(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
                   for char in text)


def natural_key(text):
    """Sort key that orders 'img2' before 'img10'."""
    return [int(part) if part.isascii() and part.isdigit() else part
            for part in re.split(r"([0-9]+)", text)]


def _greyscale_bits(image):
    """Bits per greyscale sample (from the raw mode Pillow decodes with); 8 for palette images."""
    args = image.tile[0][3] if image.tile else None
    rawmode = args if isinstance(args, str) else args[0] if args and isinstance(args[0], str) else ""
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
            return MaskError(f"{shown(path)}: mode RGB holds colours, not class ids; its three channels "
                             "are equal, so it is a greyscale mask saved as RGB: save "
                             "Image.open(path).convert('L') as the mask", path)
    hint = ("drop the alpha channel if the grey values are the ids" if image.mode in ("LA", "La", "PA")
            else "save the class ids as an 8-bit greyscale or palette PNG, mapping each colour "
                 "to its id (a colour-coded mask needs its dataset's colour-to-id map)")
    return MaskError(f"{shown(path)}: mode {image.mode} holds colours, not class ids; {hint}", path)


def read_mask(path):
    """The class ids of a mask file and the bits of its greyscale samples: (2-D uint8 array, bits).

    Palette images give their palette indices, which are the class ids; converting
    them through their colours would silently give wrong numbers (bits is 8 for
    them). Greyscale samples of 1, 2 or 4 bits are read as stored (a 4-bit 3 is
    id 3), where Pillow scales them to 0..255 for display. 16- and 32-bit
    greyscale is accepted when every value is within 0..255. Raises MaskError for
    anything else.
    """
    name = shown(path)
    try:
        with warnings.catch_warnings():
            # Above Pillow's decompression-bomb limit it only warns up to twice the limit: refuse all.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return _decode_mask(image, path)
    except MaskError:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise MaskError(f"{name}: more pixels than the decompression-bomb limit of "
                        f"{Image.MAX_IMAGE_PIXELS}; if the file is genuine, raise the limit with "
                        "--max-image-pixels", path) from None
    except UnidentifiedImageError:
        raise MaskError(f"{name}: not a readable image (corrupt, or not an image at all)", path) from None
    except OSError as error:
        if error.filename is not None or isinstance(error, PermissionError):
            raise MaskError(f"{name}: cannot read the file ({error.strerror or error})", path) from None
        raise MaskError(f"{name}: truncated or corrupt image ({error})", path) from None
    except PILLOW_DECODING_ERRORS as error:
        raise MaskError(f"{name}: truncated or corrupt image ({type(error).__name__}: {error})",
                        path) from None


def _decode_mask(image, path):
    name = shown(path)
    if image.format in LOSSY_FORMATS or image.info.get("compression") in ("jpeg", "tiff_jpeg"):
        raise MaskError(f"{name}: {image.format} compression is or can be lossy, and then the pixel "
                        "values are not the class ids that were saved; save masks as PNG", path)
    if image.format not in MASK_FORMATS:
        raise MaskError(f"{name}: {image.format} is not a mask format (expected PNG, or lossless "
                        "TIFF, BMP or GIF)", path)
    if getattr(image, "n_frames", 1) > 1:
        raise MaskError(f"{name}: holds {image.n_frames} frames (pages or animation); a mask is "
                        "a single image", path)
    if image.format == "TIFF" and image.tag_v2.get(262) == 0:  # PhotometricInterpretation
        raise MaskError(f"{name}: min-is-white TIFF, whose values Pillow inverts; save masks as "
                        "PNG", path)
    mode, bits = image.mode, _greyscale_bits(image)
    if mode == "1":  # Pillow keeps 1-bit pixels as 0/255 bytes
        return np.asarray(image.convert("L")) // 255, 1
    if mode == "P":
        return np.asarray(image), 8
    if mode == "L":
        ids = np.asarray(image)
        if bits < 8:  # undo Pillow's scaling of 2- and 4-bit samples to 0..255
            ids = ids // (255 // ((1 << bits) - 1))
        return ids, bits
    if mode == "I" or mode.startswith("I;16"):
        values = np.asarray(image)
        lowest, highest = int(values.min(initial=0)), int(values.max(initial=0))
        if lowest < 0 or highest > LABEL_SPACE - 1:
            found = f"largest value {highest}" if highest > LABEL_SPACE - 1 else f"smallest value {lowest}"
            raise MaskError(f"{name}: {bits}-bit greyscale with {found}; class ids must be within "
                            "0..255", path)
        return values.astype(np.uint8), bits
    if mode == "F":
        raise MaskError(f"{name}: mode F holds floating-point values, not class ids; "
                        "save the class ids as an 8-bit greyscale PNG", path)
    raise _refuse_colours(image, path)


def read_class_names(source):
    """Class names from a preset name or a text file, as {id: name}; raises ValueError.

    In the file, line k (from 0) names id k; a blank line leaves that id unnamed;
    a line 'N: name' names id N wherever it stands. An id named twice is an error.
    """
    if source in CLASS_NAME_PRESETS:
        return dict(CLASS_NAME_PRESETS[source])
    try:
        text = Path(source).read_text(encoding="utf-8-sig")  # -sig: files saved with a byte-order mark
    except UnicodeDecodeError as error:
        raise ValueError(f"{shown(source)}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    names, named_on = {}, {}
    for line_number, line in enumerate(re.split(r"\r?\n", text.removesuffix("\n")), start=1):
        explicit = re.fullmatch(r"\s*(-?[0-9]+)\s*:\s*(.*?)\s*", line)
        class_id, name = (int(explicit[1]), explicit[2]) if explicit else (line_number - 1, line.strip())
        if not name:
            continue
        if not 0 <= class_id < LABEL_SPACE:
            raise ValueError(f"{shown(source)}, line {line_number}: id {class_id} is outside 0..255")
        if class_id in names:
            raise ValueError(f"{shown(source)}, line {line_number}: id {class_id} was already named "
                             f"on line {named_on[class_id]}")
        names[class_id], named_on[class_id] = name, line_number
    return names


# ---------------------------------------------------------------- numbers

def count_matrix(label, inference, ignore_index=None):
    """256x256 int64 confusion matrix: [i, j] = pixels labelled i and predicted j.

    Pixels whose label is ignore_index are not counted at all. A pixel's cell is
    its code (label << 8) | inference; the codes are counted run by run where
    the masks are piecewise constant, else pixel by pixel with np.bincount.
    """
    if label.shape != inference.shape:
        raise ValueError(f"label is {label.shape[1]}x{label.shape[0]}, "
                         f"inference is {inference.shape[1]}x{inference.shape[0]}")
    label, inference = label.ravel(), inference.ravel()
    # Masks are piecewise constant: where the pixels form few runs of one (label,
    # inference) pair, count each run's code weighted by its length, which is
    # several times faster than a code per pixel and gives the same counts.
    change = label[1:] != label[:-1]
    change |= inference[1:] != inference[:-1]
    run_starts = np.flatnonzero(change)
    if label.size and run_starts.size < MAX_RUNS_PER_PIXEL * label.size:
        run_starts += 1
        run_starts = np.concatenate(([0], run_starts))
        lengths = np.diff(run_starts, append=label.size)
        codes = label[run_starts].astype(np.intp) << 8 | inference[run_starts]
        counts = np.zeros(LABEL_SPACE * LABEL_SPACE, dtype=np.int64)
        np.add.at(counts, codes, lengths)  # integer sums: exact, and no 64K-bin float histogram
    else:
        codes = label.astype(np.uint16)
        codes <<= 8
        codes |= inference
        counts = np.bincount(codes, minlength=LABEL_SPACE * LABEL_SPACE).astype(np.int64, copy=False)
    matrix = counts.reshape(LABEL_SPACE, LABEL_SPACE)
    if ignore_index is not None:
        matrix[ignore_index, :] = 0  # same as removing those pixels before counting
    return matrix


def _divide(numerator, denominator, zero_division):
    """numerator / denominator per class; 0/0 becomes zero_division (scikit-learn's rule)."""
    result = np.full(len(numerator), zero_division, dtype=np.float64)
    defined = denominator != 0
    result[defined] = numerator[defined] / denominator[defined]
    return result


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
    if weights[defined].sum() == 0:  # e.g. no labelled class predicted: scikit-learn takes the plain mean
        return float(np.mean(values[defined]))
    return float(np.average(values[defined], weights=weights[defined]))


def _number(value):
    """A float for JSON and display, or None where the value is undefined."""
    return None if math.isnan(value) else float(value)


def compute_report(matrix, zero_division=0.0, ignore_index=None, class_names=None):
    """Classification report of a 256x256 confusion matrix, as a JSON-ready dict.

    Undefined values are None. Only classes that occur (in the label or the
    inference) get a row and enter the averages; ignore_index never gets a row.
    """
    class_names = class_names or {}
    label_counts = matrix.sum(axis=1)  # support: pixels of the class in the label
    inference_counts = matrix.sum(axis=0)  # pixels predicted as the class
    occurring = np.flatnonzero((label_counts > 0) | (inference_counts > 0))
    classes = occurring[occurring != ignore_index] if ignore_index is not None else occurring

    tp = np.diag(matrix)[classes]  # TP: pixels of the class predicted as the class
    fp = inference_counts[classes] - tp  # FP: pixels predicted as the class that are something else
    fn = label_counts[classes] - tp  # FN: pixels of the class predicted as something else
    support = label_counts[classes]
    scores = {
        "precision": _divide(tp, tp + fp, zero_division),
        "recall": _divide(tp, tp + fn, zero_division),
        "f1_score": _divide(2 * tp, 2 * tp + fp + fn, zero_division),
        "iou": _divide(tp, tp + fp + fn, zero_division),
    }

    report_classes = {}
    for index, class_id in enumerate(classes.tolist()):
        in_label, in_inference = support[index] > 0, inference_counts[class_id] > 0
        report_classes[str(class_id)] = {
            "name": class_names.get(class_id),
            **{metric: _number(scores[metric][index]) for metric in METRICS},
            "support": int(support[index]),
            "occurs_in": "both" if in_label and in_inference else "label" if in_label else "inference",
        }
    unexpected_ids = {}
    if class_names:
        for class_id in occurring.tolist():
            if class_id not in class_names:
                pixels = label_counts[class_id] + inference_counts[class_id] - matrix[class_id, class_id]
                unexpected_ids[str(class_id)] = int(pixels)

    pixels = int(label_counts.sum())
    macro = {metric: _number(_macro_average(scores[metric])) for metric in METRICS}
    return {
        "pixels": pixels,
        "confusion_matrix": {
            "labels": occurring.tolist(),
            "matrix": matrix[np.ix_(occurring, occurring)].tolist(),
        },
        "classes": report_classes,
        "unexpected_ids": unexpected_ids,
        "accuracy": _number(np.trace(matrix) / pixels) if pixels else None,
        "macro_avg": macro,
        "weighted_avg": {metric: _number(_weighted_average(scores[metric], support))
                         for metric in METRICS},
        "mean_iou": macro["iou"],
    }


def matrix_from_report(report):
    """The 256x256 matrix back from a report's compact confusion_matrix."""
    matrix = np.zeros((LABEL_SPACE, LABEL_SPACE), dtype=np.int64)
    labels = report["confusion_matrix"]["labels"]
    if labels:
        matrix[np.ix_(labels, labels)] = report["confusion_matrix"]["matrix"]
    return matrix


def worst_class(report):
    """(id, entry) of the class in the label with the lowest IoU, or None when there is none.

    Only when no labelled class has an IoU does a class found only in the
    inference count: naming a hallucinated class as the image's worst would hide
    the labelled class the model missed.
    """
    defined = [(entry["support"] == 0, entry["iou"], int(class_id), entry)
               for class_id, entry in report["classes"].items() if entry["iou"] is not None]
    if not defined:
        return None
    *_, class_id, entry = min(defined, key=lambda item: item[:3])
    return class_id, entry


# ---------------------------------------------------------------- text output

def _value(value, digits, width):
    text = "undefined" if value is None else f"{value:.{digits}f}"
    return text.rjust(width)


def _class_title(class_id, name):
    return f"{class_id:>3} {name}" if name else f"{class_id:>3}"


def format_matrix(report, class_names):
    """The confusion matrix over the occurring ids as aligned text."""
    labels = report["confusion_matrix"]["labels"]
    rows = report["confusion_matrix"]["matrix"]
    if not labels:
        return "Confusion matrix: no pixels counted."
    titles = [_class_title(class_id, class_names.get(class_id)) for class_id in labels]
    title_width = max(len("label \\ inference"), *map(len, titles))
    width = max(len(str(value)) for row in rows for value in row + labels) + 2
    lines = ["Confusion matrix (rows = label, columns = inference, in pixels)",
             "label \\ inference".ljust(title_width) + "".join(str(i).rjust(width) for i in labels)]
    for title, row in zip(titles, rows):
        lines.append(title.ljust(title_width) + "".join(str(value).rjust(width) for value in row))
    return "\n".join(lines)


def _occurrence_note(entry, zero_division):
    as_shown = {0.0: "shown as 0", 1.0: "shown as 1"}.get(zero_division, "undefined")
    if entry["occurs_in"] == "label":
        return f"label only: never predicted, precision is 0/0, {as_shown}"
    if entry["occurs_in"] == "inference":
        return f"inference only: no support, recall is 0/0, {as_shown}"
    return ""


def format_report(report, digits=4, zero_division=0.0):
    """The classification report as aligned text."""
    if not report["classes"]:
        return "Classification report: no pixels counted, every metric is undefined."
    names = [_class_title(class_id, entry["name"]) for class_id, entry in report["classes"].items()]
    name_width = max(len("weighted avg"), *map(len, names))
    width = max(len("precision"), digits + 3)
    support_width = max(len("support"), len(str(report["pixels"])))
    header = ("class".ljust(name_width) + "".join(m.rjust(width + 2) for m in
              ("precision", "recall", "f1_score", "IoU")) + "support".rjust(support_width + 2))
    lines = ["Classification report", header]
    for name, entry in zip(names, report["classes"].values()):
        line = (name.ljust(name_width)
                + "".join(_value(entry[m], digits, width + 2) for m in METRICS)
                + str(entry["support"]).rjust(support_width + 2))
        note = _occurrence_note(entry, zero_division)
        lines.append(line + ("  " + note if note else ""))
    lines.append("")
    for title, key in (("macro avg", "macro_avg"), ("weighted avg", "weighted_avg")):
        lines.append(title.ljust(name_width)
                     + "".join(_value(report[key][m], digits, width + 2) for m in METRICS)
                     + str(report["pixels"]).rjust(support_width + 2))
    if any(entry[m] is None for entry in report["classes"].values() for m in METRICS):
        lines.append("(undefined values, 0/0 with --zero-division nan, are left out of both averages)")
    lines.append("")
    correct = sum(report["confusion_matrix"]["matrix"][k][k]
                  for k in range(len(report["confusion_matrix"]["labels"])))
    lines.append(f"pixel accuracy: {_value(report['accuracy'], digits, 0)}"
                 f" ({correct} of {report['pixels']} pixels correct)")
    lines.append(f"mean IoU: {_value(report['mean_iou'], digits, 0)}"
                 f" (macro avg of IoU over {len(report['classes'])} classes)")
    if report["unexpected_ids"]:
        lines.append(unexpected_note(report))
    return "\n".join(lines)


def unexpected_note(report):
    listed = ", ".join(f"{class_id} ({pixels} pixels)" for class_id, pixels in report["unexpected_ids"].items())
    return f"unexpected ids (no class name; wrong file or mapping?): {listed}"


def void_note(report, ignore_index):
    """A hint when id 255 is labelled, never predicted and still counted: it is usually void."""
    void = report["classes"].get("255")
    if ignore_index is None and void and void["occurs_in"] == "label":
        return ("note: id 255 is in the labels but never predicted; if it marks pixels to leave out "
                "(void), run again with --ignore-index 255")
    return None


def summary_row(report):
    """What the per-image summary shows of a report: kept for every image, so it stays small."""
    worst = worst_class(report)
    return {"id": report["id"], "pixels": report["pixels"], "accuracy": report["accuracy"],
            "mean_iou": report["mean_iou"], "macro_f1": report["macro_avg"]["f1_score"],
            "worst_class": worst and {"id": worst[0], "name": worst[1]["name"], "iou": worst[1]["iou"]}}


def format_summary(rows, digits=4):
    """One line per image: id, pixels, accuracy, mean IoU, worst class; the lowest mean IoU marked."""
    id_width = max(len("image"), *(len(row["id"]) for row in rows))
    pixel_width = max(len("pixels"), *(len(str(row["pixels"])) for row in rows))
    width = max(len("mean IoU"), digits + 3)
    scored = [(row["mean_iou"], index) for index, row in enumerate(rows) if row["mean_iou"] is not None]
    lowest = min(scored)[1] if len(scored) > 1 else None
    lines = ["Per-image summary",
             "image".ljust(id_width) + "pixels".rjust(pixel_width + 2) + "accuracy".rjust(width + 2)
             + "mean IoU".rjust(width + 2) + "  worst class (IoU)"]
    for index, row in enumerate(rows):
        worst = row["worst_class"]
        worst_text = (f"{_class_title(worst['id'], worst['name'])} ({worst['iou']:.{digits}f})"
                      if worst else "-")
        lines.append(row["id"].ljust(id_width) + str(row["pixels"]).rjust(pixel_width + 2)
                     + _value(row["accuracy"], digits, width + 2)
                     + _value(row["mean_iou"], digits, width + 2)
                     + "  " + worst_text + ("  <- lowest mean IoU" if index == lowest else ""))
    return "\n".join(lines)


def format_image_section(image, class_names, digits=4, zero_division=0.0, ignore_index=None):
    """One image's heading, confusion matrix and classification report."""
    heading = (f"=== {image['id']}: {image['label']} vs {image['inference']}, "
               f"{image['pixels']} pixels counted ===")
    if image["pixels"] == 0:
        heading += f"\nevery label pixel is the ignore index {ignore_index}: nothing to score"
    return "\n\n".join([heading, format_matrix(image, class_names),
                         format_report(image, digits, zero_division)])


def format_combined_section(combined, class_names, digits=4, zero_division=0.0, ignore_index=None,
                            skipped_ids=()):
    """The combined heading, matrix, report and both means, clearly told apart."""
    heading = (f"=== combined: {combined['images']} image{'' if combined['images'] == 1 else 's'}, "
               f"{combined['pixels']} pixels counted ===")
    if skipped_ids:
        heading += (f"\n{len(skipped_ids)} skipped because of errors (listed at the end): "
                    + ", ".join(skipped_ids))
    lines = [
        heading,
        format_matrix(combined, class_names),
        format_report(combined, digits, zero_division),
        f"mean IoU, pooled over all pixels (from the combined matrix; what benchmarks such as "
        f"Cityscapes report): {_value(combined['mean_iou'], digits, 0)}\n"
        f"mean over images of each image's mean IoU: "
        f"{_value(combined['mean_image_mean_iou'], digits, 0)}",
    ]
    if void_note(combined, ignore_index):
        lines.append(void_note(combined, ignore_index))
    return "\n\n".join(lines)


# ---------------------------------------------------------------- pictures and the report folder

@functools.lru_cache(maxsize=None)
def class_colours():
    """256 distinct RGB colours, one per id: the Pascal VOC colour map, which any id can index."""
    colours = np.zeros((LABEL_SPACE, 3), dtype=np.uint8)
    for class_id in range(LABEL_SPACE):
        bits = class_id
        for shift in range(7, -1, -1):  # the id's bits, three at a time, fill the channels from the top
            for channel in range(3):
                colours[class_id, channel] |= ((bits >> channel) & 1) << shift
            bits >>= 3
    return colours


def draw_overlay(label, inference, picture=None, ignore_index=None):
    """The model's errors painted on the camera picture (or on the label's colours), as an RGB array.

    Correct pixels are the picture in dimmed grey (or the label's class colours at
    half brightness); wrong ones are WRONG_COLOUR, which no dimmed pixel can be;
    ignored ones IGNORED_COLOUR.
    """
    if picture is None:
        overlay = class_colours()[label] // 2
    else:  # seven tenths of the picture's brightness: at most 178
        grey = np.asarray(picture.convert("L"), dtype=np.uint16) * 7 // 10
        overlay = np.repeat(grey.astype(np.uint8)[..., None], 3, axis=2)
    ignored = label == ignore_index if ignore_index is not None else np.zeros(label.shape, bool)
    overlay[(label != inference) & ~ignored] = WRONG_COLOUR
    overlay[ignored] = IGNORED_COLOUR
    return overlay


def find_picture(images_dir, image_id, size):
    """The camera picture of an image id as an RGB Image, or (None, why not)."""
    for suffix in PICTURE_SUFFIXES:
        path = images_dir / f"{image_id}{suffix}"
        if path.is_file():
            try:
                with Image.open(path) as picture:
                    if picture.size != size:
                        return None, f"{shown(path)} is {picture.size[0]}x{picture.size[1]}, not {size[0]}x{size[1]}"
                    return picture.convert("RGB"), None
            except (OSError, *PILLOW_DECODING_ERRORS) as error:
                return None, f"{shown(path)}: cannot read ({error})"
    return None, f"no {image_id}.* in {shown(images_dir)}"


@contextlib.contextmanager
def _replacing(path):
    """A temporary path beside path, renamed to path when the block ends without an error,
    so that an interrupted run never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_open(path, newline=None):
    """A text file that appears at path, whole, only when the with-block ends without an error."""
    with _replacing(path) as temporary, open(temporary, "w", encoding="utf-8", newline=newline) as file:
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


def draw_pictures(image_id, label, inference, output, ignore_index):
    """Overlay and thumbnail of one image in the report folder; returns a note when the picture is missing."""
    picture, missing = find_picture(output["images"], image_id, label.shape[::-1])
    overlay = Image.fromarray(draw_overlay(label, inference, picture, ignore_index))
    save_image(overlay, output["dir"] / "overlays" / f"{image_id}.png")
    height = max(1, round(overlay.height * THUMBNAIL_WIDTH / overlay.width))
    save_image(overlay.resize((THUMBNAIL_WIDTH, height), Image.Resampling.BOX),
               output["dir"] / "thumbnails" / f"{image_id}.jpg", quality=85)
    return missing


def plot_confusion_matrix(report, class_names, path, title):
    """Heat map of a report's matrix, each row normalised to the label's pixels (so the diagonal is recall)."""
    import matplotlib  # only a run that draws pays for matplotlib and scikit-learn's display
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    from sklearn.metrics import ConfusionMatrixDisplay

    labels = report["confusion_matrix"]["labels"]
    if not labels:
        figure, axes = plt.subplots(figsize=(5, 2), dpi=100)
        axes.axis("off")
        axes.text(0.5, 0.5, f"{title}\nno pixels counted", ha="center", va="center")
        write_atomically(path, lambda temporary: figure.savefig(temporary, format="png"))
        plt.close(figure)
        return
    counts = np.array(report["confusion_matrix"]["matrix"], dtype=np.int64)
    row_sums = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, row_sums, out=np.zeros(counts.shape), where=row_sums > 0)
    names = [_class_title(class_id, class_names.get(class_id)).strip() for class_id in labels]
    side = 2.5 + 0.42 * max(len(labels), 4)
    figure, axes = plt.subplots(figsize=(side + 1.5, side), dpi=100)
    display = ConfusionMatrixDisplay(shares, display_labels=names)
    display.plot(ax=axes, cmap="Blues", values_format=".0%", xticks_rotation=90, colorbar=True,
                 im_kw={"vmin": 0, "vmax": 1}, text_kw={"fontsize": 8})
    display.im_.colorbar.ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    for (row, column), text in np.ndenumerate(display.text_):
        if counts[row, column] == 0:
            text.set_text("")  # an empty cell reads faster than a 0%
        elif shares[row, column] < 0.005:
            text.set_text("<1%")
            text.set_color("#8a96a3")  # present, but not worth the eye's attention
    axes.set_xlabel("inference (predicted class)")
    axes.set_ylabel("label (true class)")
    axes.set_title(title, fontsize=10)
    figure.tight_layout()
    write_atomically(path, lambda temporary: figure.savefig(temporary, format="png"))
    plt.close(figure)


def _csv_number(value):
    return "" if value is None else repr(value)


def matrix_rows(report):
    """The confusion matrix as CSV rows, with a header row and a header column of ids."""
    labels = report["confusion_matrix"]["labels"]
    return ([["label \\ inference", *labels]]
            + [[class_id, *row] for class_id, row in zip(labels, report["confusion_matrix"]["matrix"])])


def class_rows(image_id, report):
    """One CSV row per class of a report."""
    return [[image_id, class_id, entry["name"] or "", *(_csv_number(entry[m]) for m in METRICS),
             entry["support"], entry["occurs_in"]] for class_id, entry in report["classes"].items()]


CLASS_COLUMNS = ["id", "class_id", "name", "precision", "recall", "f1_score", "iou", "support", "occurs_in"]
SUMMARY_COLUMNS = ["id", "pixels", "accuracy", "mean_iou", "macro_f1", "worst_class_id",
                   "worst_class_name", "worst_class_iou"]


def summary_csv_row(row):
    worst = row["worst_class"] or {"id": "", "name": "", "iou": None}
    return [row["id"], row["pixels"], _csv_number(row["accuracy"]), _csv_number(row["mean_iou"]),
            _csv_number(row["macro_f1"]), worst["id"], worst["name"] or "", _csv_number(worst["iou"])]


def write_csv(path, rows):
    with atomic_open(path, newline="") as file:
        csv.writer(file).writerows(rows)


# ---------------------------------------------------------------- the page

PAGE_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2733;
       margin: 0; background: #f4f6f8; }
main { max-width: 1320px; margin: 0 auto; padding: 20px 28px 48px; }
h1 { font-size: 22px; margin: 8px 0 2px; } h2 { font-size: 17px; margin: 28px 0 10px; }
.meta { color: #5b6876; margin: 0 0 14px; }
.card { background: #fff; border: 1px solid #dde3e9; border-radius: 8px; padding: 16px 18px; }
.heatmap-card { text-align: center; }
.heatmap-card img.heatmap { max-width: 1100px; }
.headline { display: flex; flex-wrap: wrap; gap: 10px; margin: 0 0 14px; }
.figure { background: #fff; border: 1px solid #dde3e9; border-radius: 8px; padding: 8px 14px; }
.figure b { display: block; font-size: 21px; font-variant-numeric: tabular-nums; }
.figure span { color: #5b6876; font-size: 12px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 8px; border-bottom: 1px solid #e6ebf0; text-align: right; vertical-align: middle; }
th { background: #eef2f6; font-weight: 600; position: sticky; top: 0; }
td.text, th.text { text-align: left; white-space: nowrap; }
tr.total td { font-weight: 600; background: #f8fafc; }
.note { color: #8a5a00; font-size: 12px; margin: 6px 0; }
.undefined { color: #98a2ad; }
img.heatmap { width: 100%; height: auto; }
img.thumb { width: 240px; height: auto; display: block; border-radius: 4px; background: #ddd; }
.legend span { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin: 0 4px -1px 12px; }
.errors li { font-family: ui-monospace, monospace; font-size: 12px; }
a { color: #1f5fa8; }
"""


def _cell(value, digits):
    if value is None:
        return '<td class="undefined">undefined</td>'
    return f"<td>{value:.{digits}f}</td>"


def html_class_table(report, digits, zero_division):
    """The classification report as an HTML table (class rows, then the averages), with its notes."""
    rows = ['<table><tr><th class="text">class</th><th>precision</th><th>recall</th><th>f1_score</th>'
            '<th>IoU</th><th>support</th><th class="text"></th></tr>']
    for class_id, entry in report["classes"].items():
        rows.append(f'<tr><td class="text">{html.escape(_class_title(int(class_id), entry["name"]).strip())}</td>'
                    + "".join(_cell(entry[m], digits) for m in METRICS) + f'<td>{entry["support"]}</td>'
                    f'<td class="text note">{_occurrence_note(entry, zero_division)}</td></tr>')
    for title, key in (("macro avg", "macro_avg"), ("weighted avg", "weighted_avg")):
        rows.append(f'<tr class="total"><td class="text">{title}</td>'
                    + "".join(_cell(report[key][m], digits) for m in METRICS)
                    + f'<td>{report["pixels"]}</td><td></td></tr>')
    notes = [unexpected_note(report)] if report["unexpected_ids"] else []
    return ("\n".join(rows) + "</table>"
            + "".join(f'<p class="note">{html.escape(note)}</p>' for note in notes))


def html_matrix_table(report, class_names):
    labels = report["confusion_matrix"]["labels"]
    rows = ['<table><tr><th class="text">label \\ inference</th>'
            + "".join(f"<th>{class_id}</th>" for class_id in labels) + "</tr>"]
    for class_id, row in zip(labels, report["confusion_matrix"]["matrix"]):
        rows.append(f'<tr><td class="text">{html.escape(_class_title(class_id, class_names.get(class_id)).strip())}</td>'
                    + "".join(f"<td>{count}</td>" for count in row) + "</tr>")
    return "\n".join(rows) + "</table>"


def _figure(value, caption, digits):
    shown_value = "undefined" if value is None else f"{value:.{digits}f}"
    return f'<div class="figure"><b>{shown_value}</b><span>{html.escape(caption)}</span></div>'


def _page(title, body):
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{PAGE_STYLE}</style></head>\n"
            f"<body><main>\n{body}\n</main></body></html>\n")


LEGEND = ('<p class="legend">Overlays:<span style="background:rgb(%d,%d,%d)"></span>wrong pixel'
          '<span style="background:rgb(%d,%d,%d)"></span>ignored (the label is the ignore index)'
          '<span style="background:#6f7780"></span>correct: the camera picture in dimmed grey, or '
          "the label's class colours at half brightness where there is no picture</p>"
          % (*WRONG_COLOUR, *IGNORED_COLOUR))


def image_page(report, head, class_names, digits, has_overlay):
    """reports/<id>.html: one image's overlay, numbers, report and matrix."""
    image_id = report["id"]
    link = urllib.parse.quote(image_id)
    overlay = (f'<p><a href="../overlays/{link}.png"><img class="heatmap" src="../overlays/{link}.png" '
               f'alt="errors of {html.escape(image_id)}"></a></p>{LEGEND}' if has_overlay else "")
    zero_division = ZERO_DIVISION_CHOICES[str(head["zero_division"])]
    body = (f'<p><a href="../index.html">&larr; all images</a></p><h1>{html.escape(image_id)}</h1>'
            f'<p class="meta">{html.escape(report["label"])} vs {html.escape(report["inference"])}, '
            f'{report["pixels"]} pixels counted &middot; <a href="../matrices/{link}.csv">matrix as CSV</a></p>'
            + '<div class="headline">' + _figure(report["accuracy"], "pixel accuracy", digits)
            + _figure(report["mean_iou"], "mean IoU", digits)
            + _figure(report["macro_avg"]["f1_score"], "macro F1", digits) + "</div>" + overlay
            + f'<h2>Classification report</h2><div class="card">{html_class_table(report, digits, zero_division)}'
            + '</div><h2>Confusion matrix (rows = label, columns = inference, pixels)</h2>'
            + f'<div class="card" style="overflow-x:auto">{html_matrix_table(report, class_names)}</div>')
    return _page(f"{image_id}: segmentation report", body)


def index_page(head, combined, rows, errors, class_names, digits, has_overlays):
    """index.html: the combined report and heat map, then every image, worst mean IoU first."""
    worst_first = sorted(rows, key=lambda row: (row["mean_iou"] is None, row["mean_iou"] or 0.0,
                                                natural_key(row["id"])))
    lines = []
    for rank, row in enumerate(worst_first, start=1):
        link = urllib.parse.quote(row["id"])
        worst = row["worst_class"]
        worst_text = (f'{html.escape(_class_title(worst["id"], worst["name"]).strip())} '
                      f'({worst["iou"]:.{digits}f})' if worst else "-")
        thumbnail = (f'<td><a href="overlays/{link}.png"><img class="thumb" loading="lazy" '
                     f'src="thumbnails/{link}.jpg" alt="errors of {html.escape(row["id"])}"></a></td>'
                     if has_overlays else "")
        lines.append(f'<tr><td>{rank}</td><td class="text"><a href="reports/{link}.html">'
                     f'{html.escape(row["id"])}</a></td><td>{row["pixels"]}</td>'
                     + _cell(row["accuracy"], digits) + _cell(row["mean_iou"], digits)
                     + _cell(row["macro_f1"], digits) + f'<td class="text">{worst_text}</td>{thumbnail}</tr>')
    ignore_index = head["ignore_index"]
    notes = [note for note in (void_note(combined, ignore_index),) if note]
    error_list = ("<h2>Refused files</h2><ul class=\"errors\">"
                  + "".join(f"<li>{html.escape(message)}</li>" for _, _, message in errors) + "</ul>"
                  if errors else "")
    body = (f'<h1>Segmentation report</h1><p class="meta">{combined["images"]} images, {combined["pixels"]} '
            f'pixels counted &middot; ignore index {"none" if ignore_index is None else ignore_index} &middot; '
            f'zero division {head["zero_division"]} &middot; <a href="report.json">report.json</a>, '
            '<a href="summary.csv">summary.csv</a>, <a href="classes.csv">classes.csv</a>, '
            '<a href="matrices/combined.csv">matrices/combined.csv</a></p>'
            + "".join(f'<p class="note">{html.escape(note)}</p>' for note in notes)
            + '<div class="headline">'
            + _figure(combined["mean_iou"], "mean IoU, pooled over all pixels", digits)
            + _figure(combined["mean_image_mean_iou"], "mean over images of each image's mean IoU", digits)
            + _figure(combined["accuracy"], "pixel accuracy", digits)
            + _figure(combined["macro_avg"]["f1_score"], "macro F1", digits) + "</div>"
            + '<div class="card heatmap-card"><a href="confusion_matrix.png"><img class="heatmap" '
            'src="confusion_matrix.png" alt="confusion matrix of all images, normalised per label row">'
            '</a></div><h2>Classification report, all images</h2>'
            f'<div class="card">{html_class_table(combined, digits, ZERO_DIVISION_CHOICES[str(head["zero_division"])])}</div>'
            f'<h2>Images, worst mean IoU first</h2>{LEGEND if has_overlays else ""}'
            '<div class="card"><table class="images"><tr><th>#</th><th class="text">image</th><th>pixels</th>'
            '<th>accuracy</th><th>mean IoU</th><th>macro F1</th><th class="text">worst class (IoU)</th>'
            + ('<th class="text">errors on the picture</th>' if has_overlays else "")
            + "</tr>\n" + "\n".join(lines) + "</table></div>" + error_list)
    return _page("Segmentation report", body)


# ---------------------------------------------------------------- the run

def list_masks(folder):
    """Mask files of a folder by id (file name without suffix); returns (masks, errors, passed_over).

    Hidden files, sub-folders and the class names file are passed over silently;
    other files whose suffix is not an image's are returned in passed_over. Two
    files with the same id, or a mask name on something that is not a file (a
    named pipe), are errors for that id.
    """
    masks, errors, passed_over = {}, [], []
    for path in sorted(folder.iterdir(), key=lambda path: natural_key(path.name)):
        if path.name.startswith(".") or path.name == CLASS_NAMES_FILE or path.is_dir():
            continue
        image_id = shown(path.stem)
        if path.suffix.lower() not in MASK_SUFFIXES:
            passed_over.append(path)
        elif not path.is_file() and path.exists():  # reading a pipe or a device would hang
            errors.append((image_id, shown(path), f"{shown(path)}: not a regular file"))
        elif image_id in masks:
            errors.append((image_id, shown(path),
                           f"{shown(masks[image_id])} and {shown(path)}: two masks for one id"))
        else:
            masks[image_id] = path
    for image_id, _, _ in errors:
        masks.pop(image_id, None)
    return masks, errors, passed_over


def find_pairs(labels_dir, inferences_dir):
    """Pair label and inference files by id; returns (pairs, errors, passed_over).

    pairs: [(id, label_path, inference_path)] in natural order of the ids;
    errors: [(id, path, message)] for files that cannot be paired.
    """
    labels, errors, passed_over = list_masks(labels_dir)
    inferences, inference_errors, inference_passed_over = list_masks(inferences_dir)
    errors += inference_errors
    refused = {image_id for image_id, _, _ in errors}
    pairs = []
    for image_id in sorted((labels.keys() | inferences.keys()) - refused, key=natural_key):
        if image_id not in inferences:
            label = shown(labels[image_id])
            errors.append((image_id, label,
                           f"{label}: no inference of that name in {shown(inferences_dir)}"))
        elif image_id not in labels:
            inference = shown(inferences[image_id])
            errors.append((image_id, inference,
                           f"{inference}: no label of that name in {shown(labels_dir)}"))
        else:
            pairs.append((image_id, labels[image_id], inferences[image_id]))
    return pairs, errors, passed_over + inference_passed_over


def read_pair(label_path, inference_path):
    """The class ids of a label and its inference, checked to fit together; raises MaskError."""
    (label, label_bits), (inference, inference_bits) = read_mask(label_path), read_mask(inference_path)
    if label.shape != inference.shape:
        raise MaskError(f"{shown(label_path)} is {label.shape[1]}x{label.shape[0]} but "
                        f"{shown(inference_path)} is {inference.shape[1]}x{inference.shape[0]}: "
                        "sizes differ")
    _check_bit_depths(label_path, label, label_bits, inference_path, inference, inference_bits)
    return label, inference



def _check_bit_depths(label_path, label, label_bits, inference_path, inference, inference_bits):
    """Refuse a pair whose greyscale bit depths disagree in a way that changes the ids.

    A 1-bit 0/1 mask next to an 8-bit 0/255 one is the typical case: every pixel
    would count as an error. Ids that fit in both depths are unambiguous and pass.
    """
    if min(label_bits, inference_bits) >= 8 or label_bits == inference_bits:
        return
    low = (label_path, label_bits) if label_bits < inference_bits else (inference_path, inference_bits)
    high_path, high_ids = (inference_path, inference) if low[0] == label_path else (label_path, label)
    largest = int(high_ids.max(initial=0))
    if largest > (1 << low[1]) - 1:
        raise MaskError(f"{shown(low[0])} stores {low[1]}-bit samples (ids 0..{(1 << low[1]) - 1}) "
                        f"but {shown(high_path)} has ids up to {largest}: the two files disagree in "
                        "bit depth; save both masks with the same ids and bit depth")


def score_pair(pair, zero_division=0.0, ignore_index=None, class_names=None, output=None):
    """Score one (id, label_path, inference_path) pair: (id, path, report, error, picture note).

    report is None and error a message when the pair is refused (path is the file
    at fault). With output (the report folder's settings), the overlay, thumbnail
    and maybe a heat map are drawn here, where the masks are at hand; the note
    says why an overlay had no camera picture.
    """
    image_id, label_path, inference_path = pair
    try:
        label, inference = read_pair(label_path, inference_path)
        report = image_report(image_id, label_path, inference_path,
                              count_matrix(label, inference, ignore_index), zero_division,
                              ignore_index, class_names)
    except MaskError as error:
        return image_id, shown(error.path or label_path), None, str(error), None
    except Exception as error:  # a bug of ours must still name the file and spare the other pairs
        return image_id, shown(label_path), None, (
            f"{shown(label_path)}, {shown(inference_path)}: internal error "
            f"({type(error).__name__}: {error})"), None
    # A report folder that cannot be written stops the run (OutputError): it is no fault of the masks,
    # and dropping their pair would change the numbers.
    note = None
    if output is not None:
        with _drawing(image_id):
            note = draw_pictures(image_id, label, inference, output, ignore_index)
            if output["plots"]:
                draw_image_plot(report, class_names, output["dir"])
    return image_id, shown(label_path), report, None, note


class OutputError(Exception):
    """The report folder cannot be written; the message names the file or image."""


@contextlib.contextmanager
def _drawing(image_id):
    """Turn any failure to draw or write an image's pictures into an OutputError naming it."""
    try:
        yield
    except OSError as error:
        raise OutputError(str(error)) from None
    except Exception as error:
        raise OutputError(f"{image_id}: drawing its pictures failed ({type(error).__name__}: {error})") from None


def draw_image_plot(report, class_names, folder):
    plot_confusion_matrix(report, class_names, folder / "plots" / f"{report['id']}.png",
                          f"{report['id']}: share of each label's pixels")


def _start_worker(max_image_pixels):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle, once
    Image.MAX_IMAGE_PIXELS = max_image_pixels


def score_pairs(pairs, jobs=1, **options):
    """score_pair of every pair, yielded in the order of pairs, decoded in `jobs` processes."""
    score = functools.partial(score_pair, **options)
    if jobs <= 1 or len(pairs) <= 1:
        yield from map(score, pairs)
        return
    import multiprocessing  # only a run with workers pays for the import
    jobs = min(jobs, len(pairs))
    # Pairs go to the workers in chunks: fewer round trips, but each worker keeps some work in hand.
    chunk = max(1, min(16, len(pairs) // (4 * jobs)))
    with multiprocessing.Pool(jobs, _start_worker, (Image.MAX_IMAGE_PIXELS,)) as pool:
        yield from pool.imap(score, pairs, chunksize=chunk)


def default_jobs(pair_count):
    """All cores when there are enough pairs to pay for starting the workers, else 1."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cores if pair_count >= PAIRS_PER_WORKER * cores else 1


def image_report(image_id, label_path, inference_path, matrix, zero_division=0.0,
                 ignore_index=None, class_names=None):
    """The report of one image, with its id and files first."""
    return {"id": image_id, "label": shown(label_path), "inference": shown(inference_path),
            **compute_report(matrix, zero_division, ignore_index, class_names)}


def combined_report(total, summary_rows, zero_division=0.0, ignore_index=None, class_names=None):
    """The report of the summed matrix, with the image count and the mean of per-image mean IoUs."""
    return {"images": len(summary_rows),
            **compute_report(total, zero_division, ignore_index, class_names),
            "mean_image_mean_iou": _number(_macro_average(np.array(
                [math.nan if row["mean_iou"] is None else row["mean_iou"] for row in summary_rows])))}


def read_reports(paths):
    """Image reports and errors of JSON reports (from --format json), for --merge; raises ValueError.

    Returns (images, errors, ignore_index, zero_division, class_names);
    zero_division is the reports' as an option value, or None when they differ.
    An image id in two reports, or an id named differently, is an error.
    """
    images, errors, ignore_indexes, zero_divisions, source, names = [], [], set(), set(), {}, {}
    if len(set(paths)) < len(paths):
        raise ValueError("a report is given twice")
    for path in paths:
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
            ignore_indexes.add(document["ignore_index"])
            zero_divisions.add(str(document["zero_division"]))
            if not zero_divisions <= ZERO_DIVISION_CHOICES.keys():
                raise ValueError(f"zero_division is {document['zero_division']!r}")
            if document["label_space"] != LABEL_SPACE:
                raise ValueError(f"label_space is {document['label_space']}, not {LABEL_SPACE}")
            shard_errors = [(e["id"], e["path"], e["error"]) for e in document["errors"]]
            for class_id, name in document["class_names"].items():
                if not (class_id.isdigit() and int(class_id) < LABEL_SPACE and isinstance(name, str)):
                    raise ValueError(f"class name {class_id!r}: {name!r}")
                if names.setdefault(int(class_id), name) != name:
                    raise ValueError(f"id {class_id} is named {name!r} here, {names[int(class_id)]!r} before")
            for image in document["images"]:
                _check_image_report(image)
            for image_id in [image["id"] for image in document["images"]] + [e[0] for e in shard_errors]:
                if image_id in source:
                    raise ValueError(f"image {image_id} is also in {source[image_id]}; "
                                     "shards must not overlap")
                source[image_id] = path
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{shown(path)}: cannot read the report ({error})") from None
        except (KeyError, TypeError, IndexError, ValueError) as error:
            raise ValueError(f"{shown(path)}: not a report written by --format json ({error})") from None
        images += document["images"]
        errors += shard_errors
    if len(ignore_indexes) > 1:
        raise ValueError("the reports were made with different --ignore-index values: "
                         + ", ".join(map(str, sorted(ignore_indexes, key=str))))
    return (images, errors, ignore_indexes.pop(), zero_divisions.pop() if len(zero_divisions) == 1 else None,
            names)


def _check_image_report(image):
    """Raise ValueError unless an image of a JSON report has what --merge needs, well formed."""
    if not all(isinstance(image.get(key), str) for key in ("id", "label", "inference")):
        raise ValueError("an image without a text id, label or inference")
    labels, rows = image["confusion_matrix"]["labels"], image["confusion_matrix"]["matrix"]
    if not (all(type(value) is int and 0 <= value < LABEL_SPACE for value in labels)
            and labels == sorted(set(labels))):
        raise ValueError(f"image {image['id']}: the matrix labels are not ascending ids within 0..255")
    if not (len(rows) == len(labels) and all(len(row) == len(labels) for row in rows)
            and all(type(count) is int and 0 <= count < 2**62 for row in rows for count in row)):
        raise ValueError(f"image {image['id']}: the matrix is not a square of pixel counts")


def merged_results(images, zero_division=0.0, ignore_index=None, class_names=None):
    """Rescore the images of merged reports from their matrices, as score_pairs would yield them."""
    for image in sorted(images, key=lambda image: natural_key(image["id"])):
        report = image_report(image["id"], image["label"], image["inference"],
                              matrix_from_report(image), zero_division, ignore_index, class_names)
        yield image["id"], image["label"], report, None, None


def parse_shard(text):
    """'K/N' -> (K, N), with 1 <= K <= N."""
    match = re.fullmatch(r"(\d+)/(\d+)", text)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise argparse.ArgumentTypeError(f"{text!r} is not K/N with 1 <= K <= N")
    return int(match[1]), int(match[2])


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit status: 0 when every pair was scored; 1 when some files were refused (the rest "
               "are scored and reported, the errors listed on stderr or under \"errors\" in JSON); "
               "2 on a usage error, when there is nothing to score, or when the report cannot be "
               "written; 130 when interrupted.")
    parser.add_argument("--labels", default="labels", type=Path, metavar="DIR",
                        help="folder of ground-truth masks (default: labels)")
    parser.add_argument("--inferences", default="inferences", type=Path, metavar="DIR",
                        help="folder of model outputs with the same file names (default: inferences)")
    parser.add_argument("--ignore-index", type=int, metavar="N",
                        help="label id whose pixels are not counted at all, e.g. 255 (void); "
                             "a prediction of N on a counted pixel is still an error")
    parser.add_argument("--zero-division", choices=ZERO_DIVISION_CHOICES,
                        help="value of an undefined ratio (0/0), as scikit-learn's zero_division; "
                             "nan leaves it undefined and out of the averages (default: 0, or "
                             "with --merge the reports' own)")
    parser.add_argument("--digits", type=int, default=4, metavar="N",
                        help="decimal places in the text report (default: 4)")
    parser.add_argument("--class-names", metavar="NAME_OR_FILE",
                        help="class names: a preset (" + ", ".join(CLASS_NAME_PRESETS)
                             + ") or a text file, line k naming id k, 'N: name' for any id "
                             f"(default: <labels>/{CLASS_NAMES_FILE} when it exists)")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="text for people, json for other programs (default: text)")
    parser.add_argument("--jobs", type=int, metavar="N",
                        help="processes that decode and count masks (default: all cores when "
                             f"there are at least {PAIRS_PER_WORKER} pairs per core, else 1)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar and no notes on stderr; errors are still shown")
    parser.add_argument("--shard", type=parse_shard, metavar="K/N",
                        help="score only shard K of N: every N-th image id from the K-th, in id "
                             "order; merge the shards' JSON reports with --merge")
    parser.add_argument("--merge", nargs="+", type=Path, metavar="REPORT.json",
                        help="rebuild the report from JSON reports written with --format json "
                             "(e.g. by --shard runs) without reading any mask; image ids must "
                             "not overlap")
    parser.add_argument("--output-dir", type=Path, metavar="DIR",
                        help="also write a report folder: report.json, summary.csv, classes.csv, "
                             "matrices/, a confusion-matrix heat map, overlays of the errors on the "
                             "camera pictures, and index.html to browse them (DIR may exist; other "
                             "files in it are left alone)")
    parser.add_argument("--images", default="images", type=Path, metavar="DIR",
                        help="folder of the camera pictures the overlays are drawn on (default: images)")
    parser.add_argument("--plots-per-image", action="store_true",
                        help="with --output-dir, also draw a heat map per image in plots/")
    parser.add_argument("--max-image-pixels", type=int, metavar="N",
                        help="refuse masks of more pixels than this, as a guard against "
                             "decompression bombs (default: Pillow's limit, "
                             f"{Image.MAX_IMAGE_PIXELS})")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.ignore_index is not None and not 0 <= args.ignore_index < LABEL_SPACE:
        parser.error(f"--ignore-index {args.ignore_index} is outside 0..255")
    if not 0 <= args.digits <= MAX_DIGITS:
        parser.error(f"--digits must be within 0..{MAX_DIGITS}")
    if args.jobs is not None and args.jobs < 1:
        parser.error("--jobs must be 1 or more")
    if args.max_image_pixels is not None:
        if args.max_image_pixels < 1:
            parser.error("--max-image-pixels must be 1 or more")
        Image.MAX_IMAGE_PIXELS = args.max_image_pixels
    if args.output_dir is not None:
        problem = output_dir_problem(args.output_dir, [] if args.merge else
                                     [args.labels, args.inferences, args.images])
        if problem:
            parser.error(f"--output-dir {shown(args.output_dir)}: {problem}")
    elif args.plots_per_image:
        parser.error("--plots-per-image needs --output-dir")
    names_source = args.class_names
    if names_source is None and not args.merge and _is_file(args.labels / CLASS_NAMES_FILE):
        names_source = args.labels / CLASS_NAMES_FILE
    try:
        class_names = read_class_names(names_source) if names_source is not None else None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        parser.error(f"--class-names: {error}")
    if sys.stdout is None:
        return fail("there is no standard output to write the report to")
    try:
        return merge(args, class_names) if args.merge else score(args, class_names or {})
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of stdout went away, e.g. `| head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as error:  # e.g. a full disk under a redirected stdout
        return fail(f"cannot write the report: {error.strerror or error}")
    except OutputError as error:
        return fail(f"cannot write the report folder: {error}")


def output_dir_problem(folder, input_folders):
    """Why the report folder cannot be used, or None: it must not be a file, nor touch an input folder."""
    if folder.exists() and not folder.is_dir():
        return "is a file"
    resolved = folder.resolve()
    for input_folder in input_folders:
        source = input_folder.resolve()
        if resolved == source or source in resolved.parents or resolved in source.parents:
            return f"overlaps the input folder {shown(input_folder)}"
    return None


def _is_file(path):
    try:
        return path.is_file()
    except OSError:  # a folder that cannot be searched: the listing will say so
        return False


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    return 2


def shard_of(pairs, errors, shard):
    """The pairs and errors of shard (k, n): every n-th image id, from the k-th, in id order."""
    k, n = shard
    ids = sorted({image_id for image_id, *_ in pairs + errors}, key=natural_key)
    chosen = set(ids[k - 1::n])
    return ([pair for pair in pairs if pair[0] in chosen],
            [error for error in errors if error[0] in chosen])


def score(args, class_names):
    """Score the mask folders and print the report; returns the exit status."""
    for option, folder in (("--labels", args.labels), ("--inferences", args.inferences)):
        if not folder.is_dir():
            return fail(f"{option} {shown(folder)}: no such folder")
    try:
        pairs, errors, passed_over = find_pairs(args.labels, args.inferences)
    except OSError as error:
        return fail(f"cannot list the masks: {error}")
    if args.shard:
        pairs, errors = shard_of(pairs, errors, args.shard)
    if not pairs:
        return fail(f"no pair of masks with the same name in {shown(args.labels)} and "
                    f"{shown(args.inferences)}"
                    + (f" (shard {args.shard[0]}/{args.shard[1]})" if args.shard else "")
                    + "".join(f"\n  {message}" for _, _, message in errors))
    if passed_over and not args.quiet:
        print(f"note: passed over {len(passed_over)} file{'s' if len(passed_over) > 1 else ''} "
              "that are not masks: "
              + ", ".join(map(str, passed_over[:5])) + (", ..." if len(passed_over) > 5 else ""),
              file=sys.stderr)
    if 255 in class_names and args.ignore_index is None and not args.quiet:
        print(f"note: id 255 is named {class_names[255]!r}, but without --ignore-index 255 its pixels "
              "count as a class like any other", file=sys.stderr)
    args.zero_division = args.zero_division or "0"
    options = {"zero_division": ZERO_DIVISION_CHOICES[args.zero_division],
               "ignore_index": args.ignore_index, "class_names": class_names}
    jobs = args.jobs or default_jobs(len(pairs))
    output = args.output_dir and {"dir": args.output_dir, "images": args.images,
                                  "plots": args.plots_per_image}
    return write_report(score_pairs(pairs, jobs, output=output, **options), len(pairs), errors, args,
                        options)


def merge(args, class_names):
    """Rebuild the report from JSON reports of shards, without touching a mask."""
    try:
        images, errors, ignore_index, zero_division, report_names = read_reports(args.merge)
    except ValueError as error:
        return fail(str(error))
    if not images and not errors:
        return fail("the reports hold no image")
    if args.zero_division is None and zero_division is None:
        return fail("the reports were made with different --zero-division values: give one")
    args.zero_division = args.zero_division or zero_division
    if args.ignore_index is not None and args.ignore_index != ignore_index:
        return fail(f"--ignore-index {args.ignore_index} differs from the reports' {ignore_index}: "
                    "ignored pixels cannot be counted again without the masks")
    if class_names is None:  # the names the shards were scored with
        class_names = report_names
    options = {"zero_division": ZERO_DIVISION_CHOICES[args.zero_division],
               "ignore_index": ignore_index, "class_names": class_names}
    return write_report(merged_results(images, **options), len(images), errors, args, options)


def progress_bar(total, quiet):
    """A tqdm bar on stderr when it is a terminal (and the run lasts), else None."""
    if quiet or not sys.stderr.isatty():
        return None
    from tqdm import tqdm  # only a terminal session pays for the import
    tqdm.monitor_interval = 0  # no monitor thread, so worker processes fork a single-threaded parent
    return tqdm(total=total, unit="pair", file=sys.stderr, delay=PROGRESS_DELAY_SECONDS, leave=False)


def write_report(results, count, errors, args, options):
    """Print the report as results arrive, and fill the report folder; returns the exit status.

    Only the summed matrix and one summary row per image are kept, so memory does
    not grow with the number of images.
    """
    zero_division, ignore_index, class_names = (options["zero_division"], options["ignore_index"],
                                                options["class_names"])
    text, folder = args.format == "text", args.output_dir
    head = {"label_space": LABEL_SPACE, "ignore_index": ignore_index,
            "zero_division": int(zero_division) if args.zero_division != "nan" else "nan",
            "class_names": {str(class_id): name for class_id, name in sorted(class_names.items())}}
    rows, picture_notes = [], []
    total = np.zeros((LABEL_SPACE, LABEL_SPACE), dtype=np.int64)
    with contextlib.ExitStack() as files:
        json_outputs = [] if text else [sys.stdout]  # one JSON document, written image by image
        if folder:
            json_outputs.append(files.enter_context(atomic_open(folder / "report.json")))
            class_table = csv.writer(files.enter_context(atomic_open(folder / "classes.csv", newline="")))
            class_table.writerow(CLASS_COLUMNS)
        for output in json_outputs:
            output.write(json.dumps(head)[:-1] + ', "images": [')
        bar = progress_bar(count, args.quiet)
        if bar is not None:
            files.callback(bar.close)
        for image_id, path, report, error, picture_note in results:
            if bar is not None:
                bar.update()
            if error is not None:
                errors.append((image_id, path, error))
                continue
            labels = report["confusion_matrix"]["labels"]
            if labels:  # add the compact form: cheaper than rebuilding the 256x256 matrix
                total[np.ix_(labels, labels)] += np.array(report["confusion_matrix"]["matrix"], dtype=np.int64)
            if text:
                section = format_image_section(report, class_names, args.digits, zero_division,
                                               ignore_index) + "\n\n\n"
                bar.write(section, file=sys.stdout, end="") if bar is not None else sys.stdout.write(section)
            for output in json_outputs:
                output.write((", " if rows else "") + json.dumps(report))
            if folder:
                class_table.writerows(class_rows(image_id, report))
                with _drawing(image_id):
                    write_image_files(folder, report, head, class_names, args)
                picture_notes += [picture_note] if picture_note else []
            rows.append(summary_row(report))
        combined = combined_report(total, rows, **options)
        errors.sort(key=lambda error: natural_key(error[0]))
        error_list = [{"id": image_id, "path": path, "error": message} for image_id, path, message in errors]
        for output in json_outputs:
            output.write('], "combined": ' + json.dumps(combined) + ', "errors": ' + json.dumps(error_list)
                         + "}\n")
        if folder:
            class_table.writerows(class_rows("combined", combined))
    if text:
        if rows:
            sys.stdout.write(format_summary(rows, args.digits) + "\n\n\n")
        sys.stdout.write(format_combined_section(combined, class_names, args.digits, zero_division,
                                                 ignore_index, [image_id for image_id, _, _ in errors]) + "\n")
        sys.stdout.flush()
    if folder:
        with _drawing("combined"):
            finish_report_folder(folder, head, combined, rows, errors, class_names, args)
        if not args.quiet:
            if picture_notes:
                print(f"note: {len(picture_notes)} overlay{'s are' if len(picture_notes) > 1 else ' is'} "
                      f"drawn on the label's class colours, for want of a camera picture (first: "
                      f"{picture_notes[0]})", file=sys.stderr)
            print(f"wrote {shown(folder)}/: index.html, report.json, summary.csv, classes.csv, "
                  f"confusion_matrix.png, matrices/ ({len(rows) + 1}), reports/ ({len(rows)})"
                  + (f", overlays/ and thumbnails/ ({len(rows)})" if not args.merge else "")
                  + (f", plots/ ({len(rows)})" if args.plots_per_image else ""), file=sys.stderr)
    if text:
        for _, _, message in errors:
            print(f"error: {message}", file=sys.stderr)
    return 1 if errors else 0


def write_image_files(folder, report, head, class_names, args):
    """An image's matrix CSV and page (and, when merging, its heat map: no worker drew it)."""
    write_csv(folder / "matrices" / f"{report['id']}.csv", matrix_rows(report))
    write_text(folder / "reports" / f"{report['id']}.html",
               image_page(report, head, class_names, args.digits, has_overlay=not args.merge))
    if args.merge and args.plots_per_image:
        draw_image_plot(report, class_names, folder)


def finish_report_folder(folder, head, combined, rows, errors, class_names, args):
    """What the report folder gets once every image is in: the combined files and the page."""
    write_csv(folder / "matrices" / "combined.csv", matrix_rows(combined))
    write_csv(folder / "summary.csv", [SUMMARY_COLUMNS] + [summary_csv_row(row) for row in rows]
              + [summary_csv_row(summary_row({"id": "combined", **combined}))])
    plot_confusion_matrix(combined, class_names, folder / "confusion_matrix.png",
                          f"All {combined['images']} images: share of each label's pixels")
    write_text(folder / "index.html", index_page(head, combined, rows, errors, class_names, args.digits,
                                                 has_overlays=not args.merge))


if __name__ == "__main__":
    raise SystemExit(main())
