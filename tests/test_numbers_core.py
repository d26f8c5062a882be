"""The numbers core: a measure or a per-class metric is one entry, and it then appears everywhere a number
does (text, JSON, CSV, HTML, --bootstrap intervals, --compare differences, --merge); and text tables laid
out as worked out by hand."""

import csv
import json

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, tool


def write_pairs(folder, seed, images=4):
    rng = np.random.default_rng(seed)
    for side in ("labels", "inferences"):
        (folder / side).mkdir(parents=True, exist_ok=True)
    for n in range(images):
        label = rng.integers(0, 3, (12, 16), np.uint8)
        inference = np.where(rng.random(label.shape) < 0.7, label, rng.integers(0, 3, label.shape)).astype(np.uint8)
        Image.fromarray(label).save(folder / "labels" / f"img{n}.png")
        Image.fromarray(inference).save(folder / "inferences" / f"img{n}.png")


@pytest.fixture
def registered(monkeypatch):
    """A headline measure (the share of counted pixels predicted as the first id) and a per-class metric
    (a class's own accuracy, (TP + TN) / pixels), each added as one entry."""
    first_share = tool.Measure("fShare", "share of the first id", lambda batch, numbers:
                               batch.stats[:, 2, 0] / batch.stats[:, 1].sum(axis=1))
    monkeypatch.setitem(tool.MEASURES, "first_share", first_share)
    monkeypatch.setitem(tool.CLASS_METRICS, "class_accuracy", tool.ClassMetric(
        "class acc", "Rand", lambda tp, fp, fn, tn: (tp + tn, tp + fp + fn + tn)))


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def run(capsys, *args):
    status = tool.main([*args, "--quiet"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return captured.out


def test_a_measure_and_a_class_metric_added_as_one_entry_appear_everywhere(registered, tmp_path, capsys,
                                                                             monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_pairs(tmp_path, 1)
    labels, inferences = tmp_path / "labels", tmp_path / "inferences"
    # text
    text = run(capsys, "--jobs", "1")
    assert "fShare" in text and "share of the first id" in text and "class acc" in text and "Rand" in text
    # JSON, with the bootstrap
    document = json.loads(run(capsys, "--format", "json", "--bootstrap", "100", "--output-dir", "out"))
    combined, image = document["combined"], document["images"][0]
    matrix = np.array(image["confusion_matrix"]["matrix"])
    assert image["first_share"] == matrix[:, 0].sum() / matrix.sum()
    tp, pixels = matrix[1, 1], matrix.sum()
    tn = pixels - matrix[1].sum() - matrix[:, 1].sum() + tp
    assert image["classes"]["1"]["class_accuracy"] == (tp + tn) / pixels
    assert "class_accuracy" in combined["macro_avg"] and "class_accuracy" in combined["weighted_avg"]
    intervals = combined["confidence_intervals"]
    assert len(intervals["first_share"]) == 2 and len(intervals["classes"]["1"]["class_accuracy"]) == 2
    # CSV and HTML of the report folder
    assert "first_share" in read_csv(tmp_path / "out" / "headline.csv")[0]
    assert "class_accuracy" in read_csv(tmp_path / "out" / "classes.csv")[0]
    assert "class_accuracy" in read_csv(tmp_path / "out" / "combined.csv")[0]
    index = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "fShare" in index and "class acc" in index
    assert "class acc" in (tmp_path / "out" / "reports" / "img0.html").read_text(encoding="utf-8")
    # --merge of two shards: the numbers come back from the tallies
    for k in (1, 2):
        (tmp_path / f"shard{k}.json").write_text(run(capsys, "--labels", str(labels), "--inferences",
                                                     str(inferences), "--format", "json", "--shard", f"{k}/2"))
    merged = json.loads(run(capsys, "--merge", "shard1.json", "shard2.json", "--format", "json"))
    assert merged["combined"]["first_share"] == combined["first_share"]
    assert merged["combined"]["classes"]["2"]["class_accuracy"] == combined["classes"]["2"]["class_accuracy"]
    # --compare: a difference and its paired interval for each
    write_pairs(tmp_path / "other", 1)
    rng = np.random.default_rng(2)
    for path in (tmp_path / "other" / "inferences").iterdir():
        Image.fromarray(rng.integers(0, 3, (12, 16), np.uint8)).save(path)
    (tmp_path / "other.json").write_text(run(capsys, "--labels", str(tmp_path / "other" / "labels"),
                                             "--inferences", str(tmp_path / "other" / "inferences"),
                                             "--format", "json"))
    (tmp_path / "base.json").write_text(json.dumps(document))
    comparison = json.loads(run(capsys, "--compare", "base.json", "other.json", "--format", "json"))["comparisons"][0]
    assert comparison["delta"]["first_share"] == comparison["first_share"] - combined["first_share"]
    assert len(comparison["confidence_intervals"]["first_share"]) == 2
    change = comparison["classes"]["1"]["metrics"]["class_accuracy"]
    assert change["delta"] == change["model"] - change["baseline"] and len(change["interval"]) == 2
    assert "fShare" in run(capsys, "--compare", "base.json", "other.json")


def test_text_tables_are_laid_out_as_worked_out_by_hand(tmp_path, capsys, monkeypatch):
    """Four pixels: labels 0 0 1 1, predictions 0 1 1 1. Class 0: TP 1, FP 0, FN 1, TN 2; class 1: TP 2,
    FP 1, FN 0, TN 1. kappa: p_o 3/4, p_e (2 x 1 + 2 x 3) / 16 = 1/2, so 1/2; MCC: (3 x 4 - 8) / sqrt((16 -
    10)(16 - 8)) = 0.577. Columns: the class column as wide as 'weighted avg', left-aligned; each number
    column as wide as its title or its other name (--digits 2 needs 5), right-aligned, two spaces apart."""
    monkeypatch.chdir(tmp_path)
    for side, ids in (("labels", [[0, 0, 1, 1]]), ("inferences", [[0, 1, 1, 1]])):
        (tmp_path / side).mkdir()
        Image.fromarray(np.array(ids, np.uint8)).save(tmp_path / side / "x.png")
    out = run(capsys, "--digits", "2")
    expected = """\
=== x: labels/x.png vs inferences/x.png, 4 pixels counted ===

Headline numbers
headline  value
aAcc       0.75  pixel accuracy: 3 of 4 pixels correct
mIoU       0.58  mean IoU (Jaccard) of the 2 classes
mAcc       0.75  mean recall (sensitivity) of the 2 classes in the label, = balanced accuracy
mDice      0.73  mean F1 (Dice) of the 2 classes
fwIoU      0.58  IoU weighted by each class's pixels in the label
kappa      0.50  Cohen's kappa: agreement beyond chance
MCC        0.58  Matthews correlation coefficient

Confusion matrix (rows = label, columns = inference, in pixels)
label \\ inference  0  1
  0                1  1
  1                0  2

Classification report
class         precision       recall  f1_score      IoU  specificity  support
                         sensitivity      Dice  Jaccard
  0                1.00         0.50      0.67     0.50         1.00        2
  1                0.67         1.00      0.80     0.67         0.50        2

macro avg          0.83         0.75      0.73     0.58         0.75        4
weighted avg       0.83         0.75      0.73     0.58         0.75        4
"""
    assert out.startswith(expected), out[:1500]


def test_the_table_of_contents_is_true_and_no_section_uses_one_below_it():
    """The sections are those the module's opening comment lists, in its order, and no top-level name is
    used by a section above the one that defines it (annotations and local names aside)."""
    import ast
    source = (ROOT / "Semantic_Segmentation_Label_Metrics.py").read_text(encoding="utf-8")
    lines = source.splitlines()
    starts = [(number, line.split("-- ", 1)[1].split(":")[0]) for number, line in enumerate(lines, 1)
              if line.startswith("# ----------")]
    contents = source.split("# Contents, in file order", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    listed = [line.split()[1] for line in contents if line.startswith("#   ") and line[4] != " "]
    assert list(dict.fromkeys(title for _, title in starts)) == listed  # "renderers: text" is renderers

    def section(line):
        return max((index for index, (start, _) in enumerate(starts) if start <= line), default=-1)
    tree = ast.parse(source)
    defined = {}
    for node in tree.body:
        targets = [node.name] if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else [
            target.id for target in getattr(node, "targets", []) if isinstance(target, ast.Name)]
        defined.update(dict.fromkeys(targets, section(node.lineno)))
    downward = []
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Assign)):
            continue
        local = {name.id for name in ast.walk(node) if isinstance(name, ast.Name)
                 and isinstance(name.ctx, ast.Store)} | {arg.arg for arg in ast.walk(node) if isinstance(arg, ast.arg)}
        for name in ast.walk(node):
            if isinstance(name, ast.Name) and isinstance(name.ctx, ast.Load) and name.id not in local \
                    and defined.get(name.id, -1) > section(node.lineno):
                downward.append(f"{getattr(node, 'name', name.id)} uses {name.id}")
    assert downward == []


def test_readable_density_no_line_over_100_columns_and_no_function_over_60_lines():
    import ast
    source = (ROOT / "Semantic_Segmentation_Label_Metrics.py").read_text(encoding="utf-8")
    assert [number for number, line in enumerate(source.splitlines(), 1) if len(line) > 100] == []
    lengths = {node.name: node.end_lineno - node.lineno + 1 for node in ast.walk(ast.parse(source))
               if isinstance(node, ast.FunctionDef)}
    assert {name: length for name, length in lengths.items() if length > 60} == {}


def test_the_json_head_is_the_scoring_record(tmp_path, capsys, monkeypatch):
    """The JSON head's keys are the scoring record's fields (and the label space and shards), with the
    record's values: what the options gave, written as JSON writes them."""
    monkeypatch.chdir(tmp_path)
    write_pairs(tmp_path, 2)
    document = json.loads(run(capsys, "--format", "json", "--ignore-index", "2", "--zero-division", "nan",
                              "--boundary-ratio", "0.05"))
    fields = [field.name for field in tool.dataclasses.fields(tool.Scoring)]
    head = {key: document[key] for key in fields}
    assert set(document) - set(fields) == {"label_space", "shards", "images", "combined", "errors", "warnings"}
    assert head == {"ignore_index": 2, "ignore_index_from": "--ignore-index", "zero_division": "nan",
                    "class_names": {}, "input": {"recursive": False, "label_suffix": None,
                                                 "inference_suffix": None, "label_map": None,
                                                 "inference_map": None, "palette": None,
                                                 "valid_masks": None, "valid_suffix": None,
                                                 "label_encoding": None, "instances": None,
                                                 "instance_suffix": None, "instance_map": None},
                    "boundary_ratio": 0.05,  # --boundary-ratio alone asks for Boundary IoU
                    "threshold": None, "positive_class": None,  # no score maps
                    "instance_sizes": None, "groups": None,
                    "distances": None, "exclude_from_means": [],  # no boundary distances
                    "coco": None}  # labels from mask files
    assert "boundary_iou" in document["combined"]["classes"]["0"]


@pytest.fixture
def crop_border(monkeypatch):
    """A new rule that changes the numbers, added as one field of the scoring record and its option
    (--crop-border P: P pixels at each edge are not counted), acting where the pair is counted."""
    scoring = tool.dataclasses.make_dataclass(
        "Scoring", [("crop_border", int, tool.rule(lambda value: type(value) is int and value >= 0,
                                                   "0 or more", default=0))],
        bases=(tool.Scoring,), frozen=True)
    monkeypatch.setattr(tool, "Scoring", scoring)
    add_numbers_options = tool._add_numbers_options

    def with_crop_border(parser):
        add_numbers_options(parser)
        parser.add_argument("--crop-border", type=int)
    monkeypatch.setattr(tool, "_add_numbers_options", with_crop_border)
    count_occurring = tool.count_occurring
    border = {}

    def cropped(label, inference, *rest):
        p = border["p"]
        return count_occurring(label[p:label.shape[0] - p, p:label.shape[1] - p],
                               inference[p:label.shape[0] - p, p:label.shape[1] - p], *rest)
    monkeypatch.setattr(tool, "count_occurring", cropped)
    score_pair = tool.score_pair
    monkeypatch.setattr(tool, "score_pair", lambda pair, settings: (
        border.update(p=settings.scoring.crop_border), score_pair(pair, settings))[1])


def test_a_new_rule_is_one_field_and_merge_and_compare_join_it(crop_border, tmp_path, capsys, monkeypatch):
    """The rule is in the JSON head, checked as an option, and --merge and --compare refuse reports made
    with different values or an option that differs from theirs, naming the files; a report written
    before the rule existed stands for its default."""
    monkeypatch.chdir(tmp_path)
    write_pairs(tmp_path, 3)
    for name, args in (("a", ["--shard", "1/2", "--crop-border", "2"]), ("b", ["--shard", "2/2"]),
                       ("c", ["--shard", "2/2", "--crop-border", "2"]), ("whole", []),
                       ("cropped", ["--crop-border", "2"])):
        (tmp_path / f"{name}.json").write_text(run(capsys, "--format", "json", "--jobs", "1", *args))
    a, whole = (json.loads((tmp_path / f"{name}.json").read_text()) for name in ("a", "whole"))
    assert a["crop_border"] == 2 and whole["crop_border"] == 0
    assert a["combined"]["pixels"] == 2 * (12 - 4) * (16 - 4)  # two images of the four, cropped
    merged = json.loads(run(capsys, "--merge", "a.json", "c.json", "--format", "json"))
    assert merged["crop_border"] == 2 and merged["combined"]["pixels"] == 4 * 8 * 12
    for args, message in ((["--merge", "a.json", "b.json"],
                           "the reports were made with different --crop-border: b.json 0, a.json 2"),
                          (["--merge", "a.json", "c.json", "--crop-border", "1"],
                           "--crop-border 1 differs from the reports' 2"),
                          (["--compare", "whole.json", "cropped.json"],
                           "the reports were made with different --crop-border: cropped.json 2, whole.json 0")):
        assert tool.main(args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    with pytest.raises(SystemExit):
        tool.main(["--crop-border", "-1"])
    assert "--crop-border -1 is not 0 or more" in capsys.readouterr().err
    older = {key: value for key, value in whole.items() if key != "crop_border"}
    (tmp_path / "whole.json").write_text(json.dumps(older))
    assert json.loads(run(capsys, "--merge", "whole.json", "--format", "json")) == whole
