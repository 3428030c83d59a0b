"""The character language model's configuration (nmt/lm.py), read like every config: YAML in,
typed and validated. A file with `task: char_lm` is one of these; nmt-train trains it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

from nmt.config import LoopConfig, _range
from nmt.errors import ConfigError

@dataclass
class TextConfig:
    train: str = ""  # plain text files (UTF-8); the vocabulary is the training file's characters
    valid: str = ""
    test: Optional[str] = None


@dataclass
class CharModelConfig:
    cell: Literal["lstm", "gru", "rnn"] = "lstm"
    embed_size: int = field(default=64, metadata=_range(1))  # a one-hot input times a matrix is this lookup
    hidden_size: int = field(default=256, metadata=_range(1))
    layers: int = field(default=2, metadata=_range(1))
    dropout: float = field(default=0.0, metadata=_range(0.0, 1.0, below=True))


@dataclass
class CharTrainConfig(LoopConfig):
    streams: int = field(default=32, metadata=_range(1))  # B parallel streams the text is cut into (per process)
    bptt: int = field(default=100, metadata=_range(1))  # steps of truncated backpropagation through time
    stop_metric: Literal["bleu", "chrf", "loss", "ppl"] = "loss"


@dataclass
class CharLMConfig:
    task: Literal["char_lm"] = "char_lm"
    exp_dir: str = ""
    data: TextConfig = field(default_factory=TextConfig)
    model: CharModelConfig = field(default_factory=CharModelConfig)
    train: CharTrainConfig = field(default_factory=CharTrainConfig)

    def check(self) -> None:
        if not (self.data.train and self.data.valid):
            raise ConfigError("config: a char_lm config needs data.train and data.valid (plain text files)")
        if self.train.stop_metric not in ("loss", "ppl"):
            raise ConfigError(f"config: train.stop_metric = {self.train.stop_metric!r}: a language model stops on "
                              "'loss' (bits per character) or 'ppl'")


