"""nmt-serve: a translation service (HTTP API with dynamic batching) and a page to try a model on;
captioning models get an image API and a page of their own (/caption).

    nmt-serve --model recipes/ding-de-en/exp/rnnsearch [--model debian=recipes/debian-de-en/exp/rnnsearch]
              [--host 127.0.0.1] [--port 8080]

It binds 127.0.0.1 unless told otherwise; requests can name only the models given here.
SIGTERM (or Ctrl-C) stops accepting requests and answers those in flight first.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

from nmt.cli.common import available_cores, limit_threads, run_main
from nmt.errors import NmtError, gist


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="nmt-serve", description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, metavar="[NAME=]EXP_DIR",
                        help="a model to serve (repeatable); NAME defaults to the directory's name")
    parser.add_argument("--checkpoint", default="best", metavar="best|last|avg|PATH")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0: every interface)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda when there is one)")
    parser.add_argument("--max-lines", type=int, default=64, help="lines a request may hold")
    parser.add_argument("--max-chars", type=int, default=2000, help="characters a line may hold")
    parser.add_argument("--max-beam", type=int, default=16)
    parser.add_argument("--max-queue", type=int, default=2000, help="lines waiting before requests get 503")
    parser.add_argument("--batch-wait-ms", type=float, default=10.0,
                        help="how long a request waits for others to share its batch")
    parser.add_argument("--batch-tokens", type=int, default=4000, help="source tokens a batch holds at most")
    return parser.parse_args()


def _models(specs: list[str], *, checkpoint: str, device: str) -> tuple[dict, dict]:
    """(translation models, captioning models) by name, each loaded by its own task's loader."""
    from nmt.runtime.model import is_export
    from nmt.runtime.translate import load_exports
    from nmt.tasks import load_trained, task_of

    translation: dict = {}
    captioning: dict = {}
    for spec in specs:
        name, sep, directory = spec.partition("=")
        if not sep:
            name, directory = Path(spec).resolve().name, spec
        if not name or name in translation or name in captioning:
            raise NmtError(f"serve: --model {spec!r}: {'a name is empty' if not name else f'the name {name!r} is taken'}")
        if is_export(directory):  # nmt-export's: onnxruntime, on the CPU
            threads = None if "OMP_NUM_THREADS" in os.environ else available_cores()
            translation[name] = load_exports([directory], threads=threads)
            continue
        task = task_of(directory).name
        if task not in ("translation", "captioning"):
            raise NmtError(f"serve: --model {spec!r} holds a {task_of(directory).title}; nmt-serve serves "
                           "translation and captioning models")
        chosen = translation if task == "translation" else captioning
        chosen[name] = load_trained(directory, task=task, checkpoint=checkpoint, device=device)
        adapted = chosen[name].adapt_norm() if task == "captioning" else None  # the config's image.adapt_norm
        if adapted:
            print(f"nmt-serve: {name}: {adapted}", file=sys.stderr)
    return translation, captioning


def _check(args: argparse.Namespace) -> None:
    """Every limit in range, and the address free to listen on, before any model loads."""
    for option in ("max_lines", "max_chars", "max_beam", "max_queue", "batch_tokens"):
        if getattr(args, option) < 1:
            raise NmtError(f"serve: --{option.replace('_', '-')} {getattr(args, option)}: must be at least 1")
    if not 0 <= args.batch_wait_ms <= 10_000:
        raise NmtError(f"serve: --batch-wait-ms {args.batch_wait_ms:g}: expected 0 to 10000")
    if not 1 <= args.port <= 65535:
        raise NmtError(f"serve: --port {args.port}: expected 1 to 65535")
    try:
        with socket.create_server((args.host, args.port)):
            pass
    except OSError as err:
        reason = os.strerror(err.errno) if err.errno else gist(err)
        raise NmtError(f"serve: cannot listen on {args.host}:{args.port} ({reason})") from None


def _main() -> int:
    args = _arguments()
    _check(args)
    import uvicorn

    from nmt.runtime.model import is_export
    from nmt.serve.app import create_app
    from nmt.serve.service import Limits, Service

    if all(is_export(spec.partition("=")[2] or spec) for spec in args.model):
        device = "cpu"  # exports only: no torch is loaded
    else:
        limit_threads()
        from nmt.device import pick_device

        device = str(pick_device(args.device, setting="serve: --device"))
    limits = Limits(max_lines=args.max_lines, max_chars=args.max_chars, max_beam=args.max_beam,
                    max_queue_lines=args.max_queue, batch_wait_ms=args.batch_wait_ms, batch_tokens=args.batch_tokens)
    translation, captioning = _models(args.model, checkpoint=args.checkpoint, device=device)
    service = Service(translation, device=device, limits=limits) if translation else None
    captions = None
    if captioning:
        from nmt.serve.captions import CaptionService

        captions = CaptionService(captioning, device=device, max_beam=args.max_beam)
    names = [*translation, *captioning]
    print(f"nmt-serve: {', '.join(names)} on http://{args.host}:{args.port}/ ({device})", file=sys.stderr)
    uvicorn.run(create_app(service, captions=captions), host=args.host, port=args.port, log_level="warning",
                timeout_graceful_shutdown=30)
    return 0


def main() -> None:
    run_main("nmt-serve", _main)


if __name__ == "__main__":
    main()
