"""What the recurrent cells hold at every token: hidden states, memory cells and gates.

Karpathy, Johnson and Fei-Fei 2015 ("Visualizing and Understanding Recurrent Networks") read
single units of a trained LSTM and found some that track quotes, line length or brackets. A
fused torch RNN returns only its top layer's outputs, so `unroll` runs it again one step at
a time with its own weights and keeps, for every layer and direction, h_t, c_t and the gate
values. The encoder of a translation model is read that way; its decoder is read through
the step interface along a given output. The web page of nmt-serve and the character
model's cell report both use this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from nmt.device import evaluating
from nmt.specials import BOS, EOS

GATE_NAMES = {"LSTM": ("input", "forget", "cell", "output"), "GRU": ("reset", "update", "new"), "RNN_TANH": ("new",)}


@dataclass
class LayerActivations:
    """One layer (and direction) over T tokens; every tensor is (T, H)."""

    part: str  # "encoder" or "decoder"
    layer: int
    direction: str  # "forward", "backward", or "" for a unidirectional layer
    hidden: torch.Tensor  # h_t
    cell: torch.Tensor | None = None  # c_t (LSTM); the paper colours text by tanh(c_t)
    gates: dict[str, torch.Tensor] = field(default_factory=dict)  # after their sigmoid/tanh

    @property
    def name(self) -> str:
        return f"{self.part} layer {self.layer}" + (f" {self.direction}" if self.direction else "")


def _cell_step(mode: str, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor | None,
               w_ih: torch.Tensor, w_hh: torch.Tensor, b_ih: torch.Tensor | None, b_hh: torch.Tensor | None):
    """One step of torch's LSTM (i, f, g, o), GRU (r, z, n) or tanh RNN; returns h, c and the gates."""
    gi = x @ w_ih.t() + (b_ih if b_ih is not None else 0)
    gh = h @ w_hh.t() + (b_hh if b_hh is not None else 0)
    if mode == "LSTM":
        assert c is not None
        i, f, g, o = (gi + gh).chunk(4, dim=-1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g
        return o * torch.tanh(c), c, (i, f, g, o)
    if mode == "GRU":
        (xr, xz, xn), (hr, hz, hn) = gi.chunk(3, dim=-1), gh.chunk(3, dim=-1)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        return (1 - z) * n + z * h, None, (r, z, n)
    if mode == "RNN_TANH":
        h = torch.tanh(gi + gh)
        return h, None, (h,)
    raise ValueError(f"inspect: cannot unroll an RNN of mode {mode}")


@torch.no_grad()
def unroll(rnn: nn.RNNBase, inputs: torch.Tensor, *, part: str = "encoder",
           initial: tuple[torch.Tensor, torch.Tensor | None] | None = None) -> list[LayerActivations]:
    """Every layer and direction of `rnn` over one sequence, inputs (T, I), as the fused call computes it
    (without dropout). `initial` is (h0, c0) of shape (layers x directions, H), zeros when None."""
    directions = 2 if rnn.bidirectional else 1
    hidden_size, steps = rnn.hidden_size, inputs.shape[0]
    layers: list[LayerActivations] = []
    layer_input = inputs
    for layer in range(rnn.num_layers):
        outputs = []
        for direction in range(directions):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            weights: list[Any] = [getattr(rnn, f"{name}{suffix}", None)
                                  for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            index = layer * directions + direction
            h = initial[0][index] if initial is not None else inputs.new_zeros(hidden_size)
            c = (initial[1][index] if initial is not None and initial[1] is not None else inputs.new_zeros(hidden_size))
            order = range(steps - 1, -1, -1) if direction else range(steps)
            hs: list[Any] = [None] * steps
            cs: list[Any] = [None] * steps
            gates: list[Any] = [None] * steps
            for t in order:
                h, c_new, gates[t] = _cell_step(rnn.mode, layer_input[t], h, c, *weights)
                c = c_new if c_new is not None else c
                hs[t], cs[t] = h, c_new
            names = GATE_NAMES[rnn.mode]
            layers.append(LayerActivations(
                part=part, layer=layer, direction=("backward" if direction else "forward") if directions == 2 else "",
                hidden=torch.stack(hs), cell=torch.stack(cs) if rnn.mode == "LSTM" else None,
                gates={name: torch.stack([g[k] for g in gates]) for k, name in enumerate(names)},
            ))
            outputs.append(layers[-1].hidden)
        layer_input = torch.cat(outputs, dim=-1)  # (T, H x directions): the next layer's input
    return layers


def _to_cpu(item: LayerActivations) -> LayerActivations:
    return LayerActivations(item.part, item.layer, item.direction, item.hidden.cpu(),
                            item.cell.cpu() if item.cell is not None else None,
                            {name: values.cpu() for name, values in item.gates.items()})


@torch.no_grad()
def encoder_activations(model, src_ids: list[int]) -> list[LayerActivations]:
    """The encoder cells of a Seq2Seq over one source sentence (ids without EOS; EOS is appended),
    in the sentence's own order, whether or not the model reads it reversed."""
    from nmt.models.seq2seq import reversed_positions

    device = next(model.parameters()).device
    src = torch.tensor([list(src_ids) + [EOS]])
    order = reversed_positions(torch.tensor([src.shape[1]]), src.shape[1])[0] if model.reverse_source else None
    read = src[0, order] if order is not None else src[0]
    with evaluating(model):
        layers = [_to_cpu(item) for item in unroll(model.encoder.rnn, model.encoder.embedding(read.to(device)))]
    if order is not None:  # back to the source's order, as attention is reported
        for item in layers:
            item.hidden, item.cell = item.hidden[order], item.cell[order] if item.cell is not None else None
            item.gates = {name: values[order] for name, values in item.gates.items()}
    return layers


@torch.no_grad()
def decoder_activations(model, src_ids: list[int], tgt_ids: list[int]) -> list[LayerActivations]:
    """The decoder's hidden (and LSTM cell) states at each output token, through the step interface:
    the model reads BOS y_1 .. y_n and the states after each step are kept (n + 1 steps, EOS's included)."""
    device = next(model.parameters()).device
    src = torch.tensor([list(src_ids) + [EOS]], device=device)
    hidden: list[torch.Tensor] = []
    cells: list[Any] = []
    with evaluating(model):
        memory = model.encode(src, torch.tensor([src.shape[1]]))
        state = model.init_state(memory)
        for token in [BOS] + list(tgt_ids):
            _, state, _ = model.step(torch.tensor([token], device=device), state, memory)
            hidden.append(state.hidden[:, 0].cpu())  # (L, H)
            cells.append(state.cell[:, 0].cpu() if state.cell is not None else None)
    hidden_by_layer = torch.stack(hidden, dim=1)  # (L, T, H)
    cell_by_layer = torch.stack(cells, dim=1) if cells[0] is not None else None
    return [LayerActivations(part="decoder", layer=layer, direction="", hidden=hidden_by_layer[layer],
                             cell=cell_by_layer[layer] if cell_by_layer is not None else None)
            for layer in range(hidden_by_layer.shape[0])]
