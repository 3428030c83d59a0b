"""Word dropout: whole tokens dropped in training (Gal & Ghahramani 2016, as Nematus applies it to
source and target words; Sennrich & Zhang 2019 found it the largest single gain on small corpora
after the vocabulary size).

Each position's embedding is zeroed with probability p and the others scaled by 1 / (1 - p), so
the expected input is unchanged; every dimension of a position goes together, so the model
must translate without that word. Off in eval(): validation and translation see every token.
"""

from __future__ import annotations

import torch
from torch import nn


class WordDropout(nn.Module):
    def __init__(self, p: float):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"word dropout must be in [0, 1), got {p}")
        self.p = p

    def forward(self, embedded: torch.Tensor) -> torch.Tensor:
        """embedded (..., E): positions along every dimension but the last."""
        if not self.training or self.p == 0.0:
            return embedded  # no random numbers drawn: runs without word dropout are unchanged
        keep = torch.empty(*embedded.shape[:-1], 1, device=embedded.device, dtype=embedded.dtype)
        return embedded * keep.bernoulli_(1.0 - self.p).div_(1.0 - self.p)  # (..., 1) broadcast over E

    def extra_repr(self) -> str:
        return f"p={self.p}"
