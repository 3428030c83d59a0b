"""recipes/im2latex/local/build_formulas.py: normalisation, what counts as math, the split by
document, and the drawing (the Debian packages are read only by the recipe itself: no download here)."""

from __future__ import annotations

import importlib.util
import io

from conftest import REPO

SCRIPT = REPO / "recipes" / "im2latex" / "local" / "build_formulas.py"
spec = importlib.util.spec_from_file_location("build_formulas", SCRIPT)
build_formulas = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_formulas)


def test_formulas_become_space_separated_tokens_and_text_mode_becomes_mathrm():
    assert build_formulas.normalise(r"\frac{a}{b}+\alpha_{12}\,x") == r"\frac { a } { b } + \alpha _ { 1 2 } \, x"
    assert build_formulas.normalise(r"\text{ReLU}(x)") == r"\mathrm { R e L U } ( x )"
    assert build_formulas.normalise(r"\\sigma(x)", escaped=True) == r"\sigma ( x )"  # a docstring's doubled backslash


def test_prose_between_dollar_signs_and_lone_symbols_are_not_formulas():
    math = build_formulas.looks_like_math
    assert math(build_formulas.normalise(r"\mathrm{Tanh}(x) = x - \tanh(x)"))
    assert not math(build_formulas.normalise("places, say to"))  # prose between two dollar signs
    assert not math(build_formulas.normalise(r"\alpha"))  # a lone symbol
    assert not math(build_formulas.normalise(r"x \label{eq:1}"))
    assert not math(" ".join("x" * 41))  # over 40 tokens


def test_the_split_is_by_document_and_stable():
    splits = [build_formulas.split_of(f"doc{i}.tex") for i in range(400)]
    assert splits == [build_formulas.split_of(f"doc{i}.tex") for i in range(400)]
    assert 20 < splits.count("test") < 60 and 20 < splits.count("dev") < 60


def test_a_formula_is_drawn_dark_on_a_white_canvas_of_the_given_size():
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(build_formulas.render(r"x ^ { 2 } + 1", "cm", 64, 320))))
    assert pixels.shape == (64, 320)
    assert pixels.min() < 100 and pixels[0, 0] == pixels[-1, -1] == 255  # ink, and white around it


def test_a_superscript_is_drawn_raised_and_smaller_not_beside_its_base():
    """The bug this names: mathtext read the spaced tokens `x ^ { 2 }` as x followed by 2 on the baseline."""
    import numpy as np
    from PIL import Image

    def ink_rows(tokens: str) -> np.ndarray:
        pixels = np.asarray(Image.open(io.BytesIO(build_formulas.render(tokens, "cm", 64, 320))))
        return np.nonzero((pixels < 128).any(1))[0]

    raised, beside = ink_rows(r"x ^ { 2 }"), ink_rows(r"x 2")
    assert raised.min() < beside.min() - 2  # the 2 reaches above a baseline digit's top
    assert build_formulas.mathtext_source(r"\alpha x ^ { 2 } + \mathrm { d } x") == r"\alpha x^{2}+\mathrm{d}x"


def test_a_substituted_formula_keeps_its_layout_and_replaces_letters_by_letters_and_digits_by_digits():
    original = r"\frac { a } { B } + x _ { 1 2 } \leq \sin y"
    other = build_formulas.substituted(original, seed=3)
    assert other == build_formulas.substituted(original, seed=3) != original
    for before, after in zip(original.split(), other.split()):
        if before.isalpha() and len(before) == 1:
            assert after.isalpha() and after.isupper() == before.isupper()
        elif before.isdigit():
            assert after.isdigit()
        else:
            assert after == before  # commands, braces, operators


def test_random_formulas_draw_the_training_symbols_in_any_order():
    symbols = build_formulas.symbol_weights([r"x _ { 1 } + \alpha", r"\frac { a } { b } = 1"])
    assert set(symbols) == {"x", "1", "+", "\\alpha", "a", "b", "="}  # layout tokens are not symbols
    formulas = [build_formulas.random_formula(symbols, seed) for seed in range(200)]
    assert formulas[7] == build_formulas.random_formula(symbols, 7)
    assert len(set(formulas)) > 190 and all(build_formulas.drawable(f) for f in formulas[:20])
    assert any("_ {" in f for f in formulas) and any("\\frac {" in f for f in formulas)


def test_image_match_counts_outputs_that_draw_as_the_reference_does():
    """score_formulas' image match (Deng et al. 2017): `\\left ( 0 \\right )` draws as `( 0 )` and
    `x _ { 1 }` as `x _ 1`; a sized pair around a fraction does not, nor another digit, nor an
    output mathtext cannot draw."""
    import sys

    sys.path.insert(0, str(SCRIPT.parent))  # score_formulas imports build_formulas beside it
    try:
        import score_formulas
    finally:
        sys.path.remove(str(SCRIPT.parent))
    same = lambda hyp, ref: score_formulas.same_picture(hyp, ref, "dejavusans")  # noqa: E731
    assert same(r"\left ( 0 \right )", "( 0 )") and same("x _ { 1 }", "x _ 1")
    assert not same(r"\left ( \frac { 1 } { 2 } \right )", r"( \frac { 1 } { 2 } )")
    assert not same("1 + 2", "1 + 3") and not same(r"\frac { 1", "1")
    hyps, refs = [r"\left ( 0 \right )", "1 + 2"], ["( 0 )", "1 + 3"]
    scored = score_formulas.scores(hyps, refs, [same(h, r) for h, r in zip(hyps, refs)])
    assert scored["exact"] == 0.0 and scored["image_match"] == 50.0
