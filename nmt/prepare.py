"""Corpus -> cleaned splits -> SentencePiece -> token arrays, in the experiment directory.

Each stage records a fingerprint of its inputs in `data/prepare.json`; a re-run whose
fingerprint matches reuses the stage's output instead of redoing it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import shutil
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from nmt.batching import TokenArray, write_token_array
from nmt.config import Config, CorpusConfig
from nmt.config_files import save_config
from nmt.data import CleanStats, Pair, clean_pairs, read_corpus, read_lines, write_pairs
from nmt.errors import DataError
from nmt.mixture import CORPUS_FILE
from nmt.tokenizer import Tokenizer, train_sentencepiece

ENCODE_CHUNK = 10_000  # lines encoded per SentencePiece call


def fingerprint(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _corpus_identity(corpus: CorpusConfig) -> list:
    """Config plus size and mtime of local inputs, so edited files are noticed. The weight, tag and
    vocabulary flag change no text: a new weight reuses everything, the others retrain SentencePiece."""
    config = {key: value for key, value in dataclasses.asdict(corpus).items()
              if key not in ("weight", "tag", "vocabulary")}
    identity: list = [config]
    for name in (corpus.src, corpus.tgt, corpus.path):
        path = Path(name) if name else None
        if path is not None and path.is_file():
            stat = path.stat()
            identity.append([str(path.resolve()), stat.st_size, stat.st_mtime_ns])
    return identity


def _splits(cfg: Config) -> dict[str, list[CorpusConfig]]:
    """The corpora of each split: training may list several (nmt/mixture.py), dev and test are one."""
    splits = {"train": cfg.data.train, "dev": [cfg.data.dev]}
    if cfg.data.test is not None:
        splits["test"] = [cfg.data.test]
    return splits


def tags(cfg: Config) -> list[str]:
    """The training corpora's tags, each once, in order."""
    return list(dict.fromkeys(corpus.tag for corpus in cfg.data.train if corpus.tag is not None))


class Preparer:
    """Runs the three stages for one config; `log` receives progress lines.

    `tokenizer_from` (an experiment directory) reuses its SentencePiece model(s) instead of
    training new ones: a fine-tuned model must read and write the pieces it was trained on.
    """

    def __init__(self, cfg: Config, log: Callable[[str], None] = print, *, tokenizer_from: Path | None = None):
        self.cfg, self.log, self.tokenizer_from = cfg, log, tokenizer_from
        self.exp_dir = Path(cfg.exp_dir)
        self.data_dir = self.exp_dir / "data"
        self.record_path = self.data_dir / "prepare.json"
        self.record = json.loads(self.record_path.read_text()) if self.record_path.exists() else {}

    def _save_record(self) -> None:
        tmp = self.record_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.record, indent=2))
        tmp.replace(self.record_path)

    def _fresh(self, stage: str, key: str, outputs: list[Path]) -> bool:
        return self.record.get(stage, {}).get("key") == key and all(p.exists() for p in outputs)

    def run(self) -> dict:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        save_config(self.cfg, self.exp_dir / "config.yaml")
        text_key = self.clean_corpora()
        spm_key = self.train_tokenizer(text_key)
        self.encode_arrays(spm_key)
        return self.summary()

    def clean_corpora(self) -> str:
        data = self.cfg.data
        key = fingerprint(
            [[_corpus_identity(c) for c in corpora] for corpora in _splits(self.cfg).values()],
            data.src_lang, data.tgt_lang, data.max_words, data.max_ratio, data.dedup,
        )
        outputs = [self.data_dir / f"{s}.{side}" for s in _splits(self.cfg) for side in ("src", "tgt")]
        if self._fresh("text", key, outputs + [self.data_dir / CORPUS_FILE]):
            self.log(f"reusing cleaned text in {self.data_dir}")
            return key
        stats: dict = {}
        for split, corpora in _splits(self.cfg).items():
            each = [CleanStats() for _ in corpora]
            write_pairs(itertools.chain.from_iterable(self._cleaned(split, c, st) for c, st in zip(corpora, each)),
                        self.data_dir / f"{split}.src", self.data_dir / f"{split}.tgt")
            split_stats = CleanStats.total(each)
            if split_stats.kept == 0:
                raise DataError(f"data: the {split} split is empty after cleaning: {split_stats.describe()}")
            stats[split] = split_stats.to_dict()
            self.log(f"{split}: {split_stats.describe()}")
            if split == "train":  # which corpus each pair came from
                np.save(self.data_dir / CORPUS_FILE, np.repeat(np.arange(len(each), dtype=np.uint16),
                                                               [st.kept for st in each]))
                if len(each) > 1:
                    stats[split]["corpora"] = [st.to_dict() for st in each]
                for number, corpus_stats in enumerate(each):
                    if corpus_stats.kept == 0:
                        raise DataError(f"data: data.train[{number}] is empty after cleaning: {corpus_stats.describe()}")
        self.record = {"text": {"key": key, "stats": stats}}
        self._save_record()
        return key

    def _cleaned(self, split: str, corpus: CorpusConfig, stats: CleanStats) -> Iterator[Pair]:
        data = self.cfg.data
        pairs = read_corpus(corpus, src_lang=data.src_lang, tgt_lang=data.tgt_lang)
        if split != "train":  # only training data is filtered by length and ratio: dev and test stay whole
            return clean_pairs(pairs, stats)
        return clean_pairs(pairs, stats, max_words=data.max_words, max_ratio=data.max_ratio, dedup=data.dedup)

    def train_tokenizer(self, text_key: str) -> str:
        tok = self.cfg.tokenizer
        learned_from = [corpus.vocabulary for corpus in self.cfg.data.train]
        key = fingerprint(text_key, dataclasses.asdict(tok), tags(self.cfg),
                           *([learned_from] if not all(learned_from) else []))  # old records stay valid
        src_model, tgt_model = Tokenizer.model_paths(self.exp_dir, joint=tok.joint)
        if self.tokenizer_from is not None:
            return self.copy_tokenizer(src_model, tgt_model)
        if self._fresh("spm", key, [src_model, tgt_model]):
            self.log(f"reusing SentencePiece model(s) in {self.exp_dir}")
            return key
        train_src, train_tgt = self.vocabulary_text(learned_from)
        symbols = tags(self.cfg)  # source-side symbols: the target model has them only when joint
        runs = ([([train_src, train_tgt], "spm", symbols)] if tok.joint
                else [([train_src], "spm.src", symbols), ([train_tgt], "spm.tgt", [])])
        for inputs, prefix, control in runs:
            train_sentencepiece(inputs, self.exp_dir / prefix, model_type=tok.model_type, vocab_size=tok.vocab_size,
                                character_coverage=tok.character_coverage, input_sentence_size=tok.input_sentence_size,
                                control_symbols=control)
        if not all(learned_from):  # the subset was written for SentencePiece alone
            train_src.unlink()
            train_tgt.unlink()
        self.log(f"trained {'joint' if tok.joint else 'separate'} SentencePiece {tok.model_type} model(s), vocabulary {tok.vocab_size}")
        self.record["spm"] = {"key": key}
        self.record.pop("arrays", None)
        self._save_record()
        return key

    def vocabulary_text(self, learned_from: list[bool]) -> tuple[Path, Path]:
        """The training text SentencePiece learns from: all of it, or the pairs of the corpora whose
        `vocabulary` is true (synthetic text should not decide how real text is split)."""
        train_src, train_tgt = self.data_dir / "train.src", self.data_dir / "train.tgt"
        if all(learned_from):
            return train_src, train_tgt
        keep = np.asarray(learned_from)[np.load(self.data_dir / CORPUS_FILE)]
        outputs = self.data_dir / "vocabulary.src", self.data_dir / "vocabulary.tgt"
        for source, output in zip((train_src, train_tgt), outputs):
            with open(output, "w", encoding="utf-8") as out:
                out.writelines(line + "\n" for line, kept in zip(read_lines(source), keep) if kept)
        self.log(f"SentencePiece learns from {int(keep.sum()):,} of {len(keep):,} training pairs "
                 f"(the corpora with vocabulary: true)")
        return outputs

    def copy_tokenizer(self, src_model: Path, tgt_model: Path) -> str:
        assert self.tokenizer_from is not None
        sources = Tokenizer.model_paths(self.tokenizer_from, joint=self.cfg.tokenizer.joint)
        for source, target in {sources[0]: src_model, sources[1]: tgt_model}.items():
            if not source.is_file():
                raise DataError(f"tokenizer: {source} is missing: the SentencePiece model to reuse")
            if not target.exists() or target.read_bytes() != source.read_bytes():
                shutil.copyfile(source, target)
        key = fingerprint(*(hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted({src_model, tgt_model})))
        if self.record.get("spm", {}).get("key") != key:
            self.record["spm"] = {"key": key, "copied_from": str(self.tokenizer_from)}
            self.record.pop("arrays", None)
            self._save_record()
        self.log(f"using the SentencePiece model(s) of {self.tokenizer_from}")
        return key

    def encode_arrays(self, spm_key: str) -> None:
        key = fingerprint(spm_key)
        names = [f"{s}.{side}" for s in _splits(self.cfg) for side in ("src", "tgt")]
        if self._fresh("arrays", key, [self.data_dir / f"{n}.bin" for n in names]):
            self.log(f"reusing token arrays in {self.data_dir}")
            return
        tokenizer = Tokenizer.load(self.exp_dir)
        tokens = {}
        for name in names:
            split, side = name.split(".")
            encode = tokenizer.encode_src if side == "src" else tokenizer.encode_tgt
            vocab = tokenizer.src_vocab_size if side == "src" else tokenizer.tgt_vocab_size
            tokens[name] = write_token_array(
                _encoded(read_lines(self.data_dir / name), encode), self.data_dir / name, vocab_size=vocab
            )
        self.record["arrays"] = {"key": key, "tokens": tokens}
        self._save_record()
        self.log(f"encoded token arrays in {self.data_dir}")

    def summary(self) -> dict:
        """Pairs kept and dropped, tokens per side, vocabulary, and pairs over the training length limit."""
        train = self.cfg.train
        src_lengths = TokenArray(self.data_dir / "train.src").lengths
        tgt_lengths = TokenArray(self.data_dir / "train.tgt").lengths
        over = int(((src_lengths > train.max_src_tokens) | (tgt_lengths > train.max_tgt_tokens)).sum())
        tokenizer = Tokenizer.load(self.exp_dir)
        return {
            "exp_dir": str(self.exp_dir),
            "pairs": self.record["text"]["stats"],
            "tokens": self.record["arrays"]["tokens"],
            "vocabulary": {"joint": tokenizer.joint, "src": tokenizer.src_vocab_size, "tgt": tokenizer.tgt_vocab_size},
            "train_over_max_tokens": over,
            "train_mean_tokens": {"src": float(np.mean(src_lengths)), "tgt": float(np.mean(tgt_lengths))},
        }


def _encoded(lines, encode):
    """Encode a stream of lines in chunks (SentencePiece is much faster on lists)."""
    chunk = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == ENCODE_CHUNK:
            yield from encode(chunk)
            chunk = []
    if chunk:
        yield from encode(chunk)


def format_summary(summary: dict, cfg: Config) -> str:
    lines = [f"prepared {summary['exp_dir']}"]
    def kept(stats: dict) -> str:
        dropped = ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in stats["dropped"].items())
        return f"{stats['kept']:>9,} pairs kept of {stats['read']:,} (dropped: {dropped})"

    for split, stats in summary["pairs"].items():
        src_tokens, tgt_tokens = summary["tokens"][f"{split}.src"], summary["tokens"][f"{split}.tgt"]
        lines.append(f"  {split:5s} {kept(stats)}; tokens {cfg.data.src_lang} {src_tokens:,}, "
                     f"{cfg.data.tgt_lang} {tgt_tokens:,}")
        for number, (corpus, corpus_stats) in enumerate(zip(cfg.data.train, stats.get("corpora", []))):
            mixing = f"weight {corpus.weight:g}" + (f", tag {corpus.tag}" if corpus.tag else "")
            lines.append(f"    [{number}] {corpus.src or corpus.path} ({mixing}): {kept(corpus_stats).strip()}")
    vocab = summary["vocabulary"]
    kind = f"joint {vocab['src']:,}" if vocab["joint"] else f"{cfg.data.src_lang} {vocab['src']:,}, {cfg.data.tgt_lang} {vocab['tgt']:,}"
    lines.append(f"  vocabulary: {kind} ({cfg.tokenizer.model_type})")
    lines.append(
        f"  training pairs over max_src_tokens={cfg.train.max_src_tokens} / max_tgt_tokens={cfg.train.max_tgt_tokens}: "
        f"{summary['train_over_max_tokens']:,} (left out of training)"
    )
    return "\n".join(lines)


def prepare(cfg: Config, *, log: Callable[[str], None] = print, tokenizer_from: Path | None = None) -> dict:
    """The translation task's data in its experiment directory (nmt/tasks.py); returns the summary."""
    return Preparer(cfg, log, tokenizer_from=tokenizer_from).run()
