from __future__ import annotations

import pytest

from nmt.errors import NmtError
from nmt.metrics import corpus_scores, scores_by_length


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
