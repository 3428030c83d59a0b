"""nmt-prepare: corpus -> cleaned splits -> SentencePiece -> cached token arrays."""

from __future__ import annotations

import argparse
import json
import sys

from nmt.cli.common import add_config_arguments, config_from_args, run_main


def _main() -> int:
    parser = argparse.ArgumentParser(
        prog="nmt-prepare",
        description="Clean the corpus, train SentencePiece and cache token arrays in the experiment directory.",
    )
    add_config_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args()
    cfg = config_from_args(args)

    from nmt.prepare import Preparer, format_summary  # after argument errors, which need no torch

    summary = Preparer(cfg, log=lambda line: print(line, file=sys.stderr, flush=True)).run()
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary, cfg))
    return 0


def main() -> None:
    run_main("nmt-prepare", _main)


if __name__ == "__main__":
    main()
