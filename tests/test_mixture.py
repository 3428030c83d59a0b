"""Several training corpora in one config (nmt/mixture.py): weights honoured in expectation, a tag that
is one reserved symbol before the tagged sources only and never in an output, exact resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_pairs, train_straight_and_resumed, write_plain

from nmt.batching import BatchIterator, ParallelArrays
from nmt.config import DecodeConfig, ModelConfig
from nmt.errors import ConfigError
from nmt.experiment import load_model
from nmt.mixture import CORPUS_FILE, Mixture
from nmt.models import build_model
from nmt.prepare import Preparer, format_summary
from nmt.search import generate
from nmt.tasks import load_config
from nmt.tokenizer import Tokenizer

MIXED = """
exp_dir: {exp}
data:
  train:
    - {{src: {corpus}/train.de, tgt: {corpus}/train.en, weight: 2}}
    - {{src: {corpus}/synthetic.de, tgt: {corpus}/synthetic.en, weight: 0.5, tag: "<bt>"}}
  dev: {{src: {corpus}/dev.de, tgt: {corpus}/dev.en}}
  test: {{src: {corpus}/test.de, tgt: {corpus}/test.en}}
tokenizer: {{vocab_size: 50}}
model: {{variant: rnnsearch, embed_size: 16, encoder_hidden: 16, decoder_hidden: 32, attention_size: 16, dropout: 0.0}}
train: {{batch_tokens: 4000, validate_every: 4, max_epochs: 50, patience: 50}}
decode: {{beam_size: 2}}
"""


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mixture")
    corpus = root / "corpus"
    corpus.mkdir()
    for split, n, seed in (("train", 200, 1), ("synthetic", 100, 5), ("dev", 20, 2), ("test", 20, 3)):
        write_plain(corpus, split, make_pairs(n, seed))
    (root / "run.yaml").write_text(MIXED.format(exp=root / "run", corpus=corpus), encoding="utf-8")
    Preparer(load_config(root / "run.yaml"), log=lambda line: None).run()
    return root / "run"


def mixture(exp_dir: Path) -> Mixture:
    tokenizer = Tokenizer.load(exp_dir)
    return Mixture.load(exp_dir / "data", [2.0, 0.5], [None, tokenizer.tag_id("<bt>")])


def test_prepare_writes_the_corpora_in_order_and_says_what_each_gave(prepared):
    cfg = load_config(prepared / "config.yaml")
    corpus_of_pair = np.load(prepared / "data" / CORPUS_FILE)
    assert corpus_of_pair.tolist() == [0] * 200 + [1] * 100
    train = (prepared / "data" / "train.src").read_text(encoding="utf-8").splitlines()
    synthetic = (prepared.parent / "corpus" / "synthetic.de").read_text(encoding="utf-8").splitlines()
    assert train[200:] == synthetic and "<bt>" not in "".join(train)  # the tag is not in the text
    summary = format_summary(Preparer(cfg, log=lambda line: None).run(), cfg)
    assert "[0]" in summary and "[1]" in summary and "(weight 0.5, tag <bt>): 100 pairs kept of 100" in summary


def test_weights_are_honoured_in_expectation_and_each_epoch_is_a_pure_function_of_it(prepared):
    mix = mixture(prepared)
    counts = np.stack([np.bincount(mix.draw(seed=1, epoch=e), minlength=300) for e in range(1, 81)])
    assert (counts[:, :200] == 2).all()  # weight 2: every real pair twice in every epoch
    assert set(np.unique(counts[:, 200:])) == {0, 1}
    assert abs(counts[:, 200:].mean() - 0.5) < 0.03  # weight 0.5: half of them, in expectation ...
    assert not np.array_equal(counts[0], counts[1])  # ... another half each epoch
    assert np.array_equal(mix.draw(seed=1, epoch=3), mix.draw(seed=1, epoch=3))
    assert not np.array_equal(mix.draw(seed=2, epoch=3), mix.draw(seed=1, epoch=3))


def test_the_tag_is_one_reserved_symbol_before_tagged_sources_only(prepared):
    tokenizer = Tokenizer.load(prepared)
    tag = tokenizer.tag_id("<bt>")
    assert tokenizer.never_output_ids() == [tag]  # the one symbol search must not propose
    assert tag not in tokenizer.encode_src(["<bt> haus katze ."])[0]  # no text is ever split into it
    assert tokenizer.decode_src([[tag, *tokenizer.encode_src(["haus ."])[0]]]) == ["haus ."]
    corpus = ParallelArrays(prepared / "data", "train")
    iterator = BatchIterator(corpus, batch_tokens=4000, batch_size=None, seed=1, mixture=mixture(prepared))
    rows = 0
    for batch in iterator:
        for row, pair in enumerate(batch.indices.tolist()):
            plain = corpus.src[pair].tolist()
            expected = ([tag] if pair >= 200 else []) + plain
            assert batch.src[row, :len(expected)].tolist() == expected
            assert int(batch.src_lengths[row]) == len(expected) + 1  # and its EOS
            rows += 1
    assert 400 < rows < 480  # 2 x 200 real pairs and about 50 synthetic ones


def test_a_corpus_with_vocabulary_false_leaves_the_sentencepiece_model_as_the_others_alone_make_it(prepared):
    corpus, root = prepared.parent / "corpus", prepared.parent
    real_only = MIXED.replace("""    - {{src: {corpus}/synthetic.de, tgt: {corpus}/synthetic.en, weight: 0.5, tag: "<bt>"}}\n""", "")
    real_only = real_only.replace("weight: 2}}", 'weight: 2, tag: "<bt>"}}')  # the same reserved symbol
    (root / "real_only.yaml").write_text(real_only.format(exp=root / "real_only", corpus=corpus), encoding="utf-8")
    Preparer(load_config(root / "real_only.yaml"), log=lambda line: None).run()
    lines: list[str] = []
    cfg = load_config(root / "run.yaml", ["exp_dir=" + str(root / "no_synthetic_pieces"), "data.train.1.vocabulary=false"])
    Preparer(cfg, log=lines.append).run()
    vocabulary = (root / "no_synthetic_pieces" / "spm.vocab").read_bytes()
    assert vocabulary == (root / "real_only" / "spm.vocab").read_bytes()
    assert vocabulary != (prepared / "spm.vocab").read_bytes()  # learned from the synthetic pairs too
    assert "SentencePiece learns from 200 of 300 training pairs (the corpora with vocabulary: true)" in lines
    lines.clear()  # the flag changes no text: a second run with it off reuses the text, retrains the pieces
    Preparer(load_config(root / "run.yaml", ["exp_dir=" + str(root / "no_synthetic_pieces")]), log=lines.append).run()
    assert lines[0].startswith("reusing cleaned text") and (root / "no_synthetic_pieces" / "spm.vocab").read_bytes() \
        == (prepared / "spm.vocab").read_bytes()


def test_search_never_proposes_a_forbidden_id_even_the_most_probable():
    torch.manual_seed(0)
    model = build_model(ModelConfig(embed_size=8, encoder_hidden=8, decoder_hidden=16, attention_size=8), 30, 30).eval()
    with torch.no_grad():
        model.output.bias[7] = 50.0  # id 7 wins every step ...
    src, lengths = torch.tensor([[5, 6, 9, 3], [8, 3, 1, 1]]), torch.tensor([4, 2])
    greedy = DecodeConfig(method="greedy", max_length_b=5)
    assert all(7 in hyps[0].tokens for hyps in generate(model, src, lengths, greedy))
    model.forbid_outputs([7])  # ... until forbidden
    for decode in (greedy, DecodeConfig(beam_size=3, nbest=3), DecodeConfig(method="sample", max_length_b=5)):
        for hyps in generate(model, src, lengths, decode, generator=torch.Generator().manual_seed(1)):
            assert all(7 not in hyp.tokens for hyp in hyps)


def test_the_task_nmt_train_builds_trains_on_the_weighted_and_tagged_epoch(prepared):
    """The wiring from the config to the batches the loop gets (nmt-train's own build_task), not a log line."""
    from nmt.launch import build_task

    cfg = load_config(prepared / "config.yaml")
    task = build_task(cfg, device=torch.device("cpu"))
    tag = task.tokenizer.tag_id("<bt>")
    seen = np.zeros(300, dtype=int)
    for batch in task.iterator:  # the first epoch
        for row, index in enumerate(batch.indices.tolist()):
            seen[index] += 1
            assert (int(batch.src[row, 0]) == tag) == (index >= 200), index  # the tagged corpus, and it alone
    assert (seen[:200] == 2).all()  # weight 2
    assert set(np.unique(seen[200:])) == {0, 1} and 20 < seen[200:].sum() < 80  # weight 0.5


def test_nmt_train_on_a_mixture_resumes_exactly_and_its_model_never_outputs_the_tag(tmp_path, prepared):
    straight = train_straight_and_resumed(tmp_path, prepared.parent / "run.yaml", prepared, steps=8, stop_at=3)
    log = (straight / "train.log").read_text(encoding="utf-8")
    assert "300 training pairs from 200 x2 + 100 x0.5 <bt>" in log
    loaded = load_model(straight)  # as nmt-translate and nmt-serve load it: the tag forbidden
    assert loaded.model.never_output.tolist() == [loaded.tokenizer.tag_id("<bt>")]


@pytest.mark.parametrize("overrides, message", [
    (["data.dev.tag=<bt>"], "data.dev sets a weight, a tag or vocabulary: only training corpora take them"),
    (["data.test.vocabulary=false"], "data.test sets a weight, a tag or vocabulary: only training corpora take them"),
    (["data.train.0.vocabulary=false", "data.train.1.vocabulary=false"],
     "every data.train corpus sets vocabulary: false: SentencePiece needs one to learn from"),
    (["data.train.1.tag=bt"], r"data.train\[1\].tag = 'bt' is not valid: expected a name in angle brackets"),
    (["data.train.1.weight=0"], r"data.train\[1\].weight = 0 leaves the corpus out"),
    (["data.train.weight=3"], "data.train is a list of 2; name one by its number, from 0: data.train.0.weight"),
])
def test_mixture_mistakes_are_one_line(prepared, overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(prepared.parent / "run.yaml", overrides)


def test_under_data_parallelism_each_process_takes_its_share_of_the_same_mixed_epoch(prepared):
    corpus = ParallelArrays(prepared / "data", "train")

    def plan(rank: int, world_size: int) -> list[tuple[int, ...]]:
        iterator = BatchIterator(corpus, batch_tokens=400, batch_size=None, seed=1, rank=rank,
                                 world_size=world_size, mixture=mixture(prepared))
        return [tuple(batch) for batch in iterator.epoch_plan(2)]

    whole, first, second = plan(0, 1), plan(0, 2), plan(1, 2)
    assert len(first) == len(second) == len(whole) // 2
    assert first + second == [b for i, b in enumerate(whole[:2 * len(first)]) if i % 2 == 0] + \
        [b for i, b in enumerate(whole[:2 * len(first)]) if i % 2 == 1]
