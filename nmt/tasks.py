"""What the training loop can train: the TASKS registry, and the contract a task keeps with the loop.

`task:` in a config names an entry (translation when it names none). The entry says, as
"module:name" strings imported only when needed, which config class reads the file, how
the data is prepared, which class trains it and which command reads a trained model. So
choosing the task happens here and nowhere else, and this module imports no torch: a bad
config is reported before torch loads.

`nmt.train.Trainer` owns the loop (optimizer, checkpoints, exact resume, TensorBoard, early
stopping, data parallelism) and receives a built `Task`; the task owns the model, its
batches, its loss and its validation. Adding a task is one class that keeps the `Task`
protocol, a config class, a prepare function and one entry here (docs/architecture.md).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol

from nmt.config import apply_overrides, config_from_dict, read_config_file
from nmt.errors import ConfigError, NmtError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from nmt.distributed import Cluster

Log = Callable[[str], None]


def _import(target: str) -> Any:
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


# ---------------------------------------------------------------- the contract

@dataclass(frozen=True)
class Metric:
    """A dev metric as the loop needs it: which way is better, and how the log writes it."""

    label: str
    higher_is_better: bool
    digits: int = 2

    def format(self, value: float) -> str:
        return f"{self.label} {value:.{self.digits}f}"


@dataclass
class Validation:
    """One validation's outcome: the same metrics on every process, and a note for the log (a signature)."""

    metrics: dict[str, float]
    note: str = ""


class ExtrasSink(Protocol):
    """Where a task puts what a validation shows beyond its numbers (TensorBoard's text and images)."""

    def text(self, tag: str, markdown: str, step: int) -> None: ...

    def figure(self, tag: str, figure: Any, step: int) -> None: ...  # a matplotlib figure; the sink closes it


class EpochIterator(Protocol):
    """Batches epoch by epoch, with a position that can be saved and restored exactly."""

    epoch: int
    position: int  # batches of the current epoch already handed out

    def __iter__(self) -> Iterator[Any]: ...  # the rest of the current epoch

    def batches_in_epoch(self, epoch: int) -> int: ...  # this process's batches in `epoch`

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


class Task(Protocol):
    """What the loop needs of the thing it trains, and no more."""

    model: nn.Module
    iterator: EpochIterator
    metrics: dict[str, Metric]  # what a validation measures, in log order; train.stop_metric names one
    unit: str  # what `count` counts, as the log says it: "target tokens", "characters"

    def count(self, batch: Any) -> int:
        """Units of a batch: the update's loss is divided by their sum over all processes."""

    def loss(self, model: nn.Module, batch: Any, *, label_smoothing: float) -> torch.Tensor:
        """The summed loss of a batch through `model` (the model itself, or its DDP wrapper)."""

    def validate(self) -> Validation:
        """Dev metrics; every process takes part and gets the same."""

    def report(self, sink: ExtrasSink, step: int) -> None:
        """What the last validation shows beyond numbers (the main process only)."""

    def describe(self) -> dict:
        """What results.json says of the model: variant, cell, ..."""

    def summary(self) -> str:
        """The log's first line: the model and its data."""

    def state_dict(self) -> dict: ...  # what exact resume needs beyond model, optimizer and batches

    def load_state_dict(self, state: dict) -> None: ...


# ---------------------------------------------------------------- the registry

@dataclass(frozen=True)
class TaskSpec:
    name: str
    title: str  # what a model of this task is, in words
    config: str  # "module:Class" of its config (a dataclass with exp_dir, train: a LoopConfig)
    prepare: str  # "module:function"(cfg, *, log, tokenizer_from) -> summary dict
    format_summary: str  # "module:function"(summary, cfg) -> the lines nmt-prepare prints
    task: str  # "module:Class"(cfg, *, device, cluster), a Task
    reader: str  # what to do with a trained model, naming the command: "translate with nmt-translate"
    fine_tuning: bool  # whether nmt-train --init-from may start it from trained weights
    legacy_keys: dict[str, str] = field(default_factory=dict)  # older spellings in saved configs -> today's

    def config_class(self) -> type:
        return _import(self.config)

    def task_class(self) -> Any:
        """The Task class (its `metrics` and `unit` are readable without building it)."""
        return _import(self.task)

    def check_init_from(self) -> None:
        """One line where --init-from cannot start this task from trained weights."""
        if not self.fine_tuning:
            raise NmtError(f"train: --init-from fine-tunes translation models; a {self.name} run starts afresh")


TASKS: dict[str, TaskSpec] = {
    "translation": TaskSpec(
        "translation", "translation model", "nmt.config:Config", "nmt.prepare:prepare", "nmt.prepare:format_summary",
        "nmt.translation_task:TranslationTask", reader="translate with nmt-translate", fine_tuning=True),
    "char_lm": TaskSpec(
        "char_lm", "character model", "nmt.lm.config:CharLMConfig", "nmt.lm.data:prepare",
        "nmt.lm.data:format_summary", "nmt.lm.task:LanguageModelTask", reader="sample from it with nmt-sample", fine_tuning=False,
        legacy_keys={"data.valid": "data.dev"}),
}


def _task_name(raw: dict) -> str:
    name = raw.get("task", "translation")
    if name not in TASKS:
        raise ConfigError(f"config: task = {name!r} is not valid: expected one of "
                          + ", ".join(repr(t) for t in TASKS))
    return name


def _rename_legacy(raw: dict, spec: TaskSpec) -> dict:
    for old, new in spec.legacy_keys.items():
        (section, old_key), (_, new_key) = old.split("."), new.split(".")
        part = raw.get(section)
        if isinstance(part, dict) and old_key in part and new_key not in part:
            part[new_key] = part.pop(old_key)
    return raw


def load_task_config(path: str | Path, overrides: list[str] | None = None) -> tuple[TaskSpec, Any]:
    """Read a config file (its bases and --set overrides applied) as the config of the task it names."""
    path = Path(path)
    raw = apply_overrides(read_config_file(path), overrides or [])
    spec = TASKS[_task_name(raw)]
    cfg = config_from_dict(_rename_legacy(raw, spec), spec.config_class())
    if not cfg.exp_dir:
        cfg.exp_dir = str(Path("exp") / path.stem)
    return spec, cfg


def task_of(exp_dir: str | Path) -> TaskSpec:
    """The task of an experiment directory's saved config."""
    config = Path(exp_dir) / "config.yaml"
    if not config.is_file():
        raise NmtError(f"model: {exp_dir} is not an experiment directory (no config.yaml)")
    return TASKS[_task_name(read_config_file(config))]


def require_task(exp_dir: str | Path, name: str) -> None:
    """One line naming the command that reads `exp_dir` when it holds a model of another task."""
    spec = task_of(exp_dir)
    if spec.name != name:
        raise NmtError(f"model: {exp_dir} holds a {spec.title} (task: {spec.name}), not a {TASKS[name].title}; "
                       f"{spec.reader}")


def prepare(spec: TaskSpec, cfg: Any, *, log: Log, tokenizer_from: Path | None = None) -> dict:
    """Prepare a task's data in its experiment directory (reusing what is there); returns a summary."""
    summary: dict = _import(spec.prepare)(cfg, log=log, tokenizer_from=tokenizer_from)
    return summary


def format_summary(spec: TaskSpec, summary: dict, cfg: Any) -> str:
    text: str = _import(spec.format_summary)(summary, cfg)
    return text


def build_task(spec: TaskSpec, cfg: Any, *, device: torch.device, cluster: Cluster | None = None,
               init_from: Path | None = None) -> Task:
    """The task, its model seeded by train.seed (every process starts from the same weights), or
    with the weights of `init_from` (fine-tuning)."""
    import torch

    from nmt.checkpoint import load_weights
    from nmt.distributed import Cluster

    torch.manual_seed(cfg.train.seed)
    task: Task = spec.task_class()(cfg, device=device, cluster=cluster or Cluster())
    if init_from is not None:
        load_weights(task.model, init_from, map_location=device,
                     mismatch=f"train: --init-from {init_from} does not fit this config's model")
    return task
