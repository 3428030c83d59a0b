"""Forced decoding (nmt-translate --score-target): a given translation's scores equal the training
loss on the pair, and the score search gave the hypothesis it found."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import make_pairs

from nmt.batching import collate
from nmt.config import ModelConfig
from nmt.models import build_model
from nmt.tasks import load_trained
from nmt.translate import Ensemble, Translator
from nmt.translation_task import token_loss

PAIRS = make_pairs(12, seed=9)


def test_forced_scores_are_the_training_loss_on_the_same_pairs(model_dir):
    loaded = load_trained(model_dir, task="translation")
    translator = Translator(loaded.model, loaded.tokenizer, decode=loaded.cfg.decode)
    sources = loaded.tokenizer.encode_src([p[0] for p in PAIRS])
    targets = loaded.tokenizer.encode_tgt([p[1] for p in PAIRS])
    scored = translator.score_ids(sources, targets)
    with torch.inference_mode():
        loss = token_loss(loaded.model.eval(), collate([np.array(s) for s in sources], [np.array(t) for t in targets],
                                                       range(len(PAIRS))))
    assert sum(item.score for item in scored) == pytest.approx(-float(loss), rel=1e-5)
    for item, target in zip(scored, targets):
        assert item.tokens == target and len(item.token_scores) == len(target) + 1  # EOS scored too
        assert item.score == pytest.approx(sum(item.token_scores)) and item.attention.shape[0] == len(target) + 1


@pytest.mark.parametrize("members", [1, 2])
def test_the_forced_score_of_a_search_result_is_the_score_search_gave_it(members):
    torch.manual_seed(0)
    models = [build_model(ModelConfig(variant=variant, embed_size=12, encoder_hidden=10, decoder_hidden=14,
                                      attention_size=8, dropout=0.0, reverse_source=variant == "seq2seq"), 30, 30).eval()
              for variant in ("rnnsearch", "seq2seq")[:members]]
    models[0].forbid_outputs([29])
    from nmt.config import DecodeConfig

    decode = DecodeConfig(beam_size=3, length_penalty=0.0, max_length_a=1.0, max_length_b=3)
    translator = Translator(Ensemble(models) if members > 1 else models[0], None, decode=decode)
    sources = [[5, 9, 7, 12, 6], [8, 4], [11, 13, 5, 9]]
    found = [hyps[0] for hyps in translator.translate_ids(sources)]
    scored = translator.score_ids(sources, [h.tokens for h in found])
    assert [item.score for item in scored] == pytest.approx([h.score for h in found], abs=1e-4)
    for item, hyp in zip(scored, found):  # search's own per-token scores are the forced ones
        assert hyp.token_scores == pytest.approx(item.token_scores, abs=1e-4)
    assert translator.score_ids([[5]], [[29]])[0].score == float("-inf")  # a forbidden piece cannot be written
    greedy = Translator(translator.model, None, decode=dataclasses.replace(decode, method="greedy"))
    walked = [hyps[0] for hyps in greedy.translate_ids(sources)]
    rescored = greedy.score_ids(sources, [h.tokens for h in walked])
    assert [item.score for item in rescored] == pytest.approx([h.score for h in walked], abs=1e-4)


def test_nmt_translate_scores_a_target_file_line_by_line(model_dir, tmp_path):
    (tmp_path / "in.de").write_text("".join(p[0] + "\n" for p in PAIRS[:3]), encoding="utf-8")
    (tmp_path / "in.en").write_text("".join(p[1] + "\n" for p in PAIRS[:3]), encoding="utf-8")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "nmt.cli.translate", "--model", str(model_dir), "-i",
                               str(tmp_path / "in.de"), *args], capture_output=True, text=True, timeout=300)

    plain = run("--score-target", str(tmp_path / "in.en"))
    records = [json.loads(line) for line in run("--score-target", str(tmp_path / "in.en"), "--alignments").stdout.splitlines()]
    assert [float(line) for line in plain.stdout.splitlines()] == pytest.approx([r["score"] for r in records], abs=1e-3)
    assert all(r["pieces"][-1] == "</s>" and len(r["pieces"]) == len(r["token_scores"]) == len(r["alignment"]["weights"])
               for r in records)
    translated = [json.loads(line) for line in subprocess.run(
        [sys.executable, "-m", "nmt.cli.translate", "--model", str(model_dir), "-i", str(tmp_path / "in.de"), "--json"],
        capture_output=True, text=True, timeout=300).stdout.splitlines()]
    for r in translated:  # each piece's log-probability; the score divides their sum by GNMT's penalty (alpha 1)
        assert len(r["pieces"]) == len(r["token_scores"]) and r["pieces"][-1] == "</s>"
        assert r["score"] == pytest.approx(sum(r["token_scores"]) / ((5 + len(r["pieces"])) / 6), abs=1e-3)
    (tmp_path / "short.en").write_text("house .\n", encoding="utf-8")
    short = run("--score-target", str(tmp_path / "short.en"))
    assert short.returncode == 2 and "has 1 lines, the input 3" in short.stderr and "Traceback" not in short.stderr
