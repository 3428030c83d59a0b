#!/usr/bin/env python3
"""The im2latex ablation's table: one row per finished run (EXP/results.json with a "test" score), and
a second table of test BLEU by formula length; markdown on stdout. Usage: table.py EXP..."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from score_formulas import BUCKETS  # beside this file


def describe(results: dict) -> tuple[str, str]:
    train = results.get("train")
    if not train:
        return "nearest training image", "none"
    best = train["best"]
    return (f"{train['variant']} ({train['cell']}), {train['parameters'] / 1e6:.2f}M",
            f"{train['steps']:,} updates, {train['train_minutes']:.1f} min; best dev BLEU {best['bleu']:.2f} "
            f"at {best['step']:,}")


def main() -> None:
    finished = [(Path(p).name, json.loads((Path(p) / "results.json").read_text())) for p in sys.argv[1:]
                if (Path(p) / "results.json").exists()]
    finished = [(name, results) for name, results in finished if "test" in results]
    print("| run | model | test BLEU | exact % | image match % | held-out font BLEU (exact %) | training |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    for name, results in finished:
        test, style = results["test"], results.get("test_style")
        model, budget = describe(results)
        font = f"{style['bleu']:.2f} ({style['exact']:.1f})" if style else ""
        print(f"| {name} | {model} | {test['bleu']:.2f} | {test['exact']:.1f} | {test['image_match']:.1f} | {font} | "
              f"{budget} |")
    buckets = [f"{low}-{high}" for low, high in BUCKETS]
    print()
    print("| run | " + " | ".join(f"{b} tokens: BLEU (exact %)" for b in buckets) + " |")
    print("| --- |" + " ---: |" * len(buckets))
    for name, results in finished:
        by_length = results["test"]["by_length"]
        cells = [f"{by_length[b]['bleu']:.2f} ({by_length[b]['exact']:.1f})" if b in by_length else "" for b in buckets]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
