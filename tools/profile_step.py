#!/usr/bin/env python3
"""Where a training update's time goes: the torch profiler over a few updates of the reference model.

    python tools/profile_step.py                      # rnnsearch, 64 Ding sentences a batch, this CPU
    python tools/profile_step.py --device cuda        # on a GPU: is the update bound by launches?
    python tools/profile_step.py --variant luong --batch-size 256 --bf16 --updates 5

Prints the operators that take the most time and, per update: the wall time (timed without the
profiler), the time the GPU spent in kernels, the kernel launches and the operator calls. Where
kernels keep the GPU busy for a small part of the wall time, the update waits on Python and
launches, and CUDA graphs or compiled steps are what helps; where busy is near the wall, the
kernels themselves must get faster.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import benchlib  # tools/, beside this file: the reference configs, Ding batches, the library's update
import torch
from torch.profiler import ProfilerActivity, profile

LAUNCHES = ("cudaLaunchKernel", "cudaLaunchKernelExC", "cuLaunchKernel", "cuLaunchKernelEx")


def profile_updates(variant: str, *, updates: int, batch_size: int, bf16: bool, device: str, rows: int,
                    length: int | None = None) -> dict:
    """Times and profiles `updates` updates on Ding batches (or synthetic ones of `length` tokens)."""
    from nmt.device import describe_device
    from nmt.models import build_model

    cfg = benchlib.reference_config(variant)
    torch.manual_seed(0)
    model = build_model(cfg.model, benchlib.VOCAB, benchlib.VOCAB).to(device)
    update = benchlib.trainer(model, cfg, device=device, bf16=bf16).update  # nmt-train's update
    batches, source = benchlib.batches(2 + 2 * updates, batch_size=batch_size, length=length)
    batches = [b.to(device) for b in batches]
    for batch in batches[:2]:  # warm-up: allocator, kernels chosen
        update([batch])
    benchlib.sync(device)
    start = time.perf_counter()
    for batch in batches[2:2 + updates]:
        update([batch])
    benchlib.sync(device)
    wall_ms = (time.perf_counter() - start) / updates * 1e3
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.startswith("cuda") else [])
    with profile(activities=activities) as prof:
        for batch in batches[2 + updates:]:
            update([batch])
        benchlib.sync(device)
    averages = prof.key_averages()
    on_gpu = device.startswith("cuda")
    print(averages.table(sort_by="self_cuda_time_total" if on_gpu else "self_cpu_time_total", row_limit=rows))
    busy_ms = sum(e.self_device_time_total for e in averages) / 1e3 / updates  # microseconds -> ms
    report = {
        "variant": variant, "device": describe_device(torch.device(device)), "batch_size": batch_size, "bf16": bf16,
        "data": source, "wall_ms_per_update": wall_ms,
        "gpu_busy_ms_per_update": busy_ms if on_gpu else None,
        "kernel_launches_per_update": sum(e.count for e in averages if e.key in LAUNCHES) / updates if on_gpu else None,
        "aten_calls_per_update": sum(e.count for e in averages if e.key.startswith("aten::")) / updates,
    }
    print(f"{variant}, {batch_size} sentences ({source}), {report['device']}{', bf16' if bf16 else ''}: "
          f"{wall_ms:.1f} ms an update (no profiler), {report['aten_calls_per_update']:,.0f} aten calls an update")
    if on_gpu:
        print(f"GPU busy {busy_ms:.1f} ms an update ({busy_ms / wall_ms:.0%} of the wall time), "
              f"{report['kernel_launches_per_update']:,.0f} kernel launches an update")
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=list(benchlib.VARIANTS), default="rnnsearch")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--length", type=int, default=None, help="synthetic sentences of this many tokens")
    parser.add_argument("--updates", type=int, default=3, help="profiled updates (as many are timed without it)")
    parser.add_argument("--bf16", action="store_true", help="under bfloat16 autocast (train.precision: bf16)")
    parser.add_argument("--rows", type=int, default=15, help="operators listed")
    parser.add_argument("--json", type=Path, default=None, help="also write the per-update figures here")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("profile_step: --device cuda, but this machine has no usable CUDA device")
    report = profile_updates(args.variant, updates=args.updates, batch_size=args.batch_size, bf16=args.bf16,
                             device=args.device, rows=args.rows, length=args.length)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
