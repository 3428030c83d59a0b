"""The lexical shortlist (nmt/shortlist.py): what it learns from sentence pairs, that search over all
pieces through it is search without it, and that a shortlisted search writes only listed pieces."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nmt.config import DecodeConfig, ModelConfig
from nmt.errors import NmtError
from nmt.models import build_model
from nmt.shortlist import Shortlist, learn_shortlist
from nmt.translate import Ensemble, Translator

SOURCES = [[5, 9, 7, 12, 6], [8, 4], [11, 13, 5, 9], [4, 4, 7]]


def test_a_word_always_translated_the_same_way_lists_that_word_first():
    rng = np.random.default_rng(0)
    pairs = []
    for _ in range(200):  # word w translates to w + 10; word 4 ("the") goes with everything
        words = list(rng.choice(np.arange(5, 9), size=3, replace=False))
        pairs.append(([4, *words], [14, *(w + 10 for w in words)]))
    shortlist = learn_shortlist([p[0] for p in pairs], [p[1] for p in pairs], src_vocab=20, tgt_vocab=20,
                                per_word=2, frequent=1)
    for word in range(5, 9):
        assert shortlist.table[word, 0] == word + 10  # Dice prefers the partner to the ubiquitous 14
    assert list(shortlist.frequent) == [14] and (shortlist.table[:4] == -1).all()  # unseen pieces list nothing
    assert set(shortlist.pieces([[5]])) == {0, 1, 2, 3, 14, 15} | {int(shortlist.table[5, 1])}


def _translator(shortlist, *, ensemble: bool = False, never: list[int] | None = None):
    torch.manual_seed(0)
    models = [build_model(ModelConfig(variant="rnnsearch", embed_size=12, encoder_hidden=10, decoder_hidden=14,
                                      attention_size=8, dropout=0.0, tie_embeddings=tied), 30, 30).eval()
              for tied in ((True, False) if ensemble else (True,))]
    for model in models:
        model.forbid_outputs(never or [])
    decode = DecodeConfig(beam_size=3, nbest=3, max_length_a=1.0, max_length_b=3)
    return Translator(Ensemble(models) if ensemble else models[0], None, decode=decode, shortlist=shortlist)


@pytest.mark.parametrize("ensemble", [False, True])
def test_a_shortlist_of_every_piece_searches_as_no_shortlist(ensemble):
    everything = Shortlist(np.arange(30, dtype=np.int32)[None, :].repeat(30, 0), np.zeros(0, np.int32))
    plain = _translator(None, ensemble=ensemble).translate_ids(SOURCES)
    listed = _translator(everything, ensemble=ensemble).translate_ids(SOURCES)
    for mine, theirs in zip(listed, plain):
        assert [h.tokens for h in mine] == [h.tokens for h in theirs]
        assert [h.score for h in mine] == pytest.approx([h.score for h in theirs], abs=1e-5)


def test_a_shortlisted_search_writes_only_listed_pieces_and_never_a_forbidden_one():
    table = np.full((30, 2), -1, dtype=np.int32)
    table[5], table[9] = [20, 21], [22, 29]
    shortlist = Shortlist(table, np.array([25], dtype=np.int32))
    hyps = _translator(shortlist, never=[29]).translate_ids([[5, 9], [5]])  # one batch: its union of pieces
    written = {token for sentence in hyps for h in sentence for token in h.tokens}
    assert written and written <= {0, 1, 2, 20, 21, 22, 25}  # the specials (but EOS, which ends), the listed


def test_translating_with_a_shortlist_that_was_never_made_is_one_line(tmp_path):
    with pytest.raises(NmtError, match="nmt-shortlist --model"):
        Shortlist.load(tmp_path)
