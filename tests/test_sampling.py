"""Subword regularisation: a new segmentation of the training text every epoch, the same one again on a
resume, the next epoch encoded ahead, dev and translation untouched, exact resume through nmt-train."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sentencepiece as spm
from conftest import REPO, config_text, make_pairs, train_straight_and_resumed, write_plain

from nmt.batching import BatchIterator, ParallelArrays
from nmt.errors import ConfigError
from nmt.mixture import Mixture
from nmt.prepare import Preparer
from nmt.sampling import BpeMerges, SampledEpochs
from nmt.tasks import load_config
from nmt.tokenizer import Tokenizer, train_sentencepiece

sys.path.insert(0, str(REPO / "tools"))
import bench_sampling  # noqa: E402

TINY = """
model: {variant: rnnsearch, embed_size: 16, encoder_hidden: 16, decoder_hidden: 32, attention_size: 16, dropout: 0.0}
train: {batch_tokens: 1000, validate_every: 6, max_epochs: 50, patience: 50, sampling_alpha: 0.2}
decode: {beam_size: 2}
"""


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sampling")
    corpus = root / "corpus"
    corpus.mkdir()
    for split, n, seed in (("train", 300, 1), ("dev", 20, 2), ("test", 20, 3)):
        write_plain(corpus, split, make_pairs(n, seed))
    (root / "run.yaml").write_text(config_text(corpus, root / "run", vocab_size=50, extra=TINY), encoding="utf-8")
    Preparer(load_config(root / "run.yaml"), log=lambda line: None).run()
    return root / "run"


def epochs(exp_dir: Path, *, seed: int = 1, rank: int = 0) -> SampledEpochs:
    return SampledEpochs(exp_dir / "data", Tokenizer.load(exp_dir), alpha=0.2, nbest=16, seed=seed, rank=rank)


def sentences(arrays: ParallelArrays, side: str = "src") -> list[tuple[int, ...]]:
    return [tuple(getattr(arrays, side)[i]) for i in range(len(arrays))]


def test_each_epoch_segments_anew_and_the_same_epoch_is_the_same_again(prepared):
    first = epochs(prepared)
    one, two = sentences(first(1)), sentences(first(2))
    plain = ParallelArrays(prepared / "data", "train")
    assert len(one) == len(two) == len(plain)
    assert one != two and one != sentences(plain)  # another segmentation every epoch ...
    tokenizer = Tokenizer.load(prepared)
    assert tokenizer.decode_src([list(s) for s in one[:50]]) == tokenizer.decode_src([list(plain.src[i]) for i in range(50)])
    targets = sentences(first(1), "tgt")  # the target side is sampled too, and says the same
    assert targets != sentences(first(2), "tgt") and targets != sentences(plain, "tgt")
    assert tokenizer.decode_tgt([list(t) for t in targets]) == tokenizer.decode_tgt([list(plain.tgt[i]) for i in range(len(plain))])
    first.close()
    again = epochs(prepared, rank=1)  # ... another process (or a resumed run) samples the same epoch
    assert sentences(again(2)) == two and sentences(again(1)) == one
    assert sentences(epochs(prepared, seed=2, rank=2)(1)) != one
    again.close()


def test_the_next_epoch_is_encoded_ahead_and_old_ones_go(prepared):
    sampler = epochs(prepared, rank=3)
    sampler(1)
    sampler._pending[2].result(timeout=60)
    folder = prepared / "data" / "sampled" / "rank3"
    assert (folder / "train.e2.tgt.bin").exists()
    sampler(3)
    assert not list(folder.glob("train.e1.*")) and (folder / "train.e3.tgt.bin").exists()
    sampler.close()


def test_batches_follow_each_epochs_own_lengths(prepared):
    sampler = epochs(prepared, rank=4)
    iterator = BatchIterator(ParallelArrays(prepared / "data", "train"), batch_tokens=400, batch_size=None, seed=1,
                             max_src_tokens=12, max_tgt_tokens=12, sampled=sampler)
    for epoch in (1, 2):
        corpus = sampler(epoch)
        batches = list(iterator)
        for batch in batches:
            for row, index in enumerate(batch.indices.tolist()):
                length = int(batch.src_lengths[row]) - 1  # EOS
                assert length == len(corpus.src[index]) <= 12
        assert iterator.epoch == epoch + 1
    sampler.close()


def test_with_a_mixture_an_epoch_segments_the_pairs_it_draws_and_no_others(prepared):
    corpus_of_pair = np.repeat([0, 1], [150, 150])
    tokenizer = Tokenizer.load(prepared)

    def sampler(weights, rank):
        return SampledEpochs(prepared / "data", tokenizer, alpha=0.2, nbest=16, seed=1, rank=rank,
                             mixture=Mixture(corpus_of_pair, weights, [None, None]))

    light = sampler([2.0, 0.3], rank=11)
    drawn = np.zeros(300, dtype=bool)
    drawn[light.mixture.draw(1, 1)] = True
    assert drawn[:150].all() and 20 < drawn[150:].sum() < 80
    arrays = light(1)
    for side in (arrays.src, arrays.tgt):  # the pairs left out of the epoch are left empty: never batched
        assert (side.lengths[~drawn] == 0).all() and (side.lengths[drawn] > 0).all()
    light.close()
    # Weights that draw every pair sample what a run without a mixture samples.
    every, plain = sampler([1.0, 2.0], rank=12), epochs(prepared, seed=1, rank=13)
    assert sentences(every(1)) == sentences(plain(1))
    every.close(), plain.close()
    # Other weights draw other pairs: what was sampled under the old ones is thrown away.
    folder = prepared / "data" / "sampled" / "rank11"
    assert (folder / "train.e1.tgt.bin").exists()
    heavier = sampler([2.0, 0.6], rank=11)
    assert not (folder / "train.e1.tgt.bin").exists()
    heavier.close()


def test_the_task_nmt_train_builds_trains_on_sampled_segmentations_of_both_sides(prepared):
    """The wiring from train.sampling_alpha to the batches the loop gets (nmt-train's own build_task)."""
    import torch

    from nmt.launch import build_task
    from nmt.specials import EOS

    cfg = load_config(prepared / "config.yaml")
    task = build_task(cfg, device=torch.device("cpu"))
    plain, tokenizer = ParallelArrays(prepared / "data", "train"), task.tokenizer
    changed = {"src": 0, "tgt": 0}
    for batch in task.iterator:  # the first epoch
        for row, index in enumerate(batch.indices.tolist()):
            src = batch.src[row, : int(batch.src_lengths[row]) - 1].tolist()  # EOS dropped
            tgt = batch.tgt_out[row].tolist()
            tgt = tgt[: tgt.index(EOS)]
            changed["src"] += src != list(plain.src[index])
            changed["tgt"] += tgt != list(plain.tgt[index])
            assert tokenizer.decode_src([src]) == tokenizer.decode_src([list(plain.src[index])])
            assert tokenizer.decode_tgt([tgt]) == tokenizer.decode_tgt([list(plain.tgt[index])])
    task.sampled.close()
    assert changed["src"] > 30 and changed["tgt"] > 30, changed  # of 300 pairs


def test_nmt_train_with_sampling_resumes_exactly(tmp_path, prepared):
    straight = train_straight_and_resumed(tmp_path, prepared.parent / "run.yaml", prepared, steps=10, stop_at=5)
    log = (straight / "train.log").read_text()
    assert "subword sampling alpha 0.2, nbest 16" in log


def test_sampling_settings_that_cannot_work_are_one_line(prepared):
    with pytest.raises(ConfigError, match=r"train.sampling_nbest = 1 is out of range: expected at least 2"):
        load_config(prepared.parent / "run.yaml", ["train.sampling_nbest=1"])


@pytest.fixture(scope="module")
def bpe(tmp_path_factory) -> spm.SentencePieceProcessor:
    root = tmp_path_factory.mktemp("bpe")
    text = root / "text.txt"
    write_plain(root, "train", make_pairs(600, 7))
    text.write_text((root / "train.de").read_text() + (root / "train.en").read_text() + "zürich ünter ©x\n")
    return spm.SentencePieceProcessor(model_file=str(train_sentencepiece(
        [text], root / "bpe", model_type="bpe", vocab_size=120, character_coverage=1.0, input_sentence_size=10_000)))


def test_bpe_without_dropout_is_sentencepieces_own_segmentation(bpe):
    merges = BpeMerges(bpe)
    lines = [a for a, _ in make_pairs(300, 8)] + [b for _, b in make_pairs(300, 9)] + ["zürich  ünter ©x ?"]
    rng = np.random.default_rng(0)
    assert [merges.encode(line, rng, 0.0) for line in lines] == [bpe.encode(line) for line in lines]


def test_bpe_dropout_splits_more_and_keeps_the_text(bpe):
    merges, line = BpeMerges(bpe), "haus katze hund baum garten ."
    best = bpe.encode(line)
    draws = [merges.encode(line, np.random.default_rng(seed), 0.3) for seed in range(50)]
    assert all(bpe.decode(ids) == bpe.decode(best) for ids in draws)  # the same text, other pieces
    assert len({tuple(ids) for ids in draws}) > 5 and np.mean([len(ids) for ids in draws]) > len(best)
    assert draws[0] == merges.encode(line, np.random.default_rng(0), 0.3)  # seeded: the same again


def test_a_sample_follows_the_models_probabilities(prepared, tmp_path):
    """Among the l best, a more probable segmentation is drawn more often, the more so the larger alpha."""
    tokenizer = Tokenizer.load(prepared)
    text = tmp_path / "line.txt"
    text.write_text("haus katze hund .\n", encoding="utf-8")
    candidates = [tuple(c) for c in tokenizer.src.nbest_encode("haus katze hund .", out_type=int, nbest_size=4)]
    shares = {}
    for alpha in (0.01, 1.0):
        sampler = SampledEpochs(prepared / "data", tokenizer, alpha=alpha, nbest=4, seed=0, rank=9)
        draws = [tuple(next(sampler._sample(tokenizer.src, text, np.random.default_rng(i)))) for i in range(400)]
        sampler.close()
        assert set(draws) <= set(candidates)
        shares[alpha] = draws.count(candidates[0]) / len(draws)
    assert abs(shares[0.01] - 1 / len(candidates)) < 0.1 < shares[1.0] - shares[0.01]  # near uniform, then peaked


def test_a_bpe_model_samples_its_epochs_by_dropout(prepared):
    tokenizer = Tokenizer.load(prepared)
    make = lambda rank: SampledEpochs(prepared / "data", tokenizer, alpha=0.1, nbest=16, seed=1, rank=rank,  # noqa: E731
                                      model_type="bpe")
    first, again = make(20), make(21)
    one, two = first(1), first(2)
    assert sentences(one) != sentences(two) and sentences(again(1)) == sentences(one)
    plain = ParallelArrays(prepared / "data", "train")
    assert tokenizer.decode_src([list(one.src[i]) for i in range(20)]) == \
        tokenizer.decode_src([list(plain.src[i]) for i in range(20)])
    first.close(), again.close()


def test_the_sampling_benchmark_times_an_epoch_against_the_training_log(prepared, tmp_path):
    """tools/bench_sampling.py samples epochs of a prepared experiment and reads its train.log."""
    log = tmp_path / "train.log"
    lines = []
    for step in range(50, 650, 50):  # a minute every 50 updates, and a 20-minute validation after update 400
        minute = step // 50 + (20 if step > 400 else 0)
        lines.append(f"2026-12-02 11:{minute:02d}:00 step {step} epoch {1 if step <= 300 else 2}: loss 5.0")
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    seconds, updates = bench_sampling.training_epoch_seconds(log)
    assert updates == 300 and seconds == pytest.approx(300 * 60 / 50)

    run = subprocess.run([sys.executable, str(REPO / "tools" / "bench_sampling.py"), str(prepared), "--epochs", "1"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "300 training pairs, unigram sampling, nbest 16, alpha 0.2" in run.stdout
    assert "sampling one epoch (both sides)" in run.stdout
