"""Regenerate the pictures the README shows, from the sample data:

    python tests/make_readme_pictures.py

They come from a report folder made with --ignore-index 255: the combined heat map, and for the weakest
sample (000004_10) its errors and its errors by the class predicted, each layer laid on the camera
picture in dimmed grey as the image's page shows them; written to tests/readme_pictures/.
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
PICTURES = ROOT / "tests" / "readme_pictures"
SAMPLE = "000004_10"


def laid_on_picture(layer_path, picture_path):
    """A layer on the camera picture in dimmed grey (seven tenths of its brightness), as the page shows it."""
    with Image.open(picture_path) as picture, Image.open(layer_path) as layer:
        grey = picture.convert("L").point(lambda value: value * 7 // 10).convert("RGBA")
        return Image.alpha_composite(grey, layer.convert("RGBA")).convert("RGB")


def main():
    with tempfile.TemporaryDirectory() as report:
        subprocess.run([sys.executable, "Semantic_Segmentation_Label_Metrics.py", "--ignore-index", "255",
                        "--output-dir", report, "--quiet"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        report = Path(report)
        PICTURES.mkdir(exist_ok=True)
        shutil.copyfile(report / "confusion_matrix.png", PICTURES / "confusion_matrix.png")
        for layer, name in (("overlays", "overlay"), ("predicted_as", "predicted_as")):
            laid_on_picture(report / layer / f"{SAMPLE}.png", report / "pictures" / f"{SAMPLE}.png").save(
                PICTURES / f"{name}_{SAMPLE}.png", optimize=True)
    print(f"wrote {PICTURES}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
