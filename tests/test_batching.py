from __future__ import annotations

import numpy as np
import pytest
import torch

from nmt.batching import BatchIterator, ParallelArrays, TokenArray, collate, make_batches, shard, write_token_array
from nmt.specials import BOS, EOS, PAD


def random_sequences(n: int, seed: int, low: int = 1, high: int = 30) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    return [list(rng.integers(4, 100, size=rng.integers(low, high))) for _ in range(n)]


@pytest.fixture
def corpus(tmp_path) -> ParallelArrays:
    write_token_array(random_sequences(500, 1), tmp_path / "train.src", vocab_size=100)
    write_token_array(random_sequences(500, 2), tmp_path / "train.tgt", vocab_size=100)
    return ParallelArrays(tmp_path, "train")


def test_token_arrays_round_trip_memory_mapped(tmp_path):
    seqs = [[5, 6, 7], [8], [9, 10]]
    assert write_token_array(seqs, tmp_path / "x", vocab_size=100) == 6
    array = TokenArray(tmp_path / "x")
    assert isinstance(array.tokens, np.memmap) and array.tokens.dtype == np.uint16
    assert [list(array[i]) for i in range(len(array))] == seqs
    assert list(array.lengths) == [3, 1, 2]


def test_large_vocabularies_use_wider_ids(tmp_path):
    write_token_array([[70_000, 4]], tmp_path / "x", vocab_size=80_000)
    assert list(TokenArray(tmp_path / "x")[0]) == [70_000, 4]


def test_batches_cover_every_kept_sentence_once_within_budget(corpus):
    keep = corpus.src.lengths < 25
    batches = make_batches(corpus.src.lengths, corpus.tgt.lengths, batch_tokens=200, seed=3, keep=keep)
    flat = np.concatenate(batches)
    assert sorted(flat) == list(np.flatnonzero(keep))
    width = np.maximum(corpus.src.lengths, corpus.tgt.lengths) + 1
    assert all(len(b) * width[b].max() <= 200 for b in batches)


def test_batch_size_caps_sentences_and_long_sentences_stand_alone():
    lengths = np.array([1] * 10 + [50])
    batches = make_batches(lengths, lengths, batch_tokens=20, batch_size=4, shuffle=False)
    assert max(len(b) for b in batches) == 4
    assert [10] in [list(b) for b in batches]  # over the budget: a batch of its own


def test_batches_are_length_sorted_inside(corpus):
    batches = make_batches(corpus.src.lengths, corpus.tgt.lengths, batch_tokens=300, seed=0)
    width = np.maximum(corpus.src.lengths, corpus.tgt.lengths)
    # Sorting by length keeps padding small: widths inside a batch differ little.
    assert np.mean([width[b].max() - width[b].min() for b in batches]) <= 2


def test_order_depends_only_on_seed_and_epoch(corpus):
    plan = lambda seed, epoch: [list(b) for b in make_batches(  # noqa: E731
        corpus.src.lengths, corpus.tgt.lengths, batch_tokens=300, seed=seed, epoch=epoch)]
    assert plan(1, 1) == plan(1, 1)
    assert plan(1, 1) != plan(1, 2)
    assert plan(1, 1) != plan(2, 1)


def test_shards_are_disjoint_and_equally_long():
    batches = [np.array([i]) for i in range(11)]
    shards = [shard(batches, rank=r, world_size=3) for r in range(3)]
    assert [len(s) for s in shards] == [3, 3, 3]
    flat = [int(b[0]) for s in shards for b in s]
    assert len(set(flat)) == 9


def test_collate_pads_the_source_and_shifts_the_target():
    src = [np.array([10, 11, 12]), np.array([20])]
    tgt = [np.array([30, 31]), np.array([40, 41, 42])]
    batch = collate(src, tgt, [7, 8])
    assert batch.src.tolist() == [[10, 11, 12, EOS], [20, EOS, PAD, PAD]]
    assert batch.src_lengths.tolist() == [4, 2]
    assert batch.src_mask.tolist() == [[True] * 4, [True, True, False, False]]
    assert batch.tgt_in.tolist() == [[BOS, 30, 31, PAD], [BOS, 40, 41, 42]]
    assert batch.tgt_out.tolist() == [[30, 31, EOS, PAD], [40, 41, 42, EOS]]
    assert batch.n_tgt_tokens == 7 and batch.indices.tolist() == [7, 8]
    assert collate(src, None, [0, 1]).tgt_in is None
    assert batch.src.dtype == torch.long


def test_iterator_resumes_exactly_mid_epoch(corpus):
    make = lambda: BatchIterator(corpus, batch_tokens=300, batch_size=None, seed=5)  # noqa: E731
    straight = make()
    epoch1 = [b.indices.tolist() for b in straight]
    epoch2 = [b.indices.tolist() for b in straight]
    assert straight.state_dict() == {"epoch": 3, "position": 0}

    first = make()
    stream = iter(first)
    consumed = [next(stream).indices.tolist() for _ in range(4)]
    state = first.state_dict()
    assert state == {"epoch": 1, "position": 4}

    resumed = make()
    resumed.load_state_dict(state)
    rest = [b.indices.tolist() for b in resumed]
    assert consumed + rest == epoch1
    assert [b.indices.tolist() for b in resumed] == epoch2


def test_iterator_leaves_out_long_pairs_and_counts_them(corpus):
    iterator = BatchIterator(corpus, batch_tokens=300, batch_size=None, seed=5, max_src_tokens=10, max_tgt_tokens=20)
    seen = np.concatenate([b.indices.numpy() for b in iterator])
    assert (corpus.src.lengths[seen] <= 10).all() and (corpus.tgt.lengths[seen] <= 20).all()
    assert iterator.n_left_out == len(corpus) - len(seen)


def test_iterator_batches_hold_the_corpus_tokens(corpus):
    iterator = BatchIterator(corpus, batch_tokens=300, batch_size=None, seed=5)
    batch = next(iter(iterator))
    first = int(batch.indices[0])
    n = int(batch.src_lengths[0]) - 1
    assert batch.src[0, :n].tolist() == list(corpus.src[first])
    assert batch.tgt_out[0, : len(corpus.tgt[first])].tolist() == list(corpus.tgt[first])
