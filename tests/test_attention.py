from __future__ import annotations

import pytest
import torch

from nmt.models.attention import AdditiveAttention, MultiplicativeAttention, masked_softmax

B, T, S, Q, K = 3, 4, 6, 5, 7


def inputs():
    torch.manual_seed(0)
    mask = torch.arange(S)[None, :] < torch.tensor([6, 3, 1])[:, None]
    return torch.randn(B, T, Q), torch.randn(B, S, K), mask


ATTENTIONS = {
    "additive": lambda: AdditiveAttention(query_size=Q, key_size=K, attention_size=8),
    "general": lambda: MultiplicativeAttention(score="general", query_size=Q, key_size=K),
}


@pytest.mark.parametrize("kind", ATTENTIONS)
def test_rows_sum_to_one_and_padding_gets_exactly_zero(kind):
    attention = ATTENTIONS[kind]()
    queries, states, mask = inputs()
    context, weights = attention(queries, attention.project_keys(states), states, mask)
    assert context.shape == (B, T, K) and weights.shape == (B, T, S)
    torch.testing.assert_close(weights.sum(-1), torch.ones(B, T))
    assert (weights.masked_select(~mask[:, None, :].expand(B, T, S)) == 0).all()
    assert (weights.masked_select(mask[:, None, :].expand(B, T, S)) > 0).all()


@pytest.mark.parametrize("kind", ATTENTIONS)
def test_one_query_equals_the_same_query_in_a_batch_of_steps(kind):
    attention = ATTENTIONS[kind]()
    queries, states, mask = inputs()
    keys = attention.project_keys(states)
    context, weights = attention(queries, keys, states, mask)
    for t in range(T):
        step_context, step_weights = attention(queries[:, t], keys, states, mask)
        torch.testing.assert_close(step_context, context[:, t])
        torch.testing.assert_close(step_weights, weights[:, t])


def test_additive_scores_follow_the_paper():
    attention = AdditiveAttention(query_size=Q, key_size=K, attention_size=8)
    queries, states, mask = inputs()
    _, weights = attention(queries[:, 0], attention.project_keys(states), states, mask)
    W, U, v = attention.query_proj, attention.key_proj.weight, attention.energy.weight[0]
    for b in range(B):
        energies = torch.stack([v @ torch.tanh(W(queries[b, 0]) + U @ states[b, j]) for j in range(S)])
        expected = torch.softmax(energies.masked_fill(~mask[b], float("-inf")), dim=0)
        torch.testing.assert_close(weights[b], expected)


def test_dot_score_is_the_plain_dot_product():
    attention = MultiplicativeAttention(score="dot", query_size=K, key_size=K)
    _, states, mask = inputs()
    query = torch.randn(B, K)
    _, weights = attention(query, attention.project_keys(states), states, mask)
    expected = masked_softmax(torch.einsum("bk,bsk->bs", query, states)[:, None], mask)[:, 0]
    torch.testing.assert_close(weights, expected)


def test_dot_score_needs_equal_sizes():
    with pytest.raises(ValueError, match="equal query and key sizes"):
        MultiplicativeAttention(score="dot", query_size=4, key_size=5)
