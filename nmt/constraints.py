"""Lexically constrained decoding: target words or phrases that must appear in a sentence's translation
(a terminology entry, a name to keep), by Post & Vilar 2018's dynamic beam allocation.

Each hypothesis carries its `Progress` through its sentence's phrases (target id sequences): which
are written, and how far into one it is. At every step a sentence's candidates are the usual best
extensions, each live hypothesis's best next token, and every token that would advance one of its
phrases; the K beam slots are shared out among banks of candidates by how many constraint tokens
they have written, so hypotheses that took a constraint early are not crowded out by ones that have
not yet paid for it. EOS may end only a hypothesis whose phrases are all written, except at the
length limit, where the best of what is left ends and is marked `constraints_met=False` (reported,
never silently dropped). The model steps are batched; choosing among a sentence's few candidates
is Python's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from nmt.search import Hypothesis, StepModel, length_normalizer, restrict_eos
from nmt.specials import BOS, EOS


@dataclass(frozen=True)
class Progress:
    """Where a hypothesis stands: which phrases are written, and the one being written and how far."""

    done: tuple[bool, ...]
    phrase: int = -1  # the phrase being written (-1: none)
    position: int = 0  # its tokens written so far

    def advance(self, token: int, phrases: list[list[int]]) -> Progress:
        if self.phrase >= 0:
            words = phrases[self.phrase]
            if words[self.position] == token:
                if self.position + 1 < len(words):
                    return replace(self, position=self.position + 1)
                return Progress(tuple(d or i == self.phrase for i, d in enumerate(self.done)))
            return Progress(self.done).advance(token, phrases)  # broken off: it starts again from nothing
        for index, words in enumerate(phrases):
            if not self.done[index] and words[0] == token:
                return Progress(self.done, index, 1) if len(words) > 1 else \
                    Progress(tuple(d or i == index for i, d in enumerate(self.done)))
        return self

    def wanted(self, phrases: list[list[int]]) -> set[int]:
        """The tokens that would advance a phrase."""
        if self.phrase >= 0:
            return {phrases[self.phrase][self.position]}
        return {words[0] for words, done in zip(phrases, self.done) if not done}

    def met(self, phrases: list[list[int]]) -> int:
        """Constraint tokens written: the bank a hypothesis belongs to."""
        return sum(len(words) for words, done in zip(phrases, self.done) if done) + max(self.position, 0)

    def complete(self) -> bool:
        return all(self.done) and self.phrase < 0


def _allocate(candidates: list[tuple[float, int, int, Progress]], slots: int, banks: int,
              phrases: list[list[int]]) -> list[tuple[float, int, int, Progress]]:
    """Post & Vilar's allocation: `slots` shared evenly among `banks` (by constraint tokens met; the
    remainder to the fullest banks that have candidates, so one slot goes to the most progress), each
    bank's best candidates first, unused slots to the best left."""
    by_bank: list[list] = [[] for _ in range(banks)]
    for candidate in sorted(candidates, key=lambda c: -c[0]):
        by_bank[min(candidate[3].met(phrases), banks - 1)].append(candidate)
    sizes = [slots // banks] * banks
    filled = [bank for bank in reversed(range(banks)) if by_bank[bank]]
    for extra in range(slots % banks):
        if filled:
            sizes[filled[extra % len(filled)]] += 1
    chosen = [c for bank, size in zip(by_bank, sizes) for c in bank[:size]]
    left = sorted((c for bank, size in zip(by_bank, sizes) for c in bank[size:]), key=lambda c: -c[0])
    chosen += left[: slots - len(chosen)]
    return sorted(chosen, key=lambda c: -c[0])


@torch.inference_mode()
def constrained_beam_search(model: StepModel, src: torch.Tensor, src_lengths: torch.Tensor,
                            constraints: list[list[list[int]]], *, beam_size: int, nbest: int = 1,
                            length_penalty: float = 1.0, max_len: torch.Tensor, min_length: int = 0,
                            keep_attention: bool = False) -> list[list[Hypothesis]]:
    """The `nbest` best hypotheses of each sentence, those that wrote all of its phrases first.
    `constraints[b]`: sentence b's phrases (lists of target ids; an empty list: none)."""
    batch, K, device = src.shape[0], beam_size, src.device
    memory = model.encode(src, src_lengths)
    state = model.init_state(memory)
    state, memory = model.reorder(state, memory, torch.arange(batch, device=device).repeat_interleave(K))
    alive = list(range(batch))
    scores = [[0.0] + [float("-inf")] * (K - 1) for _ in range(batch)]  # the K beams start identical
    progress = [[Progress(tuple(False for _ in constraints[b]))] * K for b in range(batch)]
    prefix: list[list[list[int]]] = [[[] for _ in range(K)] for _ in range(batch)]
    token_scores: list[list[list[float]]] = [[[] for _ in range(K)] for _ in range(batch)]
    history: list[list[list[torch.Tensor]]] = [[[] for _ in range(K)] for _ in range(batch)]
    tokens = torch.full((batch * K,), BOS, dtype=torch.long, device=device)
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    for step in range(int(max_len.max()) + 1):
        log_probs, state, weights = model.step(tokens, state, memory)
        log_probs = restrict_eos(log_probs, step, max_len[alive].repeat_interleave(K), min_length)
        vocab = log_probs.shape[-1]
        total = (torch.tensor(scores, device=device)[alive].view(-1, 1) + log_probs).view(len(alive), K, vocab)
        rows, next_tokens, still = [], [], []
        for i, b in enumerate(alive):
            phrases, at_limit = constraints[b], int(max_len[b]) <= step
            best = total[i].view(-1).topk(min(2 * K, K * vocab)).indices.tolist()
            pairs = {(index // vocab, index % vocab) for index in best}
            for k in range(K):
                if scores[b][k] > float("-inf"):
                    pairs.add((k, int(log_probs[i * K + k].argmax())))
                    pairs |= {(k, t) for t in progress[b][k].wanted(phrases)}
            live, closing = [], []
            listed = sorted(pairs)
            values = total[i][[k for k, _ in listed], [t for _, t in listed]].tolist()  # one gather, not one a pair
            for (k, t), value in zip(listed, values):
                if value == float("-inf"):
                    continue
                if t == EOS:
                    if progress[b][k].complete() or at_limit:
                        closing.append((value, k))
                    continue
                live.append((value, k, t, progress[b][k].advance(t, phrases)))
            # As in plain beam search, an EOS ends a hypothesis when it ranks among the first K candidates.
            ranked = sorted([c[0] for c in live] + [c[0] for c in closing], reverse=True)
            bar = ranked[min(K, len(ranked)) - 1] if ranked else float("-inf")
            for value, k in sorted(closing, reverse=True):
                if len(finished[b]) < K and (value >= bar or at_limit):
                    row = i * K + k
                    attention = None
                    if weights is not None and keep_attention:
                        attention = torch.stack(history[b][k] + [weights[row].float()]).cpu()
                    finished[b].append(Hypothesis(
                        prefix[b][k], value / float(length_normalizer(len(prefix[b][k]) + 1, length_penalty)), attention,
                        token_scores[b][k] + [float(log_probs[row, EOS])], constraints_met=progress[b][k].complete()))
            chosen = _allocate(live, K, sum(len(words) for words in phrases) + 1, phrases) if not at_limit else []
            if len(finished[b]) >= K or not chosen:
                continue
            chosen += [(float("-inf"), chosen[0][1], chosen[0][2], chosen[0][3])] * (K - len(chosen))  # empty slots
            row_of = [i * K + c[1] for c in chosen]
            own = log_probs[row_of, [c[2] for c in chosen]].tolist()  # each chosen token's log-probability, one gather
            new = [(c[0], prefix[b][c[1]] + [c[2]], token_scores[b][c[1]] + [score],
                    history[b][c[1]] + ([weights[i * K + c[1]].float()] if weights is not None and keep_attention else []),
                    c[3]) for c, score in zip(chosen, own)]
            scores[b] = [n[0] for n in new]
            prefix[b], token_scores[b], history[b], progress[b] = ([n[1] for n in new], [n[2] for n in new],
                                                                  [n[3] for n in new], [n[4] for n in new])
            rows += row_of
            next_tokens += [c[2] for c in chosen]
            still.append(b)
        if not still:
            break
        index = torch.tensor(rows, device=device)
        # A sentence's rows read identical memory rows: memory is copied only when sentences leave.
        state, moved = model.reorder(state, memory if len(still) < len(alive) else None, index)
        memory = moved if moved is not None else memory
        tokens, alive = torch.tensor(next_tokens, device=device), still
    return [sorted(hyps, key=lambda h: (not h.constraints_met, -h.score))[:nbest] for hyps in finished]
