"""Training images redrawn (nmt/captioning/augment.py): what each redrawing does to a known picture,
and that a resumed epoch redraws its batches the same."""

from __future__ import annotations

import itertools

import numpy as np
import torch

from nmt.batching import TokenArray, write_token_array
from nmt.captioning.augment import INK, augment_images
from nmt.captioning.data import CaptionBatches


def _all_chosen(kinds, images):
    """Draws generators until one picks every image (each redrawing reaches a random half)."""
    for seed in range(1000):
        out = augment_images(images, kinds, torch.Generator().manual_seed(seed))
        if all(not torch.equal(a, b) for a, b in zip(out, images)):
            return out
    raise AssertionError("no generator chose every image")


def _red_and_blue_halves(size: int) -> torch.Tensor:
    images = torch.zeros(2, size, size, 3, dtype=torch.uint8)
    images[:, :, : size // 2] = torch.tensor([200, 30, 30], dtype=torch.uint8)
    images[:, :, size // 2 :] = torch.tensor([30, 30, 200], dtype=torch.uint8)
    return images


def test_an_outline_is_a_dark_line_two_pixels_wide_where_the_colour_changes_and_nowhere_else():
    images = _red_and_blue_halves(8)
    out = _all_chosen(["outline"], images)
    ink = round(INK * 255)
    assert (out[:, :, 3:5] == ink).all()  # the two pixels either side of the step
    assert torch.equal(out[:, :, :3], images[:, :, :3]) and torch.equal(out[:, :, 5:], images[:, :, 5:])


def test_ink_draws_the_outline_a_32nd_of_the_canvas_wide():
    images = _red_and_blue_halves(128)
    out = _all_chosen(["ink"], images)
    ink = round(INK * 255)
    assert (out[:, :, 62:66] == ink).all()  # four pixels at 128: two either side of the step
    assert torch.equal(out[:, :, :62], images[:, :, :62]) and torch.equal(out[:, :, 66:], images[:, :, 66:])
    small = _all_chosen(["ink"], images[:, ::2, ::2].contiguous())  # at 64, `outline`'s two pixels
    assert (small[:, :, 31:33] == ink).all() and torch.equal(small[:, :, 33:], images[:, ::2, ::2][:, :, 33:])


def test_scaling_shrinks_a_drawing_onto_white_and_keeps_a_white_canvas_white():
    images = torch.full((3, 32, 32, 3), 255, dtype=torch.uint8)
    images[1:] = 0  # two all-black drawings, one white canvas
    out = augment_images(images, ["scale"], torch.Generator().manual_seed(0))
    assert (out[0] == 255).all()
    covered = []
    for seed in range(50):
        out = augment_images(images, ["scale"], torch.Generator().manual_seed(seed))
        covered += [(out[i] < 128).all(-1).float().mean().item() for i in (1, 2) if not torch.equal(out[i], images[i])]
    assert covered and all(0.65 ** 2 - 0.05 <= share <= 1.0 for share in covered)  # scale^2 of the canvas
    assert min(covered) < 0.5  # and some drawings shrink a lot


def test_a_resumed_epoch_redraws_its_batches_the_same(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (12, 16, 16, 3), dtype=np.uint8)
    write_token_array([[5] * (1 + i % 4) for i in range(12)], tmp_path / "train.tgt", vocab_size=10)
    captions = TokenArray(tmp_path / "train.tgt")

    def batches(state=None):
        iterator = CaptionBatches(images, captions, positions=4, batch_tokens=12, batch_size=3, seed=7,
                                  augment=["scale", "outline", "blur"])
        if state:
            iterator.load_state_dict(state)
        return iterator

    whole = batches()
    first = list(itertools.islice(iter(whole), 2))
    state = whole.state_dict()
    rest = [b.src for b in iter(whole)]
    resumed = [b.src for b in iter(batches(state))]
    assert len(resumed) == len(rest) > 0 and all(torch.equal(a, b) for a, b in zip(resumed, rest))
    plain = CaptionBatches(images, captions, positions=4, batch_tokens=12, batch_size=3, seed=7)
    assert any(not torch.equal(a.src, b.src) for a, b in zip(first, itertools.islice(iter(plain), 2)))
