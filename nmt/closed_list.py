"""Decoding restricted to a closed list of outputs (captioning's decode.closed_list): every hypothesis
is a prefix of a listed output, and EOS may end only a whole one. For outputs that come from a known
list (an emoji's Unicode name, a catalogue's product names, class labels), the search then finds the
listed output the model gives the highest probability, instead of a fluent string that is on no list.

`ClosedList` wraps any StepModel and masks its log-probabilities with a trie of the outputs' target
pieces; the searches themselves are untouched. Scores stay the model's log-probabilities (not
renormalised over the allowed pieces), so an output scores what it would score unrestricted.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import torch

from nmt.data import read_lines
from nmt.errors import DataError
from nmt.search import NEG_INF, StepModel
from nmt.specials import EOS

DEAD = -1  # a row that has left the trie (only EOS is allowed; it cannot happen once masked from the start)


class OutputTrie:
    """The listed outputs' piece sequences as a trie: node 0 is the empty prefix."""

    def __init__(self, outputs: list[list[int]]):
        self.children: list[dict[int, int]] = [{}]
        self.complete: list[bool] = [False]
        for pieces in outputs:
            node = 0
            for piece in pieces:
                child = self.children[node].get(piece)
                if child is None:
                    child = len(self.children)
                    self.children[node][piece] = child
                    self.children.append({})
                    self.complete.append(False)
                node = child
            self.complete[node] = True
        self._rows: dict[int, torch.Tensor] = {}  # a visited node's allowed pieces (allowed)

    def advance(self, nodes: list[int], tokens: list[int]) -> list[int]:
        return [self.children[node].get(token, DEAD) if node != DEAD else DEAD for node, token in zip(nodes, tokens)]

    def allowed(self, nodes: list[int], vocab: int, device: torch.device) -> torch.Tensor:
        """(rows, vocab) bool: the pieces each node may write next, EOS where its prefix is a whole output.
        Each node's row is made once (the root's holds hundreds of pieces, and every search starts there)."""
        return torch.stack([self._row(node, vocab, device) for node in nodes])

    def _row(self, node: int, vocab: int, device: torch.device) -> torch.Tensor:
        row = self._rows.get(node)
        if row is None or row.shape[0] != vocab or row.device != device:
            following = list(self.children[node]) if node != DEAD else []
            if node == DEAD or self.complete[node]:
                following.append(EOS)
            row = torch.zeros(vocab, dtype=torch.bool)
            row[following] = True
            row = self._rows[node] = row.to(device)
        return row


def read_closed_list(path: str | Path, encode) -> OutputTrie:
    """The outputs of a file, one a line (of a captions TSV, the text after the TAB), as target pieces
    by `encode` (the model's tokenizer.encode_tgt); read once while the file is unchanged (a server
    builds a search for every request)."""
    try:
        modified = Path(path).stat().st_mtime_ns
    except OSError as err:
        raise DataError(f"decode.closed_list: cannot read {path} ({err.strerror})") from None
    return _read_closed_list(str(path), modified, encode)


@functools.lru_cache(maxsize=8)
def _read_closed_list(path: str, modified: int, encode) -> OutputTrie:
    try:
        texts = [line.rpartition("\t")[2].strip() for line in read_lines(path)]
    except OSError as err:
        raise DataError(f"decode.closed_list: cannot read {path} ({err.strerror})") from None
    texts = sorted({text for text in texts if text})
    if not texts:
        raise DataError(f"decode.closed_list: {path} lists no outputs")
    return OutputTrie(encode(texts))


class ClosedList:
    """A StepModel whose every output is one of `trie`'s: its state is the model's and each row's node."""

    def __init__(self, model: StepModel, trie: OutputTrie):
        self.model, self.trie = model, trie

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> Any:
        return self.model.encode(src, src_lengths)

    def init_state(self, memory: Any) -> tuple[Any, list[int] | None]:
        return self.model.init_state(memory), None  # None: every row at the root, however many there are

    def step(self, prev_tokens: torch.Tensor, state: tuple[Any, list[int] | None], memory: Any):
        inner, nodes = state
        nodes = [0] * len(prev_tokens) if nodes is None else self.trie.advance(nodes, prev_tokens.tolist())
        log_probs, inner, attention = self.model.step(prev_tokens, inner, memory)
        allowed = self.trie.allowed(nodes, log_probs.shape[-1], log_probs.device)
        return log_probs.masked_fill(~allowed, NEG_INF), (inner, nodes), attention

    def reorder(self, state: tuple[Any, list[int] | None], memory: Any, index: torch.Tensor):
        inner, nodes = state
        inner, memory = self.model.reorder(inner, memory, index)
        return (inner, None if nodes is None else [nodes[i] for i in index.tolist()]), memory

    def share_beams(self, memory: Any, beams: int) -> Any:
        share = getattr(self.model, "share_beams", None)
        return share(memory, beams) if share is not None else None
