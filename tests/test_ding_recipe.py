"""The Ding data stage: dictionary lines -> sentence pairs -> the fixed 1,000/1,000/rest split."""

from __future__ import annotations

import importlib.util
import random
import subprocess
import sys

from conftest import REPO

SCRIPT = REPO / "recipes" / "ding-de-en" / "local" / "extract_ding.py"
spec = importlib.util.spec_from_file_location("extract_ding", SCRIPT)
extract_ding = importlib.util.module_from_spec(spec)
spec.loader.exec_module(extract_ding)

DICTIONARY = """\
# Version :: devel 2023-01-30
Haus {n} | Das Haus ist alt. :: house | The house is old.
Hund {m} | Der Hund bellt laut! | Wo ist er? :: dog | The dog barks loudly! | Where is he?
Baum {m} [bot.] | Der Baum <Bäume> ist hoch. :: tree | The tree {n} is   tall.
Katze {f} | Die Katze schläft. :: cat | The cat sleeps. | extra alternative.
Zwei Sätze; hier. :: Two sentences; here we go.
Er gab jdm. das Buch. :: He gave sb. the book.
Sie sagte: „Komm her!“ :: She said: "Come here!"
Kurz. :: Too short.
Das Haus ist alt. :: The house is old.
Ohne Punkt :: Without a full stop
"""


def test_extraction_rules():
    pairs = extract_ding.extract_pairs(DICTIONARY.splitlines(keepends=True))
    assert pairs == [
        ("Das Haus ist alt.", "The house is old."),   # second alternative; the headword pair is no sentence
        ("Der Hund bellt laut!", "The dog barks loudly!"),
        ("Wo ist er?", "Where is he?"),
        ("Der Baum ist hoch.", "The tree is tall."),    # annotations removed, white space squeezed
        ('Sie sagte: „Komm her!“', 'She said: "Come here!"'),  # a closing quote may follow the stop
    ]
    # Left out: unequal alternative counts (Katze), ';', abbreviations, < 3 English words,
    # a repeated pair, no final punctuation.


def test_split_is_the_seeded_shuffle(tmp_path):
    rng = random.Random(0)
    lines = [f"Satz {i} {rng.random():.6f}. :: Sentence number {i} here." for i in range(2300)]
    dictionary = tmp_path / "de-en"
    dictionary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = subprocess.run([sys.executable, str(SCRIPT), str(dictionary), str(tmp_path / "data")],
                            capture_output=True, text=True, check=True, timeout=120)
    assert "2300 pairs -> train 300, dev 1000, test 1000" in result.stdout
    pairs = extract_ding.extract_pairs(lines)
    random.Random(1234).shuffle(pairs)
    test_en = (tmp_path / "data" / "test.en").read_text(encoding="utf-8").splitlines()
    train_de = (tmp_path / "data" / "train.de").read_text(encoding="utf-8").splitlines()
    assert test_en == [en for _, en in pairs[:1000]]
    assert train_de == [de for de, _ in pairs[2000:]]


def test_too_few_pairs_is_one_line(tmp_path):
    dictionary = tmp_path / "de-en"
    dictionary.write_text(DICTIONARY, encoding="utf-8")
    result = subprocess.run([sys.executable, str(SCRIPT), str(dictionary), str(tmp_path / "data")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "only 5 pairs" in result.stderr and "Traceback" not in result.stderr
