"""The TASKS registry: a config's `task:` picks its config class, data preparation, trainer task and reader."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields

import numpy as np
import pytest
from conftest import run_in_process

from nmt.errors import ConfigError, NmtError
from nmt.tasks import TASKS, _import, load_config, require_task, spec_of, task_of  # _import: the entries' strings


@pytest.mark.parametrize("name", list(TASKS))
def test_every_registered_task_names_things_that_exist(name):
    spec = TASKS[name]
    config = spec.config_class()
    assert {"task", "exp_dir", "train"} <= {f.name for f in fields(config)}
    assert config().task == name
    for target in (spec.prepare, spec.format_summary, spec.task):
        assert callable(_import(target)), target
    task_class = spec.task_class()
    assert "loss" in task_class.metrics and task_class.unit


def test_the_task_key_picks_the_config_class_and_an_unknown_task_is_one_line(tmp_path):
    char = tmp_path / "char.yaml"
    char.write_text("task: char_lm\ndata: {train: a.txt, dev: b.txt}\n", encoding="utf-8")
    cfg = load_config(char)
    assert spec_of(cfg).name == "char_lm" and type(cfg).__name__ == "CharLMConfig" and cfg.exp_dir == "exp/char"
    cfg = load_config(char, ["task=translation", "data={train: {src: a, tgt: b}, dev: {src: c, tgt: d}}"])
    assert spec_of(cfg).name == "translation" and type(cfg).__name__ == "Config"
    with pytest.raises(ConfigError, match=r"task = 'chat_lm' is not valid: expected one of 'translation', 'char_lm'"):
        load_config(char, ["task=chat_lm"])


def test_an_older_char_config_with_data_valid_still_reads(tmp_path):
    old = tmp_path / "old.yaml"
    old.write_text("task: char_lm\ndata: {train: a.txt, valid: b.txt}\n", encoding="utf-8")
    assert load_config(old).data.dev == "b.txt"


def test_a_model_directory_of_another_task_names_the_command_that_reads_it(tmp_path):
    (tmp_path / "config.yaml").write_text("task: char_lm\n", encoding="utf-8")
    assert task_of(tmp_path).name == "char_lm"
    with pytest.raises(NmtError, match="holds a character model .* not a translation model; sample from it"):
        require_task(tmp_path, "translation")
    with pytest.raises(NmtError, match="is not an experiment directory"):
        task_of(tmp_path / "nothing")


def test_nmt_prepare_prepares_a_char_config(tmp_path):
    text = "int main(void) { return 0; }\n" * 50
    (tmp_path / "train.txt").write_text(text, encoding="utf-8")
    (tmp_path / "dev.txt").write_text(text[:300] + "é", encoding="utf-8")
    config = tmp_path / "lm.yaml"
    config.write_text(f"task: char_lm\nexp_dir: {tmp_path / 'lm'}\n"
                      f"data: {{train: {tmp_path}/train.txt, dev: {tmp_path}/dev.txt}}\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "nmt.cli.prepare", "--config", str(config)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "dev: 301 characters (1 unknown)" in result.stdout and "vocabulary: 19 characters" in result.stdout
    assert len(np.load(tmp_path / "lm" / "data" / "train.npy")) == len(text)
    assert (tmp_path / "lm" / "vocab.json").is_file() and (tmp_path / "lm" / "config.yaml").is_file()


def test_init_from_on_a_task_that_cannot_fine_tune_is_one_line_before_anything_starts(tmp_path, monkeypatch, capsys):
    from nmt.cli import train as train_cli

    config = tmp_path / "lm.yaml"
    config.write_text(f"task: char_lm\nexp_dir: {tmp_path / 'lm'}\ndata: {{train: a.txt, dev: b.txt}}\n", encoding="utf-8")
    code, _, err = run_in_process(monkeypatch, capsys, train_cli.main, "nmt-train", "--config", str(config),
                                  "--init-from", str(tmp_path), "--nproc", "2")
    assert code == 2 and "--init-from fine-tunes translation, captioning models; a char_lm run starts afresh" in err
    assert not (tmp_path / "lm").exists()  # refused before torchrun or data preparation
