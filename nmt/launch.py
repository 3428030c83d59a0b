"""Starting a training run in an experiment directory: a new run, `--resume` or `--init-from`,
the task built from the registry, and the loop (nmt/train.py) run over it. nmt-train and the
sweep call train_experiment; loading a finished model for use is nmt/experiment.py's.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import torch

from nmt.checkpoint import NAMED_CHECKPOINTS, checkpoint_path, load_weights
from nmt.config_files import config_to_dict
from nmt.device import pick_device
from nmt.distributed import Cluster
from nmt.errors import NmtError
from nmt.tasks import Task, format_summary, load_config, prepare, spec_of
from nmt.train import Trainer

# Sections a resumed run must share with the run it continues; train and decode may change.
FIXED_ON_RESUME = ("data", "tokenizer", "model")


def resolve_init_from(spec: str) -> tuple[Path, Path]:
    """`EXP_DIR`, `EXP_DIR:best|last|avg` or a checkpoint file -> (its experiment directory, the checkpoint)."""
    directory, _, name = spec.rpartition(":")
    if name in NAMED_CHECKPOINTS and directory:
        exp_dir, path = Path(directory), checkpoint_path(Path(directory), name)
    elif Path(spec).is_file():
        path = Path(spec)
        exp_dir = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    else:
        exp_dir, path = Path(spec), checkpoint_path(Path(spec), "best")
    if not (exp_dir / "config.yaml").is_file():
        raise NmtError(f"train: --init-from {spec}: {exp_dir} is not an experiment directory (no config.yaml)")
    if not path.is_file():
        raise NmtError(f"train: --init-from {spec}: no checkpoint {path}")
    return exp_dir, path


def _first_difference(old, new, prefix: str) -> str | None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in old.keys() | new.keys():
            found = _first_difference(old.get(key), new.get(key), f"{prefix}.{key}")
            if found:
                return found
        return None
    return None if old == new else f"{prefix}: {old!r} -> {new!r}"


def check_exp_dir(cfg: Any, *, resume: bool) -> None:
    """Refuse to overwrite a run; on --resume, refuse a config that changes what was trained."""
    exp_dir = Path(cfg.exp_dir)
    started = (exp_dir / "checkpoints" / "last.pt").exists() or (exp_dir / "train.log").exists()
    if started and not resume:
        raise NmtError(f"train: {exp_dir} already holds a training run; continue it with --resume, "
                       "or choose another exp_dir (--set exp_dir=...)")
    if resume and (exp_dir / "config.yaml").exists():
        saved, current = config_to_dict(load_config(exp_dir / "config.yaml")), config_to_dict(cfg)
        for section in (s for s in FIXED_ON_RESUME if s in current):
            difference = _first_difference(saved[section], current[section], section)
            if difference:
                raise NmtError(f"train: --resume with a changed config ({difference}); "
                               f"only the train and decode sections may change")


def adopt_init_from(cfg: Any, init_from: str, log: Callable[[str], None]) -> tuple[Path, Path]:
    """Fine-tuning from `init_from` (EXP_DIR[:best|:last|:avg] or a checkpoint): this config must describe
    the same model (the keys the task's FineTuning names may differ) and takes the sections it adopts
    (translation: the tokenizer settings, as it takes the SentencePiece model). Returns (that
    experiment directory, the checkpoint)."""
    fine_tuning = spec_of(cfg).check_init_from()
    exp_dir, checkpoint = resolve_init_from(init_from)
    source = load_config(exp_dir / "config.yaml")
    if source.task != cfg.task:
        raise NmtError(f"train: --init-from {init_from} holds a {spec_of(source).title}, not a {spec_of(cfg).title}")
    mine, theirs = config_to_dict(cfg)["model"], config_to_dict(source)["model"]
    for key in fine_tuning.may_change:
        mine.pop(key), theirs.pop(key)
    difference = _first_difference(theirs, mine, "model")
    if difference:
        raise NmtError(f"train: --init-from {init_from}: that model differs from this config's ({difference}); "
                       f"fine-tuning keeps the architecture (only {', '.join('model.' + k for k in fine_tuning.may_change)} "
                       "may change)")
    for section in fine_tuning.adopts:
        if getattr(source, section) != getattr(cfg, section):
            log(f"--init-from: the {section} settings of {exp_dir / 'config.yaml'} replace this config's")
            setattr(cfg, section, getattr(source, section))
    return exp_dir, checkpoint


def resuming(cfg: Any, *, resume: bool) -> bool:
    """Whether this run continues from the exp_dir's last.pt (then --init-from's weights are not loaded)."""
    return resume and (Path(cfg.exp_dir) / "checkpoints" / "last.pt").exists()


def build_task(cfg: Any, *, device: torch.device, cluster: Cluster | None = None, init_from: Path | None = None) -> Task:
    """The task of `cfg` (its registry entry's class), its model seeded by train.seed (every process starts
    from the same weights), or with the weights of `init_from` (fine-tuning)."""
    torch.manual_seed(cfg.train.seed)
    task: Task = spec_of(cfg).task_class()(cfg, device=device, cluster=cluster or Cluster())
    if init_from is not None:
        load_weights(task.model, init_from, map_location=device,
                     mismatch=f"train: --init-from {init_from} does not fit this config's model")
    return task


def train_experiment(cfg: Any, *, resume: bool = False, init_from: str | None = None,
                     quiet: bool = False, on_validation=None) -> tuple[dict | None, str]:
    """A training run of `cfg` (from nmt.tasks.load_config) in its exp_dir, as nmt-train starts it (under
    torchrun too): prepare the data (the main process), build the task, train. Returns the main
    process's results and a line with the best dev metrics (the other processes get None)."""
    spec = spec_of(cfg)
    cluster = Cluster.from_environment(device_type=pick_device(cfg.train.device).type,
                                       rank_timeout=cfg.train.rank_timeout)
    speak = not quiet and cluster.is_main
    log = (lambda line: print(line, file=sys.stderr, flush=True)) if speak else (lambda line: None)
    try:
        init_dir, init_checkpoint = adopt_init_from(cfg, init_from, log) if init_from else (None, None)
        if cluster.is_main:
            check_exp_dir(cfg, resume=resume)
            log(format_summary(spec, prepare(spec, cfg, log=log, tokenizer_from=init_dir), cfg))
        cluster.wait_for_main(what="data preparation")
        device = cluster.device(pick_device(cfg.train.device))
        task = build_task(cfg, device=device, cluster=cluster,
                          init_from=None if resuming(cfg, resume=resume) else init_checkpoint)
        hparams = {f"{section}.{key}": value for section in ("model", "train")
                   for key, value in config_to_dict(cfg)[section].items()}
        results = Trainer(task, cfg.train, exp_dir=cfg.exp_dir, device=device, cluster=cluster, resume=resume,
                          quiet=quiet, hparams=hparams, on_validation=on_validation).run()
    finally:
        cluster.close()
    if not cluster.is_main:
        return None, ""
    best, stop = results["best"], cfg.train.stop_metric
    others = [task.metrics[name].format(best[name]) for name in task.metrics if name not in (stop, "loss")]
    return results, f"dev {task.metrics[stop].format(best[stop])}" + (f" ({', '.join(others)})" if others else "")
