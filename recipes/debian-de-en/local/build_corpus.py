#!/usr/bin/env python3
"""Assemble the Debian German-English corpus from unpacked packages and apt index files.

Sources, in order of precedence when a pair occurs in several: Ding example sentences,
LibreOffice help, Debian package descriptions, LibreOffice user interface. Pairs are
de-duplicated across sources and split by a stable hash of the English side (so one English
sentence with several German versions never crosses splits): about 1 % test, 1 % dev.
Writes OUT/{train,dev,test}.{de,en} and OUT/{split}.origin (the source of each pair), and
OUT/test.tagged.{de,en}: the LibreOffice help pairs of the test split with their inline markup
(`nmt-translate --tags`' test set).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "lib"))  # the Ding reader, shared with the Ding recipe

from extract_ding import extract_pairs  # noqa: E402
from sources import description_pairs, libreoffice_help_pairs, ui_pairs  # noqa: E402

SPLITS = ("train", "dev", "test")


def split_of(english: str, held_out: float) -> str:
    """test, dev or train, from the English side alone: stable across runs and machines."""
    fraction = int.from_bytes(hashlib.sha256(english.encode("utf-8")).digest()[:8], "big") / 2**64
    if fraction < held_out:
        return "test"
    if fraction < 2 * held_out:
        return "dev"
    return "train"


def assemble(sources: dict[str, object], held_out: float) -> tuple[dict[str, list], dict[str, dict[str, int]]]:
    """{split: [(de, en, source)]} and {source: {extracted, kept, train, dev, test}}."""
    seen: set[tuple[str, str]] = set()
    splits: dict[str, list] = {split: [] for split in SPLITS}
    counts: dict[str, dict[str, int]] = {}
    for name, pairs in sources.items():
        count = counts[name] = {"extracted": 0, "kept": 0, **{split: 0 for split in SPLITS}}
        for de, en in pairs:
            count["extracted"] += 1
            if (de, en) in seen:
                continue
            seen.add((de, en))
            split = split_of(en, held_out)
            splits[split].append((de, en, name))
            count["kept"] += 1
            count[split] += 1
    return splits, counts


def write_splits(splits: dict[str, list], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for split, rows in splits.items():
        for column, suffix in enumerate(("de", "en", "origin")):
            temporary = out / f"{split}.{suffix}.tmp"
            temporary.write_text("".join(row[column] + "\n" for row in rows), encoding="utf-8")
            temporary.replace(out / f"{split}.{suffix}")


def write_tagged(marked: list, test: list, out: Path) -> int:
    """The test split's LibreOffice help pairs whose two sides carry the same inline tags, tagged
    (`marked`: what libreoffice_help_pairs collected while the corpus was read)."""
    wanted = {(de, en) for de, en, origin in test if origin == "libreoffice-help"}
    rows, seen = [], set()
    for plain, tagged in marked:
        if plain in wanted and tagged not in seen:
            seen.add(tagged)
            rows.append(tagged)
    for column, suffix in enumerate(("de", "en")):
        (out / f"test.tagged.{suffix}").write_text("".join(row[column] + "\n" for row in rows), encoding="utf-8")
    return len(rows)


def format_counts(counts: dict[str, dict[str, int]]) -> str:
    header = f"{'source':<22}{'extracted':>10}{'kept':>9}{'train':>9}{'dev':>7}{'test':>7}"
    lines = [header]
    for name, count in [*counts.items(), ("all", {k: sum(c[k] for c in counts.values()) for k in header.split()[1:]})]:
        lines.append(f"{name:<22}{count['extracted']:>10,}{count['kept']:>9,}{count['train']:>9,}"
                     f"{count['dev']:>7,}{count['test']:>7,}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="where the packages were unpacked (dpkg -x)")
    parser.add_argument("lists", type=Path, help="apt lists folder holding the Translation-en/-de index files")
    parser.add_argument("out", type=Path)
    parser.add_argument("--held-out", type=float, default=0.01, help="fraction for test, and again for dev")
    args = parser.parse_args()

    ding = args.root / "usr/share/trans/de-en"
    help_root = args.root / "usr/share/libreoffice/help"
    catalogues = args.root / "usr/lib/libreoffice/program/resource/de/LC_MESSAGES"
    translation_en = sorted(args.lists.glob("*_main_i18n_Translation-en"))
    translation_de = sorted(args.lists.glob("*_main_i18n_Translation-de"))
    missing = [str(p) for p in (ding, help_root / "en-US", help_root / "de", catalogues) if not p.is_dir() and not p.is_file()]
    if not translation_en or not translation_de:
        missing.append(f"{args.lists}/*_main_i18n_Translation-{{en,de}}")
    if missing:
        sys.exit(f"build_corpus: missing {', '.join(missing)}")

    with ding.open(encoding="utf-8") as handle:
        ding_pairs = extract_pairs(handle)
    marked: list = []  # the help pairs with inline markup, collected as the help pages are read
    sources = {
        "ding": ding_pairs,
        "libreoffice-help": libreoffice_help_pairs(help_root / "en-US", help_root / "de", marked),
        "package-descriptions": description_pairs(translation_en[0], translation_de[0]),
        "libreoffice-ui": ui_pairs(catalogues),
    }
    splits, counts = assemble(sources, args.held_out)
    write_splits(splits, args.out)
    tagged = write_tagged(marked, splits["test"], args.out)
    print(format_counts(counts))
    print(f"data: {tagged:,} test pairs with inline tags in {args.out}/test.tagged.{{de,en}}")
    print(f"data: {sum(len(rows) for rows in splits.values()):,} pairs in {args.out}")


if __name__ == "__main__":
    main()
