"""Translation as the training loop sees it (nmt/tasks.py): a Seq2Seq model, token-budget batches
of parallel text, cross-entropy, and a validation that translates the dev set and scores it."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from nmt.batching import Batch, BatchIterator, ParallelArrays
from nmt.config import Config
from nmt.distributed import Cluster
from nmt.errors import DataError, NmtError
from nmt.mixture import CORPUS_FILE, Mixture
from nmt.models import build_model
from nmt.sampling import SampledEpochs
from nmt.tasks import ExtrasSink, Metric, Validation
from nmt.tokenizer import Tokenizer
from nmt.validate import Validator, token_loss

N_EXAMPLES = 5  # dev translations shown in TensorBoard at each validation


class TranslationTask:
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
        return {"variant": self.cfg.model.variant, "cell": self.cfg.model.cell}

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

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


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
