"""tools/sweep.py end to end on the toy recipe: tiny trials (the first four enqueued in the sweep file),
one pruned, one interrupted by Ctrl-C and resumed when the sweep starts again; the table (after every
trial, and on --report), importance plot and best config it leaves; the enqueued points again under
another seed (--enqueued-only --set), none pruned; trials that Optuna proposes, bounded by --trials and
--minutes; best.yaml from the best finished trial wherever it stands."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from conftest import REPO

SWEEP = """
config: {recipe}/conf/rnnsearch.yaml
metric: loss
trials: 4
pruner: {{startup_trials: 2, warmup_validations: 0}}
sampler: {{startup_trials: 2}}
set:
  model.embed_size: 16
  model.encoder_hidden: 16
  model.decoder_hidden: 32
  model.attention_size: 16
  train.batch_tokens: 300
  train.max_steps: 8
  train.validate_every: 2
  train.validation_beam: 1
space:
  train.lr: {{low: 0.0, high: 0.02}}
  model.dropout: [0.0, 0.1]
enqueue:  # the fourth (lr 0: it never learns) falls behind the median of the first and third
  - {{train.lr: 0.02, model.dropout: 0}}
  - {{train.lr: 0.015, model.dropout: 0.1}}
  - {{train.lr: 0.01, model.dropout: 0.0}}
  - {{train.lr: 0, model.dropout: 0.0}}
"""


def _toy_recipe(tmp_path, *, train: int, dev: int):
    """The toy recipe's rnnsearch config and data in tmp_path/toy, the data cut to `train` and `dev` pairs."""
    recipe = tmp_path / "toy"
    (recipe / "conf").mkdir(parents=True)
    (recipe / "conf" / "rnnsearch.yaml").write_text((REPO / "recipes/toy-reverse/conf/rnnsearch.yaml").read_text()
                                                    .replace("data/", f"{recipe}/data/"))
    made = subprocess.run([sys.executable, str(REPO / "recipes/toy-reverse/local/make_data.py"), str(recipe / "data")],
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    for split, keep in (("train", train), ("dev", dev)):  # smaller: each trial prepares and validates on them
        for side in ("src", "tgt"):
            path = recipe / "data" / f"{split}.{side}"
            path.write_text("".join(path.read_text().splitlines(keepends=True)[:keep]))
    return recipe


def _assert_best_yaml_holds_the_best_trial(out, best: dict) -> None:
    """best.yaml's values are those of the finished trial with the lowest dev loss (worked out here)."""
    import optuna

    trials = optuna.load_study(study_name="sweep", storage=f"sqlite:///{out / 'study.db'}").trials
    lowest = min((t for t in trials if t.state.name == "COMPLETE"), key=lambda t: t.value)
    for key, value in lowest.params.items():
        section, name = key.split(".", 1)
        assert best[section][name] == pytest.approx(value), key


def test_a_sweep_prunes_a_trial_that_falls_behind_and_continues_after_ctrl_c(tmp_path):
    import optuna

    recipe = _toy_recipe(tmp_path, train=2000, dev=30)
    sweep_file, out = tmp_path / "sweep.yaml", tmp_path / "out"
    sweep_file.write_text(SWEEP.format(recipe=recipe), encoding="utf-8")
    command = [sys.executable, str(REPO / "tools/sweep.py"), str(sweep_file), "--out", str(out)]

    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    while sum("validation at step 2:" in log.read_text() for log in out.glob("trials/*/train.log")) < 2:
        assert time.time() < deadline and first.poll() is None, "the second trial never validated"
        time.sleep(0.05)
    written = (out / "table.md").read_text()  # as each trial ends
    assert "| 0 | complete, enqueued |" in written and "| 3 | waiting, enqueued | - | 0.0 | 0.0 |" in written
    first.send_signal(signal.SIGINT)  # Ctrl-C in the middle of the second trial
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 130 and "start it again to continue" in stderr, stderr[-2000:]
    assert "Traceback" not in stderr  # a Ctrl-C is the user's, not a crash

    again = subprocess.run(command, capture_output=True, text=True, timeout=500)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "trial 2: complete" in again.stderr and "trial 3: pruned" in again.stderr  # not the waiting ones
    states = [t.state.name for t in optuna.load_study(study_name="sweep", storage=f"sqlite:///{out / 'study.db'}").trials]
    assert states.count("FAIL") == 1 and states.count("PRUNED") == 1 and states.count("COMPLETE") == 3
    assert len(states) == 5  # enqueued again at the second start, the four would wait a second time
    interrupted = [log for log in out.glob("trials/*/train.log") if "interrupted at step" in log.read_text()]
    assert len(interrupted) == 1 and "resuming at step" in interrupted[0].read_text()  # the same run went on
    table = (out / "table.md").read_text()
    assert table.count("| pruned, enqueued |") == 1 and table.count("| complete") == 3
    assert table.count(", enqueued |") == 5  # the four and the interrupted one's retry
    assert "| 0.0 | 0.0 |" in table.split("| pruned")[1].splitlines()[0]  # the rate-0 trial is the one
    assert (out / "importance.png").read_bytes()[:4] == b"\x89PNG"
    best = yaml.safe_load((out / "best.yaml").read_text())
    assert best["base"] == os.path.relpath(recipe / "conf" / "rnnsearch.yaml", out)
    assert best["train"]["max_steps"] == 8
    _assert_best_yaml_holds_the_best_trial(out, best)
    from nmt.tasks import load_config

    cfg = load_config(out / "best.yaml")  # ready for run.sh --conf
    assert cfg.train.lr == best["train"]["lr"] and cfg.model.variant == "rnnsearch"

    (out / "table.md").unlink()
    (out / "best.yaml").unlink()
    looked = subprocess.run(command + ["--report"], capture_output=True, text=True, timeout=120)
    assert looked.returncode == 0, looked.stderr[-2000:]
    assert (out / "table.md").read_text() == table and (out / "best.yaml").exists()
    assert len(optuna.load_study(study_name="sweep", storage=f"sqlite:///{out / 'study.db'}").trials) == len(states)

    # The enqueued points again, as an ablation's second seed: only they run, and none is pruned
    rows = tmp_path / "seed2"
    command = [sys.executable, str(REPO / "tools/sweep.py"), str(sweep_file), "--out", str(rows), "--enqueued-only",
               "--set", "train.seed=2", "--set", "train.max_steps=4"]
    second = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    trials = optuna.load_study(study_name="sweep", storage=f"sqlite:///{rows / 'study.db'}").trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 4 and trials[3].params["train.lr"] == 0
    for trial in trials:
        config = yaml.safe_load((rows / trial.user_attrs["exp_dir"] / "config.yaml").read_text())
        assert config["train"]["seed"] == 2 and config["train"]["max_steps"] == 4
    other = subprocess.run(command[:-4] + ["--set", "train.seed=3"], capture_output=True, text=True, timeout=120)
    assert other.returncode == 2 and "was run with --set train.seed=2 --set train.max_steps=4" in other.stderr


PROPOSED = """
config: {recipe}/conf/rnnsearch.yaml
metric: loss
trials: 1
sampler: {{startup_trials: 1}}
set: {{model.embed_size: 8, model.encoder_hidden: 8, model.decoder_hidden: 16, model.attention_size: 8,
      train.batch_tokens: 300, train.max_steps: 2, train.validate_every: 2, train.validation_beam: 1}}
space:
  train.lr: {{low: 0.001, high: 0.02, log: true}}
  model.dropout: [0.0, 0.2]
"""


def test_optuna_proposes_the_trials_and_trials_and_minutes_bound_the_sweep(tmp_path):
    """Nothing enqueued: every trial's values are Optuna's, inside the space. --trials overrides the file's
    count; --minutes stops starting trials once spent (a trial already begun finishes)."""
    import optuna

    recipe = _toy_recipe(tmp_path, train=300, dev=8)
    sweep_file, out = tmp_path / "sweep.yaml", tmp_path / "out"
    sweep_file.write_text(PROPOSED.format(recipe=recipe), encoding="utf-8")
    command = [sys.executable, str(REPO / "tools/sweep.py"), str(sweep_file), "--out", str(out)]
    first = subprocess.run(command + ["--trials", "3"], capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    trials = optuna.load_study(study_name="sweep", storage=f"sqlite:///{out / 'study.db'}").trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3  # three, not the file's one
    assert not any(t.user_attrs.get("enqueued") for t in trials)
    rates = [t.params["train.lr"] for t in trials]
    assert len(set(rates)) == 3 and all(0.001 <= rate <= 0.02 for rate in rates)
    assert all(t.params["model.dropout"] in (0.0, 0.2) for t in trials)
    _assert_best_yaml_holds_the_best_trial(out, yaml.safe_load((out / "best.yaml").read_text()))

    spent = subprocess.run(command + ["--trials", "10", "--minutes", "0"], capture_output=True, text=True, timeout=120)
    assert spent.returncode == 0 and "0 minutes spent" in spent.stderr, spent.stderr[-2000:]
    assert len(optuna.load_study(study_name="sweep", storage=f"sqlite:///{out / 'study.db'}").trials) == 3


def test_best_yaml_holds_the_best_finished_trial_wherever_it_stands(tmp_path):
    """Neither the first nor the last trial, and not a pruned one whose early value was lower."""
    sys.path.insert(0, str(REPO / "tools"))
    import optuna
    import sweep
    from optuna.distributions import FloatDistribution
    from optuna.trial import TrialState, create_trial

    space = {"train.lr": FloatDistribution(0.0, 0.1)}
    study = optuna.create_study(direction="minimize")
    for lr, value, state in ((0.01, 3.0, TrialState.COMPLETE), (0.02, 2.0, TrialState.COMPLETE),
                             (0.005, 2.5, TrialState.COMPLETE), (0.03, None, TrialState.PRUNED)):
        study.add_trial(create_trial(params={"train.lr": lr}, distributions=space, value=value, state=state,
                                     intermediate_values={2: 1.0} if value is None else {}))
    config = tmp_path / "conf.yaml"
    sweep.report(study, tmp_path, "loss", config, {"space": {"train.lr": {}}, "set": {"train.max_steps": 8}})
    text = (tmp_path / "best.yaml").read_text()
    assert "(trial 1, dev loss 2.00)" in text
    assert yaml.safe_load(text)["train"] == {"max_steps": 8, "lr": 0.02}
    assert "| 3 | pruned | (1.00) | 0.03 |" in (tmp_path / "table.md").read_text()


def test_a_continued_study_draws_new_values_rather_than_the_first_trials_again(tmp_path):
    """Each start seeds the sampler anew: with the seed of the first start it would repeat trial 0's values."""
    sys.path.insert(0, str(REPO / "tools"))
    import optuna
    import sweep

    def first_draw() -> float:
        study = sweep.open_study(tmp_path / "study.db", "s", maximize=True, seed=1234, pruning={}, validate_every=1,
                                 startup_trials=10)
        trial = study.ask()
        value = trial.suggest_float("x", 0.0, 1.0)
        study.tell(trial, value)
        return value

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    assert first_draw() != first_draw()  # two sessions of one sweep


def test_a_report_on_a_sweep_never_started_says_so_in_one_line(tmp_path):
    sweep_file = REPO / "recipes/toy-reverse/sweeps/reversal.yaml"
    result = subprocess.run([sys.executable, str(REPO / "tools/sweep.py"), str(sweep_file), "--out", str(tmp_path / "none"),
                             "--report"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "no study in" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "none").exists()  # nothing made where nothing was asked for


def test_an_enqueued_point_off_the_space_is_named_in_one_line(tmp_path):
    sys.path.insert(0, str(REPO / "tools"))
    import sweep

    from nmt.errors import NmtError

    space = "space: {model.dropout: {low: 0.1, high: 0.5, step: 0.1}, train.batch_size: [32, 64]}"
    for point, named in (("{model.dropout: 0.3}", "missing: train.batch_size"),
                         ("{model.dropout: 0.25, train.batch_size: 64}", "model.dropout: 0.25 is outside"),
                         ("{model.dropout: 0.3, train.batch_size: 48}", "train.batch_size: 48 is outside"),
                         ("0.3", "needs a mapping of the space's keys")):
        path = tmp_path / "sweep.yaml"
        path.write_text(f"config: c.yaml\n{space}\nenqueue: [{point}]\n")
        with pytest.raises(NmtError, match=named):
            sweep.read_sweep(path)
    path.write_text(f"config: c.yaml\n{space}\nenqueue: [{{model.dropout: 0.3, train.batch_size: 64}}]\n")
    assert sweep.read_sweep(path)["enqueue"] == [{"model.dropout": 0.3, "train.batch_size": 64}]
    for assignment, named in (("model.dropout=0.2", "--set model.dropout: a key of the space"),
                              ("train.seed", "expected section.key=value")):
        with pytest.raises(NmtError, match=named):
            sweep.command_line_set(sweep.read_sweep(path)["space"], [assignment])
    assert sweep.command_line_set({}, ["train.seed=2", "data.note=[2"]) == {"train.seed": 2, "data.note": "[2"}
