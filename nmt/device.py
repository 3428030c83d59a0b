"""Which device a run uses, and the precision its forward pass runs in."""

from __future__ import annotations

import contextlib
import platform
from pathlib import Path
from typing import Any, ContextManager, Iterator

import torch

from nmt.errors import NmtError


@contextlib.contextmanager
def evaluating(model: Any) -> Iterator[None]:
    """The model in evaluation mode (no dropout) for the block, then back in the mode it was in,
    also when the block raises. `model` is anything with `training` and `train(mode)`."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def pick_device(name: str | None, *, setting: str = "config: train.device =") -> torch.device:
    """`name` as a device, or CUDA when there is one and `name` is unset; an unusable name is one line
    that starts with `setting` (where the name came from)."""
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise NmtError(f"{setting} {name!r} is not a device (try 'cpu' or 'cuda')") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise NmtError(f"{setting} {name!r} but this machine has no usable CUDA device")
    return device


def precision_context(precision: str, device: torch.device) -> ContextManager:
    """The forward pass's context for train.precision: fp32 as is, bf16/fp16 under autocast."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


def cpu_name(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The processor's model name (speeds differ several-fold between machines called '2 cores')."""
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return " ".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def describe_device(device: torch.device) -> str:
    """'cpu (AMD EPYC, 2 threads)' or 'cuda:0 (NVIDIA H100 80GB HBM3)', for logs and results."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    threads = torch.get_num_threads()
    return f"{device} ({cpu_name()}, {threads} thread{'s' if threads > 1 else ''})"
