"""SentencePiece subword models: train, save into the experiment directory, load, encode, decode.

Special ids are fixed across the toolkit: unk 0, pad 1, bos 2, eos 3.
A joint model (one vocabulary for both languages) is saved as `spm.model`; separate
models as `spm.src.model` and `spm.tgt.model`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Sequence

import sentencepiece as spm

from nmt.errors import DataError, NmtError, gist
from nmt.specials import BOS, EOS, PAD, SPECIAL_IDS, UNK


def train_sentencepiece(
    inputs: Sequence[Path],
    model_prefix: Path,
    *,
    model_type: Literal["unigram", "bpe"],
    vocab_size: int,
    character_coverage: float,
    input_sentence_size: int,
    control_symbols: Sequence[str] = (),
) -> Path:
    """Train one model on the given text files; returns the path of the `.model` file.

    `control_symbols` (the training corpora's tags) get ids of their own that no text is split
    into and decoding leaves out.

    SentencePiece's own log goes to `<model_prefix>.log`, not the console.
    """
    model_prefix.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{model_prefix}.log", "w", encoding="utf-8") as log:
        try:
            spm.SentencePieceTrainer.train(
                logstream=log,
                input=",".join(str(p) for p in inputs),
                model_prefix=str(model_prefix),
                model_type=model_type,
                vocab_size=vocab_size,
                character_coverage=character_coverage,
                input_sentence_size=input_sentence_size,
                shuffle_input_sentence=True,
                num_threads=os.cpu_count() or 1,
                unk_id=UNK, pad_id=PAD, bos_id=BOS, eos_id=EOS,
                control_symbols=list(control_symbols),
            )
        except RuntimeError as err:
            raise DataError(
                f"tokenizer: SentencePiece cannot train a {model_type} vocabulary of {vocab_size} "
                f"on {', '.join(str(p) for p in inputs)}: {gist(err)}"
            ) from None
    return Path(f"{model_prefix}.model")


def _load_processor(path: Path) -> spm.SentencePieceProcessor:
    try:
        processor = spm.SentencePieceProcessor(model_file=str(path))
    except (OSError, RuntimeError) as err:
        raise NmtError(f"tokenizer: cannot load SentencePiece model {path}: {err}") from None
    found = {"unk_id": processor.unk_id(), "pad_id": processor.pad_id(),
             "bos_id": processor.bos_id(), "eos_id": processor.eos_id()}
    if found != SPECIAL_IDS:
        raise NmtError(f"tokenizer: {path} has special ids {found}; nmt needs {SPECIAL_IDS}")
    return processor


def vocabulary(processor: spm.SentencePieceProcessor) -> list[tuple[str, float]]:
    """Every piece with its score, in id order: two models with the same list split text the same way.

    (The serialized models also hold their training options, input paths included, so two
    vocabularies trained on the same text in different directories differ there and nowhere else.)
    """
    return [(processor.id_to_piece(i), processor.get_score(i)) for i in range(processor.get_piece_size())]


class Tokenizer:
    """Source and target SentencePiece processors (the same object when the vocabulary is joint)."""

    def __init__(self, src_model: Path, tgt_model: Path):
        self.src = _load_processor(src_model)
        self.tgt = self.src if Path(src_model) == Path(tgt_model) else _load_processor(tgt_model)

    @staticmethod
    def model_paths(exp_dir: str | Path, *, joint: bool) -> tuple[Path, Path]:
        exp_dir = Path(exp_dir)
        if joint:
            return exp_dir / "spm.model", exp_dir / "spm.model"
        return exp_dir / "spm.src.model", exp_dir / "spm.tgt.model"

    @classmethod
    def load(cls, exp_dir: str | Path) -> Tokenizer:
        """Load whichever models the experiment directory holds (joint or separate)."""
        for joint in (True, False):
            src, tgt = cls.model_paths(exp_dir, joint=joint)
            if src.exists() and tgt.exists():
                return cls(src, tgt)
        raise NmtError(f"tokenizer: no SentencePiece model in {exp_dir} (expected spm.model or spm.src/tgt.model)")

    @property
    def joint(self) -> bool:
        return self.src is self.tgt

    @property
    def src_vocab_size(self) -> int:
        return self.src.get_piece_size()

    @property
    def tgt_vocab_size(self) -> int:
        return self.tgt.get_piece_size()

    def encode_src(self, texts: list[str]) -> list[list[int]]:
        return self.src.encode(texts, out_type=int, num_threads=os.cpu_count() or 1)

    def encode_tgt(self, texts: list[str]) -> list[list[int]]:
        return self.tgt.encode(texts, out_type=int, num_threads=os.cpu_count() or 1)

    def tag_id(self, tag: str) -> int:
        """The source id of a training corpus's tag (a control symbol of the SentencePiece model)."""
        found = self.src.piece_to_id(tag)
        if found == UNK or not self.src.is_control(found):
            raise DataError(f"tokenizer: the SentencePiece model has no symbol for the tag {tag!r}: it was trained "
                            "without it (prepare again; a fine-tuned model keeps its parent's symbols)")
        return found

    def never_output_ids(self) -> list[int]:
        """Target ids a translation must not contain: the tags (control symbols other than the four specials)."""
        return [i for i in range(len(SPECIAL_IDS), self.tgt_vocab_size) if self.tgt.is_control(i)]

    def decode_tgt(self, ids: list[list[int]]) -> list[str]:
        """Detokenize target ids; pad, bos and eos are control symbols and vanish."""
        return self.tgt.decode([[int(i) for i in seq] for seq in ids])

    def decode_src(self, ids: list[list[int]]) -> list[str]:
        return self.src.decode([[int(i) for i in seq] for seq in ids])
