"""Integration: the toy-reverse recipe end to end, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml
from conftest import REPO, copy_recipe, recipe_env


def test_toy_ablation_trains_both_variants_and_compares_them(tmp_path):
    """The ablation's machinery on the toy recipe at 60 updates a run: that its models learn the task is
    test_seq2seq.py's (every variant and cell learns reversal), not this slow test's to repeat."""
    recipe = copy_recipe(tmp_path, "toy-reverse")
    conf = recipe / "conf" / "rnnsearch.yaml"  # seq2seq.yaml takes its train section from this one
    conf.write_text(conf.read_text().replace("max_steps: 900", "max_steps: 60").replace("validate_every: 100",
                                                                                      "validate_every: 30"))
    result = subprocess.run(["bash", str(recipe / "ablation.sh")], capture_output=True, text=True,
                            env=recipe_env(), timeout=540)
    assert result.returncode == 0, result.stderr[-3000:]
    results = {v: json.loads((recipe / "exp" / v / "results.json").read_text()) for v in ("seq2seq", "rnnsearch")}
    assert all(r["train"]["steps"] == 60 and 0 <= r["test"]["bleu"] <= 100 for r in results.values())
    assert "test BLEU" in result.stdout
    # BLEU by source length came from the score stage, over every test sentence.
    for variant in results.values():
        buckets = variant["test"]["by_length"]
        assert [row["bucket"] for row in buckets] == ["0-5", "6-8", "9+"]
        assert sum(row["sentences"] for row in buckets) == 200
    table = (recipe / "exp" / "ablation" / "table.md").read_text()
    assert "| seq2seq | seq2seq (lstm) |" in table and "| rnnsearch | rnnsearch (lstm) |" in table
    assert "## Settings that differ from seq2seq" in table and "- rnnsearch: `model.variant` 'rnnsearch'" in table
    # The ensemble stage: both runs decode together and get a row of their own.
    ensemble = json.loads((recipe / "exp" / "seq2seq+rnnsearch" / "results.json").read_text())
    assert ensemble["ensemble"]["members"] == ["seq2seq", "rnnsearch"]
    assert sum(row["sentences"] for row in ensemble["test"]["by_length"]) == 200
    assert "| seq2seq+rnnsearch | ensemble of seq2seq + rnnsearch |" in table
    assert f"| {results['rnnsearch']['test']['bleu']:.2f} |" in table
    for plot in ("bleu_by_length.png", "dev_bleu_vs_time.png", "dev_bleu_vs_updates.png"):
        assert (recipe / "exp" / "ablation" / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list((recipe / "exp" / "ablation" / "tb" / "rnnsearch").glob("**/events.out.tfevents.*"))
    # A finished recipe re-runs without training again.
    again = subprocess.run(["bash", str(recipe / "run.sh"), "--stage", "1", "--stop-stage", "1"],
                           capture_output=True, text=True, env=recipe_env(), timeout=120)
    assert again.returncode == 0 and "trained already" in again.stdout


def test_ablation_rejects_a_variant_without_config(tmp_path):
    recipe = copy_recipe(tmp_path, "toy-reverse")
    result = subprocess.run(["bash", str(recipe / "ablation.sh"), "--variants", "seq2seq transformer"],
                            capture_output=True, text=True, env=recipe_env(), timeout=120)
    assert result.returncode == 2 and "no config conf/transformer.yaml" in result.stderr
    assert not (recipe / "exp").exists()


def test_recipe_without_the_toolkit_installed_says_how_to_install(tmp_path):
    recipe = copy_recipe(tmp_path, "toy-reverse")  # no .venv beside this copy
    result = subprocess.run(["bash", str(recipe / "run.sh")], capture_output=True, text=True,
                            env={**os.environ, "PATH": "/usr/bin:/bin"}, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == "run.sh: the nmt commands are not installed: run 'make install' in the repository first"


def test_an_edit_to_run_sh_during_a_run_does_not_change_that_run(tmp_path):
    recipe = copy_recipe(tmp_path, "toy-reverse")
    # Stage 0 stands in for a user who edits run.sh (in place, as editors may) while it runs.
    (recipe / "local" / "make_data.py").write_text(
        "with open('run.sh', 'a') as script:\n    script.write('echo added-while-running\\n')\n")
    result = subprocess.run(["bash", str(recipe / "run.sh"), "--stop-stage", "0"], capture_output=True, text=True,
                            env=recipe_env(), timeout=120)
    assert result.returncode == 0, result.stderr
    assert "== stage 0: data" in result.stdout and "added-while-running" not in result.stdout


@pytest.mark.parametrize("script", sorted(str(path.relative_to(REPO)) for pattern in ("recipes/*/run.sh", "recipes/*/ablation.sh")
                                            for path in REPO.glob(pattern) if path.parent.name != "lib"))  # lib/ is sourced: read whole
def test_every_recipe_script_is_read_whole_before_it_runs(script):
    lines = (REPO / script).read_text().splitlines()
    body_starts = lines.index("set -euo pipefail") + 1
    assert lines[body_starts].startswith("{") and lines[-2:] == ["exit", "}"], script


def _hub_layout(folder, src: str, tgt: str, sizes: dict[str, int], suffix: str) -> None:
    """A local dataset in a hub dataset's layout: one file per split, a `translation` dict column."""
    import datasets

    folder.mkdir()
    for split, n in sizes.items():
        rows = [{"translation": {src: f"{src} {split} {i} .", tgt: f"{tgt} {split} {i} ."}} for i in range(n)]
        table = datasets.Dataset.from_list(rows)
        if suffix == "parquet":
            table.to_parquet(str(folder / f"{split}.parquet"))
        else:
            table.to_json(str(folder / f"{split}.jsonl"))


def test_hub_recipes_data_stage_reads_a_local_copy_in_the_hub_layout(tmp_path):
    iwslt = copy_recipe(tmp_path, "iwslt14-de-en")
    _hub_layout(tmp_path / "iwslt_local", "de", "en", {"train": 50, "validation": 7, "test": 9}, "jsonl")
    result = subprocess.run(["bash", str(iwslt / "run.sh"), "--stop-stage", "0"], capture_output=True, text=True,
                            env=recipe_env(HF_DATASET=str(tmp_path / "iwslt_local")), timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    counts = {f: len((iwslt / "data" / f).read_text().splitlines()) for f in ("train.de", "train.en", "dev.de", "test.en")}
    assert counts == {"train.de": 50, "train.en": 50, "dev.de": 7, "test.en": 9}
    assert (iwslt / "data" / "dev.de").read_text().splitlines()[3] == "de validation 3 ."

    wmt = copy_recipe(tmp_path, "wmt14-en-fr")
    _hub_layout(tmp_path / "wmt_local", "fr", "en", {"train": 40, "validation": 5, "test": 6}, "parquet")
    result = subprocess.run(["bash", str(wmt / "run.sh"), "--stop-stage", "0"], capture_output=True, text=True,
                            env=recipe_env(HF_DATASET=str(tmp_path / "wmt_local"), MAX_TRAIN_PAIRS="25"), timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (wmt / "data" / "train.en").read_text().splitlines()[:2] == ["en train 0 .", "en train 1 ."]
    assert len((wmt / "data" / "train.fr").read_text().splitlines()) == 25
    assert (wmt / "data" / "test.fr").read_text().splitlines()[-1] == "fr test 5 ."


def test_hub_recipe_offline_fails_in_one_line_naming_the_stage(tmp_path):
    iwslt = copy_recipe(tmp_path, "iwslt14-de-en")
    result = subprocess.run(["bash", str(iwslt / "run.sh"), "--stop-stage", "0"], capture_output=True, text=True,
                            env=recipe_env(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1"), timeout=300)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "hf_data: error: data: cannot load Hugging Face dataset 'bbaaaa/iwslt14-de-en'" in result.stderr
    assert "stage 0 (data) failed" in result.stderr
    assert not (iwslt / "data" / "train.de").exists()


def test_recipe_rejects_unknown_options():
    result = subprocess.run(["bash", str(REPO / "recipes" / "toy-reverse" / "run.sh"), "--stages", "2"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "unknown option '--stages'" in result.stderr


def test_every_recipe_config_is_valid_and_builds_its_model():
    from nmt.lm.model import CharLM
    from nmt.models import build_model
    from nmt.tasks import load_config

    configs = sorted((REPO / "recipes").glob("*/conf/*.yaml"))
    assert len(configs) >= 7
    for path in configs:
        cfg = load_config(path)
        if cfg.task == "char_lm":
            CharLM.from_config(cfg.model, 100)
            continue
        model = build_model(cfg.model, 100, 100)  # a small vocabulary: only the structure matters here
        assert model.reverse_source == cfg.model.reverse_source, path
    sweeps = sorted((REPO / "recipes").glob("*/sweeps/*.yaml"))  # each names a config and keys that exist
    assert sweeps
    for path in sweeps:
        sweep = yaml.safe_load(path.read_text(encoding="utf-8"))
        first = {key: choice[0] if isinstance(choice, list) else choice["low"] for key, choice in sweep["space"].items()}
        values = {**sweep.get("set", {}), **first}
        load_config(path.parent / sweep["config"], [f"{key}={json.dumps(value)}" for key, value in values.items()])
    reversed_cfg = load_config(REPO / "recipes" / "ding-de-en" / "conf" / "seq2seq_reversed.yaml")
    assert reversed_cfg.model.reverse_source and reversed_cfg.model.variant == "seq2seq"
    assert reversed_cfg.exp_dir.endswith("seq2seq_reversed")


def _back_translate_with_stubs(tmp_path, synthetic: str, translate: str) -> subprocess.CompletedProcess:
    """recipes/lib/backtranslation.sh's back_translation in tmp_path, nmt-prepare, training and the
    monolingual text stubbed, and nmt-translate the shell script `translate`."""
    stubs = {"bin/nmt-prepare": "exit 0", "bin/nmt-translate": translate, "local/monolingual.sh": "exit 0"}
    for name, body in stubs.items():
        stub = tmp_path / name
        stub.parent.mkdir(exist_ok=True)
        stub.write_text(f"#!/bin/sh\n{body}\n")
        stub.chmod(0o755)
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "bt.yaml").write_text(f"data:\n  train:\n    - {{src: {synthetic}, tgt: data/mono.en}}\n")
    script = (f"train_model() {{ :; }}; conf=bt.yaml; source {REPO}/recipes/lib/backtranslation.sh; "
              "back_translation de en conf/reverse.yaml")
    return subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env=recipe_env(PATH=f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"))


@pytest.mark.parametrize("synthetic, search", [
    ("data/mono.bt.de", "--beam 5"),
    ("data/mono.bt-sample.de", "--sample --seed 1"),
    ("data/mono.bt-greedy.de", "--beam 1"),
])
def test_back_translation_searches_as_the_synthetic_corpus_name_says(tmp_path, synthetic, search):
    """recipes/lib/backtranslation.sh: the reverse model translates with beam 5, or samples, or searches greedily
    when the synthetic corpus's file name says so (the toolkit's commands stubbed: only the asking is checked)."""
    result = _back_translate_with_stubs(
        tmp_path, synthetic, 'echo "$@" > asked\nwhile [ $# -gt 0 ]; do [ "$1" = -o ] && echo x > "$2"; shift; done')
    assert result.returncode == 0, result.stderr
    asked = (tmp_path / "asked").read_text().strip()
    assert asked == f"-i data/mono.en -o {synthetic}.part {search} --model exp/reverse"
    assert (tmp_path / synthetic).read_text() == "x\n"


def test_an_interrupted_back_translation_continues_its_part_file_when_run_again(tmp_path):
    """The first run is stopped half way (nmt-translate exits 130 with half its lines in the .part file); the
    recipe keeps the .part and asks the identical command again, which continues it (nmt-translate's own
    continuation is tests/test_translate_cli.py's); only a finished translation becomes the corpus."""
    translate = """echo "$@" >> asked
out=""; while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done
if [ -s "$out" ]; then echo "found $(cat "$out")" >> asked; echo two >> "$out"; exit 0; fi
echo one > "$out"; exit 130"""
    synthetic = tmp_path / "data" / "mono.bt.de"
    first = _back_translate_with_stubs(tmp_path, "data/mono.bt.de", translate)
    assert first.returncode != 0 and not synthetic.exists()
    assert (tmp_path / "data" / "mono.bt.de.part").read_text() == "one\n"  # kept for the next run
    second = _back_translate_with_stubs(tmp_path, "data/mono.bt.de", translate)
    assert second.returncode == 0, second.stderr
    calls = (tmp_path / "asked").read_text().splitlines()
    assert calls == [calls[0], calls[0], "found one"]  # the identical command, finding the first half
    assert synthetic.read_text() == "one\ntwo\n" and not (tmp_path / "data" / "mono.bt.de.part").exists()
