"""Validation on the dev split: loss and perplexity, then translation scored with sacreBLEU."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import torch
import torch.nn.functional as F

from nmt.batching import Batch, ParallelArrays, collate, make_batches
from nmt.config import DecodeConfig
from nmt.data import read_lines
from nmt.device import evaluating
from nmt.distributed import Cluster
from nmt.metrics import corpus_scores
from nmt.specials import PAD
from nmt.tokenizer import Tokenizer
from nmt.translate import Translator

N_ATTENTION_EXAMPLES = 3


def token_loss(model, batch: Batch, *, label_smoothing: float = 0.0) -> torch.Tensor:
    """Summed cross-entropy over the batch's real target tokens (the output layer runs once, over all steps)."""
    assert batch.tgt_out is not None, "a loss needs the batch's targets"
    logits = model(batch.src, batch.src_lengths, batch.tgt_in).logits  # (B, T, V)
    return F.cross_entropy(logits.flatten(0, 1).float(), batch.tgt_out.flatten(),  # (B, T, V) -> (B*T, V)
                           ignore_index=PAD, label_smoothing=label_smoothing, reduction="sum")


class Validator:
    """Dev loss and scores. Under data parallelism each process takes every world_size-th share of
    the work and all of them end with the same metrics (so all make the same decisions)."""

    def __init__(self, model, tokenizer: Tokenizer, data_dir: Path, *, decode: DecodeConfig, beam_size: int,
                 device: torch.device, batch_tokens: int, cluster: Cluster | None = None):
        self.model, self.tokenizer, self.device = model, tokenizer, device
        self.cluster = cluster or Cluster()
        self.dev = ParallelArrays(data_dir, "dev")
        self.sources = list(read_lines(data_dir / "dev.src"))
        self.references = list(read_lines(data_dir / "dev.tgt"))
        self.batches = make_batches(self.dev.src.lengths, self.dev.tgt.lengths, batch_tokens=batch_tokens, shuffle=False)
        one_best = dataclasses.replace(decode, method="beam", beam_size=beam_size, nbest=1)
        self.translator = Translator(model, tokenizer, decode=one_best, device=device)
        self.attention_translator = Translator(model, tokenizer, decode=dataclasses.replace(one_best, method="greedy"),
                                               device=device, keep_attention=True)

    @torch.no_grad()
    def loss(self) -> tuple[float, float]:
        """Dev cross-entropy per target token (no label smoothing) and perplexity."""
        total, tokens = 0.0, 0.0
        share = self.batches[self.cluster.rank::self.cluster.world_size]
        with evaluating(self.model):
            for indices in share:
                batch = collate([self.dev.src[i] for i in indices], [self.dev.tgt[i] for i in indices],
                                indices).to(self.device)
                total += float(token_loss(self.model, batch))
                tokens += batch.n_tgt_tokens
        total, tokens = self.cluster.sum([total, tokens], self.device, what="validation")
        loss = total / max(tokens, 1)
        return loss, math.exp(min(loss, 50.0))

    def run(self) -> tuple[dict, list[str]]:
        """Metrics (loss, ppl, bleu, chrf, signatures) and the dev hypotheses in corpus order."""
        loss, ppl = self.loss()
        share = range(self.cluster.rank, len(self.dev), self.cluster.world_size)
        hyps = self.translator.translate_ids([self.dev.src[i] for i in share])
        mine = self.tokenizer.decode_tgt([h[0].tokens for h in hyps])
        shares = self.cluster.gather(mine, what="validation")
        hypotheses = [shares[i % len(shares)][i // len(shares)] for i in range(len(self.dev))]
        scores = corpus_scores(hypotheses, [self.references])
        return {"loss": loss, "ppl": ppl, **scores}, hypotheses

    def attention_examples(self) -> list[tuple[list[str], list[str], torch.Tensor]]:
        """Greedy attention of the first dev sentences: (source pieces, output pieces, (T, S) weights)."""
        count = min(N_ATTENTION_EXAMPLES, len(self.dev))
        hyps = self.attention_translator.translate_ids([self.dev.src[i] for i in range(count)])
        examples = []
        for i, (hyp,) in enumerate(hyps):
            if hyp.attention is None:
                return []
            source = [self.tokenizer.src.id_to_piece(int(t)) for t in self.dev.src[i]]
            output = [self.tokenizer.tgt.id_to_piece(t) for t in hyp.tokens]
            examples.append((source + ["</s>"], output + ["</s>"], hyp.attention[:, : len(source) + 1]))
        return examples
