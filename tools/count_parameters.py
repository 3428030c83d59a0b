#!/usr/bin/env python3
"""Print the parameter count of each model variant a config describes.

    python tools/count_parameters.py recipes/ding-de-en/conf/rnnsearch.yaml --vocab 8000
    python tools/count_parameters.py --reference --vocab 8000   # every variant at the reference sizes (tools/benchlib.py)
"""

from __future__ import annotations

import argparse
import sys

import benchlib  # tools/, beside this file: the reference sizes

from nmt.config import ModelConfig
from nmt.errors import NmtError
from nmt.models import build_model, count_parameters
from nmt.tasks import load_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", help="experiment YAML files")
    parser.add_argument("--vocab", type=int, default=8000, help="joint vocabulary size (default 8000)")
    parser.add_argument("--reference", action="store_true", help="every variant at the reference sizes")
    args = parser.parse_args()
    models: dict[str, ModelConfig] = {}
    if args.reference:
        for cell in ("lstm", "gru", "rnn"):
            for name in benchlib.REFERENCE_MODELS:
                models[f"{name} ({cell})"] = benchlib.reference_config(name, cell=cell).model
    try:
        for path in args.configs:
            models[path] = load_config(path).model
    except NmtError as err:
        sys.exit(f"count_parameters: {err}")
    print(f"| model | parameters (vocabulary {args.vocab:,}) |\n| --- | ---: |")
    for name, cfg in models.items():
        print(f"| {name} | {count_parameters(build_model(cfg, args.vocab, args.vocab)):,} |")


if __name__ == "__main__":
    main()
