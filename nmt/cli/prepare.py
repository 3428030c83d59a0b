"""nmt-prepare: a config's data, ready to train: for translation, corpus -> cleaned splits ->
SentencePiece -> cached token arrays; for the character model, its vocabulary and id arrays."""

from __future__ import annotations

import argparse
import json
import sys

from nmt.cli.common import add_config_arguments, run_main
from nmt.tasks import format_summary, load_config, prepare, spec_of


def _main() -> int:
    parser = argparse.ArgumentParser(
        prog="nmt-prepare",
        description="Prepare a config's data in its experiment directory (translation: clean the corpus, train "
                    "SentencePiece, cache token arrays; char_lm: the vocabulary and id arrays).",
    )
    add_config_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args()
    cfg = load_config(args.config, args.overrides)
    spec = spec_of(cfg)
    summary = prepare(spec, cfg, log=lambda line: print(line, file=sys.stderr, flush=True))
    print(json.dumps(summary, indent=2) if args.json else format_summary(spec, summary, cfg))
    return 0


def main() -> None:
    run_main("nmt-prepare", _main)


if __name__ == "__main__":
    main()
