"""Every mask a user can throw at the tool: read right, or refused with a reason, nothing else lost."""

import builtins
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile, PngImagePlugin

from conftest import ROOT, assert_report_matches_sklearn, tool

SHAPE = (12, 16)


def png_bytes(samples, bit_depth, colour_type=0, palette=None):
    """A PNG of raw greyscale (colour_type 0) or palette (3) samples at any bit depth.

    Written by hand because Pillow cannot save 2- and 4-bit greyscale.
    """
    height, width = samples.shape
    rows = []
    for row in samples:
        if bit_depth == 16:
            data = row.astype(">u2").tobytes()
        else:  # pack each sample into bit_depth bits, most significant first
            bits = np.unpackbits(row.astype(np.uint8)[:, None], axis=1)[:, 8 - bit_depth:]
            data = np.packbits(bits.ravel()).tobytes()
        rows.append(b"\0" + data)

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + (chunk(b"PLTE", bytes(palette)) if palette is not None else b"")
            + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))


def ids(rng, highest, shape=SHAPE):
    return rng.integers(0, highest + 1, shape).astype(np.uint8)


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """Two good pairs (good1, good2) in tmp_path; tests add bad files next to them."""
    rng = np.random.default_rng(3)
    (tmp_path / "labels").mkdir()
    (tmp_path / "inferences").mkdir()
    good = {}
    for image_id in ("good1", "good2"):
        label, inference = ids(rng, 4), ids(rng, 4)
        Image.fromarray(label).save(tmp_path / "labels" / f"{image_id}.png")
        Image.fromarray(inference).save(tmp_path / "inferences" / f"{image_id}.png")
        good[image_id] = (label, inference)
    monkeypatch.chdir(tmp_path)
    return good


def run(capsys, *args):
    status = tool.main(["--format", "json", *args])
    captured = capsys.readouterr()
    return status, json.loads(captured.out) if captured.out else None, captured.err


def assert_good_pairs_unchanged(document, good):
    scored = {image["id"]: image for image in document["images"]}
    for image_id, (label, inference) in good.items():
        assert_report_matches_sklearn(scored[image_id], label, inference, None, 0.0)


def assert_scored_like_sklearn(capsys, good, image_id, label, inference):
    """The run succeeds and scores image_id exactly as scikit-learn does, the good pairs unchanged."""
    status, document, _ = run(capsys)
    assert status == 0
    report = next(image for image in document["images"] if image["id"] == image_id)
    assert_report_matches_sklearn(report, label, inference, None, 0.0)
    assert_good_pairs_unchanged(document, good)


def assert_refused(capsys, good, path, *words):
    """The run goes on: exit 1, one error naming the file and the reason, good pairs unchanged."""
    status, document, _ = run(capsys)
    assert status == 1
    assert len(document["errors"]) == 1
    error = document["errors"][0]["error"]
    assert str(path) in error and "\n" not in error
    for word in words:
        assert word in error
    assert_good_pairs_unchanged(document, good)
    assert document["combined"]["images"] == len(good)
    return error


# ---------------------------------------------------------------- read right

def test_palette_masks_are_read_as_their_indices_not_their_colours(folders, capsys, tmp_path):
    rng = np.random.default_rng(1)
    label, inference = ids(rng, 20), ids(rng, 20)
    palette = rng.integers(0, 256, 3 * 256).astype(np.uint8).tolist()  # colours unrelated to the ids
    for folder, values in (("labels", label), ("inferences", inference)):
        image = Image.frombytes("P", values.shape[::-1], values.tobytes())
        image.putpalette(palette)
        image.save(tmp_path / folder / "palette.png")
    assert_scored_like_sklearn(capsys, folders, "palette", label, inference)


def test_label_and_inference_may_differ_in_mode(folders, capsys, tmp_path):
    rng = np.random.default_rng(2)
    label, inference = ids(rng, 6), ids(rng, 6)
    palette_label = Image.frombytes("P", label.shape[::-1], label.tobytes())
    palette_label.putpalette([255, 0, 0] * 256)
    palette_label.save(tmp_path / "labels" / "mixed.png")
    Image.fromarray(inference).save(tmp_path / "inferences" / "mixed.png")
    assert_scored_like_sklearn(capsys, folders, "mixed", label, inference)


@pytest.mark.parametrize("bit_depth, colour_type", [(1, 0), (2, 0), (4, 0), (1, 3), (2, 3), (4, 3)])
def test_low_bit_masks_are_read_as_the_stored_samples(tmp_path, bit_depth, colour_type):
    samples = ids(np.random.default_rng(bit_depth), (1 << bit_depth) - 1)
    palette = [0, 0, 0] * (1 << bit_depth) if colour_type == 3 else None
    path = tmp_path / "low.png"
    path.write_bytes(png_bytes(samples, bit_depth, colour_type, palette))
    read, greyscale_bits = tool.read_mask(path)
    assert read.dtype == np.uint8 and greyscale_bits == (bit_depth if colour_type == 0 else 8)
    np.testing.assert_array_equal(read, samples)


def test_one_bit_masks_give_scikit_learns_numbers(folders, capsys, tmp_path):
    rng = np.random.default_rng(4)
    label, inference = ids(rng, 1), ids(rng, 1)
    Image.fromarray(label.astype(bool)).save(tmp_path / "labels" / "binary.png")  # mode "1"
    Image.fromarray(inference).save(tmp_path / "inferences" / "binary.png")  # 8-bit 0/1: agrees
    assert_scored_like_sklearn(capsys, folders, "binary", label, inference)


def test_sixteen_bit_masks_within_0_255_give_scikit_learns_numbers(folders, capsys, tmp_path):
    rng = np.random.default_rng(5)
    label, inference = ids(rng, 255), ids(rng, 255)
    (tmp_path / "labels" / "deep.png").write_bytes(png_bytes(label.astype(np.uint16), 16))
    Image.fromarray(inference.astype(np.uint16)).save(tmp_path / "inferences" / "deep.png")
    assert_scored_like_sklearn(capsys, folders, "deep", label, inference)


# ---------------------------------------------------------------- refused, nothing else lost

def test_sixteen_bit_values_above_255_are_refused_naming_the_largest(folders, capsys, tmp_path):
    values = np.zeros(SHAPE, np.uint16)
    values[3, 4] = 1000
    values[5, 5] = 300
    (tmp_path / "labels" / "deep.png").write_bytes(png_bytes(values, 16))
    Image.fromarray(ids(np.random.default_rng(0), 3)).save(tmp_path / "inferences" / "deep.png")
    assert_refused(capsys, folders, "labels/deep.png", "largest value 1000", "0..255")


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "LA"])
def test_colour_masks_are_refused_with_how_to_convert(folders, capsys, tmp_path, mode):
    rng = np.random.default_rng(6)
    colours = rng.integers(0, 256, (*SHAPE, len(mode))).astype(np.uint8)
    Image.fromarray(colours).save(tmp_path / "inferences" / "colour.png")
    Image.fromarray(ids(rng, 3)).save(tmp_path / "labels" / "colour.png")
    error = assert_refused(capsys, folders, "inferences/colour.png", f"mode {mode}",
                           "colours, not class ids")
    assert "--palette" in error or "drop the alpha" in error


def test_greyscale_saved_as_rgb_gets_a_precise_hint(folders, capsys, tmp_path):
    grey = ids(np.random.default_rng(7), 5)
    Image.fromarray(np.stack([grey] * 3, axis=-1)).save(tmp_path / "labels" / "grey.png")
    Image.fromarray(grey).save(tmp_path / "inferences" / "grey.png")
    assert_refused(capsys, folders, "labels/grey.png", "channels are equal", "convert('L')")


def test_float_masks_are_refused(folders, capsys, tmp_path):
    Image.fromarray(np.ones(SHAPE, np.float32)).save(tmp_path / "labels" / "float.tif")
    Image.fromarray(np.ones(SHAPE, np.uint8)).save(tmp_path / "inferences" / "float.png")
    assert_refused(capsys, folders, "labels/float.tif", "floating-point")


def test_jpeg_masks_are_refused_as_lossy(folders, capsys, tmp_path):
    Image.fromarray(ids(np.random.default_rng(8), 3)).save(tmp_path / "inferences" / "photo.jpg")
    Image.fromarray(ids(np.random.default_rng(8), 3)).save(tmp_path / "labels" / "photo.png")
    assert_refused(capsys, folders, "inferences/photo.jpg", "lossy")


def test_lossless_tiff_is_read(folders, capsys, tmp_path):
    rng = np.random.default_rng(9)
    label, inference = ids(rng, 9), ids(rng, 9)
    Image.fromarray(label).save(tmp_path / "labels" / "scan.tif", compression="tiff_lzw")
    Image.fromarray(inference).save(tmp_path / "inferences" / "scan.png")
    assert_scored_like_sklearn(capsys, folders, "scan", label, inference)


def test_one_bit_label_next_to_0_255_inference_is_refused(folders, capsys, tmp_path):
    binary = ids(np.random.default_rng(10), 1)
    Image.fromarray(binary.astype(bool)).save(tmp_path / "labels" / "depth.png")
    Image.fromarray(binary * 255).save(tmp_path / "inferences" / "depth.png")
    error = assert_refused(capsys, folders, "labels/depth.png", "1-bit", "inferences/depth.png",
                           "up to 255", "disagree in bit depth")
    assert error.startswith("labels/depth.png stores 1-bit samples (ids 0..1)")
    assert "map the ids with --inference-map (e.g. 255:1)" in error


def test_one_bit_predictions_next_to_0_255_labels_are_scored_once_the_labels_are_mapped(folders, capsys, tmp_path):
    # The README's binary case: labels saved as 0/255, predictions as 0/1 (here 1-bit), --label-map 255:1.
    rng = np.random.default_rng(11)
    label, inference = ids(rng, 1), ids(rng, 1)
    Image.fromarray(label * 255).save(tmp_path / "labels" / "binary.png")
    Image.fromarray(inference.astype(bool)).save(tmp_path / "inferences" / "binary.png")
    status, document, _ = run(capsys, "--label-map", "255:1")
    assert status == 0 and not document["errors"]
    assert_report_matches_sklearn(next(image for image in document["images"] if image["id"] == "binary"),
                                  label, inference, None, 0.0)
    assert_good_pairs_unchanged(document, folders)


def test_a_void_255_in_the_label_next_to_one_bit_predictions_is_not_a_bit_depth_disagreement(folders, capsys,
                                                                                             tmp_path):
    rng = np.random.default_rng(12)
    label, inference = ids(rng, 1), ids(rng, 1)
    label[0] = 255  # a void border row, left out with --ignore-index 255
    Image.fromarray(label).save(tmp_path / "labels" / "void.png")
    Image.fromarray(inference.astype(bool)).save(tmp_path / "inferences" / "void.png")
    status, document, _ = run(capsys, "--ignore-index", "255")
    assert status == 0 and not document["errors"]
    assert_report_matches_sklearn(next(image for image in document["images"] if image["id"] == "void"),
                                  label, inference, 255, 0.0)
    status, document, _ = run(capsys)  # without it, 255 is a class the 1-bit file cannot hold
    assert status == 1 and "disagree in bit depth" in document["errors"][0]["error"]


def test_sizes_that_differ_are_refused_with_both_sizes(folders, capsys, tmp_path):
    Image.fromarray(np.zeros((10, 20), np.uint8)).save(tmp_path / "labels" / "size.png")
    Image.fromarray(np.zeros((10, 21), np.uint8)).save(tmp_path / "inferences" / "size.png")
    assert_refused(capsys, folders, "labels/size.png", "20x10", "inferences/size.png", "21x10",
                   "sizes differ")


def good_png(values=None):
    buffer = io.BytesIO()
    Image.fromarray(ids(np.random.default_rng(11), 3) if values is None else values).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("damage, words", [
    (lambda data: data[: len(data) // 2], ["truncated or corrupt"]),
    (lambda data: data[:60] + bytes(b ^ 0xFF for b in data[60:90]) + data[90:], ["truncated or corrupt"]),
    (lambda data: b"these are notes, not an image\n", ["not a readable image"]),
    (lambda data: b"", ["not a readable image"]),
])
def test_damaged_files_are_refused(folders, capsys, tmp_path, damage, words):
    (tmp_path / "labels" / "bad.png").write_bytes(damage(good_png()))
    (tmp_path / "inferences" / "bad.png").write_bytes(good_png())
    assert_refused(capsys, folders, "labels/bad.png", *words)


def test_decompression_bomb_protection_stays_on(folders, capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)  # restored after the test
    Image.fromarray(np.zeros((100, 100), np.uint8)).save(tmp_path / "labels" / "huge.png")
    Image.fromarray(np.zeros((100, 100), np.uint8)).save(tmp_path / "inferences" / "huge.png")
    status, document, _ = run(capsys, "--max-image-pixels", "5000")  # the 12x16 good pairs pass
    assert status == 1
    [error] = document["errors"]
    assert error["error"].startswith("labels/huge.png: 10000 pixels, more than the decompression-bomb limit of 5000")
    assert "--max-image-pixels" in error["error"]
    assert_good_pairs_unchanged(document, folders)


def test_unreadable_file_is_refused(folders, capsys, tmp_path, monkeypatch):
    Image.fromarray(np.zeros(SHAPE, np.uint8)).save(tmp_path / "labels" / "locked.png")
    Image.fromarray(np.zeros(SHAPE, np.uint8)).save(tmp_path / "inferences" / "locked.png")
    real_open = builtins.open

    def open_without_permission(file, *args, **kwargs):  # chmod 000 does not stop root
        if str(file).endswith("labels/locked.png"):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)
    monkeypatch.setattr(builtins, "open", open_without_permission)
    assert_refused(capsys, folders, "labels/locked.png", "cannot read the file", "Permission denied")


@pytest.mark.parametrize("folder, other", [("labels", "inferences"), ("inferences", "labels")])
def test_a_file_without_partner_is_refused(folders, capsys, tmp_path, folder, other):
    Image.fromarray(np.zeros(SHAPE, np.uint8)).save(tmp_path / folder / "alone.png")
    assert_refused(capsys, folders, f"{folder}/alone.png", f"no {other[:-1]} of that name")


def test_two_files_for_one_id_are_refused(folders, capsys, tmp_path):
    for name in ("twice.png", "twice.tif"):
        Image.fromarray(np.zeros(SHAPE, np.uint8)).save(tmp_path / "labels" / name)
    Image.fromarray(np.zeros(SHAPE, np.uint8)).save(tmp_path / "inferences" / "twice.png")
    assert_refused(capsys, folders, "labels/twice.tif", "two masks for one id")


def test_files_that_are_not_masks_are_passed_over(folders, capsys, tmp_path):
    (tmp_path / "labels" / "notes.txt").write_text("not a mask")
    (tmp_path / "labels" / "README").write_text("not a mask either")
    (tmp_path / "labels" / "class_names.txt").write_text("a\nb\nc\nd\ne\n")
    (tmp_path / "labels" / ".hidden.png").write_bytes(b"junk")
    (tmp_path / "inferences" / "Thumbs.db").write_bytes(b"junk")
    (tmp_path / "inferences" / "subfolder.png").mkdir()
    status, document, err = run(capsys)
    assert status == 0 and document["errors"] == []
    assert_good_pairs_unchanged(document, folders)
    assert err.count("note: passed over 3 files that are not masks") == 1
    assert "labels/notes.txt" in err and "Thumbs.db" in err and "class_names" not in err


def test_an_image_with_every_pixel_ignored_is_reported_not_refused(folders, capsys, tmp_path):
    Image.fromarray(np.full(SHAPE, 255, np.uint8)).save(tmp_path / "labels" / "void.png")
    Image.fromarray(np.zeros(SHAPE, np.uint8)).save(tmp_path / "inferences" / "void.png")
    status, document, _ = run(capsys, "--ignore-index", "255")
    assert status == 0
    void = next(image for image in document["images"] if image["id"] == "void")
    assert void["pixels"] == 0 and void["classes"] == {} and void["accuracy"] is None
    assert void["mean_iou"] is None and void["macro_avg"]["iou"] is None
    assert tool.main(["--ignore-index", "255"]) == 0
    out = capsys.readouterr().out
    assert "every label pixel is the ignore index 255: nothing to score" in out
    summary = out[out.index("Per-image summary"):]
    assert "void" in summary and "undefined" in summary


@pytest.mark.parametrize("setup, words", [
    (lambda root: shutil.rmtree(root / "labels"), "--labels labels: no such folder"),
    (lambda root: shutil.rmtree(root / "inferences"), "--inferences inferences: no such folder"),
    (lambda root: shutil.rmtree(root / "labels") or (root / "labels").write_text(""),
     "--labels labels: a file, not a folder"),
    (lambda root: [path.unlink() for path in (root / "labels").iterdir()], "no pair of masks"),
    (lambda root: [path.rename(path.with_name("other" + path.name))
                   for path in (root / "inferences").iterdir()], "no pair of masks"),
])
def test_nothing_to_do_stops_at_once_with_exit_2(folders, capsys, tmp_path, setup, words):
    setup(tmp_path)
    status, document, err = run(capsys)
    assert status == 2 and document is None
    assert words in err and "Traceback" not in err


def test_an_internal_error_names_the_file_and_spares_the_rest(folders, capsys, tmp_path, monkeypatch):
    Image.fromarray(np.zeros(SHAPE, np.uint8)).save(tmp_path / "labels" / "buggy.png")
    Image.fromarray(np.zeros(SHAPE, np.uint8)).save(tmp_path / "inferences" / "buggy.png")
    real_count = tool.count_occurring

    def count_with_a_bug(label, inference, *rest):
        if not label.any():  # only the all-zero pair
            raise RuntimeError("a bug")
        return real_count(label, inference, *rest)
    monkeypatch.setattr(tool, "count_occurring", count_with_a_bug)
    assert_refused(capsys, folders, "labels/buggy.png", "internal error", "RuntimeError: a bug")


def test_ctrl_c_stops_cleanly(folders, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(tool, "count_occurring", interrupted)
    assert tool.main([]) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_text_mode_lists_errors_at_the_end_and_the_skipped_pairs(folders, capsys, tmp_path):
    (tmp_path / "labels" / "bad.png").write_bytes(b"junk")
    (tmp_path / "inferences" / "bad.png").write_bytes(good_png())
    assert tool.main([]) == 1
    captured = capsys.readouterr()
    assert "=== combined: 2 images" in captured.out
    assert "1 skipped because of errors (listed at the end): bad" in captured.out
    assert captured.err == ("error: labels/bad.png: not a readable image (corrupt, or not an image "
                            "at all)\n")


def test_no_traceback_reaches_the_user_in_a_real_process(tmp_path):
    for folder in ("labels", "inferences"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    (tmp_path / "labels" / "000003_10.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    result = subprocess.run([sys.executable, str(ROOT / "Semantic_Segmentation_Label_Metrics.py")],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stdout.count("=== 0000") == 9
    assert "error: labels/000003_10.png:" in result.stderr


def test_low_bit_palette_next_to_larger_ids_is_scored(folders, capsys, tmp_path):
    rng = np.random.default_rng(13)
    label, inference = ids(rng, 3), rng.choice(np.array([0, 5, 11, 13], np.uint8), SHAPE)
    (tmp_path / "labels" / "pal2.png").write_bytes(png_bytes(label, 2, 3, [0, 0, 0] * 4))
    Image.fromarray(inference).save(tmp_path / "inferences" / "pal2.png")
    assert_scored_like_sklearn(capsys, folders, "pal2", label, inference)


@pytest.mark.parametrize("name, write, words", [
    ("grey.pgm", lambda path: path.write_bytes(b"P5 4 3 15\n" + bytes(range(12))), "PPM is not a mask format"),
    ("bits.pbm", lambda path: Image.new("1", (4, 3)).save(path), "PPM is not a mask format"),
    ("inverted.tif", lambda path: Image.new("L", (4, 3)).save(path, tiffinfo={262: 0}), "min-is-white"),
    ("pages.tif", lambda path: Image.new("L", (4, 3)).save(
        path, save_all=True, append_images=[Image.new("L", (4, 3), 1)]), "holds 2 frames"),
    ("moving.gif", lambda path: Image.new("L", (4, 3)).save(
        path, save_all=True, append_images=[Image.new("L", (4, 3), 9)]), "holds 2 frames"),
])
def test_files_pillow_would_misread_are_refused(folders, capsys, tmp_path, name, write, words):
    write(tmp_path / "labels" / name)
    Image.new("L", (4, 3)).save(tmp_path / "inferences" / (name.split(".")[0] + ".png"))
    assert_refused(capsys, folders, f"labels/{name}", words)


def test_the_json_error_names_the_file_at_fault(folders, capsys, tmp_path):
    Image.fromarray(np.zeros(SHAPE, np.uint8)).save(tmp_path / "labels" / "fine.png")
    (tmp_path / "inferences" / "fine.png").write_text("junk")
    status, document, _ = run(capsys)
    assert status == 1 and document["errors"][0]["path"] == "inferences/fine.png"


def test_a_named_pipe_is_refused_not_waited_for(folders, capsys, tmp_path):
    os.mkfifo(tmp_path / "labels" / "pipe.png")
    Image.fromarray(np.zeros(SHAPE, np.uint8)).save(tmp_path / "inferences" / "pipe.png")
    assert_refused(capsys, folders, "labels/pipe.png", "not a regular file")


def test_odd_file_names_are_sorted_scored_and_shown_on_one_line(folders, capsys, tmp_path):
    for name in ("①.png", "v1².png", "tab\there.png"):
        for folder in ("labels", "inferences"):
            Image.fromarray(np.zeros(SHAPE, np.uint8)).save(tmp_path / folder / name)
    (tmp_path / "labels" / "new\nline.png").write_bytes(good_png())
    raw_name = os.fsdecode(b"\xff\xfe.png")
    for folder in ("labels", "inferences"):
        Image.fromarray(np.zeros(SHAPE, np.uint8)).save(tmp_path / folder / raw_name)
    status = tool.main(["--format", "json"])
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    captured.out.encode("utf-8")  # no lone surrogates: strict UTF-8 and strict JSON parsers accept it
    assert status == 1
    assert {image["id"] for image in document["images"]} >= {"①", "v1²", "tab\\there", "\\xff\\xfe"}
    assert document["errors"][0]["error"].startswith("labels/new\\nline.png: no inference")
    assert tool.main([]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "new\\nline" in err


def test_an_unwritable_stdout_is_an_error_not_a_traceback(tmp_path):
    result = subprocess.run(f"'{sys.executable}' Semantic_Segmentation_Label_Metrics.py > /dev/full",
                            shell=True, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "error: cannot write the report" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("content, words", [
    ("road\n0: street\n", "line 2: id 0 was already given on line 1"),
    ("-1: minus\n", "line 1: id -1 is outside 0..255"),
    ("\n" * 300 + "300: far\n", "line 301: id 300 is outside 0..255"),
])
def test_class_names_files_that_are_wrong_are_usage_errors(folders, capsys, tmp_path, content, words):
    (tmp_path / "names.txt").write_text(content, encoding="utf-8")
    with pytest.raises(SystemExit) as stop:
        tool.main(["--class-names", "names.txt"])
    assert stop.value.code == 2 and words in capsys.readouterr().err


def test_class_names_with_a_byte_order_mark_and_binary_ones(folders, capsys, tmp_path):
    (tmp_path / "bom.txt").write_bytes("255: void\n".encode("utf-8-sig"))
    assert tool.read_class_names("bom.txt") == ({255: "void"}, None)
    (tmp_path / "binary.txt").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match="binary.txt: not UTF-8 text"):
        tool.read_class_names("binary.txt")


@pytest.mark.parametrize("digits", ["18", "2147483648"])
def test_absurd_digits_are_a_usage_error(folders, digits):
    with pytest.raises(SystemExit) as stop:
        tool.main(["--digits", digits])
    assert stop.value.code == 2


# ---------------------------------------------------------------- the reader under fuzzing

def random_mode_png(draw):
    """PNG bytes of a random mode and size, with the ids a correct reader must return (or None)."""
    height, width = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["L", "P", "1", "I;16", "RGB", "RGBA", "LA", "raw2", "raw4", "raw16"]))
    buffer = io.BytesIO()
    if kind in ("raw2", "raw4"):
        bit_depth = int(kind[3:])
        samples = ids(rng, (1 << bit_depth) - 1, (height, width))
        return png_bytes(samples, bit_depth), samples
    if kind == "raw16":
        samples = rng.integers(0, 300, (height, width)).astype(np.uint16)
        return png_bytes(samples, 16), samples.astype(np.uint8) if samples.max() <= 255 else None
    if kind in ("L", "P", "1"):
        samples = ids(rng, 1 if kind == "1" else 255, (height, width))
        image = Image.fromarray(samples.astype(bool) if kind == "1" else samples)
        if kind == "P":
            image = Image.frombytes("P", (width, height), samples.tobytes())
            image.putpalette(rng.integers(0, 256, 768).astype(np.uint8).tolist())
        expected = (samples > 0).astype(np.uint8) if kind == "1" else samples
        image.save(buffer, "PNG")
        return buffer.getvalue(), expected
    if kind == "I;16":
        samples = ids(rng, 255, (height, width)).astype(np.uint16)
        Image.fromarray(samples).save(buffer, "PNG")
        return buffer.getvalue(), samples.astype(np.uint8)
    Image.fromarray(rng.integers(0, 256, (height, width, len(kind))).astype(np.uint8)).save(buffer, "PNG")
    return buffer.getvalue(), None


@st.composite
def mask_files(draw):
    data, expected = random_mode_png(draw)
    damage = draw(st.sampled_from(["none", "truncate", "flip", "random"]))
    if damage == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))], "unknown"
    if damage == "flip":
        position = draw(st.integers(0, len(data) - 1))
        return data[:position] + bytes([data[position] ^ draw(st.integers(1, 255))]) + data[position + 1:], "unknown"
    if damage == "random":
        return draw(st.binary(max_size=300)), "unknown"
    return data, expected


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mask_files())
def test_reader_returns_correct_ids_or_raises_its_own_error(tmp_path, file):
    data, expected = file
    path = tmp_path / "fuzz.png"
    path.write_bytes(data)
    try:
        read, _ = tool.read_mask(path)
    except tool.MaskError as error:
        assert str(error).startswith(str(path)) and "\n" not in str(error)
        assert expected is None or isinstance(expected, str)  # a good mask is never refused
        return
    assert read.dtype == np.uint8 and read.ndim == 2
    if not isinstance(expected, str):
        assert expected is not None, "a file that holds no class ids was accepted"
        np.testing.assert_array_equal(read, expected)


@pytest.mark.parametrize("mode, format, options", [
    ("L", "PNG", {}), ("P", "PNG", {}), ("L", "PNG", {"interlace": 1}), ("P", "GIF", {}), ("L", "BMP", {}),
    ("L", "TIFF", {"compression": "tiff_lzw"}), ("P", "TIFF", {"compression": "tiff_adobe_deflate"})])
def test_masks_decoded_straight_into_the_array_equal_numpy_s_copy(tmp_path, mode, format, options):
    rng = np.random.default_rng(3)
    ids = np.repeat(rng.integers(0, 200, (37, 1)), 53, axis=1).astype(np.uint8)  # odd sizes: no padding
    image = Image.fromarray(ids, mode)
    if mode == "P":
        image.putpalette(tool.class_colours().ravel().tolist())
    path = tmp_path / f"mask.{format.lower()}"
    image.save(path, format=format, **options)
    with Image.open(path) as opened:
        copied = np.asarray(opened)  # np.asarray's copy of what Pillow decoded
    if format != "GIF":  # (GIF renumbers a palette's entries as it saves)
        np.testing.assert_array_equal(copied, ids)
    with Image.open(path) as opened:
        np.testing.assert_array_equal(tool.decoded_bytes(opened), copied)
    np.testing.assert_array_equal(tool.read_mask(path)[0], copied)


def test_a_gif_frame_smaller_than_its_canvas_reads_as_pillow_fills_it(tmp_path):
    # The frame's tile covers the top-left 8x8 of a 16x16 canvas: the rest is Pillow's to fill, never memory
    # left as it was (which gave different ids from run to run).
    frame = np.zeros((8, 8), np.uint8)
    frame[:4] = 1
    saved = io.BytesIO()
    Image.fromarray(frame).convert("P").save(saved, "GIF")
    data = bytearray(saved.getvalue())
    data[6:10] = struct.pack("<HH", 16, 16)  # the logical screen: 16x16
    (tmp_path / "canvas.gif").write_bytes(bytes(data))
    with Image.open(tmp_path / "canvas.gif") as opened:
        assert opened.size == (16, 16) and tuple(opened.tile[0][1]) == (0, 0, 8, 8)
        expected = np.asarray(opened)
    for _ in range(3):
        used = np.full((16, 16), 171, np.uint8)
        del used  # memory that a new array of that size may be given next
        np.testing.assert_array_equal(tool.read_mask(tmp_path / "canvas.gif")[0], expected)
    assert len(np.unique(expected[8:])) == 1  # one fill below the frame


def test_masks_are_still_read_when_pillow_keeps_its_own_memory(tmp_path, monkeypatch):
    ids = np.arange(60, dtype=np.uint8).reshape(6, 10)
    Image.fromarray(ids).save(tmp_path / "mask.png")
    real_load = ImageFile.ImageFile.load

    def load_into_new_memory(image):  # as a Pillow that allocates memory of its own on decoding would
        if image.tile:
            image.im = Image.core.new(image.mode, image.size)
        return real_load(image)
    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", load_into_new_memory)
    np.testing.assert_array_equal(tool.read_mask(tmp_path / "mask.png")[0], ids)


def test_a_link_in_a_loop_among_the_masks_refuses_that_file_only(folders, capsys, tmp_path):
    os.symlink("loop.png", tmp_path / "labels" / "loop.png")  # a link to itself: neither file nor folder
    Image.fromarray(np.zeros(SHAPE, np.uint8)).save(tmp_path / "inferences" / "loop.png")
    assert_refused(capsys, folders, "labels/loop.png", "cannot read the file")


def test_a_sub_folder_that_cannot_be_read_is_refused_and_the_rest_scored(folders, capsys, tmp_path, monkeypatch):
    for side in ("labels", "inferences"):
        (tmp_path / side / "locked").mkdir()
        Image.fromarray(np.zeros(SHAPE, np.uint8)).save(tmp_path / side / "locked" / "hidden.png")
    real_scandir = os.scandir

    def scandir(path="."):  # as for a folder without read permission (which root would read anyway)
        if os.fspath(path).endswith(os.path.join("labels", "locked")):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)
    monkeypatch.setattr(os, "scandir", scandir)
    status, document, _ = run(capsys, "--recursive")
    assert status == 1
    errors = [error["error"] for error in document["errors"]]
    assert "labels/locked: cannot read the folder (Permission denied); its masks are not scored" in errors
    assert_good_pairs_unchanged(document, folders)
    assert [image["id"] for image in document["images"]] == sorted(folders)
    monkeypatch.setattr(os, "scandir", lambda path=".": (_ for _ in ()).throw(PermissionError(13, "denied", path)))
    status, _, err = run(capsys, "--recursive")  # the folder itself: nothing can be scored
    assert status == 2 and err.startswith("error: cannot list the masks") and "\n" not in err.strip()
