"""The seed's character-level language model (Karpathy 2015, "The Unreasonable Effectiveness of
Recurrent Neural Networks"): characters in, a softmax over the next character out.

It is a decoder without a source, built from the cells the translation models use
(`nmt.models.encoder.make_rnn`: fused LSTM, GRU or tanh RNN), and it offers the same step
interface, so sampling is `nmt.search.sample` and argmax is `nmt.search.greedy`: the prime
text is its "source", and BOS stands for the prime's last character.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from nmt.config import save_config
from nmt.errors import DataError
from nmt.lm_config import CharLMConfig, CharModelConfig
from nmt.models.cells import Cell
from nmt.models.encoder import make_rnn
from nmt.models.state import DecoderState, RowSelectable, batch_dim, new_state
from nmt.tokenizer import BOS, EOS, PAD, UNK

SPECIALS = ["<unk>", "<pad>", "<s>", "</s>"]  # the toolkit's fixed ids 0-3; characters start at 4


# ---------------------------------------------------------------- characters

class CharVocab:
    """Characters of the training text, most frequent first, after the four special symbols."""

    def __init__(self, chars: list[str]):
        self.itos = SPECIALS + chars
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    @classmethod
    def from_text(cls, text: str) -> "CharVocab":
        return cls([c for c, _ in sorted(Counter(text).items(), key=lambda item: (-item[1], item[0]))])

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> np.ndarray:
        return np.fromiter((self.stoi.get(c, UNK) for c in text), dtype=np.int32, count=len(text))

    def decode(self, ids) -> str:
        return "".join(self.itos[i] if i >= len(SPECIALS) else ("\ufffd" if i == UNK else "") for i in map(int, ids))

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"chars": self.itos[len(SPECIALS):]}, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "CharVocab":
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


def prepare(cfg: CharLMConfig, log=print) -> CharVocab:
    """The vocabulary (from the training text) and each split as an id array in exp_dir/data."""
    data_dir = Path(cfg.exp_dir) / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    train = read_text(cfg.data.train)
    if len(train) < 2:
        raise DataError(f"char_lm: {cfg.data.train} holds no text to learn from")
    vocab = CharVocab.from_text(train)
    vocab.save(Path(cfg.exp_dir) / "vocab.json")
    save_config(cfg, Path(cfg.exp_dir) / "config.yaml")
    for split in ("train", "valid", "test"):
        source = getattr(cfg.data, split)
        if source:
            ids = vocab.encode(train if split == "train" else read_text(source))
            np.save(data_dir / f"{split}.npy", ids.astype(np.uint16 if len(vocab) < 65536 else np.int32))
            unknown = int((ids == UNK).sum())
            log(f"{split}: {len(ids):,} characters" + (f" ({unknown:,} unknown)" if unknown else ""))
    log(f"vocabulary: {len(vocab) - len(SPECIALS)} characters")
    return vocab


# ---------------------------------------------------------------- the model

@dataclass
class PrimeMemory(RowSelectable):
    """What sampling starts from: the state after reading the prime but its last character, and that character."""

    last: torch.Tensor  # (B,) what a BOS input stands for
    hidden: torch.Tensor | None = field(default=None, metadata=batch_dim(1))  # (L, B, H)
    cell: torch.Tensor | None = field(default=None, metadata=batch_dim(1))


class CharLM(nn.Module):
    def __init__(self, *, vocab_size: int, cell: Cell, embed_size: int, hidden_size: int, layers: int, dropout: float):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=PAD)
        self.rnn = make_rnn(cell, embed_size, hidden_size, layers, dropout=dropout)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(hidden_size, vocab_size)

    @classmethod
    def from_config(cls, cfg: CharModelConfig, vocab_size: int) -> "CharLM":
        return cls(vocab_size=vocab_size, **dataclasses.asdict(cfg))

    def forward(self, inputs: torch.Tensor, state=None):
        """inputs (B, T) -> logits (B, T, V) and the RNN state after the last step (carry it on)."""
        outputs, state = self.rnn(self.dropout(self.embedding(inputs)), state)
        return self.output(self.dropout(outputs)), state

    # The step interface (nmt.decoding.StepModel): the prime is the source.
    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> PrimeMemory:
        """src (B, S): prime texts of one length, as ids (no EOS); the RNN reads all but the last."""
        if src.shape[1] == 1:
            return PrimeMemory(last=src[:, 0])
        _, rnn_state = self.rnn(self.embedding(src[:, :-1]))
        state = new_state(rnn_state)
        return PrimeMemory(last=src[:, -1], hidden=state.hidden, cell=state.cell)

    def init_state(self, memory: PrimeMemory) -> DecoderState | None:
        return DecoderState(memory.hidden, memory.cell) if memory.hidden is not None else None

    def step(self, prev_tokens: torch.Tensor, state: DecoderState | None, memory: PrimeMemory):
        tokens = torch.where(prev_tokens == BOS, memory.last, prev_tokens)  # (B,)
        rnn_state = state.rnn_state if state is not None else None
        outputs, rnn_state = self.rnn(self.embedding(tokens)[:, None], rnn_state)
        logits = self.output(outputs[:, 0]).float()
        logits[:, [UNK, PAD, BOS, EOS]] = float("-inf")  # never written; the search adds EOS at the length limit
        return torch.log_softmax(logits, dim=-1), new_state(rnn_state), None

    def reorder(self, state, memory, index):
        return (state.select(index) if state is not None else None), (memory.select(index) if memory is not None else None)


def load_char_model(exp_dir: str | Path, *, checkpoint: str = "best", device: str | torch.device = "cpu"):
    """(config, vocabulary, model with the weights of `checkpoint`: best, last or a path) of a char_lm run."""
    from nmt.checkpoint import load_checkpoint
    from nmt.config import load_config, read_task
    from nmt.experiment import checkpoint_path

    exp_dir = Path(exp_dir)
    if not (exp_dir / "config.yaml").is_file():
        raise DataError(f"char_lm: {exp_dir} is not an experiment directory (no config.yaml)")
    if read_task(exp_dir / "config.yaml") != "char_lm":
        raise DataError(f"char_lm: {exp_dir} holds a translation model, not a character model "
                        "(task: char_lm); translate with nmt-translate")
    cfg = load_config(exp_dir / "config.yaml", schema=CharLMConfig)
    vocab = CharVocab.load(exp_dir / "vocab.json")
    model = CharLM.from_config(cfg.model, len(vocab))
    path = checkpoint_path(exp_dir, checkpoint)
    try:
        model.load_state_dict(load_checkpoint(path)["model"])
    except RuntimeError as err:
        raise DataError(f"char_lm: {path} does not fit the model in {exp_dir / 'config.yaml'} ({str(err)[:200]})") from None
    return cfg, vocab, model.to(device).eval()
