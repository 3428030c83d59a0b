"""nmt-sample as a user runs it (in-process): sampling with a seed, top-k, argmax, bits per character
with --json, and one line for every mistake."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from conftest import run_in_process

from nmt.checkpoint import save_checkpoint
from nmt.cli import sample as sample_cli
from nmt.lm.config import CharLMConfig, TextConfig
from nmt.lm.data import CharVocab, prepare
from nmt.lm.model import CharLM
from nmt.lm.task import LN2, stream_loss

PINNED = Path(__file__).resolve().parent / "data" / "pinned"
TEXT = "int f(int x) { return x + 1; }\n" * 40


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A small character model, as nmt-train leaves it (config, vocabulary, best.pt); untrained is enough."""
    root = tmp_path_factory.mktemp("char")
    (root / "train.txt").write_text(TEXT, encoding="utf-8")
    cfg = CharLMConfig(exp_dir=str(root / "exp"), data=TextConfig(train=str(root / "train.txt"), dev=str(root / "train.txt")))
    cfg.model.hidden_size, cfg.model.layers = 16, 1
    prepare(cfg, log=lambda line: None)
    torch.manual_seed(0)
    model = CharLM.from_config(cfg.model, len(CharVocab.load(root / "exp" / "vocab.json")))
    save_checkpoint({"model": model.state_dict(), "step": 0}, root / "exp" / "checkpoints" / "best.pt")
    return root / "exp"


def sample(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    return run_in_process(monkeypatch, capsys, sample_cli.main, "nmt-sample", *args)


def test_a_seed_repeats_a_sample_and_another_seed_changes_it(monkeypatch, capsys, model_dir):
    draw = lambda *extra: sample(monkeypatch, capsys, "--model", str(model_dir), "--prime", "int ",  # noqa: E731
                                 "--length", "60", *extra)
    first, again, other = draw("--seed", "1"), draw("--seed", "1"), draw("--seed", "2")
    assert first[0] == again[0] == other[0] == 0
    assert first[1] == again[1] != other[1] and first[1].startswith("int ")
    assert len(first[1].rstrip("\n")) >= len("int ") + 55  # the prime, then the 60 characters asked for
    top1, argmax = draw("--top-k", "1", "--seed", "5"), draw("--argmax")
    assert top1[1] == argmax[1]  # sampling among the single most probable character is argmax


def test_evaluate_prints_bits_per_character_and_writes_them_as_json(monkeypatch, capsys, model_dir, tmp_path):
    text = tmp_path / "dev.txt"
    text.write_text(TEXT[:200], encoding="utf-8")
    code, out, _ = sample(monkeypatch, capsys, "--model", str(model_dir), "--evaluate", str(text),
                          "--json", str(tmp_path / "bpc.json"))
    figures = json.loads((tmp_path / "bpc.json").read_text())
    from nmt.lm.model import load_char_model

    _, vocab, model = load_char_model(model_dir)
    total, count = stream_loss(model, vocab.encode(TEXT[:200]))
    assert code == 0 and figures["characters"] == count > 150  # parallel streams leave a remainder unread
    assert figures["bpc"] == pytest.approx(total / count / LN2, abs=1e-4)
    assert f"{figures['bpc']:.4f} bits per character ({count} characters, perplexity {math.exp(total / count):.3f})" in out


@pytest.mark.parametrize("args, message", [
    (("--length", "0"), "--length must be at least 1"),
    (("--temperature", "0"), "--temperature above 0"),
    (("--top-k", "-1"), "--top-k at least 0"),
    (("--evaluate", "/nonexistent.txt"), "char_lm: file not found: /nonexistent.txt"),
    (("--checkpoint", "/nonexistent.pt"), "checkpoint: file not found: /nonexistent.pt"),
])
def test_mistakes_are_one_line_and_exit_2(monkeypatch, capsys, model_dir, args, message):
    code, out, err = sample(monkeypatch, capsys, "--model", str(model_dir), *args)
    assert code == 2 and out == "" and err.startswith("nmt-sample: error: ") and message in err and err.count("\n") == 1


def test_a_translation_model_is_one_line_naming_nmt_translate(monkeypatch, capsys):
    code, _, err = sample(monkeypatch, capsys, "--model", str(PINNED / "rnnsearch"))
    assert code == 2 and "holds a translation model (task: translation), not a character model; " \
                          "translate with nmt-translate" in err
