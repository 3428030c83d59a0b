"""Integration: the toy-reverse recipe end to end, as a user runs it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from conftest import REPO


def test_toy_reverse_recipe_learns_to_reverse(tmp_path):
    recipes = tmp_path / "recipes"
    shutil.copytree(REPO / "recipes" / "toy-reverse", recipes / "toy-reverse",
                    ignore=shutil.ignore_patterns("data", "exp"))
    shutil.copytree(REPO / "recipes" / "lib", recipes / "lib")
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(["bash", str(recipes / "toy-reverse" / "run.sh")], capture_output=True, text=True,
                            env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((recipes / "toy-reverse" / "exp" / "rnnsearch" / "results.json").read_text())
    assert results["test"]["bleu"] >= 95.0, results["test"]
    assert "test BLEU" in result.stdout
    # A finished recipe re-runs without training again.
    again = subprocess.run(["bash", str(recipes / "toy-reverse" / "run.sh"), "--stage", "1", "--stop-stage", "1"],
                           capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 0 and "trained already" in again.stdout


def test_recipe_rejects_unknown_options():
    result = subprocess.run(["bash", str(REPO / "recipes" / "toy-reverse" / "run.sh"), "--stages", "2"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "unknown option '--stages'" in result.stderr


def test_every_recipe_config_is_valid_and_builds_its_model():
    from nmt.config import load_config
    from nmt.models import build_model

    configs = sorted((REPO / "recipes").glob("*/conf/*.yaml"))
    assert len(configs) >= 7
    for path in configs:
        cfg = load_config(path)
        model = build_model(cfg.model, 100, 100)  # a small vocabulary: only the structure matters here
        assert model.reverse_source == cfg.model.reverse_source, path
    reversed_cfg = load_config(REPO / "recipes" / "ding-de-en" / "conf" / "seq2seq_reversed.yaml")
    assert reversed_cfg.model.reverse_source and reversed_cfg.model.variant == "seq2seq"
    assert reversed_cfg.exp_dir.endswith("seq2seq_reversed")
