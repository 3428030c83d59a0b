"""nmt-score: sacreBLEU BLEU and chrF of hypotheses (stdin or -i) against one or more references."""

from __future__ import annotations

import argparse
import json
import sys

from nmt.cli.common import run_main
from nmt.data import read_lines
from nmt.errors import NmtError


def _main() -> int:
    parser = argparse.ArgumentParser(prog="nmt-score", description=__doc__.splitlines()[0])
    parser.add_argument("-r", "--reference", action="append", required=True, help="reference file (repeatable)")
    parser.add_argument("-i", "--input", default=None, help="hypotheses file (default stdin)")
    parser.add_argument("--json", action="store_true", help="print JSON with scores and signatures")
    args = parser.parse_args()

    from nmt.metrics import corpus_scores

    if args.input:
        hypotheses = list(read_lines(args.input))
    else:
        hypotheses = [line.rstrip("\r\n") for line in sys.stdin.buffer.read().decode("utf-8", errors="replace").split("\n")]
        if hypotheses and hypotheses[-1] == "":
            hypotheses.pop()
    references = [list(read_lines(path)) for path in args.reference]
    for path, ref in zip(args.reference, references):
        if len(ref) != len(hypotheses):
            where = args.input or "stdin"
            raise NmtError(f"score: {where} has {len(hypotheses)} lines but reference {path} has {len(ref)}")
    scores = corpus_scores(hypotheses, references)
    if args.json:
        print(json.dumps({k: v for k, v in scores.items() if k != "bleu_details"}, indent=2))
    else:
        print(scores["bleu_details"])
        print(f"chrF2 = {scores['chrf']:.2f}")
        print(f"signature: {scores['bleu_signature']}")
    return 0


def main() -> None:
    run_main("nmt-score", _main)


if __name__ == "__main__":
    main()
