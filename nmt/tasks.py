"""What the training loop needs of a kind of model, and the translation task that provides it.

`nmt.train.Trainer` owns the loop, the optimizer, checkpoints, exact resume, TensorBoard,
early stopping and data parallelism; a Task owns the model, its batches, its loss and its
validation. Translation is one task; the character language model (`nmt.lm`) is another.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Protocol

import torch
from torch import nn

from nmt.batching import BatchIterator, ParallelArrays
from nmt.config import Config
from nmt.distributed import Cluster
from nmt.errors import NmtError
from nmt.models import build_model
from nmt.tokenizer import Tokenizer
from nmt.validate import Validator, token_loss


class EpochIterator(Protocol):
    """Batches epoch by epoch, with a position that can be saved and restored exactly."""

    epoch: int
    position: int

    def __iter__(self) -> Iterator[Any]: ...  # the rest of the current epoch

    def epoch_plan(self, epoch: int) -> list: ...  # this process's batches of an epoch (their count is used)

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


class Task(Protocol):
    model: nn.Module
    iterator: EpochIterator
    metrics: tuple[str, ...]  # the dev metrics a validation records (train.stop_metric is one of them)

    def count(self, batch) -> int:
        """Target tokens of a batch: the update's loss is divided by their sum over all processes."""

    def loss(self, model: nn.Module, batch, *, label_smoothing: float) -> torch.Tensor:
        """The summed loss of a batch through `model` (the model itself, or its DDP wrapper)."""

    def validate(self) -> tuple[dict, str, str]:
        """Dev metrics (every process gets the same), a phrase for the log, a note (a signature, say)."""

    def report(self, monitor, step: int) -> None:
        """TensorBoard extras of a validation (the main process only): examples, pictures."""

    def describe(self) -> dict:
        """What results.json says of the model: variant, cell, ..."""

    def summary(self) -> str:
        """The log's first line after the parameter count: the data."""

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


class TranslationTask:
    """A Seq2Seq model, token-budget batches of parallel text, cross-entropy, dev BLEU."""

    metrics = ("loss", "ppl", "bleu", "chrf")

    def __init__(self, cfg: Config, *, device: torch.device, cluster: Cluster):
        self.cfg, self.device = cfg, device
        exp_dir = Path(cfg.exp_dir)
        self.tokenizer = Tokenizer.load(exp_dir)
        self.model = build_model(cfg.model, self.tokenizer.src_vocab_size, self.tokenizer.tgt_vocab_size).to(device)
        train = cfg.train
        self.iterator = BatchIterator(
            ParallelArrays(exp_dir / "data", "train"), batch_tokens=train.batch_tokens, batch_size=train.batch_size,
            seed=train.seed, max_src_tokens=train.max_src_tokens, max_tgt_tokens=train.max_tgt_tokens,
            rank=cluster.rank, world_size=cluster.world_size,
        )
        if self.iterator.keep.sum() == 0:
            raise NmtError(f"train: every training pair is longer than train.max_src_tokens={train.max_src_tokens} "
                           f"or train.max_tgt_tokens={train.max_tgt_tokens} tokens")
        self.validator = Validator(self.model, self.tokenizer, exp_dir / "data", decode=cfg.decode,
                                   beam_size=train.validation_beam, device=device,
                                   batch_tokens=cfg.decode.batch_tokens, cluster=cluster)
        self.hypotheses: list[str] = []

    def count(self, batch) -> int:
        return batch.n_tgt_tokens

    def loss(self, model: nn.Module, batch, *, label_smoothing: float) -> torch.Tensor:
        return token_loss(model, batch.to(self.device), label_smoothing=label_smoothing)

    def validate(self) -> tuple[dict, str, str]:
        metrics, self.hypotheses = self.validator.run()
        phrase = (f"dev loss {metrics['loss']:.3f}, ppl {metrics['ppl']:.2f}, BLEU {metrics['bleu']:.2f}, "
                  f"chrF {metrics['chrf']:.2f}")
        return metrics, phrase, metrics["bleu_signature"]

    def report(self, monitor, step: int) -> None:
        validator, shown = self.validator, range(min(5, len(self.hypotheses)))
        monitor.dev_translations(step, [(validator.sources[i], validator.references[i], self.hypotheses[i]) for i in shown])
        examples = validator.attention_examples()
        if examples:
            monitor.attention_images(step, examples)

    def describe(self) -> dict:
        return {"variant": self.cfg.model.variant, "cell": self.cfg.model.cell}

    def summary(self) -> str:
        return (f"{self.cfg.model.variant} ({self.cfg.model.cell}), {len(self.iterator.corpus):,} training pairs "
                f"({self.iterator.n_left_out:,} over the length limits)")

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass
