"""Where a training run stands: the counters `last.pt` keeps, and how long the run has left."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

from nmt.config import LoopConfig


@dataclass
class Progress:
    step: int = 0  # updates made (skipped ones included)
    elapsed: float = 0.0  # wall seconds of the run, resumes included
    train_seconds: float = 0.0  # seconds inside updates only
    validation_seconds: float = 0.0  # seconds inside validations
    startup_seconds: float = 0.0  # before each process's first update: the first epoch's plan (and sampled segmentation)
    validations: int = 0
    units_trained: int = 0  # what the task's count() counts: target tokens, characters
    best: list[tuple[float, int]] = field(default_factory=list)  # (metric, step) of kept best checkpoints, best first
    bad_validations: int = 0  # in a row, for patience
    skipped_updates: int = 0  # non-finite loss or gradient
    last_validated_step: int = -1
    history: list[dict] = field(default_factory=list)  # one record per validation

    def state_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_state(cls, state: dict) -> Progress:
        """From `state_dict()`, or from a checkpoint written before this class (step, trainer, history)."""
        if "progress" in state:
            saved = dict(state["progress"])
        else:
            saved = {**state["trainer"], "step": state["step"], "history": state["history"]}
        if "target_tokens" in saved:  # its name before a task said what it counts
            saved["units_trained"] = saved.pop("target_tokens")
        known = {f.name for f in dataclasses.fields(cls)}
        progress = cls(**{key: value for key, value in saved.items() if key in known})
        progress.best = [(float(metric), int(step)) for metric, step in progress.best]
        return progress

    def seconds_per_update(self) -> float:
        """Wall time an update, batching and logging included (validations are counted apart, and the one-off
        wait before a process's first update is left out: over the first 20 updates it would triple the pace)."""
        return max(self.elapsed - self.validation_seconds - self.startup_seconds, self.train_seconds) / max(self.step, 1)

    def seconds_left(self, *, total_steps: int | None, max_minutes: float | None,
                     validate_every: int) -> float | None:
        """The time to the first of the step and time budgets at the pace so far; None if neither is set.

        Counts validations at their measured cost once one has run (before that, updates only).
        """
        if self.step == 0:
            return None
        estimates = []
        if total_steps is not None:
            steps_left = max(total_steps - self.step, 0)
            seconds = steps_left * self.seconds_per_update()
            if self.validations:
                seconds += (steps_left // validate_every + 1) * self.validation_seconds / self.validations
            estimates.append(seconds)
        if max_minutes is not None:
            estimates.append(max(max_minutes * 60 - self.elapsed, 0.0))
        return min(estimates) if estimates else None


class LogWindow:
    """What a training log line averages since the last one: the loss, a regulariser's penalty, and
    units a second of training (time spent validating is left out with `pause`)."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.units, self.start = 0, time.time()
        self.losses: list[float] = []
        self.penalties: list[float] = []

    def add(self, loss: float, units: int, penalty: float | None) -> None:
        self.units += units
        self.losses.append(loss)
        if penalty is not None:
            self.penalties.append(penalty)

    def pause(self, seconds: float) -> None:
        self.start += seconds

    @property
    def rate(self) -> float:
        return self.units / max(time.time() - self.start, 1e-9)

    @property
    def loss(self) -> float:
        return sum(self.losses) / len(self.losses)

    @property
    def penalty(self) -> float | None:
        return sum(self.penalties) / len(self.penalties) if self.penalties else None


def step_budget(cfg: LoopConfig, *, step: int, epoch: int, updates_per_epoch: int,
                updates_into_epoch: int) -> int | None:
    """The update at which max_steps or max_epochs ends the run, whichever comes first; None if neither is set."""
    budgets = []
    if cfg.max_steps is not None:
        budgets.append(cfg.max_steps)
    if cfg.max_epochs is not None:
        budgets.append(step + (cfg.max_epochs - epoch + 1) * updates_per_epoch - updates_into_epoch)
    return min(budgets) if budgets else None


def format_minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"
