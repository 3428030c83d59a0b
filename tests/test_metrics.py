from __future__ import annotations

import pytest

from nmt.errors import NmtError
from nmt.metrics import corpus_scores, scores_by_group, scores_by_length


def test_corpus_scores_carry_signatures_and_take_several_references():
    hyps = ["the cat sat on the mat .", "hello there world ."]
    scores = corpus_scores(hyps, [hyps])
    assert scores["bleu"] == 100.0 and scores["chrf"] == 100.0
    assert scores["bleu_signature"].startswith("nrefs:1|") and "chrF2" not in scores["bleu_signature"]
    two = corpus_scores(hyps, [["a dog .", "bye ."], hyps])
    assert two["bleu"] == 100.0 and two["bleu_signature"].startswith("nrefs:2|")
    with pytest.raises(NmtError, match="2 hypotheses but reference 1 has 1 lines"):
        corpus_scores(hyps, [["only one"]])


def test_scores_by_source_length_bucket():
    sources = ["a b", "a b c", " ".join(["w"] * 12), " ".join(["w"] * 55)]
    refs = ["x y z .", "p q r .", "long sentence one here .", "very long sentence here ."]
    hyps = [refs[0], refs[1], "nothing alike at all", refs[3]]
    rows = scores_by_length(hyps, refs, sources, edges=(10, 50))
    assert [(r["bucket"], r["sentences"]) for r in rows] == [("0-9", 2), ("10-49", 1), ("50+", 1)]
    assert rows[0]["bleu"] == 100.0 and rows[1]["bleu"] == 0.0 and rows[2]["bleu"] == 100.0


def test_scores_by_group_split_the_test_set_by_origin():
    refs = ["the house is old .", "open the file .", "the dog barks .", "save the file ."]
    hyps = [refs[0], "close a window", refs[2], refs[3]]
    rows = scores_by_group(hyps, refs, ["ding", "help", "ding\n", "help"])
    assert [(r["group"], r["sentences"]) for r in rows] == [("ding", 2), ("help", 2)]  # first-seen order
    assert rows[0]["bleu"] == 100.0 and rows[0]["chrf"] == 100.0 and 0 < rows[1]["bleu"] < 100
    with pytest.raises(NmtError, match="reference 2 has 3 lines"):
        scores_by_group(hyps, refs, ["ding"] * 3)


def test_nmt_score_adds_bleu_by_source_length(tmp_path):
    import json

    from conftest import run_cli

    (tmp_path / "src").write_text("a b\na b c d e f\na b c d e f g h i j k l\n")
    (tmp_path / "ref").write_text("the cat\nthe cat sat on the mat\nno\n")
    (tmp_path / "hyp").write_text("the cat\nthe cat sat on the mat\nyes\n")
    result = run_cli("nmt.cli.score", "-r", str(tmp_path / "ref"), "-i", str(tmp_path / "hyp"),
                     "--source", str(tmp_path / "src"), "--length-edges", "5,10", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["by_length"]
    assert [(r["bucket"], r["sentences"]) for r in rows] == [("0-4", 1), ("5-9", 1), ("10+", 1)]
    assert rows[1]["bleu"] == 100.0 and rows[2]["bleu"] == 0.0
    bad = run_cli("nmt.cli.score", "-r", str(tmp_path / "ref"), "-i", str(tmp_path / "hyp"),
                  "--source", str(tmp_path / "src"), "--length-edges", "5,ten")
    assert bad.returncode == 2 and "--length-edges '5,ten'" in bad.stderr and "Traceback" not in bad.stderr
    (tmp_path / "origin").write_text("ding\ndebian\nding\n")
    grouped = run_cli("nmt.cli.score", "-r", str(tmp_path / "ref"), "-i", str(tmp_path / "hyp"),
                      "--groups", str(tmp_path / "origin"), "--json")
    assert grouped.returncode == 0, grouped.stderr
    assert [(r["group"], r["sentences"], r["bleu"]) for r in json.loads(grouped.stdout)["by_group"]] == [
        ("ding", 2, 0.0), ("debian", 1, 100.0)]  # "the cat" alone has no 4-gram: BLEU 0 without smoothing
    (tmp_path / "short").write_text("ding\n")
    short = run_cli("nmt.cli.score", "-r", str(tmp_path / "ref"), "-i", str(tmp_path / "hyp"),
                    "--groups", str(tmp_path / "short"))
    assert short.returncode == 2 and "groups" in short.stderr and "has 1 lines" in short.stderr


def test_compare_runs_needs_a_finished_run(tmp_path):
    import subprocess
    import sys

    from conftest import REPO

    (tmp_path / "exp" / "half").mkdir(parents=True)
    (tmp_path / "exp" / "ablation").mkdir()
    (tmp_path / "exp" / "ablation" / "table.md").write_text("an earlier comparison\n")
    result = subprocess.run([sys.executable, str(REPO / "tools" / "compare_runs.py"),
                             str(tmp_path / "exp" / "half"), str(tmp_path / "exp" / "ablation")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "half has no results.json" in result.stderr and "none of the given folders" in result.stderr
    assert "ablation" not in result.stderr  # a comparison's own folder (from `exp/*`) is passed over quietly


def test_compare_runs_sets_runs_side_by_side_by_origin(tmp_path):
    import json
    import subprocess
    import sys

    from conftest import REPO

    for name, ding, help_bleu in (("plain", 10.0, 20.0), ("bt", 12.5, 19.0)):
        (tmp_path / name).mkdir()
        by_group = [{"group": "ding", "sentences": 30, "bleu": ding, "chrf": 40.0},
                    {"group": "help", "sentences": 70, "bleu": help_bleu, "chrf": 50.0}]
        test = {"bleu": 15.0, "chrf": 45.0, "bleu_signature": "nrefs:1", "by_group": by_group}
        train = {"variant": "rnnsearch", "cell": "lstm", "steps": 100, "best": {"bleu": 9.0}, "history": []}
        (tmp_path / name / "results.json").write_text(json.dumps({"train": train, "test": test}))
        corpora = [{"src": "train.de", "weight": 1.0}] + ([{"src": "mono.bt.de", "tag": "<bt>"}] if name == "bt" else [])
        (tmp_path / name / "config.yaml").write_text(json.dumps({"data": {"train": corpora}}))  # JSON is YAML
    result = subprocess.run([sys.executable, str(REPO / "tools" / "compare_runs.py"), str(tmp_path / "plain"),
                             str(tmp_path / "bt"), "--out", str(tmp_path / "compare")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    table = (tmp_path / "compare" / "table.md").read_text()
    assert "## Test BLEU by origin" in table and "by source length" not in table
    assert "| ding | 30 | 10.00 | 12.50 |" in table and "| help | 70 | 20.00 | 19.00 |" in table
    assert "- bt: `data.train.1.src` 'mono.bt.de', `data.train.1.tag` '<bt>'" in table  # each corpus's keys, as --set names them


def test_the_recipes_score_stage_adds_scores_by_origin_when_the_recipe_names_them(tmp_path):
    """recipes/lib/score.sh with test_groups (the Debian recipe's data/test.origin): by_group in results.json."""
    import json
    import subprocess

    from conftest import REPO, recipe_env

    run = tmp_path / "exp" / "run"
    run.mkdir(parents=True)
    (run / "results.json").write_text(json.dumps({"train": {"steps": 1}}))
    (run / "test.hyp").write_text("the cat sat on the mat\nopen the file now please\n")
    (tmp_path / "test.en").write_text("the cat sat on the mat\nsave the file now please\n")
    (tmp_path / "test.de").write_text("die Katze\nDatei speichern\n")
    (tmp_path / "test.origin").write_text("ding\nhelp\n")
    script = f"source {REPO}/recipes/lib/score.sh; score_into exp/run test.en test.de"
    for groups, expected in (("", None), ("test_groups=test.origin; ", ["ding", "help"])):
        result = subprocess.run(["bash", "-euc", groups + script], cwd=tmp_path, capture_output=True, text=True,
                                env=recipe_env(), timeout=120)
        assert result.returncode == 0, result.stderr
        test = json.loads((run / "results.json").read_text())["test"]
        if expected is None:
            assert "by_group" not in test
        else:
            assert [row["group"] for row in test["by_group"]] == expected
        assert test["by_length"] and json.loads((run / "results.json").read_text())["train"] == {"steps": 1}
