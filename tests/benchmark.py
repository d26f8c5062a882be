"""How fast is the tool next to PNG decoding alone and next to scikit-learn? One run measures all.

    python tests/benchmark.py                 # the table in the README (about two minutes)
    python tests/benchmark.py --pairs 40 --cli-pairs 60 --rounds 1   # a quick look

Synthetic pairs at 1242x375 (the sample masks) and 2048x1024 (the same masks scaled up) are
copied into a temporary folder. Per pair of masks it measures, side by side in each round:
the decode floor (np.asarray(Image.open(path)) for label and inference), the straightforward
scikit-learn pipeline (decode, confusion_matrix with 256 labels, sum), the tool's own pipeline
in one process and with all cores; then whole runs of the command line (wall time and the
child's peak RSS) on the ten samples, and on 10 and many pairs of 2048x1024. Every pipeline
must give the same combined matrix. Timings on a shared machine are noisy: compare the ratios.
"""

import argparse
import contextlib
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import PIL
import sklearn
from PIL import Image
from sklearn.metrics import confusion_matrix

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import Semantic_Segmentation_Label_Metrics as tool  # noqa: E402

SIZES = ((1242, 375), (2048, 1024))
SAMPLE_IDS = [f"{n:06d}_10" for n in range(10)]


def make_pairs(folder, size, count):
    """count pairs of size (width, height) in folder/labels and folder/inferences; returns the pair list."""
    for kind in ("labels", "inferences"):
        (folder / kind).mkdir(parents=True)
        for image_id in SAMPLE_IDS:  # ten distinct pairs, nearest-neighbour scaled
            with Image.open(ROOT / kind / f"{image_id}.png") as mask:
                mask.resize(size, Image.Resampling.NEAREST).save(folder / kind / f"{image_id}.png")
        for n in range(len(SAMPLE_IDS), count):  # copies, so each pair is a file of its own
            shutil.copyfile(folder / kind / f"{SAMPLE_IDS[n % 10]}.png", folder / kind / f"{n:06d}_10.png")
    pairs, errors, *_ = tool.find_pairs(folder / "labels", folder / "inferences")
    assert not errors and len(pairs) == count
    return pairs


def decode_floor(pairs):
    for _, label_path, inference_path, *_ in pairs:  # Pair's key, label, inference, ...
        np.asarray(Image.open(label_path))
        np.asarray(Image.open(inference_path))


def sklearn_pipeline(pairs):
    total = np.zeros((256, 256), dtype=np.int64)
    for _, label_path, inference_path, *_ in pairs:  # Pair's key, label, inference, ...
        label, inference = np.asarray(Image.open(label_path)), np.asarray(Image.open(inference_path))
        total += confusion_matrix(label.ravel(), inference.ravel(), labels=range(256))
    return total


def tool_pipeline(pairs, jobs, *options):
    """The command line's own pipeline, in this process, with its JSON output kept for the checks."""
    folder = Path(pairs[0][1]).parent.parent
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        status = tool.main(["--labels", str(folder / "labels"), "--inferences", str(folder / "inferences"),
                            "--format", "json", "--jobs", str(jobs), "--quiet", *options])
    assert status == 0
    document = json.loads(output.getvalue())
    return tool.matrix_from_report(document["combined"]), document["images"]


# Masks as datasets also ship them: colour-coded (Cityscapes' trainId colours, void black), read with
# --palette; labels in Cityscapes labelIds (void 0) against trainId inferences, read with --label-map; and
# road (trainId 0) against the rest, the inferences 8-bit road probability maps (as KITTI road's), --scores.
VARIANTS = {"palette": ("colour-coded masks, `--palette cityscapes`", ["--palette", "cityscapes"]),
            "map": ("labelIds labels, `--label-map cityscapes-labelids`", ["--label-map", "cityscapes-labelids"]),
            "scores": ("8-bit road probability maps, `--scores` (AUC, AP, MaxF and the report at 0.5)",
                       ["--scores", "--ignore-index", "255"]),
            "distances": ("boundary distances, `--distances` (the samples' inferences: many boundaries far off)",
                          ["--distances"]),
            "near": ("boundary distances, `--distances`, each inference the label moved 2 px down and 1 right",
                     ["--distances"])}


def make_variant(pairs, folder, kind):
    """Copies of pairs in folder as the variant kind of VARIANTS; returns the new pair list."""
    colours, labelids = np.zeros((256, 3), np.uint8), np.zeros(256, np.uint8)
    for label_id, train_id, colour in tool.CITYSCAPES_LABELS:
        if train_id != 255:
            colours[train_id], labelids[train_id] = colour, label_id
    for sub in ("labels", "inferences"):
        (folder / sub).mkdir(parents=True)
    for _, label_path, inference_path, *_ in pairs:  # Pair's key, label, inference, ...
        label, inference = np.asarray(Image.open(label_path)), np.asarray(Image.open(inference_path))
        if kind == "palette":
            label, inference = colours[label], colours[inference]
        elif kind == "map":
            label = labelids[label]
        elif kind == "near":  # every boundary a pixel or two off, as a good model's are
            inference = np.roll(label, (2, 1), axis=(0, 1))
        elif kind == "distances":
            pass
        else:  # a probability of road: high where the model says road, with noise everywhere
            noise = np.random.default_rng(len(label_path)).integers(0, 90, label.shape)
            label = np.where(label == 255, 255, label == 0).astype(np.uint8)
            inference = np.clip((inference == 0) * 165 + noise, 0, 255).astype(np.uint8)
        Image.fromarray(label).save(folder / "labels" / Path(label_path).name)
        Image.fromarray(inference).save(folder / "inferences" / Path(inference_path).name)
    return tool.find_pairs(folder / "labels", folder / "inferences")[0]


def add_pictures(folder, count):
    """Camera pictures for the pairs of make_pairs in folder/images (the samples' pictures, cycled)."""
    (folder / "images").mkdir()
    for n in range(count):
        shutil.copyfile(ROOT / "images" / f"{SAMPLE_IDS[n % 10]}.png", folder / "images" / f"{n:06d}_10.png")


def make_many_classes(folder, count, classes=150, size=(512, 512)):
    """count pairs of masks holding classes ids (as ADE20K does), blocks of 16 pixels, a fifth predicted
    wrong by block, with random camera pictures."""
    rng = np.random.default_rng(classes)
    for sub in ("labels", "inferences", "images"):
        (folder / sub).mkdir(parents=True)
    blocks = (size[1] // 16, size[0] // 16)
    for n in range(count):
        label = rng.integers(0, classes, blocks).astype(np.uint8)
        inference = np.where(rng.random(blocks) < 0.8, label, rng.integers(0, classes, blocks)).astype(np.uint8)
        for sub, mask in (("labels", label), ("inferences", inference)):
            Image.fromarray(mask.repeat(16, 0).repeat(16, 1)).save(folder / sub / f"{n:04d}.png")
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(folder / "images" / f"{n:04d}.png")


def bootstrap_costs(images, count, resamples, rounds):
    """Seconds (median of rounds) and peak traced memory of --bootstrap's intervals and of --compare's paired
    comparison of two models, over count images made by cycling the given image reports."""
    reports = [images[n % len(images)] for n in range(count)]
    counts = tool.ImageCounts()
    for report in reports:
        counts.add(tool.counts_of_report(report))
    costs = {}
    for name, run in (("intervals", lambda: tool.confidence_intervals(counts, 255, resamples, 0.95, 0)),
                      ("comparison", lambda: tool.compare_models([reports, reports], ["a", "b"], 255,
                                                                 resamples=resamples))):
        seconds = []
        for _ in range(rounds):
            start = time.perf_counter()
            run()
            seconds.append(time.perf_counter() - start)
        tracemalloc.start()
        run()
        costs[name] = (statistics.median(seconds), tracemalloc.get_traced_memory()[1] / 2**20)
        tracemalloc.stop()
    return costs, len(counts.ids())


STAGES = {"read": "reading both masks (`read_pair`)", "count": "counting (`count_occurring`)",
          "report": "the image's report (`image_report`)", "text": "its text section (`format_image_section`)"}


API_STAGES = {"add": "the Python API: `Evaluator.add()` of the pair's arrays, in memory (no decode)",
              "api report": "the Python API: `Evaluator.report()`, per pair"}


def stage_costs(pairs, rounds_out):
    """Milliseconds per pair in each stage of the one-process pipeline, run pair after pair as the tool runs
    them (so that each stage finds the caches as the one before left them)."""
    spent = dict.fromkeys(STAGES, 0.0)
    for _, label_path, inference_path, *_ in pairs:  # Pair's key, label, inference, ...
        start = time.perf_counter()
        label, inference, _ = tool.read_pair(label_path, inference_path)
        read = time.perf_counter()
        counts = tool.count_occurring(label, inference)
        counted = time.perf_counter()
        report = tool.image_report(Path(label_path).stem, label_path, inference_path, counts)
        reported = time.perf_counter()
        tool.format_image_section(report)
        ends = {"read": read - start, "count": counted - read, "report": reported - counted,
                "text": time.perf_counter() - reported}
        for stage, seconds in ends.items():
            spent[stage] += seconds
    rounds_out.append({stage: seconds * 1000 / len(pairs) for stage, seconds in spent.items()})


def api_costs(pairs, rounds_out):
    """Milliseconds per pair of `Evaluator.add` on arrays already in memory (the ten distinct pairs, decoded
    once, given again and again) and of `Evaluator.report` over them: the Python API's cost without a decode."""
    arrays = [tuple(np.asarray(Image.open(path)) for path in pair[1:3]) for pair in pairs[:10]]
    evaluator = tool.Evaluator()
    start = time.perf_counter()
    for index in range(len(pairs)):
        evaluator.add(*arrays[index % len(arrays)])
    added = time.perf_counter()
    evaluator.report()
    rounds_out.append({"add": (added - start) * 1000 / len(pairs),
                       "api report": (time.perf_counter() - added) * 1000 / len(pairs)})


def make_coco(folder, count, size=(640, 480), polygons=10):
    """count synthetic COCO images of size with about `polygons` polygons each: folder/instances.json,
    the same labels as PNGs in folder/labels (as the tool draws them), and inferences (each label with
    its objects shifted) in folder/inferences."""
    width, height = size
    rng = np.random.default_rng(29)
    images, annotations = [], []
    for (kind) in ("labels", "inferences"):
        (folder / kind).mkdir(parents=True)
    for image_id in range(1, count + 1):
        images.append({"id": image_id, "file_name": f"{image_id:012d}.jpg", "height": height, "width": width})
        for _ in range(rng.integers(polygons - 3, polygons + 4)):
            centre, radius = rng.uniform((0, 0), (width, height)), rng.uniform(8, 90)
            angles = np.sort(rng.uniform(0, 2 * np.pi, rng.integers(8, 30)))
            reach = radius * rng.uniform(0.5, 1.0, angles.size)
            polygon = np.stack([centre[0] + reach * np.cos(angles), centre[1] + reach * np.sin(angles)], 1)
            annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                "category_id": int(rng.choice([1, 2, 3, 18, 44, 62, 72])),
                                "segmentation": [polygon.round(2).ravel().tolist()], "iscrowd": 0})
    categories = [{"id": category, "name": tool.COCO_CATEGORY_NAMES[category]} for category in (1, 2, 3, 18, 44, 62, 72)]
    (folder / "instances.json").write_text(json.dumps({"images": images, "annotations": annotations,
                                                       "categories": categories}))
    coco = tool.read_coco_annotations([folder / "instances.json"])
    for key, (_, image) in coco.labels.items():
        label = tool.rasterised(image)[0]
        Image.fromarray(label).save(folder / "labels" / f"{key}.png")
        Image.fromarray(np.roll(label, (3, 5), (0, 1))).save(folder / "inferences" / f"{key}.png")
    return [image for _, image in coco.labels.values()], sorted((folder / "labels").iterdir())


def coco_costs(folder, count, rounds):
    """Milliseconds per image of drawing the labels from the annotations against decoding the same labels
    as PNGs (in this process, the tool's own reading), and seconds of whole runs on the annotation file and
    on the PNGs."""
    images, pngs = make_coco(folder, count)
    times = {name: [] for name in ("rasterise", "decode", "coco run", "png run")}
    for _ in range(rounds):
        start = time.perf_counter()
        for image in images:
            tool.rasterised(image)
        times["rasterise"].append((time.perf_counter() - start) * 1000 / count)
        start = time.perf_counter()
        for path in pngs:
            tool.read_mask(path)
        times["decode"].append((time.perf_counter() - start) * 1000 / count)
        times["coco run"].append(run_cli(["--coco-annotations", "instances.json", "--jobs", "1"], folder)[0])
        times["png run"].append(run_cli(["--jobs", "1"], folder)[0])
    return {name: statistics.median(values) for name, values in times.items()}


def per_pair_ms(function, pairs, rounds_out, *args):
    start = time.perf_counter()
    result = function(pairs, *args)
    rounds_out.append((time.perf_counter() - start) * 1000 / len(pairs))
    return result


# Runs the command line and reports its wall time and peak RSS. It runs in a small process of its
# own because Linux carries the peak RSS of a parent over fork and exec into the child's figure.
LAUNCHER = """
import resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
wall = time.perf_counter() - start
if done.returncode != 0:
    sys.exit(done.stderr)
print(wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)  # Linux counts kilobytes
"""


def run_cli(args, cwd, command=None, env=None):
    """Wall seconds and peak RSS (MB) of one whole run of the command line (or of another command)."""
    command = command or [sys.executable, str(ROOT / "Semantic_Segmentation_Label_Metrics.py")]
    measured = subprocess.run([sys.executable, "-c", LAUNCHER, *command, *args], cwd=cwd, capture_output=True,
                              text=True, check=True, env={**os.environ, **(env or {})})
    wall, rss = measured.stdout.split()
    return float(wall), float(rss)


# A process that only decodes every pair of a folder, as the decode floor does: what the tool's whole
# process is measured against. "Warm": with glibc's malloc keeping freed memory for reuse (as the tool
# now has it), so that decoding does not fault fresh pages in for every mask; "plain": as Python starts.
DECODE_ONLY = """
import sys
from pathlib import Path
import numpy as np
from PIL import Image
for label in sorted(Path("labels").iterdir()):
    np.asarray(Image.open(label)), np.asarray(Image.open(Path("inferences") / label.name))
"""
DECODE_ONLY_COMMAND = [sys.executable, "-c", DECODE_ONLY]
DECODE_ONLY_IMPORTS = [sys.executable, "-c", "import numpy, PIL.Image, PIL.PngImagePlugin"]  # its start-up
WARM = {"MALLOC_TOP_PAD_": str(64 << 20)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=200, help="pairs per size for the pipelines (default 200)")
    parser.add_argument("--sklearn-pairs", type=int, default=20,
                        help="pairs for the slow scikit-learn pipeline (default 20)")
    parser.add_argument("--cli-pairs", type=int, default=500,
                        help="pairs of 2048x1024 for the large command-line run (default 500)")
    parser.add_argument("--variant-pairs", type=int, default=50,
                        help="pairs per size for colour-coded and mapped masks (default 50)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians are reported (default 3)")
    parser.add_argument("--folder-pairs", type=int, default=100,
                        help="pairs of 1242x375 with camera pictures for the report folder's cost (default 100)")
    parser.add_argument("--bootstrap-images", type=int, default=5000,
                        help="images for the cost of --bootstrap and --compare (default 5000)")
    parser.add_argument("--resamples", type=int, default=1000, help="their resamples (default 1000)")
    parser.add_argument("--coco-images", type=int, default=500,
                        help="synthetic COCO images (640x480, about 10 polygons each) for --coco-annotations "
                             "(default 500)")
    args = parser.parse_args(argv)
    cores = tool.default_jobs(10**9)
    rows, stages, apis = {}, {}, {}
    with tempfile.TemporaryDirectory() as temporary:
        temporary = Path(temporary)
        for width, height in SIZES:
            pairs = make_pairs(temporary / f"{width}x{height}", (width, height), args.pairs)
            few = pairs[: args.sklearn_pairs]
            variants = {kind: make_variant(pairs[: args.variant_pairs], temporary / f"{kind}{width}", kind)
                        for kind in VARIANTS}
            times = {name: [] for name in ("floor", "sklearn", "check", "tool", "cores", "boundary", "boundary cores",
                                           *(f"{kind} {what}" for kind in VARIANTS for what in ("floor", "tool")))}
            stages[width, height], apis[width, height] = [], []
            for _ in range(args.rounds):  # interleaved, so that a busy moment hits every pipeline
                per_pair_ms(decode_floor, pairs, times["floor"])
                stage_costs(pairs, stages[width, height])
                api_costs(pairs, apis[width, height])
                sklearn_total = per_pair_ms(sklearn_pipeline, few, times["sklearn"])
                one_total, images = per_pair_ms(tool_pipeline, pairs, times["tool"], 1)
                cores_total, _ = per_pair_ms(tool_pipeline, pairs, times["cores"], cores)
                boundary_total, _ = per_pair_ms(tool_pipeline, pairs, times["boundary"], 1, "--boundary")
                check_total, _ = per_pair_ms(tool_pipeline, pairs, times["check"], 1, "--check-with-sklearn")
                per_pair_ms(tool_pipeline, pairs, times["boundary cores"], cores, "--boundary")
                for kind, (_, options) in VARIANTS.items():
                    per_pair_ms(decode_floor, variants[kind], times[f"{kind} floor"])
                    variant_total, _ = per_pair_ms(tool_pipeline, variants[kind], times[f"{kind} tool"], 1, *options)
                    if kind not in ("scores", "near"):
                        np.testing.assert_array_equal(  # the same ids, read from colours or mapped
                            variant_total,
                            sum(tool.matrix_from_report(image) for image in images[: args.variant_pairs]))
            np.testing.assert_array_equal(one_total, cores_total)
            np.testing.assert_array_equal(one_total, boundary_total)
            np.testing.assert_array_equal(
                sklearn_total, sum(tool.matrix_from_report(image) for image in images[: len(few)]))
            np.testing.assert_array_equal(one_total, check_total)
            rows[width, height] = {name: statistics.median(values) for name, values in times.items()}
            if (width, height) == SIZES[0]:
                bootstrap, bootstrap_ids = bootstrap_costs(images, args.bootstrap_images, args.resamples, args.rounds)

        coco = coco_costs(temporary / "coco", args.coco_images, args.rounds)
        whole = {size: temporary / f"whole{size[0]}" for size in SIZES}
        for size, folder in whole.items():
            make_pairs(folder, size, args.cli_pairs)
        many = whole[SIZES[1]]
        few_folder = temporary / "ten"
        make_pairs(few_folder, SIZES[1], 10)
        processes = {(size, name): [] for size in SIZES for name in ("warm", "plain", "jobs 1", f"jobs {cores}")}
        pictured = temporary / "pictured"
        make_pairs(pictured, SIZES[0], args.folder_pairs)
        add_pictures(pictured, args.folder_pairs)
        classes = temporary / "classes"
        make_many_classes(classes, 10)
        cli = {name: [] for name in ("samples", "ten", "many", "samples folder", "pictured", "pictured folder",
                                     "classes folder", "start", "decode-only start")}
        for round_ in range(args.rounds):
            cli["start"].append(run_cli(["--help"], ROOT))  # compiling the script, its imports, the options
            cli["decode-only start"].append(run_cli([], ROOT, DECODE_ONLY_IMPORTS))
            for size, folder in whole.items():  # the main figures, interleaved so that noise hits them all
                processes[size, "warm"].append(run_cli([], folder, DECODE_ONLY_COMMAND, WARM))
                processes[size, "plain"].append(run_cli([], folder, DECODE_ONLY_COMMAND))
                processes[size, "jobs 1"].append(run_cli(["--jobs", "1"], folder))
                processes[size, f"jobs {cores}"].append(run_cli(["--jobs", str(cores)], folder))
            cli["samples"].append(run_cli([], ROOT))
            cli["ten"].append(run_cli(["--jobs", "1"], few_folder))
            cli["many"].append(run_cli(["--jobs", "1"], many))
            report = temporary / f"report{round_}"
            cli["samples folder"].append(run_cli(["--output-dir", str(report / "samples")], ROOT))
            cli["pictured"].append(run_cli(["--jobs", "2"], pictured))
            cli["pictured folder"].append(run_cli(["--jobs", "2", "--output-dir", str(report / "pictured")], pictured))
            cli["classes folder"].append(run_cli(["--class-names", "ade20k", "--output-dir", str(report / "classes")],
                                                 classes))

    def median(values, index):
        return statistics.median(value[index] for value in values)

    floor = {size: rows[size]["floor"] for size in SIZES}
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores "
          f"({cores} used by --jobs default); Python {platform.python_version()}, numpy {np.__version__}, "
          f"Pillow {PIL.__version__}, scikit-learn {sklearn.__version__}; median of {args.rounds} rounds")
    print(f"\nMain figures: whole processes on {args.cli_pairs} pairs per size, each wall time per pair and "
          "against the warm decode floor (a process that only decodes the pairs, with glibc keeping freed "
          "memory for reuse, MALLOC_TOP_PAD_=64 MiB) and against a plain decode-only process (as Python "
          "starts). The tool prints its default text report (to /dev/null).\n")
    print("| whole process, per pair | " + " | ".join(f"{w}x{h}" for w, h in SIZES) + " |")
    print("|---|" + "---|" * len(SIZES))
    for name, title in (("warm", "warm decode floor: decode-only process, memory reused"),
                        ("plain", "plain decode-only process"),
                        ("jobs 1", "this tool, one process (`--jobs 1`)"),
                        (f"jobs {cores}", f"this tool, all cores (`--jobs {cores}`)")):
        cells = []
        for size in SIZES:
            per_pair = median(processes[size, name], 0) / args.cli_pairs
            warm = median(processes[size, "warm"], 0) / args.cli_pairs
            plain = median(processes[size, "plain"], 0) / args.cli_pairs
            cells.append(f"{per_pair * 1000:.1f} ms = {per_pair / warm:.2f}x warm, {per_pair / plain:.2f}x plain")
        print(f"| {title} | " + " | ".join(cells) + " |")
    print("| peak RSS, `--jobs 1` | " + " | ".join(f"{median(processes[size, 'jobs 1'], 1):.0f} MB" for size in SIZES)
          + " |")
    start, decode_only_start = median(cli["start"], 0), median(cli["decode-only start"], 0)
    print(f"\nWhere the time goes, in this process, stage by stage on {args.pairs} pairs per size (one process, "
          "pair after pair), and the start-up of each whole process:\n")
    print("| per pair | " + " | ".join(f"{w}x{h}" for w, h in SIZES) + " |")
    print("|---|" + "---|" * len(SIZES))
    costs = {size: {stage: statistics.median(measured[stage] for measured in stages[size]) for stage in STAGES}
             for size in SIZES}
    for stage, title in STAGES.items():
        print(f"| {title} | " + " | ".join(f"{costs[size][stage]:.2f} ms" for size in SIZES) + " |")
    api = {size: {stage: statistics.median(measured[stage] for measured in apis[size]) for stage in API_STAGES}
           for size in SIZES}
    for stage, title in API_STAGES.items():
        print(f"| {title} | " + " | ".join(
            f"{api[size][stage]:.2f} ms = {api[size][stage] / (costs[size]['count'] + costs[size]['report']):.2f}x "
            "counting + report" for size in SIZES) + " |")
    print("| all but reading, against the decode floor | " + " | ".join(
        f"{sum(costs[size][stage] for stage in STAGES if stage != 'read') / floor[size] * 100:.0f}%"
        for size in SIZES) + " |")
    print(f"| the tool's start-up over the decode-only process's, shared by {args.cli_pairs} pairs | " + " | ".join(
        f"{(start - decode_only_start) * 1000 / args.cli_pairs:.2f} ms = "
        f"{(start - decode_only_start) / args.cli_pairs / floor[size] * 100000:.0f}%" for size in SIZES) + " |")
    print(f"\nStart-up: the tool {start:.2f} s (`--help`: compiling the script, its imports, the options); the "
          f"decode-only process {decode_only_start:.2f} s (importing numpy and Pillow).")
    print(f"\nBreakdown, in this process: pipelines on {args.pairs} pairs per size (scikit-learn on "
          f"{args.sklearn_pairs}); all give the same combined matrix.\n")
    header = "| per pair of masks | " + " | ".join(f"{w}x{h}" for w, h in SIZES) + " |"
    print(header)
    print("|---|" + "---|" * len(SIZES))
    names = (("floor", "decode floor: `np.asarray(Image.open(p))` for label and inference"),
             ("sklearn", "scikit-learn pipeline: decode + `confusion_matrix(labels=range(256))` + sum"),
             ("tool", "this tool, one process (`--jobs 1`)"),
             ("cores", f"this tool, all cores (`--jobs {cores}`)"),
             ("boundary", "this tool with `--boundary` (Boundary IoU), one process"),
             ("boundary cores", f"this tool with `--boundary`, all cores (`--jobs {cores}`)"),
             ("check", "this tool with `--check-with-sklearn`, one process"))
    for key, title in names:
        cells = [f"{rows[size][key]:.1f} ms = {rows[size][key] / floor[size]:.2f}x decode" for size in SIZES]
        print(f"| {title} | " + " | ".join(cells) + " |")
    speedups = [rows[size]["sklearn"] / rows[size]["tool"] for size in SIZES]
    print("| scikit-learn pipeline / this tool (one process) | "
          + " | ".join(f"{speedup:.1f}x faster" for speedup in speedups) + " |")
    print(f"\n| per pair, {args.variant_pairs} pairs, one process (`--jobs 1`), against the decode floor of the "
          "same files | " + " | ".join(f"{w}x{h}" for w, h in SIZES) + " |")
    print("|---|" + "---|" * len(SIZES))
    for kind, (title, _) in VARIANTS.items():
        cells = [f"{rows[size][f'{kind} tool']:.1f} ms = {rows[size][f'{kind} tool'] / rows[size][f'{kind} floor']:.2f}x "
                 f"its floor ({rows[size][f'{kind} floor']:.1f} ms)" for size in SIZES]
        print(f"| {title} | " + " | ".join(cells) + " |")

    many_wall, many_rss = median(cli["many"], 0), median(cli["many"], 1)
    ten_wall, ten_rss = median(cli["ten"], 0), median(cli["ten"], 1)
    print("\n| whole command-line run (`python Semantic_Segmentation_Label_Metrics.py`) | wall | peak RSS |")
    print("|---|---|---|")
    print(f"| the ten samples (1242x375), from the repository root | {median(cli['samples'], 0):.2f} s "
          f"| {median(cli['samples'], 1):.0f} MB |")
    print(f"| 10 pairs of 2048x1024, `--jobs 1` | {ten_wall:.2f} s | {ten_rss:.0f} MB |")
    print(f"| {args.cli_pairs} pairs of 2048x1024, `--jobs 1` | {many_wall:.2f} s "
          f"= {many_wall * 1000 / args.cli_pairs:.1f} ms per pair | {many_rss:.0f} MB |")
    print(f"\nPeak RSS, {args.cli_pairs} pairs minus 10 pairs: {many_rss - ten_rss:+.1f} MB")
    print("\n| the report folder (`--output-dir`), whole command-line runs | without | with | ratio | peak RSS with |")
    print("|---|---|---|---|---|")
    for title, without, with_folder in (
            ("the ten samples, from the repository root", "samples", "samples folder"),
            (f"{args.folder_pairs} pairs of 1242x375 with camera pictures, `--jobs 2`", "pictured", "pictured folder"),
            ("10 masks of 512x512 with 150 classes (`--class-names ade20k`)", None, "classes folder")):
        wall = median(cli[with_folder], 0)
        base = f"{median(cli[without], 0):.2f} s" if without else "-"
        ratio = f"{wall / median(cli[without], 0):.1f}x" if without else "-"
        print(f"| {title} | {base} | {wall:.2f} s | {ratio} | {median(cli[with_folder], 1):.0f} MB |")
    print(f"\n| {args.coco_images} synthetic COCO images, 640x480, about 10 polygons each | per image |")
    print("|---|---|")
    print(f"| drawing an image's label from its annotations (`rasterised`) | {coco['rasterise']:.2f} ms = "
          f"{coco['rasterise'] / coco['decode']:.2f}x decoding |")
    print(f"| decoding the same label saved as PNG (`read_mask`) | {coco['decode']:.2f} ms |")
    print(f"| whole run, `--coco-annotations instances.json --jobs 1` | {coco['coco run'] * 1000 / args.coco_images:.2f} "
          f"ms = {coco['coco run'] / coco['png run']:.2f}x the run on the PNGs |")
    print(f"| whole run on the same labels as PNGs, `--jobs 1` | {coco['png run'] * 1000 / args.coco_images:.2f} ms |")
    print(f"\n| {args.resamples} bootstrap resamples of {args.bootstrap_images} images ({bootstrap_ids} ids) "
          "| time | peak memory (traced) |")
    print("|---|---|---|")
    for name, title in (("intervals", "`--bootstrap`: intervals of the headline numbers and each class's IoU"),
                        ("comparison", "`--compare`: two models, paired, every difference and its interval")):
        print(f"| {title} | {bootstrap[name][0]:.2f} s | {bootstrap[name][1]:.1f} MB |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
