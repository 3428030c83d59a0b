"""What decoders exchange: the Memory read from the encoder, the DecoderState carried from step to
step, and the Decoder protocol every decoder class follows.

Both dataclasses reorder every tensor field they have (beam search keeps, repeats and drops
rows with `select`); a field's batch dimension is declared once, beside the field.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence, TypeVar

import torch
import torch.nn.functional as F

from nmt.models.encoder import EncoderOutput

Rows = TypeVar("Rows", bound="RowSelectable")


def batch_dim(dim: int) -> dict:
    """Field metadata: the dimension that indexes sentences (default 0)."""
    return {"batch_dim": dim}


class RowSelectable:
    """A dataclass of tensors (or None) that can keep the batch rows `index` of every field."""

    def select(self: Rows, index: torch.Tensor) -> Rows:
        """Rows `index` of every tensor field, along the field's batch dimension; None stays None."""
        fields: Any = self  # a dataclass: each subclass is one
        changes = {}
        for item in dataclasses.fields(fields):
            tensor = getattr(self, item.name)
            if isinstance(tensor, torch.Tensor):
                changes[item.name] = tensor.index_select(item.metadata.get("batch_dim", 0), index)
        replaced: Rows = dataclasses.replace(fields, **changes)
        return replaced

    def first(self: Rows, rows: int) -> Rows:
        """The first `rows` rows of every tensor field: views, nothing copied."""
        fields: Any = self
        changes = {item.name: getattr(self, item.name).narrow(item.metadata.get("batch_dim", 0), 0, rows)
                   for item in dataclasses.fields(fields) if isinstance(getattr(self, item.name), torch.Tensor)}
        narrowed: Rows = dataclasses.replace(fields, **changes)
        return narrowed


@dataclass
class Memory(RowSelectable):
    """What decoding reads from the encoder; every tensor is batch first.

    states (B, S, D) encoder annotations; mask (B, S); keys (B, S, A) projected for attention;
    summary (B, C) Cho's context vector; init_hidden, init_cell (B, L, H) the decoder's start;
    source_positions (B, S) where each source position sits in what the encoder read (set when
    the model reverses the source: attention is gathered back to the source's own order);
    values (B, S, X) each annotation already multiplied by every weight matrix that reads the
    context (RNNsearch: W h_j, so that W c_i = sum_j a_ij (W h_j) costs S, not D, a column);
    beams: how many consecutive rows of the decoder state read each row of this memory (beam
    search's K hypotheses of a sentence share its memory instead of K copies of it).
    """

    states: torch.Tensor
    mask: torch.Tensor
    init_hidden: torch.Tensor
    init_cell: torch.Tensor | None = None
    keys: torch.Tensor | None = None
    summary: torch.Tensor | None = None
    source_positions: torch.Tensor | None = None
    values: torch.Tensor | None = None
    beams: int = 1


@dataclass
class DecoderState(RowSelectable):
    """hidden, cell: (L, B, H) as torch RNNs keep them; feed: (B, H) Luong's previous attentional vector."""

    hidden: torch.Tensor = field(metadata=batch_dim(1))
    cell: torch.Tensor | None = field(default=None, metadata=batch_dim(1))
    feed: torch.Tensor | None = None

    @property
    def rnn_state(self):
        """What torch.nn.LSTM (a pair) or GRU/RNN (one tensor) takes as its state."""
        return (self.hidden, self.cell) if self.cell is not None else self.hidden


def state_from_memory(memory: Memory) -> DecoderState:
    """The decoder's first state from the start states in memory."""
    assert memory.init_hidden is not None, "this decoder starts from a state it put into memory"
    as_rnn = lambda t: t.transpose(0, 1).contiguous()  # noqa: E731  (B, L, H) -> (L, B, H)
    cell = as_rnn(memory.init_cell) if memory.init_cell is not None else None
    return DecoderState(as_rnn(memory.init_hidden), cell)


def new_state(rnn_state, feed: torch.Tensor | None = None) -> DecoderState:
    """A DecoderState from what a torch RNN returned."""
    hidden, cell = rnn_state if isinstance(rnn_state, tuple) else (rnn_state, None)
    return DecoderState(hidden, cell, feed)


def run_steps(advance: Callable[..., tuple], inputs: Sequence[torch.Tensor], state: DecoderState, memory: Memory,
              running: Sequence[int] | None = None) -> list[torch.Tensor]:
    """A stepwise decoder's teacher-forced loop: `advance(step_input, state, memory)` returns outputs
    (rows, ...) and the next state last; each output comes back stacked over the steps (B, T, ...).
    `running` (rows sorted longest target first): how many rows still have a target at each step;
    a step then computes only those, as search leaves finished sentences out, and the finished rows'
    outputs are zeros (their positions are padding, which no loss or score reads)."""
    rows = inputs[0].shape[0]
    steps: list[list[torch.Tensor]] = []
    for t, step_input in enumerate(inputs):
        active = rows if running is None else running[t]
        if active < state.hidden.shape[1]:  # rows only end: slice once for each that does
            state, memory = state.first(active), memory.first(active)
        *outputs, state = advance(step_input[:active], state, memory)
        steps.append([F.pad(out, (0, 0, 0, rows - active)) if active < rows else out for out in outputs])
    return [torch.stack(outputs, dim=1) for outputs in zip(*steps)]


class Decoder(Protocol):
    """What Seq2Seq needs of a decoder. `forward` is the teacher-forced training path and must
    equal a loop over `step` (tests/test_seq2seq.py checks every variant and cell)."""

    feature_size: int  # F, what the output layer reads
    # forward loops over time (run_steps), so it can leave out rows whose target has ended (`running`);
    # False for a fused RNN call, which runs every row to the end
    stepwise: bool

    def make_memory(self, encoded: EncoderOutput) -> Memory:
        """Once per sentence: what every step reads (keys projected here, outside any loop)."""

    def init_state(self, memory: Memory) -> DecoderState: ...

    def __call__(self, embedded: torch.Tensor, state: DecoderState, memory: Memory,
                 running: Sequence[int] | None = None) -> tuple[torch.Tensor, torch.Tensor | None]: ...  # forward

    def forward(self, embedded: torch.Tensor, state: DecoderState, memory: Memory,
                running: Sequence[int] | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """embedded (B, T, E) -> features (B, T, F), attention (B, T, S) or None. `running`: see run_steps
        (a stepwise decoder only)."""

    def step(self, embedded: torch.Tensor, state: DecoderState,
             memory: Memory) -> tuple[torch.Tensor, DecoderState, torch.Tensor | None]:
        """embedded (B, E) -> features (B, F), the next state, attention (B, S) or None."""
