"""nmt/models/cells.py's StackedCell, which steps rnnsearch's and luong's decoders, against torch's own
nn.LSTM / nn.GRU / nn.RNN given the same weights (minGPT's check against a reference implementation)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nmt.models.cells import StackedCell

REFERENCE = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}  # nn.RNN: tanh, the plain recurrence


def _reference_with_the_same_weights(cell: StackedCell, kind: str, embed: int, extra: int) -> nn.RNNBase:
    """torch's RNN over [embedding; extra] with StackedCell's weights: layer 0's input matrix is the
    embedding and extra projections side by side; the recurrent bias is zero except in the GRU."""
    hidden, layers = cell.hidden_size, cell.num_layers
    reference = REFERENCE[kind](embed + extra, hidden, num_layers=layers, batch_first=True)
    with torch.no_grad():
        for layer in range(layers):
            if layer == 0:
                w_in = torch.cat([cell.embed_proj.weight, cell.extra_proj.weight], dim=1)
                b_in = cell.embed_proj.bias
            else:
                w_in, b_in = cell.input_proj[layer - 1].weight, cell.input_proj[layer - 1].bias
            recurrent = cell.hidden_proj[layer]
            getattr(reference, f"weight_ih_l{layer}").copy_(w_in)
            getattr(reference, f"bias_ih_l{layer}").copy_(b_in)
            getattr(reference, f"weight_hh_l{layer}").copy_(recurrent.weight)
            getattr(reference, f"bias_hh_l{layer}").copy_(recurrent.bias if recurrent.bias is not None else 0.0)
    return reference


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_the_hand_written_cell_equals_torchs_rnn_on_the_same_weights(kind, layers):
    torch.manual_seed(0)
    B, T, E, X, H = 3, 6, 5, 4, 7
    cell = StackedCell(cell=kind, embed_size=E, extra_size=X, hidden_size=H, num_layers=layers, dropout=0.0).eval()
    with torch.no_grad():  # biases away from the initial values, so a misplaced bias shows
        for param in cell.parameters():
            param.add_(0.3 * torch.randn_like(param))
    reference = _reference_with_the_same_weights(cell, kind, E, X)
    embeddings, extra = torch.randn(B, T, E), torch.randn(B, T, X)
    h0 = torch.randn(layers, B, H)
    c0 = torch.randn(layers, B, H) if kind == "lstm" else None

    with torch.no_grad():
        expected, final = reference(torch.cat([embeddings, extra], dim=-1), (h0, c0) if kind == "lstm" else h0)
        projected = cell.project_embeddings(embeddings)
        hidden, cell_state, outputs = h0, c0, []
        for t in range(T):
            top, hidden, cell_state = cell(projected[:, t], extra[:, t], hidden, cell_state)
            outputs.append(top)

    torch.testing.assert_close(torch.stack(outputs, dim=1), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(hidden, final[0] if kind == "lstm" else final, atol=1e-5, rtol=1e-5)
    if kind == "lstm":
        torch.testing.assert_close(cell_state, final[1], atol=1e-5, rtol=1e-5)
