"""model.decoder_layer_norm: the stepped decoder cell with layer normalisation (Ba et al. 2016)."""

from __future__ import annotations

import pytest
import torch
from test_seq2seq import CELLS, make, mixed_batch, step_loop

from nmt.specials import PAD

STEPPED = ["rnnsearch", "luong_general_feed"]


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("name", STEPPED)
def test_a_layer_normalised_decoder_trains_and_steps_alike(name, cell):
    model = make(name, cell, decoder_layer_norm=True, decoder_layers=2)
    batch, _, _ = mixed_batch(seed=4)
    with torch.no_grad():
        logits = model(batch.src, batch.src_lengths, batch.tgt_in).logits
        log_probs, _ = step_loop(model, batch)
    torch.testing.assert_close(log_probs, torch.log_softmax(logits, -1), atol=1e-5, rtol=1e-5)
    model.train()
    logits = model(batch.src, batch.src_lengths, batch.tgt_in).logits
    torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch.tgt_out.flatten(), ignore_index=PAD).backward()
    norms = [name for name, _ in model.named_parameters() if "_norm." in name]
    assert len(norms) == 2 * (3 if cell == "lstm" else 2) * 2  # gain and shift, per norm, per layer
    for param_name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, param_name


@pytest.mark.parametrize("cell", CELLS)
def test_the_normalised_cell_ignores_the_scale_of_its_recurrent_weights(cell):
    """What the normalisation is for: scaling U (in U h) changes a plain cell, not a normalised one."""
    batch, _, _ = mixed_batch(seed=5)

    def logits_before_and_after_scaling(layer_norm: bool):
        model = make("rnnsearch", cell, decoder_layer_norm=layer_norm)
        with torch.no_grad():
            before = model(batch.src, batch.src_lengths, batch.tgt_in).logits
            for param in model.decoder.rnn.hidden_proj.parameters():
                param.mul_(4.0)
            return before, model(batch.src, batch.src_lengths, batch.tgt_in).logits

    before, after = logits_before_and_after_scaling(True)
    torch.testing.assert_close(after, before, atol=1e-4, rtol=1e-4)
    before, after = logits_before_and_after_scaling(False)
    assert (after - before).abs().max() > 1e-2


def test_without_layer_norm_the_cell_has_the_parameters_it_always_had():
    """Checkpoints from before the option load unchanged: no norm parameters unless asked for."""
    plain = make("rnnsearch", "lstm")
    assert not [name for name, _ in plain.named_parameters() if "_norm." in name]
