"""nmt-train: prepare the data (reusing what is there), then train, validate and checkpoint."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nmt.cli.common import add_config_arguments, config_from_args, limit_threads, run_main
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
        saved, current = config_to_dict(load_config(exp_dir / "config.yaml")), config_to_dict(cfg)
        for section in FIXED_ON_RESUME:
            difference = _first_difference(saved[section], current[section], section)
            if difference:
                raise NmtError(f"train: --resume with a changed config ({difference}); "
                               f"only the train and decode sections may change")


def _main() -> int:
    parser = argparse.ArgumentParser(prog="nmt-train", description="Train a model (preparing its data first).")
    add_config_arguments(parser)
    parser.add_argument("--resume", action="store_true", help="continue the run in exp_dir from checkpoints/last.pt")
    parser.add_argument("--quiet", action="store_true", help="log to train.log only")
    args = parser.parse_args()
    cfg = config_from_args(args)
    check_exp_dir(cfg, resume=args.resume)

    from nmt.prepare import Preparer, format_summary
    from nmt.train import Trainer

    limit_threads()
    log = (lambda line: None) if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    summary = Preparer(cfg, log=log).run()
    log(format_summary(summary, cfg))
    results = Trainer(cfg, resume=args.resume, quiet=args.quiet).run()
    best = results["best"]
    print(f"best dev BLEU {best['bleu']:.2f} (chrF {best['chrf']:.2f}, ppl {best['ppl']:.2f}) at step {best['step']}; "
          f"{results['steps']} updates in {results['train_minutes']:.1f} min; results in {Path(cfg.exp_dir) / 'results.json'}")
    return 0


def main() -> None:
    run_main("nmt-train", _main)


if __name__ == "__main__":
    main()
