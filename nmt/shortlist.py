"""A per-batch output vocabulary (the lexical shortlist of AmuNMT and Marian): the output layer, its
softmax and the beam's top-k run over the target pieces a batch's source words are known to translate
to, and the most frequent pieces, instead of the whole target vocabulary.

The table is learned from the experiment's prepared training data: for each source piece, the target
pieces that share sentences with it most often relative to how often each occurs (Dice's
coefficient, 2 c(s, t) / (c(s) + c(t)) over sentence pairs). `nmt-shortlist --model EXP` writes it to
EXP/shortlist.npz; `decode.shortlist: true` (nmt-translate --set decode.shortlist=true) uses it.

Search needs no change: `Shortlisted` is a step model whose vocabulary is the batch's pieces, the
four specials first (so BOS, EOS and PAD keep their ids), and the translator maps the hypotheses'
tokens back to the target vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nmt.errors import NmtError
from nmt.specials import SPECIAL_PIECES

FILE = "shortlist.npz"


@dataclass
class Shortlist:
    table: np.ndarray  # (source vocabulary, per_word) int32: each source piece's target pieces, -1 padded
    frequent: np.ndarray  # (n,) int32: the most frequent target pieces, always in

    def pieces(self, sources: list[list[int]]) -> np.ndarray:
        """The sorted target ids a batch of source id sentences may produce: the specials, the
        frequent pieces, and every source piece's listed ones."""
        ids = [np.arange(len(SPECIAL_PIECES)), self.frequent]
        for sentence in sources:
            rows = self.table[np.asarray(sentence, dtype=np.int64)]
            ids.append(rows[rows >= 0])
        return np.unique(np.concatenate(ids)).astype(np.int64)

    def batch_pieces(self, sources: list[list[int]], prefixes: list[list[int]], forbidden: np.ndarray) -> np.ndarray:
        """The sorted target ids a batch searches over: its shortlisted pieces and its prefixes', less
        the ids no model may output (`forbidden`)."""
        pieces = np.union1d(self.pieces(sources), np.array([i for prefix in prefixes for i in prefix], dtype=np.int64))
        return pieces[~np.isin(pieces, forbidden)]

    def save(self, exp_dir: Path) -> Path:
        path = Path(exp_dir) / FILE
        np.savez(path.with_suffix(".tmp.npz"), table=self.table, frequent=self.frequent)
        path.with_suffix(".tmp.npz").replace(path)  # atomic: a reader never sees half a file
        return path

    @staticmethod
    def load(exp_dir: Path) -> Shortlist:
        path = Path(exp_dir) / FILE
        if not path.exists():
            raise NmtError(f"translate: decode.shortlist is on but {path} does not exist: make it with "
                           f"nmt-shortlist --model {exp_dir}")
        with np.load(path, allow_pickle=False) as stored:
            return Shortlist(stored["table"], stored["frequent"])


def learn_shortlist(src_sentences, tgt_sentences, *, src_vocab: int, tgt_vocab: int, per_word: int = 50,
                    frequent: int = 100) -> Shortlist:
    """Dice's coefficient over sentence pairs (each piece counted once a sentence) for every pair of
    pieces seen together; each source piece keeps its `per_word` best target pieces."""
    pair_keys, src_counts, tgt_counts = [], np.zeros(src_vocab, np.int64), np.zeros(tgt_vocab, np.int64)
    for src, tgt in zip(src_sentences, tgt_sentences):
        s, t = np.unique(np.asarray(src, np.int64)), np.unique(np.asarray(tgt, np.int64))
        src_counts[s] += 1
        tgt_counts[t] += 1
        pair_keys.append((s[:, None] * tgt_vocab + t[None, :]).ravel())
    keys, together = np.unique(np.concatenate(pair_keys) if pair_keys else np.zeros(0, np.int64), return_counts=True)
    s, t = keys // tgt_vocab, keys % tgt_vocab
    dice = 2.0 * together / (src_counts[s] + tgt_counts[t])
    order = np.lexsort((-together, -dice, s))  # by source piece, then best first
    s, t = s[order], t[order]
    starts = np.searchsorted(s, np.arange(src_vocab))
    rank = np.arange(len(s)) - starts[s]  # each pair's place among its source piece's
    keep = rank < per_word
    table = np.full((src_vocab, per_word), -1, dtype=np.int32)
    table[s[keep], rank[keep]] = t[keep]
    most = np.argsort(-tgt_counts, kind="stable")[:frequent]
    return Shortlist(table, most[tgt_counts[most] > 0].astype(np.int32))


class Shortlisted:
    """A step model (nmt.search.StepModel) over the target pieces `ids` (sorted, the specials first) of
    `model` (a Seq2Seq): its tokens are positions in `ids`."""

    def __init__(self, model, ids):
        import torch

        self.model = model
        self.ids = torch.as_tensor(ids, dtype=torch.long, device=model.never_output.device)
        self.output = model.restricted_output(self.ids)

    def encode(self, src, src_lengths):
        return self.model.encode(src, src_lengths)

    def init_state(self, memory):
        return self.model.init_state(memory)

    def step(self, prev_tokens, state, memory):
        return self.model.step(self.ids[prev_tokens], state, memory, output=self.output)

    def reorder(self, state, memory, index):
        return self.model.reorder(state, memory, index)

    def share_beams(self, memory, beams: int):
        return self.model.share_beams(memory, beams)
