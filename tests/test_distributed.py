"""nmt-train under torchrun: 2 CPU processes (gloo), as a user launches them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import config_text, wait_for

from nmt.checkpoint import load_checkpoint

TINY = """
model: {{variant: rnnsearch, embed_size: 16, encoder_hidden: 16, decoder_hidden: 32, attention_size: 16, dropout: {dropout}}}
train: {{batch_tokens: 500, validate_every: 4, log_every: 2, max_epochs: 50, patience: 50, max_steps: 8{extra}}}
decode: {{beam_size: 2}}
"""


def write_config(tmp_path, corpus_dir, name: str, *, dropout: float = 0.0, extra: str = ""):
    path = tmp_path / f"{name}.yaml"
    path.write_text(config_text(corpus_dir, tmp_path / name, extra=TINY.format(dropout=dropout, extra=extra)),
                    encoding="utf-8")
    return path


def torchrun(config, *args, nproc: int = 2, wait: bool = True):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "nmt.cli.train", "--config", str(config), *args]
    if not wait:
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def train(config, *args):
    return subprocess.run([sys.executable, "-m", "nmt.cli.train", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=300)


def test_two_processes_make_the_update_of_one_process_over_both_batches(tmp_path, corpus_dir):
    two = torchrun(write_config(tmp_path, corpus_dir, "two"))
    assert two.returncode == 0, two.stderr[-3000:]
    one = train(write_config(tmp_path, corpus_dir, "one"), "--set", "train.accumulate=2")
    assert one.returncode == 0, one.stderr
    a = load_checkpoint(tmp_path / "one" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "two" / "checkpoints" / "last.pt")
    assert a["step"] == b["step"] == 8 and b["world_size"] == 2
    for name, tensor in a["model"].items():
        torch.testing.assert_close(b["model"][name], tensor, atol=1e-5, rtol=1e-4, msg=name)
    # Validation is shared out and gathered: the same dev scores as one process.
    assert b["progress"]["history"][-1]["loss"] == pytest.approx(a["progress"]["history"][-1]["loss"], rel=1e-5)
    # Rank 0 alone wrote the log: each validation appears once.
    log = (tmp_path / "two" / "train.log").read_text()
    assert log.count("validation at step 4:") == 1 and "2 processes" in log


def test_two_processes_resume_exactly_with_subword_sampling(tmp_path, corpus_dir):
    """Dropout and each process's own sampled segmentation go on where they stopped."""
    sampling = ", sampling_alpha: 0.2"
    straight = torchrun(write_config(tmp_path, corpus_dir, "straight", dropout=0.3, extra=sampling))
    assert straight.returncode == 0, straight.stderr[-3000:]
    assert "subword sampling alpha 0.2" in (tmp_path / "straight" / "train.log").read_text()
    for rank in range(2):  # each process segments its own share
        assert list((tmp_path / "straight" / "data" / "sampled" / f"rank{rank}").glob("train.e*.src.bin"))
    split = write_config(tmp_path, corpus_dir, "split", dropout=0.3, extra=sampling)
    assert torchrun(split, "--set", "train.max_steps=4").returncode == 0
    resumed = torchrun(split, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")
    assert a["step"] == b["step"] == 8
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    for rank in range(2):  # each process's dropout stream went on where it stopped
        assert torch.equal(a["rng_by_rank"][rank]["torch"], b["rng_by_rank"][rank]["torch"])
    # Another number of processes: one line saying why, before anything changes.
    other = train(split, "--resume", "--set", "train.max_steps=12")
    assert other.returncode == 2 and "Traceback" not in other.stderr
    assert "was written by 2 training process(es), this run has 1: resume with 2" in other.stderr


def worker_pids(launcher: subprocess.Popen) -> dict[int, int]:
    """rank -> pid of torchrun's two workers."""
    pids = subprocess.run(["pgrep", "-P", str(launcher.pid)], capture_output=True, text=True, timeout=30).stdout.split()
    ranks = {}
    for pid in pids:
        environ = dict(item.split(b"=", 1) for item in open(f"/proc/{pid}/environ", "rb").read().split(b"\0") if b"=" in item)
        ranks[int(environ[b"RANK"])] = int(pid)
    return ranks


def two_ranks_validating(tmp_path, corpus_dir, *, rank_timeout: int) -> tuple[subprocess.Popen, dict[int, int]]:
    """A 2-process run (torchrun) that has validated once, and its workers' pids by rank."""
    config = write_config(tmp_path, corpus_dir, "run",
                          extra=f", validate_every: 3, max_steps: 100000, rank_timeout: {rank_timeout}")
    launcher = torchrun(config, "--quiet", wait=False)
    wait_for(tmp_path / "run" / "train.log", "validation at step 3:")
    ranks = worker_pids(launcher)
    assert len(ranks) == 2
    return launcher, ranks


def test_a_killed_rank_stops_the_other_with_one_line_and_leaves_last_pt(tmp_path, corpus_dir):
    launcher, ranks = two_ranks_validating(tmp_path, corpus_dir, rank_timeout=20)
    killed_at = time.time()
    os.kill(ranks[1], signal.SIGKILL)
    _, stderr = launcher.communicate(timeout=120)
    assert launcher.returncode != 0 and time.time() - killed_at < 60
    assert "nmt-train: error: distributed: rank 0 lost contact with another rank" in stderr
    for pid in ranks.values():  # no process is left behind
        assert not os.path.exists(f"/proc/{pid}") or "zombie" in open(f"/proc/{pid}/status").read()
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["step"] % 3 == 0


def test_a_patience_stop_ends_both_processes_at_the_same_update(tmp_path, corpus_dir):
    # lr 0: dev BLEU never improves, so patience 2 stops the run at the third validation.
    config = write_config(tmp_path, corpus_dir, "run", extra=", lr: 0.0, patience: 2, max_steps: 1000, stop_metric: loss")
    result = torchrun(config)
    assert result.returncode == 0, result.stderr[-3000:]
    log = (tmp_path / "run" / "train.log").read_text()
    assert "stopped at step 12: no improvement of dev loss in 2 validations" in log
    assert log.count("stopped at step") == 1
    assert len(list((tmp_path / "run" / "tb").glob("events.out.tfevents.*"))) == 1
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["step"] == 12


def test_a_stalled_rank_stops_the_other_within_rank_timeout_and_none_is_left(tmp_path, corpus_dir):
    launcher, ranks = two_ranks_validating(tmp_path, corpus_dir, rank_timeout=3)
    os.kill(ranks[1], signal.SIGSTOP)  # alive but silent: only the timeout can tell
    stalled_at = time.time()
    try:
        while os.path.exists(f"/proc/{ranks[0]}") and "zombie" not in open(f"/proc/{ranks[0]}/status").read():
            assert time.time() - stalled_at < 60, "rank 0 still waits for the stalled rank"
            time.sleep(0.2)
        waited = time.time() - stalled_at
    finally:
        os.kill(ranks[1], signal.SIGCONT)  # torchrun's SIGTERM can reach it now
    _, stderr = launcher.communicate(timeout=120)
    assert launcher.returncode != 0 and waited < 30
    assert "nmt-train: error: distributed: rank 0 lost contact with another rank" in stderr
    for pid in ranks.values():
        assert not os.path.exists(f"/proc/{pid}") or "zombie" in open(f"/proc/{pid}/status").read()


@pytest.mark.parametrize("how", ["SIGTERM to torchrun", "Ctrl-C to the process group"])
def test_a_signal_stops_every_rank_at_the_same_update_and_resume_continues(tmp_path, corpus_dir, how):
    config = write_config(tmp_path, corpus_dir, "run", extra=", validate_every: 2, max_steps: 100000")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "nmt.cli.train", "--config", str(config), "--quiet"]
    launcher = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
    log = tmp_path / "run" / "train.log"
    wait_for(log, "validation at step 4:")
    if how.startswith("SIGTERM"):
        launcher.send_signal(signal.SIGTERM)
    else:
        os.killpg(launcher.pid, signal.SIGINT)  # what a terminal sends every process of the job
    launcher.communicate(timeout=120)
    assert launcher.returncode != 0
    text = log.read_text()
    assert text.count("interrupted at step") == 1  # rank 0 speaks for both; both stopped at that update
    step = int(text.split("interrupted at step ")[1].split(";")[0])
    last = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert last["step"] == step and last["world_size"] == 2
    if not how.startswith("SIGTERM"):
        return  # resuming after either signal is the same: the SIGTERM case shows it
    resumed = torchrun(config, "--resume", "--set", f"train.max_steps={step + 2}")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["step"] == step + 2


def test_max_minutes_ends_every_rank_at_the_same_update(tmp_path, corpus_dir):
    config = write_config(tmp_path, corpus_dir, "run", extra=", max_steps: 100000, max_minutes: 0.05")
    result = torchrun(config)
    assert result.returncode == 0, result.stderr[-3000:]
    log = (tmp_path / "run" / "train.log").read_text()
    assert log.count("stopped at step") == 1 and "reached max_minutes 0.05" in log
    step = int(log.split("stopped at step ")[1].split(":")[0])
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["step"] == step > 1
