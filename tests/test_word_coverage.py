"""tools/word_coverage.py: the share of test words that training never shows, and what another corpus holds."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "tools"))
import word_coverage  # noqa: E402


def test_unseen_and_rare_words_are_counted_over_the_test_words():
    train = ["Der Hund bellt.", "Der Hund schläft.", "Der Hund frisst.", "die Katze"]
    test = ["Der Vogel singt.", "Der Hund schläft."]  # 6 words: vogel, singt unseen; schläft once; der, hund 3 times
    found = word_coverage.coverage(word_coverage.counts(train), test, extra=["Vogel :: bird"])
    assert found["unseen"] == pytest.approx(2 / 6)
    assert found["rare"] == pytest.approx(3 / 6)  # the two unseen and schläft
    assert found["sentences_with_unseen"] == pytest.approx(1 / 2)
    assert found["unseen_in_extra"] == pytest.approx(1 / 2)  # vogel, not singt


def test_the_command_prints_the_shares_and_a_missing_file_is_one_line(tmp_path):
    (tmp_path / "train.de").write_text("ein Haus\n", encoding="utf-8")
    (tmp_path / "test.de").write_text("ein Baum\n", encoding="utf-8")
    script = REPO / "tools" / "word_coverage.py"
    ok = subprocess.run([sys.executable, str(script), "--train", str(tmp_path / "train.de"), "--test",
                         str(tmp_path / "test.de")], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "50.0% of the words never in" in ok.stdout and "100.0% of the sentences" in ok.stdout
    missing = subprocess.run([sys.executable, str(script), "--train", str(tmp_path / "nope.de"), "--test",
                              str(tmp_path / "test.de")], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "nope.de: no such file" in missing.stderr and "Traceback" not in missing.stderr


def test_bleu_is_split_between_sentences_with_and_without_an_unseen_word():
    train = ["ein Haus", "ein Baum"]
    test = ["ein Haus", "ein Vogel", "ein Baum"]
    references = ["a house stands there", "a bird sings there", "a tree stands there"]
    hypotheses = ["a house stands there", "a dog barks", "a tree stands there"]
    split = word_coverage.split_bleu(word_coverage.counts(train), test, hypotheses, references)
    assert split["without"] == (2, pytest.approx(100.0))  # both known sentences translated exactly
    assert split["with an unseen word"][0] == 1 and split["with an unseen word"][1] < 50
    with pytest.raises(word_coverage.NmtError, match="2 hypotheses"):
        word_coverage.split_bleu(word_coverage.counts(train), test, hypotheses[:2], references)


def test_unseen_words_that_stand_as_they_are_in_the_reference_are_counted():
    train = ["ein Haus", "ein Baum"]
    test = ["Alaska ein Vogel", "ein Haus 1956"]  # unseen: alaska, vogel, 1956
    references = ["Alaska, a bird", "a house in 1956"]
    assert word_coverage.copyable(word_coverage.counts(train), test, references) == (2, 3)
