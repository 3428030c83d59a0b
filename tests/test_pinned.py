"""Behaviour pinned across refactors: fixed checkpoints must translate as they did, and training
from a fixed seed must make the same losses (tests/data/make_pinned.py wrote what they were).

Also: checkpoints written by earlier versions of the package load (these are such checkpoints).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import config_text, make_pairs, write_plain

PINNED = Path(__file__).resolve().parent / "data" / "pinned"
EXPECTED = json.loads((PINNED / "expected.json").read_text(encoding="utf-8"))
MODELS = list(EXPECTED["models"])


def translate(*args: str) -> list[str]:
    text = "\n".join(EXPECTED["inputs"]) + "\n"
    result = subprocess.run([sys.executable, "-m", "nmt.cli.translate", *args], input=text,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


@pytest.mark.parametrize("name", MODELS)
def test_greedy_and_beam_translations_are_unchanged(name):
    expected = EXPECTED["models"][name]
    model = str(PINNED / name)
    assert translate("--model", model, "--beam", "1") == expected["greedy"]
    beam = [json.loads(line) for line in translate("--model", model, "--beam", "5", "--nbest", "3", "--json")]
    assert [r["text"] for r in beam] == [r["translation"] for r in expected["beam5"]]  # the file keeps its keys
    for got, want in zip(beam, expected["beam5"]):
        assert [h["text"] for h in got["nbest"]] == [h["text"] for h in want["nbest"]]
        assert [h["score"] for h in got["nbest"]] == pytest.approx([h["score"] for h in want["nbest"]], abs=2e-4)
    if "alignments" in expected:
        aligned = [(json.loads(line)["alignment"] or {}).get("weights")
                   for line in translate("--model", model, "--beam", "1", "--alignments")]
        for got, want in zip(aligned, expected["alignments"]):
            assert (got is None) == (want is None)
            if got is not None:
                assert len(got) == len(want)
                for row, want_row in zip(got, want):  # pinned with the batch's padding, which is now cut off
                    assert row == pytest.approx(want_row[: len(row)], abs=2e-4) and not any(want_row[len(row):])


@pytest.mark.parametrize("name", MODELS)
def test_training_losses_are_unchanged(name, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for split, n, seed in (("train", 400, 1), ("dev", 30, 2), ("test", 30, 3)):
        write_plain(corpus, split, make_pairs(n, seed))
    expected = EXPECTED["models"][name]
    losses = expected["losses"]
    config = tmp_path / "run.yaml"
    config.write_text(config_text(corpus, tmp_path / "run", extra=f"model: {expected['model']}\n{EXPECTED['train']}\n"),
                      encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "nmt.cli.train", "--config", str(config), "--quiet",
                             "--set", f"train.max_steps={len(losses)}"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    events = EventAccumulator(str(tmp_path / "run" / "tb"))
    events.Reload()
    assert [e.value for e in events.Scalars("train/loss")] == pytest.approx(losses, rel=1e-4)
