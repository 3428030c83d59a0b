#!/usr/bin/env python3
"""The Ding dictionary's entries (words and phrases, not its example sentences) as a second corpus.

Each dictionary line is `German :: English` with ` | `-separated alternatives aligned by
position (see recipes/lib/extract_ding.py); an alternative that is no sentence is an entry, its
`;`-separated synonyms translations of each other. Each German synonym is paired with the
first English one and the first German with each English one. A line that holds a dev or test
sentence is left out whole, so no entry comes from the lines the held-out sentences illustrate.
Writes lexicon.{de,en} beside the splits.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))  # the Ding reader, shared with the Debian recipe
from extract_ding import SENTENCE_END, clean  # noqa: E402

# Abbreviation labels ("Ablöse /Abl./") and explanations ("Abdeckklappe (z. B. für Schmiernippel)"):
# a gloss on one side that the other side does not translate.
GLOSS = re.compile(r"/[^/\s]+/|\([^()]*\)")


def synonyms(cleaned: str) -> list[str]:
    return [" ".join(part.split()) for part in GLOSS.sub(" ", cleaned).split(";") if part.strip()]


def extract_entries(lines, held_out: set[str]) -> list[tuple[str, str]]:
    """(German, English) entry pairs in first-occurrence order, without duplicates."""
    pairs, seen = [], set()
    for line in lines:
        line = line.rstrip("\n")
        sides = line.split(" :: ")
        if line.startswith("#") or len(sides) != 2:
            continue
        german, english = [clean(text) for text in sides[0].split(" | ")], [clean(text) for text in sides[1].split(" | ")]
        if len(german) != len(english) or any(text in held_out for text in german + english):
            continue
        for de, en in zip(german, english):
            if SENTENCE_END.search(de) or SENTENCE_END.search(en):
                continue  # an example sentence: the sentence corpus's, or a held-out one's neighbour
            de_words, en_words = synonyms(de), synonyms(en)
            if not de_words or not en_words:
                continue
            for pair in [(word, en_words[0]) for word in de_words] + [(de_words[0], word) for word in en_words[1:]]:
                if pair not in seen:
                    seen.add(pair)
                    pairs.append(pair)
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dictionary", type=Path, help="usr/share/trans/de-en from trans-de-en")
    parser.add_argument("data_dir", type=Path, help="the folder with the splits (dev and test are held out)")
    args = parser.parse_args()
    held_out = set()
    for split in ("dev", "test"):
        for lang in ("de", "en"):
            path = args.data_dir / f"{split}.{lang}"
            if not path.is_file():
                sys.exit(f"extract_lexicon: {path} is missing; make the splits first (local/data.sh)")
            held_out.update(path.read_text(encoding="utf-8").splitlines())
    with args.dictionary.open(encoding="utf-8") as handle:
        pairs = extract_entries(handle, held_out)
    for index, lang in enumerate(("de", "en")):
        (args.data_dir / f"lexicon.{lang}.tmp").write_text("".join(pair[index] + "\n" for pair in pairs), encoding="utf-8")
    for lang in ("de", "en"):  # both written before either appears: a half-made lexicon is never found
        (args.data_dir / f"lexicon.{lang}.tmp").replace(args.data_dir / f"lexicon.{lang}")
    print(f"lexicon: {len(pairs)} entry pairs in {args.data_dir}/lexicon.{{de,en}}")


if __name__ == "__main__":
    main()
