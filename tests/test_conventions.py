"""What other tools would print: their documented examples, and hand-worked cases where their rules differ.

The examples are the numbers the tools' own docstrings print: Hugging Face evaluate's mean_iou, and
torchmetrics' MulticlassJaccardIndex, mean_iou and MeanIoU. torchmetrics draws its examples with
torch.randint(0, 2, shape, generator=torch.Generator().manual_seed(seed)); on the CPU that is the low bit
of each 32-bit output of MT19937 seeded as numpy's legacy RandomState seeds it, so the same masks are made
here without torch.
"""

import json

import numpy as np
import pytest
from PIL import Image

from conftest import tool


def run(tmp_path, capsys, pairs, *options, status=0):
    """Score {id: (label, inference)} through the command line, checking its exit status; returns the JSON
    document."""
    for folder in ("labels", "inferences"):
        (tmp_path / folder).mkdir(exist_ok=True)
    for image_id, (label, inference) in pairs.items():
        Image.fromarray(np.asarray(label, np.uint8)).save(tmp_path / "labels" / f"{image_id}.png")
        Image.fromarray(np.asarray(inference, np.uint8)).save(tmp_path / "inferences" / f"{image_id}.png")
    assert tool.main(["--labels", str(tmp_path / "labels"), "--inferences", str(tmp_path / "inferences"),
                      "--format", "json", "--quiet", *options]) == status
    return json.loads(capsys.readouterr().out)


def torch_randint_0_2(shape, seed):
    """torch.randint(0, 2, shape, generator=torch.Generator().manual_seed(seed)) on the CPU."""
    generator = np.random.MT19937(0)
    generator._legacy_seeding(seed)
    return (generator.random_raw(int(np.prod(shape))) % 2).astype(np.uint8).reshape(shape)


def test_hugging_face_mean_iou_docstring_example(tmp_path, capsys):
    # evaluate's metrics/mean_iou: three maps of two sizes, num_labels=10, ignore_index=255.
    predicted = [[[1, 2], [3, 4], [5, 255]], [[2, 7], [9, 2], [3, 6]], [[2, 2, 3], [8, 2, 4], [3, 255, 2]]]
    actual = [[[0, 3], [5, 4], [6, 255]], [[1, 7], [9, 2], [3, 6]], [[1, 2, 2], [8, 2, 1], [3, 255, 1]]]
    document = run(tmp_path, capsys, {f"map{k}": pair for k, pair in enumerate(zip(actual, predicted))},
                   "--num-classes", "10", "--ignore-index", "255")
    conventions = document["combined"]["conventions"]
    assert conventions["num_classes"] == 10 and conventions["num_classes_from"] == "--num-classes"
    hugging_face = conventions["tools"]["mmsegmentation"]
    assert hugging_face["mIoU"] == pytest.approx(0.47750000000000004, rel=1e-15)
    assert hugging_face["mAcc"] == pytest.approx(0.5916666666666666, rel=1e-15)
    assert hugging_face["aAcc"] == pytest.approx(0.5263157894736842, rel=1e-15)


def test_torchmetrics_multiclass_jaccard_index_docstring_example(tmp_path, capsys):
    document = run(tmp_path, capsys, {"x": ([[2, 1, 0, 0]], [[2, 1, 0, 1]])}, "--num-classes", "3")
    assert round(document["combined"]["conventions"]["tools"]["torchmetrics_jaccard"]["mIoU"], 4) == 0.6667


def test_the_torch_draws_are_reproduced():
    # The first draws of torch.randint(0, 2, (4, 16, 16), generator=...manual_seed(42)), printed by torch 2.13.
    assert torch_randint_0_2((4, 16, 16), 42)[0, 0, :16].tolist() == [0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]


def test_torchmetrics_mean_iou_functional_docstring_example(tmp_path, capsys):
    # mean_iou(preds, target, num_classes=5, input_format="index") of 4 maps of 16x16: one mIoU per image,
    # and per_class=True gives each image's IoU of classes 0 and 1 (-1 for the absent 2, 3, 4).
    preds, target = torch_randint_0_2((4, 16, 16), 42), torch_randint_0_2((4, 16, 16), 43)
    document = run(tmp_path, capsys, {f"img{k}": (target[k], preds[k]) for k in range(4)}, "--num-classes", "5")
    assert [round(image["mean_iou"], 4) for image in document["images"]] == [0.3617, 0.3128, 0.3047, 0.3499]
    assert [[round(image["classes"][c]["iou"], 4) for c in "01"] for image in document["images"]] == [
        [0.3617, 0.3617], [0.3128, 0.3128], [0.2727, 0.3366], [0.3756, 0.3242]]


def test_torchmetrics_mean_iou_class_docstring_example(tmp_path, capsys):
    # MeanIoU(num_classes=3, per_class=True, input_format="index") of (10, 3, 128, 128) index tensors: ten
    # images of 3x128x128 pixels; per class [0.3334, 0.3336, -1] (class 2 never occurs).
    preds, target = torch_randint_0_2((10, 3, 128, 128), 42), torch_randint_0_2((10, 3, 128, 128), 43)
    pairs = {f"img{k}": (target[k].reshape(384, 128), preds[k].reshape(384, 128)) for k in range(10)}
    document = run(tmp_path, capsys, pairs, "--num-classes", "3")
    image_ious = tool.ImageIoUs()
    for image in document["images"]:
        image_ious.add(tool.counts_of_report(image))
    per_class = image_ious.sums[:3] / np.maximum(image_ious.images[:3], 1)
    assert [round(value, 4) for value in per_class[:2]] == [0.3334, 0.3336] and image_ious.images[2] == 0
    # Without per_class, MeanIoU averages every (image, class) pair: here both classes are in all ten images.
    mean_iou = document["combined"]["conventions"]["tools"]["torchmetrics_mean_iou"]["mIoU"]
    assert mean_iou == pytest.approx((0.3334 + 0.3336) / 2, abs=1e-4)


def test_rules_differ_on_a_class_only_predicted_and_per_image_averaging(tmp_path, capsys):
    # Image a: three pixels of 0 and one of 1; one 0 is predicted as 1. Image b: six pixels of 0, one
    # predicted as 2 (a class only predicted). N = 3.
    pairs = {"a": ([[0, 0, 0, 1]], [[0, 0, 1, 1]]), "b": ([[0, 0, 0, 0, 0, 0]], [[0, 0, 0, 0, 0, 2]])}
    document = run(tmp_path, capsys, pairs, "--num-classes", "3")
    combined, tools = document["combined"], document["combined"]["conventions"]["tools"]
    # Pooled: IoU of 0 is 7 / (7 + 0 + 2) = 7/9, of 1 is 1 / 2, of 2 (only predicted) is 0.
    pooled = (7 / 9 + 1 / 2 + 0) / 3
    assert combined["mean_iou"] == pytest.approx(pooled)
    for tool_name in ("mmsegmentation", "torchmetrics_jaccard", "cityscapes"):
        assert tools[tool_name]["mIoU"] == pytest.approx(pooled)
    # detectron2 averages the classes in the label only: 2 does not lower its mean.
    assert tools["detectron2"]["mIoU"] == pytest.approx((7 / 9 + 1 / 2) / 2)
    assert tools["detectron2"]["fwIoU"] == pytest.approx((9 * 7 / 9 + 1 * 1 / 2) / 10) == combined["weighted_avg"]["iou"]
    assert tools["detectron2"]["mAcc"] == pytest.approx((7 / 9 + 1) / 2) == combined["mean_accuracy"]
    # MeanIoU: a's 0 (2/3) and 1 (1/2), b's 0 (5/6) and 2 (0), averaged over the four pairs.
    assert tools["torchmetrics_mean_iou"]["mIoU"] == pytest.approx((2 / 3 + 1 / 2 + 5 / 6 + 0) / 4)
    assert combined["conventions"]["agree"] is False


def test_rules_differ_on_ids_beyond_n_a_class_absent_and_tp_zero(tmp_path, capsys):
    # N = 5. Nine counted pixels: (label, inference) = (0,0) x3, (0,1), (1,1), (1,3), (2,0) x2, (5,1), and
    # one ignored pixel (255 predicted as 7). Class 2 has TP = 0; 3 is only predicted; 4 is absent from
    # both; 5 is an id >= N in the label.
    label = [[0, 0, 0, 0, 1, 1, 2, 2, 5, 255]]
    inference = [[0, 0, 0, 1, 1, 3, 0, 0, 1, 7]]
    # Two of the four label ids are mostly predicted as another: the tool doubts the ids (exit 3).
    document = run(tmp_path, capsys, {"x": (label, inference)}, "--num-classes", "5", "--ignore-index", "255",
                   status=3)
    tools = document["combined"]["conventions"]["tools"]
    mmseg = tools["mmsegmentation"]
    # mmsegmentation: the pixel labelled 5 is not in any label count, but its prediction 1 counts against 1.
    # IoU: 0: 3 / (5 + 4 - 3) = 1/2; 1: 1 / (3 + 2 - 1) = 1/4; 2: 0; 3: 0; 4: union 0, left out.
    assert mmseg["mIoU"] == pytest.approx((1 / 2 + 1 / 4 + 0 + 0) / 4)
    assert mmseg["aAcc"] == pytest.approx(4 / 8)
    assert mmseg["mAcc"] == pytest.approx((3 / 4 + 1 / 2 + 0) / 3)
    assert mmseg["mDice"] == pytest.approx((6 / 9 + 2 / 5 + 0 + 0) / 4)
    # mFscore: 2 (TP = 0, never predicted) and 3 (TP = 0, no label) have F = 0/0 and are left out.
    assert mmseg["mFscore"] == pytest.approx((2 / 3 + 2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2)) / 2)
    # cityscapesScripts: the pixel labelled 5 counts against no class: 1 has IoU 1 / (1 + 1 + 1).
    assert tools["cityscapes"]["mIoU"] == pytest.approx((1 / 2 + 1 / 3 + 0 + 0) / 4)
    # torchmetrics stops on id 5, and detectron2 would take a label of N = 5 for void: neither
    # gives a number; this tool counts 5 as a class of its own (IoU 0).
    for tool_name in ("torchmetrics_jaccard", "torchmetrics_mean_iou"):
        assert tools[tool_name]["refused"] == "stops: the masks hold ids >= N (5)"
    assert tools["detectron2"]["refused"] == ("no number to trust: the masks hold ids >= N (5), which it takes for "
                                              "void, counts in another class's cell, or stops on")
    for tool_name in ("torchmetrics_jaccard", "torchmetrics_mean_iou", "detectron2"):
        assert tools[tool_name]["mIoU"] is None
    assert document["combined"]["mean_iou"] == pytest.approx((1 / 2 + 1 / 4 + 0 + 0 + 0) / 5)


def test_when_every_tool_agrees_one_line_says_so(tmp_path, capsys):
    pairs = {"x": ([[0, 0, 1, 1]], [[0, 0, 1, 1]])}
    assert run(tmp_path, capsys, pairs)["combined"]["conventions"]["agree"] is True
    assert tool.main(["--labels", str(tmp_path / "labels"), "--inferences", str(tmp_path / "inferences")]) == 0
    out = capsys.readouterr().out
    assert "would print these same numbers on these masks (N = 2 classes, from the ids that occur)" in out
    assert "What other tools would print" not in out


@pytest.mark.parametrize("names, ignore_index, expected", [
    ({**dict.fromkeys(range(19), "x"), 255: "void"}, 255, (19, "the class names")),  # Cityscapes
    ({**dict.fromkeys(range(19), "x"), 255: "void"}, None, (19, "the class names")),  # void is not class 19
    ({**dict.fromkeys(range(12), "x")}, 11, (11, "the class names")),  # CamVid: 11 is void
    ({}, 255, (8, "the ids that occur")),
    ({}, 7, (4, "the ids that occur")),
])
def test_the_class_count_other_tools_are_given(names, ignore_index, expected):
    matrix = np.zeros((256, 256), np.int64)
    matrix[3, 7] = matrix[1, 1] = 1  # ids 1, 3 and 7 occur
    assert tool.number_of_classes(None, names, ignore_index, matrix) == expected
    assert tool.number_of_classes(21, names, ignore_index, matrix) == (21, "--num-classes")


def test_the_class_count_says_how_to_set_it_only_when_the_option_did_not_set_it():
    named = {"num_classes": 19, "num_classes_from": "the class names"}
    assert tool.class_count_said(named) == "N = 19 classes, from the class names"
    assert tool.class_count_said(named, True) == "N = 19 classes, from the class names; --num-classes sets it"
    assert tool.class_count_said({"num_classes": 8, "num_classes_from": "--num-classes"}, True) == \
        "N = 8 classes, from --num-classes"
