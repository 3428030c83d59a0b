"""The seed's character-level language model (Karpathy 2015, "The Unreasonable Effectiveness of
Recurrent Neural Networks"): characters in, a softmax over the next character out.

It is a decoder without a source, built from the cells the translation models use
(`nmt.models.encoder.make_rnn`: fused LSTM, GRU or tanh RNN), and it offers the same step
interface, so sampling is `nmt.search.sample` and argmax is `nmt.search.greedy`: the prime
text is its "source", and BOS stands for the prime's last character.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from nmt.checkpoint import checkpoint_path, load_weights
from nmt.lm.config import CharModelConfig
from nmt.lm.data import CharVocab
from nmt.models.encoder import make_rnn
from nmt.models.state import DecoderState, RowSelectable, batch_dim, new_state
from nmt.specials import BOS, EOS, PAD, UNK
from nmt.tasks import load_config
from nmt.variants import Cell


@dataclass
class PrimeMemory(RowSelectable):
    """What sampling starts from: the state after reading the prime but its last character, and that character."""

    last: torch.Tensor  # (B,) what a BOS input stands for
    hidden: torch.Tensor | None = field(default=None, metadata=batch_dim(1))  # (L, B, H)
    cell: torch.Tensor | None = field(default=None, metadata=batch_dim(1))


class CharLM(nn.Module):
    def __init__(self, *, vocab_size: int, cell: Cell, embed_size: int, hidden_size: int, num_layers: int,
                 dropout: float):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=PAD)
        self.rnn = make_rnn(cell, embed_size, hidden_size, num_layers, dropout=dropout)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(hidden_size, vocab_size)

    @classmethod
    def from_config(cls, cfg: CharModelConfig, vocab_size: int) -> CharLM:
        return cls(vocab_size=vocab_size, cell=cfg.cell, embed_size=cfg.embed_size, hidden_size=cfg.hidden_size,
                   num_layers=cfg.num_layers, dropout=cfg.dropout)

    def forward(self, inputs: torch.Tensor, state=None):
        """inputs (B, T) -> logits (B, T, V) and the RNN state after the last step (carry it on)."""
        outputs, state = self.rnn(self.dropout(self.embedding(inputs)), state)
        return self.output(self.dropout(outputs)), state

    # The step interface (nmt.search.StepModel): the prime is the source.
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
    """(config, vocabulary, model with the weights of `checkpoint`: best, last or a path) of a char_lm run.
    The character model's `load` in the registry: callers go through nmt.tasks.load_trained."""
    exp_dir = Path(exp_dir)
    cfg = load_config(exp_dir / "config.yaml")
    vocab = CharVocab.load(exp_dir / "vocab.json")
    model = CharLM.from_config(cfg.model, len(vocab))
    path = checkpoint_path(exp_dir, checkpoint)
    load_weights(model, path, mismatch=f"char_lm: {path} does not fit the model in {exp_dir / 'config.yaml'}")
    return cfg, vocab, model.to(device).eval()
