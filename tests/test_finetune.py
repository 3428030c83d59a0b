"""nmt-train --init-from: fine-tuning starts from a trained model's weights and SentencePiece model; it may
change the dropout keys (and keeps the new values) and nothing else of the model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import config_text, make_pairs, write_plain

from nmt.checkpoint import load_checkpoint
from nmt.config_files import save_config
from nmt.errors import NmtError
from nmt.launch import adopt_init_from
from nmt.tasks import load_config

MODEL = "model: {variant: rnnsearch, embed_size: 16, encoder_hidden: 16, decoder_hidden: 32, attention_size: 16, dropout: 0.1}"
TRAIN = "train: {batch_tokens: 1000, validate_every: 10, lr: 0.01, max_steps: %d}"
MORE_DROPOUT = MODEL.replace("dropout: 0.1}", "dropout: 0.3, embed_dropout: 0.2, word_dropout_src: 0.1, word_dropout_tgt: 0.05}")


def _finished_run(tmp_path: Path, corpus: Path, name: str) -> Path:
    """An experiment directory as --init-from reads it before loading weights: its config and a checkpoint."""
    config = tmp_path / f"{name}.yaml"
    config.write_text(config_text(corpus, tmp_path / name, extra=f"{MODEL}\n{TRAIN % 10}\n"), encoding="utf-8")
    save_config(load_config(config), tmp_path / name / "config.yaml")
    (tmp_path / name / "checkpoints").mkdir()
    torch.save({"model": {}, "step": 10}, tmp_path / name / "checkpoints" / "best.pt")
    return tmp_path / name


def _config(tmp_path: Path, corpus: Path, model: str, *overrides: str):
    path = tmp_path / "new.yaml"
    path.write_text(config_text(corpus, tmp_path / "new", vocab_size=40, extra=f"{model}\n{TRAIN % 2}\n"), encoding="utf-8")
    return load_config(path, list(overrides))


def test_fine_tuning_may_change_every_dropout_key_and_the_run_keeps_its_own(tmp_path, corpus_dir):
    trained = _finished_run(tmp_path, corpus_dir, "general")
    cfg, said = _config(tmp_path, corpus_dir, MORE_DROPOUT), []
    assert adopt_init_from(cfg, str(trained), said.append) == (trained, trained / "checkpoints" / "best.pt")
    model = cfg.model
    assert (model.dropout, model.embed_dropout, model.word_dropout_src, model.word_dropout_tgt) == (0.3, 0.2, 0.1, 0.05)
    assert cfg.tokenizer.vocab_size == 48 and said == [f"--init-from: the tokenizer settings of {trained / 'config.yaml'} "
                                                       "replace this config's"]


@pytest.mark.parametrize("override, named", [("model.decoder_hidden=64", "model.decoder_hidden: 32 -> 64"),
                                             ("model.cell=gru", "model.cell: 'lstm' -> 'gru'"),
                                             ("model.tie_embeddings=true", "model.tie_embeddings: False -> True")])
def test_fine_tuning_refuses_any_other_model_change(tmp_path, corpus_dir, override, named):
    trained = _finished_run(tmp_path, corpus_dir, "general")
    with pytest.raises(NmtError, match=f"that model differs from this config's \\({named}\\)"):
        adopt_init_from(_config(tmp_path, corpus_dir, MORE_DROPOUT, override), str(trained), print)


def train(tmp_path, corpus, name: str, *args: str, steps: int = 10, model: str = MODEL, vocab: int = 48):
    config = tmp_path / f"{name}.yaml"
    config.write_text(config_text(corpus, tmp_path / name, vocab_size=vocab, extra=f"{model}\n{TRAIN % steps}\n"),
                      encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "nmt.cli.train", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=300)


def test_fine_tuning_starts_from_the_weights_and_pieces_of_the_trained_model(tmp_path, corpus_dir):
    assert train(tmp_path, corpus_dir, "general", steps=30).returncode == 0
    domain = tmp_path / "domain"
    domain.mkdir()
    for split, n, seed in (("train", 200, 11), ("dev", 20, 12), ("test", 20, 13)):
        write_plain(domain, split, make_pairs(n, seed))
    # The new config asks for another vocabulary size: the trained model's tokenizer wins. Its dropout is its own.
    tuned = train(tmp_path, domain, "tuned", "--init-from", f"{tmp_path / 'general'}:last", steps=2, vocab=40,
                  model=MORE_DROPOUT)
    assert tuned.returncode == 0, tuned.stderr
    assert "the tokenizer settings of" in tuned.stderr and "using the SentencePiece model(s) of" in tuned.stderr
    assert load_config(tmp_path / "tuned" / "config.yaml").model.dropout == 0.3
    assert (tmp_path / "tuned" / "spm.model").read_bytes() == (tmp_path / "general" / "spm.model").read_bytes()
    general = load_checkpoint(tmp_path / "general" / "checkpoints" / "last.pt")
    fine = load_checkpoint(tmp_path / "tuned" / "checkpoints" / "last.pt")
    assert fine["step"] == 2 and fine["optimizer"]["state"][0]["step"] == 2  # a fresh optimizer and schedule
    moved = max(float((fine["model"][k] - general["model"][k]).abs().max()) for k in general["model"])
    assert 0 < moved < 0.1  # two small steps away from the trained weights (a fresh start would be far from them)
    # Stopped after one update and resumed, a fine-tuning run continues from its own last.pt, not the init.
    init = ("--init-from", f"{tmp_path / 'general'}:last")
    assert train(tmp_path, domain, "split", *init, steps=1, vocab=40, model=MORE_DROPOUT).returncode == 0
    resumed = train(tmp_path, domain, "split", *init, "--resume", steps=2, vocab=40, model=MORE_DROPOUT)
    assert resumed.returncode == 0 and "resuming at step 1" in resumed.stderr, resumed.stderr
    split = load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")
    assert all(torch.equal(split["model"][k], fine["model"][k]) for k in fine["model"])


def test_fine_tuning_refuses_another_architecture_in_one_line(tmp_path, corpus_dir):
    _finished_run(tmp_path, corpus_dir, "general")  # refused before its weights are read
    wider = MODEL.replace("decoder_hidden: 32", "decoder_hidden: 64")
    result = train(tmp_path, corpus_dir, "tuned", "--init-from", str(tmp_path / "general"), model=wider)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "that model differs from this config's (model.decoder_hidden: 32 -> 64)" in result.stderr
    missing = train(tmp_path, corpus_dir, "other", "--init-from", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "is not an experiment directory" in missing.stderr


def test_nproc_hands_over_to_torchrun(tmp_path, corpus_dir):
    result = train(tmp_path, corpus_dir, "pair", "--nproc", "2", steps=2)
    assert result.returncode == 0, result.stderr[-2000:]
    last = load_checkpoint(tmp_path / "pair" / "checkpoints" / "last.pt")
    assert last["world_size"] == 2
    assert not torch.equal(last["rng_by_rank"][0]["torch"], last["rng_by_rank"][1]["torch"])  # own dropout streams
