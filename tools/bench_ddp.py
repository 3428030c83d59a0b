#!/usr/bin/env python3
"""The data-parallel part of tools/bench.py (`--only ddp`): the reference RNNsearch trained by 2
processes x 1 thread (DDP over gloo, as nmt-train runs under torchrun) against 1 process x 2
threads, 128 sentences an update either way. Each process starts afresh (spawn).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import socket
import time

import benchlib  # tools/, beside this file
import torch


def _data_parallel_rank(rank: int, world: int, threads: int, updates: int, port: int, queue) -> None:
    """One process of data_parallel_speed: DDP over gloo as nmt-train runs it under torchrun."""
    import torch.distributed as dist

    from nmt.distributed import Cluster
    from nmt.models import build_model

    torch.set_num_threads(threads)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    if world > 1:
        dist.init_process_group("gloo", rank=rank, world_size=world)
    cfg = benchlib.reference_config()
    torch.manual_seed(0)
    model = build_model(cfg.model, benchlib.VOCAB, benchlib.VOCAB)
    cluster = Cluster(rank=rank, world_size=world, group=dist.group.WORLD if world > 1 else None)
    update = benchlib.trainer(model, cfg, device="cpu", cluster=cluster).update  # nmt-train's, DDP and all
    per_update = 2  # batches of 64 sentences in every update, over all processes
    warmup = 3
    batches, source = benchlib.batches((updates + warmup) * per_update)
    tokens, start = 0, time.perf_counter()
    for step in range(updates + warmup):
        if step == warmup:
            tokens, start = 0, time.perf_counter()
        everyone = batches[step * per_update:(step + 1) * per_update]
        update(everyone[rank::world])  # this process's share; the loss is over all processes' tokens
        tokens += sum(b.n_tgt_tokens for b in everyone)
    seconds = time.perf_counter() - start
    if world > 1:
        dist.destroy_process_group()
    if rank == 0:
        queue.put({"tokens_per_sec": tokens / seconds, "updates_per_sec": updates / seconds, "data": source,
                   "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def data_parallel_speed(world: int, threads: int, updates: int) -> dict:
    """Training tokens/s of the reference model with `world` processes of `threads` threads each,
    128 sentences an update either way."""
    with socket.socket() as probe:  # a free port for the process group
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    context = mp.get_context("spawn")
    queue = context.Queue()
    processes = [context.Process(target=_data_parallel_rank, args=(rank, world, threads, updates, port, queue))
                 for rank in range(world)]
    for process in processes:
        process.start()
    result = queue.get()
    for process in processes:
        process.join()
    return result


def ddp_table(report: dict, updates: int) -> None:
    print("\n| data parallelism, rnnsearch, 128 sentences an update | target tok/s | updates/s | peak RSS (rank 0) |"
          "\n| --- | ---: | ---: | ---: |")
    report["ddp"] = {}
    for label, world, threads in (("1 process x 2 threads", 1, 2), ("2 processes x 1 thread (DDP, gloo)", 2, 1)):
        r = report["ddp"][label] = data_parallel_speed(world, threads, updates)
        print(f"| {label} ({r['data']}) | {r['tokens_per_sec']:,.0f} | {r['updates_per_sec']:.2f} | "
              f"{r['peak_rss_mb']:,.0f} MB |")
