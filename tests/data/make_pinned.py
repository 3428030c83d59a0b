#!/usr/bin/env python3
"""Writes tests/data/pinned/: small trained models and what the code of the day made of them.

Only the console scripts and TensorBoard's event files are used, so the same script runs
against any version of the package. tests/test_pinned.py checks that the code of today
still gives these translations (greedy, beam 5 with its n-best scores, alignments) and
these training losses. Run it again only where a change of behaviour is meant, and say so.

    python tests/data/make_pinned.py
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from conftest import config_text, make_pairs, write_plain  # noqa: E402

OUT = HERE / "pinned"
MODELS = {  # the reversal moved into the model: a reversed-source model is pinned beside RNNsearch
    "rnnsearch": "{variant: rnnsearch, embed_size: 16, encoder_hidden: 16, decoder_hidden: 32, attention_size: 16}",
    "seq2seq_reversed": "{variant: seq2seq, reverse_source: true, embed_size: 16, encoder_hidden: 32, decoder_hidden: 32}",
}
TRAIN = "train: {batch_tokens: 1000, validate_every: 40, max_steps: 80, lr: 0.01, log_every: 1, seed: 7}"
LOSS_STEPS = 12  # training losses pinned for the first updates


def run(module: str, *args: str, stdin: str = "") -> str:
    result = subprocess.run([sys.executable, "-m", module, *args], input=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{module} failed:\n{result.stderr}")
    return result.stdout


def training_losses(tb_dir: Path) -> list[float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tb_dir))
    events.Reload()
    return [e.value for e in events.Scalars("train/loss")][:LOSS_STEPS]


def main() -> None:
    work = Path(tempfile.mkdtemp())
    corpus = work / "corpus"
    corpus.mkdir()
    for split, n, seed in (("train", 400, 1), ("dev", 30, 2), ("test", 30, 3)):
        write_plain(corpus, split, make_pairs(n, seed))
    inputs = (corpus / "test.de").read_text(encoding="utf-8").splitlines()[:12] + ["haus", "", "katze katze katze ."]
    shutil.rmtree(OUT, ignore_errors=True)
    expected = {"inputs": inputs, "train": TRAIN, "models": {}}
    for name, model in MODELS.items():
        config = work / f"{name}.yaml"
        config.write_text(config_text(corpus, work / name, extra=f"model: {model}\n{TRAIN}\n"), encoding="utf-8")
        run("nmt.cli.train", "--config", str(config), "--quiet")
        exp = work / name
        text = "\n".join(inputs) + "\n"
        record = {
            "model": model,
            "greedy": run("nmt.cli.translate", "--model", str(exp), "--beam", "1", stdin=text).splitlines(),
            "beam5": [{"translation": r["text"], "nbest": r["nbest"]} for r in map(json.loads,
                      run("nmt.cli.translate", "--model", str(exp), "--beam", "5", "--nbest", "3", "--json",
                          stdin=text).splitlines())],
            "losses": training_losses(exp / "tb"),
        }
        if name == "rnnsearch":
            record["alignments"] = [(json.loads(line)["alignment"] or {}).get("weights") for line in
                                    run("nmt.cli.translate", "--model", str(exp), "--beam", "1", "--alignments",
                                        stdin=text).splitlines()]
        expected["models"][name] = record
        target = OUT / name
        (target / "checkpoints").mkdir(parents=True)
        for item in ["config.yaml", *(p.name for p in exp.glob("spm*.model"))]:
            shutil.copy(exp / item, target / item)
        shutil.copy(exp / "checkpoints" / "best.pt", target / "checkpoints" / "best.pt")
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    shutil.rmtree(work)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
