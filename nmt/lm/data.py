"""The character model's data: a vocabulary of the training text's characters, each split as an id
array in the experiment directory, and the stream batches truncated BPTT trains on.

The training text is cut into B parallel streams (B per process: under torchrun every process
takes streams of its own). A batch is the next `bptt` characters of every stream; the hidden
state carries from one batch to the next, detached at the boundary, so gradients reach back
at most `bptt` steps while the state remembers further. An epoch is one pass over the
streams; its start resets the state.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from nmt.config_files import save_config
from nmt.errors import DataError
from nmt.lm.config import CharLMConfig
from nmt.specials import SPECIAL_PIECES, UNK

SPLITS = ("train", "dev", "test")


class CharVocab:
    """Characters of the training text, most frequent first, after the four special symbols."""

    def __init__(self, chars: list[str]):
        self.itos = [*SPECIAL_PIECES, *chars]  # the toolkit's fixed ids 0-3; characters from 4
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    @classmethod
    def from_text(cls, text: str) -> CharVocab:
        return cls([c for c, _ in sorted(Counter(text).items(), key=lambda item: (-item[1], item[0]))])

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> np.ndarray:
        return np.fromiter((self.stoi.get(c, UNK) for c in text), dtype=np.int32, count=len(text))

    def decode(self, ids) -> str:
        return "".join(self.itos[i] if i >= len(SPECIAL_PIECES) else ("\ufffd" if i == UNK else "") for i in map(int, ids))

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"chars": self.itos[len(SPECIAL_PIECES):]}, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> CharVocab:
        if not path.is_file():
            raise DataError(f"char_lm: no vocabulary {path} (train the model first)")
        return cls(json.loads(path.read_text(encoding="utf-8"))["chars"])


def read_text(path: str | Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"char_lm: file not found: {path}") from None
    except UnicodeDecodeError as err:
        raise DataError(f"char_lm: {path} is not UTF-8 text (byte {err.start})") from None


def prepare(cfg: CharLMConfig, *, log: Callable[[str], None] = print, tokenizer_from: Path | None = None) -> dict:
    """The vocabulary (from the training text) and each split as an id array in exp_dir/data;
    returns their sizes. (`tokenizer_from` is translation's: a character model starts afresh.)"""
    data_dir = Path(cfg.exp_dir) / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    train = read_text(cfg.data.train)
    if len(train) < 2:
        raise DataError(f"char_lm: {cfg.data.train} holds no text to learn from")
    vocab = CharVocab.from_text(train)
    vocab.save(Path(cfg.exp_dir) / "vocab.json")
    save_config(cfg, Path(cfg.exp_dir) / "config.yaml")
    summary: dict = {"exp_dir": cfg.exp_dir, "vocabulary": len(vocab) - len(SPECIAL_PIECES), "splits": {}}
    for split in SPLITS:
        source = getattr(cfg.data, split)
        if source:
            ids = vocab.encode(train if split == "train" else read_text(source))
            np.save(data_dir / f"{split}.npy", ids.astype(np.uint16 if len(vocab) < 65536 else np.int32))
            summary["splits"][split] = {"characters": len(ids), "unknown": int((ids == UNK).sum())}
    return summary


def format_summary(summary: dict, cfg: CharLMConfig) -> str:
    lines = [f"{split}: {sizes['characters']:,} characters" + (f" ({sizes['unknown']:,} unknown)" if sizes["unknown"] else "")
             for split, sizes in summary["splits"].items()]
    return "\n".join(lines + [f"vocabulary: {summary['vocabulary']} characters; data in {summary['exp_dir']}/data"])


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

    def batches_in_epoch(self, epoch: int) -> int:
        return len(self.epoch_plan(epoch))

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
