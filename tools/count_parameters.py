#!/usr/bin/env python3
"""Print the parameter count of each model variant a config describes.

    python tools/count_parameters.py recipes/ding-de-en/conf/rnnsearch.yaml --vocab 8000
    python tools/count_parameters.py --reference --vocab 8000   # every variant at the reference sizes
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from nmt.config import ModelConfig
from nmt.errors import NmtError
from nmt.models import build_model, count_parameters
from nmt.tasks import load_config

# The sizes the issues compare at: embeddings 256, encoder 256 per direction or 512
# unidirectional, decoder 512, attention 512.
REFERENCE: dict[str, dict[str, Any]] = {
    "seq2seq": dict(variant="seq2seq", encoder_hidden=512),
    "seq2seq_reversed": dict(variant="seq2seq", encoder_hidden=512, reverse_source=True),
    "context": dict(variant="context", encoder_hidden=512),
    "bidir": dict(variant="bidir", encoder_hidden=256),
    "rnnsearch": dict(variant="rnnsearch", encoder_hidden=256),
    "luong": dict(variant="luong", encoder_hidden=512, score="general", input_feeding=True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", help="experiment YAML files")
    parser.add_argument("--vocab", type=int, default=8000, help="joint vocabulary size (default 8000)")
    parser.add_argument("--reference", action="store_true", help="every variant at the reference sizes")
    args = parser.parse_args()
    models: dict[str, ModelConfig] = {}
    if args.reference:
        for cell in ("lstm", "gru", "rnn"):
            for name, sizes in REFERENCE.items():
                models[f"{name} ({cell})"] = ModelConfig(cell=cell, embed_size=256, decoder_hidden=512,
                                                         attention_size=512, **sizes)
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
