"""Attention over encoder states: additive (Bahdanau 2014) and multiplicative (Luong 2015).

Both split the work the same way: `project_keys` runs once per sentence, outside any
decoder loop; `forward` scores one query per sentence (B, Q) or all queries at once
(B, T, Q). Padded source positions get weight exactly 0 (their scores are -inf).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """scores: (B, T, S); mask: (B, S) True at real positions."""
    return torch.softmax(scores.masked_fill(~mask[:, None, :], float("-inf")), dim=-1)


class AdditiveAttention(nn.Module):
    """e_ij = v^T tanh(W q_i + U h_j) (Bahdanau et al. 2014, eq. 6 and appendix A.1.2)."""

    def __init__(self, *, query_size: int, key_size: int, attention_size: int):
        super().__init__()
        self.key_proj = nn.Linear(key_size, attention_size, bias=False)  # U
        self.query_proj = nn.Linear(query_size, attention_size)  # W (its bias stands in for U's)
        self.energy = nn.Linear(attention_size, 1, bias=False)  # v

    def project_keys(self, states: torch.Tensor) -> torch.Tensor:
        """(B, S, K) -> (B, S, A)."""
        return self.key_proj(states)

    def weights(self, query: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """query (B x beams, Q), keys (B, S, A), mask (B, S) -> the weights (B x beams, S) of one step;
        each group of beams = rows / B consecutive queries reads one row of keys (inferred from the
        shapes, so a traced step serves any beam size).

        The (B, beams, S, A) sum is made once and squashed in place: the step's largest tensor, not two of them.
        """
        queries = self.query_proj(query).view(keys.shape[0], -1, 1, keys.shape[-1])  # (B, beams, 1, A)
        hidden = torch.add(keys[:, None], queries).tanh_()  # (B, beams, S, A); autograd keeps the output
        return masked_softmax(self.energy(hidden).squeeze(-1), mask).flatten(0, 1)  # (B, beams, S) -> (B x beams, S)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """query (B, Q) or (B, T, Q); keys (B, S, A); values (B, S, K); mask (B, S).

        Returns the context (B, [T,] K) and the weights (B, [T,] S).
        """
        single = query.dim() == 2
        queries = query[:, None, :] if single else query  # (B, T, Q)
        batch, steps = queries.shape[:2]
        weights = self.weights(queries.flatten(0, 1), keys, mask).view(batch, steps, -1)  # (B, T, S)
        context = torch.bmm(weights, values)  # (B, T, K)
        return (context[:, 0], weights[:, 0]) if single else (context, weights)


class MultiplicativeAttention(nn.Module):
    """score(h_t, h_s) = h_t^T h_s ('dot') or h_t^T W_a h_s ('general') (Luong et al. 2015, eq. 8)."""

    def __init__(self, *, score: Literal["dot", "general"], query_size: int, key_size: int):
        super().__init__()
        if score == "dot" and query_size != key_size:
            raise ValueError(f"dot attention needs equal query and key sizes, got {query_size} and {key_size}")
        self.key_proj = nn.Linear(key_size, query_size, bias=False) if score == "general" else None  # W_a

    def project_keys(self, states: torch.Tensor) -> torch.Tensor:
        """(B, S, K) -> (B, S, Q): W_a h_s, so that each score is one dot product."""
        return self.key_proj(states) if self.key_proj is not None else states

    def forward(self, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """As AdditiveAttention.forward; all T queries are scored in one batched matmul."""
        single = query.dim() == 2
        queries = query[:, None, :] if single else query  # (B, T, Q)
        weights = masked_softmax(torch.bmm(queries, keys.transpose(1, 2)), mask)  # (B, T, S)
        context = torch.bmm(weights, values)  # (B, T, K)
        return (context[:, 0], weights[:, 0]) if single else (context, weights)
