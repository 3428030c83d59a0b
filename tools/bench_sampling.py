#!/usr/bin/env python3
"""What subword regularisation costs: the time to segment one epoch of a prepared experiment's
training text anew, against the time the same experiment takes to train one epoch.

    python tools/bench_sampling.py EXP_DIR [--epochs 2] [--alpha A] [--nbest L]

EXP_DIR is an experiment prepared by nmt-prepare (its SentencePiece model and data/train.*); the
sampling settings default to its config's. Where EXP_DIR/train.log holds a training run, the
seconds an epoch trained are read from it (updates an epoch x seconds an update, validations
left out) and the cost is given as a share of that. With several weighted corpora an epoch
samples only the pairs it draws, as in training. The epochs are sampled into a temporary
folder, on this process's threads alone: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from nmt.cli.common import run_main
from nmt.data import read_lines
from nmt.errors import NmtError
from nmt.sampling import SampledEpochs
from nmt.tasks import load_config
from nmt.tokenizer import Tokenizer
from nmt.translation_task import training_mixture

STEP = re.compile(r"^(\S+ \S+) step (\d+) epoch (\d+):")


def training_epoch_seconds(log: Path) -> tuple[float, int] | None:
    """(seconds an epoch, updates an epoch) from a train.log's step lines: the clock between step lines
    of one epoch (no validation between them), times the updates of the first whole epoch."""
    steps = []
    for line in read_lines(log):
        if match := STEP.match(line):
            steps.append((datetime.fromisoformat(match[1]), int(match[2]), int(match[3])))
    per_update, last_of_epoch = [], {}
    for (t0, s0, e0), (t1, s1, e1) in zip(steps, steps[1:]):
        last_of_epoch[e0] = s0
        if e0 == e1 and s0 > 0 and s1 - s0 <= 100:  # the first interval holds the first epoch's sampling
            per_update.append((t1 - t0).total_seconds() / (s1 - s0))
    if 1 not in last_of_epoch or 2 not in {e for _, _, e in steps} or len(per_update) < 5:
        return None
    per_update.sort()
    median = per_update[len(per_update) // 2]  # robust to the intervals that held a validation
    updates = last_of_epoch[1]  # steps are logged every few updates: the epoch ends after this one
    return median * updates, updates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exp_dir", type=Path)
    parser.add_argument("--epochs", type=int, default=2, help="epochs to sample (the time is their mean)")
    parser.add_argument("--alpha", type=float, default=None, help="default: the config's train.sampling_alpha")
    parser.add_argument("--nbest", type=int, default=None, help="default: the config's train.sampling_nbest")
    args = parser.parse_args()
    if not (args.exp_dir / "config.yaml").exists() or not (args.exp_dir / "data" / "train.src").exists():
        raise NmtError(f"{args.exp_dir}: not a prepared experiment (no config.yaml or data/train.src; run nmt-prepare)")
    cfg = load_config(args.exp_dir / "config.yaml")
    alpha = args.alpha if args.alpha is not None else cfg.train.sampling_alpha
    nbest = args.nbest or cfg.train.sampling_nbest
    if alpha <= 0:
        raise NmtError(f"{args.exp_dir}: the config samples no segmentations (train.sampling_alpha 0); give --alpha")
    tokenizer = Tokenizer.load(args.exp_dir)
    lines = sum(1 for _ in read_lines(args.exp_dir / "data" / "train.src"))
    mixture = training_mixture(cfg, tokenizer, args.exp_dir / "data")  # with one, an epoch samples what it draws
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        for side in ("src", "tgt"):  # the sampler keeps its arrays beside the text it reads
            (data / f"train.{side}").symlink_to((args.exp_dir / "data" / f"train.{side}").resolve())
        sampler = SampledEpochs(data, tokenizer, alpha=alpha, nbest=nbest, seed=cfg.train.seed,
                                model_type=cfg.tokenizer.model_type, mixture=mixture)
        started = time.perf_counter()
        for epoch in range(1, args.epochs + 1):
            sampler.encode(epoch)  # in this thread: the time of the work itself
        seconds = (time.perf_counter() - started) / args.epochs
        sampler.close()
    kind = "BPE-dropout" if cfg.tokenizer.model_type == "bpe" else f"unigram sampling, nbest {nbest}"
    sampled = lines if mixture is None else len(np.unique(mixture.draw(cfg.train.seed, 1)))  # what an epoch segments
    drawn = "" if mixture is None else f" ({sampled:,} drawn in epoch 1)"
    print(f"{args.exp_dir}: {lines:,} training pairs{drawn}, {kind}, alpha {alpha:g}")
    print(f"  sampling one epoch (both sides): {seconds:.1f} s, {sampled / seconds:,.0f} pairs/s")
    if (args.exp_dir / "train.log").exists() and (epoch_cost := training_epoch_seconds(args.exp_dir / "train.log")):
        epoch_seconds, updates = epoch_cost
        print(f"  training one epoch (train.log: {updates:,} updates): {epoch_seconds / 60:.1f} min; "
              f"sampling is {100 * seconds / epoch_seconds:.1f} % of it")
    return 0


if __name__ == "__main__":
    run_main("bench_sampling", main)
