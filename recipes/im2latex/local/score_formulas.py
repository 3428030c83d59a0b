#!/usr/bin/env python3
"""Scores EXP/test.hyp against TEST_TSV's formulas: exact match of the normalised token sequence,
BLEU over tokens (sacreBLEU on the space-separated tokens, no further tokenisation), and both by
formula length (the question of the translation recipes' "the gap grows with length", on images);
into EXP/results.json under NAME. Usage: score_formulas.py EXP TEST_TSV NAME   (reads EXP/NAME.hyp)"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sacrebleu.metrics import BLEU

BUCKETS = [(1, 5), (6, 10), (11, 20), (21, 40)]  # formula length in tokens


def scores(hyps: list[str], refs: list[str]) -> dict:
    bleu = BLEU(tokenize="none")
    return {"formulas": len(refs), "exact": round(100.0 * sum(h.split() == r.split() for h, r in zip(hyps, refs)) / max(len(refs), 1), 2),
            "bleu": round(bleu.corpus_score(hyps, [refs]).score, 2) if refs else 0.0}


def main() -> None:
    exp, test_tsv, name = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    refs = [line.split("\t", 1)[1] for line in test_tsv.read_text(encoding="utf-8").splitlines() if line]
    hyps = (exp / f"{name}.hyp").read_text(encoding="utf-8").splitlines()
    if len(hyps) != len(refs):
        sys.exit(f"score_formulas: {exp / f'{name}.hyp'} has {len(hyps)} lines, {test_tsv} {len(refs)} formulas")
    test = {"captions": str(test_tsv), **scores(hyps, refs), "by_length": {}}
    for low, high in BUCKETS:
        chosen = [(h, r) for h, r in zip(hyps, refs) if low <= len(r.split()) <= high]
        test["by_length"][f"{low}-{high}"] = scores([h for h, _ in chosen], [r for _, r in chosen])
    path = exp / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results[name] = test
    path.write_text(json.dumps(results, indent=2))
    by_length = ", ".join(f"{k} tokens {v['exact']:.1f} % of {v['formulas']}" for k, v in test["by_length"].items())
    print(f"{exp.name}: {name} exact match {test['exact']:.1f} %, BLEU {test['bleu']:.2f}; exact by length: {by_length}")


if __name__ == "__main__":
    main()
