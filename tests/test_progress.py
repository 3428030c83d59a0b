"""A run's counters: saved and restored whole, read from older checkpoints, and the time estimate."""

from __future__ import annotations

import pytest

from nmt.progress import Progress, format_minutes


def test_progress_round_trips_and_reads_the_layout_of_older_checkpoints():
    progress = Progress(step=40, elapsed=12.5, train_seconds=10.0, units_trained=999, best=[(3.5, 40)],
                        history=[{"step": 40, "bleu": 3.5}], last_validated_step=40)
    assert Progress.from_state({"progress": progress.state_dict()}) == progress
    older = {"step": 40, "history": [{"step": 40, "bleu": 3.5}],
             "trainer": {"elapsed": 12.5, "train_seconds": 10.0, "target_tokens": 999, "best": [[3.5, 40]],
                         "bad_validations": 0, "skipped_updates": 0, "last_validated_step": 40}}
    assert Progress.from_state(older) == progress


def test_the_estimate_takes_the_nearer_budget_and_counts_validations_once_timed():
    progress = Progress(step=20, train_seconds=9.0, elapsed=10.0)  # 0.5 s an update, batching included
    assert progress.seconds_left(total_steps=100, max_minutes=None, validate_every=50) == pytest.approx(40.0)
    progress.validations, progress.validation_seconds, progress.elapsed = 1, 3.0, 13.0  # 2 validations to come
    assert progress.seconds_left(total_steps=100, max_minutes=None, validate_every=50) == pytest.approx(46.0)
    assert progress.seconds_left(total_steps=100, max_minutes=0.5, validate_every=50) == pytest.approx(17.0)
    assert progress.seconds_left(total_steps=None, max_minutes=None, validate_every=50) is None
    assert Progress().seconds_left(total_steps=100, max_minutes=None, validate_every=50) is None
    assert format_minutes(45) == "45 s" and format_minutes(35 * 60) == "35 min"


def test_the_wait_before_the_first_update_is_not_counted_in_the_pace():
    # 20 s of planning and segmenting the first epoch, then 20 updates in 10 s: 0.5 s an update, not 1.5
    progress = Progress(step=20, train_seconds=9.0, elapsed=30.0, startup_seconds=20.0)
    assert progress.seconds_per_update() == pytest.approx(0.5)
    assert progress.seconds_left(total_steps=100, max_minutes=None, validate_every=50) == pytest.approx(40.0)
