#!/usr/bin/env python3
"""The image-to-LaTeX corpus (Deng et al. 2017's task) from real formulas: the math of Debian's TeX
documentation (.tex and LyX sources) and of scientific-Python docstrings (:math: and .. math::),
normalised into space-separated LaTeX tokens, deduplicated, kept where matplotlib's mathtext can
draw them, and rendered on a fixed white canvas.

Split by source document (a document's formulas all go to one split, so a test formula never
comes from a document seen in training; a test or dev formula also written in a training document
is dropped). A training formula is drawn in each training font set, and `--variants` times more with
its letters and digits replaced at random (so reading pays more than remembering); a dev or test
formula in one of the font sets; the test formulas once more in a font set training never sees (the
style test). Writes OUT/images/*.png and OUT/{train,dev,test,test_style}.tsv (image path TAB
normalised LaTeX).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import logging
import re
import sys
import warnings
from pathlib import Path

TOKEN = re.compile(r"\\[A-Za-z]+|\\.|[^\s]")
TEXT_GROUPS = re.compile(r"\\(?:mathrm|text|textrm|mathit|operatorname|mathbf|mathsf|mathtt)\s*\{[^{}]*\}")
FONT_SETS = ["cm", "stix", "dejavusans"]  # the training styles
HELD_OUT_FONT = "dejavuserif"  # the style test's
MAX_TOKENS = 40
SOURCES = {  # what marks math in each kind of document
    "tex": [re.compile(r"(?<![\\$])\$([^$]{1,300}?)\$(?!\$)"), re.compile(r"\\\[(.{1,300}?)\\\]", re.S),
            re.compile(r"\\begin\{(?:equation|displaymath)\*?\}(.{1,300}?)\\end\{(?:equation|displaymath)", re.S)],
    "lyx": [re.compile(r"\\begin_inset Formula \$(.{1,300}?)\$\s*\n\\end_inset", re.S)],
    "py": [re.compile(r":math:`([^`]{1,300})`"), re.compile(r"\.\. math::\s*\n((?:[ \t]*\n|[ \t]+\S.*\n)+)")],
}


def normalise(formula: str, *, escaped: bool = False) -> str:
    """LaTeX as space-separated tokens (a command, an escaped character, or one character); text mode
    becomes \\mathrm, where the spaces between the tokens are not drawn. `escaped`: a Python string's
    source, where a backslash may be written twice."""
    tokens = TOKEN.findall(formula.replace("\\\\", "\\") if escaped else formula)
    return " ".join("\\mathrm" if token in ("\\text", "\\textrm", "\\mbox") else token for token in tokens)


def looks_like_math(tokens: str) -> bool:
    """Not prose caught between two dollar signs, not a lone symbol, nothing mathtext cannot take."""
    count = len(tokens.split())
    if not 3 <= count <= MAX_TOKENS or not tokens.isascii():
        return False
    bare = TEXT_GROUPS.sub("", tokens.replace(" ", ""))
    bare = re.sub(r"\\[A-Za-z]+", "", bare)
    return re.search(r"[A-Za-z]{4,}", bare) is None and not re.search(r"\\(?:begin|end|label|ref|cite|def|newcommand)\b",
                                                                       tokens)


def read_document(path: Path) -> str:
    data = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    return data.decode("utf-8", errors="replace")


def documents(tex_root: Path | None, python_roots: list[Path]):
    """(document name, its kind) of every source, sorted: the split must not depend on the walk."""
    found = []
    if tex_root is not None:
        for pattern, kind in (("*.tex", "tex"), ("*.tex.gz", "tex"), ("*.lyx", "lyx")):
            found += [(path, kind) for path in tex_root.rglob(pattern)]
    for root in python_roots:
        found += [(path, "py") for path in root.rglob("*.py")]
    return sorted(found)


def split_of(name: str) -> str:
    bucket = int(hashlib.sha1(name.encode()).hexdigest(), 16) % 10
    return "test" if bucket == 0 else "dev" if bucket == 1 else "train"


def mathtext_source(tokens: str) -> str:
    """The tokens as mathtext reads them: joined, with a space only where a command would otherwise
    run into the letter after it. (Mathtext takes `C _ { o u t }` for C followed by "out" on the
    baseline: spaced tokens lose every subscript and superscript.)"""
    out: list[str] = []
    for token in tokens.split():
        if out and re.fullmatch(r"\\[A-Za-z]+", out[-1]) and token[0].isalpha():
            out.append(" ")
        out.append("\\ " if token == "\\" else token)  # a lone backslash: the escaped space its split left
    return "".join(out)


def substituted(tokens: str, seed: int) -> str:
    """The formula with each letter and digit replaced at random (a letter by one of its case): the same
    layout with symbols no document wrote together, so what a model draws from them it has to read."""
    import random

    draw = random.Random(seed)
    letters = {True: "ABCDEFGHIJKLMNOPQRSTUVWXYZ", False: "abcdefghijklmnopqrstuvwxyz"}

    def replace(token: str) -> str:
        if len(token) == 1 and token.isascii() and token.isalpha():
            return draw.choice(letters[token.isupper()])
        return draw.choice("0123456789") if len(token) == 1 and token.isdigit() else token

    return " ".join(replace(token) for token in tokens.split())


# Tokens that shape a formula rather than draw a symbol of their own
LAYOUT = {"{", "}", "_", "^", "\\frac", "\\dfrac", "\\sqrt", "\\left", "\\right", "\\", "\\,", "\\:", "\\;",
          "\\!", "\\ ", "~"}


def symbol_weights(formulas: list[str]) -> dict[str, float]:
    """Every token of the training formulas that mathtext draws alone, weighted by the square root of
    its count: rare symbols come up more often than in the documents, so each is seen drawn."""
    from collections import Counter

    counts = Counter(token for tokens in formulas for token in tokens.split() if token not in LAYOUT)
    return {token: count ** 0.5 for token, count in sorted(counts.items()) if drawable(token)}


def random_formula(symbols: dict[str, float], seed: int) -> str:
    """A formula no document wrote: 1 to 12 symbols drawn by `symbols`' weights, some with a subscript
    or superscript, a fraction or a root. Its tokens cannot be guessed from the ones before: a model
    has to read every one (the real formulas' language lets a decoder score well without looking)."""
    import random

    draw = random.Random(seed)
    names, weights = list(symbols), list(symbols.values())

    def run(low: int, high: int) -> list[str]:
        return draw.choices(names, weights, k=draw.randint(low, high))

    tokens: list[str] = []
    for symbol in run(1, 12):
        roll = draw.random()
        if roll < 0.04:
            tokens += ["\\frac", "{", *run(1, 3), "}", "{", *run(1, 3), "}"]
        elif roll < 0.07:
            tokens += ["\\sqrt", "{", *run(1, 3), "}"]
        else:
            tokens.append(symbol)
            if roll > 0.88:
                tokens += ["_", "{", *run(1, 3), "}"]
            elif roll > 0.78:
                tokens += ["^", "{", *run(1, 2), "}"]
    return " ".join(tokens)


def font_of(tokens: str) -> str:
    """The training font a dev or test formula is drawn in (one of them, by its tokens' hash)."""
    return FONT_SETS[int(hashlib.sha1(tokens.encode()).hexdigest(), 16) % len(FONT_SETS)]


def drawable(tokens: str) -> bool:
    from matplotlib.mathtext import MathTextParser

    try:
        MathTextParser("path").parse(f"${mathtext_source(tokens)}$")
        return True
    except Exception:  # mathtext's parse errors are of several kinds; a formula it cannot draw is left out
        return False


def render(tokens: str, font: str, height: int, width: int) -> bytes:
    """The formula in `font` on a white height x width canvas, left-aligned and centred vertically,
    shrunk (never enlarged) to fit."""
    from matplotlib import mathtext
    from matplotlib.font_manager import FontProperties
    from PIL import Image, ImageOps

    buffer = io.BytesIO()
    mathtext.math_to_image(f"${mathtext_source(tokens)}$", buffer, prop=FontProperties(size=12, math_fontfamily=font), dpi=150,
                           format="png")
    drawn = Image.open(io.BytesIO(buffer.getvalue())).convert("L")
    box = ImageOps.invert(drawn).getbbox() or (0, 0, 1, 1)
    drawn = drawn.crop(box)
    scale = min(1.0, (width - 8) / drawn.width, (height - 8) / drawn.height)
    if scale < 1.0:
        drawn = drawn.resize((max(1, round(drawn.width * scale)), max(1, round(drawn.height * scale))),
                             Image.Resampling.LANCZOS)
    canvas = Image.new("L", (width, height), 255)
    canvas.paste(drawn, (4, (height - drawn.height) // 2))
    out = io.BytesIO()
    canvas.save(out, format="PNG")
    return out.getvalue()


def render_or_none(job: tuple[str, str, int, int]) -> bytes | None:
    try:
        return render(*job)
    except ValueError:  # drawn empty, or two tokens that mathtext reads as one command
        return None


def random_rows(formulas: list[str], args: argparse.Namespace) -> list[str]:
    """`args.random` random formulas over the training formulas' symbols, drawn on all cores."""
    from multiprocessing import Pool

    symbols = symbol_weights(formulas)
    jobs = [(random_formula(symbols, index), FONT_SETS[index % len(FONT_SETS)], args.height, args.width)
            for index in range(args.random)]
    rows = []
    with Pool() as pool:
        for index, ((tokens, font, _, _), drawn) in enumerate(zip(jobs, pool.imap(render_or_none, jobs, chunksize=64))):
            if drawn is not None:
                name = f"images/random{index}-{font}.png"
                (args.out / name).write_bytes(drawn)
                rows.append(f"{name}\t{tokens}\n")
    return rows


def main() -> None:
    logging.getLogger("matplotlib.mathtext").setLevel(logging.ERROR)  # a glyph a font lacks: drawn as a box
    warnings.filterwarnings("ignore", category=RuntimeWarning)  # mathtext's empty-box division
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tex", type=Path, help="a folder of TeX documentation (.tex, .tex.gz, .lyx), searched whole")
    parser.add_argument("--python", type=Path, action="append", default=[], help="a package folder of .py files")
    parser.add_argument("--height", type=int, default=64)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--variants", type=int, default=3,
                        help="training formulas also drawn this many times with their letters and digits replaced")
    parser.add_argument("--random", type=int, default=20000,
                        help="training images of random formulas over the training symbols (each in one font set)")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    first_seen: dict[str, tuple[str, str]] = {}  # formula -> (its first document, that document's split)
    in_training: set[str] = set()
    for path, kind in documents(args.tex, args.python):
        name = str(path)
        text = read_document(path)
        for pattern in SOURCES[kind]:
            for found in pattern.findall(text):
                tokens = normalise(" ".join(found.split()), escaped=kind == "py")
                if split_of(name) == "train":
                    in_training.add(tokens)
                first_seen.setdefault(tokens, (name, split_of(name)))
    kept = {split: [] for split in ("train", "dev", "test")}
    for tokens, (_, split) in sorted(first_seen.items()):
        if split != "train" and tokens in in_training:
            continue  # also in a training document: not unseen
        if looks_like_math(tokens) and drawable(tokens):
            kept[split].append(tokens)
    (args.out / "images").mkdir(parents=True, exist_ok=True)
    for split, formulas in kept.items():
        rows, style_rows, drawn_formulas = [], [], []
        for index, tokens in enumerate(formulas):
            fonts = FONT_SETS if split == "train" else [font_of(tokens)] + ([HELD_OUT_FONT] if split == "test" else [])
            try:  # a formula of spacing alone parses but has nothing to draw
                images = {font: render(tokens, font, args.height, args.width) for font in fonts}
            except ValueError:
                continue
            drawn_formulas.append(tokens)
            for font, data in images.items():
                name = f"images/{'style' if font == HELD_OUT_FONT else split}{index}{'-' + font if split == 'train' else ''}.png"
                (args.out / name).write_bytes(data)
                (style_rows if font == HELD_OUT_FONT else rows).append(f"{name}\t{tokens}\n")
            for variant in range(args.variants if split == "train" else 0):
                seed = int(hashlib.sha1(f"{tokens}\t{variant}".encode()).hexdigest(), 16)
                other, font = substituted(tokens, seed), FONT_SETS[seed % len(FONT_SETS)]
                try:
                    drawn = render(other, font, args.height, args.width)
                except ValueError:  # a letter that made a command with the one before it (\, then i: \i)
                    continue
                name = f"images/train{index}-v{variant}-{font}.png"
                (args.out / name).write_bytes(drawn)
                rows.append(f"{name}\t{other}\n")
        kept[split] = drawn_formulas
        if split == "train":
            rows += random_rows(drawn_formulas, args)
        (args.out / f"{split}.tsv").write_text("".join(rows), encoding="utf-8")
        if split == "test":
            (args.out / "test_style.tsv").write_text("".join(style_rows), encoding="utf-8")
    print(f"im2latex: {sum(map(len, kept.values())):,} formulas from {len({n for n, _ in first_seen.values()}):,} "
          f"documents: train {len(kept['train']):,}, dev {len(kept['dev']):,}, test {len(kept['test']):,} "
          f"(held-out documents; training formulas in {len(FONT_SETS)} font sets and {args.variants} with other "
          f"letters and digits, and {args.random:,} random formulas; the test again in {HELD_OUT_FONT})")
    if not kept["test"]:
        sys.exit("im2latex: no test formula: are the TeX documentation packages there?")


if __name__ == "__main__":
    main()
