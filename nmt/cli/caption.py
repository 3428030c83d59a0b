"""nmt-caption: caption images with a trained captioning model (nmt-train with `task: captioning`).

    nmt-caption --model EXP_DIR IMAGE [IMAGE ...]        # a caption a line, in the order given
    ls images/*.png | nmt-caption --model EXP_DIR        # image paths on stdin, one a line
    nmt-caption --model EXP_DIR --beam 5 --nbest 3 --json IMAGE   # n-best, and each word's attention as an h x w grid

An image that is missing, unreadable or truncated gets one line on stderr and an empty caption
line, and the next one goes on; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Iterator

from nmt.cli.common import limit_threads, run_main, stop_on_signals
from nmt.cli.search_options import add_search_arguments, plain_line, with_search_options
from nmt.errors import NmtError

BATCH = 32  # images read and captioned together


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="nmt-caption", description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="*", metavar="IMAGE", help="image files (PNG, JPEG, SVG); "
                                                                   "none: paths on stdin, one a line")
    parser.add_argument("--model", action="append", required=True, metavar="EXP_DIR",
                        help="experiment directory (repeat for an ensemble)")
    parser.add_argument("--checkpoint", default="best", metavar="best|last|avg|PATH")
    add_search_arguments(parser, per="image")  # each sets the model's decode.* key of the same meaning
    parser.add_argument("--json", action="store_true", help="JSON lines: caption, n-best, attention as h x w grids")
    parser.add_argument("--closed-list", metavar="FILE|none", default=None,
                        help="decode.closed_list: every caption one of FILE's lines (or a captions TSV's captions)")
    parser.add_argument("--adapt-norm", metavar="FILE|none", default=None,
                        help="recompute the CNN's batch-norm statistics over the images FILE lists (a captions "
                             "TSV or paths, one a line): AdaBN for a new style (default: the model's image.adapt_norm)")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda when there is one)")
    return parser.parse_args()


def _paths(args: argparse.Namespace) -> Iterator[str]:
    if args.images:
        yield from args.images
        return
    for raw in sys.stdin.buffer:
        yield raw.decode("utf-8", errors="replace").rstrip("\r\n")


def _format(result, args: argparse.Namespace, tokenizer, grid: tuple[int, int], nbest: int) -> str:
    """A caption line: plain, n-best with scores, or JSON (nmt-translate's record and, per output piece,
    its attention as an h x w grid)."""
    from nmt.translations import json_record

    if not args.json:
        return plain_line(result, nbest)
    record = json_record(result, tokenizer, alignment=False)
    best = result[0]
    if best.attention is not None:
        h, w = grid
        record["attention"] = {"pieces": [tokenizer.tgt.id_to_piece(int(i)) for i in best.tokens] + ["</s>"],
                               "grid": [[[round(float(v), 4) for v in row] for row in step.view(h, w)]
                                        for step in best.attention]}
    return json.dumps(record, ensure_ascii=False)


def _main() -> int:
    args = _arguments()
    from nmt.device import pick_device

    limit_threads()
    device = pick_device(args.device, setting="caption: --device")
    import numpy as np

    from nmt.captioning.data import ImageError, read_image
    from nmt.captioning.task import Captioner, grid
    from nmt.tasks import load_trained
    from nmt.translate import Ensemble

    loaded = [load_trained(path, task="captioning", checkpoint=args.checkpoint, device=device) for path in args.model]
    first = loaded[0]
    for other, path in zip(loaded[1:], args.model[1:]):
        if dataclasses.replace(other.cfg.image, adapt_norm="") != dataclasses.replace(first.cfg.image, adapt_norm="") or \
                other.tokenizer.tgt_vocab_size != first.tokenizer.tgt_vocab_size:
            raise NmtError(f"caption: {path} reads images or writes captions unlike {args.model[0]}: "
                           "an ensemble needs the same image settings and caption vocabulary")
    for item in loaded:
        adapted = item.adapt_norm(args.adapt_norm)  # None: the model's image.adapt_norm
        if adapted:
            print(f"nmt-caption: {adapted}", file=sys.stderr, flush=True)
    model = first.model if len(loaded) == 1 else Ensemble([item.model for item in loaded])
    image, (h, w) = first.cfg.image, grid(first.cfg)
    closed = [] if args.closed_list is None else [f"decode.closed_list={'' if args.closed_list == 'none' else args.closed_list}"]
    decode = with_search_options(first.cfg, args, closed).decode
    captioner = Captioner(model, first.tokenizer, decode=decode, positions=h * w, device=device, seed=args.seed,
                          keep_attention=args.json)
    failed = 0

    def flush(pending: list) -> None:
        readable = [pixels for _, pixels in pending if pixels is not None]
        results = iter(captioner.caption(np.stack(readable))) if readable else iter(())
        for _, pixels in pending:
            line = "" if pixels is None else _format(next(results), args, first.tokenizer, (h, w), decode.nbest)
            sys.stdout.write(line.replace("\n", " ") + "\n")
        sys.stdout.flush()

    stop_on_signals()
    pending: list = []
    for path in _paths(args):
        try:
            pending.append((path, read_image(path, image)))
        except ImageError as err:
            print(f"nmt-caption: {err}", file=sys.stderr, flush=True)
            pending.append((path, None))
            failed += 1
        if len(pending) >= BATCH or not args.images:  # a pipe: each caption as soon as its path came
            flush(pending)
            pending = []
    flush(pending)
    return 1 if failed else 0


def main() -> None:
    run_main("nmt-caption", _main)


if __name__ == "__main__":
    main()
