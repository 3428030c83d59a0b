"""Translating lists of sentences: encode, batch by length, generate, restore order, detokenize."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from nmt.batching import collate, make_batches
from nmt.config import DecodeConfig
from nmt.decoding import Hypothesis, TranslationModel
from nmt.search import generate
from nmt.tokenizer import Tokenizer


@dataclass
class Translation:
    text: str
    score: float
    tokens: list[int]
    attention: torch.Tensor | None  # (target steps incl. EOS, source tokens incl. EOS)
    source: list[int]  # the source ids translated (cut to decode.max_src_tokens; no EOS)


class Translator:
    """Translates with a model (or an ensemble) as `decode` says; `seed` makes sampling repeatable."""

    def __init__(self, model: TranslationModel, tokenizer: Tokenizer, *, decode: DecodeConfig,
                 device: torch.device | str = "cpu", seed: int | None = None, keep_attention: bool = False):
        self.model, self.tokenizer, self.decode = model, tokenizer, decode
        self.device, self.keep_attention = torch.device(device), keep_attention
        self.generator = torch.Generator(device=self.device).manual_seed(seed) if seed is not None else None

    def translate_ids(self, sources: Sequence[Sequence[int]]) -> list[list[Hypothesis]]:
        """Token-id sentences (no EOS) -> n-best hypotheses each, in input order."""
        lengths = np.array([len(s) for s in sources], dtype=np.int64)
        results: list[list[Hypothesis] | None] = [None] * len(sources)
        was_training = self.model.training
        self.model.eval()
        try:
            for indices in make_batches(lengths, None, batch_tokens=self.decode.batch_tokens, shuffle=False):
                batch = collate([np.asarray(sources[i], dtype=np.int64) for i in indices], None, indices)
                hyps = generate(self.model, batch.src.to(self.device), batch.src_lengths.to(self.device), self.decode,
                                generator=self.generator, keep_attention=self.keep_attention)
                for index, sentence_hyps in zip(indices.tolist(), hyps):
                    results[index] = sentence_hyps
        finally:
            self.model.train(was_training)
        return results

    def encode(self, lines: Sequence[str]) -> tuple[list[list[int]], list[bool]]:
        """Source ids per line, cut to decode.max_src_tokens; also which lines were cut."""
        ids = self.tokenizer.encode_src(list(lines))
        limit = self.decode.max_src_tokens
        return [seq[:limit] for seq in ids], [len(seq) > limit for seq in ids]

    def translate(self, lines: Sequence[str], *,
                  on_truncated: Callable[[int], None] | None = None) -> list[list[Translation]]:
        """Plain-text lines -> detokenized n-best translations; an empty line gives an empty translation.

        `on_truncated(i)` is called for each line i longer than decode.max_src_tokens.
        """
        ids, truncated = self.encode(lines)
        if on_truncated is not None:
            for index in (i for i, cut in enumerate(truncated) if cut):
                on_truncated(index)
        real = [i for i, seq in enumerate(ids) if seq]
        output: list[list[Translation]] = [[Translation("", 0.0, [], None, [])] for _ in lines]
        for index, hyps in zip(real, self.translate_ids([ids[i] for i in real])):
            texts = self.tokenizer.decode_tgt([h.tokens for h in hyps])
            output[index] = [Translation(t, h.score, h.tokens, h.attention, ids[index]) for t, h in zip(texts, hyps)]
        return output
