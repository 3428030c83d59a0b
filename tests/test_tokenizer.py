from __future__ import annotations

import pytest
from conftest import make_pairs

from nmt.errors import DataError, NmtError
from nmt.specials import BOS, EOS, PAD, UNK
from nmt.tokenizer import Tokenizer, train_sentencepiece


@pytest.fixture
def text_files(tmp_path):
    pairs = make_pairs(300)
    src, tgt = tmp_path / "train.src", tmp_path / "train.tgt"
    src.write_text("".join(p[0] + "\n" for p in pairs), encoding="utf-8")
    tgt.write_text("".join(p[1] + "\n" for p in pairs), encoding="utf-8")
    return src, tgt


OPTIONS = dict(model_type="unigram", vocab_size=50, character_coverage=1.0, input_sentence_size=10_000)


def test_joint_model_has_fixed_special_ids_and_round_trips(tmp_path, text_files):
    train_sentencepiece(list(text_files), tmp_path / "exp" / "spm", **OPTIONS)
    tok = Tokenizer.load(tmp_path / "exp")
    assert tok.joint and tok.src_vocab_size == tok.tgt_vocab_size == 50
    assert [tok.src.id_to_piece(i) for i in (UNK, PAD, BOS, EOS)] == ["<unk>", "<pad>", "<s>", "</s>"]
    texts = ["katze hund baum .", "the cat sat ."]
    ids = tok.encode_src(texts)
    assert all(isinstance(i, int) and i > EOS or i == UNK for seq in ids for i in seq)
    assert tok.decode_src(ids)[0] == texts[0]
    # Control symbols vanish in decoding.
    assert tok.decode_tgt([[BOS] + tok.encode_tgt(["house ."])[0] + [EOS, PAD]]) == ["house ."]


def test_separate_models_and_bpe(tmp_path, text_files):
    options = dict(OPTIONS, model_type="bpe")
    train_sentencepiece([text_files[0]], tmp_path / "spm.src", **options)
    train_sentencepiece([text_files[1]], tmp_path / "spm.tgt", **dict(options, vocab_size=45))
    tok = Tokenizer.load(tmp_path)
    assert not tok.joint and (tok.src_vocab_size, tok.tgt_vocab_size) == (50, 45)
    assert tok.decode_tgt(tok.encode_tgt(["garden door ."])) == ["garden door ."]


def test_too_large_vocabulary_is_one_clear_error(tmp_path, text_files):
    with pytest.raises(DataError, match=r"cannot train a unigram vocabulary of 5000 on .*train.src"):
        train_sentencepiece([text_files[0]], tmp_path / "spm", **dict(OPTIONS, vocab_size=5000))


def test_missing_model_is_one_clear_error(tmp_path):
    with pytest.raises(NmtError, match="no SentencePiece model in"):
        Tokenizer.load(tmp_path)


def test_corrupt_model_is_one_clear_error(tmp_path):
    (tmp_path / "spm.model").write_bytes(b"not a model")
    with pytest.raises(NmtError, match="cannot load SentencePiece model .*spm.model"):
        Tokenizer.load(tmp_path)
