"""nmt-train: prepare the data (reusing what is there), then train, validate and checkpoint.

Under torchrun (`torchrun --nproc_per_node N -m nmt.cli.train ...`, or `nmt-train --nproc N`)
every process trains on its share of the batches; rank 0 prepares the data and writes the files.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from nmt.cli.common import add_config_arguments, config_from_args, limit_threads, load_any_config, run_main
from nmt.config import Config, config_to_dict, load_config
from nmt.errors import NmtError

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


def check_exp_dir(cfg: Config, *, resume: bool) -> None:
    """Refuse to overwrite a run; on --resume, refuse a config that changes what was trained."""
    exp_dir = Path(cfg.exp_dir)
    started = (exp_dir / "checkpoints" / "last.pt").exists() or (exp_dir / "train.log").exists()
    if started and not resume:
        raise NmtError(f"train: {exp_dir} already holds a training run; continue it with --resume, "
                       "or choose another exp_dir (--set exp_dir=...)")
    if resume and (exp_dir / "config.yaml").exists():
        saved, current = config_to_dict(load_any_config(exp_dir / "config.yaml")), config_to_dict(cfg)
        for section in (s for s in FIXED_ON_RESUME if s in current):
            difference = _first_difference(saved[section], current[section], section)
            if difference:
                raise NmtError(f"train: --resume with a changed config ({difference}); "
                               f"only the train and decode sections may change")


def adopt_init_from(cfg: Config, spec: str, log) -> tuple[Path, Path]:
    """Fine-tuning from `spec`: this config must describe the same model (dropout may differ) and
    takes that run's tokenizer settings, as it takes its SentencePiece model."""
    from nmt.experiment import resolve_init_from

    exp_dir, checkpoint = resolve_init_from(spec)
    source = load_config(exp_dir / "config.yaml")
    mine, theirs = config_to_dict(cfg)["model"], config_to_dict(source)["model"]
    mine.pop("dropout"), theirs.pop("dropout")
    difference = _first_difference(theirs, mine, "model")
    if difference:
        raise NmtError(f"train: --init-from {spec}: that model differs from this config's ({difference}); "
                       "fine-tuning keeps the architecture (only model.dropout may change)")
    if source.tokenizer != cfg.tokenizer:
        log(f"--init-from: the tokenizer settings of {exp_dir / 'config.yaml'} replace this config's")
        cfg.tokenizer = source.tokenizer
    return exp_dir, checkpoint


def hand_over_to_torchrun(nproc: int) -> None:
    """`nmt-train --nproc N ...` is `torchrun --standalone --nproc_per_node N -m nmt.cli.train ...`."""
    argv, rest = [], iter(sys.argv[1:])
    for item in rest:
        if item == "--nproc":
            next(rest, None)
        elif not item.startswith("--nproc="):
            argv.append(item)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "nmt.cli.train", *argv]
    os.execv(sys.executable, command)


def _main() -> int:
    parser = argparse.ArgumentParser(prog="nmt-train", description="Train a model (preparing its data first).")
    add_config_arguments(parser)
    parser.add_argument("--resume", action="store_true", help="continue the run in exp_dir from checkpoints/last.pt")
    parser.add_argument("--init-from", default=None, metavar="EXP_DIR[:best|:last]|CHECKPOINT",
                        help="start from a trained model's weights and SentencePiece model (fine-tuning)")
    parser.add_argument("--nproc", type=int, default=None, metavar="N",
                        help="train with N processes on this machine (hands over to torchrun)")
    parser.add_argument("--quiet", action="store_true", help="log to train.log only")
    args = parser.parse_args()
    cfg = config_from_args(args)
    language_model = cfg.task == "char_lm"
    if language_model and args.init_from:
        raise NmtError("train: --init-from fine-tunes translation models; a char_lm run starts afresh")
    if args.nproc is not None:
        if args.nproc < 1:
            raise NmtError(f"train: --nproc {args.nproc}: needs at least 1 process")
        hand_over_to_torchrun(args.nproc)

    from nmt.device import pick_device
    from nmt.distributed import Cluster
    from nmt.lm import prepare as prepare_characters
    from nmt.lm_task import LanguageModelTask
    from nmt.prepare import Preparer, format_summary
    from nmt.tasks import TranslationTask
    from nmt.train import Trainer

    limit_threads()
    cluster = Cluster.from_environment(device_type=pick_device(cfg.train.device).type,
                                       rank_timeout=cfg.train.rank_timeout)
    speak = not args.quiet and cluster.is_main
    log = (lambda line: print(line, file=sys.stderr, flush=True)) if speak else (lambda line: None)
    try:
        init_dir, init_checkpoint = adopt_init_from(cfg, args.init_from, log) if args.init_from else (None, None)
        if cluster.is_main:
            check_exp_dir(cfg, resume=args.resume)
            if language_model:
                prepare_characters(cfg, log)
            else:
                summary = Preparer(cfg, log=log, tokenizer_from=init_dir).run()
                log(format_summary(summary, cfg))
        cluster.wait_for_main(what="data preparation")
        resuming = args.resume and (Path(cfg.exp_dir) / "checkpoints" / "last.pt").exists()
        task_class = LanguageModelTask if language_model else TranslationTask
        results = Trainer(cfg, resume=args.resume, quiet=args.quiet, cluster=cluster, task_class=task_class,
                          init_from=None if resuming else init_checkpoint).run()
    finally:
        cluster.close()
    if cluster.is_main:
        best = results["best"]
        scores = (f"dev {best['bpc']:.4f} bits per character" if language_model else
                  f"dev BLEU {best['bleu']:.2f} (chrF {best['chrf']:.2f}, ppl {best['ppl']:.2f})")
        print(f"best {scores} at step {best['step']}; {results['steps']} updates in {results['train_minutes']:.1f} min; "
              f"results in {Path(cfg.exp_dir) / 'results.json'}")
    return 0


def main() -> None:
    run_main("nmt-train", _main)


if __name__ == "__main__":
    main()
