"""Token arrays on disk and token-budget batches over them.

A split is encoded once into a flat token file (`<name>.bin`) plus sentence offsets
(`<name>.idx.npy`), both memory-mapped when read, so the training process never holds
the corpus as Python objects. Batches group sentences of similar length under a padded
token budget; their order is a pure function of (seed, epoch), so a position within an
epoch can be saved and restored exactly, and sharded by rank for distributed training.
"""

from __future__ import annotations

import json
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch

from nmt.batch_plan import make_batches
from nmt.mixture import Mixture
from nmt.specials import BOS, EOS, PAD


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16 if vocab_size <= np.iinfo(np.uint16).max + 1 else np.int32)


def write_token_array(sequences: Iterable[Sequence[int]], prefix: Path, *, vocab_size: int) -> int:
    """Stream id sequences into `<prefix>.bin` + `<prefix>.idx.npy`; returns the token count."""
    dtype = token_dtype(vocab_size)
    offsets = array("q", [0])
    tmp = prefix.with_name(prefix.name + ".bin.tmp")
    with tmp.open("wb") as out:
        for seq in sequences:
            out.write(np.asarray(seq, dtype=dtype).tobytes())
            offsets.append(offsets[-1] + len(seq))
    np.save(prefix.with_name(prefix.name + ".idx.npy"), np.frombuffer(offsets, dtype=np.int64))
    prefix.with_name(prefix.name + ".json").write_text(json.dumps({"dtype": dtype.name}))
    tmp.replace(prefix.with_name(prefix.name + ".bin"))
    return offsets[-1]


class TokenArray:
    """One side of one split: sentence i is `array[i]`, a read-only numpy view."""

    def __init__(self, prefix: str | Path):
        prefix = Path(prefix)
        dtype = json.loads(prefix.with_name(prefix.name + ".json").read_text())["dtype"]
        self.offsets = np.load(prefix.with_name(prefix.name + ".idx.npy"), mmap_mode="r")
        n_tokens = int(self.offsets[-1])
        self.tokens = (
            np.memmap(prefix.with_name(prefix.name + ".bin"), dtype=dtype, mode="r", shape=(n_tokens,))
            if n_tokens else np.zeros(0, dtype=dtype)
        )
        self.lengths = np.diff(self.offsets)

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.tokens[self.offsets[i]:self.offsets[i + 1]]


class ParallelArrays:
    """Source and target token arrays of one split, aligned by index."""

    def __init__(self, data_dir: str | Path, split: str):
        self.src = TokenArray(Path(data_dir) / f"{split}.src")
        self.tgt = TokenArray(Path(data_dir) / f"{split}.tgt")
        if len(self.src) != len(self.tgt):
            raise ValueError(f"{data_dir}/{split}: {len(self.src)} source but {len(self.tgt)} target sentences")

    def __len__(self) -> int:
        return len(self.src)


@dataclass
class Batch:
    """A padded batch. Source ends in EOS; target is split into decoder input and output.

    src: (B, S) ids in the sentence's own order, EOS, then PAD
    src_lengths: (B,) real source lengths, EOS included
    tgt_in: (B, T) BOS y_1 .. y_n, then PAD
    tgt_out: (B, T) y_1 .. y_n EOS, then PAD
    indices: (B,) the sentences' positions in their split
    """

    src: torch.Tensor
    src_lengths: torch.Tensor
    tgt_in: torch.Tensor | None
    tgt_out: torch.Tensor | None
    indices: torch.Tensor

    @property
    def src_mask(self) -> torch.Tensor:
        """(B, S) True at real source positions."""
        return self.src != PAD

    @property
    def n_tgt_tokens(self) -> int:
        return int((self.tgt_out != PAD).sum()) if self.tgt_out is not None else 0

    def to(self, device: torch.device | str) -> Batch:
        move = lambda t: t.to(device, non_blocking=True) if t is not None else None  # noqa: E731
        return Batch(self.src.to(device, non_blocking=True), self.src_lengths, move(self.tgt_in), move(self.tgt_out),
                     self.indices)


def _pad(rows: list[np.ndarray], width: int) -> np.ndarray:
    out = np.full((len(rows), width), PAD, dtype=np.int64)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def collate(
    src_seqs: Sequence[np.ndarray],
    tgt_seqs: Sequence[np.ndarray] | None,
    indices: Sequence[int] | np.ndarray,
) -> Batch:
    """Pad a list of sentences into a Batch: EOS ends each source, BOS/EOS shift the target."""
    src_rows = [np.append(np.asarray(s), EOS) for s in src_seqs]
    src = _pad(src_rows, max(len(r) for r in src_rows))
    lengths = torch.tensor([len(r) for r in src_rows], dtype=torch.long)
    tgt_in = tgt_out = None
    if tgt_seqs is not None:
        width = max(len(t) for t in tgt_seqs) + 1
        tgt_in = torch.from_numpy(_pad([np.insert(np.asarray(t), 0, BOS) for t in tgt_seqs], width))
        tgt_out = torch.from_numpy(_pad([np.append(np.asarray(t), EOS) for t in tgt_seqs], width))
    return Batch(torch.from_numpy(src), lengths, tgt_in, tgt_out, torch.tensor(list(indices), dtype=torch.long))


def shard(batches: list[np.ndarray], *, rank: int, world_size: int) -> list[np.ndarray]:
    """This rank's batches; every rank gets the same count, so all take the same number of steps."""
    usable = len(batches) // world_size * world_size
    return batches[rank:usable:world_size]


class EpochPosition:
    """Where an iterator of epochs stands (epoch, batches of it handed out), saved and restored whole;
    a subclass says what an epoch's batches are (`epoch_plan`)."""

    epoch: int
    position: int

    def epoch_plan(self, epoch: int) -> list[np.ndarray]:
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])

    def batches_in_epoch(self, epoch: int) -> int:
        return len(self.epoch_plan(epoch))


class BatchIterator(EpochPosition):
    """Epochs of training batches with a position that can be saved and restored exactly."""

    def __init__(
        self,
        corpus: ParallelArrays,
        *,
        batch_tokens: int,
        batch_size: int | None,
        seed: int,
        max_src_tokens: int | None = None,
        max_tgt_tokens: int | None = None,
        rank: int = 0,
        world_size: int = 1,
        sampled: Callable[[int], ParallelArrays] | None = None,
        mixture: Mixture | None = None,
    ):
        """`corpus` every epoch, or with `sampled` (subword regularisation: nmt/sampling.py) the
        arrays it gives for each epoch; `corpus` then only tells how many pairs the limits leave out.
        With `mixture` (several weighted or tagged corpora: nmt/mixture.py) an epoch holds the pairs it
        draws, and tagged sources start with their tag."""
        self.corpus, self.sampled, self.mixture = corpus, sampled, mixture
        self.batch_tokens, self.batch_size, self.seed = batch_tokens, batch_size, seed
        self.max_src_tokens, self.max_tgt_tokens = max_src_tokens, max_tgt_tokens
        self.rank, self.world_size = rank, world_size
        self.keep = self._keep(corpus)
        self.n_left_out = int((~self.keep).sum())
        self.epoch, self.position = 1, 0

    def _keep(self, corpus: ParallelArrays) -> np.ndarray:
        """The pairs within the length limits."""
        keep = np.ones(len(corpus), dtype=bool)
        if self.max_src_tokens is not None:
            keep &= corpus.src.lengths <= self.max_src_tokens
        if self.max_tgt_tokens is not None:
            keep &= corpus.tgt.lengths <= self.max_tgt_tokens
        return keep

    def corpus_of(self, epoch: int) -> ParallelArrays:
        return self.sampled(epoch) if self.sampled is not None else self.corpus

    def epoch_plan(self, epoch: int) -> list[np.ndarray]:
        """This process's batches of the epoch, as pair indices."""
        corpus = self.corpus_of(epoch)
        keep = self.keep if corpus is self.corpus else self._keep(corpus)
        src_lengths, tgt_lengths = corpus.src.lengths, corpus.tgt.lengths
        if self.mixture is None:
            batches = make_batches(src_lengths, tgt_lengths, batch_tokens=self.batch_tokens,
                                   batch_size=self.batch_size, seed=self.seed, epoch=epoch, keep=keep)
        else:
            pairs = self.mixture.draw(self.seed, epoch)
            pairs = pairs[keep[pairs]]
            positions = make_batches(src_lengths[pairs] + self.mixture.tag_lengths[pairs], tgt_lengths[pairs],
                                     batch_tokens=self.batch_tokens, batch_size=self.batch_size,
                                     seed=self.seed, epoch=epoch)
            batches = [pairs[batch] for batch in positions]
        return shard(batches, rank=self.rank, world_size=self.world_size)

    def __iter__(self) -> Iterator[Batch]:
        """The rest of the current epoch; afterwards the iterator stands at the next epoch's start."""
        corpus, plan = self.corpus_of(self.epoch), self.epoch_plan(self.epoch)
        while self.position < len(plan):
            indices = plan[self.position]
            # Count the batch as consumed before it is used: a checkpoint taken after the
            # update then resumes with the next batch.
            self.position += 1
            sources = [corpus.src[i] for i in indices]
            if self.mixture is not None:
                sources = [self.mixture.source(i, tokens) for i, tokens in zip(indices, sources)]
            yield collate(sources, [corpus.tgt[i] for i in indices], indices)
        self.epoch, self.position = self.epoch + 1, 0
