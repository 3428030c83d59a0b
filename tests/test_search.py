"""Generation: scripted models with hand-computed answers, and invariants on real models."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nmt.batching import collate
from nmt.config import DecodeConfig, ModelConfig
from nmt.models import build_model
from nmt.search import beam_search, generate, greedy, max_lengths, sample
from nmt.specials import BOS, EOS

A, B = 4, 5
VOCAB = 6


class ScriptedModel:
    """Next-token probabilities written out per (sentence, prefix); unlisted prefixes end with EOS.

    Memory is the sentence id (B,); the state is the prefix so far (B, t). It refuses to
    extend a prefix that already holds EOS, and records the batch size of every step.
    """

    def __init__(self, tables: list[dict[tuple, dict[int, float]]]):
        self.tables, self.batch_sizes = tables, []

    def encode(self, src, src_lengths):
        return src[:, 0].clone()

    def init_state(self, memory):
        return torch.empty(memory.shape[0], 0, dtype=torch.long)

    def step(self, prev_tokens, state, memory):
        if state.shape[1] or (prev_tokens != BOS).any():
            state = torch.cat([state, prev_tokens[:, None]], dim=1)
        assert not (state == EOS).any(), "a hypothesis was extended after EOS"
        self.batch_sizes.append(prev_tokens.shape[0])
        log_probs = torch.full((prev_tokens.shape[0], VOCAB), float("-inf"))
        for row, (sentence, prefix) in enumerate(zip(memory.tolist(), state.tolist())):
            for token, p in self.tables[sentence].get(tuple(prefix), {EOS: 1.0}).items():
                log_probs[row, token] = math.log(p)
        return log_probs, state, None

    def reorder(self, state, memory, index):
        return state[index], memory[index] if memory is not None else None


TABLE = {  # sentence 0: greedy says A A, beam 2 finds B
    (): {A: 0.5, B: 0.4, EOS: 0.1},
    (A,): {A: 0.36, B: 0.34, EOS: 0.3},
    (B,): {EOS: 0.9, A: 0.05, B: 0.05},
}
SHORT_OR_LONG = {(): {EOS: 0.6, A: 0.4}, (A,): {EOS: 1.0}}  # sentence 1: length penalty decides


def src_for(*sentences: int):
    return torch.tensor([[s, EOS] for s in sentences]), torch.tensor([2] * len(sentences))


def limits(n: int, value: int = 10):
    return torch.full((n,), value)


def result(hyps):
    return [(h.tokens, round(math.exp(h.score), 6)) for h in hyps]


def test_greedy_takes_the_best_token_each_step():
    model = ScriptedModel([TABLE])
    (hyp,), = greedy(model, *src_for(0), max_len=limits(1))
    assert hyp.tokens == [A, A] and math.exp(hyp.score) == pytest.approx(0.5 * 0.36)


def test_beam_two_finds_the_better_short_hypothesis():
    model = ScriptedModel([TABLE])
    hyps, = beam_search(model, *src_for(0), beam_size=2, nbest=2, length_penalty=0.0, max_len=limits(1))
    assert result(hyps) == [([B], 0.36), ([A, A], 0.18)]


def test_beam_three_worked_out_by_hand():
    # step 0: EOS (0.1) ranks 3rd <= K: [] closes; A, B live. step 1: B EOS (0.36) closes;
    # A A (0.18), A B (0.17), B A (0.02) live. step 2: A A EOS closes the third: done.
    model = ScriptedModel([TABLE])
    hyps, = beam_search(model, *src_for(0), beam_size=3, nbest=3, length_penalty=0.0, max_len=limits(1))
    assert result(hyps) == [([B], 0.36), ([A, A], 0.18), ([], 0.1)]


def test_length_penalty_changes_the_choice_where_it_should():
    model = ScriptedModel([TABLE, SHORT_OR_LONG])
    plain, = beam_search(model, *src_for(1), beam_size=2, length_penalty=0.0, max_len=limits(1))
    assert plain[0].tokens == []  # 0.6 beats 0.4
    # length penalty 5: log(0.4) / ((5 + 2) / 6) ** 5 = -0.42 beats log(0.6) / 1 = -0.51
    long, = beam_search(model, *src_for(1), beam_size=2, length_penalty=5.0, max_len=limits(1))
    assert long[0].tokens == [A]
    assert long[0].score == pytest.approx(math.log(0.4) / (7 / 6) ** 5)


def test_finished_sentences_leave_the_batch_and_nothing_follows_eos():
    model = ScriptedModel([TABLE, {(): {EOS: 1.0}}])
    results = greedy(model, *src_for(0, 1), max_len=limits(2))
    assert [r[0].tokens for r in results] == [[A, A], []]
    assert model.batch_sizes == [2, 1, 1]  # sentence 1 ended at step 0
    model.batch_sizes = []
    beams = beam_search(model, *src_for(1, 0), beam_size=2, length_penalty=0.0, max_len=limits(2))
    assert [r[0].tokens for r in beams] == [[], [B]]
    assert model.batch_sizes[0] == 4 and model.batch_sizes[-1] == 2  # sentence 1's beams left


def test_max_and_min_length_bound_every_output():
    loop = {(): {A: 0.9, EOS: 0.1}, (A,): {A: 0.9, EOS: 0.1}, (A, A): {A: 0.9, EOS: 0.1},
            (A, A, A): {A: 0.9, EOS: 0.1}}
    model = ScriptedModel([loop, {(): {EOS: 0.9, A: 0.1}, (A,): {EOS: 0.9, A: 0.1}}])
    (capped,), = greedy(model, *src_for(0), max_len=limits(1, 2))
    assert capped.tokens == [A, A]
    (beamed,), = beam_search(model, *src_for(0), beam_size=2, max_len=limits(1, 3))
    assert len(beamed.tokens) <= 3
    (forced,), = greedy(model, *src_for(1), max_len=limits(1), min_length=2)
    assert forced.tokens[:2] == [A, A]


def test_max_length_is_a_times_source_plus_b():
    assert max_lengths(torch.tensor([1, 11]), a=1.5, b=2).tolist() == [2, 17]


def test_sampling_is_seeded_and_top_k_one_is_greedy():
    model = ScriptedModel([TABLE])

    def draw(seed: int) -> tuple:
        generator = torch.Generator().manual_seed(seed)
        return tuple(sample(model, *src_for(0), max_len=limits(1), generator=generator)[0][0].tokens)

    assert draw(3) == draw(3)
    assert len({draw(seed) for seed in range(40)}) > 1  # it does sample
    (top1,), = sample(model, *src_for(0), max_len=limits(1), top_k=1)
    assert top1.tokens == [A, A]


# ---- invariants on real (untrained) models of every variant

REAL = ["seq2seq", "context", "rnnsearch", "luong"]


def real_model(variant: str):
    torch.manual_seed(1)
    cfg = ModelConfig(variant=variant, embed_size=8, encoder_hidden=8, decoder_hidden=8, attention_size=8, dropout=0.0)
    return build_model(cfg, 12, 12).eval()


def real_batch(n: int = 5):
    rng = np.random.default_rng(0)
    return collate([rng.integers(4, 12, size=rng.integers(1, 8)) for _ in range(n)], None, range(n))


@pytest.mark.parametrize("variant", REAL)
def test_beam_size_one_equals_greedy(variant):
    model, batch = real_model(variant), real_batch()
    limit = max_lengths(batch.src_lengths, a=1.5, b=4)
    with torch.no_grad():
        by_greedy = greedy(model, batch.src, batch.src_lengths, max_len=limit)
        by_beam = beam_search(model, batch.src, batch.src_lengths, beam_size=1, length_penalty=0.0, max_len=limit)
    for g, b in zip(by_greedy, by_beam):
        assert g[0].tokens == b[0].tokens
        assert g[0].score == pytest.approx(b[0].score, abs=1e-5)


@pytest.mark.parametrize("method", ["greedy", "beam"])
@pytest.mark.parametrize("variant", REAL)
def test_batched_equals_one_by_one(variant, method):
    model, batch = real_model(variant), real_batch()
    decode = DecodeConfig(method=method, beam_size=3, nbest=2 if method == "beam" else 1, max_length_b=4)
    together = generate(model, batch.src, batch.src_lengths, decode)
    for i in range(batch.src.shape[0]):
        n = int(batch.src_lengths[i])
        alone = generate(model, batch.src[i:i + 1, :n], batch.src_lengths[i:i + 1], decode)[0]
        assert [h.tokens for h in together[i]] == [h.tokens for h in alone]
        assert [h.score for h in together[i]] == pytest.approx([h.score for h in alone], abs=1e-4)


def test_attention_rows_come_back_per_step():
    model, batch = real_model("rnnsearch"), real_batch(3)
    for method in ("greedy", "beam"):
        hyps = generate(model, batch.src, batch.src_lengths, DecodeConfig(method=method, beam_size=2),
                        keep_attention=True)
        for i, (hyp,) in enumerate(hyps):
            assert hyp.attention.shape == (len(hyp.tokens) + 1, batch.src.shape[1])
            torch.testing.assert_close(hyp.attention.sum(-1), torch.ones(len(hyp.tokens) + 1))
            assert (hyp.attention[:, int(batch.src_lengths[i]):] == 0).all()


def test_decode_precision_bf16_searches_under_autocast_and_an_export_refuses_it():
    """decode.precision: bf16 runs the search's products in bfloat16: the scores move (by bf16's rounding,
    not more) while fp32's are torch's own; an export's translator says in one line it cannot."""
    import dataclasses

    from nmt.errors import NmtError
    from nmt.runtime.translate import ExportedTranslator
    from nmt.translate import Translator

    torch.manual_seed(0)
    model = build_model(ModelConfig(embed_size=16, encoder_hidden=16, decoder_hidden=16, attention_size=16,
                                    dropout=0.0), 30, 30).eval()
    sources = [[5, 9, 7, 12, 6, 20], [8, 4, 22], [11, 13, 5, 9, 25]]
    decode = DecodeConfig(beam_size=3, max_length_a=1.0, max_length_b=5)
    scores = {}
    for precision in ("fp32", "bf16"):
        translator = Translator(model, None, decode=dataclasses.replace(decode, precision=precision))
        scores[precision] = np.array([hyps[0].score for hyps in translator.translate_ids(sources)])
    assert not np.array_equal(scores["fp32"], scores["bf16"])
    np.testing.assert_allclose(scores["bf16"], scores["fp32"], atol=0.2)
    with pytest.raises(NmtError, match="decode.precision = 'bf16'"):
        ExportedTranslator(None, None, decode=dataclasses.replace(decode, precision="bf16"))  # type: ignore[arg-type]
