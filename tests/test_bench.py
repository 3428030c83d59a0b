"""tools/bench.py: its analytic FLOPs match what torch counts, and its --quick mode runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from conftest import REPO
from torch import nn
from torch.nn.utils.rnn import PackedSequence
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(REPO / "tools"))
import bench  # noqa: E402

from nmt.batching import collate  # noqa: E402
from nmt.models import build_model  # noqa: E402


def _fused_rnn_flops(model: nn.Module) -> list[float]:
    """FlopCounterMode skips fused nn.LSTM/GRU calls; count them from their inputs with hooks."""
    counted = [0.0]

    def hook(module: nn.RNNBase, inputs, _output):
        data = inputs[0]
        steps = data.data.shape[0] if isinstance(data, PackedSequence) else data.shape[0] * data.shape[1]
        gates = {"LSTM": 4, "GRU": 3}.get(module.mode, 1)
        directions = 2 if module.bidirectional else 1
        for layer in range(module.num_layers):
            size_in = module.input_size if layer == 0 else module.hidden_size * directions
            counted[0] += 2 * steps * directions * gates * module.hidden_size * (size_in + module.hidden_size)

    for module in model.modules():
        if isinstance(module, nn.RNNBase):
            module.register_forward_hook(hook)
    return counted


@pytest.mark.parametrize("variant", list(bench.VARIANTS))
def test_analytic_flops_match_torchs_count(variant):
    cfg = bench._reference_config(bench.VARIANTS[variant])
    model = build_model(cfg.model, 8000, 8000).eval()
    fused = _fused_rnn_flops(model)
    src_len, tgt_len, batch = 11, 8, 3
    sentences = collate([list(range(5, 5 + src_len))] * batch, [list(range(5, 5 + tgt_len))] * batch,
                        range(batch))
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(sentences.src, sentences.src_lengths, sentences.tgt_in)
    counted = counter.get_total_flops() + fused[0]
    analytic = 2 * batch * bench.forward_macs(cfg.model, 8000, float(sentences.src_lengths[0]),
                                              float(sentences.tgt_in.shape[1]))
    assert counted == pytest.approx(analytic, rel=0.01)  # the initial-state bridge is left out


def test_quick_benchmark_runs_and_reports_mfu(tmp_path):
    out = tmp_path / "bench.json"
    # The synthetic batches and untrained model, whether or not this checkout holds a trained Ding model.
    result = subprocess.run([sys.executable, str(REPO / "tools" / "bench.py"), "--quick", "--only", "train",
                             "--only", "translate", "--json", str(out)], capture_output=True, text=True, timeout=600,
                            env={**os.environ, "NMT_BENCH_DING": str(tmp_path / "no-recipe")})
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["matmul_gflops"] > 0
    assert set(report["train"]) == set(bench.VARIANTS)
    for row in report["train"].values():
        assert row["tokens_per_sec"] > 0 and 0 < row["mfu"] < 1.5 and row["data"] == "synthetic"
    assert set(report["translate"]) == {"greedy", "beam 5"}
    assert not any(row["trained_model"] for row in report["translate"].values())
    assert "scaling" not in report
    assert "| rnnsearch" in result.stdout


def test_the_profile_counts_a_step_loop_that_grows_with_the_target(capsys):
    import profile_step  # noqa: E402  tools/ is on the path above

    calls = {}
    for length in (4, 8):
        report = profile_step.profile_updates("rnnsearch", updates=1, batch_size=2, bf16=False, device="cpu",
                                              rows=5, length=length)
        assert report["wall_ms_per_update"] > 0 and report["gpu_busy_ms_per_update"] is None
        calls[length] = report["aten_calls_per_update"]
    assert "aten::" in capsys.readouterr().out  # the operator table
    # RNNsearch's decoder loops over target positions: each one more adds its operator calls (forward and
    # backward), the launches that bind a GPU; the encoder's fused LSTM adds none.
    per_position = (calls[8] - calls[4]) / 4
    assert per_position > 20 and calls[4] > 4 * per_position
