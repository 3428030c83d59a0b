#!/usr/bin/env python3
"""Scores EXP/NAME.hyp against the captions of TEST_TSV: sacreBLEU's BLEU and chrF (nmt-score), exact
match, and exact match of the name before the colon and of the skin tone after it; into
EXP/results.json under NAME, with a line for the log. Usage: score_captions.py EXP TEST_TSV [NAME]
(NAME: test unless given)"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from nmt.metrics import corpus_scores


def percent(hits: list[bool]) -> float:
    return round(100.0 * sum(hits) / len(hits), 2)


def main() -> None:
    exp, test_tsv = Path(sys.argv[1]), Path(sys.argv[2])
    name = sys.argv[3] if len(sys.argv) > 3 else "test"
    refs = [line.split("\t", 1)[1] for line in test_tsv.read_text(encoding="utf-8").splitlines() if line]
    hyps = (exp / f"{name}.hyp").read_text(encoding="utf-8").splitlines()
    if len(hyps) != len(refs):
        sys.exit(f"score_captions: {exp / f'{name}.hyp'} has {len(hyps)} lines, {test_tsv} {len(refs)} captions")
    scores = corpus_scores(hyps, [refs])
    test = {"captions": str(test_tsv), "images": len(refs), "bleu": round(float(scores["bleu"]), 2),
            "chrf": round(float(scores["chrf"]), 2), "bleu_signature": str(scores["bleu_signature"]),
            "exact": percent([h == r for h, r in zip(hyps, refs)]),
            "base_exact": percent([h.split(":")[0] == r.split(":")[0] for h, r in zip(hyps, refs)]),
            "tone_exact": percent([h.split(":")[-1] == r.split(":")[-1] for h, r in zip(hyps, refs) if ":" in r])}
    results_path = exp / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    results[name] = test
    results_path.write_text(json.dumps(results, indent=2))
    print(f"{exp.name}: {name} exact match {test['exact']:.1f} % (name {test['base_exact']:.1f} %, skin tone "
          f"{test['tone_exact']:.1f} % of those with one), BLEU {test['bleu']:.2f}, chrF {test['chrf']:.2f}")


if __name__ == "__main__":
    main()
