"""nmt/models/cost.py: the multiply-accumulates of a forward, counted as it runs, against hand counts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nmt.batching import collate
from nmt.config import ModelConfig
from nmt.models import build_model
from nmt.models.cost import forward_macs
from nmt.variants import VARIANTS


class _LinearAfterLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True)
        self.out = nn.Linear(10, 6)

    def forward(self, x):
        return self.out(self.rnn(x)[0])


def test_a_fused_rnn_and_a_linear_layer_cost_what_their_sizes_say():
    positions = 2 * 7  # (B, T) = (2, 7)
    lstm = positions * 2 * 4 * 5 * (3 + 5) + positions * 2 * 4 * 5 * (10 + 5)  # layer 0, layer 1; both directions
    assert forward_macs(_LinearAfterLSTM(), torch.randn(2, 7, 3)) == lstm + positions * 10 * 6


def test_a_gru_counts_three_gates_and_a_tanh_rnn_one():
    for module, gates in ((nn.GRU(4, 6, batch_first=True), 3), (nn.RNN(4, 6, batch_first=True), 1)):
        assert forward_macs(module, torch.randn(1, 5, 4)) == 5 * gates * 6 * (4 + 6)


def test_rnnsearch_costs_the_equations_of_the_paper():
    """Bahdanau et al.'s model counted by hand: encoder; once, U h_j; then per target step W s, v^T tanh,
    the weights mixing the S annotations into c_i, the LSTM cell over [y; s; c], the readout over
    [s; y; c] and the (untied) output layer. (Beam search multiplies each h_j by the matrices that
    read c_i once instead, BahdanauDecoder.with_values: worth it for K rows a sentence, not for one.)"""
    E, He, Hd, A, V, S, T = 8, 6, 10, 7, 50, 5, 4
    cfg = ModelConfig(variant="rnnsearch", embed_size=E, encoder_hidden=He, decoder_hidden=Hd, attention_size=A,
                      tie_embeddings=False)
    model = build_model(cfg, V, V).eval()
    # S source positions with EOS, T decoder positions with BOS
    batch = collate([list(range(4, 4 + S - 1))], [list(range(4, 4 + T - 1))], [0])
    K = 2 * He  # the context's size
    encoder = S * 2 * 4 * He * (E + He)
    start = 2 * He * Hd  # s_0 = tanh(W_s <-h_1), for the LSTM's hidden and cell state
    per_sentence = S * K * A
    per_step = A * Hd + S * A + S * K + 4 * Hd * (E + Hd) + K * 4 * Hd + (Hd + E + K) * Hd + (Hd // 2) * V
    counted = forward_macs(model, batch.src, batch.src_lengths, batch.tgt_in)
    assert counted == encoder + start + per_sentence + T * per_step


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_variant_costs_twice_as_much_for_twice_the_sentences(variant):
    model = build_model(ModelConfig(variant=variant, embed_size=8, encoder_hidden=8, decoder_hidden=16,
                                    attention_size=8), 30, 30).eval()
    one = collate([[5, 6, 7, 8]], [[9, 10, 11]], [0])
    two = collate([[5, 6, 7, 8]] * 2, [[9, 10, 11]] * 2, [0, 1])
    single = forward_macs(model, one.src, one.src_lengths, one.tgt_in)
    assert single > 0 and forward_macs(model, two.src, two.src_lengths, two.tgt_in) == 2 * single
