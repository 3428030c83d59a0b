"""The training loop's contract with a task (nmt/tasks.py), pinned with a fake task that needs no
SentencePiece and no corpus: a linear regression whose dev score the test scripts."""

from __future__ import annotations

import os
import signal
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import nn

from nmt.checkpoint import load_checkpoint
from nmt.config import LoopConfig
from nmt.errors import NmtError
from nmt.tasks import Metric, Regularised, Validation
from nmt.train import Trainer

BATCHES_PER_EPOCH = 6


class FakeIterator:
    """Six batches an epoch, shuffled by (seed, epoch): the same batches in the same order on a resume."""

    def __init__(self):
        self.epoch, self.position = 1, 0
        data = torch.Generator().manual_seed(0)
        self.inputs = torch.randn(BATCHES_PER_EPOCH, 4, 3, generator=data)
        self.targets = self.inputs.sum(-1)

    def batches_in_epoch(self, epoch: int) -> int:
        return BATCHES_PER_EPOCH

    def __iter__(self):
        order = torch.randperm(BATCHES_PER_EPOCH, generator=torch.Generator().manual_seed(self.epoch)).tolist()
        while self.position < BATCHES_PER_EPOCH:
            index = order[self.position]
            self.position += 1
            yield self.inputs[index], self.targets[index]
        self.epoch, self.position = self.epoch + 1, 0

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.position = state["epoch"], state["position"]


class FakeTask:
    metrics = {"loss": Metric("loss", higher_is_better=False, digits=3), "score": Metric("score", higher_is_better=True)}
    unit = "examples"

    def __init__(self, scores: list[float] | None = None, on_loss=None, dropout: float = 0.2):
        torch.manual_seed(0)
        self.model = nn.Sequential(nn.Linear(3, 8), nn.Dropout(dropout), nn.Linear(8, 1))
        self.iterator = FakeIterator()
        self.scores = list(scores or [])  # dev scores, one per validation; then they keep rising
        self.on_loss = on_loss
        self.losses_seen = 0  # task state that exact resume must carry
        self.reports: list[int] = []

    def count(self, batch) -> int:
        return batch[1].numel()

    def loss(self, model, batch, *, label_smoothing: float) -> torch.Tensor:
        self.losses_seen += 1
        if self.on_loss:
            self.on_loss(self.losses_seen)
        inputs, targets = batch
        return ((model(inputs)[:, 0] - targets) ** 2).sum()

    def validate(self) -> Validation:
        score = self.scores.pop(0) if self.scores else 100.0 + self.losses_seen
        return Validation({"loss": 1.0 / (1 + score), "score": score}, note="fake")

    def report(self, sink, step: int) -> None:
        self.reports.append(step)
        sink.text("dev/fake", f"step {step}", step)

    def describe(self) -> dict:
        return {"variant": "fake"}

    def summary(self) -> str:
        return "a fake task"

    def state_dict(self) -> dict:
        return {"losses_seen": self.losses_seen}

    def load_state_dict(self, state: dict) -> None:
        self.losses_seen = state.get("losses_seen", 0)


LOOP = LoopConfig(lr=0.01, max_epochs=None, max_steps=6, validate_every=2, patience=None, stop_metric="score",
                  log_every=1, seed=0)


def run(tmp_path: Path, loop: LoopConfig = LOOP, *, task: FakeTask | None = None, resume: bool = False):
    task = task or FakeTask()
    trainer = Trainer(task, loop, exp_dir=tmp_path, device=torch.device("cpu"), resume=resume, quiet=True)
    return trainer, trainer.run()


def test_an_update_accumulates_its_batches_and_divides_by_their_count(tmp_path):
    trainer, results = run(tmp_path, replace(LOOP, accumulate=3, max_steps=None, max_epochs=2))
    assert results["steps"] == 2 * BATCHES_PER_EPOCH // 3 and trainer.task.losses_seen == 2 * BATCHES_PER_EPOCH
    fresh = FakeTask()
    batches = list(fresh.iterator)[:3]
    inputs, targets = torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
    # Without dropout the two paths must agree: one update of three batches, and one of them merged.
    merged = Trainer(FakeTask(dropout=0.0), LOOP, exp_dir=tmp_path / "merged", device=torch.device("cpu"), quiet=True)
    split = Trainer(FakeTask(dropout=0.0), replace(LOOP, accumulate=3), exp_dir=tmp_path / "split",
                    device=torch.device("cpu"), quiet=True)
    loss_split, _, n_split = split.update(batches)
    loss_merged, _, n_merged = merged.update([(inputs, targets)])
    assert n_split == n_merged == 12 and loss_split == pytest.approx(loss_merged, rel=1e-6)
    for a, b in zip(split.model.parameters(), merged.model.parameters()):
        torch.testing.assert_close(a, b)


class PenalisedTask(FakeTask):
    """The squared error plus a weight penalty, as a Regularised loss or (plain=True) as one tensor."""

    def __init__(self, plain: bool):
        super().__init__(dropout=0.0)
        self.plain = plain

    def loss(self, model, batch, *, label_smoothing: float):
        error = super().loss(model, batch, label_smoothing=label_smoothing)
        objective = error + 10.0 * model[0].weight.pow(2).sum()
        return objective if self.plain else Regularised(objective, error)


def test_a_regularised_loss_trains_on_its_objective_and_logs_its_cross_entropy(tmp_path):
    batches = list(FakeIterator())[:2]
    plain = Trainer(PenalisedTask(plain=True), LOOP, exp_dir=tmp_path / "plain", device=torch.device("cpu"), quiet=True)
    split = Trainer(PenalisedTask(plain=False), LOOP, exp_dir=tmp_path / "split", device=torch.device("cpu"), quiet=True)
    with torch.no_grad():
        error = sum(float(((split.model(x)[:, 0] - y) ** 2).sum()) for x, y in batches)
        penalty = 2 * 10.0 * float(split.model[0].weight.pow(2).sum())
    objective, _, n = plain.update(batches)
    logged, _, _ = split.update(batches)
    assert objective == pytest.approx((error + penalty) / n, rel=1e-5) and plain.penalty is None
    assert logged == pytest.approx(error / n, rel=1e-5) and split.penalty == pytest.approx(penalty / n, rel=1e-5)
    for a, b in zip(split.model.parameters(), plain.model.parameters()):  # the same step: the objective's
        torch.testing.assert_close(a, b)


def test_patience_counts_validations_without_improvement_in_the_tasks_direction(tmp_path):
    loop = replace(LOOP, max_steps=None, max_epochs=None, patience=2)
    trainer, results = run(tmp_path, loop, task=FakeTask(scores=[1.0, 3.0, 2.0, 2.5, 9.0]))
    assert results["stop_reason"] == "no improvement of dev score in 2 validations"
    assert results["steps"] == 8 and results["best"]["step"] == 4 and results["best"]["score"] == 3.0
    assert load_checkpoint(tmp_path / "checkpoints" / "best.pt")["step"] == 4
    assert trainer.task.reports == [2, 4, 6, 8]  # the task's extras at every validation


@pytest.mark.parametrize("change, reason, steps", [
    ({"max_steps": 5}, "reached max_steps 5", 5),
    ({"max_steps": None, "max_epochs": 2}, "reached max_epochs 2", 2 * BATCHES_PER_EPOCH),
    # The clock is read in an update (all processes agree on it there): the first one sees the time before it.
    ({"max_steps": None, "max_minutes": 1e-9}, "reached max_minutes 1e-09", 2),
])
def test_each_stop_condition_ends_the_run_where_it_says(tmp_path, change, reason, steps):
    _, results = run(tmp_path, replace(LOOP, **change))
    assert results["stop_reason"] == reason and results["steps"] == steps
    assert results["history"][-1]["step"] == steps  # a final validation when the last update had none


def test_a_resumed_run_equals_a_straight_one_bit_for_bit(tmp_path):
    straight, _ = run(tmp_path / "straight", replace(LOOP, max_steps=9))
    run(tmp_path / "split", replace(LOOP, max_steps=4))
    resumed, results = run(tmp_path / "split", replace(LOOP, max_steps=9), resume=True)
    assert results["steps"] == 9 and resumed.task.losses_seen == straight.task.losses_seen == 9
    for a, b in zip(straight.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)
    assert resumed.iterator.state_dict() == straight.iterator.state_dict()
    assert [h["score"] for h in results["history"]] == [h["score"] for h in straight.progress.history]


def test_ctrl_c_finishes_the_update_saves_last_pt_and_restores_the_handlers(tmp_path):
    before = signal.getsignal(signal.SIGINT)
    task = FakeTask(on_loss=lambda n: os.kill(os.getpid(), signal.SIGINT) if n == 3 else None)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, replace(LOOP, max_steps=20), task=task)
    assert signal.getsignal(signal.SIGINT) is before
    saved = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert saved["step"] == 3 and saved["task_by_rank"][0] == {"losses_seen": 3}
    assert "interrupted at step 3" in (tmp_path / "train.log").read_text()


def test_a_run_stopped_by_ctrl_c_resumes_bit_for_bit(tmp_path):
    straight, _ = run(tmp_path / "straight", replace(LOOP, max_steps=9))
    task = FakeTask(on_loss=lambda n: os.kill(os.getpid(), signal.SIGINT) if n == 5 else None)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "split", replace(LOOP, max_steps=9), task=task)
    resumed, results = run(tmp_path / "split", replace(LOOP, max_steps=9), resume=True)
    assert results["steps"] == 9
    for a, b in zip(straight.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)


def test_a_last_pt_in_the_older_layout_resumes(tmp_path):
    straight, _ = run(tmp_path / "straight", replace(LOOP, max_steps=8))
    run(tmp_path / "old", replace(LOOP, max_steps=4))
    path = tmp_path / "old" / "checkpoints" / "last.pt"
    state = torch.load(path, weights_only=True)
    progress = state.pop("progress")  # the layout before Progress: step, trainer counters, history apart
    state["history"] = progress.pop("history")
    state["trainer"] = {key: value for key, value in progress.items() if key != "step"}
    torch.save(state, path)
    resumed, results = run(tmp_path / "old", replace(LOOP, max_steps=8), resume=True)
    assert results["steps"] == 8 and [h["step"] for h in results["history"]] == [2, 4, 6, 8]
    for a, b in zip(straight.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)


def test_a_stop_metric_the_task_does_not_measure_is_one_line_naming_those_it_does(tmp_path):
    with pytest.raises(NmtError, match=r"train.stop_metric = 'bleu': this task measures 'loss', 'score'"):
        Trainer(FakeTask(), replace(LOOP, stop_metric="bleu"), exp_dir=tmp_path, device=torch.device("cpu"))


def test_the_log_writes_each_metric_as_the_task_labels_it(tmp_path):
    run(tmp_path, task=FakeTask(scores=[1.5]))
    log = (tmp_path / "train.log").read_text()
    assert "validation at step 2: dev loss 0.400, score 1.50 (best) [" in log and "; fake]" in log
    assert "examples/s" in log


@pytest.mark.parametrize("optimizer, kind", [("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW),
                                             ("sgd", torch.optim.SGD)])
def test_each_optimizer_the_config_offers_is_the_one_that_learns(tmp_path, optimizer, kind):
    loop = replace(LOOP, optimizer=optimizer, lr=0.05, weight_decay=0.01, max_steps=30, validate_every=30)
    task = FakeTask(dropout=0.0)
    inputs, targets = task.iterator.inputs, task.iterator.targets
    error = lambda: float(((task.model(inputs)[..., 0] - targets) ** 2).mean().detach())  # noqa: E731
    before = error()
    trainer, _ = run(tmp_path, loop, task=task)
    assert type(trainer.optimizer) is kind and trainer.optimizer.defaults["weight_decay"] == 0.01
    assert error() < before / 4


def test_fp16_trains_with_a_gradient_scaler_on_cuda_and_is_refused_elsewhere(tmp_path):
    if not torch.cuda.is_available():  # the CPU branch; tools/gpu_check.sh runs this test where CUDA is
        with pytest.raises(NmtError, match="train.precision = 'fp16' needs a CUDA device; use 'bf16' on the CPU"):
            Trainer(FakeTask(), replace(LOOP, precision="fp16"), exp_dir=tmp_path, device=torch.device("cpu"))
        return
    task = FakeTask(dropout=0.0)
    task.model.cuda()
    task.iterator.inputs, task.iterator.targets = task.iterator.inputs.cuda(), task.iterator.targets.cuda()
    trainer = Trainer(task, replace(LOOP, precision="fp16", max_steps=6), exp_dir=tmp_path,
                      device=torch.device("cuda"), quiet=True)
    results = trainer.run()
    assert trainer.scaler.is_enabled() and results["skipped_updates"] <= 1
    assert load_checkpoint(tmp_path / "checkpoints" / "last.pt")["scaler"]["scale"] > 0


def test_a_trainer_that_only_updates_writes_nothing_and_bf16_runs_the_update_in_bfloat16(tmp_path):
    """Trainer.__init__ opens nothing (a benchmark calls update() alone); train.precision bf16 autocasts the
    task's forward (the same weights give a loss near fp32's, not equal to it)."""
    inputs, targets = next(iter(FakeIterator()))
    losses, dtypes = {}, {}
    for precision in ("fp32", "bf16"):
        task = FakeTask(dropout=0.0)
        seen: list[torch.dtype] = []
        task.model[2].register_forward_hook(lambda module, args, output, seen=seen: seen.append(output.dtype))
        loop = LoopConfig(precision=precision, stop_metric="loss")
        trainer = Trainer(task, loop, exp_dir=tmp_path / precision, device=torch.device("cpu"))
        losses[precision], _, count = trainer.update([(inputs, targets)])
        dtypes[precision] = seen
        assert count == 4
    assert dtypes == {"fp32": [torch.float32], "bf16": [torch.bfloat16]}
    assert losses["bf16"] != losses["fp32"] and losses["bf16"] == pytest.approx(losses["fp32"], rel=0.05)
    assert not list(tmp_path.iterdir())  # no log, no TensorBoard events, no checkpoint
