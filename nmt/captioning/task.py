"""Captioning as the training loop sees it (nmt/tasks.py), and as nmt-caption uses a trained model.

The model is a Seq2Seq whose encoder is a CNN (nmt/models/image_encoder.py); its batches are
translation's Batch with images as the source, so the loss is translation's `token_loss` and
search is translation's. Validation: dev loss and perplexity, then captions scored with
sacreBLEU (BLEU, chrF) and exact match.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nmt.batching import TokenArray, make_batches
from nmt.captioning.config import CaptionConfig
from nmt.captioning.data import CaptionBatches, cached_grids, image_batch, open_images
from nmt.checkpoint import checkpoint_path, load_weights
from nmt.closed_list import ClosedList, read_closed_list
from nmt.config import DecodeConfig
from nmt.data import read_lines
from nmt.device import evaluating
from nmt.distributed import Cluster
from nmt.metrics import corpus_scores
from nmt.models.image_encoder import (
    ConvEncoder,
    PretrainedEncoder,
    build_image_model,
    recompute_batch_norm,
    with_ctc_head,
)
from nmt.models.seq2seq import Seq2Seq
from nmt.search import TranslationModel, generate
from nmt.specials import PAD
from nmt.tasks import ExtrasSink, Metric, NoTaskState, Regularised, Validation, load_config
from nmt.tokenizer import Tokenizer
from nmt.translation_task import TranslationTask, summed_cross_entropy, token_loss
from nmt.translations import Translation

N_EXAMPLES = 5  # dev captions shown in TensorBoard at each validation
N_ATTENTION_EXAMPLES = 3  # dev images whose attention is drawn


def attention_figure(image: np.ndarray, pieces: list[str], attention: torch.Tensor, grid: tuple[int, int]):
    """The image, then for each output piece the image under its attention (T, h*w) as an h x w map
    stretched over it: a matplotlib figure of 1 + T panels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    height, width = image.shape[:2]
    fig, axes = plt.subplots(1, len(pieces) + 1, figsize=(1.6 * (len(pieces) + 1), 1.9), squeeze=False)
    shown = image[:, :, 0] if image.shape[2] == 1 else image
    for axis in axes[0]:
        axis.imshow(shown, cmap="gray" if image.shape[2] == 1 else None)
        axis.set_xticks([]), axis.set_yticks([])
    axes[0][0].set_title("image", fontsize=8)
    for axis, piece, weights in zip(axes[0][1:], pieces, attention):
        axis.imshow(weights.view(*grid).numpy(), cmap="Greys_r", alpha=0.65, extent=(0, width, height, 0),
                    interpolation="bilinear")
        axis.set_title(piece, fontsize=8)
    fig.tight_layout()
    return fig


def build_captioner(cfg: CaptionConfig, vocab_size: int, *, pretrained: bool = True) -> Seq2Seq:
    """`pretrained`: a pretrained encoder starts from its ImageNet weights (a trained captioner's
    checkpoint holds them anyway)."""
    image, model = cfg.image, cfg.model
    encoder: nn.Module
    column_height = image.cnn_grid()[0] if image.columns else 0
    if image.encoder == "scratch":
        encoder = ConvEncoder(channels=image.channels, width=image.cnn_width, hidden_size=model.encoder_hidden,
                              blocks=image.blocks, num_layers=model.encoder_layers, dropout=model.dropout,
                              blank=image.blank, rows=image.row_encoder, column_height=column_height,
                              block_convs=image.block_convs, crop_widths=image.crop_widths)
    else:
        encoder = PretrainedEncoder(hidden_size=model.encoder_hidden, stride=image.stride,
                                    num_layers=model.encoder_layers, dropout=model.dropout, fine_tune=image.fine_tune,
                                    blank=image.blank, pretrained=pretrained, rows=image.row_encoder,
                                    column_height=column_height, mix_style=image.mix_style)
    if cfg.train.ctc_weight:
        with_ctc_head(encoder, vocab_size)
    return build_image_model(model, encoder, vocab_size)


def ctc_loss(encoder: ConvEncoder | PretrainedEncoder, tgt_out: torch.Tensor) -> torch.Tensor:
    """The summed CTC loss of each caption (tgt_out's pieces before EOS) over the positions its image's
    encoder just read (their `ctc_logits`), PAD the blank; a caption longer than its positions allow
    adds nothing (zero_infinity)."""
    logits, encoder.ctc_logits = encoder.ctc_logits, None  # (B, S, V); not kept past this update
    positions = encoder.ctc_positions  # each image's real positions (fewer where it was read cropped)
    assert logits is not None and positions is not None, "a training pass of an encoder with a CTC head comes first"
    lengths = (tgt_out != PAD).sum(1) - 1  # without EOS
    log_probs = logits.float().log_softmax(-1).transpose(0, 1)  # (S, B, V)
    return F.ctc_loss(log_probs, tgt_out, positions, lengths, blank=PAD, reduction="sum", zero_infinity=True)


def grid(cfg: CaptionConfig) -> tuple[int, int]:
    """(h, w) of the grid the model's encoder makes of an image."""
    return cfg.image.grid()


def grid_positions(cfg: CaptionConfig) -> int:
    h, w = grid(cfg)
    return h * w


class Captioner:
    """Captions images (N, H, W, C) uint8 with a model as `decode` says; `seed` makes sampling repeatable."""

    def __init__(self, model: TranslationModel, tokenizer: Tokenizer, *, decode: DecodeConfig, positions: int,
                 device: torch.device | str = "cpu", seed: int | None = None, keep_attention: bool = False,
                 batch_size: int = 32):
        self.model, self.tokenizer, self.decode, self.positions = model, tokenizer, decode, positions
        self.device, self.keep_attention, self.batch_size = torch.device(device), keep_attention, batch_size
        self.generator = torch.Generator(device=self.device).manual_seed(seed) if seed is not None else None
        closed = getattr(decode, "closed_list", "")
        self.closed_list = read_closed_list(closed, tokenizer.encode_tgt) if closed else None

    @torch.inference_mode()
    def caption(self, images: np.ndarray) -> list[list[Translation]]:
        """The n-best captions of each image, best first (attention (T, h*w) when kept)."""
        out: list[list[Translation]] = []
        model = self.model if self.closed_list is None else ClosedList(self.model, self.closed_list)
        with evaluating(self.model):
            for start in range(0, len(images), self.batch_size):
                batch = image_batch(images, np.arange(start, min(start + self.batch_size, len(images))), self.positions)
                batch = batch.to(self.device)
                results = generate(model, batch.src, batch.src_lengths, self.decode, generator=self.generator,
                                   keep_attention=self.keep_attention)
                for hyps in results:
                    texts = self.tokenizer.decode_tgt([h.tokens for h in hyps])
                    out.append([Translation(t, h.score, h.tokens, h.attention, [], h.token_scores) for t, h in zip(texts, hyps)])
        return out


@dataclass
class LoadedCaptioner:
    cfg: CaptionConfig
    tokenizer: Tokenizer
    model: Seq2Seq
    checkpoint: Path
    exp_dir: Path

    def captioner(self, *, decode: DecodeConfig | None = None, device: torch.device | str = "cpu",
                  seed: int | None = None, keep_attention: bool = False) -> Captioner:
        return Captioner(self.model, self.tokenizer, decode=decode or self.cfg.decode,
                         positions=grid_positions(self.cfg), device=device, seed=seed, keep_attention=keep_attention)

    def adapt_norm(self, images_file: str | Path | None = None) -> str | None:
        """AdaBN (image.adapt_norm): the CNN's batch-norm statistics, frozen layers' too, recomputed over
        the images `images_file` lists (None: the config's image.adapt_norm; "" or "none": nothing); the
        weights stay. Returns a line saying what was done, or None."""
        from nmt.captioning.data import ImageError, read_image
        from nmt.errors import NmtError

        chosen = self.cfg.image.adapt_norm if images_file is None else str(images_file)
        if chosen in ("", "none"):
            return None
        listing = Path(chosen)
        try:
            lines = [line.partition("\t")[0] for line in read_lines(listing) if line.strip()]
        except OSError as err:
            raise NmtError(f"adapt_norm: cannot read {listing} ({err.strerror})") from None
        if not lines:
            raise NmtError(f"adapt_norm: {listing} lists no images")
        try:
            images = np.stack([read_image(listing.parent / line, self.cfg.image) for line in lines])
        except ImageError as err:
            raise NmtError(f"adapt_norm: {err}") from None
        device = next(self.model.parameters()).device
        batches = (torch.from_numpy(images[start:start + 32]).to(device) for start in range(0, len(images), 32))
        layers = recompute_batch_norm(self.model.encoder, batches, frozen_too=True)
        return f"batch norm of {layers} layers adapted to the {len(images):,} images of {listing}"


def load_captioner(exp_dir: str | Path, *, checkpoint: str = "best",
                   device: str | torch.device = "cpu") -> LoadedCaptioner:
    """The captioning model of an experiment directory with the weights of `checkpoint`. The registry's
    `load` for captioning: callers go through nmt.tasks.load_trained."""
    exp_dir = Path(exp_dir)
    cfg = load_config(exp_dir / "config.yaml")
    tokenizer = Tokenizer.load(exp_dir)
    path = checkpoint_path(exp_dir, checkpoint)
    model = build_captioner(cfg, tokenizer.tgt_vocab_size, pretrained=False)
    load_weights(model, path, mismatch=f"model: {path} does not fit the model in {exp_dir / 'config.yaml'}")
    return LoadedCaptioner(cfg, tokenizer, model.to(device).eval(), path, exp_dir)


class CaptionTask(NoTaskState):
    metrics = {**TranslationTask.metrics, "exact": Metric("exact match %", higher_is_better=True, digits=1)}
    unit = "caption tokens"

    def __init__(self, cfg: CaptionConfig, *, device: torch.device, cluster: Cluster):
        self.cfg, self.device, self.cluster = cfg, device, cluster
        data_dir = Path(cfg.exp_dir) / "data"
        self.tokenizer = Tokenizer.load(cfg.exp_dir)
        self.model = build_captioner(cfg, self.tokenizer.tgt_vocab_size).to(device)
        self.positions = grid_positions(cfg)
        train = cfg.train
        encoder = self.model.encoder
        frozen = isinstance(encoder, PretrainedEncoder) and not encoder.fine_tune
        log = print if cluster.is_main else (lambda _: None)
        # A frozen backbone's grids are computed once: the batches carry them instead of the images.
        sources = {split: cached_grids(encoder, data_dir, split, device=device, log=log) if frozen
                   else open_images(data_dir, split) for split in ("train", "dev")}
        self.iterator = CaptionBatches(sources["train"], TokenArray(data_dir / "train.tgt"),
                                       positions=self.positions, batch_tokens=train.batch_tokens,
                                       batch_size=train.batch_size, seed=train.seed, max_tgt_tokens=train.max_tgt_tokens,
                                       rank=cluster.rank, world_size=cluster.world_size, augment=cfg.image.augment)
        # The same training images each time, drawn once from the run's seed (each process the same).
        chosen = np.random.default_rng(train.seed).permutation(len(sources["train"]))[: train.batch_norm_images]
        self.batch_norm_images = None if frozen else (sources["train"], np.sort(chosen))
        self.dev_sources, self.dev_captions = sources["dev"], TokenArray(data_dir / "dev.tgt")
        self.dev_images = open_images(data_dir, "dev")  # the pictures TensorBoard shows
        self.references = list(read_lines(data_dir / "dev.tgt"))
        one_best = dataclasses.replace(cfg.decode, method="beam", beam_size=train.validation_beam, nbest=1)
        self.captioner = Captioner(self.model, self.tokenizer, decode=one_best, positions=self.positions, device=device)
        self.hypotheses: list[str] = []

    def parameter_groups(self) -> list[dict]:
        """The optimizer's groups: a fine-tuned backbone at image.backbone_lr x train.lr, the rest at train.lr."""
        backbone = getattr(self.model.encoder, "backbone", None)
        factor = self.cfg.image.backbone_lr
        if backbone is None or factor == 1.0:
            return [{"params": list(self.model.parameters())}]
        own = {id(p) for p in backbone.parameters()}
        return [{"params": [p for p in self.model.parameters() if id(p) not in own]},
                {"params": list(backbone.parameters()), "lr": self.cfg.train.lr * factor}]

    def count(self, batch) -> int:
        return batch.n_tgt_tokens

    def loss(self, model: nn.Module, batch, *, label_smoothing: float) -> torch.Tensor | Regularised:
        """Summed cross-entropy, plus Xu et al.'s lambda * sum_i (1 - sum_t alpha_ti)^2 per image when
        train.attention_coverage is lambda (the steps t of each caption, its EOS included)."""
        batch = batch.to(self.device)
        out = model(batch.src, batch.src_lengths, batch.tgt_in)
        loss = summed_cross_entropy(out.logits, batch.tgt_out, label_smoothing=label_smoothing)
        objective = loss
        weight = self.cfg.train.ctc_weight
        if weight:
            encoder: Any = getattr(model, "module", model).encoder  # under DDP, the model it wraps
            objective = (1.0 - weight) * loss + weight * ctc_loss(encoder, batch.tgt_out)
        coverage = self.cfg.train.attention_coverage
        if coverage and out.attention is not None:
            real = (batch.tgt_out != PAD)[:, :, None]  # (B, T, 1)
            received = (out.attention.float() * real).sum(1)  # (B, T, S) -> (B, S): all steps' attention
            objective = objective + coverage * (1.0 - received).pow(2).sum()
        return Regularised(objective, loss) if objective is not loss else loss

    @torch.no_grad()
    def _dev_loss(self) -> tuple[float, float]:
        batches = make_batches(np.zeros(len(self.dev_captions), dtype=np.int64), self.dev_captions.lengths,
                               batch_tokens=self.cfg.decode.batch_tokens, batch_size=64, shuffle=False)
        total, tokens = 0.0, 0.0
        with evaluating(self.model):
            for indices in batches[self.cluster.rank::self.cluster.world_size]:
                batch = image_batch(self.dev_sources, indices, self.positions, [self.dev_captions[i] for i in indices])
                total += float(token_loss(self.model, batch.to(self.device)))
                tokens += batch.n_tgt_tokens
        total, tokens = self.cluster.sum([total, tokens], self.device, what="validation")
        loss = total / max(tokens, 1)
        return loss, math.exp(min(loss, 50.0))

    def _recompute_batch_norm(self) -> None:
        if self.batch_norm_images is None or not len(self.batch_norm_images[1]):
            return
        images, chosen = self.batch_norm_images
        size = self.cfg.train.batch_size or 64
        batches = (torch.from_numpy(np.ascontiguousarray(images[chosen[start:start + size]])).to(self.device)
                   for start in range(0, len(chosen), size))
        recompute_batch_norm(self.model.encoder, batches)

    def validate(self) -> Validation:
        self._recompute_batch_norm()
        loss, ppl = self._dev_loss()
        share = np.arange(self.cluster.rank, len(self.dev_images), self.cluster.world_size)
        mine = [result[0].text for result in self.captioner.caption(self.dev_sources[share])]
        shares = self.cluster.gather(mine, what="validation")
        self.hypotheses = [shares[i % len(shares)][i // len(shares)] for i in range(len(self.dev_images))]
        scores = corpus_scores(self.hypotheses, [self.references])
        exact = 100.0 * float(np.mean([h == r for h, r in zip(self.hypotheses, self.references)]))
        metrics = {"loss": loss, "ppl": ppl, "bleu": float(scores["bleu"]), "chrf": float(scores["chrf"]),
                   "exact": exact}
        return Validation(metrics, note=str(scores["bleu_signature"]))

    def report(self, sink: ExtrasSink, step: int) -> None:
        """The first dev captions beside their references, as a table, and where a few of them looked:
        each piece's attention over its image (Show, Attend and Tell's figure)."""
        rows = ["| image | reference | caption |", "| --- | --- | --- |"]
        rows += [f"| {i} | {self.references[i]} | {self.hypotheses[i]} |" for i in range(min(N_EXAMPLES, len(self.hypotheses)))]
        sink.text("dev/captions", "\n".join(rows), step)
        images = self.dev_images[: min(N_ATTENTION_EXAMPLES, len(self.dev_images))]
        greedy = dataclasses.replace(self.cfg.decode, method="greedy", nbest=1)
        looking = Captioner(self.model, self.tokenizer, decode=greedy, positions=self.positions, device=self.device,
                            keep_attention=True)
        for index, ((best,), image) in enumerate(zip(looking.caption(images), images)):
            if best.attention is not None:
                pieces = [self.tokenizer.tgt.id_to_piece(int(i)) for i in best.tokens] + ["</s>"]
                sink.figure(f"dev/attention/{index}", attention_figure(image, pieces, best.attention, grid(self.cfg)), step)

    def describe(self) -> dict:
        return {"task": "captioning", "variant": self.cfg.model.variant, "cell": self.cfg.model.cell}

    def summary(self) -> str:
        h, w = grid(self.cfg)
        return (f"captioning with {self.cfg.model.variant} ({self.cfg.model.cell}) over a {h} x {w} CNN grid, "
                f"{len(self.iterator.captions):,} training images ({self.iterator.n_left_out:,} over the length limit)")
