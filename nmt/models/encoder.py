"""The recurrent encoder: embeddings, then a stacked uni- or bidirectional LSTM, GRU or tanh RNN."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from nmt.models.cells import Cell, set_forget_bias
from nmt.models.dropout import WordDropout

RNN_CLASSES = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


def make_rnn(cell: Cell, input_size: int, hidden_size: int, num_layers: int, *,
             dropout: float, bidirectional: bool = False) -> nn.RNNBase:
    """A fused torch RNN, batch first; tanh for the plain RNN, forget-gate bias 1 for the LSTM."""
    rnn = RNN_CLASSES[cell](
        input_size, hidden_size, num_layers, batch_first=True,
        dropout=dropout if num_layers > 1 else 0.0, bidirectional=bidirectional,
    )
    if cell == "lstm":
        set_forget_bias(rnn)
    return rnn


@dataclass
class EncoderOutput:
    """states: (B, S, D) annotations, D = hidden x directions, zero at padding
    mask: (B, S) True at real positions
    final_hidden, final_cell: (layers, directions, B, H) states at each sentence's real end
    (for the backward direction, at its first token); final_cell is None unless LSTM
    """

    states: torch.Tensor
    mask: torch.Tensor
    final_hidden: torch.Tensor
    final_cell: torch.Tensor | None


class Encoder(nn.Module):
    def __init__(self, *, embedding: nn.Embedding, cell: Cell, hidden_size: int, num_layers: int,
                 bidirectional: bool, dropout: float, embed_dropout: float | None = None, word_dropout: float = 0.0):
        """`dropout` on hidden states (between layers, on the states the decoder reads); `embed_dropout`
        on the embeddings (default: `dropout`); `word_dropout`: whole source tokens."""
        super().__init__()
        self.embedding = embedding
        self.cell, self.hidden_size, self.num_layers = cell, hidden_size, num_layers
        self.directions = 2 if bidirectional else 1
        self.rnn = make_rnn(cell, embedding.embedding_dim, hidden_size, num_layers,
                            dropout=dropout, bidirectional=bidirectional)
        self.word_dropout = WordDropout(word_dropout)
        self.embed_dropout = nn.Dropout(dropout if embed_dropout is None else embed_dropout)
        self.dropout = nn.Dropout(dropout)

    @property
    def output_size(self) -> int:
        return self.hidden_size * self.directions

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor) -> EncoderOutput:
        """src: (B, S) ids; src_lengths: (B,) real lengths (on the CPU)."""
        batch, width = src.shape
        embedded = self.embed_dropout(self.word_dropout(self.embedding(src)))  # (B, S, E)
        # Packing keeps padding out of the recurrence, so final states sit at each real end.
        packed = pack_padded_sequence(embedded, src_lengths.cpu(), batch_first=True, enforce_sorted=False)
        outputs, final = self.rnn(packed)
        states, _ = pad_packed_sequence(outputs, batch_first=True, total_length=width)  # (B, S, D)
        hidden, cell = final if self.cell == "lstm" else (final, None)
        shape = (self.num_layers, self.directions, batch, self.hidden_size)  # (L*dirs, B, H) -> (L, dirs, B, H)
        return EncoderOutput(
            states=self.dropout(states),
            mask=torch.arange(width, device=src.device)[None, :] < src_lengths.to(src.device)[:, None],
            final_hidden=hidden.view(shape),
            final_cell=cell.view(shape) if cell is not None else None,
        )
