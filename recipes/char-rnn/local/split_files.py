#!/usr/bin/env python3
"""Concatenate C files (sorted by path) until about N megabytes, and split them by file 90/5/5.

A file goes to test, validation or training by a hash of its path, so the split is the same
on every machine and no file is cut in two. Writes OUT/{train,dev,test}.txt.
Usage: local/split_files.py SOURCE_DIR OUT [--megabytes 6]
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path


def split_of(path: str) -> str:
    bucket = int(hashlib.sha256(path.encode()).hexdigest(), 16) % 100
    return "test" if bucket < 5 else "dev" if bucket < 10 else "train"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--megabytes", type=float, default=6.0)
    args = parser.parse_args()
    files = sorted(args.source.rglob("*.c"))
    texts: dict[str, list[str]] = {"train": [], "dev": [], "test": []}
    total, used = 0, 0
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # a few files carry Latin-1 names in comments; the paper's text is UTF-8
        relative = str(path.relative_to(args.source).as_posix()).split("/", 1)[-1]
        texts[split_of(relative)].append(text)
        total += len(text.encode("utf-8"))
        used += 1
        if total >= args.megabytes * 1e6:
            break
    args.out.mkdir(parents=True, exist_ok=True)
    for split, parts in texts.items():
        (args.out / f"{split}.txt").write_text("".join(parts), encoding="utf-8")
        print(f"{split}: {len(parts):,} files, {sum(len(p) for p in parts):,} characters")
    print(f"data: {used:,} C files, {total / 1e6:.1f} MB in {args.out}")


if __name__ == "__main__":
    main()
