"""Checkpoints: atomic writes, safe loads (weights_only), averaging.

A training checkpoint (`last.pt`) holds everything exact resumption needs; the others
(`step-N.pt`, `best.pt`, `avg.pt`) hold the model weights and the step they come from.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import torch

from nmt.errors import NmtError, gist

NAMED_CHECKPOINTS = {"best": "best.pt", "last": "last.pt", "avg": "avg.pt"}


def checkpoint_path(exp_dir: Path, checkpoint: str) -> Path:
    if checkpoint in NAMED_CHECKPOINTS:
        path = exp_dir / "checkpoints" / NAMED_CHECKPOINTS[checkpoint]
        if checkpoint == "avg" and not path.exists():
            raise NmtError(f"model: {path} does not exist; make it with `nmt-average --model {exp_dir}`")
        return path
    return Path(checkpoint)


def save_checkpoint(payload: dict, path: str | Path) -> None:
    """Write to a temporary file in the same directory, flush it to disk, then rename.

    A crash at any moment leaves either the old file or the new one, never half of one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:  # a full disk, a second Ctrl-C: the old file stays, no half-written one is left
        tmp.unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Load with weights_only=True (no arbitrary unpickling); a damaged file is one clear error."""
    path = Path(path)
    if not path.is_file():
        raise NmtError(f"checkpoint: file not found: {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # truncation and corruption surface as many exception types
        raise NmtError(f"checkpoint: {path} is truncated or corrupt and cannot be loaded ({gist(err, limit=200)})") from None
    if not isinstance(payload, dict) or "model" not in payload:
        raise NmtError(f"checkpoint: {path} is not an nmt checkpoint (no model weights in it)")
    return payload


def load_weights(model: torch.nn.Module, path: str | Path, *, mismatch: str,
                 map_location: str | torch.device = "cpu") -> dict:
    """Put a checkpoint's weights into `model`, or raise one line: `mismatch` ("model: X does not fit
    the model in Y") and the names and shapes that differ. Returns the checkpoint."""
    payload = load_checkpoint(path, map_location=map_location)
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as err:
        raise NmtError(f"{mismatch} ({gist(err)})") from None
    return payload


def average_checkpoints(paths: Sequence[str | Path]) -> dict:
    """The element-wise mean of the models in `paths`, as a model-only checkpoint."""
    if not paths:
        raise NmtError("checkpoint: nothing to average")
    total: dict[str, torch.Tensor] = {}
    dtypes: dict[str, torch.dtype] = {}
    steps = []
    for path in paths:
        payload = load_checkpoint(path)
        steps.append(int(payload.get("step", 0)))
        for name, tensor in payload["model"].items():
            if name in total and total[name].shape != tensor.shape:
                raise NmtError(f"checkpoint: {path} does not match the others ({name} has shape {tuple(tensor.shape)})")
            total[name] = total.get(name, 0) + tensor.double()
            dtypes[name] = tensor.dtype
    model = {name: (tensor / len(paths)).to(dtypes[name]) for name, tensor in total.items()}
    return {"model": model, "step": max(steps), "averaged_steps": steps}


def rng_state() -> dict:
    """This process's random state (torch's, and CUDA's where there is one), as last.pt keeps it."""
    rng: dict = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    return rng


def restore_rng_state(rng: dict) -> None:
    torch.set_rng_state(rng["torch"].cpu())
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in rng["cuda"]])
