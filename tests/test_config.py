from __future__ import annotations

from pathlib import Path

import pytest

from nmt.config import Config
from nmt.config_files import apply_overrides, save_config
from nmt.errors import ConfigError
from nmt.tasks import load_config

PLAIN = {"train": {"src": "a.de", "tgt": "a.en"}, "dev": {"src": "b.de", "tgt": "b.en"}}


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_build_and_values_are_typed():
    cfg = load_config({"data": PLAIN, "model": {"dropout": 0}})
    assert isinstance(cfg, Config)
    assert cfg.model.dropout == 0.0 and isinstance(cfg.model.dropout, float)
    assert cfg.data.train[0].format == "plain" and cfg.data.test is None


def test_unknown_key_names_it_and_the_closest_valid_key():
    with pytest.raises(ConfigError, match=r"unknown key 'model.dropuot' \(did you mean 'dropout'\?\)"):
        load_config({"data": PLAIN, "model": {"dropuot": 0.1}})


def test_unknown_key_without_close_match_lists_valid_keys():
    with pytest.raises(ConfigError, match=r"unknown key 'tokenizer.zzz' \(valid keys: model_type, vocab_size"):
        load_config({"data": PLAIN, "tokenizer": {"zzz": 1}})


@pytest.mark.parametrize(
    "section, key, value, expected",
    [
        ("model", "hidden_size", 3, r"unknown key 'model.hidden_size'"),
        ("model", "embed_size", "big", r"model.embed_size = 'big' is not valid: expected an integer"),
        ("model", "embed_size", True, r"model.embed_size = True is not valid: expected an integer"),
        ("model", "cell", "lstn", r"model.cell = 'lstn' is not valid: expected one of 'lstm', 'gru', 'rnn'"),
        ("model", "reverse_source", "yes", r"model.reverse_source = 'yes' is not valid: expected true or false"),
        ("model", "dropout", 1.0, r"model.dropout = 1.0 is out of range: expected in \[0.0, 1.0\)"),
        ("tokenizer", "vocab_size", 0, r"tokenizer.vocab_size = 0 is out of range: expected at least 8"),
        ("train", "batch_size", 0, r"train.batch_size = 0 is out of range"),
    ],
)
def test_bad_values_name_key_value_and_what_is_allowed(section, key, value, expected):
    with pytest.raises(ConfigError, match=expected):
        load_config({"data": PLAIN, section: {key: value}})


def test_optional_fields_accept_null():
    cfg = load_config({"data": PLAIN, "train": {"batch_size": None}, "model": {"bidirectional": None}})
    assert cfg.train.batch_size is None and cfg.model.bidirectional is None


def test_section_must_be_a_mapping():
    with pytest.raises(ConfigError, match="config: model must be a mapping"):
        load_config({"data": PLAIN, "model": 3})


def test_plain_corpus_needs_both_files_and_hf_needs_a_path():
    with pytest.raises(ConfigError, match=r"data.train has format 'plain' and needs both data.train.src and data.train.tgt"):
        load_config({"data": {"train": {"src": "x"}, "dev": PLAIN["dev"]}})
    with pytest.raises(ConfigError, match=r"data.dev has format 'hf' and needs data.dev.path"):
        load_config({"data": {"train": PLAIN["train"], "dev": {"format": "hf"}}})


def test_shared_embeddings_need_a_joint_vocabulary():
    with pytest.raises(ConfigError, match="share_embeddings needs tokenizer.joint"):
        load_config({"data": PLAIN, "model": {"share_embeddings": True}, "tokenizer": {"joint": False}})


def test_overrides_parse_values_as_yaml_and_create_sections():
    raw = apply_overrides({"model": {"cell": "gru"}}, ["model.dropout=0.1", "model.reverse_source=true",
                                                       "train.seed=7", "data.train.src=x y.de"])
    assert raw["model"] == {"cell": "gru", "dropout": 0.1, "reverse_source": True}
    assert raw["train"]["seed"] == 7 and raw["data"]["train"]["src"] == "x y.de"


def test_override_without_equals_sign_is_an_error():
    with pytest.raises(ConfigError, match=r"--set 'model.dropout' is not valid: expected section.key=value"):
        apply_overrides({}, ["model.dropout"])


def test_misspelled_override_is_caught_like_a_file_key(tmp_path):
    path = write(tmp_path / "c.yaml", "data: {train: {src: a, tgt: b}, dev: {src: c, tgt: d}}\n")
    with pytest.raises(ConfigError, match=r"unknown key 'model.dropot' \(did you mean 'dropout'\?\)"):
        load_config(path, ["model.dropot=0.2"])


def test_base_file_is_merged_under_the_config_relative_to_it(tmp_path):
    (tmp_path / "conf").mkdir()
    write(tmp_path / "conf" / "base.yaml", "data: {train: {src: a, tgt: b}, dev: {src: c, tgt: d}}\nmodel: {cell: gru, dropout: 0.5}\n")
    path = write(tmp_path / "conf" / "small.yaml", "base: base.yaml\nmodel: {dropout: 0.1}\n")
    cfg = load_config(path, ["model.embed_size=32"])
    assert (cfg.model.cell, cfg.model.dropout, cfg.model.embed_size) == ("gru", 0.1, 32)
    assert cfg.data.train[0].src == "a"
    assert cfg.exp_dir == str(Path("exp") / "small")


def test_a_list_of_bases_merges_in_order(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "corpus").mkdir()
    write(tmp_path / "model" / "rnnsearch.yaml", "model: {variant: rnnsearch, dropout: 0.3, embed_size: 64}\n")
    write(tmp_path / "corpus" / "base.yaml",
          "data: {train: {src: a, tgt: b}, dev: {src: c, tgt: d}}\nmodel: {dropout: 0.2}\n")
    path = write(tmp_path / "corpus" / "rnnsearch.yaml", "base: [../model/rnnsearch.yaml, base.yaml]\nmodel: {embed_size: 32}\n")
    cfg = load_config(path)
    assert (cfg.model.variant, cfg.model.dropout, cfg.model.embed_size) == ("rnnsearch", 0.2, 32)
    write(tmp_path / "bad.yaml", "base: [base.yaml, 3]\n")
    with pytest.raises(ConfigError, match="expected a file path or a list of them"):
        load_config(tmp_path / "bad.yaml")


def test_base_cycle_is_an_error(tmp_path):
    write(tmp_path / "a.yaml", "base: b.yaml\n")
    write(tmp_path / "b.yaml", "base: a.yaml\n")
    with pytest.raises(ConfigError, match="includes itself"):
        load_config(tmp_path / "a.yaml")


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = write(tmp_path / "bad.yaml", "model:\n  cell: lstm\n  dropout: [0.1\n")
    with pytest.raises(ConfigError, match=r"bad.yaml line \d+, column \d+"):
        load_config(path)


def test_missing_config_file_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match="config: file not found: .*nope.yaml"):
        load_config(tmp_path / "nope.yaml")


def test_saved_config_loads_back_equal(tmp_path):
    cfg = load_config({"exp_dir": str(tmp_path / "exp"), "data": PLAIN, "model": {"variant": "luong", "score": "dot", "decoder_hidden": 256}})
    save_config(cfg, tmp_path / "exp" / "config.yaml")
    assert load_config(tmp_path / "exp" / "config.yaml") == cfg
