#!/usr/bin/env python3
"""Monolingual English for back-translation: the Debian package descriptions without a German translation.

The English descriptions of the packages in `main` whose description has no German translation
(Translation-en less Translation-de): short descriptions and plain paragraphs, as the parallel
corpus takes them. (LibreOffice's English help has no page or element without a German version
in bookworm, so it adds nothing.) Lines are deduplicated, and any English sentence of the
parallel corpus (train, dev or test) is left out, so the text is new to the model and no dev or
test sentence reaches training. Writes OUT, one line each, shuffled with a fixed seed.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sources import description_english  # noqa: E402

MIN_WORDS, MAX_WORDS = 3, 100  # single words and menu labels teach little; the corpus's own limit
SHUFFLE_SEED = 1234


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lists", type=Path, help="apt lists folder holding the Translation-en/-de index files")
    parser.add_argument("data", type=Path, help="the parallel corpus's folder: its {train,dev,test}.en are left out")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    translation_en = sorted(args.lists.glob("*_main_i18n_Translation-en"))
    translation_de = sorted(args.lists.glob("*_main_i18n_Translation-de"))
    if not (translation_en and translation_de):
        sys.exit(f"monolingual: missing {args.lists}/*_main_i18n_Translation-{{en,de}}")
    parallel = {line for split in ("train", "dev", "test")
                for line in (args.data / f"{split}.en").read_text(encoding="utf-8").splitlines()}
    kept: list[str] = []
    seen: set[str] = set()
    read = 0
    for line in description_english(translation_en[0], translation_de[0]):
        read += 1
        if MIN_WORDS <= len(line.split()) <= MAX_WORDS and line not in parallel and line not in seen:
            seen.add(line)
            kept.append(line)
    random.Random(SHUFFLE_SEED).shuffle(kept)  # a prefix of the file is then a fair sample of it
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    tmp.replace(args.out)
    print(f"monolingual: {len(kept):,} English lines of {read:,} untranslated package descriptions -> {args.out}")


if __name__ == "__main__":
    main()
