"""nmt-export and the torch-free runtime (nmt/runtime): the exported graphs and the numpy search find
what torch finds, for every cell and variant; nmt-translate runs an export in an interpreter where
torch cannot be imported."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from conftest import REPO

from nmt.config import DecodeConfig, ModelConfig
from nmt.export import export_model
from nmt.models import build_model
from nmt.runtime.model import ExportedModel
from nmt.runtime.search import generate as generate_exported
from nmt.runtime.translate import padded
from nmt.search import generate

SENTENCES = [[5, 9, 7, 12, 6], [8, 4], [11, 13, 5, 9], [4, 4, 7]]


def _export(tmp_path, **model_keys):
    torch.manual_seed(0)
    cfg = ModelConfig(embed_size=12, encoder_hidden=10, decoder_hidden=14, attention_size=8, dropout=0.0, **model_keys)
    model = build_model(cfg, 20, 20).eval()
    export_model(model, tmp_path, tmp_path / "export", src_vocab_size=20, tgt_vocab_size=20, int8=False)
    return model, ExportedModel(tmp_path / "export", threads=1)


def _searched(model, exported, decode: DecodeConfig):
    src, lengths = padded(SENTENCES)
    ours = generate(model, torch.from_numpy(src), torch.from_numpy(lengths), decode, keep_attention=True)
    theirs = generate_exported(exported, src, lengths, decode, keep_attention=True)
    return ours, theirs


@pytest.mark.parametrize("variant, cell, extra", [
    ("rnnsearch", "lstm", {}), ("rnnsearch", "gru", {}), ("rnnsearch", "rnn", {}),
    ("seq2seq", "lstm", {"reverse_source": True, "encoder_layers": 2, "decoder_layers": 2}),
    ("context", "gru", {}), ("bidir", "lstm", {}), ("luong", "lstm", {"input_feeding": True}),
    ("luong", "gru", {"input_feeding": False}), ("rnnsearch", "lstm", {"attention_gate": True, "tie_embeddings": True}),
])
def test_the_export_and_the_numpy_search_find_what_torch_finds(tmp_path, variant, cell, extra):
    model, exported = _export(tmp_path, variant=variant, cell=cell, **extra)
    for decode in (DecodeConfig(method="greedy", max_length_a=1.0, max_length_b=4),
                   DecodeConfig(beam_size=3, nbest=3, length_penalty=0.6, max_length_a=1.0, max_length_b=4)):
        ours, theirs = _searched(model, exported, decode)
        for mine, exported_hyps in zip(ours, theirs):
            assert [h.tokens for h in mine] == [h.tokens for h in exported_hyps]
            assert np.allclose([h.score for h in mine], [h.score for h in exported_hyps], atol=1e-4)
            assert all(np.allclose(a.token_scores, b.token_scores, atol=1e-4) for a, b in zip(mine, exported_hyps))
            if mine[0].attention is not None:
                assert np.allclose(mine[0].attention.numpy(), exported_hyps[0].attention, atol=1e-5)
            else:
                assert exported_hyps[0].attention is None


@pytest.fixture(scope="module")
def exported_dir(model_dir, tmp_path_factory):
    """The small trained RNNsearch (conftest.model_dir) beside its export, int8 step included."""
    root = tmp_path_factory.mktemp("export")
    (root / "exp").symlink_to(model_dir)
    result = subprocess.run([sys.executable, "-m", "nmt.cli.export", "--model", str(model_dir), "--out",
                             str(root / "export")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    (root / "corpus").mkdir()
    (root / "corpus" / "notes.txt").write_text("not an export\n")
    return root


NO_TORCH = """
import runpy, sys
class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")
sys.meta_path.insert(0, NoTorch())
sys.argv = ["nmt-translate"] + sys.argv[1:]
runpy.run_module("nmt.cli.translate", run_name="__main__")
"""


def _translate(*args: str, stdin: str, torch_blocked: bool = False) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", NO_TORCH, *args] if torch_blocked else [sys.executable, "-m", "nmt.cli.translate", *args]
    return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=300, cwd=REPO)


def test_nmt_translate_runs_an_export_without_torch_and_gives_what_the_experiment_gives(exported_dir):
    lines = "haus katze .\nhund baum wasser .\n\nsonne .\n"
    for options in ([], ["--json", "--alignments", "--nbest", "2"], ["--beam", "1"]):
        exported = _translate("--model", str(exported_dir / "export"), "--quantize", "none", *options, stdin=lines,
                              torch_blocked=True)
        assert exported.returncode == 0, exported.stderr
        original = _translate("--model", str(exported_dir / "exp"), *options, stdin=lines)
        if "--json" in options:
            for a, b in zip(exported.stdout.splitlines(), original.stdout.splitlines()):
                mine, theirs = json.loads(a), json.loads(b)
                assert mine["text"] == theirs["text"] and abs(mine["score"] - theirs["score"]) < 1e-3
                assert [n["text"] for n in mine["nbest"]] == [n["text"] for n in theirs["nbest"]]
        else:
            assert exported.stdout == original.stdout and exported.stdout.count("\n") == 4
    int8 = _translate("--model", str(exported_dir / "export"), "--quantize", "int8", stdin=lines, torch_blocked=True)
    assert int8.returncode == 0 and int8.stdout.count("\n") == 4, int8.stderr
    choice = json.loads((exported_dir / "export" / "export.json").read_text())["default"]
    assert choice["sentences"] == 30 and set(choice["dev_bleu"]) == {"fp32", "int8"}  # the dev set, both variants
    plain = _translate("--model", str(exported_dir / "export"), stdin=lines, torch_blocked=True)
    assert plain.stdout == (int8.stdout if choice["int8"] else original.stdout)  # the default is the choice
    assert ExportedModel(exported_dir / "export", int8=True).encoder_file.name == "encoder.int8.onnx"
    twice = _translate("--model", str(exported_dir / "export"), "--model", str(exported_dir / "export"),
                       "--quantize", "none", stdin=lines, torch_blocked=True)  # an ensemble of one model twice is that model
    assert twice.returncode == 0 and twice.stdout == _translate("--model", str(exported_dir / "exp"), stdin=lines).stdout
    blocked = _translate("--model", str(exported_dir / "exp"), stdin=lines, torch_blocked=True)
    assert blocked.returncode != 0 and "torch is blocked in this test" in blocked.stderr  # the block holds


def test_an_export_refuses_what_it_cannot_do_in_one_line(exported_dir):
    export = str(exported_dir / "export")
    for options, named in ((["--sample"], "sampling needs the experiment directory"),
                           (["--checkpoint", "last"], "--checkpoint picks an experiment's"),
                           (["--model", str(exported_dir / "exp")], "not both"),
                           (["--set", "decode.shortlist=true"], "has no shortlist.npz: make the shortlist")):
        result = _translate("--model", export, *options, stdin="haus .\n")
        assert result.returncode == 2 and named in result.stderr and "Traceback" not in result.stderr
    taken = subprocess.run([sys.executable, "-m", "nmt.cli.export", "--model", str(exported_dir / "exp"), "--out",
                            str(exported_dir / "corpus")], capture_output=True, text=True, timeout=300)
    assert taken.returncode == 2 and "is not an export" in taken.stderr


SERVE_NO_TORCH = NO_TORCH.replace('"nmt-translate"', '"nmt-serve"').replace("nmt.cli.translate", "nmt.cli.serve")


def test_nmt_serve_serves_an_export_without_torch(exported_dir):
    import httpx
    from test_serve_cli import free_port

    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVE_NO_TORCH, "--model", f"ding={exported_dir / 'export'}",
                               "--port", port], stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        served = httpx.post(f"http://127.0.0.1:{port}/v1/translate", json={"text": ["haus katze .", "sonne ."]}).json()
        page = httpx.post(f"http://127.0.0.1:{port}/v1/analyze", json={"text": "haus katze ."})
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    translated = _translate("--model", str(exported_dir / "export"), stdin="haus katze .\nsonne .\n").stdout.splitlines()
    assert [item["text"] for item in served["translations"]] == translated, err
    assert page.status_code == 200 and page.json()["hypotheses"][0]["attention"] and "torch" not in err


def test_an_export_scores_given_translations_as_torch_does(exported_dir, tmp_path):
    (tmp_path / "in.de").write_text("haus katze .\nsonne .\n", encoding="utf-8")
    (tmp_path / "in.en").write_text("house cat .\nsun .\n", encoding="utf-8")
    runs = [_translate("--model", str(exported_dir / name), "-i", str(tmp_path / "in.de"), "--score-target",
                       str(tmp_path / "in.en"), "--json", "--alignments", "--quantize", "none", stdin="",
                       torch_blocked=name == "export")
            for name in ("export", "exp")]
    mine, theirs = ([json.loads(line) for line in run.stdout.splitlines()] for run in runs)
    assert len(mine) == len(theirs) == 2, runs[0].stderr
    for a, b in zip(mine, theirs):
        assert a["pieces"] == b["pieces"] and abs(a["score"] - b["score"]) < 1e-3
        assert np.allclose(a["alignment"]["weights"], b["alignment"]["weights"], atol=1e-3)


def test_the_exports_topk_graph_picks_what_numpy_picks_and_an_export_without_it_still_searches(tmp_path):
    """topk.onnx (onnxruntime's TopK, beam search's choice each step) returns numpy's best values, best
    first, and their columns; an export written before it (no topk.onnx) searches alike with numpy."""
    from nmt.runtime.search import top_numpy

    model, exported = _export(tmp_path, variant="rnnsearch", cell="lstm")
    assert exported.topk is not None
    candidates = np.random.default_rng(0).standard_normal((6, 60)).astype(np.float32)
    candidates[:, ::7] = -np.inf  # what restrict_eos and a forced prefix leave
    for count in (1, 4, 10):
        values, index = exported.top(candidates, count)
        numpy_values, numpy_index = top_numpy(candidates, count)
        np.testing.assert_array_equal(values, numpy_values)
        np.testing.assert_array_equal(index, numpy_index)  # distinct values: the same columns
    decode = DecodeConfig(beam_size=3, nbest=3, length_penalty=0.6, max_length_a=1.0, max_length_b=4)
    _, with_graph = _searched(model, exported, decode)
    (tmp_path / "export" / "topk.onnx").unlink()
    _, without = _searched(model, ExportedModel(tmp_path / "export", threads=1), decode)
    assert [[h.tokens for h in hyps] for hyps in with_graph] == [[h.tokens for h in hyps] for hyps in without]
    assert np.allclose([h.score for hyps in with_graph for h in hyps], [h.score for hyps in without for h in hyps])


def test_a_shortlisted_export_searches_as_the_shortlisted_torch_model(tmp_path):
    """An experiment with a shortlist exports a step over given target ids (step.shortlist.onnx): over
    the same pieces, the numpy search through it finds torch's shortlisted translations and scores."""
    from nmt.runtime.model import ShortlistedExport
    from nmt.shortlist import Shortlist, Shortlisted

    table = np.random.default_rng(0).integers(4, 20, size=(20, 3)).astype(np.int32)
    Shortlist(table, np.array([4, 5], dtype=np.int32)).save(tmp_path)
    model, exported = _export(tmp_path, variant="rnnsearch", cell="lstm")
    assert (tmp_path / "export" / "shortlist.npz").exists()
    pieces = np.array([0, 1, 2, 3, 5, 7, 9, 12, 15, 18])
    src, lengths = padded(SENTENCES)
    for decode in (DecodeConfig(method="greedy", max_length_a=1.0, max_length_b=4),
                   DecodeConfig(beam_size=3, nbest=3, length_penalty=0.6, max_length_a=1.0, max_length_b=4)):
        ours = generate(Shortlisted(model, pieces), torch.from_numpy(src), torch.from_numpy(lengths), decode)
        theirs = generate_exported(ShortlistedExport(exported, pieces), src, lengths, decode)
        for mine, exported_hyps in zip(ours, theirs):
            assert [h.tokens for h in mine] == [h.tokens for h in exported_hyps]
            assert np.allclose([h.score for h in mine], [h.score for h in exported_hyps], atol=1e-4)
        assert max(max(h.tokens, default=0) for hyps in theirs for h in hyps) < len(pieces)  # positions in pieces


@pytest.mark.parametrize("variant, extra", [("rnnsearch", {}), ("luong", {"input_feeding": True}),
                                            ("luong", {"input_feeding": False, "reverse_source": True})])
def test_an_exported_step_reads_a_sentences_memory_once_for_all_its_beams(tmp_path, variant, extra):
    """The step graph (traced with two beams) takes B memory rows for B x K state rows at any K, and
    gives what it gives with the memory repeated K times: beam search keeps one copy a sentence."""
    _, exported = _export(tmp_path, variant=variant, cell="lstm", **extra)
    assert exported.shares_memory
    src, lengths = padded(SENTENCES)
    memory = exported.encode(src, lengths)
    for beams in (1, 3):
        rows = np.repeat(np.arange(len(SENTENCES)), beams)
        state, repeated = exported.reorder(exported.init_state(memory), memory, rows)
        tokens = np.arange(len(rows), dtype=np.int64) % 7 + 4
        shared = exported.step(tokens, state, memory)
        copied = exported.step(tokens, state, repeated)
        assert shared[0].shape == (len(rows), 20)
        for a, b in zip([shared[0], shared[2], *shared[1].values()], [copied[0], copied[2], *copied[1].values()]):
            np.testing.assert_allclose(a, b, atol=1e-6)


def test_the_int8_shortlisted_step_reads_the_batchs_int8_output_rows(tmp_path):
    """The int8 shortlisted step takes the pieces' rows of output_rows.npz in int8 (gathered once a batch)
    and scores as the float shortlisted step does, to int8's precision, on a model whose output layer
    tells the pieces apart (weights x 30)."""
    from nmt.shortlist import Shortlist

    table = np.random.default_rng(0).integers(4, 20, size=(20, 3)).astype(np.int32)
    Shortlist(table, np.array([4, 5], dtype=np.int32)).save(tmp_path)
    torch.manual_seed(0)
    model = build_model(ModelConfig(embed_size=12, encoder_hidden=10, decoder_hidden=14, attention_size=8, dropout=0.0),
                        20, 20).eval()
    with torch.no_grad():
        model.output.weight.mul_(30)
    export_model(model, tmp_path, tmp_path / "export", src_vocab_size=20, tgt_vocab_size=20, int8=True)
    pieces = np.array([0, 1, 2, 3, 5, 7, 9, 12, 15, 18])
    src, lengths = padded(SENTENCES)
    steps = []
    for int8 in (False, True):
        exported = ExportedModel(tmp_path / "export", int8=int8, threads=1)
        memory = exported.encode(src, lengths)
        steps.append(exported.step(np.full(len(SENTENCES), 1, dtype=np.int64), exported.init_state(memory), memory, pieces)[0])
        assert exported._rows[1].keys() >= ({"output.weight_t", "output.weight_scale"} if int8 else {"output.weight"})
    float_scores, int8_scores = steps
    assert float_scores.shape == int8_scores.shape == (len(SENTENCES), len(pieces))
    assert np.ptp(float_scores, axis=1).min() > 5  # the pieces are told apart
    np.testing.assert_allclose(int8_scores, float_scores, atol=0.5)
    assert (int8_scores.argmax(1) == float_scores.argmax(1)).all()
    (tmp_path / "export" / "output_rows.npz").unlink()  # a user's deletion: one line naming it
    exported = ExportedModel(tmp_path / "export", int8=True, threads=1)
    memory = exported.encode(src, lengths)
    from nmt.errors import NmtError

    with pytest.raises(NmtError, match="has no output_rows.npz"):
        exported.step(np.full(len(SENTENCES), 1, dtype=np.int64), exported.init_state(memory), memory, pieces)


def test_an_export_translates_by_default_with_the_cheapest_variant_whose_dev_bleu_holds(tmp_path, monkeypatch):
    """nmt-export's choice: int8 and the shortlist where dev BLEU stays within 0.1 of fp32's (or above
    it), the next cheaper variant that does otherwise, fp32 where none does or there is no dev set."""
    from nmt import export_choice

    out, exp = tmp_path / "export", tmp_path / "exp"
    out.mkdir()
    for name in ("step.int8.onnx", "step.shortlist.onnx"):
        (out / name).touch()
    assert export_choice.choose_default(out, exp)["int8"] is False  # no dev set: fp32
    (exp / "data").mkdir(parents=True)
    for name in ("dev.src", "dev.tgt"):
        (exp / "data" / name).write_text("a\nb\n")
    for figures, chosen in (({"fp32": 20.0, "int8+shortlist": 19.95, "int8": 19.0, "shortlist": 20.0}, (True, True)),
                            ({"fp32": 20.0, "int8+shortlist": 19.85, "int8": 20.3, "shortlist": 20.0}, (True, False)),
                            ({"fp32": 20.0, "int8+shortlist": 19.0, "int8": 19.8, "shortlist": 19.95}, (False, True)),
                            ({"fp32": 20.0, "int8+shortlist": 19.0, "int8": 19.8, "shortlist": 19.5}, (False, False))):
        monkeypatch.setattr(export_choice, "_dev_bleu", lambda out, sources, references, *, int8, shortlist, figures=figures:
                            figures[export_choice.variant_name(int8, shortlist)])
        choice = export_choice.choose_default(out, exp)
        assert (choice["int8"], choice["shortlist"]) == chosen and choice["dev_bleu"] == figures
    (out / "step.shortlist.onnx").unlink()  # without a shortlist, int8 alone is weighed
    assert set(export_choice.choose_default(out, exp)["dev_bleu"]) == {"fp32", "int8"}
