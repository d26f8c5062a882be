"""Regenerate the pictures the README shows, from the sample data:

    python tests/make_readme_pictures.py

They are the combined heat map and one overlay of a report folder made with
--ignore-index 255, copied to tests/readme_pictures/.
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PICTURES = ROOT / "tests" / "readme_pictures"


def main():
    with tempfile.TemporaryDirectory() as report:
        subprocess.run([sys.executable, "Semantic_Segmentation_Label_Metrics.py", "--ignore-index", "255",
                        "--output-dir", report, "--quiet"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        PICTURES.mkdir(exist_ok=True)
        shutil.copyfile(Path(report) / "confusion_matrix.png", PICTURES / "confusion_matrix.png")
        shutil.copyfile(Path(report) / "overlays" / "000004_10.png", PICTURES / "overlay_000004_10.png")
    print(f"wrote {PICTURES}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
