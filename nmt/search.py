"""Generation: greedy and sampling here, batched beam search in beam.py; `generate` picks one.

Every function here uses only `encode`, `init_state`, `step` and `reorder`; none touches
RNN internals. A hypothesis ends at EOS and nothing follows it (the EOS itself is not
part of `tokens`). Sentences that have finished leave the batch, and the loop ends when
all have ended. At step `max_lengths[b]` sentence b can only choose EOS, so no output is
longer than its limit; before `min_length` EOS cannot be chosen.
"""

from __future__ import annotations

from typing import Callable

import torch

from nmt.beam import beam_search
from nmt.config import DecodeConfig
from nmt.decoding import NEG_INF, Hypothesis, StepModel, max_lengths, restrict_eos
from nmt.tokenizer import BOS, EOS

Chooser = Callable[[torch.Tensor], torch.Tensor]  # log-probs (B, V) -> tokens (B,)


def _decode_one_path(model: StepModel, src, src_lengths, *, choose: Chooser, max_len: torch.Tensor,
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
        log_probs = restrict_eos(log_probs, step, max_len[alive], min_length)
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


def greedy(model: StepModel, src, src_lengths, *, max_len: torch.Tensor, min_length: int = 0,
           keep_attention: bool = False) -> list[list[Hypothesis]]:
    """The most probable token at every step; one hypothesis per sentence."""
    hyps = _decode_one_path(model, src, src_lengths, choose=lambda lp: lp.argmax(-1),
                            max_len=max_len, min_length=min_length, keep_attention=keep_attention)
    return [[h] for h in hyps]


def sample(model: StepModel, src, src_lengths, *, max_len: torch.Tensor, temperature: float = 1.0, top_k: int = 0,
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
def generate(model: StepModel, src: torch.Tensor, src_lengths: torch.Tensor, decode: DecodeConfig, *,
             generator: torch.Generator | None = None, keep_attention: bool = False) -> list[list[Hypothesis]]:
    """One entry point for decode.method 'greedy', 'sample' or 'beam' (beam size 1 is greedy)."""
    limits = max_lengths(src_lengths, a=decode.max_length_a, b=decode.max_length_b).to(src.device)
    if decode.method == "sample":
        return sample(model, src, src_lengths, max_len=limits, temperature=decode.temperature, top_k=decode.top_k,
                      min_length=decode.min_length, generator=generator, keep_attention=keep_attention)
    if decode.method == "greedy" or (decode.beam_size == 1 and decode.nbest == 1):
        return greedy(model, src, src_lengths, max_len=limits, min_length=decode.min_length,
                      keep_attention=keep_attention)
    return beam_search(model, src, src_lengths, beam_size=decode.beam_size, nbest=decode.nbest,
                       length_penalty=decode.length_penalty, max_len=limits, min_length=decode.min_length,
                       keep_attention=keep_attention)
