"""An image encoder that returns what the text encoder returns (nmt.models.encoder.EncoderOutput),
so every decoder, search, ensembles and n-best work on images unchanged.

A small CNN trained from scratch, or a pretrained ImageNet network (EfficientNet-Lite0, frozen or
fine-tuned), turns an image (B, H, W, C) into an h x w grid of D-dimensional annotation vectors, read row by row as the decoder's "source positions":
`rnnsearch` then attends over the grid (Xu et al. 2015, Show, Attend and Tell) and `context`
reads one summary vector at every step (Karpathy & Fei-Fei 2015). Every position is real (the
mask is all true), and the start state is the mean annotation (Show, Attend and Tell's
h_0 = f_init(1/L sum_i a_i)), given as the final state of every layer of a one-directional
encoder, so each decoder's bridge reads it whole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Sequence

import torch
from torch import nn

from nmt.device import evaluating
from nmt.models.encoder import EncoderOutput

if TYPE_CHECKING:
    from nmt.config import ModelConfig
    from nmt.models.seq2seq import Seq2Seq


class RowEncoder(nn.Module):
    """Deng et al. 2017's row encoder: a bidirectional LSTM runs along each row of the grid, from a
    learned start state for that row (its vertical position), so each vector also reads its row's
    left and right context. (B, D, h, w) -> (B, D, h, w); D even (D / 2 units a direction).

    Each input vector is layer-normalised first: a CNN's (or the columns') vectors have no bound, and
    at a scale of tens the LSTM's gates saturate, its output stops depending on the image and no
    gradient brings it back (an im2latex run whose every caption was the same one did exactly that)."""

    MAX_ROWS = 128

    def __init__(self, size: int):
        super().__init__()
        self.norm = nn.LayerNorm(size)
        self.rnn = nn.LSTM(size, size // 2, batch_first=True, bidirectional=True)
        self.row_start = nn.Embedding(self.MAX_ROWS, size)  # both directions' h_0 of row r
        nn.init.zeros_(self.row_start.weight)

    def forward(self, grid: torch.Tensor) -> torch.Tensor:
        batch, size, height, width = grid.shape
        rows = self.norm(grid.permute(0, 2, 3, 1).reshape(batch * height, width, size))  # every row a sequence
        start = self.row_start(torch.arange(height, device=grid.device)).repeat(batch, 1)  # (B*h, D), row-major
        hidden = start.view(batch * height, 2, size // 2).transpose(0, 1).contiguous()  # (2, B*h, D/2)
        out, _ = self.rnn(rows, (hidden, torch.zeros_like(hidden)))  # (B*h, w, D)
        return out.reshape(batch, height, width, size).permute(0, 3, 1, 2)


@torch.no_grad()
def recompute_batch_norm(encoder: nn.Module, batches: Iterable[torch.Tensor], *, frozen_too: bool = False) -> int:
    """Precise batch norm (Wu & Johnson 2021): each trained batch-norm layer's statistics become their
    mean over `batches` under today's weights, in place of the running average over past weights
    that lags them (the same weights scored 58.9 % and 67.3 % dev exact match for that alone). The
    other layers run in eval mode, so no dropout and no random numbers drawn. Returns the number of
    layers recomputed: a frozen backbone's only with `frozen_too` (AdaBN, where `batches` are another
    domain's images)."""
    norms = [m for m in encoder.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
             and m.track_running_stats and m.weight is not None and (frozen_too or m.weight.requires_grad)]
    if not norms:
        return 0
    momenta = [m.momentum for m in norms]
    with evaluating(encoder):
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None  # a plain average over the batches
            norm.train()
        for images in batches:
            encoder(images)
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
    return len(norms)


class ConvEncoder(nn.Module):
    """`blocks` of `block_convs` 3x3 convolutions (each with batch norm and ReLU) and 2x2 max pooling (each
    block halves the grid), then a 1x1 convolution to `hidden_size`: a 64 x 64 image and 3 blocks give an
    8 x 8 grid of 64 positions."""

    directions = 1  # the decoders' view: a one-way encoder whose final state is the mean annotation
    INK_MARGIN = 16  # pixels of white kept right of the ink: a column's CNN reads about 40 across

    def __init__(self, *, channels: int, width: int, hidden_size: int, blocks: int, num_layers: int, dropout: float,
                 blank: bool = False, rows: bool = False, column_height: int = 0, block_convs: int = 1,
                 crop_widths: Sequence[int] = ()):
        """`blank`: every image is read as the same grey one, so the decoder learns the captions alone
        (the language-only baseline: what a captioner scores when it ignores the picture). `rows`: a
        RowEncoder over the grid. `column_height`: the grid's height, for each of its columns to become
        one vector (`columns`). `crop_widths`: with columns, each image is read at the narrowest of these
        that holds its ink (read_cropped)."""
        super().__init__()
        self.blank = blank
        self.crop_widths, self.stride = list(crop_widths), 1 << blocks
        self.columns = columns(hidden_size, column_height)
        self.rows = RowEncoder(hidden_size) if rows else None
        self.ctc: nn.Linear | None = None  # set by with_ctc_head
        self.ctc_logits: torch.Tensor | None = None
        self.ctc_positions: torch.Tensor | None = None
        layers: list[nn.Module] = []
        size_in = channels
        for block in range(blocks):
            size_out = width * 2 ** min(block, 2)  # 32, 64, 128, 128, ...
            for _ in range(block_convs):
                layers += [nn.Conv2d(size_in, size_out, 3, padding=1, bias=False), nn.BatchNorm2d(size_out),
                           nn.ReLU(inplace=True)]
                size_in = size_out
            layers.append(nn.MaxPool2d(2))
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
        if self.crop_widths:
            return self.read_cropped(images, pixels)
        grid = self.cnn(pixels)  # (B, D, h, w)
        return read_grid(self, grid)

    def read_cropped(self, images: torch.Tensor, pixels: torch.Tensor) -> EncoderOutput:
        """Each image read at the narrowest crop width that holds its ink and a margin: the images of
        one width go through the CNN, columns and row encoder together, and their annotations fill the
        first positions of the full width's line, the rest masked. An image's reading depends on itself
        alone (batch norm in training aside); the language-only baseline reads every image whole."""
        assert self.columns is not None, "crop_widths reads a line: image.columns"
        crops = torch.tensor(self.crop_widths, device=images.device)
        inked = ink_width(images) + self.INK_MARGIN if not self.blank else crops[-1:].expand(len(images))
        choice = torch.searchsorted(crops, inked).clamp(max=len(crops) - 1)  # the narrowest that holds it
        states: torch.Tensor | None = None
        mask = torch.zeros(len(images), self.crop_widths[-1] // self.stride, dtype=torch.bool, device=images.device)
        for index in choice.unique().tolist():
            chosen = (choice == index).nonzero().squeeze(1)
            width = self.crop_widths[index]
            line = self.columns(self.cnn(pixels[chosen, :, :, :width]))  # (n, D, 1, w)
            line = (self.rows(line) if self.rows is not None else line).flatten(2).transpose(1, 2)  # (n, w, D)
            if states is None:
                states = line.new_zeros(len(images), mask.shape[1], line.shape[2])
            states[chosen, : line.shape[1]] = line
            mask[chosen, : line.shape[1]] = True
        assert states is not None
        return annotated(self, states, mask)


def ink_width(images: torch.Tensor, darker_than: int = 200) -> torch.Tensor:
    """(B, H, W, C) uint8 -> (B,) the pixels from the left edge to the right edge of each image's ink
    (0 for a blank image)."""
    inked = images.amin(dim=(1, 3)) < darker_than  # (B, W): a column with any dark pixel
    last = inked.shape[1] - inked.flip(1).int().argmax(1)  # one past the rightmost inked column
    return torch.where(inked.any(1), last, torch.zeros_like(last))


def columns(size: int, height: int) -> nn.Module | None:
    """Each column of an h x w grid as one vector, a linear map of its h cells (a convolution as tall as
    the grid): a picture read left to right, as a line of text or a formula, becomes a sequence of w
    positions, as CRNN reads a word (Shi et al. 2015), each knowing what is above and below in it
    (a subscript from a superscript). None for a height of 0."""
    return nn.Conv2d(size, size, (height, 1)) if height else None


def read_grid(encoder: ConvEncoder | PretrainedEncoder, grid: torch.Tensor) -> EncoderOutput:
    """An encoder's (B, D, h, w) grid through its columns and row encoder to annotations, row by row, all real."""
    grid = encoder.columns(grid) if encoder.columns is not None else grid  # (B, D, 1, w)
    states = (encoder.rows(grid) if encoder.rows is not None else grid).flatten(2).transpose(1, 2)  # (B, h*w, D)
    return annotated(encoder, states, torch.ones(states.shape[:2], dtype=torch.bool, device=states.device))


def with_ctc_head(encoder: ConvEncoder | PretrainedEncoder, vocab_size: int) -> None:
    """Joint CTC-attention (Kim, Hori & Watanabe 2017): a linear map from each annotation to the caption
    pieces (PAD the blank), whose CTC loss over the line of positions teaches the encoder a left-to-right
    alignment sooner than the attention's gradient does. Training reads `ctc_logits`; search never."""
    encoder.ctc = nn.Linear(encoder.hidden_size, vocab_size)


def annotated(encoder: ConvEncoder | PretrainedEncoder, states: torch.Tensor, mask: torch.Tensor) -> EncoderOutput:
    """Annotations (B, S, D), `mask` the real ones, as the decoders read a sentence: the mean real
    annotation as every layer's final state. In training with a CTC head, each position's logits are
    kept for the loss (`ctc_logits`, over `ctc_positions` real positions an image)."""
    mean = (states * mask[:, :, None]).sum(1) / mask.sum(1, keepdim=True)
    final = mean[None, None].expand(encoder.num_layers, 1, *mean.shape)  # (L, dirs=1, B, D)
    out = EncoderOutput(states=encoder.dropout(states), mask=mask, final_hidden=final, final_cell=final)
    encoder.ctc_logits = encoder.ctc(out.states) if encoder.ctc is not None and encoder.training else None
    encoder.ctc_positions = mask.sum(1)
    return out


class MixStyle(nn.Module):
    """MixStyle (Zhou et al. 2021): in training, with probability `p` a batch's feature maps take, each,
    channel statistics (mean and standard deviation over the map) mixed with another image's of the batch,
    lambda ~ Beta(alpha, alpha): the same drawing in a blend of two images' styles, so that what a
    caption reads is not one vendor's colours and strokes. The statistics carry no gradient, as in the
    paper; in evaluation it is the identity."""

    def __init__(self, p: float, alpha: float = 0.1, eps: float = 1e-6):
        super().__init__()
        self.p, self.alpha, self.eps = p, alpha, eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or len(x) < 2 or float(torch.rand(())) >= self.p:
            return x
        mean = x.mean((2, 3), keepdim=True).detach()
        std = (x.var((2, 3), keepdim=True) + self.eps).sqrt().detach()
        weight = torch.distributions.Beta(self.alpha, self.alpha).sample((len(x), 1, 1, 1)).to(x)
        other = torch.randperm(len(x), device=x.device)
        mixed_mean = weight * mean + (1 - weight) * mean[other]
        mixed_std = weight * std + (1 - weight) * std[other]
        return (x - mean) / std * mixed_std + mixed_mean


class PretrainedEncoder(nn.Module):
    """EfficientNet-Lite0's ImageNet features at `stride` (8, 16 or 32), projected by a 1x1
    convolution to `hidden_size`. Frozen (the default), its backbone stays in eval mode without
    gradients, and a batch may carry the backbone's grid computed beforehand (float (B, h, w, C))
    instead of images (uint8 (B, H, W, 3)): training reads a cache and never runs the backbone."""

    directions = 1

    def __init__(self, *, hidden_size: int, stride: int, num_layers: int, dropout: float, fine_tune: bool = False,
                 blank: bool = False, pretrained: bool = True, rows: bool = False, column_height: int = 0,
                 mix_style: float = 0.0):
        from nmt.models.efficientnet import EfficientNetLite0, pretrained_efficientnet_lite0

        super().__init__()
        self.backbone = pretrained_efficientnet_lite0() if pretrained else EfficientNetLite0()
        del self.backbone._conv_head, self.backbone._bn1, self.backbone._fc  # the classifier is not read
        self.backbone.requires_grad_(fine_tune)
        self.fine_tune, self.stride, self.blank = fine_tune, stride, blank
        self.mix = MixStyle(mix_style) if mix_style else None
        self.project = nn.Conv2d(EfficientNetLite0.channels(stride), hidden_size, 1)
        self.columns = columns(hidden_size, column_height)
        self.rows = RowEncoder(hidden_size) if rows else None
        self.ctc: nn.Linear | None = None  # set by with_ctc_head
        self.ctc_logits: torch.Tensor | None = None
        self.ctc_positions: torch.Tensor | None = None
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.dropout = nn.Dropout(dropout)

    @property
    def output_size(self) -> int:
        return self.hidden_size

    def train(self, mode: bool = True) -> PretrainedEncoder:
        super().train(mode)
        if not self.fine_tune:
            self.backbone.eval()  # frozen batch-norm statistics too
        return self

    def backbone_grid(self, images: torch.Tensor) -> torch.Tensor:
        """(B, H, W, 3) uint8 -> the backbone's grid (B, C, h, w)."""
        pixels = self.backbone.pixels(images)
        if self.blank:
            pixels = torch.zeros_like(pixels)
        with torch.set_grad_enabled(self.fine_tune and torch.is_grad_enabled()):
            return self.backbone.grid(pixels, self.stride, mix=self.mix)

    def forward(self, src: torch.Tensor, lengths: torch.Tensor | None = None) -> EncoderOutput:
        grid = self.backbone_grid(src) if src.dtype == torch.uint8 else src.permute(0, 3, 1, 2).float()
        return read_grid(self, self.project(grid))



def build_image_model(cfg: ModelConfig, encoder: nn.Module, tgt_vocab_size: int) -> Seq2Seq:
    """A Seq2Seq reading images through `encoder` (a ConvEncoder or PretrainedEncoder with
    `cfg.encoder_hidden` channels out); the decoder is the variant's own (its bridge and attention
    read the grid as they read a sentence)."""
    from nmt.models.seq2seq import Seq2Seq, TiedOutput, _embedding
    from nmt.variants import VARIANTS

    decoder = VARIANTS[cfg.variant].decoder_class().from_config(cfg, encoder)
    tgt_embedding = _embedding(tgt_vocab_size, cfg.embed_size)
    output: nn.Module = (TiedOutput(decoder.feature_size, tgt_embedding) if cfg.tie_embeddings
                         else nn.Linear(decoder.feature_size, tgt_vocab_size))
    return Seq2Seq(encoder=encoder, decoder=decoder, tgt_embedding=tgt_embedding, output=output,  # type: ignore[arg-type]
                   dropout=cfg.dropout, reverse_source=False, embed_dropout=cfg.embed_dropout,
                   word_dropout=cfg.word_dropout_tgt)
