"""The report folder's pictures and pages: class-coloured masks, the "predicted as" overlay, heat maps at
any class count, and the pages as a browser shows them (headless Chromium)."""

import html.parser
import json
import re
import urllib.parse

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, dom_attribute as attribute, needs_chromium, render, tool

SAMPLE_IDS = [f"{n:06d}_10" for n in range(10)]


def ids_from_colours(path):
    """The ids a class-coloured PNG shows, read back through the colour map (by colour, not by index)."""
    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB")).astype(np.int64)
    codes = rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2]
    lookup = {r << 16 | g << 8 | b: class_id for class_id, (r, g, b) in enumerate(tool.class_colours().tolist())}
    return np.vectorize(lookup.__getitem__, otypes=[np.uint8])(codes)


def colour_counts(image):
    """{(r, g, b): pixels} of the opaque pixels of an image (a layer's transparent pixels are not drawn)."""
    rgba = np.asarray(image.convert("RGBA")).reshape(-1, 4)
    colours, counts = np.unique(rgba[rgba[:, 3] == 255, :3], axis=0, return_counts=True)
    return {tuple(colour): int(count) for colour, count in zip(colours.tolist(), counts)}


def assert_predicted_as_counts_the_errors(image, label, inference, ignore_index, dataset=None):
    """Each class colour (the dataset's) is on exactly the pixels predicted as a class of that colour
    that are wrong, and every other pixel is transparent or (ignored) IGNORED_COLOUR."""
    matrix = tool.count_matrix(label, inference, ignore_index)
    off_diagonal = matrix.copy()
    np.fill_diagonal(off_diagonal, 0)
    seen, expected = colour_counts(image), {}
    for class_id, colour in enumerate(tool.class_colours(dataset).tolist()):  # two ids may share one
        expected[tuple(colour)] = expected.get(tuple(colour), 0) + off_diagonal[:, class_id].sum()
    for colour, pixels in expected.items():
        assert seen.get(colour, 0) == pixels, colour
    ignored = int((label == ignore_index).sum()) if ignore_index is not None else 0
    assert seen.get(tool.IGNORED_COLOUR, 0) == ignored
    assert sum(seen.values()) == off_diagonal.sum() + ignored  # nothing else is drawn


@pytest.fixture(scope="module")
def sample_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("samples")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        assert tool.main(["--output-dir", str(folder), "--quiet", "--format", "json", "--bootstrap", "200",
                          "--boundary"]) == 0
    return folder


def test_class_coloured_masks_decode_back_to_the_exact_ids(sample_folder):
    for image_id in SAMPLE_IDS:
        for what, source in (("label_colours", "labels"), ("inference_colours", "inferences")):
            expected = tool.read_mask(ROOT / source / f"{image_id}.png")[0]
            np.testing.assert_array_equal(ids_from_colours(sample_folder / what / f"{image_id}.png"), expected)


def test_the_predicted_as_overlay_counts_the_off_diagonal_cells_exactly(sample_folder):
    for image_id in SAMPLE_IDS:
        label, inference = (tool.read_mask(ROOT / folder / f"{image_id}.png")[0] for folder in ("labels", "inferences"))
        with Image.open(sample_folder / "predicted_as" / f"{image_id}.png") as image:
            assert image.mode == "P"
            assert_predicted_as_counts_the_errors(image, label, inference, 255)


@pytest.mark.parametrize("ignore_index", [255, None])
@pytest.mark.parametrize("wrong_ids", [3, 200, 255])  # the last two leave fewer greys, then no palette
def test_the_predicted_as_overlay_on_any_number_of_wrong_classes(wrong_ids, ignore_index):
    rng = np.random.default_rng(wrong_ids)
    label = np.zeros((40, 64), np.uint8)
    inference = rng.integers(1, wrong_ids + 1, label.shape).astype(np.uint8)
    inference[:8] = 0  # some correct pixels
    label[-4:] = 255
    image = tool.predicted_as_layer(label, inference, ignore_index)
    assert image.mode == ("RGBA" if wrong_ids == 255 else "P")  # 255 wrong ids leave one free: no room
    assert_predicted_as_counts_the_errors(image, label, inference, ignore_index)


def test_heat_maps_stay_readable_and_small_at_any_class_count():
    for classes in (3, 19, 150, 256):
        matrix = np.diag(np.full(classes, 50))
        matrix[np.arange(classes), np.roll(np.arange(classes), 1)] = 7
        full = np.zeros((256, 256), np.int64)
        full[:classes, :classes] = matrix
        report = tool.compute_report(full)
        image = tool.draw_heat_map(report, tool.DATASETS["ade20k"].names, f"{classes} classes")
        assert max(image.size) <= tool.HEAT_MAP_SIDE + 500
        assert len(image.getcolors(1 << 20)) > 10  # drawn, not blank


class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.navigation, self.in_nav = [], False

    def handle_starttag(self, tag, attributes):
        if tag == "nav":
            self.in_nav = True
        elif tag == "a" and self.in_nav:
            self.navigation.append(dict(attributes)["href"])

    def handle_endtag(self, tag):
        if tag == "nav":
            self.in_nav = False


def test_previous_and_next_follow_the_index_pages_order(sample_folder):
    document = json.loads((sample_folder / "report.json").read_text())
    order = [image["id"] for image in sorted(document["images"], key=lambda image: (image["mean_iou"],
                                                                                     tool.natural_key(image["id"])))]
    for index, image_id in enumerate(order):
        parser = Links()
        parser.feed((sample_folder / "reports" / f"{image_id}.html").read_text())
        expected = ["../index.html"] + ([f"{order[index - 1]}.html"] if index else []) + (
            [f"{order[index + 1]}.html"] if index + 1 < len(order) else [])
        assert parser.navigation == expected


def assert_image_page_complete(page, tmp_path, class_names, labels, screenshot=None):
    dom = render(page, tmp_path, screenshot, height=2000)
    assert attribute(dom, "images") == attribute(dom, "loaded") != "0"  # every picture loaded, none broken
    assert int(attribute(dom, "images")) >= 5  # picture or not, label, prediction and both overlays
    legend = attribute(dom, "legend").split("|")
    assert legend == [tool._class_title(class_id, class_names.get(class_id)).strip() for class_id in labels]
    return dom


@needs_chromium
def test_the_sample_pages_in_a_browser(sample_folder, tmp_path):
    dom = render(sample_folder / "index.html", tmp_path, tmp_path / "index.png", height=2600)
    assert attribute(dom, "images") == attribute(dom, "loaded") == str(1 + len(SAMPLE_IDS))
    assert dom.count('class="track"') == 19  # a bar per class
    document = json.loads((sample_folder / "report.json").read_text())
    worst = min(document["images"], key=lambda image: image["mean_iou"])
    names = tool.read_class_names(str(ROOT / "labels" / "class_names.txt"))[0]
    page_dom = assert_image_page_complete(sample_folder / "reports" / f"{worst['id']}.html", tmp_path, names,
                                          worst["confusion_matrix"]["labels"], tmp_path / "image.png")
    assert '<table class="matrix">' in page_dom  # 13 ids: the matrix as a table
    # Next works: following it reaches the second worst image's page.
    following = urllib.parse.unquote(attribute(page_dom, "next")).replace("probe-", "")
    second = sorted(document["images"], key=lambda image: image["mean_iou"])[1]["id"]
    assert following.endswith(f"/reports/{second}.html")
    assert f"<h1>{second}</h1>" in render(sample_folder / "reports" / f"{second}.html", tmp_path)


@needs_chromium
def test_a_150_class_set_in_a_browser(tmp_path, capsys):
    rng = np.random.default_rng(150)
    for folder in ("labels", "inferences", "images"):
        (tmp_path / folder).mkdir()
    for index in range(10):  # blocks of 150 classes; each mask holds a share of them
        label = np.repeat(np.repeat(rng.integers(0, 150, (12, 16)), 5, 0), 5, 1).astype(np.uint8)
        inference = np.where(rng.random(label.shape) < 0.8, label, rng.integers(0, 150, label.shape)).astype(np.uint8)
        Image.fromarray(label).save(tmp_path / "labels" / f"scene{index}.png")
        Image.fromarray(inference).save(tmp_path / "inferences" / f"scene{index}.png")
        Image.fromarray(rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)).save(tmp_path / "images" / f"scene{index}.png")
    out = tmp_path / "report"
    assert tool.main(["--labels", str(tmp_path / "labels"), "--inferences", str(tmp_path / "inferences"),
                      "--images", str(tmp_path / "images"), "--class-names", "ade20k", "--output-dir", str(out),
                      "--quiet", "--format", "json"]) == 0
    dom = render(out / "index.html", tmp_path, tmp_path / "index150.png", height=2600)
    assert attribute(dom, "images") == attribute(dom, "loaded") == "11"
    with Image.open(out / "confusion_matrix.png") as heat_map:
        assert max(heat_map.size) <= tool.HEAT_MAP_SIDE + 500
    document = json.loads((out / "report.json").read_text())
    image = document["images"][0]
    page = out / "reports" / "scene0.html"
    capsys.readouterr()
    assert re.search(r'<img class="[^"]*pixelated', page.read_text())  # 80x60 masks, enlarged: sharp blocks
    # Past MAX_MATRIX_TABLE_IDS ids the page links the matrix's CSV instead of a table of every cell.
    ids = len(image["confusion_matrix"]["labels"])
    assert ids > tool.MAX_MATRIX_TABLE_IDS and '<table class="matrix">' not in page.read_text()
    assert f'its matrix of {ids ** 2} cells is in <a href="../matrices/scene0.csv">its CSV</a>' in page.read_text()
    assert page.stat().st_size < 200_000
    for index in range(10):
        label, inference = (tool.read_mask(tmp_path / folder / f"scene{index}.png")[0]
                            for folder in ("labels", "inferences"))
        with Image.open(out / "predicted_as" / f"scene{index}.png") as predicted_as:
            assert_predicted_as_counts_the_errors(predicted_as, label, inference, None, "ade20k")
    assert_image_page_complete(page, tmp_path, tool.DATASETS["ade20k"].names,
                               image["confusion_matrix"]["labels"], tmp_path / "image150.png")
