"""Which sentences go into which batch: grouped by length under a token budget. Numpy only, so the
exported runtime (nmt/runtime), which has no torch, batches as training and nmt-translate do."""

from __future__ import annotations

import numpy as np


def make_batches(
    src_lengths: np.ndarray,
    tgt_lengths: np.ndarray | None,
    *,
    batch_tokens: int,
    batch_size: int | None = None,
    seed: int = 0,
    epoch: int = 0,
    shuffle: bool = True,
    keep: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Group sentence indices into batches of similar length.

    Sentences are sorted by length (random tie-breaks when shuffling), cut greedily so
    that (sentences x longest padded side) stays within `batch_tokens` and the sentence
    count within `batch_size`; the batch order is then shuffled. A sentence longer than
    the budget forms a batch alone. `keep` is a boolean mask of usable sentences.
    """
    # Padded width of a pair: source + EOS, target + BOS/EOS shift.
    width = src_lengths.astype(np.int64) + 1
    if tgt_lengths is not None:
        width = np.maximum(width, tgt_lengths.astype(np.int64) + 1)
    rng = np.random.default_rng([seed, epoch])
    tie_break = rng.permutation(len(width)) if shuffle else np.arange(len(width))
    order = np.lexsort((tie_break, width))
    if keep is not None:
        order = order[keep[order]]
    batches, start, longest = [], 0, 0
    for pos, index in enumerate(order):
        longest_with = max(longest, int(width[index]))
        count = pos - start + 1
        if count > 1 and (longest_with * count > batch_tokens or (batch_size and count > batch_size)):
            batches.append(order[start:pos])
            start, longest_with = pos, int(width[index])
        longest = longest_with
    if start < len(order):
        batches.append(order[start:])
    if shuffle:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches
