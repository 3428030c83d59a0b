"""What the training loop can train: the TASKS registry, the contract a task keeps with the loop,
and the one way to read a config (load_config) and to load a trained model (load_trained).

`task:` in a config names an entry (translation when it names none). The entry says, as
"module:name" strings imported only when needed, which config class reads the file, how
the data is prepared, which class trains it, how a trained model is loaded, which command
uses it and what fine-tuning may change. So choosing the task happens here and nowhere
else, and this module imports no torch: a bad config is reported before torch loads.

`nmt.launch` builds the task an entry names and hands it to `nmt.train.Trainer`, which owns
the loop (optimizer, checkpoints, exact resume, TensorBoard, early stopping, data
parallelism); the task owns the model, its batches, its loss and its validation. Adding a
task is a config class, a prepare function, a class that keeps the `Task` protocol, a loader
and one entry here (docs/architecture.md).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, NamedTuple, Protocol

from nmt.config_files import apply_overrides, read_config_file, validated_config
from nmt.errors import ConfigError, NmtError

if TYPE_CHECKING:
    import torch
    from torch import nn

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


class Regularised(NamedTuple):
    """A loss that is more than cross-entropy: the loop minimises `objective` but logs the
    cross-entropy as the loss (a perplexity of the objective means nothing) and the penalty apart."""

    objective: torch.Tensor
    cross_entropy: torch.Tensor


class Task(Protocol):
    """What the loop needs of the thing it trains, and no more."""

    model: nn.Module
    iterator: EpochIterator
    metrics: dict[str, Metric]  # what a validation measures, in log order; train.stop_metric names one
    unit: str  # what `count` counts, as the log says it: "target tokens", "characters"

    def count(self, batch: Any) -> int:
        """Units of a batch: the update's loss is divided by their sum over all processes."""

    def loss(self, model: nn.Module, batch: Any, *, label_smoothing: float) -> torch.Tensor | Regularised:
        """The summed loss of a batch through `model` (the model itself, or its DDP wrapper); a
        Regularised one when the objective adds a penalty to the cross-entropy."""

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


class NoTaskState:
    """For a task whose exact resume needs nothing beyond model, optimizer and batch position."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


# ---------------------------------------------------------------- the registry

@dataclass(frozen=True, kw_only=True)
class FineTuning:
    """What `nmt-train --init-from` may change of a trained model's config, and what it takes from it."""

    may_change: tuple[str, ...] = ()  # model keys that shape training but not the trained weights (dropout)
    adopts: tuple[str, ...] = ()  # sections the new run takes from the trained one (its tokenizer settings)


@dataclass(frozen=True, kw_only=True)
class TaskSpec:
    """One task the loop can train. What differs per task is named here, as "module:name" strings
    imported only when needed, so choosing a task happens here and nowhere else."""

    name: str
    title: str  # what a model of this task is, in words
    config: str  # "module:Class" of its config (a dataclass with task, exp_dir, train: a LoopConfig)
    prepare: str  # "module:function"(cfg, *, log, tokenizer_from) -> summary dict
    format_summary: str  # "module:function"(summary, cfg) -> the lines nmt-prepare prints
    task: str  # "module:Class"(cfg, *, device, cluster), a Task
    load: str  # "module:function"(exp_dir, *, checkpoint, device): a trained model, ready to use
    reader: str  # what to do with a trained model, naming the command: "translate with nmt-translate"
    fine_tuning: FineTuning | None = None  # None: --init-from cannot start this task from trained weights
    legacy_keys: dict[str, str] = field(default_factory=dict)  # older spellings in saved configs -> today's

    def config_class(self) -> type:
        return _import(self.config)

    def task_class(self) -> Any:
        """The Task class (its `metrics` and `unit` are readable without building it)."""
        return _import(self.task)

    def check_init_from(self) -> FineTuning:
        """What fine-tuning may change; one line where --init-from cannot start this task."""
        if self.fine_tuning is None:
            fine_tunable = ", ".join(name for name, spec in TASKS.items() if spec.fine_tuning is not None)
            raise NmtError(f"train: --init-from fine-tunes {fine_tunable} models; a {self.name} run starts afresh")
        return self.fine_tuning


TASKS: dict[str, TaskSpec] = {
    "translation": TaskSpec(
        name="translation", title="translation model", config="nmt.config:Config",
        prepare="nmt.prepare:prepare", format_summary="nmt.prepare:format_summary",
        task="nmt.translation_task:TranslationTask", load="nmt.experiment:load_model",
        reader="translate with nmt-translate",
        fine_tuning=FineTuning(may_change=("dropout", "embed_dropout", "word_dropout_src", "word_dropout_tgt"),
                               adopts=("tokenizer",))),
    "char_lm": TaskSpec(
        name="char_lm", title="character model", config="nmt.lm.config:CharLMConfig",
        prepare="nmt.lm.data:prepare", format_summary="nmt.lm.data:format_summary",
        task="nmt.lm.task:LanguageModelTask", load="nmt.lm.model:load_char_model",
        reader="sample from it with nmt-sample",
        legacy_keys={"data.valid": "data.dev", "model.layers": "model.num_layers"}),
    "captioning": TaskSpec(
        name="captioning", title="captioning model", config="nmt.captioning.config:CaptionConfig",
        prepare="nmt.captioning.data:prepare", format_summary="nmt.captioning.data:format_summary",
        task="nmt.captioning.task:CaptionTask", load="nmt.captioning.task:load_captioner",
        reader="caption images with nmt-caption",
        fine_tuning=FineTuning(may_change=("dropout", "embed_dropout", "word_dropout_tgt"), adopts=("tokenizer",))),
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


# ---------------------------------------------------------------- reading a config

def load_config(source: str | Path | dict, overrides: list[str] | None = None) -> Any:
    """The one way to read a config: a YAML file (its `base:` files merged, `--set` overrides applied)
    or a mapping, validated as the config of the task it names (`task:`, translation when unset).
    A file's exp_dir defaults to exp/<file stem>; `spec_of(cfg)` is its registry entry."""
    raw = dict(source) if isinstance(source, dict) else read_config_file(Path(source))
    raw = apply_overrides(raw, overrides or [])
    spec = TASKS[_task_name(raw)]
    cfg = validated_config(_rename_legacy(raw, spec), spec.config_class())
    if not cfg.exp_dir and not isinstance(source, dict):
        cfg.exp_dir = str(Path("exp") / Path(source).stem)
    return cfg


def spec_of(cfg: Any) -> TaskSpec:
    """The registry entry of a config that load_config read."""
    return TASKS[cfg.task]


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


def load_trained(exp_dir: str | Path, *, task: str, checkpoint: str = "best", device: Any = "cpu") -> Any:
    """The trained model of `exp_dir` as its task's loader (the entry's `load`) returns it; one line
    naming the right command when the directory holds a model of another task."""
    require_task(exp_dir, task)
    return _import(TASKS[task].load)(Path(exp_dir), checkpoint=checkpoint, device=device)


def prepare(spec: TaskSpec, cfg: Any, *, log: Log, tokenizer_from: Path | None = None) -> dict:
    """Prepare a task's data in its experiment directory (reusing what is there); returns a summary."""
    summary: dict = _import(spec.prepare)(cfg, log=log, tokenizer_from=tokenizer_from)
    return summary


def format_summary(spec: TaskSpec, summary: dict, cfg: Any) -> str:
    text: str = _import(spec.format_summary)(summary, cfg)
    return text
