"""Loading a trained model from its experiment directory, and ensembles of several.

An experiment directory is self-contained: config.yaml, the SentencePiece model(s) and
checkpoints/ are all `nmt-translate --model EXP_DIR` needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from nmt.checkpoint import load_checkpoint
from nmt.config import Config, load_config, read_task
from nmt.errors import NmtError
from nmt.models import Seq2Seq, build_model
from nmt.models.state import DecoderState, Memory
from nmt.tokenizer import Tokenizer, vocabulary

NAMED_CHECKPOINTS = {"best": "best.pt", "last": "last.pt", "avg": "avg.pt"}


@dataclass
class LoadedModel:
    cfg: Config
    tokenizer: Tokenizer
    model: Seq2Seq
    checkpoint: Path


def checkpoint_path(exp_dir: Path, checkpoint: str) -> Path:
    if checkpoint in NAMED_CHECKPOINTS:
        path = exp_dir / "checkpoints" / NAMED_CHECKPOINTS[checkpoint]
        if checkpoint == "avg" and not path.exists():
            raise NmtError(f"model: {path} does not exist; make it with `nmt-average --model {exp_dir}`")
        return path
    return Path(checkpoint)


def resolve_init_from(spec: str) -> tuple[Path, Path]:
    """`EXP_DIR`, `EXP_DIR:best|last|avg` or a checkpoint file -> (its experiment directory, the checkpoint)."""
    directory, _, name = spec.rpartition(":")
    if name in NAMED_CHECKPOINTS and directory:
        exp_dir, path = Path(directory), checkpoint_path(Path(directory), name)
    elif Path(spec).is_file():
        path = Path(spec)
        exp_dir = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    else:
        exp_dir, path = Path(spec), checkpoint_path(Path(spec), "best")
    if not (exp_dir / "config.yaml").is_file():
        raise NmtError(f"train: --init-from {spec}: {exp_dir} is not an experiment directory (no config.yaml)")
    if not path.is_file():
        raise NmtError(f"train: --init-from {spec}: no checkpoint {path}")
    return exp_dir, path


def load_model(exp_dir: str | Path, *, checkpoint: str = "best", device: str | torch.device = "cpu") -> LoadedModel:
    """The model of an experiment directory with the weights of `checkpoint` (best, last, avg or a path)."""
    exp_dir = Path(exp_dir)
    if not (exp_dir / "config.yaml").is_file():
        raise NmtError(f"model: {exp_dir} is not an experiment directory (no config.yaml)")
    if read_task(exp_dir / "config.yaml") == "char_lm":
        raise NmtError(f"model: {exp_dir} holds a character model (task: char_lm), not a translation model; "
                       "sample from it with nmt-sample")
    cfg = load_config(exp_dir / "config.yaml")
    tokenizer = Tokenizer.load(exp_dir)
    path = checkpoint_path(exp_dir, checkpoint)
    payload = load_checkpoint(path, map_location="cpu")
    model = build_model(cfg.model, tokenizer.src_vocab_size, tokenizer.tgt_vocab_size)
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as err:
        detail = " ".join(line.strip() for line in str(err).strip().splitlines()[1:])[:300]
        raise NmtError(f"model: {path} does not fit the model in {exp_dir / 'config.yaml'} ({detail})") from None
    return LoadedModel(cfg, tokenizer, model.to(device).eval(), path)


class Ensemble:
    """Several models behind one step interface (a `TranslationModel`); each step averages their
    log-probabilities. Members may read the source differently (forward and reversed): each
    encodes it its own way, and attention comes from the first member, in the source's order."""

    def __init__(self, models: list[Seq2Seq]):
        self.models = models
        self.training = False

    def eval(self) -> "Ensemble":
        for model in self.models:
            model.eval()
        return self

    def train(self, mode: bool = True) -> "Ensemble":
        for model in self.models:
            model.train(mode)
        return self

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> list[Memory]:
        return [model.encode(src, src_lengths) for model in self.models]

    def init_state(self, memories: list[Memory]) -> list[DecoderState]:
        return [model.init_state(memory) for model, memory in zip(self.models, memories)]

    def step(self, prev_tokens: torch.Tensor, states: list[DecoderState], memories: list[Memory]):
        outputs = [model.step(prev_tokens, state, memory) for model, state, memory in zip(self.models, states, memories)]
        log_probs = torch.stack([o[0] for o in outputs]).mean(0)  # average of log-probabilities
        return log_probs, [o[1] for o in outputs], outputs[0][2]

    def reorder(self, states: list[DecoderState], memories: list[Memory] | None, index: torch.Tensor):
        pairs = [model.reorder(state, memory, index) for model, state, memory
                 in zip(self.models, states, memories if memories is not None else [None] * len(self.models))]
        return [p[0] for p in pairs], [p[1] for p in pairs] if memories is not None else None


def check_compatible(loaded: list[LoadedModel]) -> None:
    """Ensemble members must read and write the same pieces (they may read them in other orders)."""
    first = loaded[0]
    for other in loaded[1:]:
        same_src = vocabulary(first.tokenizer.src) == vocabulary(other.tokenizer.src)
        same_tgt = vocabulary(first.tokenizer.tgt) == vocabulary(other.tokenizer.tgt)
        if not (same_src and same_tgt):
            raise NmtError(f"model: {other.checkpoint} uses other SentencePiece models than {first.checkpoint}; "
                           "an ensemble needs the same vocabularies")
