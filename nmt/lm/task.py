"""The character model as a task of the toolkit's Trainer (nmt/tasks.py), and reading text with it:
bits per character, sampling.

Truncated BPTT lives in the batching (nmt/lm/data.py): the state carries from one batch to the
next, detached at the boundary. The carried state is saved in last.pt: resume is exact.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from nmt.device import evaluating
from nmt.distributed import Cluster
from nmt.lm.config import CharLMConfig
from nmt.lm.data import CharVocab, StreamBatch, StreamIterator
from nmt.lm.model import CharLM
from nmt.search import greedy, sample
from nmt.tasks import ExtrasSink, Metric, Validation

LN2 = math.log(2)


def _detach(state):
    if state is None:
        return None
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


@torch.no_grad()
def _stream_nll(model: CharLM, ids: np.ndarray, *, streams: int, chunk: int,
                device: torch.device | str) -> torch.Tensor:
    """Negative log-likelihood (nats) of every character of `ids` after the first, as (streams, length):
    the text read as `streams` parallel streams, the state carried through each."""
    pieces, state = [], None
    with evaluating(model):
        for batch in StreamIterator(ids, streams=streams, bptt=chunk):
            logits, state = model(batch.inputs.to(device), state)  # (B, T, V)
            pieces.append(F.cross_entropy(logits.transpose(1, 2).float(), batch.targets.to(device), reduction="none"))
    return torch.cat(pieces, dim=1)


def stream_loss(model: CharLM, ids: np.ndarray, *, streams: int = 64, chunk: int = 256,
                device: torch.device | str = "cpu") -> tuple[float, int]:
    """Summed negative log-likelihood (nats) of every character of `ids` after the first, and their count;
    read as `streams` parallel streams (fast; each stream starts without context)."""
    nll = _stream_nll(model, ids, streams=min(streams, max(1, (len(ids) - 1) // 2)), chunk=chunk, device=device)
    return float(nll.double().sum()), nll.numel()


def char_bits(model: CharLM, ids: np.ndarray, *, chunk: int = 512, device: torch.device | str = "cpu") -> np.ndarray:
    """-log2 P of every character of `ids` after the first, read as one stream (positions line up with the text)."""
    if len(ids) < 2:
        return np.zeros(0)
    return (_stream_nll(model, ids, streams=1, chunk=chunk, device=device)[0] / LN2).cpu().numpy()


def generate(model: CharLM, vocab: CharVocab, *, prime: str, length: int, temperature: float = 1.0, top_k: int = 0,
             argmax: bool = False, seed: int | None = None, device: torch.device | str = "cpu") -> str:
    """`length` characters after `prime`, by argmax or sampled at `temperature` (the EOS-free stream
    is cut at `length` by the search's own length limits)."""
    ids = vocab.encode(prime or "\n")
    src = torch.tensor(ids[None], dtype=torch.long, device=device)
    limit = torch.full((1,), length, dtype=torch.long, device=device)
    with torch.no_grad(), evaluating(model):
        if argmax:
            (hyp,), = greedy(model, src, limit, max_len=limit, min_length=length)
        else:
            generator = torch.Generator(device=device).manual_seed(seed) if seed is not None else None
            (hyp,), = sample(model, src, limit, max_len=limit, min_length=length, temperature=temperature,
                             top_k=top_k, generator=generator)
    return vocab.decode(hyp.tokens)


class LanguageModelTask:
    """The Trainer's task for CharLMConfig: streams, next-character cross-entropy, dev bits per character."""

    metrics = {
        "loss": Metric("loss", higher_is_better=False, digits=4),
        "bpc": Metric("bpc", higher_is_better=False, digits=4),  # bits per character
        "ppl": Metric("ppl", higher_is_better=False),
    }
    unit = "characters"

    def __init__(self, cfg: CharLMConfig, *, device: torch.device, cluster: Cluster):
        self.cfg, self.device, self.cluster = cfg, device, cluster
        exp_dir = Path(cfg.exp_dir)
        self.vocab = CharVocab.load(exp_dir / "vocab.json")
        self.model = CharLM.from_config(cfg.model, len(self.vocab)).to(device)
        self.iterator = StreamIterator(np.load(exp_dir / "data" / "train.npy"), streams=cfg.train.streams,
                                       bptt=cfg.train.bptt, rank=cluster.rank, world_size=cluster.world_size)
        self.dev = np.load(exp_dir / "data" / "dev.npy")
        self.state: Any = None  # carried from batch to batch: the RNN's state (a tensor, or a pair for an LSTM)
        self.sample = ""

    def count(self, batch: StreamBatch) -> int:
        return batch.targets.numel()

    def loss(self, model, batch: StreamBatch, *, label_smoothing: float) -> torch.Tensor:
        if batch.first:
            self.state = None
        logits, state = model(batch.inputs.to(self.device), self.state)
        self.state = _detach(state)  # truncated BPTT: the state goes on, its gradient stops here
        return F.cross_entropy(logits.flatten(0, 1).float(), batch.targets.to(self.device).flatten(),
                               label_smoothing=label_smoothing, reduction="sum")

    def validate(self) -> Validation:
        share = np.array_split(self.dev, self.cluster.world_size)[self.cluster.rank]
        nats, characters = stream_loss(self.model, share, device=self.device)
        total, count = self.cluster.sum([nats, characters], self.device, what="validation")
        loss = total / max(count, 1)
        return Validation({"loss": loss, "bpc": loss / LN2, "ppl": math.exp(min(loss, 50.0))})

    def report(self, sink: ExtrasSink, step: int) -> None:
        """A sample of 300 characters (temperature 0.8), as a code block."""
        self.sample = generate(self.model, self.vocab, prime="\n", length=300, temperature=0.8, seed=step,
                               device=self.device)
        sink.text("dev/sample", "    " + self.sample.replace("\n", "\n    "), step)

    def describe(self) -> dict:
        m = self.cfg.model
        return {"task": "char_lm", "cell": m.cell, "num_layers": m.num_layers, "hidden_size": m.hidden_size}

    def summary(self) -> str:
        m, t = self.cfg.model, self.cfg.train
        return (f"char_lm ({m.cell}, {m.num_layers} x {m.hidden_size}), {len(self.vocab) - 4} characters, "
                f"{t.streams} streams x {self.iterator.length:,} characters, bptt {t.bptt}")

    def state_dict(self) -> dict:
        if self.state is None:
            return {}
        return {"state": list(self.state) if isinstance(self.state, tuple) else [self.state]}

    def load_state_dict(self, state: dict) -> None:
        saved = state.get("state")
        if saved:
            tensors = [t.to(self.device) for t in saved]
            self.state = tuple(tensors) if self.cfg.model.cell == "lstm" else tensors[0]  # LSTM: (h, c)
