#!/usr/bin/env python3
"""Benchmark training and translation speed against this machine's matmul peak.

    python tools/bench.py                 # full run: prints a table, writes bench.json
    python tools/bench.py --quick         # a smoke run in seconds (CI may run it)
    python tools/bench.py --bf16          # also bfloat16 autocast (train.precision: bf16)
    python tools/bench.py --compile       # also torch.compile of the decoder step
    python tools/bench.py --layer-norm    # also the step-loop decoders with model.decoder_layer_norm
    python tools/bench.py --only ddp      # 2 processes x 1 thread (DDP, gloo) against 1 process x 2 threads
    python tools/bench.py --device cuda   # the same tables on a GPU (its name, torch/CUDA versions, peaks)

Uses the Ding recipe's prepared data and trained model when they exist
(recipes/ding-de-en/exp/rnnsearch), else synthetic batches with Ding's length
distribution and an untrained model (translation figures then mean little).
NMT_BENCH_DING=DIR reads another recipe folder of that layout; a folder without a trained
model (the tests' smoke run) takes the synthetic path whatever the checkout holds.
Each measurement runs in its own process so its peak memory is its own.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path
from typing import Any

import benchlib  # tools/, beside this file
import numpy as np
import torch
from benchlib import DING, VARIANTS, sync


def matmul_peak(seconds: float, dtype: torch.dtype = torch.float32, device: str = "cpu") -> float:
    """GFLOPS of a large square matmul in `dtype`, best of several timed runs."""
    n = 8192 if device.startswith("cuda") else 2048
    a, b = torch.randn(n, n, dtype=dtype, device=device), torch.randn(n, n, dtype=dtype, device=device)
    torch.mm(a, b)
    sync(device)
    best, deadline = 0.0, time.time() + seconds
    while time.time() < deadline:
        start = time.perf_counter()
        for _ in range(4):
            torch.mm(a, b)
        sync(device)
        best = max(best, 4 * 2 * n ** 3 / (time.perf_counter() - start) / 1e9)
    return best


def _precision(bf16: bool, device: str = "cpu"):
    """The context nmt-train uses for train.precision bf16 (or fp32)."""
    from nmt.device import precision_context

    return precision_context("bf16" if bf16 else "fp32", torch.device(device))


def train_speed(variant: str, updates: int, batch_size: int = 64, length: int | None = None,
                compile_step: bool = False, bf16: bool = False, device: str = "cpu", model_keys: dict | None = None) -> dict:
    from nmt.models import build_model
    from nmt.models.cost import forward_macs

    cfg = benchlib.reference_config(variant, **(model_keys or {}))
    torch.manual_seed(0)
    model = build_model(cfg.model, benchlib.VOCAB, benchlib.VOCAB).to(device)
    warmup = 8 if compile_step else 3  # compiling happens in the first few updates
    batches, source = benchlib.batches(updates + warmup, batch_size=batch_size, length=length)
    batches = [batch.to(device) for batch in batches]
    # The cost of the timed batches, counted by the model's own forward before the clock starts.
    macs = sum(forward_macs(model, batch.src, batch.src_lengths, batch.tgt_in) for batch in batches[warmup:])
    if compile_step:  # the decoder's per-step function; dynamic: source length and batch size vary
        decoder: Any = model.decoder
        decoder._advance = torch.compile(decoder._advance, dynamic=True)
    update = benchlib.trainer(model, cfg, device=device, bf16=bf16).update  # nmt-train's update
    tokens, start, began = 0, time.perf_counter(), time.perf_counter()
    for index, batch in enumerate(batches):
        if index == warmup:
            sync(device)
            warmup_seconds = time.perf_counter() - began
            start, tokens = time.perf_counter(), 0
        update([batch])
        tokens += batch.n_tgt_tokens
    sync(device)
    seconds = time.perf_counter() - start
    return {"tokens_per_sec": tokens / seconds, "updates_per_sec": updates / seconds,
            "mflop_per_token": 3 * 2 * macs / tokens / 1e6, "gflops": 3 * 2 * macs / seconds / 1e9,
            "batch_tokens": tokens / updates, "data": source, "warmup_seconds": warmup_seconds}


def translate_speed(beam: int, limit: int | None, bf16: bool = False, device: str = "cpu") -> dict:
    from nmt.models import build_model
    from nmt.tasks import load_trained
    from nmt.translate import Translator

    exp = DING / "exp" / "rnnsearch"
    test = DING / "data" / "test.de"
    if (exp / "checkpoints" / "best.pt").exists() and test.exists():
        loaded = load_trained(exp, task="translation")
        model, tokenizer, cfg, trained = loaded.model, loaded.tokenizer, loaded.cfg, True
        lines = test.read_text(encoding="utf-8").splitlines()[:limit]
        sources = tokenizer.encode_src(lines)
    else:
        cfg = benchlib.reference_config()
        torch.manual_seed(0)
        model, tokenizer, trained = build_model(cfg.model, benchlib.VOCAB, benchlib.VOCAB).eval(), None, False
        rng = np.random.default_rng(0)
        sources = [list(rng.integers(4, benchlib.VOCAB, size=n)) for n in np.clip(rng.gamma(4, 3.2, limit or 1000).astype(int), 2, 60)]
    model = model.to(device)
    # An untrained model has no tokenizer: it is given ids and only its ids are read.
    translator = Translator(model, tokenizer,
                            decode=dataclasses.replace(cfg.decode, beam_size=beam), device=device)
    with _precision(bf16, device):
        translator.translate_ids(sources[:20])  # warm-up
    start = time.perf_counter()
    with torch.inference_mode(), _precision(bf16, device):
        hyps = translator.translate_ids(sources)
    sync(device)
    seconds = time.perf_counter() - start
    out_tokens = sum(len(h[0].tokens) + 1 for h in hyps)
    return {"sentences_per_sec": len(sources) / seconds, "tokens_per_sec": out_tokens / seconds,
            "sentences": len(sources), "seconds": seconds, "trained_model": trained}


def _child(name: str, kwargs: dict, queue) -> None:
    from nmt.cli.common import limit_threads

    limit_threads()  # the thread count nmt-train and nmt-translate run with
    try:
        result = globals()[name](**kwargs)
    except Exception as err:  # reported by the parent, which would otherwise wait forever
        queue.put({"error": f"{type(err).__name__}: {err}"})
        return
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(result)


def isolated(name: str, **kwargs) -> dict:
    """Run one measurement in a fresh process (its own peak memory, no warm caches from the others)."""
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(name, kwargs, queue))
    process.start()
    result = queue.get()
    process.join()
    if "error" in result:
        sys.exit(f"bench: {name} failed: {result['error']}")
    return result


def train_table(report: dict, updates: int, compile_step: bool, bf16: bool, device: str,
                layer_norm: bool = False, batch_size: int = 64) -> None:
    """MFU is against the fp32 peak, and for bf16 rows against the bf16 peak as well."""
    print("\n| training | target tok/s | updates/s | MFLOP/token | MFU | peak RSS |\n| --- | ---: | ---: | ---: | ---: | ---: |")
    report["train"] = {}
    runs: list[tuple[str, str, dict, bool, bool]] = [(name, name, {}, False, False) for name in VARIANTS]
    if compile_step:
        runs += [(f"{name} + torch.compile", name, {}, True, False) for name in ("rnnsearch", "luong")]
    if bf16:
        runs += [(f"{name} bf16", name, {}, False, True) for name in VARIANTS]
    if layer_norm:
        runs += [(f"{name} + decoder layer norm", name, {"decoder_layer_norm": True}, False, False)
                 for name in ("rnnsearch", "luong")]
    for label, variant, model_keys, compiled, low in runs:
        r = report["train"][label] = isolated("train_speed", variant=variant, updates=updates, batch_size=batch_size,
                                              compile_step=compiled, bf16=low, device=device, model_keys=model_keys)
        r["mfu"] = r["gflops"] / report["matmul_gflops"]
        mfu = f"{100 * r['mfu']:.0f} %"
        if low:
            r["mfu_bf16"] = r["gflops"] / report["matmul_gflops_bf16"]
            mfu += f" ({100 * r['mfu_bf16']:.0f} % of bf16)"
        print(f"| {label} ({r['data']}) | {r['tokens_per_sec']:,.0f} | {r['updates_per_sec']:.2f} | "
              f"{r['mflop_per_token']:.1f} | {mfu} | {r['peak_rss_mb']:,.0f} MB |")
    if compile_step:
        print("(torch.compile rows: first updates, compiling included, took "
              + ", ".join(f"{r['warmup_seconds']:.0f} s" for label, r in report["train"].items() if "compile" in label)
              + "; not counted above)")


def translate_table(report: dict, sentences: int | None, bf16: bool, device: str) -> None:
    print("\n| translation | sentences/s | tokens/s | seconds | peak RSS |\n| --- | ---: | ---: | ---: | ---: |")
    report["translate"] = {}
    runs = [("greedy", 1, False), ("beam 5", 5, False)]
    if bf16:
        runs += [("greedy bf16", 1, True), ("beam 5 bf16", 5, True)]
    for label, beam, low in runs:
        r = report["translate"][label] = isolated("translate_speed", beam=beam, limit=sentences, bf16=low,
                                                  device=device)
        print(f"| {label} ({r['sentences']} sentences{'' if r['trained_model'] else ', untrained model'}) | "
              f"{r['sentences_per_sec']:,.0f} | {r['tokens_per_sec']:,.0f} | {r['seconds']:.2f} | {r['peak_rss_mb']:,.0f} MB |")


def scaling_table(report: dict, updates: int, quick: bool, device: str) -> None:
    print("\n| rnnsearch scaling | target tok/s |\n| --- | ---: |")
    report["scaling"] = {"batch_size": {}, "length": {}}
    sizes = (16, 32, 64, 128, 256) if device.startswith("cuda") else (16, 32, 64, 128)
    for batch_size in ((16,) if quick else sizes):
        r = isolated("train_speed", variant="rnnsearch", updates=updates, batch_size=batch_size, device=device)
        report["scaling"]["batch_size"][batch_size] = r["tokens_per_sec"]
        print(f"| {batch_size} sentences/batch (~{r['batch_tokens']:.0f} target tokens) | {r['tokens_per_sec']:,.0f} |")
    for length in ((10,) if quick else (10, 20, 40, 80)):
        r = isolated("train_speed", variant="rnnsearch", updates=max(updates // 2, 2), length=length, device=device)
        report["scaling"]["length"][length] = r["tokens_per_sec"]
        print(f"| sentences of {length} tokens, 64 a batch | {r['tokens_per_sec']:,.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: few updates of 16 sentences, few sentences")
    parser.add_argument("--json", type=Path, default=Path("bench.json"), help="where to write the results")
    parser.add_argument("--compile", action="store_true",
                        help="also train the step-loop decoders with torch.compile of their step function")
    parser.add_argument("--bf16", action="store_true", help="also train and translate under bfloat16 autocast")
    parser.add_argument("--layer-norm", action="store_true",
                        help="also train the step-loop decoders with model.decoder_layer_norm")
    parser.add_argument("--only", choices=["train", "translate", "scaling", "ddp"], action="append",
                        help="run only this part (repeatable); the matmul peak is always measured")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]: where training and translation run")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("bench: --device cuda, but this machine has no usable CUDA device")
    parts = set(args.only or ["train", "translate", "scaling", "ddp"])
    updates, sentences = (2, 40) if args.quick else (30, None)
    from nmt.device import describe_device

    device = args.device
    report = {"threads": torch.get_num_threads(), "torch": torch.__version__, "cuda": torch.version.cuda,
              "device": describe_device(torch.device(device))}
    report["matmul_gflops"] = peak = matmul_peak(0.5 if args.quick else 3.0, device=device)
    print(f"{report['device']}, torch {torch.__version__}" + (f", CUDA {torch.version.cuda}" if device != "cpu" else ""))
    print(f"fp32 matmul peak: {peak:.0f} GFLOPS")
    if args.bf16 or device.startswith("cuda"):
        args.bf16 = True  # on a GPU bf16 is the question
        report["matmul_gflops_bf16"] = matmul_peak(0.5 if args.quick else 3.0, torch.bfloat16, device=device)
        print(f"bf16 matmul peak: {report['matmul_gflops_bf16']:.0f} GFLOPS")
    if "train" in parts:
        train_table(report, updates, args.compile, args.bf16, device, args.layer_norm,
                    batch_size=16 if args.quick else 64)
    if "translate" in parts:
        translate_table(report, sentences, args.bf16, device)
    if "scaling" in parts:
        scaling_table(report, updates, args.quick, device)
    if "ddp" in parts and device == "cpu":  # one GPU here: the CPU comparison only
        from bench_ddp import ddp_table  # tools/, beside this file; it imports benchlib, not this module

        ddp_table(report, updates)
    args.json.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
