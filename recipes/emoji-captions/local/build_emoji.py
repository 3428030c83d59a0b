#!/usr/bin/env python3
"""The emoji captioning corpus: each emoji drawn by three vendors (Noto Color Emoji's own bitmaps,
Twemoji's and OpenMoji's SVGs rasterised), with its Unicode CLDR names in English and German as
captions ("woman scientist: medium skin tone" / "Wissenschaftlerin: mittlere Hautfarbe"). Only
emoji that all three draw and CLDR names in both languages are kept.

Split by unseen combinations: of the emoji drawn in all five skin tones, each base holds out one
tone for test and another for dev (rotating over the bases), so every test word is seen in
training (the base with other tones, the tone with other bases) but never together. Everything
else is training data. Writes OUT/images/{noto,twemoji,openmoji}/<code points>.png and, per
language L:
  {train,dev,test}.L.tsv                 Noto only
  {train,dev,test}_2styles.L.tsv         Noto and Twemoji
  test_openmoji.L.tsv                    the unseen style: OpenMoji's drawings of the training emoji
  dev_openmoji.L.tsv                     OpenMoji's drawings of the dev emoji (the style's dev set)
  names.L.txt                            every kept emoji's name, one a line (decode.closed_list)
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

TONES = [chr(c) for c in range(0x1F3FB, 0x1F400)]  # light ... dark skin tone modifiers
VARIATION = "\ufe0f"  # emoji presentation; CLDR keys and fonts differ in where they keep it


def read_names(cldr: Path, lang: str) -> dict[str, str]:
    """Emoji (CLDR's code point strings) -> their short name (type="tts") in `lang`, derived names included."""
    names = {}
    for folder in ("annotations", "annotationsDerived"):
        path = cldr / "common" / folder / f"{lang}.xml"
        for item in ET.parse(path).getroot().iter("annotation"):
            if item.get("type") == "tts" and item.text and item.text.strip() != "↑↑↑":
                names[item.get("cp", "")] = item.text.strip()
    return names


def tone_of(emoji: str) -> tuple[str, str | None]:
    """(the emoji without its skin tone, the one tone it has); None where it has none or several."""
    present = [t for t in TONES if t in emoji]
    base = "".join(c for c in emoji if c not in TONES)
    return base, present[0] if len(present) == 1 and emoji.count(present[0]) == 1 else None


def split(emoji: list[str]) -> dict[str, str]:
    """emoji -> train, dev or test: one tone of each five-tone base for test, another for dev."""
    tones_of: dict[str, dict[str, str]] = {}
    for item in emoji:
        base, tone = tone_of(item)
        if tone is not None:
            tones_of.setdefault(base, {})[tone] = item
    chosen = {item: "train" for item in emoji}
    full = sorted(base for base, tones in tones_of.items() if len(tones) == len(TONES))
    for index, base in enumerate(full):
        chosen[tones_of[base][TONES[index % 5]]] = "test"
        chosen[tones_of[base][TONES[(index + 2) % 5]]] = "dev"
    return chosen


def font_images(font: Path):
    """emoji string -> PNG bytes, from the font's colour bitmaps (CBDT): single characters through its
    character map, sequences (ZWJ, tones, flags) through its ligatures."""
    from fontTools.ttLib import TTFont

    ttf = TTFont(str(font))
    cmap, strike = ttf.getBestCmap(), ttf["CBDT"].strikeData[0]
    ligatures = {}
    for lookup in ttf["GSUB"].table.LookupList.Lookup:
        for table in lookup.SubTable:
            table = getattr(table, "ExtSubTable", table)
            for first, items in getattr(table, "ligatures", {}).items():
                for ligature in items:
                    ligatures[(first, *ligature.Component)] = ligature.LigGlyph

    def png(emoji: str) -> bytes | None:
        for form in (emoji, emoji.replace(VARIATION, "")):
            glyphs = [cmap.get(ord(c)) for c in form]
            if None in glyphs:
                continue
            glyph = glyphs[0] if len(glyphs) == 1 else ligatures.get(tuple(glyphs))
            if glyph in strike:
                bitmap = strike[glyph]
                bitmap.decompile()
                return bitmap.imageData
        return None

    return png


def key(emoji: str) -> str:
    """The file name the vendors agree on: lower-case hex code points, joined by '-', without FE0F."""
    return "-".join(f"{ord(c):x}" for c in emoji if c != VARIATION)


def svg_files(folder: Path) -> dict[str, Path]:
    """key -> SVG file of a vendor's folder (Twemoji '23-20e3.svg', OpenMoji '0023-FE0F-20E3.svg')."""
    files = {}
    for path in folder.glob("*.svg"):
        try:
            files[key("".join(chr(int(part, 16)) for part in path.stem.split("-")))] = path
        except ValueError:
            continue  # a vendor's own drawing without a code point name
    return files


def write_tsv(path: Path, rows: list[tuple[str, str]]) -> None:
    path.write_text("".join(f"{image}\t{caption}\n" for image, caption in rows), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--font", type=Path, required=True, help="NotoColorEmoji.ttf")
    parser.add_argument("--twemoji", type=Path, required=True, help="the folder of Twemoji's SVGs (npm @twemoji/svg)")
    parser.add_argument("--openmoji", type=Path, required=True, help="the folder of OpenMoji's colour SVGs (npm openmoji)")
    parser.add_argument("--cldr", type=Path, required=True, help="the CLDR folder holding common/annotations")
    parser.add_argument("--size", type=int, default=128, help="pixels a side of the rasterised SVGs")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    from nmt.captioning.data import rasterise_svg

    english, german = read_names(args.cldr, "en"), read_names(args.cldr, "de")
    png = font_images(args.font)
    drawn = {"twemoji": svg_files(args.twemoji), "openmoji": svg_files(args.openmoji)}
    for style in ("noto", *drawn):
        (args.out / "images" / style).mkdir(parents=True, exist_ok=True)
    kept = []
    for emoji in sorted(set(english) & set(german)):
        name = key(emoji)
        data = png(emoji) if all(name in files for files in drawn.values()) else None
        if data is None:
            continue  # a symbol with a name that a vendor does not draw (punctuation, letters, new emoji)
        (args.out / "images" / "noto" / f"{name}.png").write_bytes(data)
        for style, files in drawn.items():
            (args.out / "images" / style / f"{name}.png").write_bytes(rasterise_svg(files[name], args.size, args.size))
        kept.append((emoji, name))
    splits = split([emoji for emoji, _ in kept])
    for lang, names in (("en", english), ("de", german)):
        for part in ("train", "dev", "test"):
            chosen = [(name, names[emoji]) for emoji, name in kept if splits[emoji] == part]
            write_tsv(args.out / f"{part}.{lang}.tsv", [(f"images/noto/{n}.png", c) for n, c in chosen])
            write_tsv(args.out / f"{part}_2styles.{lang}.tsv",
                      [(f"images/{style}/{n}.png", c) for n, c in chosen for style in ("noto", "twemoji")])
            if part == "train":
                write_tsv(args.out / f"test_openmoji.{lang}.tsv", [(f"images/openmoji/{n}.png", c) for n, c in chosen])
            if part == "dev":  # the unseen style's dev set: no test emoji, no training combination
                write_tsv(args.out / f"dev_openmoji.{lang}.tsv", [(f"images/openmoji/{n}.png", c) for n, c in chosen])
        (args.out / f"names.{lang}.txt").write_text("".join(f"{names[emoji]}\n" for emoji, _ in kept), encoding="utf-8")
    counts = {part: sum(1 for v in splits.values() if v == part) for part in ("train", "dev", "test")}
    print(f"emoji: {len(kept):,} emoji drawn by Noto, Twemoji and OpenMoji with English and German names "
          f"({3 * len(kept):,} images); train {counts['train']:,}, dev {counts['dev']:,}, test {counts['test']:,} "
          f"(unseen tone combinations) in each style")
    if not counts["test"]:
        sys.exit("emoji: no emoji in all five skin tones: is this the Noto Color Emoji font?")


if __name__ == "__main__":
    main()
