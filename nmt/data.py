"""Parallel corpus readers and cleaning.

Readers stream (source, target) pairs: from two aligned plain-text files, from a TSV
file, or through Hugging Face `datasets` (a hub name, or a local json/jsonl/csv/parquet
file in the hub's schema). Nothing here holds a whole corpus in memory.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Iterable, Iterator

from nmt.config import CorpusConfig
from nmt.errors import DataError, gist

Pair = tuple[str, str]

DROP_REASONS = ("empty", "too_long", "ratio", "duplicate")
_LOCAL_BUILDERS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet"}


def read_lines(path: str | Path) -> Iterator[str]:
    """Yield the lines of a UTF-8 file without their line ends; bad bytes name file and line."""
    path = Path(path)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise DataError(f"data: file not found: {path}") from None
    except OSError as err:
        raise DataError(f"data: cannot read {path}: {err.strerror}") from None
    with handle:
        # Split on b"\n" only: str.splitlines would also split on U+2028 and friends.
        for lineno, raw in enumerate(handle, start=1):
            try:
                yield raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as err:
                raise DataError(
                    f"data: {path} line {lineno}: invalid UTF-8 (byte 0x{raw[err.start]:02x} at column {err.start + 1})"
                ) from None


def read_plain(src_path: str | Path, tgt_path: str | Path) -> Iterator[Pair]:
    """Pairs from two line-aligned files; different line counts are an error naming both."""
    src_lines, tgt_lines = read_lines(src_path), read_lines(tgt_path)
    for count, (src, tgt) in enumerate(zip_longest(src_lines, tgt_lines)):
        if src is None or tgt is None:
            n_src = count + (src is not None) + sum(1 for _ in src_lines)
            n_tgt = count + (tgt is not None) + sum(1 for _ in tgt_lines)
            raise DataError(
                f"data: line counts differ: {src_path} has {n_src} lines, {tgt_path} has {n_tgt}"
            )
        yield src, tgt


def read_tsv(path: str | Path) -> Iterator[Pair]:
    """Pairs from `source<TAB>target` lines."""
    for lineno, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            yield "", ""
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise DataError(
                f"data: {path} line {lineno}: expected 2 tab-separated fields (source, target), found {len(fields)}"
            )
        yield fields[0], fields[1]


def _load_hf_dataset(corpus: CorpusConfig):
    import datasets  # slow to import: only for corpora that need it

    local = Path(corpus.path)
    what = f"Hugging Face dataset '{corpus.path}'"
    try:
        if local.is_file():
            builder = _LOCAL_BUILDERS.get(local.suffix.lower())
            if builder is None:
                raise DataError(
                    f"data: {local}: unknown file type '{local.suffix}' (expected one of {', '.join(_LOCAL_BUILDERS)})"
                )
            return datasets.load_dataset(builder, data_files=str(local), split="train")
        if local.is_dir():  # a local copy in the hub's layout (train.jsonl, validation.parquet, ...)
            return datasets.load_dataset(str(local), split=corpus.split)
        return datasets.load_dataset(corpus.path, corpus.name, split=corpus.split)
    except DataError:
        raise
    except ConnectionError:
        raise DataError(f"data: cannot load {what}: the Hugging Face hub is unreachable (offline?)") from None
    except Exception as err:  # datasets raises many types for a bad name, config or split
        first_line = gist(err)
        if "connect" in first_line.lower() or "offline" in first_line.lower():
            first_line = "the Hugging Face hub is unreachable (offline?)"
        raise DataError(
            f"data: cannot load {what} (config {corpus.name!r}, split {corpus.split!r}): {first_line}"
        ) from None


def read_hf(corpus: CorpusConfig, *, src_lang: str, tgt_lang: str) -> Iterator[Pair]:
    """Pairs from a `datasets` dataset: a `translation` dict column, or two named columns."""
    dataset = _load_hf_dataset(corpus)
    columns = dataset.column_names
    wanted = [corpus.src_column, corpus.tgt_column] if corpus.src_column else ["translation"]
    for column in wanted:
        if column not in columns:
            raise DataError(
                f"data: {corpus.path} has no column '{column}' (columns: {', '.join(columns)})"
            )
    row = 0
    for chunk in dataset.iter(batch_size=1000):
        if corpus.src_column:
            yield from zip(chunk[corpus.src_column], chunk[corpus.tgt_column])
            continue
        for entry in chunk["translation"]:
            if not isinstance(entry, dict) or src_lang not in entry or tgt_lang not in entry:
                keys = ", ".join(entry) if isinstance(entry, dict) else type(entry).__name__
                raise DataError(
                    f"data: {corpus.path} row {row}: 'translation' lacks '{src_lang}' or '{tgt_lang}' (has: {keys})"
                )
            yield entry[src_lang], entry[tgt_lang]
            row += 1


def read_corpus(corpus: CorpusConfig, *, src_lang: str, tgt_lang: str) -> Iterator[Pair]:
    if corpus.format == "plain":
        return read_plain(corpus.src, corpus.tgt)
    if corpus.format == "tsv":
        return read_tsv(corpus.path)
    return read_hf(corpus, src_lang=src_lang, tgt_lang=tgt_lang)


@dataclass
class CleanStats:
    read: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)

    @classmethod
    def total(cls, parts: Iterable[CleanStats]) -> CleanStats:
        total = cls()
        for part in parts:
            total.read, total.kept = total.read + part.read, total.kept + part.kept
            total.dropped.update(part.dropped)
        return total

    def describe(self) -> str:
        reasons = ", ".join(f"{self.dropped[r]} {r.replace('_', ' ')}" for r in DROP_REASONS)
        return f"{self.kept} kept of {self.read} read (dropped: {reasons})"

    def to_dict(self) -> dict:
        return {"read": self.read, "kept": self.kept, "dropped": {r: self.dropped[r] for r in DROP_REASONS}}


def clean_pairs(
    pairs: Iterable[Pair],
    stats: CleanStats,
    *,
    max_words: int | None = None,
    max_ratio: float | None = None,
    dedup: bool = False,
) -> Iterator[Pair]:
    """Squeeze white space and drop empty, over-long, badly proportioned or repeated pairs.

    Counts go into `stats` as the stream is consumed. Lengths are in white-space words.
    """
    seen: set[bytes] = set()
    for src, tgt in pairs:
        stats.read += 1
        src, tgt = " ".join(str(src).split()), " ".join(str(tgt).split())
        if not src or not tgt:
            stats.dropped["empty"] += 1
            continue
        n_src, n_tgt = src.count(" ") + 1, tgt.count(" ") + 1
        if max_words is not None and max(n_src, n_tgt) > max_words:
            stats.dropped["too_long"] += 1
            continue
        if max_ratio is not None and max(n_src, n_tgt) > max_ratio * min(n_src, n_tgt):
            stats.dropped["ratio"] += 1
            continue
        if dedup:
            # An 8-byte digest per pair keeps the set small for large corpora.
            key = hashlib.blake2b(f"{src}\t{tgt}".encode(), digest_size=8).digest()
            if key in seen:
                stats.dropped["duplicate"] += 1
                continue
            seen.add(key)
        stats.kept += 1
        yield src, tgt


def write_pairs(pairs: Iterable[Pair], src_path: Path, tgt_path: Path) -> int:
    """Write pairs to two line-aligned files, atomically (temporary names, then rename); returns how many."""
    src_tmp, tgt_tmp = src_path.with_name(src_path.name + ".tmp"), tgt_path.with_name(tgt_path.name + ".tmp")
    count = 0
    try:
        with src_tmp.open("w", encoding="utf-8") as src_out, tgt_tmp.open("w", encoding="utf-8") as tgt_out:
            for src, tgt in pairs:
                src_out.write(src + "\n")
                tgt_out.write(tgt + "\n")
                count += 1
    except BaseException:
        src_tmp.unlink(missing_ok=True)
        tgt_tmp.unlink(missing_ok=True)
        raise
    src_tmp.replace(src_path)
    tgt_tmp.replace(tgt_path)
    return count


# Unicode's control characters (category Cc) are exactly these two ranges; a regex finds them in C.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def clean_text(text: str) -> str:
    """Control characters become spaces and white space is squeezed (nmt-translate and nmt-serve alike)."""
    return " ".join(CONTROL.sub(" ", text).split())
