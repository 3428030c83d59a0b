#!/usr/bin/env python3
"""The emoji ablation's table: one row per finished run (EXP/results.json with a "test" score),
markdown on stdout. Usage: table.py EXP..."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml


def row(exp: Path) -> str | None:
    path = exp / "results.json"
    if not path.exists():
        return None
    results = json.loads(path.read_text())
    test, train = results.get("test"), results.get("train")
    if test is None:
        return None
    if train:  # a trained captioner, its checkpoint chosen by the config's stop metric
        metric = yaml.safe_load((exp / "config.yaml").read_text())["train"]["stop_metric"]
        what = f"{train['variant']} ({train['cell']})"
        budget = (f"{train['steps']:,} updates, {train['train_minutes']:.1f} min; best dev {metric} "
                  f"{train['best'][metric]:.1f} at {train['best']['step']:,}")
        size = f"{train['parameters'] / 1e6:.2f}M"
    else:  # retrieval: no training
        what, budget, size = "nearest training image", "none", "-"
    return (f"| {exp.name} | {what} | {test['exact']:.1f} | {test['base_exact']:.1f} | {test['tone_exact']:.1f} | "
            f"{test['bleu']:.2f} | {test['chrf']:.2f} | {size} | {budget} |")


def main() -> None:
    rows = [r for r in (row(Path(p)) for p in sys.argv[1:]) if r]
    print("| run | model | exact % | name % | tone % | BLEU | chrF | parameters | training |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
