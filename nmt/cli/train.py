"""nmt-train: prepare the data (reusing what is there), then train, validate and checkpoint.

Under torchrun (`torchrun --nproc_per_node N -m nmt.cli.train ...`, or `nmt-train --nproc N`)
every process trains on its share of the batches; rank 0 prepares the data and writes the files.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from nmt.cli.common import add_config_arguments, limit_threads, run_main
from nmt.errors import NmtError
from nmt.tasks import load_config, spec_of


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
    cfg = load_config(args.config, args.overrides)
    if args.init_from:
        spec_of(cfg).check_init_from()  # before torchrun starts processes that would each say so
    if args.nproc is not None:
        if args.nproc < 1:
            raise NmtError(f"train: --nproc {args.nproc}: needs at least 1 process")
        hand_over_to_torchrun(args.nproc)

    from nmt.launch import train_experiment  # after argument and config errors, which need no torch

    limit_threads()
    results, best_line = train_experiment(cfg, resume=args.resume, init_from=args.init_from, quiet=args.quiet)
    if results is not None:
        print(f"best {best_line} at step {results['best']['step']}; {results['steps']} updates in "
              f"{results['train_minutes']:.1f} min; results in {Path(cfg.exp_dir) / 'results.json'}")
    return 0


def main() -> None:
    run_main("nmt-train", _main)


if __name__ == "__main__":
    main()
