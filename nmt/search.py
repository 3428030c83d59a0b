"""Generation: greedy, sampling and batched beam search over the model's step interface.

Every function here uses only `encode`, `init_state`, `step` and `reorder`; none touches
RNN internals. A hypothesis ends at EOS and nothing follows it (the EOS itself is not
part of `tokens`). Sentences that have finished leave the batch, and the loop ends when
all have ended. At step `max_lengths[b]` sentence b can only choose EOS, so no output is
longer than its limit; before `min_length` EOS cannot be chosen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from nmt.tokenizer import BOS, EOS

NEG_INF = float("-inf")


@dataclass
class Hypothesis:
    tokens: list[int]  # without BOS and EOS
    score: float  # sum of log-probabilities, divided by the length penalty in beam search
    attention: torch.Tensor | None = None  # (len(tokens) + 1, S): one row per step, EOS included


def max_lengths(src_lengths: torch.Tensor, *, a: float, b: int) -> torch.Tensor:
    """Output limit a * |src| + b per sentence (|src| without the source EOS)."""
    return (a * (src_lengths - 1).float() + b).floor().long().clamp(min=1)


def length_penalty(length: torch.Tensor | int, alpha: float) -> torch.Tensor | float:
    """GNMT's ((5 + |Y|) / 6) ** alpha; alpha 0 scores by the plain sum of log-probabilities."""
    return ((5.0 + length) / 6.0) ** alpha


def _restrict(log_probs: torch.Tensor, step: int, max_len: torch.Tensor, min_length: int) -> torch.Tensor:
    """Forbid EOS before min_length; allow only EOS once a row reaches its max length."""
    if step < min_length:
        log_probs[:, EOS] = NEG_INF
    at_limit = max_len <= step
    if at_limit.any():
        eos_scores = log_probs[at_limit, EOS].clone()
        log_probs[at_limit] = NEG_INF
        log_probs[at_limit, EOS] = torch.where(torch.isfinite(eos_scores), eos_scores, torch.zeros_like(eos_scores))
    return log_probs


Chooser = Callable[[torch.Tensor], torch.Tensor]  # log-probs (B, V) -> tokens (B,)


def _decode_one_path(model, src, src_lengths, *, choose: Chooser, max_len: torch.Tensor,
                     min_length: int, keep_attention: bool) -> list[Hypothesis]:
    """Grow one hypothesis per sentence, choosing each token with `choose`."""
    memory = model.encode(src, src_lengths)
    state = model.init_state(memory)
    batch, device = src.shape[0], src.device
    steps = int(max_len.max()) + 1  # the last step can only be EOS
    out_tokens = torch.full((batch, steps), EOS, dtype=torch.long, device=device)
    out_scores = torch.zeros(batch, device=device)
    out_attention = torch.zeros(batch, steps, src.shape[1], device=device) if keep_attention else None
    ends = torch.full((batch,), steps - 1, dtype=torch.long, device=device)
    alive = torch.arange(batch, device=device)  # original row of each active row
    tokens = torch.full((batch,), BOS, dtype=torch.long, device=device)
    attended = False  # whether the model returned attention weights at all
    for step in range(steps):
        log_probs, state, weights = model.step(tokens, state, memory)
        log_probs = _restrict(log_probs, step, max_len[alive], min_length)
        tokens = choose(log_probs)
        out_tokens[alive, step] = tokens
        out_scores[alive] += log_probs.gather(1, tokens[:, None])[:, 0]
        if out_attention is not None and weights is not None:
            out_attention[alive, step] = weights.float()
            attended = True
        ended = tokens == EOS
        if ended.any():  # finished sentences leave the batch
            ends[alive[ended]] = step
            keep = (~ended).nonzero()[:, 0]
            if keep.numel() == 0:
                break
            alive, tokens = alive[keep], tokens[keep]
            state, memory = model.reorder(state, memory, keep)
    ends_list, scores = ends.tolist(), out_scores.tolist()
    return [
        Hypothesis(out_tokens[b, :end].tolist(), scores[b],
                   out_attention[b, :end + 1].cpu() if attended else None)
        for b, end in enumerate(ends_list)
    ]


def greedy(model, src, src_lengths, *, max_len: torch.Tensor, min_length: int = 0,
           keep_attention: bool = False) -> list[list[Hypothesis]]:
    """The most probable token at every step; one hypothesis per sentence."""
    hyps = _decode_one_path(model, src, src_lengths, choose=lambda lp: lp.argmax(-1),
                            max_len=max_len, min_length=min_length, keep_attention=keep_attention)
    return [[h] for h in hyps]


def sample(model, src, src_lengths, *, max_len: torch.Tensor, temperature: float = 1.0, top_k: int = 0,
           min_length: int = 0, generator: torch.Generator | None = None,
           keep_attention: bool = False) -> list[list[Hypothesis]]:
    """Draw each token from softmax(logits / temperature), from the top_k tokens only when top_k > 0."""
    def choose(log_probs: torch.Tensor) -> torch.Tensor:
        logits = log_probs / temperature
        if top_k > 0:
            kth = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, NEG_INF)
        probs = torch.softmax(logits.float(), dim=-1)
        return torch.multinomial(probs, 1, generator=generator)[:, 0]

    hyps = _decode_one_path(model, src, src_lengths, choose=choose, max_len=max_len,
                            min_length=min_length, keep_attention=keep_attention)
    return [[h] for h in hyps]


@torch.inference_mode()
def generate(model, src, src_lengths, *, method: str = "beam", beam_size: int = 5, nbest: int = 1,
             alpha: float = 1.0, max_len_a: float = 1.5, max_len_b: int = 10, min_length: int = 0,
             temperature: float = 1.0, top_k: int = 0, generator: torch.Generator | None = None,
             keep_attention: bool = False) -> list[list[Hypothesis]]:
    """One entry point: method 'greedy', 'sample' or 'beam' (beam size 1 is greedy)."""
    from nmt.beam import beam_search  # beam search is large enough for a module of its own

    limits = max_lengths(src_lengths, a=max_len_a, b=max_len_b).to(src.device)
    if method == "sample":
        return sample(model, src, src_lengths, max_len=limits, temperature=temperature, top_k=top_k,
                      min_length=min_length, generator=generator, keep_attention=keep_attention)
    if method == "greedy" or (beam_size == 1 and nbest == 1):
        return greedy(model, src, src_lengths, max_len=limits, min_length=min_length, keep_attention=keep_attention)
    return beam_search(model, src, src_lengths, beam_size=beam_size, nbest=nbest, alpha=alpha,
                       max_len=limits, min_length=min_length, keep_attention=keep_attention)
