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

import torch
from bench import _batches, _reference_config


def _data_parallel_rank(rank: int, world: int, threads: int, updates: int, port: int, queue) -> None:
    """One process of data_parallel_speed: DDP over gloo as nmt-train runs it under torchrun."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from nmt.models import build_model
    from nmt.optim import build_optimizer
    from nmt.validate import token_loss

    torch.set_num_threads(threads)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    if world > 1:
        dist.init_process_group("gloo", rank=rank, world_size=world)
    cfg = _reference_config({})
    torch.manual_seed(0)
    model = build_model(cfg.model, 8000, 8000).train()
    trained = DistributedDataParallel(model) if world > 1 else model
    optimizer = build_optimizer(model.parameters(), cfg.train)
    per_update = 2  # batches of 64 sentences in every update, over all processes
    warmup = 3
    batches, source = _batches(cfg, (updates + warmup) * per_update)
    tokens, start = 0, time.perf_counter()
    for update in range(updates + warmup):
        if update == warmup:
            tokens, start = 0, time.perf_counter()
        group = batches[update * per_update:(update + 1) * per_update][rank::world]
        n_tokens = sum(b.n_tgt_tokens for b in batches[update * per_update:(update + 1) * per_update])
        optimizer.zero_grad(set_to_none=True)
        for batch in group:  # as Trainer.update: the loss over all processes' target tokens
            (token_loss(trained, batch) / (n_tokens / world)).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        tokens += n_tokens
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
