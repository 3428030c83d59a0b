"""nmt-score: sacreBLEU BLEU and chrF of hypotheses (stdin or -i) against one or more references."""

from __future__ import annotations

import argparse
import json
import sys

from nmt.cli.common import run_main
from nmt.data import read_lines
from nmt.errors import NmtError


def _lines_beside(path: str, what: str, count: int) -> list[str]:
    """A file with a line for each hypothesis (its source, its group), or one line saying it has not."""
    lines = list(read_lines(path))
    if len(lines) != count:
        raise NmtError(f"score: {what} {path} has {len(lines)} lines but there are {count} hypotheses")
    return lines


def _main() -> int:
    parser = argparse.ArgumentParser(prog="nmt-score", description=__doc__.splitlines()[0])
    parser.add_argument("-r", "--reference", action="append", required=True, help="reference file (repeatable)")
    parser.add_argument("-i", "--input", default=None, help="hypotheses file (default stdin)")
    parser.add_argument("--json", action="store_true", help="print JSON with scores and signatures")
    parser.add_argument("--source", default=None, help="source file: adds BLEU by source-length bucket")
    parser.add_argument("--length-edges", default="10,20,30,40,50",
                        help="bucket edges in source words, comma-separated (default 10,20,30,40,50)")
    parser.add_argument("--groups", default=None,
                        help="a file naming each line's group (e.g. data/test.origin): adds BLEU and chrF by group")
    args = parser.parse_args()

    from nmt.metrics import corpus_scores, scores_by_group, scores_by_length

    try:
        edges = sorted({int(edge) for edge in args.length_edges.split(",") if edge.strip()})
    except ValueError:
        raise NmtError(f"score: --length-edges '{args.length_edges}' is not a comma-separated list of integers") from None
    if not edges or edges[0] <= 0:
        raise NmtError(f"score: --length-edges '{args.length_edges}' needs positive integers")

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
    if args.source:
        sources = _lines_beside(args.source, "source", len(hypotheses))
        scores["by_length"] = scores_by_length(hypotheses, references[0], sources, edges)
    if args.groups:
        groups = _lines_beside(args.groups, "groups", len(hypotheses))
        scores["by_group"] = scores_by_group(hypotheses, references[0], groups)
    if args.json:
        print(json.dumps({k: v for k, v in scores.items() if k != "bleu_details"}, indent=2))
        return 0
    print(scores["bleu_details"])
    print(f"chrF2 = {scores['chrf']:.2f}")
    print(f"signature: {scores['bleu_signature']}")
    for row in scores.get("by_length", []):
        print(f"source {row['bucket']:>6} words: {row['sentences']:5d} sentences, BLEU {row['bleu']:6.2f}")
    for row in scores.get("by_group", []):
        print(f"{row['group']:>20}: {row['sentences']:5d} sentences, BLEU {row['bleu']:6.2f}, chrF {row['chrf']:6.2f}")
    return 0


def main() -> None:
    run_main("nmt-score", _main)


if __name__ == "__main__":
    main()
