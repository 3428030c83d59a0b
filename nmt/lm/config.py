"""The character language model's configuration, read like every config: YAML in, typed and
validated. A file with `task: char_lm` is one of these (nmt/tasks.py); nmt-train trains it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

from nmt.config import LoopConfig
from nmt.config_files import value_range
from nmt.errors import ConfigError
from nmt.variants import Cell


@dataclass
class TextConfig:
    train: str = ""  # plain text files (UTF-8); the vocabulary is the training file's characters
    dev: str = ""  # held out: validation, early stopping, the best checkpoint
    test: Optional[str] = None


@dataclass
class CharModelConfig:
    cell: Cell = "lstm"
    embed_size: int = field(default=64, metadata=value_range(1))  # a one-hot input times a matrix is this lookup
    hidden_size: int = field(default=256, metadata=value_range(1))
    num_layers: int = field(default=2, metadata=value_range(1))  # "layers" in configs before 2026-12
    dropout: float = field(default=0.0, metadata=value_range(0.0, 1.0, below=True))


@dataclass
class CharTrainConfig(LoopConfig):
    streams: int = field(default=32, metadata=value_range(1))  # B parallel streams the text is cut into (per process)
    bptt: int = field(default=100, metadata=value_range(1))  # steps of truncated backpropagation through time
    stop_metric: Literal["bpc", "loss", "ppl"] = "bpc"  # what a language model can measure


@dataclass
class CharLMConfig:
    task: Literal["char_lm"] = "char_lm"
    exp_dir: str = ""
    data: TextConfig = field(default_factory=TextConfig)
    model: CharModelConfig = field(default_factory=CharModelConfig)
    train: CharTrainConfig = field(default_factory=CharTrainConfig)

    def check(self) -> None:
        if not (self.data.train and self.data.dev):
            raise ConfigError("config: a char_lm config needs data.train and data.dev (plain text files)")
        self.train.check()
