"""An image encoder that returns what the text encoder returns (nmt.models.encoder.EncoderOutput),
so every decoder, search, ensembles and n-best work on images unchanged.

A small CNN trained from scratch turns an image (B, H, W, C) into an h x w grid of
D-dimensional annotation vectors, read row by row as the decoder's "source positions":
`rnnsearch` then attends over the grid (Xu et al. 2015, Show, Attend and Tell) and `context`
reads one summary vector at every step (Karpathy & Fei-Fei 2015). Every position is real (the
mask is all true), and the start state is the mean annotation (Show, Attend and Tell's
h_0 = f_init(1/L sum_i a_i)), given as the final state of every layer of a one-directional
encoder, so each decoder's bridge reads it whole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from nmt.models.encoder import EncoderOutput

if TYPE_CHECKING:
    from nmt.config import ModelConfig
    from nmt.models.seq2seq import Seq2Seq


class ConvEncoder(nn.Module):
    """`blocks` of 3x3 convolution, batch norm, ReLU and 2x2 max pooling (each halves the grid), then a
    1x1 convolution to `hidden_size`: a 64 x 64 image and 3 blocks give an 8 x 8 grid of 64 positions."""

    directions = 1  # the decoders' view: a one-way encoder whose final state is the mean annotation

    def __init__(self, *, channels: int, width: int, hidden_size: int, blocks: int, num_layers: int, dropout: float,
                 blank: bool = False):
        """`blank`: every image is read as the same grey one, so the decoder learns the captions alone
        (the language-only baseline: what a captioner scores when it ignores the picture)."""
        super().__init__()
        self.blank = blank
        layers: list[nn.Module] = []
        size_in = channels
        for block in range(blocks):
            size_out = width * 2 ** min(block, 2)  # 32, 64, 128, 128, ...
            layers += [nn.Conv2d(size_in, size_out, 3, padding=1, bias=False), nn.BatchNorm2d(size_out),
                       nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            size_in = size_out
        layers.append(nn.Conv2d(size_in, hidden_size, 1))
        self.cnn = nn.Sequential(*layers)
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.dropout = nn.Dropout(dropout)

    @property
    def output_size(self) -> int:
        return self.hidden_size

    def forward(self, images: torch.Tensor, lengths: torch.Tensor | None = None) -> EncoderOutput:
        """images (B, H, W, C) uint8 -> states (B, h*w, D) row by row; `lengths` (the grid size, from the
        caller's collate) is not needed: every image fills its grid."""
        pixels = images.permute(0, 3, 1, 2).float().sub(127.5).div(127.5)  # (B, H, W, C) -> (B, C, H, W) in [-1, 1]
        if self.blank:
            pixels = torch.zeros_like(pixels)
        grid = self.cnn(pixels)  # (B, D, h, w)
        states = grid.flatten(2).transpose(1, 2)  # (B, D, h*w) -> (B, h*w, D): row by row
        batch, positions, _ = states.shape
        mean = states.mean(1)  # (B, D)
        final = mean[None, None].expand(self.num_layers, 1, batch, self.hidden_size)  # (L, dirs=1, B, D)
        return EncoderOutput(states=self.dropout(states),
                             mask=torch.ones(batch, positions, dtype=torch.bool, device=images.device),
                             final_hidden=final, final_cell=final)

    @staticmethod
    def grid_size(height: int, width: int, blocks: int) -> tuple[int, int]:
        """(h, w) of the grid an H x W image gives: each block halves both sides (rounding down)."""
        return height >> blocks, width >> blocks


def build_image_model(cfg: ModelConfig, *, channels: int, width: int, blocks: int, tgt_vocab_size: int,
                      blank: bool = False) -> Seq2Seq:
    """A Seq2Seq whose encoder is a ConvEncoder with `cfg.encoder_hidden` channels out; the decoder
    is the variant's own (its bridge and attention read the grid as they read a sentence)."""
    from nmt.models.seq2seq import Seq2Seq, TiedOutput, _embedding
    from nmt.variants import VARIANTS

    encoder = ConvEncoder(channels=channels, width=width, hidden_size=cfg.encoder_hidden, blocks=blocks,
                          num_layers=cfg.encoder_layers, dropout=cfg.dropout, blank=blank)
    decoder = VARIANTS[cfg.variant].decoder_class().from_config(cfg, encoder)
    tgt_embedding = _embedding(tgt_vocab_size, cfg.embed_size)
    output: nn.Module = (TiedOutput(decoder.feature_size, tgt_embedding) if cfg.tie_embeddings
                         else nn.Linear(decoder.feature_size, tgt_vocab_size))
    return Seq2Seq(encoder=encoder, decoder=decoder, tgt_embedding=tgt_embedding, output=output,  # type: ignore[arg-type]
                   dropout=cfg.dropout, reverse_source=False, embed_dropout=cfg.embed_dropout,
                   word_dropout=cfg.word_dropout_tgt)
