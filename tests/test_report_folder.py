"""--output-dir: the report folder's files, their numbers against the JSON, the pictures and the page."""

import contextlib
import csv
import html.parser
import io
import json
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, needs_chromium, render, tool

SAMPLE_IDS = [f"{n:06d}_10" for n in range(10)]


@pytest.fixture(scope="module")
def report_folder(tmp_path_factory):
    """The report folder of the samples (with --plots-per-image), and the run's stdout and JSON."""
    folder = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        outputs = {}
        for name, args in (("plain", []), ("json", ["--format", "json"]),
                           ("folder", ["--output-dir", str(folder), "--plots-per-image", "--quiet"])):
            stdout = io.StringIO()
            with contextlib.redirect_stdout(stdout):
                assert tool.main(["--ignore-index", "255", *args]) == 0
            outputs[name] = stdout.getvalue()
    return folder, outputs


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def number(text):
    return None if text == "" else float(text)


def test_every_file_is_written_and_the_console_output_is_unchanged(report_folder):
    folder, outputs = report_folder
    expected = ["report.json", "summary.csv", "classes.csv", "headline.csv", "combined.csv",
                "per_case.csv", "confusion_matrix.csv", "confusion_matrix.png", "index.html"]
    for image_id in SAMPLE_IDS:
        expected += [f"{folder}/{image_id}{'.png' if what == 'picture' else suffix}"  # the picture's own suffix
                     for what, (folder, suffix) in tool.IMAGE_FILES.items()
                     if what != "curve"]  # score maps' curves only with --scores
    assert sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()) \
        == sorted(expected)  # and no temporary file is left behind
    assert outputs["folder"] == outputs["plain"]


def test_report_json_is_the_json_output(report_folder):
    folder, outputs = report_folder
    assert (folder / "report.json").read_text(encoding="utf-8") == outputs["json"]


def test_csv_numbers_equal_the_json(report_folder):
    folder, outputs = report_folder
    document = json.loads(outputs["json"])
    summary = read_csv(folder / "summary.csv")
    assert summary[0] == ["id", "pixels", "accuracy", "mean_iou", "macro_f1", "worst_class_id",
                          "worst_class_name", "worst_class_iou"]
    headline = read_csv(folder / "headline.csv")  # every headline number of each image
    assert headline[0] == ["id", *(key for key, measure in tool.MEASURES.items() if not (measure.boundary or measure.scores or measure.groups
                                                                           or measure.instances or measure.distances))]
    for row, report in zip(headline[1:], document["images"]):
        assert row[0] == report["id"]
        assert [number(value) for value in row[1:]] == [report[key] for key in headline[0][1:]]
    reports = document["images"]  # the per-image tables hold images only; the combined set has its files
    assert [row[0] for row in summary[1:]] == [report["id"] for report in reports]
    for row, report in zip(summary[1:], reports):
        assert int(row[1]) == report["pixels"]
        assert (number(row[2]), number(row[3]), number(row[4])) == (
            report["accuracy"], report["mean_iou"], report["macro_avg"]["f1_score"])
        # the worst class is the labelled one with the lowest IoU
        worst = min((entry["iou"], int(class_id)) for class_id, entry in report["classes"].items()
                    if entry["support"] > 0)
        assert (number(row[7]), int(row[5])) == worst
        assert row[6] == report["classes"][str(worst[1])]["name"]

    classes = read_csv(folder / "classes.csv")
    assert classes[0] == ["id", "class_id", "name", "precision", "recall", "f1_score", "iou", "specificity",
                          "support", "occurs_in"]
    m = len(tool.CLASS_METRICS)
    expected = [(report["id"], class_id, entry) for report in reports
                for class_id, entry in report["classes"].items()]
    assert len(classes) - 1 == len(expected)
    for row, (image_id, class_id, entry) in zip(classes[1:], expected):
        assert row[:3] == [image_id, class_id, entry["name"] or ""]
        assert [number(value) for value in row[3:3 + m]] == [entry[metric] for metric in tool.CLASS_METRICS]
        assert (int(row[3 + m]), row[4 + m]) == (entry["support"], entry["occurs_in"])

    combined = document["combined"]
    rows = read_csv(folder / "combined.csv")
    assert rows[0] == classes[0][1:]
    assert [row[0] for row in rows[1:]] == [*combined["classes"], "", ""]
    for row, (class_id, entry) in zip(rows[1:], combined["classes"].items()):
        assert row[1] == (entry["name"] or "")
        assert [number(value) for value in row[2:2 + m]] == [entry[metric] for metric in tool.CLASS_METRICS]
        assert (int(row[2 + m]), row[3 + m]) == (entry["support"], entry["occurs_in"])
    for row, key in zip(rows[-2:], ("macro_avg", "weighted_avg")):
        assert row[1] == key.replace("_", " ")
        assert [number(value) for value in row[2:2 + m]] == [combined[key][metric] for metric in tool.CLASS_METRICS]

    matrices = [(folder / "matrices" / f"{report['id']}.csv", report) for report in reports]
    for path, report in matrices + [(folder / "confusion_matrix.csv", combined)]:
        rows = read_csv(path)
        labels = report["confusion_matrix"]["labels"]
        assert rows[0] == ["label \\ inference", *map(str, labels)]
        assert [int(row[0]) for row in rows[1:]] == labels
        assert [[int(value) for value in row[1:]] for row in rows[1:]] == report["confusion_matrix"]["matrix"]


def test_pictures_open_at_their_sizes_and_overlays_count_the_errors(report_folder):
    folder, outputs = report_folder
    document = json.loads(outputs["json"])
    with Image.open(folder / "confusion_matrix.png") as heat_map:
        assert heat_map.format == "PNG" and min(heat_map.size) > 400
    for image in document["images"]:
        with Image.open(folder / "overlays" / f"{image['id']}.png") as overlay:
            assert overlay.size == (1242, 375) and overlay.mode == "P"  # a byte a pixel: fast and lossless
            painted = np.asarray(overlay.convert("RGBA"))
            assert (painted[..., 3] == 0).sum() > 0.5 * painted[..., 3].size  # correct pixels: transparent
            painted = painted[..., :3]
        with Image.open(folder / "thumbnails" / f"{image['id']}.jpg") as thumbnail:
            assert thumbnail.size == (tool.THUMBNAIL_WIDTH, round(375 * tool.THUMBNAIL_WIDTH / 1242))
        with Image.open(folder / "plots" / f"{image['id']}.png") as plot:
            assert plot.format == "PNG"
        matrix = np.array(image["confusion_matrix"]["matrix"])
        wrong = int((painted == tool.WRONG_COLOUR).all(axis=2).sum())
        assert wrong == matrix.sum() - np.trace(matrix)
        label = tool.read_mask(ROOT / "labels" / f"{image['id']}.png")[0]
        assert int((painted == tool.IGNORED_COLOUR).all(axis=2).sum()) == int((label == 255).sum())


def test_workers_write_the_same_folder(report_folder, tmp_path, monkeypatch, capsys):
    folder, _ = report_folder
    monkeypatch.chdir(ROOT)
    assert tool.main(["--ignore-index", "255", "--jobs", "2", "--output-dir", str(tmp_path)]) == 0
    for name in ("report.json", "summary.csv", "classes.csv", "overlays/000007_10.png", "index.html"):
        assert (tmp_path / name).read_bytes() == (folder / name).read_bytes()


def test_missing_pictures_fall_back_to_label_colours_and_are_said_once(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    (tmp_path / "no-pictures").mkdir()
    status = tool.main(["--output-dir", str(tmp_path / "out"), "--images", str(tmp_path / "no-pictures")])
    err = capsys.readouterr().err
    assert status == 0
    assert err.count("note: 10 overlays are drawn on the label's class colours") == 1
    # Without a camera picture, the page lays the errors on the label's colours at half brightness.
    page = (tmp_path / "out" / "reports" / "000000_10.html").read_text()
    assert '<img class="half" src="../label_colours/000000_10.png"' in page
    assert not (tmp_path / "out" / "pictures" / "000000_10.jpg").exists()
    with Image.open(tmp_path / "out" / "thumbnails" / "000000_10.jpg") as thumbnail:
        assert thumbnail.width == tool.THUMBNAIL_WIDTH


def test_a_picture_that_cannot_be_decoded_costs_only_its_own_picture(tmp_path, capsys, monkeypatch):
    # A TIFF picture is converted for the browser: decoded. Cut short, it is said, and drawn without.
    monkeypatch.chdir(ROOT)
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    buffer = io.BytesIO()
    with Image.open(ROOT / "images" / "000000_10.png") as picture:
        picture.save(buffer, "TIFF")
    (pictures / "000000_10.tif").write_bytes(buffer.getvalue()[:len(buffer.getvalue()) // 2])
    status = tool.main(["--output-dir", str(tmp_path / "out"), "--images", str(pictures), "--format", "json"])
    err = capsys.readouterr().err
    assert status == 0
    assert "note: 10 overlays are drawn on the label's class colours" in err
    assert "(first: " + str(pictures / "000000_10.tif") + ": cannot read (" in err
    assert (tmp_path / "out" / "reports" / "000000_10.html").exists()
    assert not list((tmp_path / "out" / "pictures").glob("000000_10.*"))


def test_a_mask_a_pixel_wide_gets_a_thumbnail_of_its_shape(tmp_path, capsys, monkeypatch):
    for side in ("labels", "inferences"):
        (tmp_path / side).mkdir()
        Image.fromarray(np.arange(400, dtype=np.uint8).reshape(400, 1) % 3).save(tmp_path / side / "thin.png")
    monkeypatch.chdir(tmp_path)
    assert tool.main(["--output-dir", "out", "--quiet"]) == 0
    with Image.open(tmp_path / "out" / "thumbnails" / "thin.jpg") as thumbnail:
        assert thumbnail.size == (round(tool.THUMBNAIL_HEIGHT / 400), tool.THUMBNAIL_HEIGHT)


def test_an_existing_folder_is_reused_and_other_files_are_left_alone(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    out = tmp_path / "out"
    (out / "overlays").mkdir(parents=True)
    (out / "mine.txt").write_text("keep me")
    (out / "overlays" / "old.png").write_bytes(b"keep me too")
    (out / "index.html").write_text("stale")
    assert tool.main(["--output-dir", str(out)]) == 0
    assert "wrote " in capsys.readouterr().err
    assert (out / "mine.txt").read_text() == "keep me"
    assert (out / "overlays" / "old.png").read_bytes() == b"keep me too"
    assert "Segmentation report" in (out / "index.html").read_text()


def test_a_run_without_counted_pixels_still_gets_its_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for folder in ("labels", "inferences"):
        (tmp_path / folder).mkdir()
        Image.fromarray(np.full((4, 6), 255, np.uint8)).save(tmp_path / folder / "void.png")
    assert tool.main(["--ignore-index", "255", "--output-dir", "out"]) == 0
    assert "nothing to score" in capsys.readouterr().out
    assert "0 pixels counted" in (tmp_path / "out" / "index.html").read_text()
    with Image.open(tmp_path / "out" / "confusion_matrix.png") as heat_map:
        assert heat_map.format == "PNG"


def test_a_folder_that_cannot_be_written_stops_the_run_and_drops_no_pair(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    (tmp_path / "out" / "reports" / "000003_10.html").mkdir(parents=True)  # a folder where a page goes
    assert tool.main(["--output-dir", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert f"error: cannot write the report folder {tmp_path / 'out'}/: " in captured.err
    assert f"{tmp_path / 'out' / 'reports' / '000003_10.html'}: Is a directory" in captured.err
    assert "Traceback" not in captured.err and "skipped because of errors" not in captured.out


@pytest.mark.parametrize("inside", ["labels", "labels/report", "inferences", "."])
def test_the_report_folder_never_touches_the_input_folders(inside, monkeypatch):
    monkeypatch.chdir(ROOT)
    with pytest.raises(SystemExit) as stop:
        tool.main(["--output-dir", inside])
    assert stop.value.code == 2
    assert not (ROOT / "labels" / "report").exists()


def test_an_interrupted_run_leaves_no_half_written_file(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    real_page = tool.image_page
    calls = []

    def interrupted_page(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_page(*args, **kwargs)
    monkeypatch.setattr(tool, "image_page", interrupted_page)
    assert tool.main(["--output-dir", str(tmp_path / "out")]) == 130
    written = [path.name for path in (tmp_path / "out").rglob("*") if path.is_file()]
    assert not [name for name in written if name.endswith(".part")]
    assert "report.json" not in written and "classes.csv" not in written  # streamed, so never half there


@needs_chromium
def test_the_page_renders_in_a_browser_with_every_thumbnail(report_folder, tmp_path):
    folder, _ = report_folder
    dom = render(folder / "index.html", tmp_path, tmp_path / "page.png")
    pictures = 1 + len(SAMPLE_IDS)  # the heat map and a thumbnail per image
    assert f'data-images="{pictures}" data-loaded="{pictures}"' in dom  # every one loaded, none broken
    assert dom.count('class="thumb"') == 10 and dom.count("<tr>") >= 10 + 20
    for image_id in SAMPLE_IDS:
        assert f'href="reports/{image_id}.html"' in dom and f'src="thumbnails/{image_id}.jpg"' in dom
    with Image.open(tmp_path / "page.png") as screenshot:
        assert screenshot.size == (1366, 900)
        colours = screenshot.convert("RGB").getcolors(maxcolors=1 << 20)
    assert len(colours) > 1000  # the heat map and the text were drawn, not a blank page


class PageParser(html.parser.HTMLParser):
    """The links, picture sources and text of a page."""

    def __init__(self):
        super().__init__()
        self.links, self.text = [], []

    def handle_starttag(self, tag, attributes):
        attributes = dict(attributes)
        for name in ("href", "src"):
            if attributes.get(name):
                self.links.append(attributes[name])

    def handle_data(self, data):
        self.text.append(data)


def parse_page(path):
    parser = PageParser()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


def assert_every_link_resolves(folder):
    """Every href and src of every page names a file that was written."""
    pages = [folder / "index.html", *sorted((folder / "reports").glob("*.html"))]
    for page in pages:
        for link in parse_page(page).links:
            target = (page.parent / urllib.parse.unquote(link)).resolve()
            assert target.is_file(), f"{page.name} links to {link}, which was not written"
            assert folder.resolve() in target.parents
    return pages


@pytest.fixture
def awkward_names(tmp_path, monkeypatch):
    """Masks whose ids and class names hold the characters HTML must escape."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(5)
    for folder in ("labels", "inferences", "images"):
        (tmp_path / folder).mkdir()
    ids = ['a<b&c"d', "plain", "x&amp;y"]
    for image_id in ids:
        label = rng.integers(0, 3, (12, 16), dtype=np.uint8)
        inference = np.where(rng.random(label.shape) < 0.7, label, 2).astype(np.uint8)
        Image.fromarray(label).save(tmp_path / "labels" / f"{image_id}.png")
        Image.fromarray(inference).save(tmp_path / "inferences" / f"{image_id}.png")
    (tmp_path / "names.txt").write_text('<road>\nside & walk\n"car"\n', encoding="utf-8")
    return ids, ["<road>", "side & walk", '"car"']


def test_pages_escape_ids_and_names_and_every_link_resolves(awkward_names, capsys):
    ids, names = awkward_names
    assert tool.main(["--class-names", "names.txt", "--output-dir", "out", "--quiet"]) == 0
    folder = Path("out")
    pages = assert_every_link_resolves(folder)
    assert len(pages) == 1 + len(ids)
    index_text = "".join(parse_page(folder / "index.html").text)
    for image_id in ids:
        assert image_id in index_text  # shown as it is, which only escaping allows
    for name in names:
        assert name in index_text
    for page in pages:
        raw = page.read_text(encoding="utf-8")
        assert "<road>" not in raw and 'a<b' not in raw and "side & walk" not in raw
    capsys.readouterr()


def test_merge_writes_the_same_report_folder_without_pictures(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    shards = []
    for k in (1, 2):
        assert tool.main(["--ignore-index", "255", "--shard", f"{k}/2", "--format", "json"]) == 0
        shards.append(tmp_path / f"shard{k}.json")
        shards[-1].write_text(capsys.readouterr().out, encoding="utf-8")
    assert tool.main(["--ignore-index", "255", "--output-dir", str(tmp_path / "whole"), "--quiet"]) == 0
    assert tool.main(["--merge", *map(str, shards), "--output-dir", str(tmp_path / "merged")]) == 0
    err = capsys.readouterr().err
    assert "matrices/ and reports/ (10)" in err and "overlays/" not in err
    whole, merged = tmp_path / "whole", tmp_path / "merged"
    for name in ("report.json", "summary.csv", "classes.csv", "confusion_matrix.csv", "combined.csv",
                 *(f"matrices/{image_id}.csv" for image_id in SAMPLE_IDS)):
        assert (merged / name).read_bytes() == (whole / name).read_bytes(), name
    assert not (merged / "overlays").exists() and not (merged / "thumbnails").exists()
    assert_every_link_resolves(merged)
