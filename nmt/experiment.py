"""Loading finished experiment directories: a trained translation model, for nmt-translate, the
service and ensembles. (Starting a run in one is nmt/launch.py's.)

An experiment directory is self-contained: config.yaml, the SentencePiece model(s) and
checkpoints/ are all `nmt-translate --model EXP_DIR` needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from nmt.checkpoint import checkpoint_path, load_weights
from nmt.config import Config
from nmt.models import Seq2Seq, build_model
from nmt.tasks import load_config
from nmt.tokenizer import Tokenizer


@dataclass
class LoadedModel:
    cfg: Config
    tokenizer: Tokenizer
    model: Seq2Seq
    checkpoint: Path


def load_model(exp_dir: str | Path, *, checkpoint: str = "best", device: str | torch.device = "cpu") -> LoadedModel:
    """The translation model of an experiment directory with the weights of `checkpoint` (best, last,
    avg or a path). Translation's `load` in the registry: callers go through nmt.tasks.load_trained,
    which checks the directory's task first."""
    exp_dir = Path(exp_dir)
    cfg = load_config(exp_dir / "config.yaml")
    tokenizer = Tokenizer.load(exp_dir)
    path = checkpoint_path(exp_dir, checkpoint)
    model = build_model(cfg.model, tokenizer.src_vocab_size, tokenizer.tgt_vocab_size)
    load_weights(model, path, mismatch=f"model: {path} does not fit the model in {exp_dir / 'config.yaml'}")
    model.forbid_outputs(tokenizer.never_output_ids())
    return LoadedModel(cfg, tokenizer, model.to(device).eval(), path)
