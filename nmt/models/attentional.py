"""Attentional decoders: `bahdanau` (RNNsearch, Bahdanau 2014) and `luong` (Luong 2015).

Both follow `nmt.models.state.Decoder`. Where a step depends on the previous one beyond the RNN
state (Bahdanau's context enters the RNN; Luong's input feeding), `forward` loops over
time, with everything independent of the previous step computed before the loop: the
attention keys (in make_memory) and the embedding half of the input projection. The
output layer runs once over all steps after the loop.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nmt.config import ModelConfig
from nmt.models.attention import AdditiveAttention, MultiplicativeAttention
from nmt.models.cells import Cell, StackedCell
from nmt.models.decoder import InitialState, Maxout, encoder_shape, float_bias, float_weight, stepped_rnn_arguments
from nmt.models.encoder import Encoder, EncoderOutput, make_rnn
from nmt.models.state import DecoderState, Memory, new_state, run_steps, state_from_memory


class BahdanauDecoder(nn.Module):
    """s_i = f(s_{i-1}, [E y_{i-1}; c_i]) with c_i = sum_j a_ij h_j, a_i = softmax(v^T tanh(W s_{i-1} + U h_j)).

    Starts from s_0 = tanh(W_s <-h_1) (the backward encoder state); the maxout output layer
    reads [s_i; E y_{i-1}; c_i]. With `gate` (Show, Attend and Tell's beta), c_i is
    sigmoid(w . s_{i-1} + b) * sum_j a_ij h_j wherever it is read.
    """

    def __init__(self, *, cell: Cell, embed_size: int, hidden_size: int, num_layers: int, dropout: float,
                 encoder_hidden: int, encoder_layers: int, encoder_directions: int, attention_size: int,
                 layer_norm: bool = False, gate: bool = False):
        super().__init__()
        context_size = encoder_hidden * encoder_directions
        self.gate = nn.Linear(hidden_size, 1) if gate else None
        self.attention = AdditiveAttention(query_size=hidden_size, key_size=context_size, attention_size=attention_size)
        self.rnn = StackedCell(cell=cell, embed_size=embed_size, extra_size=context_size, hidden_size=hidden_size,
                               num_layers=num_layers, dropout=dropout, layer_norm=layer_norm)
        self.initial = InitialState(cell=cell, encoder_hidden=encoder_hidden, encoder_layers=encoder_layers,
                                    encoder_directions=encoder_directions, hidden_size=hidden_size,
                                    num_layers=num_layers, backward_only=encoder_directions == 2)
        self.readout = Maxout(hidden_size + embed_size + context_size, hidden_size // 2)
        self.feature_size = hidden_size // 2
        self.context_from = hidden_size + embed_size  # where c_i starts in the readout's input
        self.shares_memory = True  # a step reads Memory.beams state rows per memory row
        self.stepwise = True
        self.readout_width = self.readout.linear.out_features

    @classmethod
    def from_config(cls, cfg: ModelConfig, encoder: Encoder) -> BahdanauDecoder:
        return cls(**stepped_rnn_arguments(cfg), **encoder_shape(cfg, encoder), attention_size=cfg.attention_size,
                   gate=cfg.attention_gate)

    def make_memory(self, encoded: EncoderOutput) -> Memory:
        hidden, cell = self.initial(encoded)
        return Memory(states=encoded.states, mask=encoded.mask, init_hidden=hidden, init_cell=cell,
                      keys=self.attention.project_keys(encoded.states))

    def with_values(self, memory: Memory) -> Memory:
        """`memory` with its annotations as beam search's steps read them: times the first layer's
        context weights and the readout's, so a step mixes (B, S, G + 2R) rows with its weights
        instead of forming c_i (B, C) and multiplying it by two matrices (the products are linear in
        c_i). That pays where K hypotheses share a sentence's rows; for one row a sentence (greedy,
        training) it costs as many products as it saves, and more memory traffic."""
        context_weights = torch.cat([float_weight(self.rnn.extra_proj), self._readout_weight(self.context_from)])
        return dataclasses.replace(memory, values=F.linear(memory.states, context_weights))  # (B, S, G + 2R)

    def _readout_weight(self, start: int, stop: int | None = None) -> torch.Tensor:
        """The readout's weights of its inputs [s_i; E y_{i-1}; c_i][start:stop]."""
        return float_weight(self.readout.linear)[:, start:stop]

    def init_state(self, memory: Memory) -> DecoderState:
        return state_from_memory(memory)

    def _advance(self, projected: torch.Tensor, state: DecoderState, memory: Memory):
        """One step from the projected embedding (B, G): attend with s_{i-1}, then update the RNN.
        Returns the new top state, what the readout reads of the context (c_i itself (B, C), or with
        memory.values its share W c_i (B, 2R)), the weights and the state."""
        assert memory.keys is not None
        query = state.hidden[-1]
        weights = self.attention.weights(query, memory.keys, memory.mask)  # (B, S)
        gate = torch.sigmoid(self.gate(query)) if self.gate is not None else None  # (B, 1): beta
        by_sentence = weights.view(memory.keys.shape[0], -1, weights.shape[-1])  # (sentences, beams, S)
        if memory.values is None:
            context = torch.bmm(by_sentence, memory.states).flatten(0, 1)  # (B, C)
            context = gate * context if gate is not None else context
            output, hidden, cell = self.rnn(projected, context, state.hidden, state.cell)
            return output, context, weights, DecoderState(hidden, cell)
        read = torch.bmm(by_sentence, memory.values).flatten(0, 1)  # sum_j a_ij (W h_j)
        read = gate * read if gate is not None else read  # beta c_i, read
        to_rnn, to_readout = read.split([read.shape[1] - self.readout_width, self.readout_width], dim=1)
        output, hidden, cell = self.rnn.forward_projected(projected + to_rnn, state.hidden, state.cell)
        return output, to_readout, weights, DecoderState(hidden, cell)

    def _read_out(self, outputs: torch.Tensor, embedded: torch.Tensor, read: torch.Tensor, memory: Memory) -> torch.Tensor:
        """Maxout over W [s_i; E y_{i-1}; c_i] + b, given c_i or (with memory.values) W's c_i part (..., 2R)."""
        if memory.values is None:
            return self.readout(torch.cat([outputs, embedded, read], dim=-1))
        own = F.linear(torch.cat([outputs, embedded], dim=-1), self._readout_weight(0, self.context_from),
                       float_bias(self.readout.linear))
        return self.readout.pool(own + read)

    def forward(self, embedded: torch.Tensor, state: DecoderState, memory: Memory, running: Sequence[int] | None = None):
        # (B, T, G) computed outside the loop; unbind, not [:, t]: a slice's backward would
        # write a full-size zero gradient at every step.
        projected = self.rnn.project_embeddings(embedded).unbind(1)
        outputs, reads, weights = run_steps(self._advance, projected, state, memory, running)
        return self._read_out(outputs, embedded, reads, memory), weights

    def step(self, embedded: torch.Tensor, state: DecoderState, memory: Memory):
        output, read, weights, state = self._advance(self.rnn.project_embeddings(embedded), state, memory)
        return self._read_out(output, embedded, read, memory), state, weights


class LuongDecoder(nn.Module):
    """h_t = f(h_{t-1}, x_t); c_t attends with h_t; output h~_t = tanh(W_c [c_t; h_t]).

    With input feeding x_t = [E y_{t-1}; h~_{t-1}], else x_t = E y_{t-1} and the whole
    training forward is one fused RNN call plus batched attention.
    """

    def __init__(self, *, cell: Cell, embed_size: int, hidden_size: int, num_layers: int, dropout: float,
                 encoder_hidden: int, encoder_layers: int, encoder_directions: int,
                 score: Literal["dot", "general"], input_feeding: bool, layer_norm: bool = False):
        super().__init__()
        context_size = encoder_hidden * encoder_directions
        self.input_feeding, self.hidden_size = input_feeding, hidden_size
        self.rnn: StackedCell | nn.RNNBase
        if input_feeding:
            self.rnn = StackedCell(cell=cell, embed_size=embed_size, extra_size=hidden_size, hidden_size=hidden_size,
                                   num_layers=num_layers, dropout=dropout, layer_norm=layer_norm)
        else:
            self.rnn = make_rnn(cell, embed_size, hidden_size, num_layers, dropout=dropout)
        self.attention = MultiplicativeAttention(score=score, query_size=hidden_size, key_size=context_size)
        self.combine = nn.Linear(context_size + hidden_size, hidden_size, bias=False)  # W_c
        self.shares_memory = True  # a step reads Memory.beams state rows per memory row
        self.stepwise = input_feeding  # without it, one fused RNN call
        self.initial = InitialState(cell=cell, encoder_hidden=encoder_hidden, encoder_layers=encoder_layers,
                                    encoder_directions=encoder_directions, hidden_size=hidden_size, num_layers=num_layers)
        self.feature_size = hidden_size

    @classmethod
    def from_config(cls, cfg: ModelConfig, encoder: Encoder) -> LuongDecoder:
        return cls(**stepped_rnn_arguments(cfg), **encoder_shape(cfg, encoder), score=cfg.score,
                   input_feeding=cfg.input_feeding)

    def make_memory(self, encoded: EncoderOutput) -> Memory:
        hidden, cell = self.initial(encoded)
        return Memory(states=encoded.states, mask=encoded.mask, init_hidden=hidden, init_cell=cell,
                      keys=self.attention.project_keys(encoded.states))

    def init_state(self, memory: Memory) -> DecoderState:
        state = state_from_memory(memory)
        if self.input_feeding:
            state.feed = memory.states.new_zeros(memory.states.shape[0], self.hidden_size)
        return state

    def _attend(self, outputs: torch.Tensor, memory: Memory):
        """outputs (B, [T,] H) -> attentional vectors h~ (B, [T,] H) and weights (B, [T,] S). A step's
        B = sentences x Memory.beams rows are scored as each sentence's `beams` queries at once."""
        step = outputs.dim() == 2  # one step: its rows are each sentence's beams (shapes say how many)
        queries = outputs.view(memory.states.shape[0], -1, outputs.shape[-1]) if step else outputs
        context, weights = self.attention(queries, memory.keys, memory.states, memory.mask)
        if step:
            context, weights = context.flatten(0, 1), weights.flatten(0, 1)
        return torch.tanh(self.combine(torch.cat([context, outputs], dim=-1))), weights

    def _advance(self, projected: torch.Tensor, state: DecoderState, memory: Memory):
        output, hidden, cell = self.rnn(projected, state.feed, state.hidden, state.cell)
        attentional, weights = self._attend(output, memory)
        return attentional, weights, DecoderState(hidden, cell, attentional)

    def forward(self, embedded: torch.Tensor, state: DecoderState, memory: Memory, running: Sequence[int] | None = None):
        if not self.input_feeding:
            outputs, _ = self.rnn(embedded, state.rnn_state)  # (B, T, H), one fused call
            return self._attend(outputs, memory)  # all T queries in one batched matmul
        assert isinstance(self.rnn, StackedCell)
        projected = self.rnn.project_embeddings(embedded).unbind(1)  # T x (B, G), outside the loop
        features, weights = run_steps(self._advance, projected, state, memory, running)
        return features, weights

    def step(self, embedded: torch.Tensor, state: DecoderState, memory: Memory):
        if isinstance(self.rnn, StackedCell):  # input feeding
            attentional, weights, state = self._advance(self.rnn.project_embeddings(embedded), state, memory)
            return attentional, state, weights
        outputs, rnn_state = self.rnn(embedded[:, None], state.rnn_state)
        attentional, weights = self._attend(outputs[:, 0], memory)
        return attentional, new_state(rnn_state), weights
