"""Experiment directories: loading a trained translation model, and the rules for starting a run in
one (a new run, `--resume`, `--init-from`).

An experiment directory is self-contained: config.yaml, the SentencePiece model(s) and
checkpoints/ are all `nmt-translate --model EXP_DIR` needs.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from nmt.checkpoint import NAMED_CHECKPOINTS, checkpoint_path, load_weights
from nmt.config import Config, config_to_dict, load_config
from nmt.errors import NmtError
from nmt.models import Seq2Seq, build_model
from nmt.tasks import TaskSpec, load_task_config, require_task
from nmt.tokenizer import Tokenizer


@dataclass
class LoadedModel:
    cfg: Config
    tokenizer: Tokenizer
    model: Seq2Seq
    checkpoint: Path


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


def load_model(exp_dir: str | Path, *, checkpoint: str = "best", device: str | torch.device = "cpu") -> LoadedModel:
    """The model of an experiment directory with the weights of `checkpoint` (best, last, avg or a path)."""
    exp_dir = Path(exp_dir)
    require_task(exp_dir, "translation")
    cfg = load_config(exp_dir / "config.yaml")
    tokenizer = Tokenizer.load(exp_dir)
    path = checkpoint_path(exp_dir, checkpoint)
    model = build_model(cfg.model, tokenizer.src_vocab_size, tokenizer.tgt_vocab_size)
    load_weights(model, path, mismatch=f"model: {path} does not fit the model in {exp_dir / 'config.yaml'}")
    model.forbid_outputs(tokenizer.never_output_ids())
    return LoadedModel(cfg, tokenizer, model.to(device).eval(), path)


# ---------------------------------------------------------------- starting a run

# Model keys that shape training but not the trained weights: fine-tuning may change them.
REGULARISATION = ("dropout", "embed_dropout", "word_dropout_src", "word_dropout_tgt")

# Sections a resumed run must share with the run it continues; train and decode may change.
FIXED_ON_RESUME = ("data", "tokenizer", "model")


def _first_difference(old, new, prefix: str) -> str | None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in old.keys() | new.keys():
            found = _first_difference(old.get(key), new.get(key), f"{prefix}.{key}")
            if found:
                return found
        return None
    return None if old == new else f"{prefix}: {old!r} -> {new!r}"


def check_exp_dir(cfg, *, resume: bool) -> None:
    """Refuse to overwrite a run; on --resume, refuse a config that changes what was trained."""
    exp_dir = Path(cfg.exp_dir)
    started = (exp_dir / "checkpoints" / "last.pt").exists() or (exp_dir / "train.log").exists()
    if started and not resume:
        raise NmtError(f"train: {exp_dir} already holds a training run; continue it with --resume, "
                       "or choose another exp_dir (--set exp_dir=...)")
    if resume and (exp_dir / "config.yaml").exists():
        saved, current = config_to_dict(load_task_config(exp_dir / "config.yaml")[1]), config_to_dict(cfg)
        for section in (s for s in FIXED_ON_RESUME if s in current):
            difference = _first_difference(saved[section], current[section], section)
            if difference:
                raise NmtError(f"train: --resume with a changed config ({difference}); "
                               f"only the train and decode sections may change")


def adopt_init_from(spec: TaskSpec, cfg: Config, init_from: str, log) -> tuple[Path, Path]:
    """Fine-tuning from `init_from` (EXP_DIR[:best|:last|:avg] or a checkpoint): this config must describe
    the same model (dropout may differ) and takes that run's tokenizer settings, as it takes its
    SentencePiece model. Returns (that experiment directory, the checkpoint)."""
    spec.check_init_from()
    exp_dir, checkpoint = resolve_init_from(init_from)
    source = load_config(exp_dir / "config.yaml")
    mine, theirs = config_to_dict(cfg)["model"], config_to_dict(source)["model"]
    for key in REGULARISATION:
        mine.pop(key), theirs.pop(key)
    difference = _first_difference(theirs, mine, "model")
    if difference:
        raise NmtError(f"train: --init-from {init_from}: that model differs from this config's ({difference}); "
                       f"fine-tuning keeps the architecture (only {', '.join('model.' + k for k in REGULARISATION)} "
                       "may change)")
    if source.tokenizer != cfg.tokenizer:
        log(f"--init-from: the tokenizer settings of {exp_dir / 'config.yaml'} replace this config's")
        cfg.tokenizer = source.tokenizer
    return exp_dir, checkpoint


def resuming(cfg, *, resume: bool) -> bool:
    """Whether this run continues from the exp_dir's last.pt (then --init-from's weights are not loaded)."""
    return resume and (Path(cfg.exp_dir) / "checkpoints" / "last.pt").exists()


def train_experiment(spec: TaskSpec, cfg, *, resume: bool = False, init_from: str | None = None,
                     quiet: bool = False, on_validation=None) -> tuple[dict | None, str]:
    """A training run of `cfg` in its exp_dir, as nmt-train starts it (under torchrun too): prepare the
    data (the main process), build the task, train. Returns the main process's results and a line
    with the best dev metrics (the other processes get None)."""
    from nmt.device import pick_device
    from nmt.distributed import Cluster
    from nmt.tasks import build_task, format_summary, prepare
    from nmt.train import Trainer

    cluster = Cluster.from_environment(device_type=pick_device(cfg.train.device).type,
                                       rank_timeout=cfg.train.rank_timeout)
    speak = not quiet and cluster.is_main
    log = (lambda line: print(line, file=sys.stderr, flush=True)) if speak else (lambda line: None)
    try:
        init_dir, init_checkpoint = adopt_init_from(spec, cfg, init_from, log) if init_from else (None, None)
        if cluster.is_main:
            check_exp_dir(cfg, resume=resume)
            log(format_summary(spec, prepare(spec, cfg, log=log, tokenizer_from=init_dir), cfg))
        cluster.wait_for_main(what="data preparation")
        device = cluster.device(pick_device(cfg.train.device))
        task = build_task(spec, cfg, device=device, cluster=cluster,
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
