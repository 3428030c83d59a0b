from __future__ import annotations

import json

import pytest

from nmt.config import CorpusConfig
from nmt.data import CleanStats, clean_pairs, read_corpus, read_plain, read_tsv, write_pairs
from nmt.errors import DataError


def test_plain_files_yield_aligned_pairs(tmp_path):
    (tmp_path / "a.de").write_text("eins\nzwei\n", encoding="utf-8")
    (tmp_path / "a.en").write_text("one\ntwo\n", encoding="utf-8")
    assert list(read_plain(tmp_path / "a.de", tmp_path / "a.en")) == [("eins", "one"), ("zwei", "two")]


def test_line_count_mismatch_names_both_files_and_counts(tmp_path):
    (tmp_path / "a.de").write_text("eins\nzwei\ndrei\n", encoding="utf-8")
    (tmp_path / "a.en").write_text("one\ntwo\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"line counts differ: .*a.de has 3 lines, .*a.en has 2"):
        list(read_plain(tmp_path / "a.de", tmp_path / "a.en"))


def test_invalid_utf8_names_file_and_line(tmp_path):
    (tmp_path / "a.de").write_bytes(b"eins\nzwei\n" + b"dr\xffei\n")
    (tmp_path / "a.en").write_text("one\ntwo\nthree\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"a.de line 3: invalid UTF-8 \(byte 0xff at column 3\)"):
        list(read_plain(tmp_path / "a.de", tmp_path / "a.en"))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match=r"file not found: .*missing.de"):
        list(read_plain(tmp_path / "missing.de", tmp_path / "missing.en"))


def test_unicode_line_separators_do_not_split_lines(tmp_path):
    (tmp_path / "a.de").write_text("a\u2028b\n", encoding="utf-8")
    (tmp_path / "a.en").write_text("c\n", encoding="utf-8")
    assert len(list(read_plain(tmp_path / "a.de", tmp_path / "a.en"))) == 1


def test_tsv_reads_pairs_and_names_a_bad_line(tmp_path):
    (tmp_path / "c.tsv").write_text("Hallo\tHello\n\nJa\tYes\tExtra\n", encoding="utf-8")
    rows = read_tsv(tmp_path / "c.tsv")
    assert next(rows) == ("Hallo", "Hello")
    assert next(rows) == ("", "")
    with pytest.raises(DataError, match=r"c.tsv line 3: expected 2 tab-separated fields \(source, target\), found 3"):
        next(rows)


def test_cleaning_counts_each_reason():
    pairs = [("a b", "x y"), ("  ", "x"), ("a " * 10, "x"), ("a", "x y z w"), ("a  b", "x\ty"), ("c", "z")]
    stats = CleanStats()
    kept = list(clean_pairs(pairs, stats, max_words=5, max_ratio=3.0, dedup=True))
    assert kept == [("a b", "x y"), ("c", "z")]
    assert stats.read == 6 and stats.kept == 2
    assert dict(stats.dropped) == {"empty": 1, "too_long": 1, "ratio": 1, "duplicate": 1}


def test_cleaning_without_limits_only_drops_empty_pairs():
    stats = CleanStats()
    kept = list(clean_pairs([("a " * 500, "b"), ("", "b"), ("c", "d"), ("c", "d")], stats))
    assert len(kept) == 3 and stats.dropped["empty"] == 1


def test_write_pairs_round_trips(tmp_path):
    assert write_pairs([("ä", "a"), ("ö", "o")], tmp_path / "x.src", tmp_path / "x.tgt") == 2
    assert list(read_plain(tmp_path / "x.src", tmp_path / "x.tgt")) == [("ä", "a"), ("ö", "o")]
    assert not list(tmp_path.glob("*.tmp"))


# ---- Hugging Face datasets on local files in the hub's schemas (the hub is out of reach here)

ROWS = [{"de": "Guten Morgen.", "en": "Good morning."}, {"de": "Danke.", "en": "Thank you."}]


def test_hf_jsonl_with_translation_column(tmp_path):
    path = tmp_path / "wmt.jsonl"
    path.write_text("".join(json.dumps({"translation": row}) + "\n" for row in ROWS), encoding="utf-8")
    corpus = CorpusConfig(format="hf", path=str(path))
    assert list(read_corpus(corpus, src_lang="de", tgt_lang="en")) == [(r["de"], r["en"]) for r in ROWS]
    assert list(read_corpus(corpus, src_lang="en", tgt_lang="de"))[0] == ("Good morning.", "Guten Morgen.")


def test_hf_csv_with_two_named_columns(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text('de,en\n"Guten Morgen.","Good morning."\nDanke.,Thank you.\n', encoding="utf-8")
    corpus = CorpusConfig(format="hf", path=str(path), src_column="de", tgt_column="en")
    assert list(read_corpus(corpus, src_lang="x", tgt_lang="y")) == [(r["de"], r["en"]) for r in ROWS]


def test_hf_parquet(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "pairs.parquet"
    pq.write_table(pa.table({"translation": ROWS}), path)
    corpus = CorpusConfig(format="hf", path=str(path))
    assert list(read_corpus(corpus, src_lang="de", tgt_lang="en"))[1] == ("Danke.", "Thank you.")


def test_hf_missing_column_lists_the_columns(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps({"source": "a", "target": "b"}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"has no column 'translation' \(columns: source, target\)"):
        list(read_corpus(CorpusConfig(format="hf", path=str(path)), src_lang="de", tgt_lang="en"))


def test_hf_translation_without_the_language_names_the_row(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps({"translation": {"de": "a", "fr": "b"}}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"row 0: 'translation' lacks 'de' or 'en' \(has: de, fr\)"):
        list(read_corpus(CorpusConfig(format="hf", path=str(path)), src_lang="de", tgt_lang="en"))


def test_hf_unknown_local_file_type(tmp_path):
    path = tmp_path / "pairs.xml"
    path.write_text("<x/>", encoding="utf-8")
    with pytest.raises(DataError, match=r"unknown file type '.xml'"):
        list(read_corpus(CorpusConfig(format="hf", path=str(path)), src_lang="de", tgt_lang="en"))


def test_hf_hub_connection_error_is_one_line(monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'wmt/wmt14' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    corpus = CorpusConfig(format="hf", path="wmt/wmt14", name="de-en", split="validation")
    with pytest.raises(DataError, match=r"cannot load Hugging Face dataset 'wmt/wmt14': the Hugging Face hub is unreachable"):
        list(read_corpus(corpus, src_lang="de", tgt_lang="en"))


def test_the_control_character_pattern_is_unicodes_category_cc():
    import sys
    import unicodedata

    from nmt.data import CONTROL, clean_text

    chars = (chr(i) for i in range(sys.maxunicode + 1))
    assert {c for c in chars if unicodedata.category(c) == "Cc"} == {chr(i) for i in range(0x110000) if CONTROL.match(chr(i))}
    assert clean_text("a\x00b\tc\x85d  e\u2028") == "a b c d e"  # U+2028 is white space, not Cc
