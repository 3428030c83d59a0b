"""What a training run reports: console and train.log lines, a progress bar, TensorBoard.

TensorBoard tags: train/{loss,ppl,lr,grad_norm,tokens_per_sec}, dev/{loss,ppl,bleu,chrf},
dev/translations (text), dev/attention/<i> (images, attention models), and the run's
hyperparameters with its final metrics (HParams dashboard).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch


class Monitor:
    def __init__(self, exp_dir: Path, *, start_step: int, total_steps: int | None, quiet: bool = False):
        from torch.utils.tensorboard import SummaryWriter  # slow import: only for training runs

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

    def dev_translations(self, step: int, rows: list[tuple[str, str, str]]) -> None:
        """A markdown table of (source, reference, hypothesis) rows."""
        clean = lambda s: s.replace("|", "\\|")  # noqa: E731
        table = ["| source | reference | hypothesis |", "| --- | --- | --- |"]
        table += [f"| {clean(s)} | {clean(r)} | {clean(h)} |" for s, r, h in rows]
        self.writer.add_text("dev/translations", "\n".join(table), step)

    def attention_images(self, step: int, examples: list[tuple[list[str], list[str], torch.Tensor]]) -> None:
        """Heatmaps of (source pieces, output pieces, weights (T, S)) for a few fixed dev sentences."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        for index, (source, output, weights) in enumerate(examples):
            fig, ax = plt.subplots(figsize=(max(3, 0.35 * len(source) + 1.5), max(3, 0.35 * len(output) + 1.5)))
            ax.imshow(weights.numpy(), cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
            ax.set_xticks(range(len(source)), source, rotation=90, fontsize=8)
            ax.set_yticks(range(len(output)), output, fontsize=8)
            fig.tight_layout()
            self.writer.add_figure(f"dev/attention/{index}", fig, step, close=True)

    def hparams(self, hyperparameters: dict, metrics: dict) -> None:
        clean = {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in hyperparameters.items()}
        self.writer.add_hparams(clean, {f"hparam/{k}": v for k, v in metrics.items()}, run_name="hparams")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.writer.close()
        self.log_file.close()


class SilentMonitor:
    """What a training process other than the main one reports: nothing (rank 0 speaks for all)."""

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: None
