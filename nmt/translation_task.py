"""Translation as the training loop sees it (nmt/tasks.py): a Seq2Seq model, token-budget batches
of parallel text, its loss (cross-entropy over the target tokens), and a validation that
measures the dev loss, translates the dev set and scores it with sacreBLEU."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from nmt.batching import Batch, BatchIterator, ParallelArrays, collate, make_batches
from nmt.config import Config, DecodeConfig
from nmt.data import read_lines
from nmt.device import evaluating
from nmt.distributed import Cluster
from nmt.errors import DataError, NmtError
from nmt.metrics import corpus_scores
from nmt.mixture import CORPUS_FILE, Mixture
from nmt.models import build_model
from nmt.sampling import SampledEpochs
from nmt.specials import PAD
from nmt.tasks import ExtrasSink, Metric, NoTaskState, Validation
from nmt.tokenizer import Tokenizer
from nmt.translate import Translator

N_EXAMPLES = 5  # dev translations shown in TensorBoard at each validation
N_ATTENTION_EXAMPLES = 3


def token_loss(model, batch: Batch, *, label_smoothing: float = 0.0) -> torch.Tensor:
    """Summed cross-entropy over the batch's real target tokens (the output layer runs once, over all steps)."""
    assert batch.tgt_out is not None, "a loss needs the batch's targets"
    logits = model(batch.src, batch.src_lengths, batch.tgt_in).logits  # (B, T, V)
    return summed_cross_entropy(logits, batch.tgt_out, label_smoothing=label_smoothing)


def summed_cross_entropy(logits: torch.Tensor, tgt_out: torch.Tensor, *, label_smoothing: float = 0.0) -> torch.Tensor:
    """logits (B, T, V), tgt_out (B, T) -> the cross-entropy summed over the real (non-PAD) positions."""
    return F.cross_entropy(logits.flatten(0, 1).float(), tgt_out.flatten(),  # (B, T, V) -> (B*T, V)
                           ignore_index=PAD, label_smoothing=label_smoothing, reduction="sum")


class TranslationTask(NoTaskState):
    metrics = {
        "loss": Metric("loss", higher_is_better=False, digits=3),
        "ppl": Metric("ppl", higher_is_better=False),
        "bleu": Metric("BLEU", higher_is_better=True),
        "chrf": Metric("chrF", higher_is_better=True),
    }
    unit = "target tokens"

    def __init__(self, cfg: Config, *, device: torch.device, cluster: Cluster):
        self.cfg, self.device = cfg, device
        exp_dir = Path(cfg.exp_dir)
        self.tokenizer = Tokenizer.load(exp_dir)
        self.model = build_model(cfg.model, self.tokenizer.src_vocab_size, self.tokenizer.tgt_vocab_size).to(device)
        self.model.forbid_outputs(self.tokenizer.never_output_ids())  # the dev translations never hold a tag
        train = cfg.train
        self.mixture = training_mixture(cfg, self.tokenizer, exp_dir / "data")
        self.sampled = (SampledEpochs(exp_dir / "data", self.tokenizer, alpha=train.sampling_alpha,
                                      nbest=train.sampling_nbest, seed=train.seed, rank=cluster.rank,
                                      model_type=cfg.tokenizer.model_type, mixture=self.mixture)
                        if train.sampling_alpha > 0 else None)
        self.iterator = BatchIterator(
            ParallelArrays(exp_dir / "data", "train"), batch_tokens=train.batch_tokens, batch_size=train.batch_size,
            seed=train.seed, max_src_tokens=train.max_src_tokens, max_tgt_tokens=train.max_tgt_tokens,
            rank=cluster.rank, world_size=cluster.world_size, sampled=self.sampled, mixture=self.mixture,
        )
        if self.iterator.keep.sum() == 0:
            raise NmtError(f"train: every training pair is longer than train.max_src_tokens={train.max_src_tokens} "
                           f"or train.max_tgt_tokens={train.max_tgt_tokens} tokens")
        self.validator = Validator(self.model, self.tokenizer, exp_dir / "data", decode=cfg.decode,
                                   beam_size=train.validation_beam, device=device,
                                   batch_tokens=cfg.decode.batch_tokens, cluster=cluster)
        self.hypotheses: list[str] = []

    def count(self, batch: Batch) -> int:
        return batch.n_tgt_tokens

    def loss(self, model: nn.Module, batch: Batch, *, label_smoothing: float) -> torch.Tensor:
        return token_loss(model, batch.to(self.device), label_smoothing=label_smoothing)

    def validate(self) -> Validation:
        scores, self.hypotheses = self.validator.run()
        return Validation({name: float(scores[name]) for name in self.metrics}, note=str(scores["bleu_signature"]))

    def report(self, sink: ExtrasSink, step: int) -> None:
        """The first dev translations as a table, and attention heatmaps of a few dev sentences."""
        validator = self.validator
        rows = [(validator.sources[i], validator.references[i], self.hypotheses[i])
                for i in range(min(N_EXAMPLES, len(self.hypotheses)))]
        sink.text("dev/translations", _markdown_table(rows), step)
        for index, (source, output, weights) in enumerate(validator.attention_examples()):
            sink.figure(f"dev/attention/{index}", _heatmap(source, output, weights), step)

    def describe(self) -> dict:
        return {"task": "translation", "variant": self.cfg.model.variant, "cell": self.cfg.model.cell}

    def summary(self) -> str:
        train = self.cfg.train
        kind = "BPE-dropout" if self.cfg.tokenizer.model_type == "bpe" else "subword sampling"
        sampling = (f"; {kind} alpha {train.sampling_alpha:g}" + (f", nbest {train.sampling_nbest}" if kind != "BPE-dropout" else "")
                    if self.sampled is not None else "")
        corpora = ""
        if self.mixture is not None:
            corpora = " from " + " + ".join(
                f"{size:,}" + (f" x{corpus.weight:g}" if corpus.weight != 1 else "") + (f" {corpus.tag}" if corpus.tag else "")
                for size, corpus in zip(self.mixture.sizes(), self.cfg.data.train))
        return (f"{self.cfg.model.variant} ({self.cfg.model.cell}), {len(self.iterator.corpus):,} training pairs"
                f"{corpora} ({self.iterator.n_left_out:,} over the length limits){sampling}")


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


def training_mixture(cfg: Config, tokenizer: Tokenizer, data_dir: Path) -> Mixture | None:
    """The training corpora's weights and tags (nmt/mixture.py); None for one plain corpus."""
    corpora = cfg.data.train
    if len(corpora) == 1 and corpora[0].weight == 1.0 and corpora[0].tag is None:
        return None
    if not (data_dir / CORPUS_FILE).exists():
        raise DataError(f"data: {data_dir / CORPUS_FILE} is missing: prepare the data again (nmt-prepare)")
    tags = [tokenizer.tag_id(corpus.tag) if corpus.tag else None for corpus in corpora]
    return Mixture.load(data_dir, [corpus.weight for corpus in corpora], tags)  # nmt-train prepared it for this config


def _markdown_table(rows: list[tuple[str, str, str]]) -> str:
    """(source, reference, hypothesis) rows as a markdown table."""
    def clean(text: str) -> str:
        return text.replace("|", "\\|")

    table = ["| source | reference | hypothesis |", "| --- | --- | --- |"]
    return "\n".join(table + [f"| {clean(s)} | {clean(r)} | {clean(h)} |" for s, r, h in rows])


def _heatmap(source: list[str], output: list[str], weights: torch.Tensor):
    """Attention weights (T, S) as a grey heatmap, output pieces down, source pieces across."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(3, 0.35 * len(source) + 1.5), max(3, 0.35 * len(output) + 1.5)))
    ax.imshow(weights.numpy(), cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(source)), source, rotation=90, fontsize=8)
    ax.set_yticks(range(len(output)), output, fontsize=8)
    fig.tight_layout()
    return fig
