"""Compare finished runs side by side: a markdown table, two plots, and TensorBoard HParams.

    python tools/compare_runs.py recipes/ding-de-en/exp/* [--out DIR]

Reads each run's results.json (written by nmt-train and the recipes' score stage; for an
ensemble of runs, by the ablation's ensemble stage) and writes
into --out (default: a `compare` folder next to the runs):
  table.md              test BLEU/chrF, dev ppl, parameters, training time, speed; BLEU by length
                        (and by origin, where the recipe's test set names it: nmt-score --groups);
                        the settings (config.yaml) in which each run differs from the first
  bleu_by_length.png    test BLEU per source-length bucket, one line per run (Bahdanau 2014, Fig. 2)
  dev_bleu_vs_time.png  dev BLEU at each validation against minutes of training
  dev_bleu_vs_updates.png   the same against updates: runs that shared the CPU compare here
  tb/<run>/             one HParams record per run: `tensorboard --logdir DIR/tb`
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml


def _flat(tree: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            # several training corpora: data.train.1.tag, as --set names them
            flat.update(_flat({str(i): item for i, item in enumerate(value)}, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def settings_differences(runs: list[dict]) -> str:
    """A list: for each run after the first, the config keys whose values differ from the first run's."""
    configs = [run.get("config") for run in runs]
    if len(runs) < 2 or configs[0] is None:
        return ""
    first = _flat(configs[0])
    lines = []
    for run, config in zip(runs[1:], configs[1:]):
        if config is None:
            continue
        flat = _flat(config)
        changed = [f"`{key}` {flat.get(key)!r}" for key in sorted(first.keys() | flat.keys())
                   if key != "exp_dir" and first.get(key) != flat.get(key)]
        lines.append(f"- {run['name']}: " + (", ".join(changed) if changed else "nothing"))
    return "\n".join(lines)


def load_runs(paths: list[Path]) -> list[dict]:
    runs = []
    for path in paths:
        results_file = path / "results.json"
        if not results_file.is_file():
            if path.is_dir() and not (path / "table.md").is_file():  # a comparison's own folder: skip quietly
                print(f"compare_runs: {path} has no results.json (not finished?): left out", file=sys.stderr)
            continue
        try:
            results = json.loads(results_file.read_text())
        except json.JSONDecodeError as error:
            print(f"compare_runs: {results_file} is not valid JSON ({error}): left out", file=sys.stderr)
            continue
        if "train" not in results and "ensemble" not in results:
            print(f"compare_runs: {results_file} has no training record: left out", file=sys.stderr)
            continue
        config = path / "config.yaml"
        settings = yaml.safe_load(config.read_text(encoding="utf-8")) if config.is_file() else None
        runs.append({"name": path.name, **results, "config": settings})
    return runs


def _number(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def summary_rows(runs: list[dict]) -> list[dict]:
    rows = []
    for run in runs:
        train, test = run.get("train", {}), run.get("test", {})
        best = train.get("best") or {}
        ensemble = run.get("ensemble")
        model = (f"ensemble of {' + '.join(ensemble['members'])}" if ensemble
                 else f"{train.get('variant', '?')} ({train.get('cell', '?')})")
        rows.append({
            "run": run["name"],
            "model": model,
            "test BLEU": test.get("bleu"),
            "test chrF": test.get("chrf"),
            "best dev BLEU": best.get("bleu"),
            "dev ppl": best.get("ppl"),
            "parameters": train.get("parameters", (ensemble or {}).get("parameters")),
            "updates": train.get("steps"),
            "train min": train.get("train_minutes"),
            "tok/s": train.get("train_units_per_sec", train.get("train_tokens_per_sec")),  # the older name
        })
    return rows


def markdown_table(rows: list[dict]) -> str:
    if not rows:
        return ""
    header = list(rows[0])
    align = ["---" if isinstance(rows[0][key], str) else "---:" for key in header]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    for row in rows:
        cells = [row[key] if isinstance(row[key], str) else _number(row[key], {"tok/s": 0, "train min": 1}.get(key, 2))
                 for key in header]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def breakdown_table(runs: list[dict], key: str, label: str, heading: str) -> str:
    """Test BLEU per part of the test set (length bucket, or origin group): rows are parts, columns are runs."""
    with_parts = [run for run in runs if run.get("test", {}).get(key)]
    if not with_parts:
        return ""
    parts: dict[str, int] = {}
    for run in with_parts:
        for row in run["test"][key]:
            parts.setdefault(row[label], row["sentences"])
    lines = [f"| {heading} | sentences | " + " | ".join(run["name"] for run in with_parts) + " |",
             "| --- | ---: " + "| ---: " * len(with_parts) + "|"]
    for part, sentences in parts.items():
        scores = []
        for run in with_parts:
            found = [row["bleu"] for row in run["test"][key] if row[label] == part]
            scores.append(_number(found[0]) if found else "-")
        lines.append(f"| {part} | {sentences:,} | " + " | ".join(scores) + " |")
    return "\n".join(lines)


def _line_plot(series: dict[str, tuple[list, list]], path: Path, *, xlabel: str, ylabel: str, title: str) -> None:
    """One line a run: series maps a run's name to its (x values, y values)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, (xs, ys) in series.items():
        ax.plot(xs, ys, marker="o" if len(xs) < 12 else ".", label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_bleu_by_length(runs: list[dict], path: Path) -> bool:
    series = {run["name"]: ([row["bucket"] for row in run["test"]["by_length"]],
                            [row["bleu"] for row in run["test"]["by_length"]])
              for run in runs if run.get("test", {}).get("by_length")}
    if series:
        _line_plot(series, path, xlabel="source sentence length (words)", ylabel="test BLEU",
                   title="BLEU by source length")
    return bool(series)


def plot_dev_bleu_vs_time(runs: list[dict], path: Path) -> bool:
    series = {run["name"]: ([0.0] + [row["minutes"] for row in run["train"]["history"]],
                            [0.0] + [row["bleu"] for row in run["train"]["history"]])
              for run in runs if run.get("train", {}).get("history")}
    if series:
        _line_plot(series, path, xlabel="training time (minutes)", ylabel="dev BLEU (greedy)",
                   title="Dev BLEU during training")
    return bool(series)


def plot_dev_bleu_vs_updates(runs: list[dict], path: Path) -> bool:
    series = {run["name"]: ([0] + [row["step"] for row in run["train"]["history"]],
                            [0.0] + [row["bleu"] for row in run["train"]["history"]])
              for run in runs if run.get("train", {}).get("history")}
    if series:
        _line_plot(series, path, xlabel="updates", ylabel="dev BLEU (greedy)", title="Dev BLEU during training")
    return bool(series)


def write_hparams(runs: list[dict], tb_dir: Path) -> None:
    """One HParams record per run, so TensorBoard shows them in one dashboard with their test scores."""
    from torch.utils.tensorboard import SummaryWriter

    for run in runs:
        train, test = run.get("train", {}), run.get("test", {})
        members = run.get("ensemble", {}).get("members")
        hparams = {"run": run["name"], "variant": "+".join(members) if members else train.get("variant", "?"),
                   "cell": train.get("cell", "?"), "parameters": train.get("parameters", run.get("ensemble", {}).get("parameters", 0))}
        metrics = {"hparam/test_bleu": test.get("bleu", float("nan")), "hparam/test_chrf": test.get("chrf", float("nan")),
                   "hparam/dev_ppl": (train.get("best") or {}).get("ppl", float("nan")),
                   "hparam/train_minutes": train.get("train_minutes", float("nan"))}
        run_dir = tb_dir / run["name"]
        for old in run_dir.glob("**/events.out.tfevents.*"):
            old.unlink()  # a re-run replaces the record instead of adding a second one
        with SummaryWriter(str(run_dir)) as writer:
            writer.add_hparams(hparams, metrics, run_name=".")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="experiment folders (each with results.json)")
    parser.add_argument("--out", type=Path, default=None, help="where to write (default: <runs' parent>/compare)")
    args = parser.parse_args(argv)

    runs = load_runs(args.runs)
    if not runs:
        print("compare_runs: none of the given folders holds a finished run (results.json)", file=sys.stderr)
        return 2
    out = args.out or args.runs[0].parent / "compare"
    out.mkdir(parents=True, exist_ok=True)

    import matplotlib

    matplotlib.use("Agg")
    sections = ["## Runs", "", markdown_table(summary_rows(runs))]
    by_length = breakdown_table(runs, "by_length", "bucket", "source words")
    if by_length:
        sections += ["", "## Test BLEU by source length", "", by_length]
    by_group = breakdown_table(runs, "by_group", "group", "origin")
    if by_group:
        sections += ["", "## Test BLEU by origin", "", by_group]
    differences = settings_differences(runs)
    if differences:
        sections += ["", f"## Settings that differ from {runs[0]['name']}", "", differences]
    text = "\n".join(sections) + "\n"
    (out / "table.md").write_text(text)
    print(text)
    written = ["table.md"]
    if plot_bleu_by_length(runs, out / "bleu_by_length.png"):
        written.append("bleu_by_length.png")
    if plot_dev_bleu_vs_time(runs, out / "dev_bleu_vs_time.png"):
        written.append("dev_bleu_vs_time.png")
    if plot_dev_bleu_vs_updates(runs, out / "dev_bleu_vs_updates.png"):
        written.append("dev_bleu_vs_updates.png")
    write_hparams(runs, out / "tb")
    written.append("tb/")
    print(f"wrote {', '.join(written)} in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
