"""What a training run reports: console and train.log lines, a progress bar, TensorBoard.

TensorBoard tags: train/{loss,ppl,lr,grad_norm,tokens_per_sec}, dev/<metric> for each of the
task's metrics (translation: loss, ppl, bleu, chrf), what the task shows at a validation
(translation: dev/translations, dev/attention/<i>; the character model: dev/sample), and the
run's hyperparameters with its final metrics (HParams dashboard).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


class Monitor:
    def __init__(self, exp_dir: Path, *, start_step: int, total_steps: int | None, quiet: bool = False):
        from torch.utils.tensorboard import SummaryWriter  # slow import: only for training runs

        exp_dir.mkdir(parents=True, exist_ok=True)
        self.log_file = open(exp_dir / "train.log", "a", encoding="utf-8")
        # purge_step drops events a crashed run wrote after its last checkpoint.
        self.writer = SummaryWriter(str(exp_dir / "tb"), purge_step=start_step or None)
        self.quiet = quiet
        self.bar = None
        if sys.stderr.isatty() and not quiet:
            from tqdm import tqdm

            self.bar = tqdm(total=total_steps, initial=start_step, unit="upd", dynamic_ncols=True, file=sys.stderr)

    def info(self, message: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self.log_file.write(f"{stamp} {message}\n")
        self.log_file.flush()
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr, flush=True)

    def progress(self, step: int, loss: float, tokens_per_sec: float) -> None:
        if self.bar is not None:
            self.bar.update(step - self.bar.n)
            self.bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{tokens_per_sec:,.0f}", refresh=False)

    def train_scalars(self, step: int, values: dict[str, float]) -> None:
        for name, value in values.items():
            self.writer.add_scalar(f"train/{name}", value, step)

    def dev_scalars(self, step: int, metrics: dict[str, float]) -> None:
        for name, value in metrics.items():
            self.writer.add_scalar(f"dev/{name}", value, step)

    def text(self, tag: str, markdown: str, step: int) -> None:
        self.writer.add_text(tag, markdown, step)

    def figure(self, tag: str, figure, step: int) -> None:
        self.writer.add_figure(tag, figure, step, close=True)

    def hparams(self, hyperparameters: dict, metrics: dict) -> None:
        clean = {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in hyperparameters.items()}
        self.writer.add_hparams(clean, {f"hparam/{k}": v for k, v in metrics.items()}, run_name="hparams")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.writer.close()
        self.log_file.close()


class NullMonitor:
    """What a Trainer reports before run() and on processes other than the main one: nothing (rank 0 speaks for all).
    It offers exactly Monitor's calls, so a misspelt call fails here too."""

    def info(self, message: str) -> None:
        pass

    def progress(self, step: int, loss: float, tokens_per_sec: float) -> None:
        pass

    def train_scalars(self, step: int, values: dict[str, float]) -> None:
        pass

    def dev_scalars(self, step: int, metrics: dict[str, float]) -> None:
        pass

    def text(self, tag: str, markdown: str, step: int) -> None:
        pass

    def figure(self, tag: str, figure, step: int) -> None:
        pass

    def hparams(self, hyperparameters: dict, metrics: dict) -> None:
        pass

    def close(self) -> None:
        pass
