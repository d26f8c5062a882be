"""COCO's labels (issue 29): --coco-annotations, --coco-panoptic, --coco-contiguous and the coco and
coco-stuff class names. The labels are checked against pycocotools' own annToMask composed by the
stated rule (0 where no annotation is, a category where only it is; crowd regions and pixels of two
categories not counted), panoptic PNGs against the published segment-id formula, and every number
against scikit-learn on the pixels counted."""

import contextlib
import hashlib
import io
import json
import shlex
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image
from pycocotools import mask as coco_mask
from pycocotools.coco import COCO

from conftest import assert_report_matches_sklearn, json_run, tool

H, W = 40, 60
# pycocotools' decode under numpy 2 (its __array__ takes no copy keyword)
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
CATEGORIES = {1: "person", 3: "car", 18: "dog", 44: "bottle", 90: "toothbrush"}


# ---------------------------------------------------------------- building COCO files

def load_coco(path):
    """pycocotools' COCO of a file, without its prints on standard output."""
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(path))


def runs_of(mask):
    """The run lengths of a boolean mask in COCO's order (column-major, 0s first)."""
    flat = np.asarray(mask, bool).T.ravel()
    edges = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
    runs = np.diff(np.concatenate(([0], edges, [flat.size]))).tolist()
    return [0, *runs] if flat[0] else runs


def compressed(mask):
    """A boolean mask as COCO's compressed run-length text, made by pycocotools itself."""
    rle = coco_mask.encode(np.asfortranarray(np.asarray(mask, np.uint8)))
    return {"size": [int(side) for side in rle["size"]], "counts": rle["counts"].decode("ascii")}


def box(top, left, bottom, right, shape=(H, W)):
    """A boolean mask of rows top..bottom-1 and columns left..right-1."""
    mask = np.zeros(shape, bool)
    mask[top:bottom, left:right] = True
    return mask


def rectangle(x0, y0, x1, y1):
    """A polygon (one part) of the rectangle from (x0, y0) to (x1, y1)."""
    return [x0, y0, x1, y0, x1, y1, x0, y1]


def scene():
    """A small COCO instances document: polygons (several parts, parts that overlap, a self-crossing
    one, a concave one, vertices outside the image, float coordinates), run-length encodings
    (uncompressed, and compressed by pycocotools), crowd regions, annotations overlapping of one
    category and of two or three (A, B, A and A, B, C), an image with no annotation, and images of
    two sizes."""
    rows, columns = np.mgrid[:H, :W]
    disc = (rows - 20) ** 2 + (columns - 30) ** 2 < 12 ** 2
    stripes = (columns % 7 < 3) & (rows > 25)  # many runs
    small = box(3, 4, 25, 40, (30, 50))
    images = [{"id": 1, "file_name": "000000000001.jpg", "height": H, "width": W},
              {"id": 2, "file_name": "000000000002.jpg", "height": H, "width": W},
              {"id": 3, "file_name": "val2017/000000000003.jpg", "height": H, "width": W},
              {"id": 4, "file_name": "000000000004.png", "height": H, "width": W},
              {"id": 5, "file_name": "000000000005.jpg", "height": 30, "width": 50}]
    shapes = [
        # image 1: polygons
        (1, 1, 0, [rectangle(2, 2, 14, 12), rectangle(40, 30, 55, 38)]),  # two parts
        (1, 1, 0, [rectangle(5, 5, 20, 20), rectangle(10, 10, 25, 25)]),  # parts overlapping, and 1 again
        (1, 3, 0, [[20.3, 3.7, 35.6, 3.7, 35.6, 8.2, 26.1, 8.2, 26.1, 20.9, 20.3, 20.9]]),  # concave, floats
        (1, 18, 0, [[50, -8, 75, 10, 45.5, 50]]),  # vertices outside the image
        (1, 44, 0, [[30, 22, 45, 36, 45, 22, 30, 36]]),  # crossing itself (a bow tie)
        (1, 90, 0, [[0.5, 39.5, 3.49, 26.51, 8.5, 39.5], [-3, -3, 2.6, -3, 2.6, 2.4, -3, 2.4]]),
        # image 2: run-length encodings and crowd regions
        (2, 3, 0, {"size": [H, W], "counts": runs_of(stripes)}),
        (2, 18, 0, compressed(disc)),
        (2, 1, 1, {"size": [H, W], "counts": runs_of(box(10, 25, 30, 45))}),  # crowd over the disc
        (2, 3, 1, [rectangle(50, 0, 60, 10)]),  # a crowd region drawn as a polygon
        (2, 44, 0, compressed(box(0, 45, 20, 60))),  # under the crowd polygon in part
        # image 3: overlaps
        (3, 1, 0, [rectangle(0, 0, 20, 20)]),  # A
        (3, 3, 0, [rectangle(10, 10, 30, 30)]),  # B
        (3, 1, 0, [rectangle(15, 15, 25, 25)]),  # A again: A, B, A
        (3, 18, 0, [rectangle(5, 12, 18, 28)]),  # C: A, B, C where all meet
        (3, 44, 0, [rectangle(35, 5, 50, 15)]),  # two of one category
        (3, 44, 0, compressed(box(10, 40, 35, 58))),
        (3, 90, 0, [rectangle(52, 30, 60, 40)]),
        # image 4: no annotation
        # image 5: another size, a crowd region over an overlap of two categories
        (5, 1, 0, {"size": [30, 50], "counts": runs_of(small)}),
        (5, 3, 0, [rectangle(20, 10, 45, 28)]),
        (5, 90, 1, [rectangle(25, 5, 35, 30)]),
    ]
    annotations = [{"id": 100 + index, "image_id": image_id, "category_id": category,
                    "iscrowd": crowd, "segmentation": segmentation, "area": 1.0, "bbox": [0, 0, 1, 1]}
                   for index, (image_id, category, crowd, segmentation) in enumerate(shapes)]
    return {"info": {"description": "test"}, "images": images, "annotations": annotations,
            "categories": [{"id": category, "name": name, "supercategory": "x"}
                           for category, name in CATEGORIES.items()]}


def key_of(image):
    return Path(image["file_name"]).stem


def expected_labels(paths, class_of=None):
    """{key: (label, counted pixels, {"crowd": n, "overlap": n})} by the stated rule, composed plainly
    from pycocotools' annToMask of each annotation (COCO loaded from each file): a pixel one category
    covers is its class, a pixel none covers is 0; a pixel of a crowd region, or one of two categories
    outside crowd regions, is not counted. Stuff's 'other' (183) is left out when things are present."""
    cocos = [load_coco(path) for path in paths]
    categories = {category for coco in cocos for category in coco.cats}
    things = any(category <= 91 for category in categories)
    class_of = class_of or {category: category for category in categories}
    images = {image_id: image for coco in cocos for image_id, image in coco.imgs.items()}
    expected = {}
    for image_id, image in images.items():
        shape = image["height"], image["width"]
        crowd, covers = np.zeros(shape, bool), {}
        for coco in cocos:
            for annotation in coco.loadAnns(coco.getAnnIds(imgIds=[image_id])):
                if annotation["category_id"] == 183 and things:
                    continue
                mask = coco.annToMask(annotation).astype(bool)
                if annotation.get("iscrowd"):
                    crowd |= mask
                else:
                    category = annotation["category_id"]
                    covers[category] = covers.get(category, np.zeros(shape, bool)) | mask
        how_many = sum((mask.astype(int) for mask in covers.values()), np.zeros(shape, int))
        label = np.zeros(shape, np.uint8)
        for category, mask in covers.items():
            label[mask & (how_many == 1)] = class_of[category]
        overlap = (how_many > 1) & ~crowd
        expected[key_of(image)] = (label, ~(crowd | overlap), {
            "crowd": int(crowd.sum()), "overlap": int(overlap.sum())})
    return expected


def write_json(path, document):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return path


def write_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, np.uint8)).save(path)


def write_inferences(folder, expected, seed, ids=(0, 1, 3, 18, 44, 90, 7), right=0.6):
    """A random inference for each label (right of its pixels as the label, the rest random ids)."""
    rng = np.random.default_rng(seed)
    inferences = {}
    for key, (label, _, _) in expected.items():
        noise = rng.choice(np.array(ids, np.uint8), label.shape)
        inferences[key] = np.where(rng.random(label.shape) < right, label, noise).astype(np.uint8)
        write_png(folder / f"{key}.png", inferences[key])
    return inferences


def numbers(document):
    """A report without the names of its files."""
    return ([{key: value for key, value in image.items() if key not in ("label", "inference")}
             for image in document["images"]], document["combined"])


@pytest.fixture
def coco_scene(tmp_path, monkeypatch):
    """The scene written as f.json with random inferences in inferences/, the working folder:
    (document, expected labels, inferences)."""
    monkeypatch.chdir(tmp_path)
    document = scene()
    write_json(tmp_path / "f.json", document)
    expected = expected_labels([tmp_path / "f.json"])
    return document, expected, write_inferences(tmp_path / "inferences", expected, 1)


def run(capsys, *args, quiet=True):
    """(status, JSON document or None, stderr) of a run with --format json (and --quiet)."""
    status = tool.main(["--format", "json", *(["--quiet"] if quiet else []), *args])
    captured = capsys.readouterr()
    return status, json.loads(captured.out) if captured.out else None, captured.err


def said(capsys, *args):
    """(status, the error lines on stderr) of a run with text on standard output (where errors are
    said on stderr, not only in the JSON document) and --quiet."""
    status = tool.main(["--quiet", *args])
    lines = capsys.readouterr().err.splitlines()
    return status, [line for line in lines if not line.startswith("warning: not counted")]


# ---------------------------------------------------------------- 1: the labels are pycocotools'

def check_rasterised(image, label, valid, left_out):
    """tool.rasterised of a CocoImage: the expected ids where counted, exactly the expected pixels
    counted (None: all), the left-out counts."""
    ids, counted, told = tool.rasterised(image)
    counted = np.ones(label.shape, bool) if counted is None else counted
    assert ids.dtype == np.uint8 and ids.shape == label.shape == counted.shape
    np.testing.assert_array_equal(counted, valid)
    np.testing.assert_array_equal(ids[valid], label[valid])
    assert told == left_out


def test_rasterised_labels_are_pycocotools_masks_composed_by_the_rule(coco_scene):
    document, expected, _ = coco_scene
    for image in document["images"]:
        shapes = tuple((annotation["category_id"], bool(annotation["iscrowd"]),
                        annotation["segmentation"]) for annotation in document["annotations"]
                       if annotation["image_id"] == image["id"])
        check_rasterised(tool.CocoImage(image["height"], image["width"], shapes),
                         *expected[key_of(image)])
    # The scene holds what it should: parts outside the image drawn clipped, crowd regions and
    # overlaps left out, A, B, A and A, B, C not counted, the empty image all background.
    label, valid, left_out = expected["000000000001"]
    assert (label == 18).any() and (label == 90).any() and left_out["overlap"] > 0
    label, valid, left_out = expected["000000000002"]
    assert left_out["crowd"] > 0 and not valid[20, 30] and valid[2, 2]
    label, valid, left_out = expected["000000000003"]
    assert not valid[17, 17] and not valid[15, 15] and valid[2, 2] and label[2, 2] == 1
    assert label[8, 40] == 44 and valid[12, 45]  # two annotations of one category: that category
    label, valid, left_out = expected["000000000004"]
    assert not label.any() and valid.all() and left_out == {"crowd": 0, "overlap": 0}
    _, _, left_out = expected["000000000005"]
    assert left_out["crowd"] > 0 and left_out["overlap"] > 0


def test_the_files_images_give_the_same_labels(coco_scene, tmp_path):
    """read_coco_annotations: an image by its file name's stem, its label drawn as pycocotools draws
    it, the JSON path and image id as its text."""
    document, expected, _ = coco_scene
    coco = tool.read_coco_annotations([Path("f.json")], False)
    assert sorted(coco.labels) == sorted(expected) and not coco.refused
    ids = {key_of(image): image["id"] for image in document["images"]}
    for key, (text, image) in coco.labels.items():
        assert text == f"f.json#{ids[key]}"
        check_rasterised(image, *expected[key])


@pytest.mark.parametrize("order", ["rotated", "reversed"])
def test_the_order_of_the_annotations_changes_no_counted_pixel(coco_scene, order):
    document, expected, _ = coco_scene
    for image in document["images"]:
        shapes = [(annotation["category_id"], bool(annotation["iscrowd"]),
                   annotation["segmentation"]) for annotation in document["annotations"]
                  if annotation["image_id"] == image["id"]]
        shapes = shapes[::-1] if order == "reversed" else shapes[1:] + shapes[:1]
        check_rasterised(tool.CocoImage(image["height"], image["width"], tuple(shapes)),
                         *expected[key_of(image)])


def read_runs(*texts):
    """tool.compressed_runs of texts (it reads several at once): each text's runs, as a list."""
    runs, counts = tool.compressed_runs(*texts)
    return [part.tolist() for part in np.split(runs, np.cumsum(counts)[:-1])]


def runs_pixels(runs, height, width):
    """The mask of runs, painted plainly (column-major, 0s first)."""
    runs = np.asarray(runs, np.int64)
    ends = np.cumsum(runs)
    flat = np.zeros(height * width, np.uint8)
    for start, end in zip((ends - runs)[1::2], ends[1::2]):
        flat[start:end] = 1
    return flat.reshape(width, height).T


def runs_of_size(first, rest, width):
    """Runs [first, *rest], lengthened at the end to fill whole columns of width: (runs, height)."""
    runs = [first, *rest]
    if sum(runs) == 0 or sum(runs) % width:
        runs.append(width - sum(runs) % width)
    return runs, sum(runs) // width


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5000), st.lists(st.integers(1, 70000), max_size=30),
                          st.integers(1, 5)), min_size=1, max_size=6))
def test_compressed_runs_read_pycocotools_text(shapes):
    """Runs of any length (numbers of one character and of several; differences from the run two
    before, negative and positive), several texts read at once: each text's runs, which are the
    mask pycocotools decodes."""
    rles, expected = [], []
    for first, rest, width in shapes:
        runs, height = runs_of_size(first, rest, width)
        rles.append(coco_mask.frPyObjects({"size": [height, width], "counts": runs}, height, width))
        expected.append(runs)
    assert read_runs(*(rle["counts"] for rle in rles)) == expected
    for rle, runs in zip(rles, read_runs(*(rle["counts"] for rle in rles))):
        np.testing.assert_array_equal(runs_pixels(runs, *rle["size"]), coco_mask.decode(rle))


@settings(max_examples=100, deadline=None)
@given(st.lists(arrays(bool, st.tuples(st.integers(1, 50), st.integers(1, 50)),
                       elements=st.booleans()), min_size=1, max_size=4), st.booleans())
def test_compressed_runs_of_masks_pycocotools_encodes(masks, invert):
    masks = [~mask if invert else mask for mask in masks]
    rles = [coco_mask.encode(np.asfortranarray(mask.astype(np.uint8))) for mask in masks]
    runs = read_runs(*(rle["counts"] for rle in rles))
    assert runs == [runs_of(mask) for mask in masks]
    for mask, rle, each in zip(masks, rles, runs):
        np.testing.assert_array_equal(runs_pixels(each, *mask.shape), coco_mask.decode(rle))
        np.testing.assert_array_equal(coco_mask.decode(rle), mask)


# ---------------------------------------------------------------- 2: the numbers are scikit-learn's

def check_numbers(document, expected, inferences, zero_division=0.0):
    """Every image's and the combined numbers equal scikit-learn's on the pixels counted."""
    assert sorted(image["id"] for image in document["images"]) == sorted(expected)
    total = {"crowd": 0, "overlap": 0}
    for image in document["images"]:
        label, valid, left_out = expected[image["id"]]
        assert image["left_out"] == left_out
        assert_report_matches_sklearn(image, label[valid], inferences[image["id"]][valid], None,
                                      zero_division)
        total = {why: total[why] + pixels for why, pixels in left_out.items()}
    keys = sorted(expected)
    assert_report_matches_sklearn(
        document["combined"],
        np.concatenate([expected[key][0][expected[key][1]] for key in keys]),
        np.concatenate([inferences[key][expected[key][1]] for key in keys]), None, zero_division)
    assert document["combined"]["left_out"] == total
    return total


def test_the_numbers_are_scikit_learns_on_the_pixels_counted(coco_scene, capsys):
    document, expected, inferences = coco_scene
    status, report, err = run(capsys, "--coco-annotations", "f.json")
    assert status == 0, err
    total = check_numbers(report, expected, inferences)
    warning = (f"not counted, by the rules for COCO's labels: {total['crowd']} pixels of crowd regions; "
               f"{total['overlap']} pixels covered by annotations of two categories")
    assert any(given.startswith(warning) for given in report["warnings"])
    assert warning in err
    assert report["class_names"] == {"0": "background", **{str(k): v for k, v in CATEGORIES.items()}}
    assert report["ignore_index"] is None and report["errors"] == []
    ids = {key_of(image): image["id"] for image in document["images"]}
    for image in report["images"]:
        assert image["label"] == f"f.json#{ids[image['id']]}"
        assert image["inference"] == f"inferences/{image['id']}.png"
    data = Path("f.json").read_bytes()
    assert report["coco"] == {"files": [{"name": "f.json", "bytes": len(data),
                                         "sha256": hashlib.sha256(data).hexdigest()}],
                              "panoptic": False, "classes": {str(k): k for k in CATEGORIES}}


def test_numbers_with_an_ignore_index_and_zero_division_one(coco_scene, capsys):
    """--ignore-index on the drawn labels (here the class of category 44) and --zero-division 1 act
    on them as on PNG labels."""
    document, expected, inferences = coco_scene
    status, report, err = run(capsys, "--coco-annotations", "f.json", "--ignore-index", "44",
                              "--zero-division", "1")
    assert status == 0, err
    for image in report["images"]:
        label, valid, _ = expected[image["id"]]
        assert_report_matches_sklearn(image, label[valid], inferences[image["id"]][valid], 44, 1.0)


def test_without_left_out_pixels_the_warning_is_not_given(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write_json(tmp_path / "f.json", {
        "images": [{"id": 7, "file_name": "a.jpg", "height": H, "width": W}],
        "annotations": [{"id": 1, "image_id": 7, "category_id": 1, "iscrowd": 0,
                         "segmentation": [rectangle(3, 3, 30, 30)]}],
        "categories": [{"id": 1, "name": "person"}]})
    expected = expected_labels([tmp_path / "f.json"])
    inferences = write_inferences(tmp_path / "inferences", expected, 2, ids=(0, 1))
    status, report, err = run(capsys, "--coco-annotations", "f.json")
    assert status == 0 and "not counted" not in err, err
    check_numbers(report, expected, inferences)
    assert not any("not counted" in warning for warning in report["warnings"])


# ---------------------------------------------------------------- 3: --coco-contiguous

def test_contiguous_numbers_the_categories_1_to_n_in_id_order(coco_scene, tmp_path, capsys):
    class_of = {category: index for index, category in enumerate(sorted(CATEGORIES), start=1)}
    expected = expected_labels([tmp_path / "f.json"], class_of)
    inferences = write_inferences(tmp_path / "contiguous", expected, 3, ids=range(7))
    status, report, err = run(capsys, "--coco-annotations", "f.json", "--coco-contiguous",
                              "--inferences", "contiguous")
    assert status == 0, err
    assert report["coco"]["classes"] == {"1": 1, "3": 2, "18": 3, "44": 4, "90": 5}
    assert report["class_names"] == {"0": "background", "1": "person", "2": "car", "3": "dog",
                                     "4": "bottle", "5": "toothbrush"}
    check_numbers(report, expected, inferences)
    # --class-names coco names the renumbered classes by their categories
    status, named, err = run(capsys, "--coco-annotations", "f.json", "--coco-contiguous",
                             "--inferences", "contiguous", "--class-names", "coco")
    assert status == 0, err
    assert named["class_names"] == report["class_names"]
    assert numbers(named)[0] == numbers(report)[0]


def test_class_names_coco_names_the_category_ids(coco_scene, tmp_path, capsys):
    """The file's own names give way to the preset's; the ids stay the categories'."""
    document, expected, inferences = coco_scene
    document["categories"] = [{"id": k, "name": f"my {v}"} for k, v in CATEGORIES.items()]
    write_json(tmp_path / "g.json", document)
    status, report, err = run(capsys, "--coco-annotations", "g.json")
    assert status == 0, err
    assert report["class_names"] == {"0": "background", **{str(k): f"my {v}"
                                                           for k, v in CATEGORIES.items()}}
    status, named, err = run(capsys, "--coco-annotations", "g.json", "--class-names", "coco")
    assert status == 0, err  # the preset names every thing at its id, in the file or not
    assert named["class_names"].items() >= {"0": "background",
                                            **{str(k): v for k, v in CATEGORIES.items()}}.items()
    assert len(named["class_names"]) == 81 and named["class_names"]["7"] == "train"
    check_numbers(named, expected, inferences)
    # renumbered 1..N, each class still named by its category's COCO name; the inferences, still
    # in category ids, are said to number the classes otherwise (exit 3)
    status, named, err = run(capsys, "--coco-annotations", "g.json", "--coco-contiguous",
                             "--class-names", "coco")
    assert status == tool.NUMBERS_IN_DOUBT and "number the classes differently" in err, err
    assert named["class_names"] == {"0": "background", "1": "person", "2": "car", "3": "dog",
                                    "4": "bottle", "5": "toothbrush"}


# ---------------------------------------------------------------- 4: panoptic PNGs

def write_panoptic(path, segments):
    """A panoptic PNG of segment ids, by the published formula: id = R + 256 G + 256^2 B."""
    segments = np.asarray(segments, np.int64)
    rgb = np.stack([segments % 256, segments // 256 % 256, segments // 65536], axis=-1)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb.astype(np.uint8), "RGB").save(path)


# segment id: (category, crowd); G and B are needed for most of them
SEGMENTS = {300: (1, 0), 70_001: (3, 0), 5: (18, 0), 1_000_000: (44, 0), 65_536: (1, 1),
            16_777_215: (90, 0), 256: (3, 1)}


def panoptic_scene(root, seed=5, count=3):
    """Panoptic PNGs in root/labels, their JSON root/panoptic.json: {key: segment ids}."""
    rng = np.random.default_rng(seed)
    pictures, annotations = {}, []
    ids = np.array([0, *SEGMENTS])
    for index in range(count):
        key = f"{index:012d}"
        # blocks of 5x5 pixels, each one segment or void
        segments = np.kron(rng.choice(ids, (H // 5, W // 5)), np.ones((5, 5), np.int64))
        write_panoptic(root / "labels" / f"{key}.png", segments)
        present = set(np.unique(segments).tolist()) - {0}
        annotations.append({"image_id": index, "file_name": f"{key}.png", "segments_info": [
            {"id": segment, "category_id": SEGMENTS[segment][0], "iscrowd": SEGMENTS[segment][1],
             "area": int((segments == segment).sum()), "bbox": [0, 0, 1, 1]}
            for segment in sorted(present)]})
        pictures[key] = segments
    write_json(root / "panoptic.json", {
        "images": [{"id": index, "file_name": f"{index:012d}.jpg", "height": H, "width": W}
                   for index in range(count)],
        "annotations": annotations,
        "categories": [{"id": k, "name": v, "isthing": 1} for k, v in CATEGORIES.items()]})
    return pictures


def panoptic_expected(segments, class_of=lambda category: category):
    label = np.zeros(segments.shape, np.uint8)
    for segment, (category, _) in SEGMENTS.items():
        label[segments == segment] = class_of(category)
    void = segments == 0
    crowd = np.isin(segments, [segment for segment, (_, crowd) in SEGMENTS.items() if crowd])
    return label, ~(void | crowd), {"void": int(void.sum()), "crowd": int(crowd.sum())}


def test_panoptic_ids_follow_the_published_formula(tmp_path):
    pictures = panoptic_scene(tmp_path)
    classes = {segment: category for segment, (category, _) in SEGMENTS.items()}
    crowd = frozenset(segment for segment, (_, is_crowd) in SEGMENTS.items() if is_crowd)
    for key, segments in pictures.items():
        ids, valid, left_out = tool.panoptic_ids(tmp_path / "labels" / f"{key}.png",
                                                 tool.PanopticSegments(classes, crowd))
        label, counted, said = panoptic_expected(segments)
        np.testing.assert_array_equal(valid, counted)
        np.testing.assert_array_equal(ids[counted], label[counted])
        assert left_out == said and said["void"] and said["crowd"]


@pytest.mark.parametrize("contiguous", [False, True])
def test_panoptic_numbers_are_scikit_learns(tmp_path, monkeypatch, capsys, contiguous):
    monkeypatch.chdir(tmp_path)
    pictures = panoptic_scene(tmp_path)
    order = {category: index for index, category in enumerate(sorted(CATEGORIES), start=1)}
    class_of = order.get if contiguous else (lambda category: category)
    expected = {key: panoptic_expected(segments, class_of) for key, segments in pictures.items()}
    inferences = write_inferences(tmp_path / "inferences", expected, 6,
                                  ids=range(6) if contiguous else (0, 1, 3, 18, 44, 90))
    status, report, err = run(capsys, "--coco-panoptic", "panoptic.json",
                              *(["--coco-contiguous"] if contiguous else []))
    assert status == 0, err
    total = {"void": 0, "crowd": 0}
    for image in report["images"]:
        label, valid, left_out = expected[image["id"]]
        assert image["left_out"] == left_out
        assert image["label"] == f"labels/{image['id']}.png"
        assert_report_matches_sklearn(image, label[valid], inferences[image["id"]][valid], None, 0.0)
        total = {why: total[why] + pixels for why, pixels in left_out.items()}
    keys = sorted(expected)
    assert_report_matches_sklearn(report["combined"],
                                  np.concatenate([expected[k][0][expected[k][1]] for k in keys]),
                                  np.concatenate([inferences[k][expected[k][1]] for k in keys]),
                                  None, 0.0)
    assert report["combined"]["left_out"] == total
    assert any(f"{total['void']} pixels of void (segment 0)" in warning
               and f"{total['crowd']} pixels of crowd regions" in warning
               for warning in report["warnings"])
    data = Path("panoptic.json").read_bytes()
    assert report["coco"] == {
        "files": [{"name": "panoptic.json", "bytes": len(data),
                   "sha256": hashlib.sha256(data).hexdigest()}], "panoptic": True,
        "classes": {str(k): (order[k] if contiguous else k) for k in CATEGORIES}}
    assert report["class_names"]["1"] == "person"


def test_a_panoptic_segment_not_in_segments_info_refuses_that_image(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    pictures = panoptic_scene(tmp_path)
    bad = next(iter(pictures))
    segments = pictures[bad].copy()
    segments[:5, :5] = 123_456  # R 64, G 226, B 1
    write_panoptic(tmp_path / "labels" / f"{bad}.png", segments)
    expected = {key: panoptic_expected(segments) for key, segments in pictures.items()}
    write_inferences(tmp_path / "inferences", expected, 7)
    status, report, err = run(capsys, "--coco-panoptic", "panoptic.json")
    assert status == 1, err
    assert [error["id"] for error in report["errors"]] == [bad]
    status, lines = said(capsys, "--coco-panoptic", "panoptic.json")
    assert status == 1 and len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "123456" in lines[0] and f"labels/{bad}.png" in lines[0]
    assert sorted(image["id"] for image in report["images"]) == sorted(set(pictures) - {bad})


def test_a_panoptic_png_that_is_not_rgb_refuses_that_image(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    pictures = panoptic_scene(tmp_path)
    bad = next(iter(pictures))
    write_png(tmp_path / "labels" / f"{bad}.png", np.zeros((H, W)))
    expected = {key: panoptic_expected(segments) for key, segments in pictures.items()}
    write_inferences(tmp_path / "inferences", expected, 8)
    status, report, err = run(capsys, "--coco-panoptic", "panoptic.json")
    assert status == 1 and len(report["images"]) == len(pictures) - 1, err
    status, lines = said(capsys, "--coco-panoptic", "panoptic.json")
    assert status == 1 and len(lines) == 1 and f"labels/{bad}.png" in lines[0] and "RGB" in lines[0]


# ---------------------------------------------------------------- 5: bad input

GOOD = [rectangle(5, 5, 30, 30)]


def bad_input_scene(root, kind):
    """Four good images and one (image 5) made bad by kind; returns (the words its line must hold,
    the id it is refused as)."""
    images = [{"id": i, "file_name": f"img{i}.jpg", "height": H, "width": W} for i in range(1, 6)]
    annotations = [{"id": 10 + i, "image_id": i, "category_id": 1, "iscrowd": 0,
                    "segmentation": GOOD} for i in range(1, 6)]
    bad = {"id": 77, "image_id": 5, "category_id": 1, "iscrowd": 0, "segmentation": GOOD}
    words, refused_as = ["f.json", "annotation 77"], "img5"
    if kind == "two points":
        bad["segmentation"] = [[1, 2, 30, 4]]
        words.append("4 numbers")
    elif kind == "two points after a good polygon":
        bad["segmentation"] = [rectangle(1, 1, 9, 9), [1, 2, 30, 4]]
        words.append("4 numbers")
    elif kind == "odd length":
        bad["segmentation"] = [[1, 2, 30, 4, 5, 30, 7]]
        words.append("7 numbers")
    elif kind == "rle size":
        bad["segmentation"] = {"size": [W, H], "counts": [H * W]}
        words.append(f"[{W}, {H}]")
    elif kind == "compressed rle size":
        bad["segmentation"] = compressed(box(0, 0, 5, 5, (H + 1, W)))
        words.append(f"[{H + 1}, {W}]")
    elif kind == "uncompressed rle total":
        bad["segmentation"] = {"size": [H, W], "counts": [10, H * W]}
        words.append(f"{H * W + 10} pixels")
    elif kind == "category":
        bad["category_id"] = 7
        words.append("category 7")
    elif kind == "image not listed":
        bad["image_id"] = 99
        words.append("99")
        refused_as = "99"
    elif kind == "sizes differ":
        images[4]["height"] = H + 1
        words = ["f.json#5", "inferences/img5.png", "sizes differ"]
    elif kind == "a vertex far out":  # pycocotools' drawing would take all memory, or crash
        bad["segmentation"] = [[1.5, 1e9, 10, 1, 10, 10]]
        words.append("far outside")
    elif kind == "no height":
        del images[4]["height"]
        words = ["f.json", "image 5", "no height"]
    if kind not in ("sizes differ", "no height"):
        annotations.append(bad)
    write_json(root / "f.json", {"images": images, "annotations": annotations,
                                 "categories": [{"id": 1, "name": "person"}]})
    for i in range(1, 6):
        write_png(root / "inferences" / f"img{i}.png", np.zeros((H, W)))
    return words, refused_as


BAD_INPUTS = ["two points", "two points after a good polygon", "odd length", "rle size",
              "compressed rle size", "uncompressed rle total", "category", "image not listed",
              "sizes differ", "a vertex far out", "no height"]


@pytest.mark.parametrize("kind", BAD_INPUTS)
def test_bad_input_is_said_naming_it_and_the_rest_is_scored(tmp_path, monkeypatch, capsys, kind):
    monkeypatch.chdir(tmp_path)
    words, refused_as = bad_input_scene(tmp_path, kind)
    status, report, err = run(capsys, "--coco-annotations", "f.json")
    assert status == 1, err
    [error] = [error for error in report["errors"] if all(word in error["error"] for word in words)]
    assert error["id"] == refused_as and "\n" not in error["error"]
    status, lines = said(capsys, "--coco-annotations", "f.json")
    assert status == 1 and len([line for line in lines if line.startswith("error: ")
                                and all(word in line for word in words)]) == 1, lines
    scored = {image["id"] for image in report["images"]}
    assert scored == {"img1", "img2", "img3", "img4"} | ({"img5"} if refused_as == "99" else set())
    assert report["combined"]["images"] == len(scored)


@pytest.mark.parametrize("kind", BAD_INPUTS)
def test_bad_input_is_one_line_on_stderr(tmp_path, monkeypatch, capsys, kind):
    monkeypatch.chdir(tmp_path)
    bad_input_scene(tmp_path, kind)
    status, lines = said(capsys, "--coco-annotations", "f.json")
    assert status == 1 and len(lines) == 1, lines
    status, report, err = run(capsys, "--coco-annotations", "f.json")
    assert len(report["errors"]) == 1, report["errors"]


@pytest.mark.parametrize("counts", [
    pytest.param(compressed(box(0, 0, 2 * H, W, (2 * H, W)))["counts"], id="beyond the image"),
    pytest.param("", id="empty"),
    pytest.param("~~~~", id="not COCO's alphabet"),
    pytest.param(compressed(box(0, 0, H // 2, W, (H // 2, W)))["counts"], id="short of the image"),
])
def test_compressed_runs_that_do_not_fit_the_image_refuse_it_in_one_line(tmp_path, monkeypatch,
                                                                          capsys, counts):
    monkeypatch.chdir(tmp_path)
    bad_input_scene(tmp_path, "category")  # then replace the bad annotation
    document = json.loads((tmp_path / "f.json").read_text())
    document["annotations"][-1].update(category_id=1, segmentation={"size": [H, W],
                                                                    "counts": counts})
    write_json(tmp_path / "f.json", document)
    status, report, err = run(capsys, "--coco-annotations", "f.json")
    assert status == 1, err
    errors = [error["error"] for error in report["errors"] if error["id"] == "img5"]
    assert any("annotation 77" in error for error in errors), errors
    assert not any("internal error" in error for error in errors), errors
    assert len(report["images"]) == 4


def test_an_unlisted_category_183_refuses_its_image_as_any_unlisted_category(tmp_path, monkeypatch,
                                                                              capsys):
    monkeypatch.chdir(tmp_path)
    bad_input_scene(tmp_path, "category")
    document = json.loads((tmp_path / "f.json").read_text())
    document["annotations"][-1]["category_id"] = 183
    write_json(tmp_path / "f.json", document)
    status, report, err = run(capsys, "--coco-annotations", "f.json")
    assert status == 1, err
    assert any("category 183" in error["error"] for error in report["errors"])
    assert "img5" not in {image["id"] for image in report["images"]}


def test_a_run_whose_every_image_is_refused_names_the_annotation_file(tmp_path, monkeypatch,
                                                                       capsys):
    monkeypatch.chdir(tmp_path)
    write_json(tmp_path / "f.json", {
        "images": [{"id": 1, "file_name": "a.jpg", "height": H, "width": W}],
        "annotations": [{"id": 2, "image_id": 1, "category_id": 7, "segmentation": GOOD}],
        "categories": [{"id": 1, "name": "person"}]})
    write_png(tmp_path / "inferences" / "a.png", np.zeros((H, W)))
    status, report, err = run(capsys, "--coco-annotations", "f.json")
    assert status == 2 and report is None
    first = err.splitlines()[0]
    assert first.startswith("error: ") and "f.json" in first and "None" not in first, err


@pytest.mark.parametrize("document,words", [
    ({"annotations": [], "categories": []}, "no 'images' list"),
    ({"images": [], "categories": []}, "no 'annotations' list"),
    ([{"images": []}], "no 'images' list"),
    ({"images": {}, "annotations": []}, "no 'images' list"),
    (None, "not JSON"),
])
@pytest.mark.parametrize("position", [0, 1])
def test_a_file_that_is_not_coco_stops_the_run_in_one_line(tmp_path, monkeypatch, capsys, document,
                                                           words, position):
    monkeypatch.chdir(tmp_path)
    bad_input_scene(tmp_path, "sizes differ")
    path = tmp_path / "bad.json"
    path.write_text("{not json" if document is None else json.dumps(document))
    files = ["f.json", "bad.json"] if position else ["bad.json", "f.json"]
    status, report, err = run(capsys, "--coco-annotations", *files)
    assert status == 2 and report is None
    assert err.count("\n") == 1 and err.startswith("error: bad.json: ") and words in err, err


def test_a_panoptic_json_that_is_not_coco_stops_the_run_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    pictures = panoptic_scene(tmp_path)
    write_inferences(tmp_path / "inferences", {key: panoptic_expected(segments)
                                               for key, segments in pictures.items()}, 8)
    write_json(tmp_path / "panoptic.json", {"images": [], "categories": []})
    status, report, err = run(capsys, "--coco-panoptic", "panoptic.json")
    assert status == 2 and report is None
    assert err.count("\n") == 1 and "panoptic.json" in err and "'annotations'" in err, err


# ---------------------------------------------------------------- 6: everything else works

def test_shards_merge_into_the_single_runs_report(coco_scene, tmp_path, capsys):
    status, whole, err = run(capsys, "--coco-annotations", "f.json")
    assert status == 0, err
    for k in (1, 2):
        status, shard, err = run(capsys, "--coco-annotations", "f.json", "--shard", f"{k}/2")
        assert status == 0 and 0 < len(shard["images"]) < 5, err
        write_json(tmp_path / f"shard{k}.json", shard)
    status, merged, err = run(capsys, "--merge", "shard1.json", "shard2.json")
    assert status == 0, err
    assert merged == whole
    # A shard made from another annotation file (same name, other bytes) does not merge.
    document, _, _ = coco_scene
    document["annotations"][0]["segmentation"] = [rectangle(2, 2, 15, 12)]
    write_json(tmp_path / "other" / "f.json", document)
    status, other, err = run(capsys, "--coco-annotations", "other/f.json", "--shard", "2/2")
    assert status == 0, err
    assert other["coco"]["files"][0]["name"] == "f.json"
    assert other["coco"]["files"][0]["sha256"] != whole["coco"]["files"][0]["sha256"]
    write_json(tmp_path / "other.json", other)
    status, merged, err = run(capsys, "--merge", "shard1.json", "other.json")
    assert status == 2 and merged is None
    assert err.count("\n") == 1 and "coco" in err, err


def test_boundary_and_bootstrap_equal_png_labels_with_valid_masks(coco_scene, tmp_path, capsys):
    """The drawn labels, written as PNGs with the pixels counted as valid masks, give the same report
    (but for the labels' names and what was left out) with --boundary and --bootstrap."""
    for key, (_, image) in tool.read_coco_annotations([Path("f.json")]).labels.items():
        ids, valid, _ = tool.rasterised(image)
        write_png(tmp_path / "labels" / f"{key}.png", ids)
        write_png(tmp_path / "valid" / f"{key}.png", np.ones(ids.shape) if valid is None else valid)
    options = ("--boundary", "--bootstrap", "100")
    status, coco, err = run(capsys, "--coco-annotations", "f.json", "--class-names", "coco", *options)
    assert status == 0, err
    (tmp_path / "names.txt").write_text("".join(f"{k}: {v}\n" for k, v in coco["class_names"].items()))
    status, png, err = run(capsys, "--valid-masks", "valid", "--class-names", "names.txt", *options)
    assert status == 0, err
    assert "confidence_intervals" in coco["combined"]
    assert all("boundary_iou" in row for row in coco["combined"]["classes"].values())
    assert coco["class_names"] == png["class_names"]
    coco_images, coco_combined = numbers(coco)
    png_images, png_combined = numbers(png)
    assert [{k: v for k, v in image.items() if k != "left_out"} for image in coco_images] == png_images
    assert {k: v for k, v in coco_combined.items() if k != "left_out"} == png_combined


def test_the_report_folder_finds_the_camera_picture_by_file_name(coco_scene, tmp_path, capsys):
    document, expected, _ = coco_scene
    rng = np.random.default_rng(9)
    (tmp_path / "pictures").mkdir()
    for image in document["images"]:  # by the file name (without its folder), in its format
        picture = rng.integers(0, 255, (image["height"], image["width"], 3), np.uint8)
        Image.fromarray(picture).save(tmp_path / "pictures" / Path(image["file_name"]).name)
    status = tool.main(["--coco-annotations", "f.json", "--images", "pictures", "--output-dir", "out",
                        "--quiet"])
    err = capsys.readouterr().err
    assert status == 0, err
    assert "overlays are drawn on the label's class colours" not in err
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert sorted(image["id"] for image in report["images"]) == sorted(expected)
    assert report["coco"]["files"][0]["name"] == "f.json"
    for key in expected:
        assert (tmp_path / "out" / "reports" / f"{key}.html").is_file()
        assert [path.name for path in (tmp_path / "out" / "pictures").glob(f"{key}.*")]
    assert (tmp_path / "out" / "pictures" / "000000000004.png").is_file()  # its own format
    assert (tmp_path / "out" / "index.html").is_file()


def test_the_camera_picture_of_a_file_name_with_a_folder_is_found_there(coco_scene, tmp_path,
                                                                         capsys):
    document, _, _ = coco_scene
    [image] = [image for image in document["images"] if "/" in image["file_name"]]
    path = tmp_path / "pictures" / image["file_name"]
    path.parent.mkdir(parents=True)
    Image.fromarray(np.zeros((image["height"], image["width"], 3), np.uint8)).save(path)
    status = tool.main(["--coco-annotations", "f.json", "--images", "pictures", "--output-dir",
                        "out", "--quiet"])
    assert status == 0
    assert list((tmp_path / "out" / "pictures").glob(f"{key_of(image)}.*"))


def test_workers_give_the_same_report(coco_scene, capsys):
    status, one, err = run(capsys, "--coco-annotations", "f.json", "--jobs", "1")
    assert status == 0, err
    status, two, err = run(capsys, "--coco-annotations", "f.json", "--jobs", "2")
    assert status == 0, err
    assert two == one


@pytest.mark.parametrize("args,words", [
    (["--coco-annotations", "f.json", "--coco-panoptic", "f.json"], "give one"),
    (["--coco-contiguous"], "--coco-contiguous"),
    (["--coco-annotations", "f.json", "--labels", "elsewhere"], "--labels"),
    (["--coco-annotations", "f.json", "--label-encoding", "kitti-road"], "--label-encoding"),
])
def test_options_that_cannot_go_with_coco_are_usage_errors(coco_scene, capsys, args, words):
    with pytest.raises(SystemExit) as stop:
        tool.main(args)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and words in err.splitlines()[-1], err


def test_compare_two_models_reports(coco_scene, tmp_path, capsys):
    document, expected, inferences = coco_scene
    better = write_inferences(tmp_path / "better", expected, 10, right=0.9)
    status, first, err = run(capsys, "--coco-annotations", "f.json")
    assert status == 0, err
    status, second, err = run(capsys, "--coco-annotations", "f.json", "--inferences", "better")
    assert status == 0, err
    check_numbers(second, expected, better)
    write_json(tmp_path / "a.json", first)
    write_json(tmp_path / "b.json", second)
    status, comparison, err = run(capsys, "--compare", "a.json", "b.json", "--bootstrap", "200")
    assert status == 0, err
    assert comparison["baseline"]["mean_iou"] == first["combined"]["mean_iou"]
    [entry] = comparison["comparisons"]
    assert entry["mean_iou"] == second["combined"]["mean_iou"]
    assert entry["delta"]["mean_iou"] == pytest.approx(second["combined"]["mean_iou"]
                                                       - first["combined"]["mean_iou"])
    assert entry["delta"]["mean_iou"] > 0
    assert comparison["baseline"]["images"] == len(expected)


def test_compare_refuses_reports_of_other_annotation_files(coco_scene, tmp_path, capsys):
    document, _, _ = coco_scene
    status, first, err = run(capsys, "--coco-annotations", "f.json")
    assert status == 0, err
    document["annotations"][0]["segmentation"] = [rectangle(2, 2, 15, 12)]
    write_json(tmp_path / "other" / "f.json", document)
    status, second, err = run(capsys, "--coco-annotations", "other/f.json")
    assert status == 0, err
    write_json(tmp_path / "a.json", first)
    write_json(tmp_path / "b.json", second)
    status, comparison, err = run(capsys, "--compare", "a.json", "b.json")
    assert status == 2 and comparison is None and "coco" in err, err


# ---------------------------------------------------------------- 7: instances and stuff merged

def stuff_scene(root, with_other=True):
    """instances.json (things 1, 3) and stuff.json (stuff 149 road, 157 sky-other, and 183 'other'
    over the things' pixels) of the same two images; the road covers a little of the car."""
    things = {"images": [{"id": i, "file_name": f"s{i}.jpg", "height": H, "width": W}
                         for i in (1, 2)],
              "annotations": [
                  {"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0,
                   "segmentation": [rectangle(5, 5, 20, 30)]},
                  {"id": 2, "image_id": 1, "category_id": 3, "iscrowd": 0,
                   "segmentation": [[30, 20, 55, 20, 55, 36, 30, 36]]},
                  {"id": 3, "image_id": 2, "category_id": 1, "iscrowd": 1,
                   "segmentation": {"size": [H, W], "counts": runs_of(box(0, 0, 10, 10))}}],
              "categories": [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}]}
    write_json(root / "instances.json", things)
    coco = load_coco(root / "instances.json")
    stuff_annotations, number = [], 100
    for image_id in (1, 2):
        thing = np.zeros((H, W), bool)
        for annotation in coco.loadAnns(coco.getAnnIds(imgIds=[image_id])):
            thing |= coco.annToMask(annotation).astype(bool)
        sky = box(0, 0, 15, W) & ~thing
        road = box(32, 0, H, W)  # over the car's bottom rows
        for category, mask in ((157, sky), (149, road), (183, thing)):
            if mask.any() and (category != 183 or with_other):
                stuff_annotations.append({"id": number, "image_id": image_id,
                                          "category_id": category, "iscrowd": 0,
                                          "segmentation": compressed(mask)})
                number += 1
    categories = [{"id": 149, "name": "road"}, {"id": 157, "name": "sky-other"}]
    write_json(root / "stuff.json", {
        "images": things["images"], "annotations": stuff_annotations,
        "categories": categories + ([{"id": 183, "name": "other"}] if with_other else [])})


def test_instances_and_stuff_files_merge_and_other_is_left_out(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    stuff_scene(tmp_path)
    paths = [tmp_path / "instances.json", tmp_path / "stuff.json"]
    expected = expected_labels(paths)
    assert expected["s1"][2]["overlap"] > 0  # road over car
    inferences = write_inferences(tmp_path / "inferences", expected, 11, ids=(0, 1, 3, 149, 157, 183))
    status, report, err = run(capsys, "--coco-annotations", "instances.json", "stuff.json",
                              quiet=False)
    assert status == 0, err
    assert "note: the stuff category 183 ('other') is left out" in err
    check_numbers(report, expected, inferences)
    assert report["coco"]["classes"] == {"1": 1, "3": 3, "149": 149, "157": 157}
    assert report["class_names"] == {"0": "background", "1": "person", "3": "car", "149": "road",
                                     "157": "sky-other"}
    assert [file["name"] for file in report["coco"]["files"]] == ["instances.json", "stuff.json"]
    for file in report["coco"]["files"]:
        data = Path(file["name"]).read_bytes()
        assert file == {"name": file["name"], "bytes": len(data),
                        "sha256": hashlib.sha256(data).hexdigest()}
    assert {image["label"] for image in report["images"]} == {"instances.json+stuff.json#1",
                                                              "instances.json+stuff.json#2"}
    # numbered 1..N over both files
    order = {1: 1, 3: 2, 149: 3, 157: 4}
    expected = expected_labels(paths, order)
    inferences = write_inferences(tmp_path / "contiguous", expected, 12, ids=range(6))
    status, report, err = run(capsys, "--coco-annotations", "instances.json", "stuff.json",
                              "--coco-contiguous", "--inferences", "contiguous")
    assert status == 0, err
    assert report["coco"]["classes"] == {str(k): v for k, v in order.items()}
    check_numbers(report, expected, inferences)


def test_stuff_alone_keeps_other(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    stuff_scene(tmp_path)
    expected = expected_labels([tmp_path / "stuff.json"])
    assert any((label == 183).any() for label, _, _ in expected.values())
    inferences = write_inferences(tmp_path / "inferences", expected, 13, ids=(0, 149, 157, 183))
    status, report, err = run(capsys, "--coco-annotations", "stuff.json", quiet=False)
    assert status == 0, err
    assert "183" not in err
    assert report["coco"]["classes"] == {"149": 149, "157": 157, "183": 183}
    check_numbers(report, expected, inferences)


# ---------------------------------------------------------------- 8: the presets

# COCO-Stuff's 171 classes in category-id order (cocostuff's labels.txt), typed here independently
COCO_STUFF_NAMES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
    "banner", "blanket", "branch", "bridge", "building-other", "bush", "cabinet", "cage",
    "cardboard", "carpet", "ceiling-other", "ceiling-tile", "cloth", "clothes", "clouds",
    "counter", "cupboard", "curtain", "desk-stuff", "dirt", "door-stuff", "fence", "floor-marble",
    "floor-other", "floor-stone", "floor-tile", "floor-wood", "flower", "fog", "food-other",
    "fruit", "furniture-other", "grass", "gravel", "ground-other", "hill", "house", "leaves",
    "light", "mat", "metal", "mirror-stuff", "moss", "mountain", "mud", "napkin", "net", "paper",
    "pavement", "pillow", "plant-other", "plastic", "platform", "playingfield", "railing",
    "railroad", "river", "road", "rock", "roof", "rug", "salad", "sand", "sea", "shelf",
    "sky-other", "skyscraper", "snow", "solid-other", "stairs", "stone", "straw",
    "structural-other", "table", "tent", "textile-other", "towel", "tree", "vegetable",
    "wall-brick", "wall-concrete", "wall-other", "wall-panel", "wall-stone", "wall-tile",
    "wall-wood", "water-other", "waterdrops", "window-blind", "window-other", "wood")
# the stuffthingmaps values no class has: the 11 thing ids COCO dropped, minus 1
UNUSED = (11, 25, 28, 29, 44, 65, 67, 68, 70, 82, 90)
# a few by hand from the table (stuffthingmaps value = category id - 1)
SPOT_CHECKS = {0: "person", 12: "stop sign", 26: "backpack", 45: "wine glass", 66: "dining table",
               69: "toilet", 71: "tv", 83: "book", 89: "toothbrush", 91: "banner", 123: "grass",
               156: "sky-other", 181: "wood"}


def preset_names(tmp_path, monkeypatch, capsys, preset):
    """The class names and ignore index the head of a PNG-label run with --class-names preset gives."""
    monkeypatch.chdir(tmp_path)
    write_png(tmp_path / "labels" / "a.png", [[0, 1], [2, 255]])
    write_png(tmp_path / "inferences" / "a.png", [[0, 1], [2, 3]])
    report = json_run(capsys, "--class-names", preset)
    return {int(k): v for k, v in report["class_names"].items()}, report["ignore_index"]


def test_the_coco_stuff_preset_is_cocostuffs_table(tmp_path, monkeypatch, capsys):
    assert len(COCO_STUFF_NAMES) == 171 and len(set(COCO_STUFF_NAMES)) == 171
    values = [value for value in range(182) if value not in UNUSED]
    table = dict(zip(values, COCO_STUFF_NAMES))
    assert all(table[value] == name for value, name in SPOT_CHECKS.items())
    names, ignore_index = preset_names(tmp_path, monkeypatch, capsys, "coco-stuff")
    assert names == {**table, 255: "unlabeled"} and ignore_index == 255


def test_the_coco_preset_is_background_and_the_80_things(tmp_path, monkeypatch, capsys):
    names, ignore_index = preset_names(tmp_path, monkeypatch, capsys, "coco")
    things = [value + 1 for value in range(91) if value not in UNUSED]
    assert len(things) == 80 and len(names) == 81 and ignore_index is None
    assert names == {0: "background", **dict(zip(things, COCO_STUFF_NAMES[:80]))}


def test_coco_stuff_names_stuffthingmaps_not_categories(coco_scene, capsys):
    """--class-names coco-stuff names PNG values (category id - 1): with COCO's files it is refused."""
    with pytest.raises(SystemExit) as stop:
        tool.main(["--coco-annotations", "f.json", "--class-names", "coco-stuff"])
    assert stop.value.code == 2 and "coco-stuff" in capsys.readouterr().err


# ---------------------------------------------------------------- the README's commands

def readme_coco_commands():
    """The commands of the README's COCO section, with the comment line above each."""
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = text.split("### COCO: annotation files, panoptic PNGs, COCO-Stuff", 1)[1].split("```", 2)[1]
    lines = block.strip().splitlines()
    return [(lines[k - 1], line) for k, line in enumerate(lines) if line.startswith("python ")]


def stuff_document(things):
    """COCO-Stuff's annotation file for the scene's images: one compressed run-length encoding per
    category and image, where no thing is, and 'other' (183) over the things."""
    images = things["images"]
    annotations, expected = [], expected_labels_of(things)
    for image in images:
        label, _, _ = expected[key_of(image)]
        free = label == 0
        half = np.zeros(label.shape, bool)
        half[:, : label.shape[1] // 2] = True
        for category, mask in ((149, free & half), (157, free & ~half), (183, ~free)):
            if mask.any():
                annotations.append({"id": len(annotations) + 1, "image_id": image["id"],
                                    "category_id": category, "iscrowd": 0,
                                    "segmentation": compressed(mask)})
    return {"images": images, "annotations": annotations,
            "categories": [{"id": 149, "name": "road"}, {"id": 157, "name": "sky-other"},
                           {"id": 183, "name": "other"}]}


def expected_labels_of(document):
    path = Path("scene-for-stuff.json")
    write_json(path, document)
    return expected_labels([path])


@pytest.mark.parametrize("comment, command", readme_coco_commands(), ids=lambda text: text[:40])
def test_each_readme_coco_command_scores_its_layout(comment, command, tmp_path, monkeypatch, capsys):
    """Each command of the README's COCO section, exactly as written, in COCO's own layout: every
    image scored, no error, no doubt about the numbers."""
    monkeypatch.chdir(tmp_path)
    things = scene()
    annotations = tmp_path / "annotations"
    write_json(annotations / "instances_val2017.json", things)
    write_json(annotations / "stuff_val2017.json", stuff_document(things))
    args = shlex.split(command)[2:]
    if "--coco-annotations" in args:
        files = args[args.index("--coco-annotations") + 1:]
        files = [Path(name) for name in files[: next((k for k, word in enumerate(files)
                                                      if word.startswith("--")), len(files))]]
        expected = expected_labels(files)
        if "--coco-contiguous" in args:
            classes = {category: number for number, category in enumerate(sorted(
                {category["id"] for name in files for category in json.loads(name.read_text())[
                    "categories"]} - {183}), start=1)}
            expected = {key: (np.vectorize(lambda c: classes.get(c, 0))(label).astype(np.uint8),
                              valid, left) for key, (label, valid, left) in expected.items()}
    elif "--coco-panoptic" in args:
        segments = panoptic_scene(tmp_path / "annotations", count=3)
        (annotations / "labels").rename(annotations / "panoptic_val2017")
        (annotations / "panoptic.json").rename(annotations / "panoptic_val2017.json")
        expected = {key: panoptic_expected(value) for key, value in segments.items()}
    else:  # COCO-Stuff's PNGs: category id - 1, 255 where no annotation is
        expected = {}
        for key, (label, valid, left) in expected_labels([annotations / "instances_val2017.json"]).items():
            png = np.where(label == 0, 255, label.astype(int) - 1).astype(np.uint8)
            write_png(tmp_path / "stuffthingmaps_trainval2017" / "val2017" / f"{key}.png", png)
            expected[key] = (png, valid & (png != 255), left)
    write_inferences(tmp_path / "predictions", {key: value[:1] + (None, None)
                                               for key, value in expected.items()}, 3,
                     ids=sorted({int(v) for label, *_ in expected.values() for v in np.unique(label)}))
    status, report, err = run(capsys, *args)
    assert status == 0, err
    assert report["errors"] == [] and len(report["images"]) == len(expected)
    assert not [warning for warning in report["warnings"] if "differently" in warning]
