"""Word dropout and separate embedding dropout: whole tokens dropped in training, nothing at evaluation."""

from __future__ import annotations

import pytest
import torch

from nmt.config import ModelConfig
from nmt.models import build_model
from nmt.models.dropout import WordDropout

V = 30


def test_word_dropout_drops_whole_positions_at_its_rate_and_keeps_the_expectation():
    torch.manual_seed(0)
    layer = WordDropout(0.3).train()
    embedded = torch.randn(200, 50, 8) + 3.0
    out = layer(embedded)
    dropped = (out == 0).all(-1)  # (B, T): every dimension of a dropped position is zero
    assert ((out == 0) == dropped[..., None]).all()
    assert dropped.float().mean().item() == pytest.approx(0.3, abs=0.01)
    torch.testing.assert_close(out[~dropped], embedded[~dropped] / 0.7)
    assert out.mean().item() == pytest.approx(embedded.mean().item(), rel=0.02)
    assert torch.equal(layer.eval()(embedded), embedded)
    with pytest.raises(ValueError):
        WordDropout(1.0)


def small(**extra) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(ModelConfig(variant="rnnsearch", embed_size=8, encoder_hidden=8, decoder_hidden=16,
                                   attention_size=8, **extra), V, V)


def batch():
    src = torch.randint(4, V, (6, 9))
    src[:, -1] = 3
    return src, torch.full((6,), 9), torch.randint(4, V, (6, 7))


def test_models_with_word_dropout_validate_and_translate_as_models_without():
    plain, dropping = small(dropout=0.2), small(dropout=0.2, word_dropout_src=0.5, word_dropout_tgt=0.5)
    dropping.load_state_dict(plain.state_dict())  # the same weights: word dropout adds none
    src, lengths, tgt = batch()
    plain.eval(), dropping.eval()
    with torch.no_grad():
        torch.testing.assert_close(dropping(src, lengths, tgt).logits, plain(src, lengths, tgt).logits)


@pytest.mark.parametrize("side", ["src", "tgt"])
def test_in_training_each_side_drops_its_own_tokens(side):
    model = small(dropout=0.0, **{f"word_dropout_{side}": 0.5}).train()
    seen = {}
    model.encoder.rnn.register_forward_hook(lambda module, inputs, output: seen.update(src=inputs[0].data))
    model.decoder.register_forward_hook(lambda module, inputs, output: seen.update(tgt=inputs[0]))
    src, lengths, tgt = batch()
    torch.manual_seed(1)
    model(src, lengths, tgt)
    zero_src = (seen["src"] == 0).all(-1).float().mean().item()  # the packed source embeddings the RNN reads
    zero_tgt = (seen["tgt"] == 0).all(-1).float().mean().item()  # the target embeddings the decoder reads
    assert (zero_src > 0.3) == (side == "src") and (zero_tgt > 0.3) == (side == "tgt")


def test_embedding_dropout_is_its_own_rate_and_defaults_to_dropout():
    assert small(dropout=0.4).encoder.embed_dropout.p == 0.4
    model = small(dropout=0.4, embed_dropout=0.1)
    assert model.encoder.embed_dropout.p == model.embed_dropout.p == 0.1
    assert model.encoder.dropout.p == model.dropout.p == 0.4
