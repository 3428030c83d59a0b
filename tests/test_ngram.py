"""tools/ngram.py: Kneser-Ney probabilities are distributions, and more order helps on regular text."""

from __future__ import annotations

import sys

import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "tools"))
from ngram import KneserNey, by_column  # noqa: E402

TEXT = "int main(void) {\n\treturn 0;\n}\n" * 20 + "static int x = 1;\nint y;\n" * 10


@pytest.mark.parametrize("order", [1, 2, 4])
def test_every_context_gives_a_distribution_over_the_characters(order):
    model = KneserNey(TEXT, order)
    chars = sorted(set(TEXT)) + ["\u2603"]  # and one the training text never had
    for history in ["", "in", "\treturn", "zz{", "static in"]:
        assert sum(model.prob(history, c) for c in chars) == pytest.approx(1.0, abs=1e-9), history


def test_a_higher_order_predicts_regular_text_better_and_columns_cover_every_character():
    held_out = "int main(void) {\n\treturn 0;\n}\nstatic int x = 1;\n"
    bpc = {order: sum(KneserNey(TEXT, order).char_bits(held_out)) / (len(held_out) - 1) for order in (1, 3, 6)}
    assert bpc[6] < bpc[3] < bpc[1]
    bits = KneserNey(TEXT, 3).char_bits(held_out)
    assert len(bits) == len(held_out) - 1 and set(by_column(held_out, bits)) == {"0-9", "10-19"}
