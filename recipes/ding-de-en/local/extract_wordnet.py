#!/usr/bin/env python3
"""Monolingual English for back-translation: the example sentences of WordNet's glosses.

WordNet (Debian package wordnet-base) quotes short usage examples in its glosses, e.g.
`| move fast; "He ran home"`: tens of thousands of sentences close in kind to Ding's
dictionary examples. Each is normalised as Ding's English is written (first letter capital,
a full stop where it ends without punctuation); kept when it has at least three words;
deduplicated; and left out when it is (up to case and final punctuation) an English sentence of
Ding's dev or test split.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from pathlib import Path

EXAMPLE = re.compile(r'"([^"]+)"')
MIN_WORDS = 3
SHUFFLE_SEED = 1234


def examples(data_file: Path):
    """The quoted examples of every synset's gloss (text after ` | `)."""
    with data_file.open(encoding="latin-1") as lines:  # WordNet 3.0's files are ASCII with a few Latin-1 bytes
        for line in lines:
            if line.startswith("  ") or " | " not in line:  # the licence header
                continue
            yield from EXAMPLE.findall(line.split(" | ", 1)[1])


def normalise(text: str) -> str:
    text = " ".join(text.split()).strip(" ;,")
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def key(text: str) -> str:
    return text.lower().rstrip(".!?").strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wordnet_dir", type=Path, help="the folder of data.noun, data.verb, data.adj, data.adv")
    parser.add_argument("out", type=Path, help="the English sentences, one a line")
    parser.add_argument("--exclude", type=Path, nargs="*", default=[], help="files of sentences to leave out")
    args = parser.parse_args()
    files = sorted(args.wordnet_dir.glob("data.*"))
    if not files:
        print(f"extract_wordnet: no data.* files in {args.wordnet_dir}", file=sys.stderr)
        return 1
    excluded = {key(line) for path in args.exclude for line in path.read_text(encoding="utf-8").splitlines()}
    kept, seen, counts = [], set(), {"read": 0, "short": 0, "duplicate": 0, "dev/test": 0}
    for path in files:
        for example in examples(path):
            counts["read"] += 1
            sentence = normalise(example)
            if len(sentence.split()) < MIN_WORDS:
                counts["short"] += 1
            elif key(sentence) in excluded:
                counts["dev/test"] += 1
            elif key(sentence) in seen:
                counts["duplicate"] += 1
            else:
                seen.add(key(sentence))
                kept.append(sentence)
    random.Random(SHUFFLE_SEED).shuffle(kept)  # a prefix of the file is then a fair sample of it
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text("".join(sentence + "\n" for sentence in kept), encoding="utf-8")
    tmp.replace(args.out)
    dropped = ", ".join(f"{n:,} {reason}" for reason, n in counts.items() if reason != "read")
    print(f"monolingual: {len(kept):,} English sentences of {counts['read']:,} WordNet examples "
          f"(dropped: {dropped}) -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
