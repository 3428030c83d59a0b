"""What every console script shares: config arguments, one-line errors, the thread count."""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
from pathlib import Path
from typing import Callable

from nmt.errors import NmtError


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="experiment YAML file")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
        help="override one config value (repeatable), e.g. --set model.dropout=0.2",
    )


def run_main(program: str, main: Callable[[], int | None]) -> None:
    """Run a CLI body: a user's mistake becomes one line on stderr and exit 2, never a traceback."""
    try:
        code = main()
    except NmtError as err:
        print(f"{program}: error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt as err:
        print(f"{program}: interrupted", file=sys.stderr)
        sys.exit(getattr(err, "exit_code", 130))
    except BrokenPipeError:
        sys.exit(141)  # the reader went away (e.g. `| head`): not an error of ours
    sys.exit(code or 0)


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM as an exception, so that `finally` blocks run and leave files consistent."""

    def __init__(self, signum: int):
        super().__init__()
        self.exit_code = 128 + signum  # what a shell reports for a process the signal ended


def stop_on_signals() -> None:
    """Ctrl-C and SIGTERM both end the program through Interrupted, also where a shell started it
    in the background (`cmd &` in a script), which leaves SIGINT ignored and Python without a handler."""
    def stop(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)


def available_cores(cgroup_cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """CPUs this process may use: its affinity mask, capped by a cgroup v2 CPU quota (containers)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = cgroup_cpu_max.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota to honour
    return cores


def limit_threads() -> None:
    """Never more torch threads than usable cores: torch counts the host's cores, and in a
    CPU-limited container the extra threads only wait on each other. OMP_NUM_THREADS wins."""
    if "OMP_NUM_THREADS" in os.environ:
        return
    import torch

    torch.set_num_threads(min(torch.get_num_threads(), available_cores()))
