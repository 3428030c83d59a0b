"""Training on several corpora at once: real pairs and back-translations, say.

`data.train` lists the corpora; each has a `weight` (how many times each of its pairs is seen in
an epoch, in expectation) and may have a `tag`, a symbol put before each of its source
sentences (Caswell et al. 2019: the model learns to tell synthetic sources from real ones).
`nmt-prepare` writes the corpora one after another into `train.src`/`train.tgt` and records
which corpus each pair came from in `train.corpus.npy`. A tag is a control symbol of the
SentencePiece model: no text is ever split into it, decoding leaves it out, and search never
proposes it (`Seq2Seq.forbid_outputs`).

An epoch's pairs are drawn here: a pair of a corpus of weight w is taken floor(w) times, and
once more with probability w - floor(w), drawn from (seed, epoch). That is a pure function of
the epoch, so a resumed run draws the same pairs and every process under data parallelism
the same plan.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

CORPUS_FILE = "train.corpus.npy"  # the corpus (its position in data.train) of every training pair
NO_TAG = -1


class Mixture:
    def __init__(self, corpus_of_pair: np.ndarray, weights: Sequence[float], tags: Sequence[int | None]):
        if len(weights) != len(tags):
            raise ValueError(f"{len(weights)} weights but {len(tags)} tags")
        if len(corpus_of_pair) and int(corpus_of_pair.max()) >= len(weights):
            raise ValueError(f"pairs of corpus {int(corpus_of_pair.max())}, but {len(weights)} corpora configured")
        self.corpus_of_pair = np.asarray(corpus_of_pair, dtype=np.int64)
        self.weights = np.asarray(weights, dtype=np.float64)
        self.tag_of_corpus = np.array([NO_TAG if tag is None else tag for tag in tags], dtype=np.int64)
        self.tag_of_pair = self.tag_of_corpus[self.corpus_of_pair]
        self.tag_lengths = (self.tag_of_pair != NO_TAG).astype(np.int64)  # tokens a tag adds to each source

    @classmethod
    def load(cls, data_dir: str | Path, weights: Sequence[float], tags: Sequence[int | None]) -> Mixture:
        return cls(np.load(Path(data_dir) / CORPUS_FILE), weights, tags)

    def sizes(self) -> list[int]:
        """Pairs of each corpus (after cleaning)."""
        return np.bincount(self.corpus_of_pair, minlength=len(self.weights)).tolist()

    def draw(self, seed: int, epoch: int) -> np.ndarray:
        """The training pairs of an epoch, in index order, a pair repeated as its corpus's weight says."""
        weight = self.weights[self.corpus_of_pair]
        whole = np.floor(weight).astype(np.int64)
        rng = np.random.default_rng([seed, epoch, 0x6d6978])  # a stream of its own, apart from batching's
        once_more = rng.random(len(weight)) < weight - whole
        return np.repeat(np.arange(len(weight)), whole + once_more)

    def source(self, pair: int, tokens: np.ndarray) -> np.ndarray:
        """A pair's source tokens as the encoder reads them: the tag of its corpus first, if it has one."""
        tag = self.tag_of_pair[pair]
        return tokens if tag == NO_TAG else np.concatenate([np.array([tag], dtype=tokens.dtype), tokens])
