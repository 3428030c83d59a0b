"""nmt-shortlist: learn a translation model's lexical shortlist from its prepared training data
(EXP/shortlist.npz), which decode.shortlist uses (nmt/shortlist.py)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from nmt.cli.common import run_main
from nmt.errors import NmtError


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="nmt-shortlist", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, metavar="EXP_DIR", help="experiment directory of a translation model")
    parser.add_argument("--per-word", type=int, default=50, help="target pieces kept for each source piece")
    parser.add_argument("--frequent", type=int, default=100, help="the most frequent target pieces, always in")
    return parser.parse_args()


def _main() -> int:
    args = _arguments()
    if args.per_word < 1 or args.frequent < 0:
        raise NmtError("shortlist: --per-word must be at least 1 and --frequent at least 0")
    from nmt.batching import ParallelArrays
    from nmt.shortlist import learn_shortlist
    from nmt.tasks import require_task
    from nmt.tokenizer import Tokenizer

    exp_dir = Path(args.model)
    require_task(exp_dir, "translation")
    data = exp_dir / "data"
    if not (data / "train.src.bin").exists():
        raise NmtError(f"shortlist: {data} holds no prepared training data (nmt-prepare writes it)")
    tokenizer = Tokenizer.load(exp_dir)
    pairs = ParallelArrays(data, "train")
    started = time.perf_counter()
    shortlist = learn_shortlist((pairs.src[i] for i in range(len(pairs))), (pairs.tgt[i] for i in range(len(pairs))),
                                src_vocab=tokenizer.src_vocab_size, tgt_vocab=tokenizer.tgt_vocab_size,
                                per_word=args.per_word, frequent=args.frequent)
    path = shortlist.save(exp_dir)
    print(f"nmt-shortlist: {path}: up to {args.per_word} target pieces for each of {tokenizer.src_vocab_size:,} source "
          f"pieces and the {len(shortlist.frequent)} most frequent, from {len(pairs):,} sentence pairs in "
          f"{time.perf_counter() - started:.1f} s; use it with --set decode.shortlist=true")
    return 0


def main() -> None:
    run_main("nmt-shortlist", _main)


if __name__ == "__main__":
    main()
