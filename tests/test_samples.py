"""The committed sample data: reproducible from its generator, and scored exactly."""

import importlib.util
import json

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, assert_report_matches_sklearn, tool

SAMPLE_IDS = [f"{n:06d}_10" for n in range(10)]


def load_generator():
    spec = importlib.util.spec_from_file_location("make_sample_data", ROOT / "tests" / "make_sample_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pixels(path):
    with Image.open(path) as image:
        return image.mode, image.size, np.asarray(image)


def test_generator_reproduces_the_committed_samples(tmp_path):
    assert load_generator().make_sample_data(tmp_path) == SAMPLE_IDS
    for folder in ("images", "labels", "inferences"):
        for image_id in SAMPLE_IDS:
            ours, committed = pixels(tmp_path / folder / f"{image_id}.png"), pixels(ROOT / folder / f"{image_id}.png")
            assert ours[:2] == committed[:2]
            np.testing.assert_array_equal(ours[2], committed[2])
    assert (tmp_path / "labels" / "class_names.txt").read_text() == (ROOT / "labels" / "class_names.txt").read_text()


def test_samples_are_kitti_sized_masks_and_rgb_images():
    for image_id in SAMPLE_IDS:
        assert pixels(ROOT / "images" / f"{image_id}.png")[:2] == ("RGB", (1242, 375))
        label_mode, label_size, label = pixels(ROOT / "labels" / f"{image_id}.png")
        inference_mode, inference_size, inference = pixels(ROOT / "inferences" / f"{image_id}.png")
        assert (label_mode, label_size) == (inference_mode, inference_size) == ("L", (1242, 375))
        assert set(np.unique(label)) <= set(range(19)) | {255}
        assert set(np.unique(inference)) <= set(range(19))  # models never output void


@pytest.fixture(scope="module")
def sample_masks():
    return {image_id: (tool.read_mask(ROOT / "labels" / f"{image_id}.png")[0],
                       tool.read_mask(ROOT / "inferences" / f"{image_id}.png")[0]) for image_id in SAMPLE_IDS}


@pytest.mark.parametrize("ignore_index, zero_division", [(None, "0"), (255, "0"), (255, "1"), (255, "nan")])
def test_every_sample_and_the_combined_set_equal_scikit_learn(sample_masks, ignore_index, zero_division,
                                                              capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    args = ["--format", "json", "--zero-division", zero_division]
    # The samples' class names file declares 255 as the ignore id; 'none' counts it as a class.
    args += ["--ignore-index", "none" if ignore_index is None else str(ignore_index)]
    assert tool.main(args) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["errors"] == [] and [image["id"] for image in document["images"]] == SAMPLE_IDS
    z = float(zero_division)
    for image in document["images"]:
        label, inference = sample_masks[image["id"]]
        assert_report_matches_sklearn(image, label, inference, ignore_index, z)
    all_labels = np.concatenate([label.ravel() for label, _ in sample_masks.values()])
    all_inferences = np.concatenate([inference.ravel() for _, inference in sample_masks.values()])
    assert_report_matches_sklearn(document["combined"], all_labels, all_inferences, ignore_index, z)
