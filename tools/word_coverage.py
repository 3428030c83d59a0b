#!/usr/bin/env python3
"""How many words of a test text the training text never shows: the ceiling a small corpus sets.

    python tools/word_coverage.py --train data/train.de --test data/test.de [--extra data/lexicon.de]
        [--hypotheses exp/NAME/test.hyp --references data/test.en]

Words are runs of letters and digits, lower-cased. Prints the share of test words that training
never has (unseen) or has at most twice (rare), the share of test sentences with an unseen word,
with --extra (another corpus, a dictionary say) the share of the unseen words it holds, and with
--hypotheses and --references a model's BLEU on the sentences with an unseen word and on the rest,
and how many unseen words stand as they are in their reference (what copying them could get right).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

from nmt.cli.common import run_main
from nmt.errors import NmtError

WORD = re.compile(r"\w+")


def words(line: str) -> list[str]:
    return WORD.findall(line.lower())


def read(path: Path) -> list[str]:
    if not path.is_file():
        raise NmtError(f"{path}: no such file")
    return path.read_text(encoding="utf-8").splitlines()


def counts(lines: list[str]) -> Counter:
    """How often each word occurs: `seen` below, counted once for every measure."""
    return Counter(word for line in lines for word in words(line))


def holds_unseen(sentence: list[str], seen: Counter) -> bool:
    return any(word not in seen for word in sentence)


def coverage(seen: Counter, test: list[str], extra: list[str] | None = None) -> dict[str, float]:
    sentences = [words(line) for line in test]
    tokens = [word for sentence in sentences for word in sentence]
    if not tokens:
        raise NmtError("the test text holds no words")
    unseen = [word for word in tokens if word not in seen]
    result = {
        "unseen": len(unseen) / len(tokens),
        "rare": sum(1 for word in tokens if seen[word] <= 2) / len(tokens),
        "sentences_with_unseen": sum(holds_unseen(sentence, seen) for sentence in sentences) / len(sentences),
    }
    if extra is not None:
        known = {word for line in extra for word in words(line)}
        result["unseen_in_extra"] = sum(1 for word in unseen if word in known) / len(unseen) if unseen else 0.0
    return result


def split_bleu(seen: Counter, test: list[str], hypotheses: list[str], references: list[str]) -> dict[str, tuple]:
    """(sentences, BLEU) on the test sentences with an unseen word, and on the others: nmt-score's groups."""
    from nmt.metrics import scores_by_group

    if not len(test) == len(hypotheses) == len(references):
        raise NmtError(f"{len(test)} test sentences, {len(hypotheses)} hypotheses, {len(references)} references: "
                       "they must be line-aligned")
    groups = ["with an unseen word" if holds_unseen(words(line), seen) else "without" for line in test]
    return {row["group"]: (row["sentences"], row["bleu"]) for row in scores_by_group(hypotheses, references, groups)}


def copyable(seen: Counter, test: list[str], references: list[str]) -> tuple[int, int]:
    """(unseen test words that stand as they are in their line's reference, all unseen test words):
    what copying a source word into the output (names, numbers) could get right."""
    found = total = 0
    for line, reference in zip(test, references):
        target = set(words(reference))
        unseen = [word for word in words(line) if word not in seen]
        total += len(unseen)
        found += sum(1 for word in unseen if word in target)
    return found, total


def main() -> int:
    parser = argparse.ArgumentParser(prog="word_coverage", description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, required=True, help="training text, one sentence a line")
    parser.add_argument("--test", type=Path, required=True, help="the text to translate (the same language)")
    parser.add_argument("--extra", type=Path, default=None, help="another corpus: how many unseen words it holds")
    parser.add_argument("--hypotheses", type=Path, default=None, help="a model's translations of the test text")
    parser.add_argument("--references", type=Path, default=None, help="their references (with --hypotheses)")
    args = parser.parse_args()
    if (args.hypotheses is None) != (args.references is None):
        raise NmtError("--hypotheses and --references go together")
    seen, test = counts(read(args.train)), read(args.test)
    found = coverage(seen, test, read(args.extra) if args.extra else None)
    print(f"{args.test}: {found['unseen']:.1%} of the words never in {args.train}, {found['rare']:.1%} at most twice; "
          f"{found['sentences_with_unseen']:.1%} of the sentences hold an unseen word")
    if "unseen_in_extra" in found:
        print(f"  {found['unseen_in_extra']:.1%} of the unseen words are in {args.extra}")
    if args.hypotheses is not None:
        for name, (count, bleu) in split_bleu(seen, test, read(args.hypotheses), read(args.references)).items():
            print(f"  BLEU {bleu:.2f} on the {count:,} sentences {name}")
        copied, unseen = copyable(seen, test, read(args.references))
        print(f"  {copied:,} of the {unseen:,} unseen words stand as they are in their reference")
    return 0


if __name__ == "__main__":
    run_main("word_coverage", main)
