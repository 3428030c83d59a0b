"""What the benchmarks share (tools/bench.py, bench_ddp.py, profile_step.py): the reference model's
config and its variants, Ding batches (or synthetic ones like them), and the library's own update.

The benchmarks import this module, never each other; it imports only the installed package.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from nmt.batching import BatchIterator, ParallelArrays, collate
from nmt.distributed import Cluster
from nmt.tasks import Metric, load_config
from nmt.train import Trainer
from nmt.translation_task import token_loss

REPO = Path(__file__).resolve().parents[1]
DING = Path(os.environ.get("NMT_BENCH_DING", REPO / "recipes" / "ding-de-en"))  # its data and model, where trained
REFERENCE = REPO / "recipes" / "ding-de-en" / "conf" / "rnnsearch.yaml"
VOCAB = 8000  # the reference vocabulary (Ding's SentencePiece size)
# Every variant at the sizes the toolkit compares them at: the reference is REFERENCE's RNNsearch
# (embeddings 256, encoder 256 per direction, decoder 512, attention 512); a one-way encoder has 512.
REFERENCE_MODELS: dict[str, dict] = {
    "rnnsearch": {},
    "seq2seq": {"variant": "seq2seq", "encoder_hidden": 512},
    "seq2seq_reversed": {"variant": "seq2seq", "encoder_hidden": 512, "reverse_source": True},
    "context": {"variant": "context", "encoder_hidden": 512},
    "bidir": {"variant": "bidir"},
    "luong": {"variant": "luong", "encoder_hidden": 512, "score": "general", "input_feeding": True},
}
VARIANTS = ("rnnsearch", "seq2seq", "luong")  # what bench.py times: the reference, a fused decoder, Luong


def sync(device: str) -> None:
    """Wait for the device: CUDA work is asynchronous, a clock read without this times the launch only."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def reference_config(variant: str = "rnnsearch", **model_keys):
    """The reference config (Ding's RNNsearch) as `variant` of REFERENCE_MODELS, with further model keys set."""
    cfg = load_config(REFERENCE)
    for key, value in {**REFERENCE_MODELS[variant], **model_keys}.items():
        setattr(cfg.model, key, value)
    return cfg


def batches(count: int, *, batch_size: int = 64, length: int | None = None) -> tuple[list, str]:
    """Real Ding training batches when prepared, else synthetic ones (lengths ~ Ding's: mean 13)."""
    data = DING / "exp" / "rnnsearch" / "data"
    if length is None and (data / "train.src.bin").exists():
        iterator = BatchIterator(ParallelArrays(data, "train"), batch_tokens=10 ** 6, batch_size=batch_size, seed=1)
        out: list = []
        while len(out) < count:
            out.extend(b for _, b in zip(range(count - len(out)), iterator))
        return out, "ding"
    rng = np.random.default_rng(0)
    out = []
    for _ in range(count):
        lengths = np.full(batch_size, length) if length else np.clip(rng.gamma(4, 3.2, batch_size).astype(int), 2, 60)
        src = [rng.integers(4, VOCAB, size=n) for n in lengths]
        tgt = [rng.integers(4, VOCAB, size=n) for n in lengths]
        out.append(collate(src, tgt, range(batch_size)))
    return out, "synthetic"


class GivenBatches:
    """The smallest task (nmt/tasks.py) for timing the library's update on batches handed to it:
    translation's loss and count, nothing to validate."""

    metrics = {"loss": Metric("loss", higher_is_better=False)}
    unit = "target tokens"
    iterator = None

    def __init__(self, model: torch.nn.Module):
        self.model = model

    def count(self, batch) -> int:
        return batch.n_tgt_tokens

    def loss(self, model, batch, *, label_smoothing: float) -> torch.Tensor:
        return token_loss(model, batch, label_smoothing=label_smoothing)


def trainer(model: torch.nn.Module, cfg, *, device: str, bf16: bool = False, cluster: Cluster | None = None) -> Trainer:
    """nmt-train's Trainer for `model` with the config's optimizer, clipping and label smoothing (bf16:
    train.precision bf16). Its update() is the one nmt-train makes; nothing is written (run() is not called)."""
    loop = dataclasses.replace(cfg.train, precision="bf16" if bf16 else "fp32", stop_metric="loss")
    return Trainer(GivenBatches(model), loop, exp_dir=Path(tempfile.gettempdir()) / "nmt-bench-unused",  # type: ignore[arg-type]
                   device=torch.device(device), cluster=cluster)
