"""nmt-prepare as a user runs it: a separate process, a config file, one-line errors."""

from __future__ import annotations

import json
import os

from conftest import REPO, config_text, run_cli

from nmt.batching import ParallelArrays
from nmt.tokenizer import Tokenizer


def prepare(tmp_path, config: str, *args: str, env: dict | None = None):
    path = tmp_path / "conf.yaml"
    path.write_text(config, encoding="utf-8")
    if env:
        os.environ.update(env)
    return run_cli("nmt.cli.prepare", "--config", str(path), *args, cwd=tmp_path)


def assert_one_line_error(result, pattern: str):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1, result.stderr  # progress lines may precede it; one error line
    assert errors[0].startswith("nmt-prepare: error: ") and pattern in errors[0], errors[0]


def test_prepare_builds_splits_vocabulary_and_arrays_then_reuses_them(tmp_path, corpus_dir):
    exp = tmp_path / "exp"
    result = prepare(tmp_path, config_text(corpus_dir, exp), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert {s: summary["pairs"][s]["kept"] for s in ("train", "dev", "test")} == {"train": 400, "dev": 30, "test": 30}
    assert summary["vocabulary"] == {"joint": True, "src": 48, "tgt": 48}
    assert (exp / "config.yaml").exists() and (exp / "spm.model").exists()

    train = ParallelArrays(exp / "data", "train")
    assert len(train) == 400 and summary["tokens"]["train.src"] == int(train.src.lengths.sum())
    tokenizer = Tokenizer.load(exp)
    first_line = (corpus_dir / "train.en").read_text(encoding="utf-8").splitlines()[0]
    assert tokenizer.decode_tgt([train.tgt[0]]) == [first_line]

    again = prepare(tmp_path, config_text(corpus_dir, exp))
    assert again.returncode == 0
    assert "reusing cleaned text" in again.stderr and "reusing token arrays" in again.stderr
    assert "400 pairs kept of 400" in again.stdout and "vocabulary: joint 48" in again.stdout


def test_changing_the_vocabulary_retrains_only_what_depends_on_it(tmp_path, corpus_dir):
    exp = tmp_path / "exp"
    assert prepare(tmp_path, config_text(corpus_dir, exp)).returncode == 0
    result = prepare(tmp_path, config_text(corpus_dir, exp), "--set", "tokenizer.vocab_size=50")
    assert result.returncode == 0, result.stderr
    assert "reusing cleaned text" in result.stderr and "trained joint SentencePiece" in result.stderr
    assert Tokenizer.load(exp).src_vocab_size == 50


def test_separate_vocabularies(tmp_path, corpus_dir):
    exp = tmp_path / "exp"
    result = prepare(tmp_path, config_text(corpus_dir, exp), "--set", "tokenizer.joint=false", "--set", "tokenizer.vocab_size=30")
    assert result.returncode == 0, result.stderr
    assert (exp / "spm.src.model").exists() and (exp / "spm.tgt.model").exists()
    assert "vocabulary: de 30, en 30" in result.stdout


def test_mismatched_corpus_files(tmp_path, corpus_dir):
    with (corpus_dir / "train.en").open("a", encoding="utf-8") as handle:
        handle.write("one line too many\n")
    result = prepare(tmp_path, config_text(corpus_dir, tmp_path / "exp"))
    assert_one_line_error(result, "line counts differ:")
    assert "train.de has 400 lines" in result.stderr and "train.en has 401" in result.stderr


def test_undecodable_corpus_bytes(tmp_path, corpus_dir):
    with (corpus_dir / "dev.de").open("ab") as handle:
        handle.write(b"\xc3(\n")
    with (corpus_dir / "dev.en").open("a", encoding="utf-8") as handle:
        handle.write("x\n")
    assert_one_line_error(prepare(tmp_path, config_text(corpus_dir, tmp_path / "exp")), "dev.de line 31: invalid UTF-8")


def test_corpus_empty_after_filtering(tmp_path, corpus_dir):
    result = prepare(tmp_path, config_text(corpus_dir, tmp_path / "exp"), "--set", "data.max_words=1")
    assert_one_line_error(result, "data: the train split is empty after cleaning: 0 kept of 400 read")


def test_bad_config_key(tmp_path, corpus_dir):
    result = prepare(tmp_path, config_text(corpus_dir, tmp_path / "exp", extra="model: {cel: gru}"))
    assert_one_line_error(result, "config: unknown key 'model.cel' (did you mean 'cell'?)")


def test_unreachable_hub_dataset_is_one_line(tmp_path, corpus_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # fails at once, as the offline hub does here after ~25 s
    text = config_text(corpus_dir, tmp_path / "exp").replace(
        f"dev: {{src: {corpus_dir}/dev.de, tgt: {corpus_dir}/dev.en}}",
        "dev: {format: hf, path: wmt/wmt14, name: de-en, split: validation}",
    )
    assert_one_line_error(prepare(tmp_path, text), "cannot load Hugging Face dataset 'wmt/wmt14'")


def test_too_large_vocabulary(tmp_path, corpus_dir):
    result = prepare(tmp_path, config_text(corpus_dir, tmp_path / "exp", vocab_size=5000))
    assert_one_line_error(result, "tokenizer: SentencePiece cannot train a unigram vocabulary of 5000")


def test_repo_is_importable_from_the_checkout():
    assert (REPO / "nmt" / "__init__.py").exists()
