"""Generation over a model's step interface: greedy, sampling and batched beam search.

A model offers four calls (`StepModel`): `encode`, `init_state`, `step`, `reorder`; nothing
here touches RNN internals, so a single model, an ensemble and the scripted models of the
tests are searched alike. A hypothesis ends at EOS and nothing follows it (the EOS itself is
not part of `tokens`). Sentences that have finished leave the batch, and the loop ends when
all have ended. At step `max_lengths[b]` sentence b can only choose EOS, so no output is
longer than its limit; before `min_length` EOS cannot be chosen.

Read top to bottom: the interface and the hypothesis; the rules that bound a hypothesis
(length limits, GNMT's length penalty); greedy and sampling; beam search; `generate`, which
picks one from a DecodeConfig.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

import torch

from nmt.config import DecodeConfig
from nmt.specials import BOS, EOS

NEG_INF = float("-inf")

# Search never looks inside these; they are named for the reader, not checked.
StepState = Any  # what a model carries from step to step (ours: nmt.models.state.DecoderState)
EncoderOutput = Any  # what a model reads from its encoder at every step (ours: nmt.models.state.Memory)


class StepModel(Protocol):
    """The four calls search makes, and the only ones (fairseq's incremental-decoding interface).

    A single model (`nmt.models.Seq2Seq`), an ensemble of them, and the scripted models of the
    tests all offer it; search never looks inside a state or a memory.
    """

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> EncoderOutput:
        """src (B, S) ids ending in EOS, then PAD (or, for an image model, the images); src_lengths (B,):
        the positions each source gives, which bound the output length -> what the steps read."""

    def init_state(self, memory: EncoderOutput) -> StepState:
        """The state before the first target token."""

    def step(self, prev_tokens: torch.Tensor, state: StepState,
             memory: EncoderOutput) -> tuple[torch.Tensor, StepState, torch.Tensor | None]:
        """prev_tokens (B,) -> log-probabilities (B, V), the next state, attention (B, S) or None.

        Attention positions are those `encode` made: a sentence's tokens as given, an image's grid cells.
        """

    def reorder(self, state: StepState, memory: EncoderOutput | None,
                index: torch.Tensor) -> tuple[StepState, EncoderOutput | None]:
        """Keep (and repeat) the batch rows `index` of state and memory; memory None stays None."""

    # Optional: share_beams(memory, K) -> memory read by K consecutive state rows each, or None. Beam
    # search uses it where a model has it, instead of repeating memory K times (nmt.models.Seq2Seq).


class TranslationModel(StepModel, Protocol):
    """A StepModel that can be switched between training and evaluation, as nn.Module can."""

    training: bool

    def train(self, mode: bool = True) -> Any: ...


@dataclass
class Hypothesis:
    tokens: list[int]  # without BOS and EOS
    score: float  # sum of log-probabilities, divided by the length penalty in beam search
    attention: torch.Tensor | None = None  # (len(tokens) + 1, S): one row per step, EOS included
    token_scores: list[float] | None = None  # each token's log-probability, then EOS's (before any length penalty)
    constraints_met: bool | None = None  # constrained decoding (nmt/constraints.py): whether it wrote them all


def max_lengths(src_lengths: torch.Tensor, *, a: float, b: int) -> torch.Tensor:
    """Output limit a * |src| + b per sentence (|src| without the source EOS)."""
    return (a * (src_lengths - 1).float() + b).floor().long().clamp(min=1)


def length_normalizer(length: torch.Tensor | int, length_penalty: float) -> torch.Tensor | float:
    """GNMT's ((5 + |Y|) / 6) ** alpha, alpha = decode.length_penalty; 0 keeps the plain sum of log-probabilities."""
    return ((5.0 + length) / 6.0) ** length_penalty


def restrict_eos(log_probs: torch.Tensor, step: int, max_len: torch.Tensor, min_length: int) -> torch.Tensor:
    """Forbid EOS before min_length; allow only EOS once a row reaches its max length (in place)."""
    if step < min_length:
        log_probs[:, EOS] = NEG_INF
    at_limit = max_len <= step
    if at_limit.any():
        eos_scores = log_probs[at_limit, EOS].clone()
        log_probs[at_limit] = NEG_INF
        log_probs[at_limit, EOS] = torch.where(torch.isfinite(eos_scores), eos_scores, torch.zeros_like(eos_scores))
    return log_probs


def force_prefix(log_probs: torch.Tensor, step: int, prefixes: torch.Tensor | None) -> torch.Tensor:
    """Rows whose prefix (rows, P), -1 past its end, is longer than `step` may only write its token
    there: every other log-probability -inf, that one kept (in place)."""
    if prefixes is None or step >= prefixes.shape[1]:
        return log_probs
    forced = prefixes[:, step]
    rows = (forced >= 0).nonzero()[:, 0]
    if rows.numel():
        tokens = forced[rows, None]
        kept = log_probs[rows].gather(1, tokens)
        log_probs[rows] = torch.full_like(log_probs[rows], NEG_INF).scatter_(1, tokens, kept)
    return log_probs


def prefix_tensor(prefixes: list[list[int]] | None, device) -> torch.Tensor | None:
    """Target prefixes as a (B, P) tensor, -1 past each one's end; None when no sentence has one."""
    if not prefixes or not any(prefixes):
        return None
    table = torch.full((len(prefixes), max(len(p) for p in prefixes)), -1, dtype=torch.long)
    for row, prefix in enumerate(prefixes):
        table[row, : len(prefix)] = torch.tensor(prefix, dtype=torch.long)
    return table.to(device)


# ---------------------------------------------------------------- greedy and sampling

Chooser = Callable[[torch.Tensor], torch.Tensor]  # log-probs (B, V) -> tokens (B,)


def _decode_one_path(model: StepModel, src, src_lengths, *, choose: Chooser, max_len: torch.Tensor,
                     min_length: int, keep_attention: bool, prefixes: torch.Tensor | None = None) -> list[Hypothesis]:
    """Grow one hypothesis per sentence, choosing each token with `choose`."""
    memory = model.encode(src, src_lengths)
    state = model.init_state(memory)
    batch, device = src.shape[0], src.device
    steps = int(max_len.max()) + 1  # the last step can only be EOS
    out_tokens = torch.full((batch, steps), EOS, dtype=torch.long, device=device)
    out_scores = torch.zeros(batch, device=device)
    out_token_scores = torch.zeros(batch, steps, device=device)
    out_attention: torch.Tensor | None = None  # (B, steps, positions), made when the first weights come
    ends = torch.full((batch,), steps - 1, dtype=torch.long, device=device)
    alive = torch.arange(batch, device=device)  # original row of each active row
    tokens = torch.full((batch,), BOS, dtype=torch.long, device=device)
    attended = False  # whether the model returned attention weights at all
    for step in range(steps):
        log_probs, state, weights = model.step(tokens, state, memory)
        if keep_attention and out_attention is None and weights is not None:  # as wide as what the model attends over
            out_attention = torch.zeros(batch, steps, weights.shape[1], device=device)
        log_probs = restrict_eos(log_probs, step, max_len[alive], min_length)
        log_probs = force_prefix(log_probs, step, prefixes[alive] if prefixes is not None else None)
        tokens = choose(log_probs)
        out_tokens[alive, step] = tokens
        chosen = log_probs.gather(1, tokens[:, None])[:, 0]
        out_scores[alive] += chosen
        out_token_scores[alive, step] = chosen
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
    ends_list, scores, token_scores = ends.tolist(), out_scores.tolist(), out_token_scores.tolist()
    return [
        Hypothesis(out_tokens[b, :end].tolist(), scores[b],
                   out_attention[b, :end + 1].cpu() if attended and out_attention is not None else None,
                   token_scores[b][:end + 1])
        for b, end in enumerate(ends_list)
    ]


def greedy(model: StepModel, src, src_lengths, *, max_len: torch.Tensor, min_length: int = 0,
           keep_attention: bool = False, prefixes: torch.Tensor | None = None) -> list[list[Hypothesis]]:
    """The most probable token at every step; one hypothesis per sentence."""
    hyps = _decode_one_path(model, src, src_lengths, choose=lambda lp: lp.argmax(-1), max_len=max_len,
                            min_length=min_length, keep_attention=keep_attention, prefixes=prefixes)
    return [[h] for h in hyps]


def sample(model: StepModel, src, src_lengths, *, max_len: torch.Tensor, temperature: float = 1.0, top_k: int = 0,
           min_length: int = 0, generator: torch.Generator | None = None,
           keep_attention: bool = False, prefixes: torch.Tensor | None = None) -> list[list[Hypothesis]]:
    """Draw each token from softmax(logits / temperature), from the top_k tokens only when top_k > 0."""
    def choose(log_probs: torch.Tensor) -> torch.Tensor:
        logits = log_probs / temperature
        if top_k > 0:
            kth = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, NEG_INF)
        probs = torch.softmax(logits.float(), dim=-1)
        return torch.multinomial(probs, 1, generator=generator)[:, 0]

    hyps = _decode_one_path(model, src, src_lengths, choose=choose, max_len=max_len,
                            min_length=min_length, keep_attention=keep_attention, prefixes=prefixes)
    return [[h] for h in hyps]


# ---------------------------------------------------------------- beam search
#
# Each sentence keeps `beam_size` live hypotheses. At every step the 2K best extensions are
# ranked; EOS among the first K closes a hypothesis (its score divided by GNMT's length
# penalty), and the best K that are not EOS live on. A sentence is done once K hypotheses
# have closed (at its max length only EOS is allowed, which closes them all); done sentences
# leave the batch.

def _close_hypotheses(finished, alive, top_scores, beam_idx, is_eos, prefix, history, weights, *, K, length_penalty,
                      step_scores, prefix_scores):
    """Record every finite EOS candidate among the first K ranks as a finished hypothesis."""
    closing = is_eos[:, :K] & torch.isfinite(top_scores[:, :K])
    if not closing.any():
        return
    alive_list = alive.tolist()
    for i, j in closing.nonzero().tolist():
        sentence = alive_list[i]
        if len(finished[sentence]) >= K:
            continue
        row = i * K + int(beam_idx[i, j])
        tokens = prefix[row].tolist()
        attention = None
        if history is not None and weights is not None:
            attention = torch.cat([history[row], weights[row][None].float()]).cpu()
        score = float(top_scores[i, j]) / length_normalizer(len(tokens) + 1, length_penalty)
        own_scores = prefix_scores[row].tolist() + [float(step_scores[i, j])]
        finished[sentence].append(Hypothesis(tokens, score, attention, own_scores))


def beam_search(model: StepModel, src: torch.Tensor, src_lengths: torch.Tensor, *, beam_size: int, nbest: int = 1,
                length_penalty: float = 1.0, max_len: torch.Tensor, min_length: int = 0,
                keep_attention: bool = False, prefixes: torch.Tensor | None = None) -> list[list[Hypothesis]]:
    """The `nbest` best hypotheses of each sentence, best first. src (B, S); max_len (B,)."""
    if not 1 <= nbest <= beam_size:
        raise ValueError(f"nbest must be between 1 and the beam size ({beam_size}), got {nbest}")
    batch, K, device = src.shape[0], beam_size, src.device
    memory = model.encode(src, src_lengths)
    state = model.init_state(memory)
    expand = torch.arange(batch, device=device).repeat_interleave(K)
    shared = model.share_beams(memory, K) if hasattr(model, "share_beams") else None
    if shared is not None:  # the K rows of a sentence read one memory row
        memory, (state, _) = shared, model.reorder(state, None, expand)
    else:
        state, memory = model.reorder(state, memory, expand)
    alive = torch.arange(batch, device=device)  # original sentence of each active sentence
    scores = torch.zeros(batch, K, device=device)
    scores[:, 1:] = NEG_INF  # all K beams start identical: expand only the first
    prefix = torch.empty(batch * K, 0, dtype=torch.long, device=device)  # tokens so far, per beam row
    prefix_scores = torch.empty(batch * K, 0, device=device)  # their log-probabilities
    history: torch.Tensor | None = None  # (rows, steps, positions) of attention, made when the first weights come
    tokens = torch.full((batch * K,), BOS, dtype=torch.long, device=device)
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]

    for step in range(int(max_len.max()) + 1):
        n = alive.numel()
        log_probs, state, weights = model.step(tokens, state, memory)  # (n*K, V)
        if keep_attention and history is None and weights is not None:  # as wide as what the model attends over
            history = torch.zeros(n * K, 0, weights.shape[1], device=device)
        log_probs = restrict_eos(log_probs, step, max_len[alive].repeat_interleave(K), min_length)
        if prefixes is not None:
            log_probs = force_prefix(log_probs, step, prefixes[alive].repeat_interleave(K, dim=0))
        vocab = log_probs.shape[-1]
        candidates = (scores.view(n * K, 1) + log_probs).view(n, K * vocab)  # (n, K*V)
        top_scores, top_index = candidates.topk(min(2 * K, K * vocab), dim=1)  # (n, 2K)
        beam_idx, top_tokens = top_index // vocab, top_index % vocab
        step_scores = log_probs.view(n, K * vocab).gather(1, top_index)  # each candidate's own log-probability
        is_eos = top_tokens == EOS
        _close_hypotheses(finished, alive, top_scores, beam_idx, is_eos, prefix, history, weights,
                          K=K, length_penalty=length_penalty, step_scores=step_scores, prefix_scores=prefix_scores)

        # The K best candidates that are not EOS live on (a stable sort keeps the ranking).
        rank = torch.arange(top_scores.shape[1], device=device) + is_eos.long() * top_scores.shape[1]
        order = rank.argsort(dim=1, stable=True)[:, :K]  # (n, K)
        scores = top_scores.gather(1, order)
        rows = (torch.arange(n, device=device)[:, None] * K + beam_idx.gather(1, order)).view(-1)  # (n*K,)
        tokens = top_tokens.gather(1, order).view(-1)
        prefix = torch.cat([prefix[rows], tokens[:, None]], dim=1)
        prefix_scores = torch.cat([prefix_scores[rows], step_scores.gather(1, order).view(-1, 1)], dim=1)
        if history is not None and weights is not None:
            history = torch.cat([history[rows], weights[rows][:, None].float()], dim=1)
        state, _ = model.reorder(state, None, rows)

        counts = [len(finished[s]) for s in alive.tolist()]
        done = (torch.tensor(counts, device=device) >= K) | (max_len[alive] <= step)
        if done.all():
            break
        if done.any():  # finished sentences leave the batch
            keep = (~done).nonzero()[:, 0]
            keep_rows = (keep[:, None] * K + torch.arange(K, device=device)).view(-1)
            alive, scores, tokens, prefix = alive[keep], scores[keep], tokens[keep_rows], prefix[keep_rows]
            prefix_scores = prefix_scores[keep_rows]
            history = history[keep_rows] if history is not None else None
            state, memory = model.reorder(state, memory, keep_rows)
    return [sorted(hyps, key=lambda h: -h.score)[:nbest] for hyps in finished]


@torch.inference_mode()
def generate(model: StepModel, src: torch.Tensor, src_lengths: torch.Tensor, decode: DecodeConfig, *,
             generator: torch.Generator | None = None, keep_attention: bool = False,
             prefixes: torch.Tensor | None = None) -> list[list[Hypothesis]]:
    """One entry point for decode.method 'greedy', 'sample' or 'beam' (beam size 1 is greedy). `prefixes`
    (B, P), -1 past each end: every hypothesis of sentence b starts with its prefix (the length limit
    grows to leave the usual room after it)."""
    limits = max_lengths(src_lengths, a=decode.max_length_a, b=decode.max_length_b).to(src.device)
    if prefixes is not None:
        limits = limits + (prefixes >= 0).sum(1)
    if decode.method == "sample":
        return sample(model, src, src_lengths, max_len=limits, temperature=decode.temperature, top_k=decode.top_k,
                      min_length=decode.min_length, generator=generator, keep_attention=keep_attention,
                      prefixes=prefixes)
    if decode.method == "greedy" or (decode.beam_size == 1 and decode.nbest == 1):
        return greedy(model, src, src_lengths, max_len=limits, min_length=decode.min_length,
                      keep_attention=keep_attention, prefixes=prefixes)
    return beam_search(model, src, src_lengths, beam_size=decode.beam_size, nbest=decode.nbest,
                       length_penalty=decode.length_penalty, max_len=limits, min_length=decode.min_length,
                       keep_attention=keep_attention, prefixes=prefixes)
