"""A stacked recurrent cell for decoders whose step depends on more than the RNN state.

RNNsearch feeds the attention context, and Luong's input feeding the previous
attentional vector, into the first layer next to the target embedding. `nn.LSTM` cannot
take such an input over all steps at once, so these decoders loop over time. This cell
lets the loop do less: the embedding half of the first layer's input projection is
computed for all steps before the loop (`project_embeddings`), and each step adds only
the parts that depend on the previous step.

Gate layouts follow torch.nn: LSTM (i, f, g, o), GRU (r, z, n).

With `layer_norm` (Ba et al. 2016, as Nematus's decoder): the input and the recurrent projection are
normalised apart, and the LSTM's cell state before its output. It costs three small
normalisations a step, and gives up the fused addmm of the plain step.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from nmt.variants import Cell

GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def add_projection(base: torch.Tensor, inputs: torch.Tensor, linear: nn.Module) -> torch.Tensor:
    """base + linear(inputs) (bias-free), as one addmm call where the layer is a plain Linear.

    Dynamically quantized layers (nmt-translate --quantize) keep their weights packed.
    """
    weight = getattr(linear, "weight", None)
    if isinstance(weight, torch.Tensor):
        return torch.addmm(base, inputs, weight.t())
    return base + linear(inputs)


def set_forget_bias(module: nn.Module, value: float = 1.0) -> None:
    """Start LSTM forget gates at `value` (split over bias_ih and bias_hh) so memory is kept early on."""
    for name, param in module.named_parameters():
        if name.startswith("bias_ih") or name.startswith("bias_hh"):
            hidden = param.shape[0] // 4
            with torch.no_grad():
                param[hidden:2 * hidden] = value if name.startswith("bias_ih") else 0.0


class StackedCell(nn.Module):
    """`num_layers` cells of one kind; layer 0 reads [embedding; extra], layer k reads layer k-1."""

    def __init__(self, *, cell: Cell, embed_size: int, extra_size: int, hidden_size: int,
                 num_layers: int, dropout: float, layer_norm: bool = False):
        super().__init__()
        self.cell, self.hidden_size, self.num_layers = cell, hidden_size, num_layers
        gates = GATES[cell] * hidden_size
        self.embed_proj = nn.Linear(embed_size, gates)  # carries layer 0's input bias
        self.extra_proj = nn.Linear(extra_size, gates, bias=False)
        self.input_proj = nn.ModuleList(nn.Linear(hidden_size, gates) for _ in range(num_layers - 1))
        # A recurrent bias would repeat the input bias, except in the GRU, where r * (W h + b) needs it.
        self.hidden_proj = nn.ModuleList(nn.Linear(hidden_size, gates, bias=cell == "gru") for _ in range(num_layers))
        self.dropout = nn.Dropout(dropout)
        bound = 1.0 / math.sqrt(hidden_size)  # torch.nn's RNN initialisation
        for param in self.parameters():
            nn.init.uniform_(param, -bound, bound)
        if cell == "lstm":
            with torch.no_grad():  # forget-gate bias 1
                for proj in [self.embed_proj, *self.input_proj]:
                    proj.bias[hidden_size:2 * hidden_size] = 1.0
        # Made after the uniform initialisation: gains 1, shifts 0. Empty without layer_norm.
        self.layer_norm = layer_norm
        normed = num_layers if layer_norm else 0
        input_norms = [nn.LayerNorm(gates) for _ in range(normed)]
        if cell == "lstm":
            with torch.no_grad():  # the normalised input's shift carries the forget-gate bias
                for norm in input_norms:
                    norm.bias[hidden_size:2 * hidden_size] = 1.0
        self.input_norm = nn.ModuleList(input_norms)
        self.hidden_norm = nn.ModuleList(nn.LayerNorm(gates) for _ in range(normed))
        self.cell_norm = nn.ModuleList(nn.LayerNorm(hidden_size) for _ in range(normed if cell == "lstm" else 0))

    def project_embeddings(self, embeddings: torch.Tensor) -> torch.Tensor:
        """(B, T, E) -> (B, T, G): the first layer's input projection of every step at once."""
        return self.embed_proj(embeddings)

    def _update(self, layer: int, inputs: torch.Tensor, hidden: torch.Tensor,
                cell_state: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One cell update from the projected input (B, G) and the previous (B, H) state."""
        if self.layer_norm:
            inputs = self.input_norm[layer](inputs)
            recurrent = self.hidden_norm[layer](self.hidden_proj[layer](hidden))
            gates = inputs + recurrent
        elif self.cell != "gru":  # addmm: the matmul and the sum in one call
            gates = add_projection(inputs, hidden, self.hidden_proj[layer])
        else:
            recurrent = self.hidden_proj[layer](hidden)
        if self.cell == "lstm":
            assert cell_state is not None
            i, f, g, o = gates.chunk(4, dim=-1)
            cell_state = torch.sigmoid(f) * cell_state + torch.sigmoid(i) * torch.tanh(g)
            shown = self.cell_norm[layer](cell_state) if self.layer_norm else cell_state
            return torch.sigmoid(o) * torch.tanh(shown), cell_state
        if self.cell == "gru":
            in_r, in_z, in_n = inputs.chunk(3, dim=-1)
            rec_r, rec_z, rec_n = recurrent.chunk(3, dim=-1)
            reset, update = torch.sigmoid(in_r + rec_r), torch.sigmoid(in_z + rec_z)
            candidate = torch.tanh(in_n + reset * rec_n)
            return (1 - update) * candidate + update * hidden, None
        return torch.tanh(gates), None

    def forward(self, projected_embedding: torch.Tensor, extra: torch.Tensor, hidden: torch.Tensor,
                cell_state: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """One time step.

        projected_embedding: (B, G) from project_embeddings; extra: (B, X)
        hidden, cell_state: (L, B, H) (cell_state None unless LSTM)
        returns the top layer's output (B, H) and the new (L, B, H) states
        """
        return self.forward_projected(add_projection(projected_embedding, extra, self.extra_proj), hidden, cell_state)

    def forward_projected(self, inputs: torch.Tensor, hidden: torch.Tensor,
                          cell_state: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """One time step from layer 0's whole input projection (B, G): a caller that has the extra
        input's share already (RNNsearch's sum_j a_ij (W h_j)) skips extra_proj."""
        new_hidden: list[torch.Tensor] = []
        new_cells: list[torch.Tensor] = []
        for layer in range(self.num_layers):
            if layer > 0:
                inputs = self.input_proj[layer - 1](self.dropout(new_hidden[-1]))
            h, c = self._update(layer, inputs, hidden[layer], cell_state[layer] if cell_state is not None else None)
            new_hidden.append(h)
            if c is not None:
                new_cells.append(c)
        cells = torch.stack(new_cells) if cell_state is not None else None
        return new_hidden[-1], torch.stack(new_hidden), cells
