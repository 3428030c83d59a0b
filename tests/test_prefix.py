"""Prefix-constrained decoding: every hypothesis starts with its sentence's prefix and the search
continues it; a sentence without one is searched as before; torch and the exported runtime agree."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import torch

from nmt.config import DecodeConfig, ModelConfig
from nmt.models import build_model
from nmt.translate import Ensemble, Translator

SOURCES = [[5, 9, 7, 12, 6], [8, 4], [11, 13, 5, 9]]
PREFIXES = [[20, 21, 22], [], [7]]


def _translator(method: str, *, members: int = 1) -> Translator:
    torch.manual_seed(0)
    models = [build_model(ModelConfig(variant=variant, embed_size=12, encoder_hidden=10, decoder_hidden=14,
                                      attention_size=8, dropout=0.0), 30, 30).eval()
              for variant in ("rnnsearch", "luong")[:members]]
    decode = DecodeConfig(method=method, beam_size=3, nbest=3 if method == "beam" else 1, length_penalty=0.0,
                          max_length_a=1.0, max_length_b=2)
    return Translator(Ensemble(models) if members > 1 else models[0], None, decode=decode, seed=1)


@pytest.mark.parametrize("method, members", [("greedy", 1), ("beam", 1), ("sample", 1), ("beam", 2)])
def test_every_hypothesis_starts_with_its_prefix_and_a_sentence_without_one_is_searched_as_before(method, members):
    translator = _translator(method, members=members)
    constrained = translator.translate_ids(SOURCES, PREFIXES)
    for hyps, prefix in zip(constrained, PREFIXES):
        assert all(h.tokens[: len(prefix)] == prefix for h in hyps)
        assert all(len(h.tokens) > len(prefix) or h.tokens == prefix for h in hyps)
    if method != "sample":  # sampling draws its numbers in another order
        free = translator.translate_ids([SOURCES[1]])
        assert [h.tokens for h in constrained[1]] == [h.tokens for h in free[0]]
        rescored = translator.score_ids(SOURCES, [hyps[0].tokens for hyps in constrained])
        assert [r.score for r in rescored] == pytest.approx([hyps[0].score for hyps in constrained], abs=1e-4)


def test_the_exported_runtime_continues_prefixes_as_torch_does(tmp_path):
    from nmt.export import export_model
    from nmt.runtime.model import ExportedModel
    from nmt.runtime.translate import ExportedTranslator

    translator = _translator("beam")
    export_model(translator.model, tmp_path, tmp_path / "export", src_vocab_size=30, tgt_vocab_size=30, int8=False)
    exported = ExportedTranslator(ExportedModel(tmp_path / "export", threads=1), None, decode=translator.decode)
    for decode in (translator.decode, dataclasses.replace(translator.decode, method="greedy", nbest=1)):
        translator.decode = exported.decode = decode
        ours, theirs = translator.translate_ids(SOURCES, PREFIXES), exported.translate_ids(SOURCES, PREFIXES)
        assert [[h.tokens for h in hyps] for hyps in ours] == [[h.tokens for h in hyps] for hyps in theirs]
        assert np.allclose([h.score for hyps in ours for h in hyps], [h.score for hyps in theirs for h in hyps], atol=1e-4)


def test_nmt_translate_takes_a_prefix_file(model_dir, tmp_path):
    (tmp_path / "in.de").write_text("haus katze .\nhund .\nbaum .\n", encoding="utf-8")
    (tmp_path / "start.en").write_text("house cat\n\ntree côte\n", encoding="utf-8")  # ô: not in the vocabulary

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "nmt.cli.translate", "--model", str(model_dir), "-i",
                               str(tmp_path / "in.de"), "--quiet", *args], capture_output=True, text=True, timeout=300)

    lines = run("--prefix", str(tmp_path / "start.en")).stdout.splitlines()
    assert lines[0].startswith("house cat") and lines[2].startswith("tree côte")  # as typed, not "tree c ⁇ te"
    assert lines[1] == run().stdout.splitlines()[1]  # an empty prefix: translated freely
    (tmp_path / "short.en").write_text("house\n", encoding="utf-8")
    short = run("--prefix", str(tmp_path / "short.en"))
    assert short.returncode == 2 and "has 1 lines, the input 3" in short.stderr
