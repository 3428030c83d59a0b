#!/usr/bin/env python3
"""Extract German-English sentence pairs from the Ding dictionary (Debian package trans-de-en).

Each dictionary line is `German :: English`; both sides hold ` | `-separated alternatives
aligned by position. Example sentences are the alternatives that end like sentences.
Writes {train,dev,test}.{de,en} with the fixed split that results are compared on:
random.Random(1234).shuffle, then 1,000 test, 1,000 dev, the rest train.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from pathlib import Path

ANNOTATION = re.compile(r"\{[^}]*\}|\[[^\]]*\]|<[^>]*>")
SENTENCE_END = re.compile(r"[.!?][\"'’”“»«]*$")
ABBREVIATIONS = ("sb.", "sth.", "jdn.", "jdm.", "jds.", "etw.", "sb's.")
TEST_SIZE = DEV_SIZE = 1000
SPLIT_SEED = 1234


def clean(text: str) -> str:
    return " ".join(ANNOTATION.sub(" ", text).split())


def is_sentence(text: str) -> bool:
    return bool(SENTENCE_END.search(text)) and ";" not in text and not any(a in text for a in ABBREVIATIONS)


def extract_pairs(lines) -> list[tuple[str, str]]:
    """(German, English) sentence pairs in first-occurrence order, without duplicates."""
    pairs, seen = [], set()
    for line in lines:
        line = line.rstrip("\n")
        if line.startswith("#"):
            continue
        sides = line.split(" :: ")
        if len(sides) != 2:
            continue
        german, english = sides[0].split(" | "), sides[1].split(" | ")
        if len(german) != len(english):
            continue
        for de, en in zip(german, english):
            de, en = clean(de), clean(en)
            pair = (de, en)
            if is_sentence(de) and is_sentence(en) and len(en.split()) >= 3 and pair not in seen:
                seen.add(pair)
                pairs.append(pair)
    return pairs


def split_pairs(pairs: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    shuffled = list(pairs)
    random.Random(SPLIT_SEED).shuffle(shuffled)
    return {
        "test": shuffled[:TEST_SIZE],
        "dev": shuffled[TEST_SIZE:TEST_SIZE + DEV_SIZE],
        "train": shuffled[TEST_SIZE + DEV_SIZE:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dictionary", type=Path, help="usr/share/trans/de-en from trans-de-en")
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args()
    with args.dictionary.open(encoding="utf-8") as handle:
        pairs = extract_pairs(handle)
    if len(pairs) < TEST_SIZE + DEV_SIZE + 1:
        sys.exit(f"extract_ding: only {len(pairs)} pairs in {args.dictionary}; is it the Ding de-en dictionary?")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for split, rows in split_pairs(pairs).items():
        for index, lang in enumerate(("de", "en")):
            text = "".join(row[index] + "\n" for row in rows)
            (args.out_dir / f"{split}.{lang}").write_text(text, encoding="utf-8")
    sizes = {split: len(rows) for split, rows in split_pairs(pairs).items()}
    print(f"ding: {len(pairs)} pairs -> train {sizes['train']}, dev {sizes['dev']}, test {sizes['test']} in {args.out_dir}")


if __name__ == "__main__":
    main()
