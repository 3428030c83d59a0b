#!/usr/bin/env python3
r"""Scores EXP/test.hyp against TEST_TSV's formulas: exact match of the normalised token sequence,
image match (Deng et al. 2017's: the output drawn as the reference was, in the same font, is the
same picture: `\left ( 0 \right )` draws as `( 0 )` does), BLEU over tokens (sacreBLEU on the
space-separated tokens, no further tokenisation), and all by formula length (the question of the
translation recipes' "the gap grows with length", on images); into EXP/results.json under NAME.
Usage: score_formulas.py EXP TEST_TSV NAME   (reads EXP/NAME.hyp; NAME test_style: the held-out font)"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from build_formulas import HELD_OUT_FONT, font_of, render  # beside this file
from sacrebleu.metrics import BLEU

HEIGHT, WIDTH = 64, 320  # any canvas both are drawn on: the pictures compare, not the model's input

BUCKETS = [(1, 5), (6, 10), (11, 20), (21, 40)]  # formula length in tokens


def same_picture(hyp: str, ref: str, font: str) -> bool:
    """Whether mathtext draws the two alike in `font` (an output it cannot draw is not)."""
    if hyp.split() == ref.split():
        return True
    try:
        return render(hyp, font, HEIGHT, WIDTH) == render(ref, font, HEIGHT, WIDTH)
    except Exception:  # mathtext's parse errors are of several kinds
        return False


def scores(hyps: list[str], refs: list[str], pictures: list[bool]) -> dict:
    """`pictures`: whether each output draws as its reference (same_picture, drawn once a formula)."""
    bleu = BLEU(tokenize="none")
    share = lambda hits: round(100.0 * sum(hits) / max(len(refs), 1), 2)  # noqa: E731
    return {"formulas": len(refs), "exact": share(h.split() == r.split() for h, r in zip(hyps, refs)),
            "image_match": share(pictures),
            "bleu": round(bleu.corpus_score(hyps, [refs]).score, 2) if refs else 0.0}


def main() -> None:
    exp, test_tsv, name = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    refs = [line.split("\t", 1)[1] for line in test_tsv.read_text(encoding="utf-8").splitlines() if line]
    hyps = (exp / f"{name}.hyp").read_text(encoding="utf-8").splitlines()
    if len(hyps) != len(refs):
        sys.exit(f"score_formulas: {exp / f'{name}.hyp'} has {len(hyps)} lines, {test_tsv} {len(refs)} formulas")
    fonts = [HELD_OUT_FONT if name == "test_style" else font_of(ref) for ref in refs]  # as build_formulas drew them
    pictures = [same_picture(h, r, f) for h, r, f in zip(hyps, refs, fonts)]
    test = {"captions": str(test_tsv), **scores(hyps, refs, pictures), "by_length": {}}
    for low, high in BUCKETS:
        chosen = [i for i, r in enumerate(refs) if low <= len(r.split()) <= high]
        test["by_length"][f"{low}-{high}"] = scores([hyps[i] for i in chosen], [refs[i] for i in chosen],
                                                    [pictures[i] for i in chosen])
    path = exp / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results[name] = test
    path.write_text(json.dumps(results, indent=2))
    by_length = ", ".join(f"{k} tokens {v['exact']:.1f} / {v['image_match']:.1f} % of {v['formulas']}"
                          for k, v in test["by_length"].items())
    print(f"{exp.name}: {name} exact match {test['exact']:.1f} %, image match {test['image_match']:.1f} %, "
          f"BLEU {test['bleu']:.2f}; exact / image match by length: {by_length}")


if __name__ == "__main__":
    main()
