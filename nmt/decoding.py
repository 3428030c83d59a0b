"""What every search shares: the step interface a model offers, the hypotheses search returns,
and the rules that bound a hypothesis (maximum and minimum length, the length penalty).

`search.py` (greedy, sampling) and `beam.py` build on this module and on nothing of each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch

from nmt.tokenizer import EOS

NEG_INF = float("-inf")

State = Any  # whatever a model carries from step to step (nmt.models.state.DecoderState for ours)
Memory = Any  # whatever a model reads from the encoder at every step (nmt.models.state.Memory)


class StepModel(Protocol):
    """The four calls search makes, and the only ones (fairseq's incremental-decoding interface).

    A single model (`nmt.models.Seq2Seq`), an ensemble of them, and the scripted models of the
    tests all offer it; search never looks inside a state or a memory.
    """

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> Memory:
        """src (B, S) ids ending in EOS, then PAD; src_lengths (B,) -> what the steps read."""

    def init_state(self, memory: Memory) -> State:
        """The state before the first target token."""

    def step(self, prev_tokens: torch.Tensor, state: State,
             memory: Memory) -> tuple[torch.Tensor, State, torch.Tensor | None]:
        """prev_tokens (B,) -> log-probabilities (B, V), the next state, attention (B, S) or None.

        Attention positions are those of `src` as given to `encode`.
        """

    def reorder(self, state: State, memory: Memory | None,
                index: torch.Tensor) -> tuple[State, Memory | None]:
        """Keep (and repeat) the batch rows `index` of state and memory; memory None stays None."""


class TranslationModel(StepModel, Protocol):
    """A StepModel that can be switched between training and evaluation, as nn.Module can."""

    training: bool

    def train(self, mode: bool = True) -> Any: ...


@dataclass
class Hypothesis:
    tokens: list[int]  # without BOS and EOS
    score: float  # sum of log-probabilities, divided by the length penalty in beam search
    attention: torch.Tensor | None = None  # (len(tokens) + 1, S): one row per step, EOS included


def max_lengths(src_lengths: torch.Tensor, *, a: float, b: int) -> torch.Tensor:
    """Output limit a * |src| + b per sentence (|src| without the source EOS)."""
    return (a * (src_lengths - 1).float() + b).floor().long().clamp(min=1)


def length_normalizer(length: torch.Tensor | int, length_penalty: float) -> torch.Tensor | float:
    """GNMT's ((5 + |Y|) / 6) ** alpha, alpha = decode.length_penalty; 0 keeps the plain sum of log-probabilities."""
    return ((5.0 + length) / 6.0) ** length_penalty


def restrict_eos(log_probs: torch.Tensor, step: int, max_len: torch.Tensor, min_length: int) -> torch.Tensor:
    """Forbid EOS before min_length; allow only EOS once a row reaches its max length (in place)."""
    if step < min_length:
        log_probs[:, EOS] = NEG_INF
    at_limit = max_len <= step
    if at_limit.any():
        eos_scores = log_probs[at_limit, EOS].clone()
        log_probs[at_limit] = NEG_INF
        log_probs[at_limit, EOS] = torch.where(torch.isfinite(eos_scores), eos_scores, torch.zeros_like(eos_scores))
    return log_probs
