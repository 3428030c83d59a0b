#!/usr/bin/env python3
"""A synthetic task: reverse a sequence of symbols. Writes {train,dev,test}.{src,tgt}."""

import argparse
import random
from pathlib import Path

SYMBOLS = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t"]
SIZES = {"train": 8000, "dev": 200, "test": 200}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for split, size in SIZES.items():
        rows = [[rng.choice(SYMBOLS) for _ in range(rng.randint(3, 12))] for _ in range(size)]
        (args.out_dir / f"{split}.src").write_text("".join(" ".join(r) + "\n" for r in rows))
        (args.out_dir / f"{split}.tgt").write_text("".join(" ".join(reversed(r)) + "\n" for r in rows))
    print(f"toy-reverse: {', '.join(f'{s} {n}' for s, n in SIZES.items())} pairs in {args.out_dir}")


if __name__ == "__main__":
    main()
