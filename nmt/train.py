"""The training loop: teacher forcing, validation, early stopping, checkpoints, exact resume.

`checkpoints/last.pt` holds everything a run needs to continue exactly where it stopped:
model, optimizer, schedule, step, the batch iterator's position and the RNG states. It is
written at every validation, at the end, and on Ctrl-C; `step-N.pt` (the most recent and
the best) and `best.pt` hold model weights only.
"""

from __future__ import annotations

import json
import math
import signal
import time
from pathlib import Path

import torch

from nmt.batching import BatchIterator, ParallelArrays
from nmt.checkpoint import load_checkpoint, save_checkpoint
from nmt.config import Config, config_to_dict
from nmt.device import describe_device, pick_device, precision_context
from nmt.errors import NmtError
from nmt.models import build_model, count_parameters
from nmt.monitor import Monitor
from nmt.optim import HIGHER_IS_BETTER, Schedule, build_optimizer
from nmt.progress import Progress, format_minutes
from nmt.tokenizer import Tokenizer
from nmt.validate import Validator, token_loss

MAX_NONFINITE_IN_A_ROW = 5
ESTIMATE_AFTER = 20  # updates timed before the first estimate of the run's length


class Trainer:
    def __init__(self, cfg: Config, *, resume: bool = False, quiet: bool = False):
        self.cfg, self.train_cfg = cfg, cfg.train
        self.exp_dir = Path(cfg.exp_dir)
        self.ckpt_dir = self.exp_dir / "checkpoints"
        self.device = pick_device(cfg.train.device)
        if cfg.train.precision == "fp16" and self.device.type != "cuda":
            raise NmtError("config: train.precision = 'fp16' needs a CUDA device; use 'bf16' on the CPU")
        torch.manual_seed(cfg.train.seed)
        self.tokenizer = Tokenizer.load(self.exp_dir)
        self.model = build_model(cfg.model, self.tokenizer.src_vocab_size, self.tokenizer.tgt_vocab_size).to(self.device)
        self.optimizer = build_optimizer(self.model.parameters(), cfg.train)
        self.schedule = Schedule(self.optimizer, cfg.train)
        self.scaler = torch.amp.GradScaler("cuda", enabled=cfg.train.precision == "fp16")
        self.iterator = BatchIterator(
            ParallelArrays(self.exp_dir / "data", "train"), batch_tokens=cfg.train.batch_tokens,
            batch_size=cfg.train.batch_size, seed=cfg.train.seed, max_src_tokens=cfg.train.max_src_tokens, max_tgt_tokens=cfg.train.max_tgt_tokens,
        )
        self.validator = Validator(
            self.model, self.tokenizer, self.exp_dir / "data", decode=cfg.decode, beam_size=cfg.train.validation_beam,
            device=self.device, batch_tokens=cfg.decode.batch_tokens,
        )
        if self.iterator.keep.sum() == 0:
            raise NmtError(f"train: every training pair is longer than train.max_src_tokens={cfg.train.max_src_tokens} "
                           f"or train.max_tgt_tokens={cfg.train.max_tgt_tokens} tokens")
        self.progress = Progress()
        self.nonfinite_in_a_row, self.interrupted = 0, False
        self._epoch_size = (0, 0)  # (epoch, its updates), for estimates
        if resume and (self.ckpt_dir / "last.pt").exists():
            self._restore(load_checkpoint(self.ckpt_dir / "last.pt", map_location=self.device))
        self.monitor = Monitor(self.exp_dir, start_step=self.step, total_steps=cfg.train.max_steps, quiet=quiet)

    @property
    def step(self) -> int:
        return self.progress.step

    # ------------------------------------------------------------ state

    def _state(self) -> dict:
        rng = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(), "scaler": self.scaler.state_dict(),
            "iterator": self.iterator.state_dict(), "rng": rng, "step": self.step,
            "progress": self.progress.state_dict(),
        }

    def _restore(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.scaler.load_state_dict(state["scaler"])
        self.iterator.load_state_dict(state["iterator"])
        torch.set_rng_state(state["rng"]["torch"].cpu())
        if "cuda" in state["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in state["rng"]["cuda"]])
        self.progress = Progress.from_state(state)

    # ------------------------------------------------------------ one update

    def _autocast(self):
        return precision_context(self.train_cfg.precision, self.device)

    def update(self, group: list) -> tuple[float, float, int] | None:
        """One optimizer update from `group` batches; returns (loss per token, grad norm, tokens) or None if skipped."""
        self.model.train()
        n_tokens = sum(b.n_tgt_tokens for b in group)
        self.optimizer.zero_grad(set_to_none=True)
        total = 0.0
        for batch in group:
            with self._autocast():
                loss = token_loss(self.model, batch.to(self.device), label_smoothing=self.train_cfg.label_smoothing)
            self.scaler.scale(loss / n_tokens).backward()  # normalised by all target tokens of the update
            total += loss.detach().item()
        self.scaler.unscale_(self.optimizer)
        clip = self.train_cfg.clip_norm if self.train_cfg.clip_norm else float("inf")
        grad_norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip))
        if not (math.isfinite(total) and math.isfinite(grad_norm)):
            return self._skip(total, grad_norm)
        self.nonfinite_in_a_row = 0
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.schedule.after_update()
        return total / n_tokens, grad_norm, n_tokens

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
        return None

    # ------------------------------------------------------------ validation and checkpoints

    def _is_better(self, value: float, than: float) -> bool:
        return value > than if HIGHER_IS_BETTER[self.train_cfg.stop_metric] else value < than

    def validate(self) -> dict:
        started = time.time()
        progress = self.progress
        metrics, hypotheses = self.validator.run()
        value = metrics[self.train_cfg.stop_metric]
        improved = not progress.best or self._is_better(value, progress.best[0][0])
        progress.bad_validations = 0 if improved else progress.bad_validations + 1
        self.schedule.after_validation(value)
        progress.last_validated_step = self.step
        record = {"step": self.step, "epoch": self.iterator.epoch, "minutes": round(progress.elapsed / 60, 3),
                  "lr": self.schedule.lr, **{k: metrics[k] for k in ("loss", "ppl", "bleu", "chrf")}}
        progress.history.append(record)
        self.monitor.dev_scalars(self.step, metrics)
        self.monitor.dev_translations(self.step, [(self.validator.sources[i], self.validator.references[i], hypotheses[i])
                                                  for i in range(min(5, len(hypotheses)))])
        examples = self.validator.attention_examples()
        if examples:
            self.monitor.attention_images(self.step, examples)
        self.monitor.info(
            f"validation at step {self.step}: dev loss {metrics['loss']:.3f}, ppl {metrics['ppl']:.2f}, "
            f"BLEU {metrics['bleu']:.2f}, chrF {metrics['chrf']:.2f}{' (best)' if improved else ''} "
            f"[{time.time() - started:.1f}s; {metrics['bleu_signature']}]"
        )
        progress.validations += 1
        progress.validation_seconds += time.time() - started
        self._save_checkpoints(value, improved)
        return metrics

    def _save_checkpoints(self, value: float, improved: bool) -> None:
        weights = {"model": self.model.state_dict(), "step": self.step}
        save_checkpoint(weights, self.ckpt_dir / f"step-{self.step}.pt")
        if improved:
            save_checkpoint(weights, self.ckpt_dir / "best.pt")
        self.progress.best = sorted(self.progress.best + [(value, self.step)], key=lambda b: b[0],
                                    reverse=HIGHER_IS_BETTER[self.train_cfg.stop_metric])[: self.train_cfg.keep_best]
        self.save_last()
        recent = sorted((int(p.stem.split("-")[1]) for p in self.ckpt_dir.glob("step-*.pt")), reverse=True)
        keep = set(recent[: self.train_cfg.keep_last]) | {step for _, step in self.progress.best}
        for step in recent:
            if step not in keep:
                (self.ckpt_dir / f"step-{step}.pt").unlink(missing_ok=True)

    def save_last(self) -> None:
        save_checkpoint(self._state(), self.ckpt_dir / "last.pt")

    # ------------------------------------------------------------ the loop

    def _stop_reason(self) -> str | None:
        cfg, progress = self.train_cfg, self.progress
        if self.interrupted:
            return "interrupted"
        if cfg.max_steps is not None and self.step >= cfg.max_steps:
            return f"reached max_steps {cfg.max_steps}"
        if cfg.max_minutes is not None and progress.elapsed >= cfg.max_minutes * 60:
            return f"reached max_minutes {cfg.max_minutes}"
        if cfg.patience is not None and progress.bad_validations >= cfg.patience:
            return f"no improvement of dev {cfg.stop_metric} in {cfg.patience} validations"
        if cfg.max_epochs is not None and self.iterator.epoch > cfg.max_epochs:
            return f"reached max_epochs {cfg.max_epochs}"
        return None

    def _on_sigint(self, signum, frame) -> None:
        self.interrupted = True
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C stops at once

    def run(self) -> dict:
        """Train until a stop condition holds; returns the run's results (also in results.json)."""
        params = count_parameters(self.model)
        self.monitor.info(f"{'resuming at step ' + str(self.step) if self.step else 'training'}: "
                          f"{self.cfg.model.variant} ({self.cfg.model.cell}), {params:,} parameters, "
                          f"on {describe_device(self.device)}, {len(self.iterator.corpus):,} training pairs "
                          f"({self.iterator.n_left_out:,} over the length limits)")
        previous = signal.signal(signal.SIGINT, self._on_sigint)
        try:
            reason = self._loop()
        finally:
            signal.signal(signal.SIGINT, previous)
        if reason == "interrupted":
            self.save_last()
            self.monitor.info(f"interrupted at step {self.step}; saved {self.ckpt_dir / 'last.pt'} (continue with --resume)")
            self.monitor.close()
            raise KeyboardInterrupt
        if self.progress.last_validated_step != self.step:
            self.validate()
        self.monitor.info(f"stopped at step {self.step}: {reason}")
        results = self._results(params, reason)
        self.monitor.close()
        return results

    def _loop(self) -> str:
        cfg, progress = self.train_cfg, self.progress
        group, window_tokens, window_start, window_loss = [], 0, time.time(), []
        clock_zero = time.time() - progress.elapsed
        first_step = self.step
        while (reason := self._stop_reason()) is None:
            for batch in self.iterator:  # the rest of the current epoch
                group.append(batch)
                if len(group) < cfg.accumulate:
                    continue
                tick = time.time()
                outcome = self.update(group)
                group = []
                progress.step += 1
                progress.train_seconds += time.time() - tick
                if outcome is not None:
                    loss, grad_norm, tokens = outcome
                    progress.target_tokens += tokens
                    window_tokens += tokens
                    window_loss.append(loss)
                    self.monitor.progress(self.step, loss, window_tokens / max(time.time() - window_start, 1e-9))
                if self.step % cfg.log_every == 0 and window_loss:
                    rate = window_tokens / max(time.time() - window_start, 1e-9)
                    self._log_train(sum(window_loss) / len(window_loss), grad_norm, rate)
                    window_tokens, window_start, window_loss = 0, time.time(), []
                progress.elapsed = time.time() - clock_zero
                if self.step - first_step == ESTIMATE_AFTER:
                    self._log_estimate()
                if self.step % cfg.validate_every == 0:
                    started = time.time()
                    self.validate()
                    window_start += time.time() - started  # validation time is not training time
                    progress.elapsed = time.time() - clock_zero
                    if progress.validations == 1:
                        self._log_estimate()
                if (reason := self._stop_reason()) is not None:
                    return reason
        return reason

    def _seconds_left(self) -> float | None:
        """Time to the step, epoch or time budget, whichever comes first, at the pace so far."""
        cfg = self.train_cfg
        totals = []
        if cfg.max_steps is not None:
            totals.append(cfg.max_steps)
        if cfg.max_epochs is not None:
            per_epoch = self._updates_per_epoch()
            epochs_left = cfg.max_epochs - self.iterator.epoch + 1
            totals.append(self.step + epochs_left * per_epoch - self.iterator.position // cfg.accumulate)
        return self.progress.seconds_left(total_steps=min(totals) if totals else None,
                                          max_minutes=cfg.max_minutes, validate_every=cfg.validate_every)

    def _updates_per_epoch(self) -> int:
        """Of the current epoch (they differ by a batch or so between epochs); planned once per epoch."""
        epoch = self.iterator.epoch
        if self._epoch_size[0] != epoch:
            self._epoch_size = (epoch, len(self.iterator.epoch_plan(epoch)) // self.train_cfg.accumulate)
        return self._epoch_size[1]

    def _log_estimate(self) -> None:
        seconds = self._seconds_left()
        if seconds is None:
            return
        progress, cfg = self.progress, self.train_cfg
        timed = "validations included" if progress.validations else "validations not yet timed"
        sooner = f"; early stopping (patience {cfg.patience}) may end it sooner" if cfg.patience else ""
        self.monitor.info(f"estimate: about {format_minutes(seconds)} of training left on {describe_device(self.device)}: "
                          f"{progress.train_seconds / progress.step:.2f} s an update, {timed}{sooner}")

    def _log_train(self, loss: float, grad_norm: float, tokens_per_sec: float) -> None:
        ppl = math.exp(min(loss, 50.0))
        self.monitor.train_scalars(self.step, {"loss": loss, "ppl": ppl, "lr": self.schedule.lr,
                                               "grad_norm": grad_norm, "tokens_per_sec": tokens_per_sec})
        left = self._seconds_left()
        self.monitor.info(f"step {self.step} epoch {self.iterator.epoch}: loss {loss:.3f}, ppl {ppl:.2f}, "
                          f"lr {self.schedule.lr:.2e}, grad norm {grad_norm:.2f}, {tokens_per_sec:,.0f} target tokens/s"
                          + (f", ~{format_minutes(left)} left" if left is not None else ""))

    def _results(self, params: int, reason: str) -> dict:
        progress = self.progress
        best_step = progress.best[0][1] if progress.best else self.step
        best = next((h for h in progress.history if h["step"] == best_step), progress.history[-1])
        results = {
            "variant": self.cfg.model.variant, "cell": self.cfg.model.cell, "parameters": params,
            "steps": self.step, "epochs_started": self.iterator.epoch, "stop_reason": reason,
            "train_minutes": round(progress.elapsed / 60, 3),
            "train_tokens_per_sec": round(progress.target_tokens / max(progress.train_seconds, 1e-9), 1),
            "device": describe_device(self.device),
            "skipped_updates": progress.skipped_updates, "best": best, "history": progress.history,
        }
        path = self.exp_dir / "results.json"
        existing = json.loads(path.read_text()) if path.exists() else {}
        path.write_text(json.dumps({**existing, "train": results}, indent=2))
        hparams = {f"{section}.{key}": value for section in ("model", "train")
                   for key, value in config_to_dict(self.cfg)[section].items()}
        self.monitor.hparams(hparams, {"dev_bleu": best["bleu"], "dev_chrf": best["chrf"], "dev_ppl": best["ppl"],
                                       "train_minutes": results["train_minutes"]})
        return results
