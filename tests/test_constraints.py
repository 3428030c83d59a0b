"""Lexically constrained decoding (nmt/constraints.py): required phrases appear, a search without
any is plain beam search, a phrase that cannot fit is reported, and nmt-translate --constraints."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from nmt.batching import collate
from nmt.config import DecodeConfig, ModelConfig
from nmt.constraints import Progress, constrained_beam_search
from nmt.models import build_model
from nmt.search import beam_search, max_lengths
from nmt.translate import Ensemble, Translator

SOURCES = [[5, 9, 7, 12, 6], [8, 4], [11, 13, 5, 9]]


def _model(seed: int = 0, variant: str = "rnnsearch"):
    torch.manual_seed(seed)
    return build_model(ModelConfig(variant=variant, embed_size=12, encoder_hidden=10, decoder_hidden=14,
                                   attention_size=8, dropout=0.0), 30, 30).eval()


def _contains(tokens: list[int], phrase: list[int]) -> bool:
    return any(tokens[i:i + len(phrase)] == phrase for i in range(len(tokens) - len(phrase) + 1))


def test_progress_follows_phrases_and_starts_a_broken_one_again():
    phrases = [[7, 8, 9], [4]]
    progress = Progress((False, False))
    for token in (7, 8):
        progress = progress.advance(token, phrases)
    assert progress.wanted(phrases) == {9} and progress.met(phrases) == 2
    progress = progress.advance(7, phrases)  # broken off by 7, which starts the phrase again
    assert (progress.phrase, progress.position, progress.met(phrases)) == (0, 1, 1)
    for token in (8, 9, 4):
        progress = progress.advance(token, phrases)
    assert progress.complete() and progress.met(phrases) == 4


@pytest.mark.parametrize("beam, nbest, penalty", [(5, 1, 1.0), (3, 3, 0.6)])
def test_without_constraints_it_is_plain_beam_search(beam, nbest, penalty):
    model = _model()
    batch = collate([np.array(s) for s in SOURCES], None, range(len(SOURCES)))
    limits = max_lengths(batch.src_lengths, a=1.5, b=5)
    with torch.inference_mode():
        plain = beam_search(model, batch.src, batch.src_lengths, beam_size=beam, nbest=nbest, length_penalty=penalty,
                            max_len=limits)
    free = constrained_beam_search(model, batch.src, batch.src_lengths, [[]] * len(SOURCES), beam_size=beam,
                                   nbest=nbest, length_penalty=penalty, max_len=limits)
    for mine, theirs in zip(free, plain):
        assert [h.tokens for h in mine] == [h.tokens for h in theirs]
        assert [h.score for h in mine] == pytest.approx([h.score for h in theirs], abs=1e-5)


@pytest.mark.parametrize("members, method", [(1, "beam"), (2, "beam"), (1, "greedy")])
def test_required_phrases_appear_and_one_that_cannot_fit_is_reported(members, method):
    models = [_model(seed, variant) for seed, variant in zip((0, 1), ("rnnsearch", "luong"))][:members]
    decode = DecodeConfig(method=method, beam_size=4, nbest=1, max_length_a=1.0, max_length_b=4)
    translator = Translator(Ensemble(models) if members > 1 else models[0], None, decode=decode)
    required = [[[20], [21, 22]], [], [[25, 26, 27, 28, 29, 24, 23, 22, 21, 20]]]  # the last: longer than its limit
    found = translator.translate_ids(SOURCES, constraints=required)
    for hyps, phrases in zip(found[:2], required[:2]):
        assert hyps[0].constraints_met and all(_contains(hyps[0].tokens, phrase) for phrase in phrases)
    assert found[2][0].constraints_met is False and found[2][0].tokens  # still a translation, flagged


def test_nmt_translate_takes_required_words_and_reports_what_cannot_be_met(model_dir, tmp_path):
    (tmp_path / "in.de").write_text("haus katze .\nhund .\nbaum .\n", encoding="utf-8")
    (tmp_path / "terms.json").write_text('["garden"]\n[]\n["sun", "' + "window " * 12 + '"]\n', encoding="utf-8")

    def run(terms: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "nmt.cli.translate", "--model", str(model_dir), "-i",
                               str(tmp_path / "in.de"), "--quiet", "--constraints", str(tmp_path / terms)],
                              capture_output=True, text=True, timeout=300)

    result = run("terms.json")
    lines = result.stdout.splitlines()
    assert "garden" in lines[0] and len(lines) == 3  # the word's pieces, in order (a toy model may run on after)
    assert "input line 3: its required words do not all fit within the length limit" in result.stderr
    keep = [sys.executable, "-m", "nmt.cli.translate", "--model", str(model_dir), "--keep", r"gard\w+"]
    kept = subprocess.run(keep, input="haus garden .\n", capture_output=True, text=True, timeout=300)
    assert kept.returncode == 0 and "garden" in kept.stdout  # a source word kept: required as it is
    bad_pattern = subprocess.run(keep[:-1] + ["("], input="haus .\n", capture_output=True, text=True, timeout=300)
    assert bad_pattern.returncode == 2 and "--keep '(' is not a regular expression" in bad_pattern.stderr
    (tmp_path / "bad.json").write_text('["garden"]\n{"a": 1}\n[]\n', encoding="utf-8")
    bad = run("bad.json")
    assert bad.returncode == 2 and "line 2 is not a JSON list of strings" in bad.stderr
