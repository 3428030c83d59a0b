"""recipes/lib/nearest_caption.py, the captioning recipes' retrieval baseline: each test image gets the
caption of the training image closest in pixels, square or not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageDraw

SCRIPT = Path(__file__).resolve().parents[1] / "recipes" / "lib" / "nearest_caption.py"


def _draw(path: Path, size: tuple[int, int], box: tuple[int, int, int, int], colour: tuple[int, int, int]) -> None:
    picture = Image.new("RGB", size, "white")
    ImageDraw.Draw(picture).rectangle(box, fill=colour)
    picture.save(path)


def test_each_test_image_gets_the_nearest_training_images_caption(tmp_path):
    wide = (80, 16)  # a line of ink, as im2latex's formulas
    _draw(tmp_path / "left.png", wide, (0, 0, 19, 15), (0, 0, 0))
    _draw(tmp_path / "right.png", wide, (60, 0, 79, 15), (0, 0, 0))
    _draw(tmp_path / "left_test.png", wide, (2, 2, 21, 13), (40, 40, 40))
    _draw(tmp_path / "right_test.png", wide, (58, 2, 77, 13), (40, 40, 40))
    (tmp_path / "train.tsv").write_text("left.png\tink on the left\nright.png\tink on the right\n")
    (tmp_path / "test.tsv").write_text("right_test.png\tx\nleft_test.png\tx\n")
    env = {**os.environ, "PYTHONPATH": str(SCRIPT.parents[2])}
    result = subprocess.run([sys.executable, str(SCRIPT), "--train", str(tmp_path / "train.tsv"), "--test",
                             str(tmp_path / "test.tsv"), "--height", "4", "--width", "20", "--channels", "1"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["ink on the right", "ink on the left"]
