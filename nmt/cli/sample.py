"""nmt-sample: text from a character language model (nmt-train with `task: char_lm`), or its bits per character.

    nmt-sample --model recipes/char-rnn/exp/lstm --prime "static int " --temperature 0.8 --length 500 [--seed 1 | --argmax]
    nmt-sample --model recipes/char-rnn/exp/lstm --evaluate data/test.txt
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from nmt.cli.common import limit_threads, run_main
from nmt.errors import NmtError


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="nmt-sample", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, metavar="EXP_DIR")
    parser.add_argument("--checkpoint", default="best", metavar="best|last|PATH")
    parser.add_argument("--prime", default="\n", help="text the model reads first (default: a line break)")
    parser.add_argument("--length", type=int, default=500, help="characters to generate")
    parser.add_argument("--temperature", type=float, default=1.0, help="softmax(logits / T): low is safe, high is wild")
    parser.add_argument("--top-k", type=int, default=0, help="sample among the k most probable characters (0: all)")
    parser.add_argument("--seed", type=int, default=None, help="the same seed gives the same text")
    parser.add_argument("--argmax", action="store_true", help="the most probable character every time")
    parser.add_argument("--evaluate", metavar="FILE", help="print the bits per character of FILE instead of sampling")
    parser.add_argument("--json", metavar="OUT", help="with --evaluate: also write the figures to OUT")
    parser.add_argument("--device", default=None)
    return parser.parse_args()


def _main() -> int:
    args = _arguments()
    if args.length < 1 or args.temperature <= 0 or args.top_k < 0:
        raise NmtError("sample: --length must be at least 1, --temperature above 0 and --top-k at least 0")
    from nmt.device import pick_device
    from nmt.lm.data import read_text
    from nmt.lm.task import LN2, generate, stream_loss
    from nmt.tasks import load_trained

    limit_threads()
    device = pick_device(args.device, setting="sample: --device")
    _, vocab, model = load_trained(args.model, task="char_lm", checkpoint=args.checkpoint, device=device)
    if args.evaluate:
        total, count = stream_loss(model, vocab.encode(read_text(args.evaluate)), device=device)
        bpc = total / max(count, 1) / LN2
        print(f"{args.evaluate}: {bpc:.4f} bits per character ({count:,} characters, perplexity "
              f"{math.exp(total / max(count, 1)):.3f})")
        if args.json:
            Path(args.json).write_text(json.dumps({"file": args.evaluate, "bpc": round(bpc, 4), "characters": count}))
        return 0
    text = generate(model, vocab, prime=args.prime, length=args.length, temperature=args.temperature, top_k=args.top_k,
                    argmax=args.argmax, seed=args.seed, device=device)
    sys.stdout.write(args.prime + text + ("" if text.endswith("\n") else "\n"))
    return 0


def main() -> None:
    run_main("nmt-sample", _main)


if __name__ == "__main__":
    main()
