#!/usr/bin/env python3
"""Writes DATA/train.noding.{de,en}: the training pairs whose source is not the Ding dictionary.

A model trained on them has seen no Ding sentence (the Ding recipe's test set included), so it
can be fine-tuned on Ding and scored on Ding's test set fairly (ding-de-en/conf/rnnsearch_finetune.yaml).
Usage: local/without_ding.py DATA
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> None:
    data = Path(sys.argv[1])
    sides = [(data / f"train.{side}").read_text(encoding="utf-8").splitlines() for side in ("de", "en", "origin")]
    kept = [(de, en) for de, en, origin in zip(*sides) if origin != "ding"]
    for column, side in enumerate(("de", "en")):
        temporary = data / f"train.noding.{side}.tmp"
        temporary.write_text("".join(pair[column] + "\n" for pair in kept), encoding="utf-8")
        temporary.replace(data / f"train.noding.{side}")
    print(f"data: {len(kept):,} training pairs without Ding sentences in {data}/train.noding.{{de,en}}")


if __name__ == "__main__":
    main()
