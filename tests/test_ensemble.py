"""Ensembles: members that read the source in different orders (Sutskever's forward + backward models)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from nmt.batching import collate
from nmt.config import DecodeConfig, ModelConfig
from nmt.models import build_model
from nmt.search import generate
from nmt.specials import EOS
from nmt.translate import Ensemble

PINNED = Path(__file__).resolve().parent / "data" / "pinned"
V = 16


def small(**extra):
    return build_model(ModelConfig(variant="seq2seq", embed_size=8, encoder_hidden=12, decoder_hidden=12,
                                   dropout=0.0, **extra), V, V).eval()


def test_a_forward_and_a_reversed_model_decode_as_one_with_averaged_log_probabilities():
    torch.manual_seed(0)
    members = [small(), small(reverse_source=True)]
    ensemble = Ensemble(members)
    rng = np.random.default_rng(0)
    batch = collate([rng.integers(4, V, size=n) for n in (5, 2, 7)], None, range(3))
    hyps = generate(ensemble, batch.src, batch.src_lengths, DecodeConfig(method="greedy", max_length_b=6))
    for i, (hyp,) in enumerate(hyps):
        n = int(batch.src_lengths[i])
        target = torch.tensor([[2] + hyp.tokens])  # BOS, then the hypothesis
        gold = torch.tensor(hyp.tokens + [EOS])
        with torch.no_grad():
            log_probs = torch.stack([torch.log_softmax(m(batch.src[i:i + 1, :n], batch.src_lengths[i:i + 1],
                                                         target).logits[0], -1) for m in members]).mean(0)
        assert abs(hyp.score - float(log_probs.gather(1, gold[:, None]).sum())) < 1e-4
        assert hyp.tokens == log_probs.argmax(-1)[:-1].tolist()  # greedy over the averaged distribution


def test_nmt_translate_ensembles_a_forward_and_a_reversed_source_model():
    lines = "haus katze .\nbaum hund garten .\n\nsonne .\n"
    command = [sys.executable, "-m", "nmt.cli.translate", "--model", str(PINNED / "rnnsearch"),
               "--model", str(PINNED / "seq2seq_reversed"), "--beam", "3", "--alignments"]
    result = subprocess.run(command, input=lines, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 4 and records[2]["text"] == ""
    assert all(r["text"] for i, r in enumerate(records) if i != 2)
    for record in (r for r in records if r["text"]):  # the first member's attention: rows of weights
        rows = record["alignment"]["weights"]
        assert len({len(row) for row in rows}) == 1 and all(abs(sum(row) - 1) < 1e-3 for row in rows)


def test_an_ensemble_reports_its_first_members_attention_in_the_sources_order():
    torch.manual_seed(1)
    attention = lambda **extra: build_model(ModelConfig(variant="rnnsearch", embed_size=8, encoder_hidden=6,  # noqa: E731
                                                        decoder_hidden=12, attention_size=8, dropout=0.0, **extra),
                                            V, V).eval()
    backwards, forwards = attention(reverse_source=True), attention()
    rng = np.random.default_rng(1)
    batch = collate([rng.integers(4, V, size=n) for n in (6, 3)], None, range(2))
    hyps = generate(Ensemble([backwards, forwards]), batch.src, batch.src_lengths,
                    DecodeConfig(method="greedy", max_length_b=5), keep_attention=True)
    for i, (hyp,) in enumerate(hyps):
        n = int(batch.src_lengths[i])
        with torch.no_grad():  # the reversed member alone, teacher-forced on the ensemble's output
            alone = backwards(batch.src[i:i + 1, :n], batch.src_lengths[i:i + 1], torch.tensor([[2] + hyp.tokens]))
        torch.testing.assert_close(hyp.attention[:, :n], alone.attention[0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(hyp.attention[:, :n].sum(-1), torch.ones(len(hyp.tokens) + 1))
