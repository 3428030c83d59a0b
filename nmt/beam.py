"""Beam search, batched over sentences, over the model's step interface.

Each sentence keeps `beam_size` live hypotheses. At every step the 2K best extensions
are ranked; EOS among the first K closes a hypothesis (its score divided by GNMT's
length penalty), and the best K that are not EOS live on. A sentence is done once K
hypotheses have closed (at its max length only EOS is allowed, which closes them all);
done sentences leave the batch.
"""

from __future__ import annotations

import torch

from nmt.decoding import NEG_INF, Hypothesis, StepModel, length_normalizer, restrict_eos
from nmt.tokenizer import BOS, EOS


def _close_hypotheses(finished, alive, top_scores, beam_idx, is_eos, prefix, history, weights, *, K, length_penalty):
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
        finished[sentence].append(Hypothesis(tokens, score, attention))


def beam_search(model: StepModel, src: torch.Tensor, src_lengths: torch.Tensor, *, beam_size: int, nbest: int = 1,
                length_penalty: float = 1.0, max_len: torch.Tensor, min_length: int = 0,
                keep_attention: bool = False) -> list[list[Hypothesis]]:
    """The `nbest` best hypotheses of each sentence, best first. src (B, S); max_len (B,)."""
    if not 1 <= nbest <= beam_size:
        raise ValueError(f"nbest must be between 1 and the beam size ({beam_size}), got {nbest}")
    batch, K, device = src.shape[0], beam_size, src.device
    memory = model.encode(src, src_lengths)
    state = model.init_state(memory)
    state, memory = model.reorder(state, memory, torch.arange(batch, device=device).repeat_interleave(K))
    alive = torch.arange(batch, device=device)  # original sentence of each active sentence
    scores = torch.zeros(batch, K, device=device)
    scores[:, 1:] = NEG_INF  # all K beams start identical: expand only the first
    prefix = torch.empty(batch * K, 0, dtype=torch.long, device=device)  # tokens so far, per beam row
    history = torch.empty(batch * K, 0, src.shape[1], device=device) if keep_attention else None
    tokens = torch.full((batch * K,), BOS, dtype=torch.long, device=device)
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]

    for step in range(int(max_len.max()) + 1):
        n = alive.numel()
        log_probs, state, weights = model.step(tokens, state, memory)  # (n*K, V)
        log_probs = restrict_eos(log_probs, step, max_len[alive].repeat_interleave(K), min_length)
        vocab = log_probs.shape[-1]
        candidates = (scores.view(n * K, 1) + log_probs).view(n, K * vocab)  # (n, K*V)
        top_scores, top_index = candidates.topk(min(2 * K, K * vocab), dim=1)  # (n, 2K)
        beam_idx, top_tokens = top_index // vocab, top_index % vocab
        is_eos = top_tokens == EOS
        _close_hypotheses(finished, alive, top_scores, beam_idx, is_eos, prefix, history, weights,
                          K=K, length_penalty=length_penalty)

        # The K best candidates that are not EOS live on (a stable sort keeps the ranking).
        rank = torch.arange(top_scores.shape[1], device=device) + is_eos.long() * top_scores.shape[1]
        order = rank.argsort(dim=1, stable=True)[:, :K]  # (n, K)
        scores = top_scores.gather(1, order)
        rows = (torch.arange(n, device=device)[:, None] * K + beam_idx.gather(1, order)).view(-1)  # (n*K,)
        tokens = top_tokens.gather(1, order).view(-1)
        prefix = torch.cat([prefix[rows], tokens[:, None]], dim=1)
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
            history = history[keep_rows] if history is not None else None
            state, memory = model.reorder(state, memory, keep_rows)
    return [sorted(hyps, key=lambda h: -h.score)[:nbest] for hyps in finished]
