"""tools/cells.py: the text features it correlates units with, and the tool run on trained models."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "tools"))
from cells import text_features  # noqa: E402

PINNED = REPO / "tests" / "data" / "pinned"


def test_text_features_follow_strings_brackets_comments_and_lines():
    text = 'if (a) {\n\tx = "s(";\n} /* c */\n'
    f = text_features(text)
    at = lambda feature, char, nth=0: f[feature][[i for i, c in enumerate(text) if c == char][nth]]  # noqa: E731
    assert at("paren_depth", "a") == 1 and at("paren_depth", "{") == 0
    assert at("in_string", "s") == 1 and at("paren_depth", "(", 1) == 0  # a bracket inside a string is text
    assert at("brace_depth", "x") == 1 and at("brace_depth", "}") == 1 and at("brace_depth", "\n", 2) == 0
    assert at("indentation", "x") == 8 and at("column", "x") == 1 and at("column", "i") == 0
    assert at("in_comment", "c") == 1 and at("in_comment", "\n", 2) == 0


def test_the_tool_reads_a_char_model_and_a_translation_model(tmp_path):
    text = "".join(f'int f{i % 9}(int x) {{ return g("{"ab" * (i % 3 + 1)}", x); }}\n' for i in range(300))
    (tmp_path / "train.txt").write_text(text, encoding="utf-8")
    (tmp_path / "valid.txt").write_text(text[:500], encoding="utf-8")
    config = tmp_path / "lm.yaml"
    config.write_text(f"task: char_lm\nexp_dir: {tmp_path / 'lm'}\ndata: {{train: {tmp_path}/train.txt, "
                      f"valid: {tmp_path}/valid.txt}}\nmodel: {{hidden_size: 16, layers: 2, embed_size: 8}}\n"
                      "train: {streams: 8, bptt: 30, max_steps: 20, validate_every: 20, lr: 0.01}\n")
    trained = subprocess.run([sys.executable, "-m", "nmt.cli.train", "--config", str(config), "--quiet"],
                             capture_output=True, text=True, timeout=300)
    assert trained.returncode == 0, trained.stderr
    run = subprocess.run([sys.executable, str(REPO / "tools" / "cells.py"), "--model", str(tmp_path / "lm"),
                          "-i", str(tmp_path / "valid.txt"), "-o", str(tmp_path / "cells.html"), "--search",
                          "--png", str(tmp_path / "cells.png"), "--saturation", str(tmp_path / "gates.png"),
                          "--report", str(tmp_path / "cells.json")], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    report = json.loads((tmp_path / "cells.json").read_text())
    assert {f["feature"] for f in report["found"]} >= {"in_string", "paren_depth", "column"}
    assert all(-1 <= f["correlation"] <= 1 and f["layer_name"].startswith("char layer") for f in report["found"])
    assert set(report["saturation"]) == {f"char layer {layer} {gate}" for layer in (0, 1) for gate in ("input", "forget", "output")}
    for picture in ("cells.png", "gates.png"):
        assert (tmp_path / picture).read_bytes()[:4] == b"\x89PNG"
    assert 'title="' in (tmp_path / "cells.html").read_text()
    nmt = subprocess.run([sys.executable, str(REPO / "tools" / "cells.py"), "--model", str(PINNED / "rnnsearch"),
                          "--source", "haus katze .", "--part", "decoder", "--units", "0:3",
                          "-o", str(tmp_path / "nmt.html")], capture_output=True, text=True, timeout=300)
    assert nmt.returncode == 0, nmt.stderr
    assert "decoder layer 0, unit 3" in (tmp_path / "nmt.html").read_text()
