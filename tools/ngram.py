#!/usr/bin/env python3
"""A character n-gram language model with interpolated Kneser-Ney smoothing: the baseline the
character LSTM is compared with (Karpathy, Johnson and Fei-Fei 2015, section 4.4).

    python tools/ngram.py --train data/train.txt --dev data/dev.txt --test data/test.txt [--max-order 9] [--json out.json]

Every order from 1 to --max-order is scored on the dev text; the best one is scored on
the test text, in bits per character (also by position in the line, with --by-column).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter, defaultdict
from pathlib import Path


class KneserNey:
    """Interpolated Kneser-Ney over characters, one discount per order (D = n1 / (n1 + 2 n2)).

    The highest order counts n-grams; the lower orders count continuations (how many different
    characters precede an n-gram), as Kneser and Ney prescribe; the lowest interpolates with
    the uniform distribution over the characters seen in training (plus one for unseen ones).
    """

    def __init__(self, text: str, order: int):
        self.order = order
        self.vocab_size = len(set(text)) + 1
        self.counts: list[Counter] = [Counter() for _ in range(order + 1)]  # counts[k][ngram of length k]
        self.counts[order] = Counter(text[i:i + order] for i in range(len(text) - order + 1))
        for k in range(order - 1, 0, -1):  # continuation counts from the distinct (k+1)-grams
            for gram in self.counts[k + 1]:
                self.counts[k][gram[1:]] += 1
        self.totals: list[dict] = []  # totals[k][context] = sum of counts[k][context + c]
        self.types: list[dict] = []  # types[k][context] = how many c follow context at order k
        self.discounts: list[float] = []
        for k in range(order + 1):
            totals: defaultdict[str, int] = defaultdict(int)
            types: defaultdict[str, int] = defaultdict(int)
            for gram, count in self.counts[k].items():
                totals[gram[:-1]] += count
                types[gram[:-1]] += 1
            self.totals.append(dict(totals))
            self.types.append(dict(types))
            n1 = sum(1 for c in self.counts[k].values() if c == 1)
            n2 = sum(1 for c in self.counts[k].values() if c == 2)
            self.discounts.append(n1 / (n1 + 2 * n2) if n1 + n2 else 0.5)

    def prob(self, history: str, char: str) -> float:
        """P(char | the last order-1 characters of history)."""
        p = 1.0 / self.vocab_size
        for k in range(1, self.order + 1):
            context = history[len(history) - (k - 1):] if k > 1 else ""
            if len(context) < k - 1:
                break
            total = self.totals[k].get(context)
            if not total:
                break  # an unseen context: the lower orders' estimate stands
            discount = self.discounts[k]
            count = self.counts[k].get(context + char, 0)
            p = (max(count - discount, 0.0) + discount * self.types[k][context] * p) / total
        return p

    def char_bits(self, text: str) -> list[float]:
        """-log2 P of every character of `text` after the first, each given what precedes it."""
        return [-math.log2(self.prob(text[max(0, i - self.order + 1):i], text[i])) for i in range(1, len(text))]


def by_column(text: str, bits: list[float], edges=(0, 10, 20, 40, 60, 80)) -> dict[str, float]:
    """Bits per character by the character's position in its line (bits[i] is for text[i + 1])."""
    sums: defaultdict[str, float] = defaultdict(float)
    counts: defaultdict[str, int] = defaultdict(int)
    column = 0
    for i in range(1, len(text)):
        column = 0 if text[i - 1] == "\n" else column + 1
        label = next((f"{low}-{high - 1}" for low, high in zip(edges, edges[1:]) if low <= column < high), f"{edges[-1]}+")
        sums[label] += bits[i - 1]
        counts[label] += 1
    return {label: round(sums[label] / counts[label], 4) for label in sorted(counts, key=lambda s: int(s.split("-")[0].rstrip("+")))}


def compare(exp_dir: Path, test: str, results: dict) -> dict:
    """The character model's bits per character on the same test text, overall and by column, beside the n-gram's."""
    from nmt.lm.task import char_bits
    from nmt.tasks import load_trained

    _, vocab, model = load_trained(exp_dir, task="char_lm")
    bits = char_bits(model, vocab.encode(test)).tolist()
    mine = {"test_bpc": round(sum(bits) / len(bits), 4), "test_by_column": by_column(test, bits)}
    print(f"\n| position in line | n-gram (order {results['best_order']}) | {exp_dir.name} |\n| --- | ---: | ---: |")
    for label, value in results["test_by_column"].items():
        print(f"| {label} | {value:.3f} | {mine['test_by_column'][label]:.3f} |")
    print(f"| all | {results['test_bpc']:.3f} | {mine['test_bpc']:.3f} |")
    return mine


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--dev", type=Path, required=True, help="held-out text that chooses the order")
    parser.add_argument("--test", type=Path, default=None)
    parser.add_argument("--max-order", type=int, default=9)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--lstm", type=Path, default=None, help="a char_lm experiment to compare on the test text, by column")
    args = parser.parse_args()
    read = lambda path: path.read_text(encoding="utf-8")  # noqa: E731
    train, dev = read(args.train), read(args.dev)
    results: dict = {"orders": {}}
    best: tuple[int, float, KneserNey] | None = None
    for order in range(1, args.max_order + 1):
        model = KneserNey(train, order)
        bpc = sum(model.char_bits(dev)) / (len(dev) - 1)
        results["orders"][order] = round(bpc, 4)
        print(f"order {order}: dev {bpc:.4f} bits per character", flush=True)
        if best is None or bpc < best[1]:
            best = (order, bpc, model)
    assert best is not None, "--max-order is at least 1"
    order, dev_bpc, model = best
    results.update({"best_order": order, "dev_bpc": round(dev_bpc, 4)})
    if args.test:
        test = read(args.test)
        bits = model.char_bits(test)
        results["test_bpc"] = round(sum(bits) / len(bits), 4)
        results["test_by_column"] = by_column(test, bits)
        print(f"order {order} on the test text: {results['test_bpc']:.4f} bits per character")
        if args.lstm:
            results["model"] = compare(args.lstm, test, results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
