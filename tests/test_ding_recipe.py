"""The Ding data stage: dictionary lines -> sentence pairs -> the fixed 1,000/1,000/rest split."""

from __future__ import annotations

import importlib.util
import random
import re
import subprocess
import sys

import pytest
import torch
from conftest import REPO, copy_recipe, make_pairs, recipe_env, write_plain

SCRIPT = REPO / "recipes" / "lib" / "extract_ding.py"
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


LEXICON_SCRIPT = REPO / "recipes" / "ding-de-en" / "local" / "extract_lexicon.py"

LEXICON_DICTIONARY = """\
# Version :: devel 2023-01-30
Haus {n}; Gebäude {n} | Häuser {pl} | Das Haus ist alt. :: house; building | houses | The house is old.
Ablöse {f} /Abl./ (Mietobjekt) | Ablösen {pl} :: key money [Br.]; premium (on a lease) | key monies
Hund {m} | Der Hund bellt. :: dog | The dog barks.
Katze {f} | Katzen {pl} :: cat
Haus {n} :: house
"""


def test_lexicon_entries_leave_out_sentences_and_the_held_out_lines(tmp_path):
    lexicon_spec = importlib.util.spec_from_file_location("extract_lexicon", LEXICON_SCRIPT)
    extract_lexicon = importlib.util.module_from_spec(lexicon_spec)
    lexicon_spec.loader.exec_module(extract_lexicon)  # it finds recipes/lib/extract_ding.py itself
    pairs = extract_lexicon.extract_entries(LEXICON_DICTIONARY.splitlines(keepends=True), {"The dog barks."})
    assert pairs == [
        ("Haus", "house"), ("Gebäude", "house"), ("Haus", "building"),  # synonyms: each with the other side's first
        ("Häuser", "houses"),                       # the example sentence of the line is no entry
        ("Ablöse", "key money"), ("Ablöse", "premium"), ("Ablösen", "key monies"),  # labels, glosses gone
    ]
    # Left out: the Hund line (it holds a held-out sentence), Katze (alternative counts differ),
    # the repeated Haus pair.

    dictionary = tmp_path / "de-en"
    dictionary.write_text(LEXICON_DICTIONARY, encoding="utf-8")
    command = [sys.executable, str(LEXICON_SCRIPT), str(dictionary), str(tmp_path)]
    missing = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1 and "dev.de is missing" in missing.stderr and "Traceback" not in missing.stderr
    for name, text in (("dev.de", "Der Hund bellt.\n"), ("dev.en", "The dog barks.\n"), ("test.de", ""), ("test.en", "")):
        (tmp_path / name).write_text(text, encoding="utf-8")
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    assert "7 entry pairs" in result.stdout
    german = (tmp_path / "lexicon.de").read_text(encoding="utf-8").splitlines()
    english = (tmp_path / "lexicon.en").read_text(encoding="utf-8").splitlines()
    assert list(zip(german, english)) == pairs and not list(tmp_path.glob("*.tmp"))


def test_run_sh_makes_the_lexicon_in_stage_0_for_a_config_that_trains_on_it(tmp_path):

    recipe = copy_recipe(tmp_path, "ding-de-en")
    (recipe / "data").mkdir()
    for name, text in (("train.de", "Das Haus ist alt.\n"), ("test.en", "The dog barks.\n"), ("test.de", "Der Hund bellt.\n"),
                       ("dev.de", ""), ("dev.en", "")):
        (recipe / "data" / name).write_text(text, encoding="utf-8")
    dictionary = tmp_path / "de-en"
    dictionary.write_text(LEXICON_DICTIONARY, encoding="utf-8")
    env = recipe_env(DING_DICTIONARY=str(dictionary))
    plain = subprocess.run(["bash", str(recipe / "run.sh"), "--stop-stage", "0"], capture_output=True, text=True,
                           env=env, timeout=120)
    assert plain.returncode == 0 and not (recipe / "data" / "lexicon.de").exists()
    result = subprocess.run(["bash", str(recipe / "run.sh"), "--conf", "conf/rnnsearch_lexicon.yaml", "--stop-stage", "0"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 entry pairs" in result.stdout  # the Hund line holds a test sentence: left out
    assert (recipe / "data" / "train.de").read_text(encoding="utf-8") == "Das Haus ist alt.\n"  # the splits kept


WORDNET = """\
  1 This software and database is being provided to you, the LICENSEE, by "Princeton"
00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 | that which is perceived
00002137 03 v 01 run 0 001 @ 00001740 n 0000 | move fast; "he ran home"; "run!"; "she  ran   to the store"
00002452 03 a 01 big 0 001 @ 00001740 n 0000 | large; "the house is old"; "He ran home."
00002453 03 a 01 odd 0 001 @ 00001740 n 0000 | odd; "an odd man out?"
"""


def test_wordnet_examples_become_normalised_new_sentences(tmp_path):
    (tmp_path / "wn").mkdir()
    (tmp_path / "wn" / "data.verb").write_text(WORDNET, encoding="latin-1")
    (tmp_path / "test.en").write_text("The house is old.\n", encoding="utf-8")
    script = REPO / "recipes" / "ding-de-en" / "local" / "extract_wordnet.py"
    result = subprocess.run([sys.executable, str(script), str(tmp_path / "wn"), str(tmp_path / "mono.en"),
                             "--exclude", str(tmp_path / "test.en")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    kept = (tmp_path / "mono.en").read_text(encoding="utf-8").splitlines()
    # capitalised, a full stop added, spaces squeezed; "run!" is too short, the second "He ran home."
    # a duplicate, "the house is old" a test sentence; the licence header is no gloss
    assert sorted(kept) == ["An odd man out?", "He ran home.", "She ran to the store."]
    assert "3 English sentences of 6 WordNet examples (dropped: 1 short, 1 duplicate, 1 dev/test)" in result.stdout


TINY_REGULARISED = """
base: rnnsearch.yaml
tokenizer: {vocab_size: 50}
model: {embed_size: 16, encoder_hidden: 16, decoder_hidden: 32, attention_size: 16}
train: {max_epochs: null, max_steps: 6, validate_every: 6, batch_tokens: 2000}
"""


def _tiny_recipe_with_english(tmp_path):
    """The Ding recipe on synthetic pairs and 150 lines of English, with tiny settings put in place of
    rnnsearch_regularised_8k.yaml, which the monolingual configs build on."""
    recipe = copy_recipe(tmp_path, "ding-de-en")
    (recipe / "data").mkdir()
    for split, n, seed in (("train", 300, 1), ("dev", 20, 2), ("test", 20, 3)):
        write_plain(recipe / "data", split, make_pairs(n, seed))
    (recipe / "data" / "mono.en").write_text("".join(en + "\n" for _, en in make_pairs(150, 9)), encoding="utf-8")
    (recipe / "conf" / "rnnsearch_regularised_8k.yaml").write_text(TINY_REGULARISED, encoding="utf-8")
    return recipe


# The single reverse model's path (rnnsearch_bt.yaml) is the ensemble's first member; which search each
# synthetic file name asks for is tests/test_recipes.py's (stubbed, seconds).
@pytest.mark.parametrize("config, synthetic_name, reverse_models", [
    ("rnnsearch_bt_ensemble.yaml", "mono.bt-ensemble.de", ["rnnsearch_reverse", "rnnsearch_reverse_seed2"]),
])
def test_a_back_translation_config_makes_its_synthetic_corpus_in_stage_0(tmp_path, config, synthetic_name,
                                                                          reverse_models):
    """run.sh --conf conf/rnnsearch_bt.yaml: the reverse model trained, the English translated, tagged pairs
    prepared; for the ensemble config two reverse models, trained with different seeds, translate together."""

    recipe = _tiny_recipe_with_english(tmp_path)
    result = subprocess.run(["bash", str(recipe / "run.sh"), "--conf", f"conf/{config}", "--stop-stage", "1"],
                            capture_output=True, text=True, env=recipe_env(), timeout=500)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    trained = sorted(path.name for path in (recipe / "exp").glob("rnnsearch_reverse*"))
    assert trained == reverse_models
    weights = []
    for name in reverse_models:
        reverse = recipe / "exp" / name
        assert "src_lang: en" in (reverse / "config.yaml").read_text()
        weights.append(torch.load(reverse / "checkpoints" / "best.pt", weights_only=True)["model"])
    synthetic = (recipe / "data" / synthetic_name).read_text(encoding="utf-8").splitlines()
    if len(weights) == 2:  # two seeds, two models; the synthetic sources are their ensemble's beam-5 output
        assert any(not torch.equal(weights[0][key], weights[1][key]) for key in weights[0])
        models = [arg for name in reverse_models for arg in ("--model", str(recipe / "exp" / name))]
        ensemble = subprocess.run([sys.executable, "-m", "nmt.cli.translate", *models, "--beam", "5",
                                   "-i", str(recipe / "data" / "mono.en")],
                                  capture_output=True, text=True, env=recipe_env(), timeout=300)
        assert ensemble.returncode == 0, ensemble.stderr[-2000:]
        assert ensemble.stdout.splitlines() == synthetic
    assert len(synthetic) == 150 and not (recipe / "data" / f"{synthetic_name}.part").exists()
    assert "150 lines in" in result.stderr  # nmt-translate's last progress line
    # stage 1 prepared the mixture (the tiny reverse model's output loses a few pairs to the length ratio)
    assert re.search(rf"\[1\] data/{re.escape(synthetic_name)} \(weight 1, tag <bt>\): \d+ pairs kept of 150",
                     result.stdout)


def test_a_copy_config_needs_the_english_alone_in_stage_0(tmp_path):
    """run.sh --conf conf/rnnsearch_copy.yaml: the English is its own source, tagged <copy>; no reverse model."""
    recipe = _tiny_recipe_with_english(tmp_path)
    result = subprocess.run(["bash", str(recipe / "run.sh"), "--conf", "conf/rnnsearch_copy.yaml", "--stop-stage", "1"],
                            capture_output=True, text=True, env=recipe_env(), timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "== stage 0: monolingual" in result.stdout and not (recipe / "exp" / "rnnsearch_reverse").exists()
    assert "[1] data/mono.en (weight 1, tag <copy>): 150 pairs kept of 150" in result.stdout
