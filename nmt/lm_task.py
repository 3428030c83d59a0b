"""Training the character model with the toolkit's Trainer: truncated BPTT lives in the batching.

The training text is cut into B parallel streams (B per process: under torchrun every process
takes streams of its own). A batch is the next `bptt` characters of every stream; the hidden
state carries from one batch to the next, detached at the boundary, so gradients reach back
at most `bptt` steps while the state remembers further. An epoch is one pass over the
streams; its start resets the state. The carried state is saved in last.pt: resume is exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from nmt.distributed import Cluster
from nmt.lm import CharLM, CharLMConfig, CharVocab
from nmt.search import greedy, sample

LN2 = math.log(2)


@dataclass
class StreamBatch:
    inputs: torch.Tensor  # (B, T) characters
    targets: torch.Tensor  # (B, T) the characters that follow them
    first: bool  # the epoch's first batch: the carried state starts afresh


class StreamIterator:
    """Consecutive bptt-long windows of `streams` parallel streams over one id array."""

    def __init__(self, ids: np.ndarray, *, streams: int, bptt: int, rank: int = 0, world_size: int = 1):
        total_streams = streams * world_size
        self.length = (len(ids) - 1) // total_streams  # characters of one stream
        if self.length < 1:
            raise ValueError(f"{len(ids):,} characters cannot fill {total_streams} streams")
        mine = slice(rank * streams * self.length, (rank + 1) * streams * self.length)
        usable = np.asarray(ids[: total_streams * self.length + 1], dtype=np.int64)
        self.inputs = torch.from_numpy(usable[:-1][mine].reshape(streams, self.length))  # (B, L)
        self.targets = torch.from_numpy(usable[1:][mine].reshape(streams, self.length))
        self.bptt = bptt
        self.epoch, self.position = 1, 0

    def epoch_plan(self, epoch: int) -> list[int]:
        """Window starts of an epoch (the same every epoch)."""
        return list(range(0, self.length, self.bptt))

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])

    def __iter__(self) -> Iterator[StreamBatch]:
        plan = self.epoch_plan(self.epoch)
        while self.position < len(plan):
            start = plan[self.position]
            self.position += 1  # counted before use, as BatchIterator does: a checkpoint resumes with the next
            yield StreamBatch(self.inputs[:, start:start + self.bptt], self.targets[:, start:start + self.bptt],
                              first=start == 0)
        self.epoch, self.position = self.epoch + 1, 0


def _detach(state):
    if state is None:
        return None
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


@torch.no_grad()
def _stream_nll(model: CharLM, ids: np.ndarray, *, streams: int, chunk: int,
                device: torch.device | str) -> torch.Tensor:
    """Negative log-likelihood (nats) of every character of `ids` after the first, as (streams, length):
    the text read as `streams` parallel streams, the state carried through each."""
    was_training = model.training
    model.eval()
    pieces, state = [], None
    for batch in StreamIterator(ids, streams=streams, bptt=chunk):
        logits, state = model(batch.inputs.to(device), state)  # (B, T, V)
        pieces.append(F.cross_entropy(logits.transpose(1, 2).float(), batch.targets.to(device), reduction="none"))
    model.train(was_training)
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
    model.eval()
    with torch.no_grad():
        if argmax:
            (hyp,), = greedy(model, src, limit, max_len=limit, min_length=length)
        else:
            generator = torch.Generator(device=device).manual_seed(seed) if seed is not None else None
            (hyp,), = sample(model, src, limit, max_len=limit, min_length=length, temperature=temperature,
                             top_k=top_k, generator=generator)
    return vocab.decode(hyp.tokens)


class LanguageModelTask:
    """The Trainer's task for CharLMConfig: streams, next-character cross-entropy, dev bits per character."""

    metrics = ("loss", "bpc", "ppl")

    def __init__(self, cfg: CharLMConfig, *, device: torch.device, cluster: Cluster):
        self.cfg, self.device, self.cluster = cfg, device, cluster
        exp_dir = Path(cfg.exp_dir)
        self.vocab = CharVocab.load(exp_dir / "vocab.json")
        self.model = CharLM.from_config(cfg.model, len(self.vocab)).to(device)
        self.iterator = StreamIterator(np.load(exp_dir / "data" / "train.npy"), streams=cfg.train.streams,
                                       bptt=cfg.train.bptt, rank=cluster.rank, world_size=cluster.world_size)
        self.valid = np.load(exp_dir / "data" / "valid.npy")
        self.state = None  # carried from batch to batch
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

    def validate(self) -> tuple[dict, str, str]:
        share = np.array_split(self.valid, self.cluster.world_size)[self.cluster.rank]
        total, count = stream_loss(self.model, share, device=self.device)
        total, count = self.cluster.sum([total, count], self.device, what="validation")
        loss = total / max(count, 1)
        metrics = {"loss": loss, "bpc": loss / LN2, "ppl": math.exp(min(loss, 50.0))}
        return metrics, f"dev loss {loss:.4f}, {metrics['bpc']:.4f} bits per character", ""

    def report(self, monitor, step: int) -> None:
        self.sample = generate(self.model, self.vocab, prime="\n", length=300, temperature=0.8, seed=step,
                               device=self.device)
        monitor.writer.add_text("dev/sample", "    " + self.sample.replace("\n", "\n    "), step)

    def describe(self) -> dict:
        return {"variant": "char_lm", "cell": self.cfg.model.cell}

    def summary(self) -> str:
        m, t = self.cfg.model, self.cfg.train
        return (f"char_lm ({m.cell}, {m.layers} x {m.hidden_size}), {len(self.vocab) - 4} characters, "
                f"{t.streams} streams x {self.iterator.length:,} characters, bptt {t.bptt}")

    def state_dict(self) -> dict:
        if self.state is None:
            return {}
        return {"state": list(self.state) if isinstance(self.state, tuple) else [self.state]}

    def load_state_dict(self, state: dict) -> None:
        saved = state.get("state")
        if saved:
            tensors = [t.to(self.device) for t in saved]
            self.state = tuple(tensors) if len(tensors) == 2 else tensors[0]
