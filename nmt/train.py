"""The training loop: teacher forcing, validation, early stopping, checkpoints, exact resume.

`checkpoints/last.pt` holds everything a run needs to continue exactly where it stopped:
model, optimizer, schedule, step, the batch iterator's position and the RNG states (of
every process, under data parallelism). It is written at every validation, at the end, and
on Ctrl-C or SIGTERM; `step-N.pt` (the most recent and the best) and `best.pt` hold model
weights only.

Under torchrun every process runs this same loop on its own share of the batches (see
nmt/distributed.py); the main process alone writes files, and every decision that ends a
run is taken by all processes together, at the same update.

The loop knows nothing of what it trains: it receives a built task (nmt/tasks.py), and the
loop's settings (a LoopConfig).
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import time
from pathlib import Path
from typing import Callable

import torch
from torch.nn.parallel import DistributedDataParallel

from nmt.checkpoint import load_checkpoint, restore_rng_state, rng_state, save_checkpoint
from nmt.config import LoopConfig
from nmt.device import describe_device, precision_context
from nmt.distributed import Cluster
from nmt.errors import NmtError
from nmt.monitor import Monitor, NullMonitor
from nmt.optim import Schedule, task_optimizer
from nmt.progress import LogWindow, Progress, format_minutes, step_budget
from nmt.tasks import Regularised, Task

MAX_NONFINITE_IN_A_ROW = 5
ESTIMATE_AFTER = 20  # updates timed before the first estimate of the run's length


class Trainer:
    """Trains `task` (built on `device`, its model seeded or fine-tuned: nmt.launch.build_task) with the
    loop settings `loop`, writing checkpoints, logs and TensorBoard events into `exp_dir`.

    `hparams` (flat "section.key" -> value) goes to TensorBoard's HParams dashboard with the final metrics.
    `on_validation(step, metrics)` hears every validation and may end the run by returning a reason
    (a sweep's pruner does: tools/sweep.py).
    """

    def __init__(self, task: Task, loop: LoopConfig, *, exp_dir: str | Path, device: torch.device,
                 cluster: Cluster | None = None, resume: bool = False, quiet: bool = False,
                 hparams: dict | None = None, on_validation: Callable[[int, dict], str | None] | None = None):
        self.task, self.train_cfg, self.device = task, loop, device
        self.on_validation = on_validation
        self.stop_requested: str | None = None  # a reason from on_validation
        self.cluster = cluster or Cluster()
        self.exp_dir = Path(exp_dir)
        self.ckpt_dir = self.exp_dir / "checkpoints"
        self.hparams = hparams or {}
        if loop.precision == "fp16" and device.type != "cuda":
            raise NmtError("config: train.precision = 'fp16' needs a CUDA device; use 'bf16' on the CPU")
        if loop.stop_metric not in task.metrics:
            raise NmtError(f"config: train.stop_metric = {loop.stop_metric!r}: this task measures "
                           + ", ".join(repr(name) for name in task.metrics))
        self.higher_is_better = task.metrics[loop.stop_metric].higher_is_better
        self.model, self.iterator = task.model, task.iterator
        if self.cluster.rank:
            torch.manual_seed(loop.seed + self.cluster.rank)  # dropout masks of its own (rank 0 keeps the seed)
        self.train_model = self._data_parallel()
        self.optimizer = task_optimizer(task, loop)
        self.schedule = Schedule(self.optimizer, loop, higher_is_better=self.higher_is_better)
        self.scaler = torch.amp.GradScaler("cuda", enabled=loop.precision == "fp16")
        self.progress = Progress()
        self.nonfinite_in_a_row = 0
        self.penalty: float | None = None  # the last update's regulariser per token, if its task has one
        self.signalled = False  # Ctrl-C or SIGTERM reached this process
        self.interrupted = False  # ... any process: all stop at the same update
        self._epoch_size = (0, 0)  # (epoch, its updates), for estimates
        if resume and (self.ckpt_dir / "last.pt").exists():
            self._restore(load_checkpoint(self.ckpt_dir / "last.pt", map_location=self.device))
        self.out_of_time = loop.max_minutes is not None and self.progress.elapsed >= loop.max_minutes * 60
        self.quiet = quiet
        # Files open in run(): a Trainer that only makes updates (a benchmark's) writes nothing.
        self.monitor: Monitor | NullMonitor = NullMonitor()

    @property
    def step(self) -> int:
        return self.progress.step

    # ------------------------------------------------------------ state

    def _data_parallel(self) -> torch.nn.Module:
        """The module the training forward runs through: DDP's wrapper under torchrun, else the model."""
        if not self.cluster.distributed:
            return self.model
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        with self.cluster.watch("the start (DDP copies rank 0's weights to all)"):
            return DistributedDataParallel(self.model, device_ids=device_ids, process_group=self.cluster.group)

    def _state(self) -> dict:
        """Everything exact resumption needs; every process takes part (their RNG states are gathered)."""
        by_rank = self.cluster.gather((rng_state(), self.task.state_dict()), what="saving last.pt")
        rng_by_rank = [rng for rng, _ in by_rank]
        return {
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(), "scaler": self.scaler.state_dict(),
            "iterator": self.iterator.state_dict(), "rng": rng_by_rank[0], "rng_by_rank": rng_by_rank,
            "task_by_rank": [task for _, task in by_rank],
            "world_size": self.cluster.world_size, "step": self.step, "progress": self.progress.state_dict(),
        }

    def _restore(self, state: dict) -> None:
        saved_world = int(state.get("world_size", 1))
        if saved_world != self.cluster.world_size:
            raise NmtError(
                f"train: {self.ckpt_dir / 'last.pt'} was written by {saved_world} training process(es), this run has "
                f"{self.cluster.world_size}: resume with {saved_world} (each process's share of the batches and its "
                "random state depend on it), or start a new run from its weights with --init-from"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.scaler.load_state_dict(state["scaler"])
        self.iterator.load_state_dict(state["iterator"])
        restore_rng_state(state.get("rng_by_rank", [state["rng"]])[self.cluster.rank])
        self.progress = Progress.from_state(state)
        self.task.load_state_dict(state.get("task_by_rank", [{}] * self.cluster.world_size)[self.cluster.rank])

    # ------------------------------------------------------------ one update

    def _autocast(self):
        return precision_context(self.train_cfg.precision, self.device)

    def _gradient_sync(self, *, last: bool):
        """DDP exchanges gradients once an update: after the backward of the group's last batch."""
        if self.cluster.distributed and not last:
            assert isinstance(self.train_model, DistributedDataParallel)
            return self.train_model.no_sync()
        return contextlib.nullcontext()

    def update(self, group: list) -> tuple[float, float, int] | None:
        """One optimizer update from `group` batches (of every process together);
        returns (cross-entropy per token, grad norm, tokens) or None if skipped. A regularised
        objective's penalty per token goes to self.penalty."""
        self.model.train()
        cluster = self.cluster
        (n_tokens,) = cluster.sum([sum(self.task.count(b) for b in group)], self.device, what="an update")
        # DDP averages gradients over processes: dividing by the tokens per process turns that
        # into normalising by the target tokens of all processes together.
        per_process = n_tokens / cluster.world_size
        self.optimizer.zero_grad(set_to_none=True)
        total, cross_entropy = 0.0, 0.0
        for index, batch in enumerate(group):
            with self._gradient_sync(last=index == len(group) - 1), cluster.watch("an update"):
                with self._autocast():
                    loss = self.task.loss(self.train_model, batch, label_smoothing=self.train_cfg.label_smoothing)
                objective, entropy = loss if isinstance(loss, Regularised) else (loss, loss)
                self.scaler.scale(objective / per_process).backward()
            total += objective.detach().item()
            cross_entropy += entropy.detach().item()
        self.scaler.unscale_(self.optimizer)
        clip = self.train_cfg.clip_norm if self.train_cfg.clip_norm else float("inf")
        grad_norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip))
        limit = self.train_cfg.max_minutes
        out_of_time = limit is not None and self.progress.elapsed >= limit * 60
        total, cross_entropy, signalled, times_up = cluster.sum([total, cross_entropy, self.signalled, out_of_time],
                                                                self.device, what="an update")
        self.interrupted, self.out_of_time = signalled > 0, times_up > 0
        if not (math.isfinite(total) and math.isfinite(grad_norm)):
            self._skip(total, grad_norm)
            return None
        self.nonfinite_in_a_row = 0
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.schedule.after_update()
        self.penalty = (total - cross_entropy) / n_tokens if total != cross_entropy else None
        return cross_entropy / n_tokens, grad_norm, int(n_tokens)

    def _skip(self, loss: float, grad_norm: float) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.update()
        self.progress.skipped_updates += 1
        self.nonfinite_in_a_row += 1
        what = "loss" if not math.isfinite(loss) else "gradient norm"
        self.monitor.info(f"step {self.step}: {what} is {loss if what == 'loss' else grad_norm}; update skipped")
        if self.nonfinite_in_a_row >= MAX_NONFINITE_IN_A_ROW:
            raise NmtError(
                f"training diverged: {MAX_NONFINITE_IN_A_ROW} updates in a row had a NaN or infinite {what} "
                f"(step {self.step}); lower train.lr, set train.clip_norm, or use precision fp32"
            )

    # ------------------------------------------------------------ validation and checkpoints

    def _is_better(self, value: float, than: float) -> bool:
        return value > than if self.higher_is_better else value < than

    def validate(self) -> dict:
        started = time.time()
        progress = self.progress
        outcome = self.task.validate()
        metrics = {name: outcome.metrics[name] for name in self.task.metrics}
        value = metrics[self.train_cfg.stop_metric]
        improved = not progress.best or self._is_better(value, progress.best[0][0])
        progress.bad_validations = 0 if improved else progress.bad_validations + 1
        self.schedule.after_validation(value)
        progress.last_validated_step = self.step
        record = {"step": self.step, "epoch": self.iterator.epoch, "minutes": round(progress.elapsed / 60, 3),
                  "lr": self.schedule.lr, **metrics}
        progress.history.append(record)
        self.monitor.dev_scalars(self.step, metrics)
        if self.cluster.is_main:
            self.task.report(self.monitor, self.step)
        phrase = ", ".join(self.task.metrics[name].format(value) for name, value in metrics.items())
        self.monitor.info(f"validation at step {self.step}: dev {phrase}{' (best)' if improved else ''} "
                          f"[{time.time() - started:.1f}s{'; ' + outcome.note if outcome.note else ''}]")
        progress.validations += 1
        progress.validation_seconds += time.time() - started
        self._save_checkpoints(value, improved)
        if self.on_validation is not None:
            self.stop_requested = self.on_validation(self.step, metrics) or self.stop_requested
        return metrics

    def _save_checkpoints(self, value: float, improved: bool) -> None:
        """Every process keeps the same record; the main one alone writes files."""
        self.progress.best = sorted(self.progress.best + [(value, self.step)], key=lambda b: b[0],
                                    reverse=self.higher_is_better)[: self.train_cfg.keep_best]
        self.save_last()
        if not self.cluster.is_main:
            return
        weights = {"model": self.model.state_dict(), "step": self.step}
        save_checkpoint(weights, self.ckpt_dir / f"step-{self.step}.pt")
        if improved:
            save_checkpoint(weights, self.ckpt_dir / "best.pt")
        recent = sorted((int(p.stem.split("-")[1]) for p in self.ckpt_dir.glob("step-*.pt")), reverse=True)
        keep = set(recent[: self.train_cfg.keep_last]) | {step for _, step in self.progress.best}
        for step in recent:
            if step not in keep:
                (self.ckpt_dir / f"step-{step}.pt").unlink(missing_ok=True)

    def save_last(self) -> None:
        state = self._state()  # every process takes part
        if self.cluster.is_main:
            save_checkpoint(state, self.ckpt_dir / "last.pt")

    # ------------------------------------------------------------ the loop

    def _stop_reason(self) -> str | None:
        cfg, progress = self.train_cfg, self.progress
        if self.interrupted:
            return "interrupted"
        if self.stop_requested:
            return self.stop_requested
        if cfg.max_steps is not None and self.step >= cfg.max_steps:
            return f"reached max_steps {cfg.max_steps}"
        if self.out_of_time:  # agreed by all processes (their clocks differ)
            return f"reached max_minutes {cfg.max_minutes}"
        if cfg.patience is not None and progress.bad_validations >= cfg.patience:
            return f"no improvement of dev {cfg.stop_metric} in {cfg.patience} validations"
        if cfg.max_epochs is not None and self.iterator.epoch > cfg.max_epochs:
            return f"reached max_epochs {cfg.max_epochs}"
        return None

    def _on_signal(self, signum, frame) -> None:
        """Ctrl-C, or SIGTERM (what torchrun sends every process when it is stopped): finish this update,
        save last.pt, exit. A second Ctrl-C stops at once (torchrun follows its SIGTERM with SIGKILL)."""
        self.signalled = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def run(self) -> dict:
        """Train until a stop condition holds; returns the run's results (also in results.json)."""
        params = sum(p.numel() for p in self.model.parameters() if p.requires_grad)  # shared tensors once
        if self.cluster.is_main:
            self.monitor = Monitor(self.exp_dir, start_step=self.step, total_steps=self.train_cfg.max_steps,
                                   quiet=self.quiet)
        self.monitor.info(f"{'resuming at step ' + str(self.step) if self.step else 'training'}: "
                          f"{self.task.summary()}; {params:,} parameters on {self._devices()}")
        # The handlers stay until the run has ended (saved, validated, reported): a SIGTERM from
        # torchrun must neither cut a checkpoint nor an error message short.
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            reason = self._loop()
            if reason == "interrupted":
                self.save_last()
                self.monitor.info(f"interrupted at step {self.step}; saved {self.ckpt_dir / 'last.pt'} "
                                  "(continue with --resume)")
                raise KeyboardInterrupt
            if self.progress.last_validated_step != self.step:
                self.validate()
            self.monitor.info(f"stopped at step {self.step}: {reason}")
            return self._results(params, reason)
        finally:
            self.monitor.close()
            self.monitor = NullMonitor()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _devices(self) -> str:
        world = self.cluster.world_size
        return describe_device(self.device) if world == 1 else f"{world} processes, rank 0 on {describe_device(self.device)}"

    def _loop(self) -> str:
        cfg, progress = self.train_cfg, self.progress
        group, window = [], LogWindow()
        loop_start = time.time()
        clock_zero = loop_start - progress.elapsed
        first_step = self.step
        while (reason := self._stop_reason()) is None:
            for batch in self.iterator:  # the rest of the current epoch
                group.append(batch)
                if len(group) < cfg.accumulate:
                    continue
                tick = time.time()
                if self.step == first_step:
                    progress.startup_seconds += tick - loop_start
                outcome = self.update(group)
                group = []
                progress.step += 1
                progress.train_seconds += time.time() - tick
                if outcome is not None:
                    loss, grad_norm, tokens = outcome
                    progress.units_trained += tokens
                    window.add(loss, tokens, self.penalty)
                    self.monitor.progress(self.step, loss, window.rate)
                if self.step % cfg.log_every == 0 and window.losses:
                    self._log_train(window, grad_norm)
                    window.reset()
                progress.elapsed = time.time() - clock_zero
                if self.step - first_step == ESTIMATE_AFTER:
                    self._log_estimate()
                if self.step % cfg.validate_every == 0:
                    started = time.time()
                    self.validate()
                    window.pause(time.time() - started)  # validation time is not training time
                    progress.elapsed = time.time() - clock_zero
                    if progress.validations == 1:
                        self._log_estimate()
                if (reason := self._stop_reason()) is not None:
                    return reason
        return reason

    def _seconds_left(self) -> float | None:
        """Time to the step, epoch or time budget, whichever comes first, at the pace so far."""
        epoch = self.iterator.epoch
        if self._epoch_size[0] != epoch:  # planned once an epoch (epochs differ by a batch or so)
            self._epoch_size = (epoch, self.iterator.batches_in_epoch(epoch) // self.train_cfg.accumulate)
        last_step = step_budget(self.train_cfg, step=self.step, epoch=epoch, updates_per_epoch=self._epoch_size[1],
                                updates_into_epoch=self.iterator.position // self.train_cfg.accumulate)
        return self.progress.seconds_left(total_steps=last_step, max_minutes=self.train_cfg.max_minutes,
                                          validate_every=self.train_cfg.validate_every)

    def _log_estimate(self) -> None:
        seconds, cfg = self._seconds_left(), self.train_cfg
        if seconds is not None:
            timed = "validations included" if self.progress.validations else "validations not yet timed"
            sooner = f"; early stopping (patience {cfg.patience}) may end it sooner" if cfg.patience else ""
            self.monitor.info(f"estimate: about {format_minutes(seconds)} of training left on "
                              f"{describe_device(self.device)}: {self.progress.seconds_per_update():.2f} s an update, "
                              f"{timed}{sooner}")

    def _log_train(self, window: LogWindow, grad_norm: float) -> None:
        """loss and ppl are the cross-entropy's; a regularised objective's penalty is logged beside them."""
        loss, penalty, tokens_per_sec = window.loss, window.penalty, window.rate
        ppl = math.exp(min(loss, 50.0))
        scalars = {"loss": loss, "ppl": ppl, "lr": self.schedule.lr, "grad_norm": grad_norm,
                   "tokens_per_sec": tokens_per_sec}
        if penalty is not None:
            scalars["penalty"] = penalty
        self.monitor.train_scalars(self.step, scalars)
        left = self._seconds_left()
        shown = f", penalty {penalty:.3f}" if penalty is not None else ""
        self.monitor.info(f"step {self.step} epoch {self.iterator.epoch}: loss {loss:.3f}, ppl {ppl:.2f}{shown}, "
                          f"lr {self.schedule.lr:.2e}, grad norm {grad_norm:.2f}, {tokens_per_sec:,.0f} {self.task.unit}/s"
                          + (f", ~{format_minutes(left)} left" if left is not None else ""))

    def _results(self, params: int, reason: str) -> dict:
        progress = self.progress
        best_step = progress.best[0][1] if progress.best else self.step
        best = next((h for h in progress.history if h["step"] == best_step), progress.history[-1])
        results = {
            **self.task.describe(), "parameters": params,
            "steps": self.step, "epochs_started": self.iterator.epoch, "stop_reason": reason,
            "train_minutes": round(progress.elapsed / 60, 3),
            "unit": self.task.unit, "train_units_per_sec": round(progress.units_trained / max(progress.train_seconds, 1e-9), 1),
            "device": describe_device(self.device),
            "skipped_updates": progress.skipped_updates, "best": best, "history": progress.history,
        }
        if self.cluster.distributed:
            results["processes"] = self.cluster.world_size
        if not self.cluster.is_main:
            return results
        path = self.exp_dir / "results.json"
        existing = json.loads(path.read_text()) if path.exists() else {}
        path.write_text(json.dumps({**existing, "train": results}, indent=2))
        self.monitor.hparams(self.hparams, {**{f"dev_{k}": best[k] for k in self.task.metrics if k != "loss"},
                                            "train_minutes": results["train_minutes"]})
        return results
