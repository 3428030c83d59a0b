"""The search options nmt-translate and nmt-caption share: each sets the model's decode.* key of the
same meaning, and one config check covers them and the model's own settings together."""

from __future__ import annotations

import argparse
from typing import Any

from nmt.config_files import config_to_dict
from nmt.errors import ConfigError

OPTION_KEYS = {"--beam": "beam_size", "--nbest": "nbest", "--temperature": "temperature", "--top-k": "top_k",
               "--sample": "method"}


def add_search_arguments(parser: argparse.ArgumentParser, *, per: str) -> None:
    """--beam, --nbest, --sample, --temperature, --top-k, --seed; `per` names what gets n-best ("line", "image")."""
    parser.add_argument("--beam", type=int, default=None, help="decode.beam_size (1 is greedy)")
    parser.add_argument("--nbest", type=int, default=None,
                        help=f"decode.nbest: hypotheses per {per}, tab-separated with scores")
    parser.add_argument("--sample", action="store_true", help="decode.method=sample: sample instead of searching")
    parser.add_argument("--temperature", type=float, default=None, help="decode.temperature, for --sample")
    parser.add_argument("--top-k", type=int, default=None,
                        help="decode.top_k: sample from the k most probable tokens (0: all)")
    parser.add_argument("--seed", type=int, default=None, help="seed for --sample")


def _search_options(args: argparse.Namespace) -> dict[str, str]:
    """The search options given, as {option: the decode.* setting it stands for}."""
    values = {"--beam": args.beam, "--nbest": args.nbest, "--temperature": args.temperature, "--top-k": args.top_k,
              "--sample": "sample" if args.sample else None}
    return {option: f"decode.{OPTION_KEYS[option]}={value}" for option, value in values.items() if value is not None}


def with_search_options(saved: Any, args: argparse.Namespace, overrides: list[str] | None = None) -> Any:
    """A trained model's config with `overrides` (decode.* items) and then the search options applied and
    checked; an error names the option that set the key."""
    from nmt.tasks import load_config

    options = _search_options(args)
    try:
        return load_config(config_to_dict(saved), (overrides or []) + list(options.values()))
    except ConfigError as err:
        named = [f"{option} sets decode.{OPTION_KEYS[option]}" for option in options
                 if f"decode.{OPTION_KEYS[option]} " in str(err)]
        raise ConfigError(f"{err} ({'; '.join(named)})" if named else str(err)) from None


def plain_line(result: list, nbest: int) -> str:
    """One output line: the best text, or with decode.nbest above 1 each text and its score, tab-separated
    (the same columns on every line, however many hypotheses a search finished)."""
    if nbest > 1:
        return "\t".join(f"{t.text}\t{t.score:.4f}" for t in result)
    return result[0].text
