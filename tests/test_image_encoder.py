"""nmt/models/image_encoder.py: a CNN over an image returns what the text encoder returns, so each
decoder reads a grid as it reads a sentence, and search's scores are the teacher-forced ones."""

from __future__ import annotations

import pytest
import torch

from nmt.captioning.config import ImageConfig
from nmt.config import DecodeConfig, ModelConfig
from nmt.models.image_encoder import (
    ConvEncoder,
    MixStyle,
    PretrainedEncoder,
    build_image_model,
    recompute_batch_norm,
)
from nmt.search import generate
from nmt.specials import BOS, EOS

V = 12


def images(batch: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (batch, 16, 24, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def model_for(variant: str, cell: str, rows: bool = False, columns: bool = False):
    torch.manual_seed(0)
    cfg = ModelConfig(variant=variant, cell=cell, embed_size=8, encoder_hidden=10, decoder_hidden=12,
                      attention_size=6, dropout=0.0, input_feeding=variant == "luong")
    encoder = ConvEncoder(channels=3, width=4, hidden_size=10, blocks=2, num_layers=1, dropout=0.0, rows=rows,
                          column_height=4 if columns else 0)
    return build_image_model(cfg, encoder, V).eval()


def test_the_grid_is_read_row_by_row_every_position_real_and_the_start_is_the_mean():
    encoder = ConvEncoder(channels=3, width=4, hidden_size=10, blocks=2, num_layers=2, dropout=0.0).eval()
    with torch.no_grad():
        out = encoder(images(2))
    assert ImageConfig(height=16, width=24, blocks=2).grid() == (4, 6)
    assert out.states.shape == (2, 4 * 6, 10) and out.mask.all() and out.mask.shape == (2, 24)
    assert out.final_hidden.shape == (2, 1, 2, 10)  # (layers, directions, B, D)
    torch.testing.assert_close(out.final_hidden[1, 0], out.states.mean(1))
    with torch.no_grad():  # row by row: position r * w + c is grid cell (r, c)
        grid = encoder.cnn(images(2).permute(0, 3, 1, 2).float().sub(127.5).div(127.5))
    torch.testing.assert_close(out.states[:, 1 * 6 + 2], grid[:, :, 1, 2])


def _teacher_forced_score(model, image: torch.Tensor, tokens: list[int]) -> float:
    tgt_in = torch.tensor([[BOS] + tokens])
    with torch.no_grad():
        log_probs = torch.log_softmax(model(image[None], torch.tensor([1]), tgt_in).logits[0], -1)
    return float(sum(log_probs[i, t] for i, t in enumerate(tokens + [EOS])))


@pytest.mark.parametrize("variant, cell, rows, columns", [
    *((v, c, False, False) for v in ("rnnsearch", "context", "luong", "seq2seq") for c in ("lstm", "gru", "rnn")),
    ("luong", "lstm", True, False), ("rnnsearch", "gru", True, False),  # Deng's row encoder under the grid
    ("rnnsearch", "lstm", True, True),  # the grid's columns as one line
])
def test_greedy_and_beam_on_images_score_what_teacher_forcing_scores(variant, cell, rows, columns):
    model, batch = model_for(variant, cell, rows, columns), images(3, seed=1)
    grid = torch.full((3,), 6 if columns else 4 * 6)  # the positions each image gives, as a sentence's length
    for decode in (DecodeConfig(method="greedy", max_length_a=0.0, max_length_b=6),
                   DecodeConfig(beam_size=3, nbest=2, length_penalty=0.0, max_length_a=0.0, max_length_b=6)):
        with torch.no_grad():
            results = generate(model, batch, grid, decode)
        for image, hyps in zip(batch, results):
            assert len(hyps) == decode.nbest
            for hyp in hyps:
                assert hyp.score == pytest.approx(_teacher_forced_score(model, image, hyp.tokens), abs=1e-4)


@pytest.mark.parametrize("variant", ["rnnsearch", "luong"])
def test_attention_spans_the_grid_in_search(variant):
    model, batch = model_for(variant, "lstm"), images(2, seed=2)
    decode = DecodeConfig(beam_size=2, max_length_a=0.0, max_length_b=5)
    with torch.no_grad():
        results = generate(model, batch, torch.full((2,), 24), decode, keep_attention=True)
    for (hyp,) in results:
        assert hyp.attention.shape == (len(hyp.tokens) + 1, 24)
        torch.testing.assert_close(hyp.attention.sum(-1), torch.ones(len(hyp.tokens) + 1))


def test_the_row_encoder_reads_each_row_whole_and_no_other_and_knows_its_height():
    from nmt.models.image_encoder import RowEncoder

    torch.manual_seed(0)
    rows = RowEncoder(6).eval()
    grid = torch.randn(2, 6, 3, 5)  # (B, D, h, w)
    changed = grid.clone()
    changed[:, :, 1, 0] += torch.randn(6)  # the first position of the middle row (not a constant: the norm removes that)
    with torch.no_grad():
        before, after = rows(grid), rows(changed)
    moved = (before - after).abs().amax(dim=(0, 1))  # (h, w): how much each output position moved
    assert (moved[1] > 1e-4).all()  # the whole row, to its far end: the backward direction alone could not
    assert torch.equal(moved[0], torch.zeros(5)) and torch.equal(moved[2], torch.zeros(5))  # no other row
    with torch.no_grad():
        rows.row_start.weight.normal_()
        same = grid[:, :, :1].expand(-1, -1, 3, -1).contiguous()  # three identical rows
        out = rows(same)
    assert not torch.allclose(out[:, :, 0], out[:, :, 2])  # told apart by their height alone
    with torch.no_grad():  # any scale alike: unnormalised vectors of size ~50 saturated its gates, image or not
        torch.testing.assert_close(rows(grid * 50), rows(grid), atol=1e-4, rtol=1e-4)


def test_columns_make_the_grid_one_line_each_position_reading_its_whole_column():
    assert ImageConfig(height=16, width=24, blocks=2, columns=True).grid() == (1, 6)
    encoder = ConvEncoder(channels=3, width=4, hidden_size=10, blocks=2, num_layers=1, dropout=0.0,
                          column_height=4).eval()
    torch.manual_seed(0)
    with torch.no_grad():
        encoder.cnn[-1].weight.normal_()  # a 1x1 projection that passes every cell's change on
        grid = torch.randn(2, 10, 4, 6)  # (B, D, h, w): what the CNN made
        changed = grid.clone()
        changed[:, :, 3, 2] += 1.0  # the bottom cell of column 2
        line, other = encoder.columns(grid), encoder.columns(changed)
        out = encoder(images(2))
    assert line.shape == (2, 10, 1, 6) and out.states.shape == (2, 6, 10) and out.mask.shape == (2, 6)
    moved = (line - other).abs().amax(dim=(0, 1, 2))  # (w,)
    assert moved[2] > 1e-4 and torch.equal(moved[[0, 1, 3, 4, 5]], torch.zeros(5))


# ---- the pretrained encoder (EfficientNet-Lite0's ImageNet weights, a dependency: no download)

def test_efficientnet_lite0_still_names_a_known_photo():
    """matplotlib's sample photo of Grace Hopper is ImageNet's "military uniform", as TensorFlow's
    examples have long shown; TensorFlow's padding or preprocessing done wrong lowers its probability."""
    import matplotlib.cbook
    import numpy as np
    from PIL import Image

    from nmt.models.efficientnet import MILITARY_UNIFORM, pretrained_efficientnet_lite0

    photo = Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")).convert("RGB").resize((224, 224))
    network = pretrained_efficientnet_lite0()
    with torch.no_grad():
        probabilities = network(network.pixels(torch.from_numpy(np.array(photo))[None])).softmax(-1)[0]
    assert int(probabilities.argmax()) == MILITARY_UNIFORM and float(probabilities[MILITARY_UNIFORM]) > 0.4


def test_a_frozen_pretrained_encoder_reads_a_cached_grid_as_it_reads_the_images():

    encoder = PretrainedEncoder(hidden_size=10, stride=8, num_layers=1, dropout=0.0).train()
    assert not encoder.backbone.training and not any(p.requires_grad for p in encoder.backbone.parameters())
    assert all(p.requires_grad for p in encoder.project.parameters())
    batch = images(2)  # 16 x 24: a 2 x 3 grid at stride 8
    with torch.no_grad():
        cached = encoder.backbone_grid(batch).permute(0, 2, 3, 1).to(torch.float16)  # what training caches
    from_images, from_cache = encoder(batch), encoder(cached)
    assert ImageConfig(height=16, width=24, encoder="efficientnet_lite0", stride=8).grid() == (2, 3)
    assert from_images.states.shape == (2, 2 * 3, 10)
    torch.testing.assert_close(from_cache.states, from_images.states, atol=2e-2, rtol=1e-2)
    from_cache.states.sum().backward()  # only the projection learns
    assert encoder.project.weight.grad is not None
    tuned = PretrainedEncoder(hidden_size=10, stride=8, num_layers=1, dropout=0.0, fine_tune=True).train()
    assert tuned.backbone.training and all(p.requires_grad for p in tuned.backbone.parameters())



def test_precise_batch_norm_sets_the_statistics_of_todays_weights_and_draws_no_random_numbers():
    torch.manual_seed(0)
    encoder = ConvEncoder(channels=3, width=4, hidden_size=8, blocks=2, num_layers=1, dropout=0.5)
    images = torch.randint(0, 256, (6, 16, 16, 3), dtype=torch.uint8)
    first_conv, first_norm = encoder.cnn[0], encoder.cnn[1]
    encoder.train()
    encoder(images)  # one momentum-0.1 update: running mean a tenth of the way, far from the batch's
    features = first_conv(images.permute(0, 3, 1, 2).float().sub(127.5).div(127.5)).detach()
    batch_mean = features.mean((0, 2, 3))
    assert not torch.allclose(first_norm.running_mean, batch_mean, atol=1e-3)
    random_state = torch.get_rng_state()
    assert recompute_batch_norm(encoder, [images[:3], images[3:]]) == 2
    assert torch.equal(torch.get_rng_state(), random_state)  # the dropout did not run
    assert encoder.training and first_norm.training and first_norm.momentum == 0.1  # as it was
    assert torch.allclose(first_norm.running_mean, batch_mean, atol=1e-5)  # two halves' means: the whole's
    halves = torch.stack([features[:3].var((0, 2, 3)), features[3:].var((0, 2, 3))]).mean(0)  # unbiased, as torch keeps it
    assert torch.allclose(first_norm.running_var, halves, atol=1e-4)
    frozen = PretrainedEncoder(hidden_size=8, stride=32, num_layers=1, dropout=0.0, pretrained=False)
    assert recompute_batch_norm(frozen, [torch.zeros(1, 32, 32, 3, dtype=torch.uint8)]) == 0  # ImageNet's kept
    stem = frozen.backbone._bn0
    before = stem.running_mean.clone()
    other_style = torch.randint(0, 256, (2, 64, 64, 3), dtype=torch.uint8)
    assert recompute_batch_norm(frozen, [other_style], frozen_too=True) > 0  # AdaBN
    assert not torch.allclose(stem.running_mean, before) and not stem.training and not frozen.backbone.training


@pytest.mark.parametrize("block_convs, sees", [(1, False), (2, True)])
def test_two_convolutions_a_block_see_farther(block_convs: int, sees: bool):
    """A cell of one block's grid reads pixels 0..2 with one 3x3 convolution before the pooling and 0..3
    with two (image.block_convs): pixel (3, 3) moves cell (0, 0) only then."""
    torch.manual_seed(0)
    encoder = ConvEncoder(channels=3, width=4, hidden_size=10, blocks=1, num_layers=1, dropout=0.0,
                          block_convs=block_convs).eval()
    image = images(1)
    changed = image.clone()
    changed[0, 3, 3] = 255 - changed[0, 3, 3]
    with torch.no_grad():
        cells = [encoder(x).states[0, 0] for x in (image, changed)]
    assert sum(isinstance(m, torch.nn.Conv2d) for m in encoder.cnn) == block_convs + 1  # and the 1x1
    assert (not torch.allclose(*cells)) == sees


def _line(ink_to: int, seed: int) -> torch.Tensor:
    """A 16 x 64 grey line image: white, with random ink in columns 2 .. ink_to."""
    image = torch.full((1, 16, 64, 1), 255, dtype=torch.uint8)
    ink = torch.randint(0, 120, (16, ink_to - 2, 1), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))
    image[0, :, 2:ink_to] = ink
    return image


def test_a_cropped_line_is_read_at_its_own_width_alone_or_in_any_batch():
    """image.crop_widths: a short formula is read at the narrowest width that holds its ink and the
    margin (32 of 16, 32, 48, 64 pixels for ink to pixel 14), its positions past that masked; its
    annotations and start state are the same alone and beside a wider image, and a greedy caption of
    the batch is each image's own."""
    torch.manual_seed(0)
    encoder = ConvEncoder(channels=1, width=4, hidden_size=8, blocks=2, num_layers=1, dropout=0.0, rows=True,
                          column_height=4, crop_widths=[16, 32, 48, 64]).eval()
    short, wide = _line(14, seed=1), _line(60, seed=2)
    with torch.no_grad():
        alone, other = encoder(short), encoder(wide)
        both = encoder(torch.cat([wide, short]))
    assert alone.mask.tolist() == [[True] * 8 + [False] * 8] and other.mask.all()
    assert torch.allclose(both.states[1], alone.states[0], atol=1e-6)
    assert torch.allclose(both.states[0], other.states[0], atol=1e-6)
    assert torch.allclose(both.final_hidden[:, :, 1], alone.final_hidden[:, :, 0], atol=1e-6)
    assert torch.allclose(alone.final_hidden[0, 0, 0], alone.states[0, :8].mean(0), atol=1e-6)  # its own positions'
    model = build_image_model(ModelConfig(variant="luong", cell="lstm", embed_size=6, encoder_hidden=8,
                                          decoder_hidden=8, dropout=0.0), encoder, V).eval()
    decode = DecodeConfig(method="greedy", max_length_a=0.0, max_length_b=5)
    positions = torch.full((1,), 16)
    one = [generate(model, image, positions, decode)[0][0].tokens for image in (wide, short)]
    together = generate(model, torch.cat([wide, short]), positions.expand(2), decode)
    assert [hyps[0].tokens for hyps in together] == one


def test_crop_widths_are_refused_in_one_line_where_they_cannot_apply():
    from nmt.captioning.config import CaptionConfig, CaptionDataConfig, CaptionSplit
    from nmt.errors import ConfigError

    data = CaptionDataConfig(train=CaptionSplit("t.tsv"), dev=CaptionSplit("d.tsv"))
    for image, says in [(ImageConfig(width=64, crop_widths=[32, 64]), "image.columns: true"),
                        (ImageConfig(width=64, blocks=3, columns=True, crop_widths=[20, 64]), "stride (8 pixels)"),
                        (ImageConfig(width=64, columns=True, crop_widths=[32, 48]), "the last image.width (64)")]:
        with pytest.raises(ConfigError, match=r"image\.crop_widths") as error:
            CaptionConfig(data=data, image=image).check()
        assert says in str(error.value)
    CaptionConfig(data=data, image=ImageConfig(width=64, columns=True, crop_widths=[32, 64])).check()


def test_mixstyle_blends_two_images_statistics_in_training_only():
    """Each image's channel means and spreads become a blend of its own and another's of the batch (between
    the two, so within the batch's range); the shapes inside stay; in evaluation nothing changes."""
    torch.manual_seed(0)
    x = torch.randn(6, 4, 5, 5) * torch.arange(1, 7).view(6, 1, 1, 1) + torch.arange(6).view(6, 1, 1, 1) * 3
    mix = MixStyle(p=1.0, alpha=0.5)
    out = mix(x)
    means, mixed_means = x.mean((2, 3)), out.mean((2, 3))
    assert not torch.allclose(out, x)
    assert (mixed_means >= means.min(0).values - 1e-4).all() and (mixed_means <= means.max(0).values + 1e-4).all()
    standardised = [(t - t.mean((2, 3), keepdim=True)) / t.std((2, 3), keepdim=True) for t in (x, out)]
    assert torch.allclose(*standardised, atol=1e-3)  # the same maps, restyled
    assert torch.equal(mix.eval()(x), x) and torch.equal(MixStyle(p=0.0)(x), x)
    encoder = PretrainedEncoder(hidden_size=8, stride=8, num_layers=1, dropout=0.0, pretrained=False,
                                fine_tune=True, mix_style=1.0)
    pixels = torch.randint(0, 256, (3, 32, 32, 3), dtype=torch.uint8)
    encoder.train()  # batch norm reads each batch's statistics both times: only the mixing differs
    with torch.no_grad():
        mixed = encoder(pixels).states
        encoder.mix = None
        assert not torch.allclose(mixed, encoder(pixels).states)
