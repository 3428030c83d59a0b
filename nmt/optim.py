"""Optimizers and learning-rate schedules, built from the TrainConfig."""

from __future__ import annotations

import math

import torch

from nmt.config import LoopConfig


def task_optimizer(task, cfg: LoopConfig) -> torch.optim.Optimizer:
    """The optimizer over a task's model: its `parameter_groups()` where it gives them (a pretrained
    image encoder fine-tuned slower than the decoder learns; the schedule scales each group alike),
    else all its parameters at train.lr."""
    groups = getattr(task, "parameter_groups", None)
    return build_optimizer(groups() if groups else task.model.parameters(), cfg)


def build_optimizer(params, cfg: LoopConfig) -> torch.optim.Optimizer:
    # fused=True: one kernel over all parameters instead of several passes (CPU and CUDA).
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    return torch.optim.SGD(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)


def inverse_sqrt_factor(step: int, warmup_steps: int) -> float:
    """Linear warm-up to the base rate over warmup_steps, then decay with 1/sqrt(step)."""
    step = max(step, 1)
    if warmup_steps and step < warmup_steps:
        return step / warmup_steps
    return math.sqrt(max(warmup_steps, 1) / step)


def cosine_factor(step: int, warmup_steps: int, max_steps: int) -> float:
    """Linear warm-up, then half a cosine from 1 down to 0 at max_steps (and 0 after it)."""
    if warmup_steps and step < warmup_steps:
        return step / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, max_steps - warmup_steps))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


class Schedule:
    """One interface for the schedules: after each update, and after each validation."""

    def __init__(self, optimizer: torch.optim.Optimizer, cfg: LoopConfig, *, higher_is_better: bool):
        self.optimizer = optimizer
        self.per_update: torch.optim.lr_scheduler.LambdaLR | None = None
        self.per_validation: torch.optim.lr_scheduler.ReduceLROnPlateau | None = None
        if cfg.schedule == "inverse_sqrt":
            self.per_update = torch.optim.lr_scheduler.LambdaLR(
                optimizer, lambda step: inverse_sqrt_factor(step + 1, cfg.warmup_steps))
        elif cfg.schedule == "cosine":
            assert cfg.max_steps is not None  # LoopConfig.check
            max_steps = cfg.max_steps
            self.per_update = torch.optim.lr_scheduler.LambdaLR(
                optimizer, lambda step: cosine_factor(step + 1, cfg.warmup_steps, max_steps))
        elif cfg.schedule == "plateau":
            self.per_validation = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, mode="max" if higher_is_better else "min",
                factor=cfg.plateau_factor, patience=cfg.plateau_patience)
        self.scheduler = self.per_update or self.per_validation

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def after_update(self) -> None:
        if self.per_update is not None:
            self.per_update.step()

    def after_validation(self, metric: float) -> None:
        if self.per_validation is not None:
            self.per_validation.step(metric)

    def state_dict(self) -> dict:
        return self.scheduler.state_dict() if self.scheduler is not None else {}

    def load_state_dict(self, state: dict) -> None:
        if self.scheduler is not None and state:
            self.scheduler.load_state_dict(state)
