"""The translation experiment's configuration: its sections as typed dataclasses, and the rules
between keys. Reading files (`base:`, `--set`, types and ranges) is nmt/config_files.py's;
validation happens once, before torch loads, and every mistake is a one-line ConfigError that
names the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, Optional

from nmt.config_files import value_range
from nmt.errors import ConfigError
from nmt.variants import VARIANTS, Cell, VariantName, is_bidirectional

TAG = re.compile(r"<[^<>\s]+>")  # data.train's tags


@dataclass
class CorpusConfig:
    """Where one split of a parallel corpus comes from."""

    format: Literal["plain", "tsv", "hf"] = "plain"
    src: str = ""  # plain: source-side file, one sentence a line
    tgt: str = ""  # plain: target-side file, aligned by line
    path: str = ""  # tsv: the file (source TAB target); hf: hub name or local json/jsonl/csv/parquet
    name: Optional[str] = None  # hf: the dataset's configuration on the hub, e.g. 'de-en'
    split: str = "train"  # hf: which split to read
    src_column: Optional[str] = None  # hf: source column; unset: the 'translation' dict column
    tgt_column: Optional[str] = None  # hf: target column
    # Training corpora only (data.train may list several: nmt/mixture.py)
    weight: float = field(default=1.0, metadata=value_range(0.0))  # times each pair is seen per epoch, in expectation
    tag: Optional[str] = None  # a reserved symbol before each source sentence, e.g. '<bt>' for back-translations
    vocabulary: bool = True  # false: SentencePiece learns its pieces without this corpus (synthetic text)


@dataclass
class DataConfig:
    src_lang: str = "de"
    tgt_lang: str = "en"
    train: list[CorpusConfig] = field(default_factory=lambda: [CorpusConfig()])  # one corpus (a mapping) or a list
    dev: CorpusConfig = field(default_factory=CorpusConfig)
    test: Optional[CorpusConfig] = None
    # Cleaning applies to the training split only: dev and test stay comparable.
    max_words: int = field(default=100, metadata=value_range(1))
    max_ratio: Optional[float] = field(default=9.0, metadata=value_range(1.0))
    dedup: bool = False


@dataclass
class TokenizerConfig:
    model_type: Literal["unigram", "bpe"] = "unigram"
    vocab_size: int = field(default=8000, metadata=value_range(8))
    joint: bool = True  # one model for both languages (needed to share embeddings)
    character_coverage: float = field(default=1.0, metadata=value_range(0.5, 1.0))
    input_sentence_size: int = field(default=2_000_000, metadata=value_range(1))


@dataclass
class ModelConfig:
    variant: VariantName = "rnnsearch"  # see nmt/variants.py
    cell: Cell = "lstm"
    embed_size: int = field(default=256, metadata=value_range(1))
    encoder_hidden: int = field(default=256, metadata=value_range(1))  # per direction
    encoder_layers: int = field(default=1, metadata=value_range(1))
    bidirectional: Optional[bool] = None  # unset: the variant's own choice
    decoder_hidden: int = field(default=512, metadata=value_range(2))  # maxout halves it
    decoder_layers: int = field(default=1, metadata=value_range(1))
    attention_size: int = field(default=512, metadata=value_range(1))  # rnnsearch
    # rnnsearch: Xu et al. 2015's gating scalar, c_i scaled by sigmoid(w . s_{i-1} + b) before it is
    # used, so a step can lean on the language model instead of the source (an image, mostly)
    attention_gate: bool = False
    score: Literal["dot", "general"] = "general"  # luong
    input_feeding: bool = True  # luong
    reverse_source: bool = False  # the encoder reads each source sentence backwards (EOS stays last)
    dropout: float = field(default=0.3, metadata=value_range(0.0, 1.0, below=True))  # on hidden states
    embed_dropout: Optional[float] = field(default=None, metadata=value_range(0.0, 1.0, below=True))  # unset: dropout
    word_dropout_src: float = field(default=0.0, metadata=value_range(0.0, 1.0, below=True))  # whole source tokens
    word_dropout_tgt: float = field(default=0.0, metadata=value_range(0.0, 1.0, below=True))  # whole target tokens
    # Layer normalisation in the decoder's stepped cell (rnnsearch; luong with input feeding). The
    # encoder stays a fused torch RNN, which has none.
    decoder_layer_norm: bool = False
    tie_embeddings: bool = False  # output projection shares the target embedding
    share_embeddings: bool = False  # source and target share one embedding (joint vocabulary)


@dataclass
class LoopConfig:
    """The training loop's settings, whatever it trains (translation, the character model)."""

    seed: int = 1234
    device: Optional[str] = None  # unset: cuda when available, else cpu
    accumulate: int = field(default=1, metadata=value_range(1))  # batches per update
    # Optimisation
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = field(default=1e-3, metadata=value_range(0.0))
    weight_decay: float = field(default=0.0, metadata=value_range(0.0))
    # cosine: from lr down to 0 at max_steps along half a cosine, a fixed budget's usual schedule
    schedule: Literal["constant", "plateau", "inverse_sqrt", "cosine"] = "constant"
    warmup_steps: int = field(default=0, metadata=value_range(0))  # inverse_sqrt, cosine: linear warm-up
    plateau_factor: float = field(default=0.5, metadata=value_range(0.0, 1.0, below=True))
    plateau_patience: int = field(default=2, metadata=value_range(0))  # validations without improvement
    label_smoothing: float = field(default=0.0, metadata=value_range(0.0, 1.0, below=True))
    clip_norm: Optional[float] = field(default=1.0, metadata=value_range(0.0))  # gradient-norm clipping
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"  # bf16: autocast (CPU or GPU); fp16: GPU only
    # When to stop: whichever comes first
    max_steps: Optional[int] = field(default=None, metadata=value_range(1))
    max_epochs: Optional[int] = field(default=10, metadata=value_range(1))
    max_minutes: Optional[float] = field(default=None, metadata=value_range(0.0))
    patience: Optional[int] = field(default=10, metadata=value_range(1))  # validations without improvement
    # Validation and checkpoints
    validate_every: int = field(default=500, metadata=value_range(1))  # updates
    stop_metric: str = "loss"  # a metric of the task's validation; picks the best checkpoint too
    keep_best: int = field(default=1, metadata=value_range(1))
    keep_last: int = field(default=5, metadata=value_range(1))  # recent checkpoints, for averaging
    log_every: int = field(default=50, metadata=value_range(1))
    # Under torchrun: how long a process waits for the others in a collective before it stops,
    # naming the lost process (a rank that died or stalls). Longer than the slowest checkpoint write.
    rank_timeout: float = field(default=60.0, metadata=value_range(1.0))  # seconds

    def check(self) -> None:
        """Rules between the loop's own keys; every task's config check calls this."""
        if self.schedule == "cosine" and (self.max_steps is None or self.max_steps <= self.warmup_steps):
            raise ConfigError(f"config: train.schedule = 'cosine' needs train.max_steps (the update its rate reaches 0 "
                              f"at) above train.warmup_steps ({self.warmup_steps}); train.max_steps = {self.max_steps}")


@dataclass
class TrainConfig(LoopConfig):
    """Training a translation model: the loop's settings and its batches of sentence pairs."""

    batch_tokens: int = field(default=4000, metadata=value_range(1))  # padded tokens of the longer side
    batch_size: Optional[int] = field(default=None, metadata=value_range(1))  # sentences per batch, at most
    max_src_tokens: int = field(default=100, metadata=value_range(1))  # longer training pairs are left out
    max_tgt_tokens: int = field(default=100, metadata=value_range(1))
    validation_beam: int = field(default=1, metadata=value_range(1))  # 1: greedy
    stop_metric: Literal["bleu", "chrf", "loss", "ppl"] = "bleu"
    # Subword regularisation (nmt/sampling.py): each epoch segments the training text anew. Unigram:
    # among each sentence's sampling_nbest best, with probability P^alpha; bpe: merges dropped with
    # probability alpha (BPE-dropout). 0: off.
    sampling_alpha: float = field(default=0.0, metadata=value_range(0.0, 1.0))  # Kudo 0.1-0.5; BPE-dropout 0.1
    sampling_nbest: int = field(default=16, metadata=value_range(2))


@dataclass
class DecodeConfig:
    """How a model translates; nmt-translate's options set these same keys."""

    method: Literal["beam", "greedy", "sample"] = "beam"  # beam with beam_size 1 is greedy
    beam_size: int = field(default=5, metadata=value_range(1))
    nbest: int = field(default=1, metadata=value_range(1))  # hypotheses kept per sentence (beam only)
    length_penalty: float = field(default=1.0, metadata=value_range(0.0))  # GNMT alpha; 0: none
    max_length_a: float = field(default=1.5, metadata=value_range(0.0))  # output limit a * |src| + b
    max_length_b: int = field(default=10, metadata=value_range(1))
    min_length: int = field(default=0, metadata=value_range(0))
    temperature: float = field(default=1.0, metadata=value_range(0.0))  # sample: softmax(logits / temperature)
    top_k: int = field(default=0, metadata=value_range(0))  # sample from the k most probable tokens; 0: all
    # Source tokens a batch, counted once for each row the search decodes: a beam batch holds
    # batch_tokens / beam_size (on 2 cores a 4,000-token batch of K=5 beams was slower than a 1,000-token
    # one and took 1.7x the memory: its (rows x vocabulary) tensors outgrow the caches)
    batch_tokens: int = field(default=4000, metadata=value_range(1))
    max_src_tokens: int = field(default=250, metadata=value_range(1))  # longer inputs are truncated
    # The output layer over the pieces a batch's source words translate to (nmt/shortlist.py; needs
    # EXP/shortlist.npz from nmt-shortlist): faster; check its BLEU on your dev set
    shortlist: bool = False
    # bf16: search's products under bfloat16 autocast (torch; CPUs with AVX-512 BF16 or AMX): on a 2-core
    # AMD EPYC 1.5x greedy and 1.3x beam-5 sentences/s on Ding; check its BLEU on your dev set
    precision: Literal["fp32", "bf16"] = "fp32"

    def search_batch_tokens(self) -> int:
        """The source tokens of one search batch: batch_tokens shared among each sentence's beam rows."""
        rows = self.beam_size if self.method == "beam" else 1
        return max(1, self.batch_tokens // rows)

    def check(self) -> None:
        """Rules between the search keys; every task whose config has a decode section calls this."""
        if self.method == "beam" and self.nbest > self.beam_size:
            raise ConfigError(f"config: decode.nbest = {self.nbest} must be at most decode.beam_size ({self.beam_size})")
        if self.method != "beam" and self.nbest != 1:
            raise ConfigError(f"config: decode.nbest = {self.nbest} needs decode.method 'beam' ({self.method!r} "
                              "gives one hypothesis)")
        if self.method == "sample" and self.temperature <= 0:
            raise ConfigError(f"config: decode.temperature = {self.temperature} must be above 0 for sampling")


@dataclass
class Config:
    task: Literal["translation"] = "translation"  # other tasks have configs of their own (nmt/tasks.py)
    exp_dir: str = ""  # unset: exp/<config file name without .yaml>
    data: DataConfig = field(default_factory=DataConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)

    def check(self) -> None:
        _check_consistency(self)


# ---------------------------------------------------------------- rules between keys

def _check_consistency(cfg: Config) -> None:
    """Rules that involve more than one key."""
    corpora: list[tuple[str, CorpusConfig | None]] = [
        (f"data.train[{i}]" if len(cfg.data.train) > 1 else "data.train", corpus)
        for i, corpus in enumerate(cfg.data.train)]
    corpora += [(f"data.{split}", getattr(cfg.data, split)) for split in ("dev", "test")]
    for key, corpus in corpora:
        if corpus is None:
            continue
        if not key.startswith("data.train") and (corpus.weight != 1.0 or corpus.tag is not None or not corpus.vocabulary):
            raise ConfigError(f"config: {key} sets a weight, a tag or vocabulary: only training corpora take them")
        if corpus.weight == 0.0:
            raise ConfigError(f"config: {key}.weight = 0 leaves the corpus out: remove it from data.train instead")
        if corpus.tag is not None and not TAG.fullmatch(corpus.tag):
            raise ConfigError(f"config: {key}.tag = {corpus.tag!r} is not valid: expected a name in angle brackets, "
                              "e.g. '<bt>', without white space")
        if corpus.format == "plain" and not (corpus.src and corpus.tgt):
            raise ConfigError(f"config: {key} has format 'plain' and needs both {key}.src and {key}.tgt")
        if corpus.format in ("tsv", "hf") and not corpus.path:
            raise ConfigError(f"config: {key} has format '{corpus.format}' and needs {key}.path")
        if (corpus.src_column is None) != (corpus.tgt_column is None):
            raise ConfigError(f"config: {key}.src_column and {key}.tgt_column must be set together")
    if not any(corpus.vocabulary for corpus in cfg.data.train):
        raise ConfigError("config: every data.train corpus sets vocabulary: false: SentencePiece needs one to learn from")
    if cfg.model.share_embeddings and not cfg.tokenizer.joint:
        raise ConfigError("config: model.share_embeddings needs tokenizer.joint: true (one vocabulary)")
    _check_model(cfg.model)
    cfg.decode.check()
    cfg.train.check()


def _check_model(model: ModelConfig) -> None:
    variant = VARIANTS[model.variant]
    if not variant.either_direction and model.bidirectional not in (None, variant.bidirectional):
        twins = [name for name, v in VARIANTS.items()
                 if v.decoder == variant.decoder and v.bidirectional == model.bidirectional]
        hint = f" (use variant '{twins[0]}' for that encoder)" if twins else ""
        raise ConfigError(f"config: model.bidirectional = {model.bidirectional} contradicts "
                          f"model.variant = '{model.variant}'{hint}")
    directions = 2 if is_bidirectional(model.variant, model.bidirectional) else 1
    if model.attention_gate and model.variant != "rnnsearch":
        raise ConfigError(f"config: model.attention_gate scales rnnsearch's additive-attention context; "
                          f"model.variant = '{model.variant}' has no such step")
    stepped = model.variant == "rnnsearch" or (model.variant == "luong" and model.input_feeding)
    if model.decoder_layer_norm and not stepped:
        which = "luong without input feeding" if model.variant == "luong" else f"'{model.variant}'"
        raise ConfigError(f"config: model.decoder_layer_norm needs a decoder that steps its own cell (rnnsearch, or "
                          f"luong with input_feeding: true); {which} runs a fused torch RNN")
    if model.variant == "luong" and model.score == "dot" and model.decoder_hidden != model.encoder_hidden * directions:
        raise ConfigError(
            f"config: model.score = 'dot' needs model.decoder_hidden ({model.decoder_hidden}) to equal the encoder's "
            f"output size (encoder_hidden x directions = {model.encoder_hidden * directions}); use score 'general'"
        )
