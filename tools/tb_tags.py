#!/usr/bin/env python3
"""List what a run wrote to TensorBoard: every tag with its kind, count and last value.

    python tools/tb_tags.py recipes/toy-reverse/exp/rnnsearch
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exp_dir", type=Path)
    args = parser.parse_args()
    tb = args.exp_dir / "tb"
    if not tb.is_dir():
        sys.exit(f"tb_tags: no TensorBoard directory {tb}")
    events = EventAccumulator(str(tb), size_guidance={"images": 0, "tensors": 0, "scalars": 0})
    events.Reload()
    tags = events.Tags()
    for tag in sorted(tags["scalars"]):
        values = events.Scalars(tag)
        print(f"scalar  {tag:24s} {len(values):5d} points, last {values[-1].value:.4g} at step {values[-1].step}")
    for tag in sorted(tags["tensors"]):
        print(f"text    {tag:24s} {len(events.Tensors(tag)):5d} entries")
    for tag in sorted(tags["images"]):
        print(f"image   {tag:24s} {len(events.Images(tag)):5d} images")
    for run in sorted(p for p in tb.iterdir() if p.is_dir()):
        print(f"hparams {run.name}/ (HParams dashboard)")


if __name__ == "__main__":
    main()
