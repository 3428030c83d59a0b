#!/usr/bin/env python3
"""Search a recipe's settings with Optuna: each trial trains the recipe's config with other values of
the keys in a search space, reports its dev metric at every validation (a median pruner stops
trials that fall behind), and the study lives in SQLite so an interrupted sweep continues.

    python tools/sweep.py SWEEP.yaml [--out DIR] [--trials N] [--minutes M] [--report]
    python tools/sweep.py SWEEP.yaml --out DIR --enqueued-only --set train.seed=2   # the known points again

SWEEP.yaml (paths relative to it):

    config: conf/rnnsearch.yaml          # the config every trial starts from
    metric: bleu                         # a dev metric of the task (its direction comes with it)
    trials: 20                           # trials in all (finished or pruned), over every session
    minutes: 240                         # optional: stop starting trials after this long
    pruner: {startup_trials: 5, warmup_validations: 2}
    sampler: {startup_trials: 10}        # optional: random draws before TPE models the results (Optuna's 10)
    set: {train.max_steps: 2000}         # fixed for every trial
    space:
      model.dropout: {low: 0.1, high: 0.6}
      train.lr: {low: 0.0005, high: 0.005, log: true}
      model.word_dropout_src: {low: 0.0, high: 0.3, step: 0.05}
      tokenizer.vocab_size: [2000, 4000, 8000]   # a list: one of these
    enqueue:                             # optional: known settings, tried first (once in a study)
      - {model.dropout: 0.3, train.lr: 0.002, model.word_dropout_src: 0.1, tokenizer.vocab_size: 4000}

Writes into DIR (default: exp/<sweep name> beside the config's recipe): study.db, trials/<id>/ (an
experiment directory each), table.md, importance.png and best.yaml, a config for `run.sh --conf`.
table.md, best.yaml and importance.png are written again after every trial; `--report` writes them from the study
and exits (a look at a sweep that another process runs). A trial stopped by Ctrl-C resumes from its
last.pt when the sweep is started again.

`--enqueued-only` runs the enqueued points and nothing else, none of them pruned: an ablation's rows
kept in a sweep file, run again in a study of their own, for instance under another seed (`--set`
fixes keys on top of the file's `set`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import yaml

from nmt.config_files import parse_override
from nmt.errors import NmtError
from nmt.tasks import load_config, spec_of


def read_sweep(path: Path) -> dict:
    sweep = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = set(sweep) - {"config", "metric", "trials", "minutes", "pruner", "sampler", "set", "space", "enqueue"}
    if unknown or "config" not in sweep or not sweep.get("space"):
        raise NmtError(f"{path}: needs config and space (and may have metric, trials, minutes, pruner, "
                       "sampler, set, enqueue)" + (f"; unknown: {', '.join(sorted(unknown))}" if unknown else ""))
    sampler = sweep.get("sampler") or {}
    if set(sampler) - {"startup_trials"} or not isinstance(sampler.get("startup_trials", 0), int):
        raise NmtError(f"{path}: sampler takes startup_trials only, a whole number of trials")
    sweep["sampler"] = {"startup_trials": sampler.get("startup_trials", 10)}  # Optuna's default
    sweep["set"] = sweep.get("set") or {}
    sweep["enqueue"] = [known_point(sweep["space"], point, f"{path}: enqueue[{i}]")
                        for i, point in enumerate(sweep.get("enqueue") or [])]
    return sweep


def known_point(space: dict, point: dict, where: str) -> dict:
    """A point to enqueue, checked against the space and typed as the sampler types it (Optuna finds an
    enqueued point again, to skip it at the next start, only when the types match)."""
    if not isinstance(point, dict):
        raise NmtError(f"{where}: needs a mapping of the space's keys to values, not {point!r}")
    if set(point) != set(space):
        missing, unknown = set(space) - set(point), set(point) - set(space)
        raise NmtError(f"{where}: needs a value for every key of the space"
                       + (f"; missing: {', '.join(sorted(missing))}" if missing else "")
                       + (f"; not in the space: {', '.join(sorted(unknown))}" if unknown else ""))
    typed = {}
    for key, choice in space.items():
        value = point[key]
        if isinstance(choice, list):
            ok = value in choice
            value = next((c for c in choice if c == value), value)
        else:
            ok = isinstance(value, (int, float)) and choice["low"] <= value <= choice["high"]
            steps = (value - choice["low"]) / choice["step"] if ok and choice.get("step") else 0
            ok = ok and abs(steps - round(steps)) < 1e-6  # on the grid the sampler draws from
            if ok:
                value = int(value) if isinstance(choice["low"], int) and isinstance(choice["high"], int) else float(value)
        if not ok:
            raise NmtError(f"{where}: {key}: {value!r} is outside the space ({choice})")
        typed[key] = value
    return typed


def suggest(trial, space: dict) -> dict:
    """One value for every key of the space."""
    values = {}
    for key, choice in space.items():
        if isinstance(choice, list):
            values[key] = trial.suggest_categorical(key, choice)
        elif isinstance(choice.get("low"), int) and isinstance(choice.get("high"), int):
            values[key] = trial.suggest_int(key, choice["low"], choice["high"], log=choice.get("log", False))
        else:
            values[key] = trial.suggest_float(key, float(choice["low"]), float(choice["high"]),
                                              log=choice.get("log", False), step=choice.get("step"))
    return values


def trial_dir(out: Path, params: dict) -> Path:
    """A trial's experiment directory is named by its values: the same values resume the same run."""
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]
    return out / "trials" / digest


def tidy(value):
    """A float without the noise of a stepped range (0.30000000000000004 -> 0.3)."""
    return float(f"{value:.10g}") if isinstance(value, float) else value


def overrides(fixed: dict, params: dict) -> list[str]:
    return [f"{key}={json.dumps(value)}" for key, value in {**fixed, **params}.items()]


def objective_for(sweep: dict, config: Path, out: Path, metric: str, higher_is_better: bool):
    import optuna

    from nmt.launch import train_experiment

    def objective(trial: optuna.Trial) -> float:
        params = suggest(trial, sweep["space"])
        exp_dir = trial_dir(out, params)
        trial.set_user_attr("exp_dir", str(exp_dir.relative_to(out)))
        cfg = load_config(config, overrides(sweep["set"], params) + [f"exp_dir={exp_dir}"])
        resume = (exp_dir / "checkpoints" / "last.pt").exists()

        def on_validation(step: int, metrics: dict) -> str | None:
            trial.report(float(metrics[metric]), step)
            return "pruned: behind the median of earlier trials" if trial.should_prune() else None

        results, _ = train_experiment(cfg, resume=resume, quiet=True, on_validation=on_validation)
        assert results is not None
        if results["stop_reason"].startswith("pruned"):
            raise optuna.TrialPruned()
        # The run's whole history: a resumed run validated before its interruption too, and a run that had
        # finished already (the same values drawn again) validates no more
        seen = [float(record[metric]) for record in results["history"]]
        return max(seen) if higher_is_better else min(seen)

    return objective


def command_line_set(space: dict, assignments: list[str]) -> dict:
    """`--set KEY=VALUE`s, parsed as nmt-train parses its own; a key of the space is the trials' to vary."""
    given = dict(parse_override(assignment) for assignment in assignments)
    if clash := sorted(given.keys() & space.keys()):
        raise NmtError(f"--set {clash[0]}: a key of the space, which each trial sets itself")
    return given


def bind_command_line_set(study, given: dict, out: Path, report_only: bool) -> dict:
    """The `--set`s a study runs under, one set in its life: trials are named by their values alone, so a
    study continued under another seed would find its finished runs and report them as the new ones."""
    bound = study.user_attrs.get("command_line_set")
    if bound is None:
        if not report_only:
            study.set_user_attr("command_line_set", given)
        return given
    if report_only and not given:
        return bound  # --report need not repeat them
    if bound != given:
        said = " ".join(f"--set {key}={value}" for key, value in bound.items()) or "no --set"
        raise NmtError(f"the study in {out} was run with {said}; give the same, or another --out")
    return given


def open_study(path: Path, name: str, *, maximize: bool, seed: int, pruning: dict | None, validate_every: int,
               startup_trials: int):
    """The study in SQLite at `path`, new or continued (`pruning` None: no trial is pruned). The sampler's
    seed moves on with every trial the study holds: seeded alike at each start, it would draw the values of
    the first trials again."""
    import optuna

    study = optuna.create_study(
        study_name=name, storage=f"sqlite:///{path}", load_if_exists=True,
        direction="maximize" if maximize else "minimize",
        pruner=optuna.pruners.NopPruner() if pruning is None else optuna.pruners.MedianPruner(
            n_startup_trials=pruning.get("startup_trials", 5),
            n_warmup_steps=pruning.get("warmup_validations", 2) * validate_every))
    study.sampler = optuna.samplers.TPESampler(seed=seed + len(study.trials), n_startup_trials=startup_trials)
    return study


def retry_interrupted(study, sweep: dict) -> None:
    """Trials that a Ctrl-C or a crash left unfinished run again with their values (and resume)."""
    from optuna.trial import TrialState

    retried = {t.user_attrs.get("retry_of") for t in study.trials}
    for trial in study.get_trials(states=(TrialState.RUNNING, TrialState.FAIL)):
        if trial.number not in retried and set(trial.params) == set(sweep["space"]):
            if trial.state == TrialState.RUNNING:  # its process is gone
                study.tell(trial.number, state=TrialState.FAIL)
            study.enqueue_trial(trial.params, user_attrs={**trial.user_attrs, "retry_of": trial.number})


def enqueue_known(study, sweep: dict) -> None:
    """The sweep file's known settings, each once in the study's life (a later start finds it there)."""
    for point in sweep["enqueue"]:
        study.enqueue_trial(point, user_attrs={"enqueued": True}, skip_if_exists=True)


def report(study, out: Path, metric: str, config_path: Path, sweep: dict) -> None:
    """table.md, importance.png and best.yaml."""
    from optuna.trial import TrialState

    rows = ["| trial | state | dev " + metric + " | " + " | ".join(sweep["space"]) + " | directory |",
            "| --- | --- | ---: |" + " --- |" * len(sweep["space"]) + " --- |"]
    for t in study.trials:
        value = f"{t.value:.2f}" if t.value is not None else (
            f"({max(t.intermediate_values.values()):.2f})" if t.intermediate_values else "-")
        values = t.params or t.system_attrs.get("fixed_params", {})  # a waiting enqueued trial shows its values
        cells = " | ".join(str(tidy(values.get(key, ""))) for key in sweep["space"])
        state = t.state.name.lower() + (", enqueued" if t.user_attrs.get("enqueued") else "")
        rows.append(f"| {t.number} | {state} | {value} | {cells} | {t.user_attrs.get('exp_dir', '')} |")
    (out / "table.md").write_text("\n".join(rows) + "\n", encoding="utf-8")
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    if not complete:
        return
    best = study.best_trial
    nested: dict = {}
    for key, value in {**sweep["set"], **best.params}.items():
        section, name = key.split(".", 1)
        nested.setdefault(section, {})[name] = tidy(value)
    base = os.path.relpath(config_path, out)
    text = (f"# The best of {len(complete)} finished trials of {out.name} (trial {best.number}, dev {metric} "
            f"{best.value:.2f}), chosen on the dev set.\n" + yaml.safe_dump({"base": base, **nested}, sort_keys=False))
    (out / "best.yaml").write_text(text, encoding="utf-8")
    if len(complete) >= 2 and len(sweep["space"]) >= 2:
        _importance_plot(study, out / "importance.png", metric, finished=len(complete))


def _importance_plot(study, path: Path, metric: str, finished: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.importance import get_param_importances

    importances = get_param_importances(study)
    fig, ax = plt.subplots(figsize=(6, 0.5 * len(importances) + 1.2))
    ax.barh(list(importances)[::-1], list(importances.values())[::-1], color="#4477aa")
    ax.set_xlabel(f"importance for dev {metric} (fANOVA over {finished} finished trials)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep", type=Path, help="the sweep's YAML file")
    parser.add_argument("--out", type=Path, default=None, help="default: exp/<sweep name> in the current directory")
    parser.add_argument("--trials", type=int, default=None, help="trials in all (overrides the file)")
    parser.add_argument("--minutes", type=float, default=None, help="stop starting trials after this long")
    parser.add_argument("--report", action="store_true", help="write table.md, best.yaml, importance.png and exit")
    parser.add_argument("--enqueued-only", action="store_true",
                        help="run the sweep file's enqueued points and nothing else, none pruned")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="fix a config key for every trial, on top of the sweep file's set (repeatable)")
    args = parser.parse_args()
    import optuna

    sweep = read_sweep(args.sweep)
    given = command_line_set(sweep["space"], args.set)
    if args.enqueued_only and not sweep["enqueue"]:
        raise NmtError(f"--enqueued-only: {args.sweep} enqueues no points")
    config = (args.sweep.parent / sweep["config"]).resolve()
    cfg = load_config(config, overrides(sweep["set"], given))  # a bad key fails here, once
    metrics = spec_of(cfg).task_class().metrics
    metric = sweep.get("metric", cfg.train.stop_metric)
    if metric not in metrics:
        raise NmtError(f"metric {metric!r}: the task measures {', '.join(metrics)}")
    out = (args.out or Path("exp") / args.sweep.stem).resolve()
    if args.report and not (out / "study.db").exists():
        raise NmtError(f"no study in {out} to report on (the sweep has not been started there)")
    out.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # its warning on a Ctrl-C in a trial carries a traceback
    study = open_study(out / "study.db", args.sweep.stem, maximize=metrics[metric].higher_is_better,
                       seed=cfg.train.seed, pruning=None if args.enqueued_only else sweep.get("pruner", {}),
                       validate_every=cfg.train.validate_every, startup_trials=sweep["sampler"]["startup_trials"])
    sweep["set"] = {**sweep["set"], **bind_command_line_set(study, given, out, args.report)}
    if args.report:
        report(study, out, metric, config, sweep)
        print(f"{len(study.trials)} trials; table in {out / 'table.md'}")
        return 0
    retry_interrupted(study, sweep)
    enqueue_known(study, sweep)
    objective = objective_for(sweep, config, out, metric, metrics[metric].higher_is_better)
    total = args.trials if args.trials is not None else sweep.get("trials", 20)
    minutes = args.minutes if args.minutes is not None else sweep.get("minutes")  # --minutes 0: none starts
    started = time.time()

    def more_to_run() -> bool:  # with --enqueued-only, until no enqueued point (or retry) waits
        if args.enqueued_only:
            return any(t.state.name == "WAITING" for t in study.trials)
        return sum(t.state.is_finished() and t.state.name != "FAIL" for t in study.trials) < total

    def say(_, trial) -> None:  # Optuna hands its callbacks the trial that just ran
        print(f"trial {trial.number}: {trial.state.name.lower()}"
              + (f", dev {metric} {trial.value:.2f}" if trial.value is not None else ""), file=sys.stderr)

    while more_to_run():
        if minutes is not None and time.time() - started >= minutes * 60:
            print(f"sweep: {minutes:g} minutes spent; {out / 'table.md'}", file=sys.stderr)
            break
        try:
            study.optimize(objective, n_trials=1, catch=(), callbacks=[say])
        finally:  # after every trial, and after a Ctrl-C in one
            report(study, out, metric, config, sweep)
    print(f"{len(study.trials)} trials; table in {out / 'table.md'}"
          + (f", best in {out / 'best.yaml'}" if (out / "best.yaml").exists() else ""))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except NmtError as err:
        print(f"sweep: error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("sweep: interrupted; start it again to continue (the interrupted trial resumes)", file=sys.stderr)
        sys.exit(130)
