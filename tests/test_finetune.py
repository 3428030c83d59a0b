"""nmt-train --init-from: fine-tuning starts from a trained model's weights and SentencePiece model."""

from __future__ import annotations

import subprocess
import sys

import torch
from conftest import config_text, make_pairs, write_plain

from nmt.checkpoint import load_checkpoint

MODEL = "model: {variant: rnnsearch, embed_size: 16, encoder_hidden: 16, decoder_hidden: 32, attention_size: 16, dropout: 0.1}"
TRAIN = "train: {batch_tokens: 1000, validate_every: 10, lr: 0.01, max_steps: %d}"


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
    # The new config asks for another vocabulary size: the trained model's tokenizer wins.
    tuned = train(tmp_path, domain, "tuned", "--init-from", f"{tmp_path / 'general'}:last", steps=2, vocab=40)
    assert tuned.returncode == 0, tuned.stderr
    assert "the tokenizer settings of" in tuned.stderr and "using the SentencePiece model(s) of" in tuned.stderr
    assert (tmp_path / "tuned" / "spm.model").read_bytes() == (tmp_path / "general" / "spm.model").read_bytes()
    scratch = train(tmp_path, domain, "scratch", steps=2)
    assert scratch.returncode == 0, scratch.stderr
    general = load_checkpoint(tmp_path / "general" / "checkpoints" / "last.pt")
    fine = load_checkpoint(tmp_path / "tuned" / "checkpoints" / "last.pt")
    assert fine["step"] == 2 and fine["optimizer"]["state"][0]["step"] == 2  # a fresh optimizer and schedule
    first_dev = lambda run: load_checkpoint(tmp_path / run / "checkpoints" / "last.pt")["progress"]["history"][0]  # noqa: E731
    assert first_dev("tuned")["loss"] < first_dev("scratch")["loss"]  # it starts where the general model was
    moved = max(float((fine["model"][k] - general["model"][k]).abs().max()) for k in general["model"])
    assert 0 < moved < 0.1  # two small steps away from the trained weights
    # Stopped after one update and resumed, a fine-tuning run continues from its own last.pt, not the init.
    init = ("--init-from", f"{tmp_path / 'general'}:last")
    assert train(tmp_path, domain, "split", *init, steps=1, vocab=40).returncode == 0
    resumed = train(tmp_path, domain, "split", *init, "--resume", steps=2, vocab=40)
    assert resumed.returncode == 0 and "resuming at step 1" in resumed.stderr, resumed.stderr
    split = load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")
    assert all(torch.equal(split["model"][k], fine["model"][k]) for k in fine["model"])


def test_fine_tuning_refuses_another_architecture_in_one_line(tmp_path, corpus_dir):
    assert train(tmp_path, corpus_dir, "general", steps=2).returncode == 0
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
