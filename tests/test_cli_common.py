from __future__ import annotations

import os

import torch

from nmt.cli import common


def test_available_cores_honours_a_cgroup_quota(tmp_path):
    quota = tmp_path / "cpu.max"
    quota.write_text("150000 100000\n")  # 1.5 CPUs: round up, a half core still runs a thread
    assert common.available_cores(quota) == min(2, len(os.sched_getaffinity(0)))
    quota.write_text("max 100000\n")
    assert common.available_cores(quota) == len(os.sched_getaffinity(0))
    assert common.available_cores(tmp_path / "missing") == len(os.sched_getaffinity(0))


def test_limit_threads_caps_torch_at_the_usable_cores(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(common, "available_cores", lambda: 1)
    try:
        torch.set_num_threads(2)
        common.limit_threads()
        assert torch.get_num_threads() == 1
        monkeypatch.setenv("OMP_NUM_THREADS", "2")  # the user's explicit choice is left alone
        torch.set_num_threads(2)
        common.limit_threads()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
