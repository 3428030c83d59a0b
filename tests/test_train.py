"""nmt-train as a user runs it: exact resume, refusals, corrupt checkpoints, NaN, SIGINT, TensorBoard."""

from __future__ import annotations

import math
import shutil
import signal
import subprocess
import sys

import pytest
import torch
from conftest import config_text, make_pairs, run_cli, wait_for, write_plain

from nmt.checkpoint import load_checkpoint
from nmt.errors import ConfigError, NmtError
from nmt.tasks import load_config

TINY = """
model: {variant: rnnsearch, embed_size: 16, encoder_hidden: 16, decoder_hidden: 32, attention_size: 16, dropout: 0.3}
train: {batch_tokens: 1000, validate_every: 6, log_every: 2, max_epochs: 50, patience: 50}
decode: {beam_size: 2}
"""


def write_config(tmp_path, corpus_dir, name: str, extra: str = TINY):
    path = tmp_path / f"{name}.yaml"
    path.write_text(config_text(corpus_dir, tmp_path / name, extra=extra), encoding="utf-8")
    return path


def train(config, *args):
    return run_cli("nmt.cli.train", "--config", str(config), *args)



def translation_trainer(cfg):
    """The Trainer nmt-train builds for a translation config (data already prepared), quiet."""
    from nmt.launch import build_task
    from nmt.train import Trainer

    device = torch.device("cpu")
    task = build_task(cfg, device=device)
    return Trainer(task, cfg.train, exp_dir=cfg.exp_dir, device=device, quiet=True)

def test_resumed_run_ends_with_identical_parameters(tmp_path, corpus_dir):
    straight = write_config(tmp_path, corpus_dir, "straight")
    split = write_config(tmp_path, corpus_dir, "split")
    assert train(straight, "--set", "train.max_steps=12").returncode == 0
    first = train(split, "--set", "train.max_steps=6")
    assert first.returncode == 0, first.stderr
    second = train(split, "--set", "train.max_steps=12", "--resume")
    assert second.returncode == 0, second.stderr
    assert "resuming at step 6" in second.stderr
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")
    assert a["step"] == b["step"] == 12
    assert a["iterator"] == b["iterator"] and a["iterator"]["epoch"] > 1  # the runs crossed an epoch
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One small finished run that the tests below only read (or copy): 6 updates, a validation after each,
    the two most recent step checkpoints kept."""
    root = tmp_path_factory.mktemp("trained")
    corpus = root / "corpus"
    corpus.mkdir()
    for split, n, seed in (("train", 400, 1), ("dev", 30, 2), ("test", 30, 3)):
        write_plain(corpus, split, make_pairs(n, seed))
    config = write_config(root, corpus, "run", TINY.replace("validate_every: 6", "validate_every: 1"))
    result = train(config, "--set", "train.max_steps=6", "--set", "train.keep_last=2")
    assert result.returncode == 0, result.stderr
    return config


def test_existing_run_is_not_overwritten_and_resume_refuses_a_changed_model(trained):
    again = train(trained, "--set", "train.max_steps=8")
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert "already holds a training run; continue it with --resume" in again.stderr
    changed = train(trained, "--resume", "--set", "model.dropout=0.1")
    assert changed.returncode == 2
    assert "--resume with a changed config (model.dropout: 0.3 -> 0.1)" in changed.stderr


def test_corrupt_checkpoint_is_one_line_naming_the_file(trained, tmp_path):
    shutil.copytree(trained.parent / "run", tmp_path / "run")
    config = tmp_path / "run.yaml"
    config.write_text(trained.read_text().replace(str(trained.parent / "run"), str(tmp_path / "run")), encoding="utf-8")
    last = tmp_path / "run" / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[:1000])  # truncated, as by a full disk
    result = train(config, "--resume", "--set", "train.max_steps=8")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"checkpoint: {last} is truncated or corrupt" in result.stderr.strip().splitlines()[-1]


def test_checkpoints_are_written_atomically_and_pruned(trained):
    files = sorted(p.name for p in (trained.parent / "run" / "checkpoints").iterdir())
    assert not [f for f in files if f.endswith(".tmp")]
    steps = [f for f in files if f.startswith("step-")]
    assert "best.pt" in files and "last.pt" in files and "step-6.pt" in files and "step-5.pt" in files
    assert len(steps) <= 3  # two most recent, plus the best when it is older


def test_tensorboard_holds_the_promised_tags(trained):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = trained.parent / "run"
    events = EventAccumulator(str(run / "tb"), size_guidance={"images": 0, "tensors": 0})
    events.Reload()
    tags = events.Tags()
    for tag in ("train/loss", "train/ppl", "train/lr", "train/grad_norm", "train/tokens_per_sec",
                "dev/loss", "dev/ppl", "dev/bleu", "dev/chrf"):
        assert tag in tags["scalars"], tag
    assert "dev/translations/text_summary" in tags["tensors"]
    assert {"dev/attention/0", "dev/attention/1", "dev/attention/2"} <= set(tags["images"])
    hparams_runs = [d for d in (run / "tb").iterdir() if d.is_dir()]
    assert hparams_runs, "add_hparams writes its own run directory"
    log = (run / "train.log").read_text()
    assert "validation at step 6" in log and "BLEU" in log and "nrefs:1|case:mixed" in log


def test_interrupt_saves_a_checkpoint_that_resume_continues(tmp_path, corpus_dir):
    config = write_config(tmp_path, corpus_dir, "run", TINY.replace("validate_every: 6", "validate_every: 100000"))
    process = subprocess.Popen([sys.executable, "-m", "nmt.cli.train", "--config", str(config)],
                               stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    wait_for(tmp_path / "run" / "train.log", "step 4 ")
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130 and "Traceback" not in stderr
    assert "interrupted at step" in stderr
    step = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["step"]
    assert step >= 4
    resumed = train(config, "--resume", "--set", f"train.max_steps={step + 2}")
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming at step {step}" in resumed.stderr


def test_nan_losses_are_skipped_then_stop_the_run(tmp_path, corpus_dir, monkeypatch):
    from nmt import translation_task
    from nmt.prepare import Preparer

    config = write_config(tmp_path, corpus_dir, "run")
    cfg = load_config(config, ["train.max_steps=20"])
    Preparer(cfg, log=lambda line: None).run()
    calls = {"n": 0}
    real_loss = translation_task.token_loss

    def sometimes_nan(model, batch, *, label_smoothing=0.0):
        calls["n"] += 1
        loss = real_loss(model, batch, label_smoothing=label_smoothing)
        return loss * float("nan") if calls["n"] == 2 or calls["n"] >= 4 else loss

    monkeypatch.setattr(translation_task, "token_loss", sometimes_nan)
    trainer = translation_trainer(cfg)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    with pytest.raises(NmtError, match=r"training diverged: 5 updates in a row had a NaN or infinite loss"):
        trainer.run()
    assert trainer.progress.skipped_updates == 6  # update 2, then 4..8
    assert trainer.step == 7  # the 8th update raised
    assert any(not torch.equal(before[k], v) for k, v in trainer.model.state_dict().items())
    assert all(torch.isfinite(v).all() for v in trainer.model.state_dict().values())
    assert "update skipped" in (tmp_path / "run" / "train.log").read_text()


def test_schedules_change_the_learning_rate_as_described():
    from nmt.config import TrainConfig
    from nmt.optim import Schedule, inverse_sqrt_factor

    assert inverse_sqrt_factor(50, 100) == 0.5 and inverse_sqrt_factor(400, 100) == 0.5
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=1.0)
    plateau = Schedule(optimizer, TrainConfig(optimizer="sgd", lr=1.0, schedule="plateau", plateau_patience=0,
                                              plateau_factor=0.5, stop_metric="bleu"), higher_is_better=True)
    plateau.after_validation(10.0)
    plateau.after_validation(9.0)  # worse: halve at once (patience 0)
    assert plateau.lr == 0.5
    warm_optimizer = torch.optim.SGD([param], lr=1.0)
    warm = Schedule(warm_optimizer, TrainConfig(lr=1.0, schedule="inverse_sqrt", warmup_steps=4), higher_is_better=True)
    rates = []
    for _ in range(8):
        rates.append(warm.lr)
        warm_optimizer.step()
        warm.after_update()
    assert rates[:4] == [0.25, 0.5, 0.75, 1.0] and math.isclose(rates[7], math.sqrt(4 / 8))
    cosine_optimizer = torch.optim.SGD([param], lr=1.0)
    cosine = Schedule(cosine_optimizer, TrainConfig(lr=1.0, schedule="cosine", warmup_steps=2, max_steps=10),
                      higher_is_better=True)
    rates = []
    for _ in range(10):
        rates.append(cosine.lr)
        cosine_optimizer.step()
        cosine.after_update()
    assert rates[:2] == [0.5, 1.0] and math.isclose(rates[5], 0.5)  # update 6: half-way from 2 to 10
    assert all(a > b for a, b in zip(rates[1:], rates[2:])) and rates[-1] < 0.04 and math.isclose(cosine.lr, 0.0)
    with pytest.raises(ConfigError, match=r"train.schedule = 'cosine' needs train.max_steps .* train.max_steps = None"):
        load_config({"data": {"train": {"src": "a", "tgt": "b"}, "dev": {"src": "c", "tgt": "d"}},
                          "train": {"schedule": "cosine"}})


def test_gradient_accumulation_equals_one_merged_batch(tmp_path, corpus_dir):
    from nmt.batching import collate
    from nmt.prepare import Preparer

    config = write_config(tmp_path, corpus_dir, "run", TINY.replace("dropout: 0.3", "dropout: 0.0"))
    cfg = load_config(config, ["train.accumulate=2"])
    Preparer(cfg, log=lambda line: None).run()
    first, second = translation_trainer(cfg), translation_trainer(cfg)
    batches = iter(first.iterator)
    b1, b2 = next(batches), next(batches)
    corpus = first.iterator.corpus
    indices = b1.indices.tolist() + b2.indices.tolist()
    merged = collate([corpus.src[i] for i in indices], [corpus.tgt[i] for i in indices], indices)
    loss_two, _, tokens_two = first.update([b1, b2])
    loss_one, _, tokens_one = second.update([merged])
    assert tokens_two == tokens_one and loss_two == pytest.approx(loss_one, rel=1e-5)
    for (name, a), b in zip(first.model.named_parameters(), second.model.parameters()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5, msg=name)


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU fp16 trains (tools/gpu_check.sh runs that)")
def test_fp16_needs_a_gpu_and_says_so_in_one_line(tmp_path, corpus_dir):
    """(bf16 on the CPU: tests/test_trainer_contract.py checks that the update runs in bfloat16.)"""
    fp16 = train(write_config(tmp_path, corpus_dir, "fp16"), "--set", "train.precision=fp16")
    assert fp16.returncode == 2 and "'fp16' needs a CUDA device" in fp16.stderr


def test_patience_stops_a_run_that_no_longer_improves(tmp_path, corpus_dir):
    config = write_config(tmp_path, corpus_dir, "run", TINY.replace("validate_every: 6", "validate_every: 1"))
    result = train(config, "--set", "train.lr=0", "--set", "train.patience=2", "--set", "train.stop_metric=loss")
    assert result.returncode == 0, result.stderr
    assert "stopped at step 3: no improvement of dev loss in 2 validations" in result.stderr


def test_a_killed_run_resumes_from_its_last_checkpoint(tmp_path, corpus_dir):
    config = write_config(tmp_path, corpus_dir, "run", TINY.replace("validate_every: 6", "validate_every: 2"))
    process = subprocess.Popen([sys.executable, "-m", "nmt.cli.train", "--config", str(config)],
                               stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    wait_for(tmp_path / "run" / "train.log", "validation at step 4")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    step = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["step"]
    resumed = train(config, "--resume", "--set", f"train.max_steps={step + 2}")
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming at step {step}" in resumed.stderr
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["step"] == step + 2
