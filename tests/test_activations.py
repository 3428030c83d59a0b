"""Cell activations: the step-by-step unroll reproduces the fused RNNs, and the decoder is read through steps."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nmt.activations import decoder_activations, encoder_activations, unroll
from nmt.config import ModelConfig
from nmt.models import build_model


@pytest.mark.parametrize("kind", [nn.LSTM, nn.GRU, nn.RNN])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_unroll_reproduces_the_fused_rnn_at_every_layer(kind, bidirectional):
    torch.manual_seed(0)
    rnn = kind(5, 7, num_layers=2, bidirectional=bidirectional, batch_first=True)
    inputs = torch.randn(6, 5)
    with torch.no_grad():
        outputs, final = rnn(inputs[None])
    layers = unroll(rnn, inputs)
    directions = 2 if bidirectional else 1
    assert len(layers) == 2 * directions
    top = torch.cat([item.hidden for item in layers[-directions:]], dim=-1)
    torch.testing.assert_close(top, outputs[0], atol=1e-5, rtol=1e-5)
    final_hidden = final[0] if isinstance(final, tuple) else final
    for index, item in enumerate(layers):  # the last step of each direction is the RNN's final state
        last = item.hidden[0] if item.direction == "backward" else item.hidden[-1]
        torch.testing.assert_close(last, final_hidden[index, 0], atol=1e-5, rtol=1e-5)
    if kind is nn.LSTM:
        item = layers[0]
        assert set(item.gates) == {"input", "forget", "cell", "output"}
        assert ((item.gates["forget"] > 0) & (item.gates["forget"] < 1)).all()
        torch.testing.assert_close(item.hidden, item.gates["output"] * torch.tanh(item.cell))
        last_cell = item.cell[0] if item.direction == "backward" else item.cell[-1]
        torch.testing.assert_close(last_cell, final[1][0, 0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("variant, reverse", [("rnnsearch", False), ("seq2seq", True), ("luong", False)])
def test_a_models_encoder_and_decoder_cells_follow_its_own_states(variant, reverse):
    torch.manual_seed(0)
    model = build_model(ModelConfig(variant=variant, reverse_source=reverse, embed_size=6, encoder_hidden=8,
                                    decoder_hidden=8, attention_size=5, dropout=0.0), 20, 20).eval()
    src, tgt = [5, 9, 7, 11], [6, 8]
    encoded = model.encoder(torch.tensor([src + [3]]), torch.tensor([5]))
    layers = encoder_activations(model, src)
    top = torch.cat([item.hidden for item in layers if item.layer == model.encoder.num_layers - 1], dim=-1)
    if reverse:  # the encoder read 11 7 9 5 EOS; activations come back in the sentence's order
        expected = encoded.states[0]  # states of the reversed reading, at reading positions
        model_states = model.encoder(torch.tensor([[11, 7, 9, 5, 3]]), torch.tensor([5])).states[0]
        torch.testing.assert_close(top, model_states[[3, 2, 1, 0, 4]], atol=1e-5, rtol=1e-5)
        assert not torch.allclose(top, expected, atol=1e-3)
    else:
        torch.testing.assert_close(top, encoded.states[0], atol=1e-5, rtol=1e-5)
    steps = decoder_activations(model, src, tgt)
    assert [item.hidden.shape for item in steps] == [(3, 8)]  # BOS y1 y2: three steps
    assert steps[0].cell is not None  # LSTM: the memory cell too
