"""tools/bench.py's --quick mode runs on the library's update and cost count; the profile grows with the target."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "tools"))  # the tools are scripts, not a package
import benchlib  # noqa: E402


def test_quick_benchmark_runs_and_reports_mfu(tmp_path):
    out = tmp_path / "bench.json"
    # The synthetic batches and untrained model, whether or not this checkout holds a trained Ding model.
    result = subprocess.run([sys.executable, str(REPO / "tools" / "bench.py"), "--quick", "--only", "train",
                             "--only", "translate", "--json", str(out)], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "NMT_BENCH_DING": str(tmp_path / "no-recipe")})
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["matmul_gflops"] > 0
    assert set(report["train"]) == set(benchlib.VARIANTS)
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
