"""Experiment configuration: YAML in, typed and validated dataclasses out.

A config file may name a `base:` file (relative to itself) whose values it overrides, or a
list of them (later ones override earlier ones), and every CLI takes `--set section.key=value`
on top. Validation happens once, here: unknown keys, wrong types and out-of-range values
each raise a one-line ConfigError that names the key.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

import yaml

from nmt.errors import ConfigError
from nmt.variants import VARIANTS, Cell, VariantName, is_bidirectional

TAG = re.compile(r"<[^<>\s]+>")  # data.train's tags


def _range(low: float | None = None, high: float | None = None, *, below: bool = False) -> dict:
    """Field metadata for a numeric range: low <= x <= high (x < high when `below`)."""
    return {"low": low, "high": high, "below": below}


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
    weight: float = field(default=1.0, metadata=_range(0.0))  # times each pair is seen per epoch, in expectation
    tag: Optional[str] = None  # a reserved symbol before each source sentence, e.g. '<bt>' for back-translations


@dataclass
class DataConfig:
    src_lang: str = "de"
    tgt_lang: str = "en"
    train: list[CorpusConfig] = field(default_factory=lambda: [CorpusConfig()])  # one corpus (a mapping) or a list
    dev: CorpusConfig = field(default_factory=CorpusConfig)
    test: Optional[CorpusConfig] = None
    # Cleaning applies to the training split only: dev and test stay comparable.
    max_words: int = field(default=100, metadata=_range(1))
    max_ratio: Optional[float] = field(default=9.0, metadata=_range(1.0))
    dedup: bool = False


@dataclass
class TokenizerConfig:
    model_type: Literal["unigram", "bpe"] = "unigram"
    vocab_size: int = field(default=8000, metadata=_range(8))
    joint: bool = True  # one model for both languages (needed to share embeddings)
    character_coverage: float = field(default=1.0, metadata=_range(0.5, 1.0))
    input_sentence_size: int = field(default=2_000_000, metadata=_range(1))


@dataclass
class ModelConfig:
    variant: VariantName = "rnnsearch"  # see nmt/variants.py
    cell: Cell = "lstm"
    embed_size: int = field(default=256, metadata=_range(1))
    encoder_hidden: int = field(default=256, metadata=_range(1))  # per direction
    encoder_layers: int = field(default=1, metadata=_range(1))
    bidirectional: Optional[bool] = None  # unset: the variant's own choice
    decoder_hidden: int = field(default=512, metadata=_range(2))  # maxout halves it
    decoder_layers: int = field(default=1, metadata=_range(1))
    attention_size: int = field(default=512, metadata=_range(1))  # rnnsearch
    score: Literal["dot", "general"] = "general"  # luong
    input_feeding: bool = True  # luong
    reverse_source: bool = False  # the encoder reads each source sentence backwards (EOS stays last)
    dropout: float = field(default=0.3, metadata=_range(0.0, 1.0, below=True))  # on hidden states
    embed_dropout: Optional[float] = field(default=None, metadata=_range(0.0, 1.0, below=True))  # unset: dropout
    word_dropout_src: float = field(default=0.0, metadata=_range(0.0, 1.0, below=True))  # whole source tokens
    word_dropout_tgt: float = field(default=0.0, metadata=_range(0.0, 1.0, below=True))  # whole target tokens
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
    accumulate: int = field(default=1, metadata=_range(1))  # batches per update
    # Optimisation
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = field(default=1e-3, metadata=_range(0.0))
    weight_decay: float = field(default=0.0, metadata=_range(0.0))
    # cosine: from lr down to 0 at max_steps along half a cosine, a fixed budget's usual schedule
    schedule: Literal["constant", "plateau", "inverse_sqrt", "cosine"] = "constant"
    warmup_steps: int = field(default=0, metadata=_range(0))  # inverse_sqrt, cosine: linear warm-up
    plateau_factor: float = field(default=0.5, metadata=_range(0.0, 1.0, below=True))
    plateau_patience: int = field(default=2, metadata=_range(0))  # validations without improvement
    label_smoothing: float = field(default=0.0, metadata=_range(0.0, 1.0, below=True))
    clip_norm: Optional[float] = field(default=1.0, metadata=_range(0.0))  # gradient-norm clipping
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"  # bf16: autocast (CPU or GPU); fp16: GPU only
    # When to stop: whichever comes first
    max_steps: Optional[int] = field(default=None, metadata=_range(1))
    max_epochs: Optional[int] = field(default=10, metadata=_range(1))
    max_minutes: Optional[float] = field(default=None, metadata=_range(0.0))
    patience: Optional[int] = field(default=10, metadata=_range(1))  # validations without improvement
    # Validation and checkpoints
    validate_every: int = field(default=500, metadata=_range(1))  # updates
    stop_metric: str = "loss"  # a metric of the task's validation; picks the best checkpoint too
    keep_best: int = field(default=1, metadata=_range(1))
    keep_last: int = field(default=5, metadata=_range(1))  # recent checkpoints, for averaging
    log_every: int = field(default=50, metadata=_range(1))
    # Under torchrun: how long a process waits for the others in a collective before it stops,
    # naming the lost process (a rank that died or stalls). Longer than the slowest checkpoint write.
    rank_timeout: float = field(default=60.0, metadata=_range(1.0))  # seconds

    def check(self) -> None:
        """Rules between the loop's own keys; every task's config check calls this."""
        if self.schedule == "cosine" and (self.max_steps is None or self.max_steps <= self.warmup_steps):
            raise ConfigError(f"config: train.schedule = 'cosine' needs train.max_steps (the update its rate reaches 0 "
                              f"at) above train.warmup_steps ({self.warmup_steps}); train.max_steps = {self.max_steps}")


@dataclass
class TrainConfig(LoopConfig):
    """Training a translation model: the loop's settings and its batches of sentence pairs."""

    batch_tokens: int = field(default=4000, metadata=_range(1))  # padded tokens of the longer side
    batch_size: Optional[int] = field(default=None, metadata=_range(1))  # sentences per batch, at most
    max_src_tokens: int = field(default=100, metadata=_range(1))  # longer training pairs are left out
    max_tgt_tokens: int = field(default=100, metadata=_range(1))
    validation_beam: int = field(default=1, metadata=_range(1))  # 1: greedy
    stop_metric: Literal["bleu", "chrf", "loss", "ppl"] = "bleu"
    # Subword regularisation (nmt/sampling.py): each epoch segments the training text anew. Unigram:
    # among each sentence's sampling_nbest best, with probability P^alpha; bpe: merges dropped with
    # probability alpha (BPE-dropout). 0: off.
    sampling_alpha: float = field(default=0.0, metadata=_range(0.0, 1.0))  # Kudo 0.1-0.5; BPE-dropout 0.1
    sampling_nbest: int = field(default=16, metadata=_range(2))


@dataclass
class DecodeConfig:
    """How a model translates; nmt-translate's options set these same keys."""

    method: Literal["beam", "greedy", "sample"] = "beam"  # beam with beam_size 1 is greedy
    beam_size: int = field(default=5, metadata=_range(1))
    nbest: int = field(default=1, metadata=_range(1))  # hypotheses kept per sentence (beam only)
    length_penalty: float = field(default=1.0, metadata=_range(0.0))  # GNMT alpha; 0: none
    max_length_a: float = field(default=1.5, metadata=_range(0.0))  # output limit a * |src| + b
    max_length_b: int = field(default=10, metadata=_range(1))
    min_length: int = field(default=0, metadata=_range(0))
    temperature: float = field(default=1.0, metadata=_range(0.0))  # sample: softmax(logits / temperature)
    top_k: int = field(default=0, metadata=_range(0))  # sample from the k most probable tokens; 0: all
    batch_tokens: int = field(default=4000, metadata=_range(1))
    max_src_tokens: int = field(default=250, metadata=_range(1))  # longer inputs are truncated


@dataclass
class Config:
    task: Literal["translation"] = "translation"  # other tasks have configs of their own (nmt/tasks.py)
    exp_dir: str = ""  # unset: exp/<config file name without .yaml>
    data: DataConfig = field(default_factory=DataConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)


# ---------------------------------------------------------------- building from dicts

def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(_describe(a) for a in inner) + " or null"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check `value` against the annotation `tp`; return it converted (int -> float, ...)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        (inner,) = [a for a in typing.get_args(tp) if a is not type(None)]
        return _coerce(value, inner, key)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key)
    if origin is list:  # a list of sections; a single mapping is a list of one
        (item,) = typing.get_args(tp)
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list) or not value:
            raise ConfigError(f"config: {key} = {value!r} is not valid: expected a mapping or a non-empty list of them")
        return [_coerce(element, item, f"{key}[{index}]") for index, element in enumerate(value)]
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
    }.get(tp)
    if origin is Literal:
        ok = value in typing.get_args(tp)
    if not ok:
        raise ConfigError(f"config: {key} = {value!r} is not valid: expected {_describe(tp)}")
    return float(value) if tp is float else value


def _check_range(value: Any, meta: typing.Mapping, key: str) -> None:
    low, high, below = meta.get("low"), meta.get("high"), meta.get("below", False)
    if value is None or low is None and high is None:
        return
    too_high = high is not None and (value >= high if below else value > high)
    if (low is not None and value < low) or too_high:
        bounds = f"at least {low}" if high is None else f"in [{low}, {high}{')' if below else ']'}"
        raise ConfigError(f"config: {key} = {value!r} is out of range: expected {bounds}")


def _build(cls: Any, raw: Any, prefix: str) -> Any:
    """Build dataclass `cls` from the mapping `raw`; `prefix` is its dotted path for messages."""
    where = prefix or "the top level"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config: {where} must be a mapping of keys to values, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in raw.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (valid keys: {', '.join(fields)})"
            raise ConfigError(f"config: unknown key '{dotted}'{hint}")
        values[key] = _coerce(value, hints[key], dotted)
        _check_range(values[key], fields[key].metadata, dotted)
    return cls(**values)


def _check_consistency(cfg: Config) -> None:
    """Rules that involve more than one key."""
    corpora: list[tuple[str, CorpusConfig | None]] = [
        (f"data.train[{i}]" if len(cfg.data.train) > 1 else "data.train", corpus)
        for i, corpus in enumerate(cfg.data.train)]
    corpora += [(f"data.{split}", getattr(cfg.data, split)) for split in ("dev", "test")]
    for key, corpus in corpora:
        if corpus is None:
            continue
        if not key.startswith("data.train") and (corpus.weight != 1.0 or corpus.tag is not None):
            raise ConfigError(f"config: {key} sets a weight or a tag: only training corpora take them")
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
    if cfg.model.share_embeddings and not cfg.tokenizer.joint:
        raise ConfigError("config: model.share_embeddings needs tokenizer.joint: true (one vocabulary)")
    _check_model(cfg.model)
    _check_decode(cfg.decode)
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


def _check_decode(decode: DecodeConfig) -> None:
    if decode.method == "beam" and decode.nbest > decode.beam_size:
        raise ConfigError(f"config: decode.nbest = {decode.nbest} must be at most decode.beam_size ({decode.beam_size})")
    if decode.method != "beam" and decode.nbest != 1:
        raise ConfigError(f"config: decode.nbest = {decode.nbest} needs decode.method 'beam' ({decode.method!r} "
                          "gives one hypothesis)")
    if decode.method == "sample" and decode.temperature <= 0:
        raise ConfigError(f"config: decode.temperature = {decode.temperature} must be above 0 for sampling")


# ---------------------------------------------------------------- files and overrides

def _read_yaml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config: file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"config: cannot read {path}: {err}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "invalid YAML"
        raise ConfigError(f"config: {path}{where}: {problem}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config: {path} must hold a mapping of keys to values")
    return raw


def _merge(base: dict, over: dict) -> dict:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_config_file(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    """A config file as a mapping, its `base:` files merged under it (not yet validated)."""
    resolved = path.resolve()
    if resolved in seen:
        raise ConfigError(f"config: {path} includes itself through 'base'")
    raw = _read_yaml(path)
    base = raw.pop("base", None)
    if base is None:
        return raw
    bases = base if isinstance(base, list) else [base]
    if not bases or not all(isinstance(item, str) for item in bases):
        raise ConfigError(f"config: base = {base!r} in {path} is not valid: expected a file path or a list of them")
    merged: dict = {}
    for item in bases:
        merged = _merge(merged, read_config_file(path.parent / item, seen + (resolved,)))
    return _merge(merged, raw)


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Apply `section.key=value` strings; each value is parsed as YAML ('3' -> 3, 'true' -> True)."""
    raw = _merge({}, raw)
    for item in overrides:
        dotted, sep, text = item.partition("=")
        if not sep or not dotted.strip():
            raise ConfigError(f"config: --set {item!r} is not valid: expected section.key=value")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            value = text
        parts = dotted.strip().split(".")
        node: Any = raw
        for depth, part in enumerate(parts):
            key: str | int = part
            if isinstance(node, list):  # data.train listing corpora: data.train.1.weight
                if not part.isdigit() or int(part) >= len(node):
                    where, rest = ".".join(parts[:depth]), ".".join(parts[depth + part.isdigit():])
                    raise ConfigError(f"config: --set {item!r}: {where} is a list of {len(node)}; name one by its "
                                      f"number, from 0: {where}.0.{rest}")
                key = int(part)
            if depth == len(parts) - 1:
                node[key] = value
            else:
                if isinstance(node, dict) and not isinstance(node.get(part), (dict, list)):
                    node[part] = {}
                node = node[key]
    return raw


def config_from_dict(raw: dict, schema: type = Config) -> Any:
    """A validated `schema` (Config, or another task's config class with a `check()`) from a mapping."""
    cfg = _build(schema, raw, "")
    if schema is Config:
        _check_consistency(cfg)
    elif hasattr(cfg, "check"):
        cfg.check()
    return cfg


def load_config(path: str | Path, overrides: list[str] | None = None, *, schema: type = Config) -> Any:
    """Read, merge, override and validate a config file; fill in exp_dir when unset."""
    path = Path(path)
    cfg = config_from_dict(apply_overrides(read_config_file(path), overrides or []), schema)
    if not cfg.exp_dir:
        cfg.exp_dir = str(Path("exp") / path.stem)
    return cfg


def config_to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)


def save_config(cfg: Any, path: str | Path) -> None:
    """Write the resolved config (every key, defaults included) so a run can be rebuilt from it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False, allow_unicode=True), encoding="utf-8")
    tmp.replace(path)
