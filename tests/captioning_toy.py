"""The toy captioning task the captioning tests share: discs of three colours on white, captioned
with the colour's name, and a captioner trained on them in seconds (once a test process)."""

from __future__ import annotations

import random
from pathlib import Path

from conftest import run_cli

COLOURS = {"red": (220, 30, 30), "blue": (30, 60, 220), "green": (30, 160, 60)}
CONFIG = """task: captioning
exp_dir: {exp}
data: {{train: {{captions: {root}/train.tsv}}, dev: {{captions: {root}/dev.tsv}}}}
image: {{height: 16, width: 16, cnn_width: 8, blocks: 2}}
tokenizer: {{vocab_size: 15}}
model: {{variant: rnnsearch, embed_size: 16, encoder_hidden: 16, decoder_hidden: 32, attention_size: 16, dropout: 0.0}}
train: {{batch_tokens: 400, batch_size: 32, validate_every: 40, max_steps: 120, lr: 0.01, stop_metric: loss}}
decode: {{beam_size: 2}}
"""


def draw(path: Path, colour: str, rng: random.Random) -> None:
    """A disc of the colour somewhere on white: the caption is the colour's name."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (16, 16), "white")
    x, y, r = rng.randint(5, 11), rng.randint(5, 11), rng.randint(3, 5)
    ImageDraw.Draw(image).ellipse([x - r, y - r, x + r, y + r], fill=COLOURS[colour])
    image.save(path)


def train_toy_captioner(tmp_path_factory) -> Path:
    """A toy captioner: 300 drawings, 120 updates (seconds)."""
    root = tmp_path_factory.mktemp("captions")
    (root / "images").mkdir()
    rng = random.Random(0)
    for split, count in (("train", 300), ("dev", 24)):
        lines = []
        for index in range(count):
            colour = rng.choice(sorted(COLOURS))
            draw(root / "images" / f"{split}{index}.png", colour, rng)
            lines.append(f"images/{split}{index}.png\t{colour}\n")
        (root / f"{split}.tsv").write_text("".join(lines), encoding="utf-8")
    (root / "run.yaml").write_text(CONFIG.format(exp=root / "run", root=root), encoding="utf-8")
    result = run_cli("nmt.cli.train", "--config", str(root / "run.yaml"), "--quiet")
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "run"
