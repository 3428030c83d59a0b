"""Decoders that see the source through a fixed vector: `plain` (Sutskever 2014) and `context` (Cho 2014).

Also the parts attentional decoders share with them: the bridge from encoder to decoder
states and the maxout output layer. Each decoder follows `nmt.models.state.Decoder` and is
built by its `from_config`; the attentional decoders live in `attentional.py`.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from nmt.config import ModelConfig
from nmt.models.cells import Cell
from nmt.models.encoder import Encoder, EncoderOutput, make_rnn
from nmt.models.state import DecoderState, Memory, new_state, state_from_memory


def top_final(encoded: EncoderOutput, *, backward_only: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The top encoder layer's final states, directions concatenated: (B, H x dirs).

    `backward_only` takes the backward direction's state at the first token (Bahdanau's <-h_1).
    """
    def join(final: torch.Tensor | None) -> torch.Tensor | None:
        if final is None:
            return None
        top = final[-1]  # (dirs, B, H)
        if backward_only:
            return top[-1]
        return torch.cat(list(top), dim=-1)

    hidden = join(encoded.final_hidden)
    assert hidden is not None
    return hidden, join(encoded.final_cell)


def rnn_arguments(cfg: ModelConfig) -> dict:
    """The decoder RNN's own arguments, as every decoder's constructor takes them."""
    return dict(cell=cfg.cell, embed_size=cfg.embed_size, hidden_size=cfg.decoder_hidden,
                num_layers=cfg.decoder_layers, dropout=cfg.dropout)


def stepped_rnn_arguments(cfg: ModelConfig) -> dict:
    """rnn_arguments, and what only a decoder that steps a StackedCell can do."""
    return dict(rnn_arguments(cfg), layer_norm=cfg.decoder_layer_norm)


def encoder_shape(cfg: ModelConfig, encoder: Encoder) -> dict:
    """What a decoder that bridges from or attends to the encoder needs to know of its shape."""
    return dict(encoder_hidden=cfg.encoder_hidden, encoder_layers=cfg.encoder_layers,
                encoder_directions=encoder.directions)


class DenseBridge(nn.Module):
    """Decoder start states tanh(W h_enc) for every decoder layer, where shapes differ or the paper says so."""

    def __init__(self, *, input_size: int, hidden_size: int, num_layers: int, with_cell: bool):
        super().__init__()
        self.shape = (num_layers, hidden_size)
        self.hidden = nn.Linear(input_size, num_layers * hidden_size)
        self.cell = nn.Linear(input_size, num_layers * hidden_size) if with_cell else None

    def forward(self, hidden: torch.Tensor, cell: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, D) -> (B, L, H) for the hidden and (for LSTMs) the cell state."""
        start_hidden = torch.tanh(self.hidden(hidden)).unflatten(-1, self.shape)  # (B, L*H) -> (B, L, H)
        if self.cell is None:
            return start_hidden, None
        return start_hidden, torch.tanh(self.cell(cell)).unflatten(-1, self.shape)


class InitialState(nn.Module):
    """Copies the encoder's final states where shapes match (Sutskever), else bridges them."""

    def __init__(self, *, cell: Cell, encoder_hidden: int, encoder_layers: int, encoder_directions: int,
                 hidden_size: int, num_layers: int, backward_only: bool = False):
        super().__init__()
        self.backward_only = backward_only
        self.copy = (encoder_directions == 1 and encoder_layers == num_layers
                     and encoder_hidden == hidden_size and not backward_only)
        input_size = encoder_hidden * (1 if backward_only else encoder_directions)
        self.bridge = None if self.copy else DenseBridge(
            input_size=input_size, hidden_size=hidden_size, num_layers=num_layers, with_cell=cell == "lstm")

    def forward(self, encoded: EncoderOutput) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.copy:  # (L, 1, B, H) -> (B, L, H)
            cell = encoded.final_cell[:, 0].transpose(0, 1) if encoded.final_cell is not None else None
            return encoded.final_hidden[:, 0].transpose(0, 1), cell
        assert self.bridge is not None
        return self.bridge(*top_final(encoded, backward_only=self.backward_only))


class Maxout(nn.Module):
    """A deep-output layer with one maxout hidden layer (Goodfellow 2013), as in Cho and Bahdanau 2014."""

    def __init__(self, input_size: int, output_size: int, pool: int = 2):
        super().__init__()
        self.shape = (output_size, pool)
        self.linear = nn.Linear(input_size, output_size * pool)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.pool(self.linear(inputs))

    def pool(self, projected: torch.Tensor) -> torch.Tensor:
        """(..., out*pool) -> (..., out): the max of each unit's pieces."""
        return projected.unflatten(-1, self.shape).amax(-1)


def float_weight(linear: nn.Module) -> torch.Tensor:
    """A linear layer's weight (out, in) as floats, also when it is dynamically quantized
    (nmt-translate --quantize keeps the weights packed behind a method)."""
    weight: Any = linear.weight
    return weight().dequantize() if callable(weight) else weight


def float_bias(linear: nn.Module) -> torch.Tensor | None:
    bias: Any = linear.bias
    return bias() if callable(bias) else bias


class PlainDecoder(nn.Module):
    """Sutskever 2014: the RNN starts from the encoder's final state and sees no more of the source."""

    def __init__(self, *, cell: Cell, embed_size: int, hidden_size: int, num_layers: int, dropout: float,
                 encoder_hidden: int, encoder_layers: int, encoder_directions: int):
        super().__init__()
        self.rnn = make_rnn(cell, embed_size, hidden_size, num_layers, dropout=dropout)
        self.initial = InitialState(cell=cell, encoder_hidden=encoder_hidden, encoder_layers=encoder_layers,
                                    encoder_directions=encoder_directions, hidden_size=hidden_size, num_layers=num_layers)
        self.feature_size = hidden_size
        self.stepwise = False  # one fused call

    @classmethod
    def from_config(cls, cfg: ModelConfig, encoder: Encoder) -> PlainDecoder:
        return cls(**rnn_arguments(cfg), **encoder_shape(cfg, encoder))

    def make_memory(self, encoded: EncoderOutput) -> Memory:
        hidden, cell = self.initial(encoded)
        return Memory(states=encoded.states, mask=encoded.mask, init_hidden=hidden, init_cell=cell)

    def init_state(self, memory: Memory) -> DecoderState:
        return state_from_memory(memory)

    def forward(self, embedded: torch.Tensor, state: DecoderState, memory: Memory, running: Sequence[int] | None = None):
        outputs, _ = self.rnn(embedded, state.rnn_state)  # one fused call over all T steps
        return outputs, None

    def step(self, embedded: torch.Tensor, state: DecoderState, memory: Memory):
        outputs, rnn_state = self.rnn(embedded[:, None], state.rnn_state)
        return outputs[:, 0], new_state(rnn_state), None


class ContextDecoder(nn.Module):
    """Cho 2014: c = tanh(V h_S) starts the RNN (h_0 = tanh(V' c)) and is read at every step and by the output.

    The RNN reads [E y_{t-1}; c]; the maxout output layer reads [h_t; E y_{t-1}; c].
    """

    def __init__(self, *, cell: Cell, embed_size: int, hidden_size: int, num_layers: int, dropout: float,
                 encoder_output_size: int):
        super().__init__()
        self.cell, self.shape = cell, (num_layers, hidden_size)
        self.summarize = nn.Linear(encoder_output_size, hidden_size)  # V
        self.start = nn.Linear(hidden_size, num_layers * hidden_size)  # V'
        self.rnn = make_rnn(cell, embed_size + hidden_size, hidden_size, num_layers, dropout=dropout)
        self.readout = Maxout(hidden_size + embed_size + hidden_size, hidden_size // 2)
        self.feature_size = hidden_size // 2
        self.stepwise = False  # one fused call

    @classmethod
    def from_config(cls, cfg: ModelConfig, encoder: Encoder) -> ContextDecoder:
        return cls(**rnn_arguments(cfg), encoder_output_size=encoder.output_size)

    def make_memory(self, encoded: EncoderOutput) -> Memory:
        summary = torch.tanh(self.summarize(top_final(encoded)[0]))  # (B, C)
        hidden = torch.tanh(self.start(summary)).unflatten(-1, self.shape)  # (B, L*H) -> (B, L, H)
        cell = torch.zeros_like(hidden) if self.cell == "lstm" else None
        return Memory(states=encoded.states, mask=encoded.mask, init_hidden=hidden, init_cell=cell, summary=summary)

    def init_state(self, memory: Memory) -> DecoderState:
        return state_from_memory(memory)

    def forward(self, embedded: torch.Tensor, state: DecoderState, memory: Memory, running: Sequence[int] | None = None):
        assert memory.summary is not None
        summary = memory.summary[:, None, :].expand(-1, embedded.shape[1], -1)  # (B, C) -> (B, T, C)
        outputs, _ = self.rnn(torch.cat([embedded, summary], dim=-1), state.rnn_state)
        return self.readout(torch.cat([outputs, embedded, summary], dim=-1)), None

    def step(self, embedded: torch.Tensor, state: DecoderState, memory: Memory):
        assert memory.summary is not None
        inputs = torch.cat([embedded, memory.summary], dim=-1)
        outputs, rnn_state = self.rnn(inputs[:, None], state.rnn_state)
        features = self.readout(torch.cat([outputs[:, 0], embedded, memory.summary], dim=-1))
        return features, new_state(rnn_state), None
