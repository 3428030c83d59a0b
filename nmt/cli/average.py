"""nmt-average: average the last k checkpoints of a run into checkpoints/avg.pt."""

from __future__ import annotations

import argparse
from pathlib import Path

from nmt.cli.common import run_main
from nmt.errors import NmtError


def _main() -> int:
    parser = argparse.ArgumentParser(prog="nmt-average", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, metavar="EXP_DIR")
    parser.add_argument("--last", type=int, default=5, help="how many of the most recent step-N.pt (default 5)")
    parser.add_argument("-o", "--output", default=None, help="default: EXP_DIR/checkpoints/avg.pt")
    args = parser.parse_args()

    from nmt.checkpoint import average_checkpoints, save_checkpoint

    directory = Path(args.model) / "checkpoints"
    steps = sorted((int(p.stem.split("-")[1]) for p in directory.glob("step-*.pt")), reverse=True)
    if not steps:
        raise NmtError(f"average: no step-N.pt checkpoints in {directory}")
    chosen = [directory / f"step-{s}.pt" for s in steps[: args.last]]
    output = Path(args.output) if args.output else directory / "avg.pt"
    save_checkpoint(average_checkpoints(chosen), output)
    print(f"averaged {len(chosen)} checkpoints (steps {', '.join(str(s) for s in steps[:args.last])}) into {output}")
    return 0


def main() -> None:
    run_main("nmt-average", _main)


if __name__ == "__main__":
    main()
