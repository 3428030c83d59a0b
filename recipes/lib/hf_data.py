#!/usr/bin/env python3
"""Stage 0 of the hub recipes: a Hugging Face translation dataset -> OUT/{train,dev,test}.{src,tgt}.

    hf_data.py DATASET --config NAME --src de --tgt en [--out data] [--max-train-pairs N]

DATASET is a hub name (needs the network) or a local folder in the hub's layout
(train/validation/test files in jsonl, json, csv or parquet), read the same way.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

from nmt.cli.common import run_main
from nmt.config import CorpusConfig
from nmt.data import read_hf, write_pairs

SPLITS = {"train": "train", "dev": "validation", "test": "test"}  # ours -> the hub's


def _main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", help="hub name (e.g. wmt/wmt14) or a local folder in the same layout")
    parser.add_argument("--config", default=None, help="the dataset's configuration on the hub, e.g. fr-en")
    parser.add_argument("--src", required=True, help="source language key in the 'translation' column")
    parser.add_argument("--tgt", required=True, help="target language key")
    parser.add_argument("--out", type=Path, default=Path("data"))
    parser.add_argument("--max-train-pairs", type=int, default=None, help="keep the first N training pairs")
    args = parser.parse_args()

    files = {split: (args.out / f"{split}.{args.src}", args.out / f"{split}.{args.tgt}") for split in SPLITS}
    if all(src.is_file() and tgt.is_file() for src, tgt in files.values()):
        print(f"data: {args.out} already holds train, dev and test")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for ours, theirs in SPLITS.items():
        corpus = CorpusConfig(format="hf", path=args.dataset, name=args.config, split=theirs)
        pairs = read_hf(corpus, src_lang=args.src, tgt_lang=args.tgt)
        if ours == "train" and args.max_train_pairs:
            pairs = itertools.islice(pairs, args.max_train_pairs)
        count = write_pairs(pairs, *files[ours])
        print(f"data: {ours} ({args.dataset} {theirs}): {count:,} pairs -> {files[ours][0]}, {files[ours][1]}")
    return 0


if __name__ == "__main__":
    run_main("hf_data", _main)
