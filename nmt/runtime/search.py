"""Greedy and beam search in numpy over the four calls of an exported model (nmt/runtime/model.py):
the same rules as nmt/search.py, which runs them in torch, so both find the same translations (the
parity tests hold them to it). A hypothesis ends at EOS, which is not among its tokens; finished
sentences leave the batch; at step max_len a sentence can only end; before min_length it cannot.
Sampling is torch's alone (its random numbers are torch's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nmt.specials import BOS, EOS

NEG_INF = np.float32(-np.inf)


@dataclass
class Hypothesis:
    tokens: list[int]  # without BOS and EOS
    score: float  # sum of log-probabilities; divided by the length penalty in beam search
    attention: np.ndarray | None = None  # (len(tokens) + 1, S): one row per step, EOS included
    token_scores: list[float] | None = None  # each token's log-probability, then EOS's


def max_lengths(src_lengths: np.ndarray, *, a: float, b: int) -> np.ndarray:
    """Output limit a * |src| + b per sentence (|src| without the source EOS), as nmt.search computes it."""
    limits = np.floor(np.float32(a) * (src_lengths - 1).astype(np.float32) + np.float32(b)).astype(np.int64)
    return np.maximum(limits, 1)


def restrict_eos(log_probs: np.ndarray, step: int, max_len: np.ndarray, min_length: int) -> np.ndarray:
    """No EOS before min_length; only EOS once a row reaches its max length (in place)."""
    if step < min_length:
        log_probs[:, EOS] = NEG_INF
    at_limit = max_len <= step
    if at_limit.any():
        eos = log_probs[at_limit, EOS].copy()
        log_probs[at_limit] = NEG_INF
        log_probs[at_limit, EOS] = np.where(np.isfinite(eos), eos, np.float32(0))
    return log_probs


def force_prefix(log_probs: np.ndarray, step: int, prefixes: np.ndarray | None) -> np.ndarray:
    """Rows whose prefix (rows, P), -1 past its end, is longer than `step` may only write its token (in place)."""
    if prefixes is None or step >= prefixes.shape[1]:
        return log_probs
    rows = np.flatnonzero(prefixes[:, step] >= 0)
    if rows.size:
        tokens = prefixes[rows, step]
        kept = log_probs[rows, tokens].copy()
        log_probs[rows] = NEG_INF
        log_probs[rows, tokens] = kept
    return log_probs


def greedy(model: Any, src: np.ndarray, src_lengths: np.ndarray, *, max_len: np.ndarray, min_length: int = 0,
           keep_attention: bool = False, prefixes: np.ndarray | None = None) -> list[list[Hypothesis]]:
    """The most probable token at every step; one hypothesis per sentence."""
    memory = model.encode(src, src_lengths)
    state = model.init_state(memory)
    batch = src.shape[0]
    steps = int(max_len.max()) + 1
    out_tokens = np.full((batch, steps), EOS, dtype=np.int64)
    out_scores = np.zeros(batch, dtype=np.float32)
    out_token_scores = np.zeros((batch, steps), dtype=np.float32)
    attention: np.ndarray | None = None
    ends = np.full(batch, steps - 1, dtype=np.int64)
    alive = np.arange(batch)
    tokens = np.full(batch, BOS, dtype=np.int64)
    for step in range(steps):
        log_probs, state, weights = model.step(tokens, state, memory)
        if keep_attention and attention is None and weights is not None:
            attention = np.zeros((batch, steps, weights.shape[1]), dtype=np.float32)
        log_probs = restrict_eos(log_probs, step, max_len[alive], min_length)
        log_probs = force_prefix(log_probs, step, prefixes[alive] if prefixes is not None else None)
        tokens = log_probs.argmax(-1)
        out_tokens[alive, step] = tokens
        chosen = log_probs[np.arange(len(tokens)), tokens]
        out_scores[alive] += chosen
        out_token_scores[alive, step] = chosen
        if attention is not None and weights is not None:
            attention[alive, step] = weights
        ended = tokens == EOS
        if ended.any():
            ends[alive[ended]] = step
            keep = np.flatnonzero(~ended)
            if keep.size == 0:
                break
            alive, tokens = alive[keep], tokens[keep]
            state, memory = model.reorder(state, memory, keep)
    return [[Hypothesis(out_tokens[b, :end].tolist(), float(out_scores[b]),
                        attention[b, :end + 1] if attention is not None else None, out_token_scores[b, :end + 1].tolist())]
            for b, end in enumerate(ends.tolist())]


def length_normalizer(length: int, length_penalty: float) -> float:
    """GNMT's ((5 + |Y|) / 6) ** alpha."""
    return ((5.0 + length) / 6.0) ** length_penalty


def top_numpy(candidates: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The `count` best scores of each row and their columns, best first (torch.topk's result): for
    exports written before they carried a TopK graph (nmt/export.py's topk.onnx), 25x slower."""
    index = np.argpartition(-candidates, count - 1, axis=1)[:, :count]
    scores = np.take_along_axis(candidates, index, axis=1)
    order = np.argsort(-scores, axis=1, kind="stable")
    return np.take_along_axis(scores, order, axis=1), np.take_along_axis(index, order, axis=1)


def beam_search(model: Any, src: np.ndarray, src_lengths: np.ndarray, *, beam_size: int, nbest: int = 1,
                length_penalty: float = 1.0, max_len: np.ndarray, min_length: int = 0,
                keep_attention: bool = False, prefixes: np.ndarray | None = None) -> list[list[Hypothesis]]:
    """The `nbest` best hypotheses of each sentence, best first (nmt.search.beam_search's rules)."""
    if not 1 <= nbest <= beam_size:
        raise ValueError(f"nbest must be between 1 and the beam size ({beam_size}), got {nbest}")
    batch, K = src.shape[0], beam_size
    memory = model.encode(src, src_lengths)
    state = model.init_state(memory)
    shared = model.shares_memory  # the step reads one memory row for a sentence's K state rows
    state, expanded = model.reorder(state, None if shared else memory, np.repeat(np.arange(batch), K))
    memory = memory if shared else expanded
    alive = np.arange(batch)
    scores = np.zeros((batch, K), dtype=np.float32)
    scores[:, 1:] = NEG_INF  # the K beams start identical: expand the first only
    prefix = np.empty((batch * K, 0), dtype=np.int64)
    prefix_scores = np.empty((batch * K, 0), dtype=np.float32)
    history: np.ndarray | None = None
    tokens = np.full(batch * K, BOS, dtype=np.int64)
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    for step in range(int(max_len.max()) + 1):
        n = alive.size
        log_probs, state, weights = model.step(tokens, state, memory)
        if keep_attention and history is None and weights is not None:
            history = np.zeros((n * K, 0, weights.shape[1]), dtype=np.float32)
        log_probs = restrict_eos(log_probs, step, np.repeat(max_len[alive], K), min_length)
        if prefixes is not None:
            log_probs = force_prefix(log_probs, step, np.repeat(prefixes[alive], K, axis=0))
        vocab = log_probs.shape[-1]
        candidates = (scores.reshape(n * K, 1) + log_probs).reshape(n, K * vocab)
        top_scores, top_index = model.top(candidates, min(2 * K, K * vocab))
        beam_idx, top_tokens = top_index // vocab, top_index % vocab
        step_scores = np.take_along_axis(log_probs.reshape(n, K * vocab), top_index, axis=1)
        is_eos = top_tokens == EOS
        closing = is_eos[:, :K] & np.isfinite(top_scores[:, :K])
        for i, j in zip(*np.nonzero(closing)):
            sentence = int(alive[i])
            if len(finished[sentence]) >= K:
                continue
            row = i * K + int(beam_idx[i, j])
            attention = None
            if history is not None and weights is not None:
                attention = np.concatenate([history[row], weights[row][None]])
            words = prefix[row].tolist()
            score = float(top_scores[i, j]) / length_normalizer(len(words) + 1, length_penalty)
            finished[sentence].append(Hypothesis(words, score, attention,
                                                 prefix_scores[row].tolist() + [float(step_scores[i, j])]))
        # The K best candidates that are not EOS live on, in rank order.
        rank = np.arange(top_scores.shape[1]) + is_eos * top_scores.shape[1]
        order = np.argsort(rank, axis=1, kind="stable")[:, :K]
        scores = np.take_along_axis(top_scores, order, axis=1)
        rows = (np.arange(n)[:, None] * K + np.take_along_axis(beam_idx, order, axis=1)).reshape(-1)
        tokens = np.take_along_axis(top_tokens, order, axis=1).reshape(-1)
        prefix = np.concatenate([prefix[rows], tokens[:, None]], axis=1)
        chosen_scores = np.take_along_axis(step_scores, order, axis=1).reshape(-1, 1)
        prefix_scores = np.concatenate([prefix_scores[rows], chosen_scores], axis=1)
        if history is not None and weights is not None:
            history = np.concatenate([history[rows], weights[rows][:, None]], axis=1)
        state, _ = model.reorder(state, None, rows)
        done = np.array([len(finished[s]) >= K for s in alive.tolist()]) | (max_len[alive] <= step)
        if done.all():
            break
        if done.any():
            keep = np.flatnonzero(~done)
            keep_rows = (keep[:, None] * K + np.arange(K)).reshape(-1)
            alive, scores, tokens, prefix = alive[keep], scores[keep], tokens[keep_rows], prefix[keep_rows]
            prefix_scores = prefix_scores[keep_rows]
            history = history[keep_rows] if history is not None else None
            state, _ = model.reorder(state, None, keep_rows)
            _, memory = model.reorder({}, memory, keep if shared else keep_rows)
    return [sorted(hyps, key=lambda h: -h.score)[:nbest] for hyps in finished]


def generate(model: Any, src: np.ndarray, src_lengths: np.ndarray, decode: Any, *,
             keep_attention: bool = False, prefixes: np.ndarray | None = None) -> list[list[Hypothesis]]:
    """decode.method 'greedy' or 'beam' (beam size 1 is greedy), as nmt.search.generate; `prefixes` (B, P),
    -1 past each end, as there."""
    limits = max_lengths(src_lengths, a=decode.max_length_a, b=decode.max_length_b)
    if prefixes is not None:
        limits = limits + (prefixes >= 0).sum(1)
    if decode.method == "sample":
        raise ValueError("sampling runs in torch only (nmt-translate with an experiment directory)")
    if decode.method == "greedy" or (decode.beam_size == 1 and decode.nbest == 1):
        return greedy(model, src, src_lengths, max_len=limits, min_length=decode.min_length,
                      keep_attention=keep_attention, prefixes=prefixes)
    return beam_search(model, src, src_lengths, beam_size=decode.beam_size, nbest=decode.nbest,
                       length_penalty=decode.length_penalty, max_len=limits, min_length=decode.min_length,
                       keep_attention=keep_attention, prefixes=prefixes)
