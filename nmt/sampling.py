"""Subword regularisation: the training text segmented anew every epoch.

Unigram models, Kudo 2018 ("Subword Regularization"): each training sentence's segmentation x is
drawn from the l best segmentations with probability P(x)^alpha / sum P(x')^alpha (l =
train.sampling_nbest, alpha = train.sampling_alpha; small alpha: nearly uniform). BPE models,
Provilkov et al. 2020 (BPE-dropout): each word is merged in the model's merge order, every merge
possible at a step skipped with probability alpha (with alpha 0 this is SentencePiece's own BPE
segmentation, token for token). Dev, test and translation always use the single best segmentation.

SentencePiece's own sampler (`enable_sampling`) cannot be seeded across processes (the same seed
gives other samples in another process), so exact resume would break; here SentencePiece lists
the l best segmentations (deterministic) or gives the normalized text to merge, and numpy draws,
seeded by (seed, epoch, side). A resumed run re-creates its epoch exactly; every process under data parallelism
samples the same arrays into a folder of its own. While epoch e trains, a background thread
writes epoch e + 1. With a mixture only the pairs the epoch draws are segmented (the others stay
empty, never batched): a large corpus of small weight costs its share, not its size.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import numpy as np
import sentencepiece as spm

from nmt.batching import ParallelArrays, write_token_array
from nmt.data import read_lines
from nmt.mixture import Mixture
from nmt.tokenizer import Tokenizer, vocabulary

CHUNK = 2_000  # lines encoded in one call


def piece_scores(processor: spm.SentencePieceProcessor) -> np.ndarray:
    """log p of every piece of a unigram model, by id."""
    return np.array([processor.get_score(i) for i in range(processor.get_piece_size())], dtype=np.float64)


class SampledEpochs:
    """`epochs(e)`: the training split as sampled for epoch e (ParallelArrays), the next one on its way."""

    def __init__(self, data_dir: str | Path, tokenizer: Tokenizer, *, alpha: float, nbest: int, seed: int,
                 rank: int = 0, model_type: str = "unigram", mixture: Mixture | None = None):
        self.data_dir = Path(data_dir)
        self.dir = self.data_dir / "sampled" / f"rank{rank}"
        self.tokenizer, self.alpha, self.nbest, self.seed = tokenizer, alpha, nbest, seed
        self.model_type, self.mixture = model_type, mixture  # its draws must be the batches' (the same seed)
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="subword-sampling")
        self._pending: dict[int, Future] = {}
        self._current: tuple[int, ParallelArrays] | None = None  # asked for at every epoch start, and for estimates
        self._reset_if_changed()

    def _reset_if_changed(self) -> None:
        """Arrays sampled under other settings (or another SentencePiece model) are thrown away."""
        pieces = json.dumps([vocabulary(self.tokenizer.src), vocabulary(self.tokenizer.tgt)])
        models = hashlib.sha256(pieces.encode()).hexdigest()  # the vocabularies by content
        key = {"alpha": self.alpha, "nbest": self.nbest, "seed": self.seed, "type": self.model_type, "models": models,
               "text": [(self.data_dir / f"train.{side}").stat().st_mtime_ns for side in ("src", "tgt")],
               "weights": None if self.mixture is None else self.mixture.weights.tolist()}  # they say which pairs
        record = self.dir / "settings.json"
        if record.exists() and json.loads(record.read_text()) == key:
            return
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        record.write_text(json.dumps(key))

    def __call__(self, epoch: int) -> ParallelArrays:
        if self._current is not None and self._current[0] == epoch:
            return self._current[1]
        arrays = self._arrays(epoch)
        self._current = (epoch, arrays)
        self._ahead(epoch + 1)
        for old in self.dir.glob("train.e*.*"):  # keep this epoch's and the next one's
            if int(old.name.split(".")[1][1:]) not in (epoch, epoch + 1):
                old.unlink(missing_ok=True)
        return arrays

    def _prefix(self, epoch: int) -> str:
        return f"train.e{epoch}"

    def _arrays(self, epoch: int) -> ParallelArrays:
        if not (self.dir / f"{self._prefix(epoch)}.tgt.bin").exists():
            self._ahead(epoch).result()  # not encoded ahead (the first epoch, or a resume): wait for it
        self._pending.pop(epoch, None)
        return ParallelArrays(self.dir, self._prefix(epoch))

    def _ahead(self, epoch: int) -> Future:
        if epoch not in self._pending:
            self._pending[epoch] = self._worker.submit(self.encode, epoch)
        return self._pending[epoch]

    def encode(self, epoch: int) -> None:
        """Both sides of the training text, sampled with the seed of (seed, epoch); .bin written last."""
        if (self.dir / f"{self._prefix(epoch)}.tgt.bin").exists():
            return
        sides = ((self.tokenizer.src, "src", self.tokenizer.src_vocab_size),
                 (self.tokenizer.tgt, "tgt", self.tokenizer.tgt_vocab_size))
        drawn = None
        if self.mixture is not None:
            drawn = np.zeros(len(self.mixture.corpus_of_pair), dtype=bool)
            drawn[self.mixture.draw(self.seed, epoch)] = True
        for number, (processor, side, vocab_size) in enumerate(sides):  # the target file marks a finished epoch
            rng = np.random.default_rng([self.seed, epoch, number])
            sample = self._sample if self.model_type == "unigram" else self._bpe_dropout
            write_token_array(sample(processor, self.data_dir / f"train.{side}", rng, drawn),
                              self.dir / f"{self._prefix(epoch)}.{side}", vocab_size=vocab_size)

    def _bpe_dropout(self, processor: spm.SentencePieceProcessor, text: Path, rng: np.random.Generator,
                     drawn: np.ndarray | None = None) -> Iterator[list[int]]:
        """Every line's words merged in the model's order (higher score first), each merge possible at a
        step skipped with probability alpha; when all are skipped the word stays as it is."""
        merges = BpeMerges(processor)
        for index, line in enumerate(read_lines(text)):
            yield merges.encode(line, rng, self.alpha) if drawn is None or drawn[index] else []

    def _sample(self, processor: spm.SentencePieceProcessor, text: Path, rng: np.random.Generator,
                drawn: np.ndarray | None = None) -> Iterator[list[int]]:
        """One segmentation of every (drawn) line, among its l best with probability P^alpha / sum P^alpha."""
        spm.set_min_log_level(2)  # its n-best search warns on every long sentence it shortens; errors only
        scores, lines = piece_scores(processor), enumerate(read_lines(text))
        while chunk := list(itertools.islice(lines, CHUNK)):
            wanted = [drawn is None or bool(drawn[index]) for index, _ in chunk]
            todo = [line for (_, line), want in zip(chunk, wanted) if want]
            encoded = iter(processor.nbest_encode(todo, out_type=int, nbest_size=self.nbest) if todo else [])
            for want in wanted:
                if not want:
                    yield []
                    continue
                candidates = next(encoded)
                if len(candidates) < 2:
                    yield candidates[0] if candidates else []
                    continue
                log_p = np.array([scores[ids].sum() for ids in candidates])  # log P(x) = sum of log p(piece)
                weights = np.exp(self.alpha * (log_p - log_p.max()))
                yield candidates[rng.choice(len(candidates), p=weights / weights.sum())]

    def close(self) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)


class BpeMerges:
    """A SentencePiece BPE model's merges: a piece's score orders them (a higher score merges first)."""

    def __init__(self, processor: spm.SentencePieceProcessor):
        self.processor = processor
        pieces = (i for i in range(processor.get_piece_size())
                  if not (processor.is_control(i) or processor.is_unknown(i)))
        self.ids = {processor.id_to_piece(i): i for i in pieces}
        self.scores = {piece: processor.get_score(i) for piece, i in self.ids.items()}

    def encode(self, line: str, rng: np.random.Generator, dropout: float) -> list[int]:
        normalized = "".join(self.processor.encode(line, out_type=str))  # "▁word▁word": SentencePiece's text
        ids: list[int] = []
        for word in re.split("(?=\u2581)", normalized):
            symbols = list(word)
            while len(symbols) > 1:
                best = None  # (score, position) of the first best merge not dropped
                for i in range(len(symbols) - 1):
                    score = self.scores.get(symbols[i] + symbols[i + 1])
                    if score is not None and (best is None or score > best[0]) and rng.random() >= dropout:
                        best = (score, i)
                if best is None:
                    break
                i = best[1]
                symbols[i:i + 2] = [symbols[i] + symbols[i + 1]]
            ids.extend(self.ids.get(symbol, self.processor.unk_id()) for symbol in symbols)
        return ids
