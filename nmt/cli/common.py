"""What every console script shares: config arguments and one-line errors."""

from __future__ import annotations

import argparse
import sys
from typing import Callable

from nmt.config import Config, load_config
from nmt.errors import NmtError


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="experiment YAML file")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
        help="override one config value (repeatable), e.g. --set model.dropout=0.2",
    )


def config_from_args(args: argparse.Namespace) -> Config:
    return load_config(args.config, args.overrides)


def run_main(program: str, main: Callable[[], int | None]) -> None:
    """Run a CLI body: a user's mistake becomes one line on stderr and exit 2, never a traceback."""
    try:
        code = main()
    except NmtError as err:
        print(f"{program}: error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(f"{program}: interrupted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(141)  # the reader went away (e.g. `| head`): not an error of ours
    sys.exit(code or 0)
