"""Shared fixtures: a small synthetic German-like/English-like parallel corpus on disk."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# A worker of `pytest -n` has one core of its own: torch in it, and every command a test starts, keep
# to one thread (set before anything imports torch), as two-thread jobs side by side on two cores
# slow each other several-fold.
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ.setdefault("OMP_NUM_THREADS", "1")

def copy_recipe(tmp_path: Path, name: str) -> Path:
    """A recipe folder with recipes/lib and tools/compare_runs.py beside it, as in the repository."""
    recipes = tmp_path / "recipes"
    shutil.copytree(REPO / "recipes" / name, recipes / name, ignore=shutil.ignore_patterns("data", "exp", "trials"))  # trials: a sweep's runs
    shutil.copytree(REPO / "recipes" / "lib", recipes / "lib", dirs_exist_ok=True)
    (tmp_path / "tools").mkdir(exist_ok=True)
    shutil.copy(REPO / "tools" / "compare_runs.py", tmp_path / "tools")
    return recipes / name


def recipe_env(**extra: str) -> dict:
    """The environment with this interpreter's bin folder first, so recipes find the nmt commands."""
    return {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}", **extra}


WORDS_SRC = ["haus", "katze", "hund", "baum", "wasser", "sonne", "mond", "stern", "buch", "tisch", "stuhl", "fenster", "tür", "garten"]
WORDS_TGT = ["house", "cat", "dog", "tree", "water", "sun", "moon", "star", "book", "table", "chair", "window", "door", "garden"]


def make_pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """Word-for-word 'translations' of random word strings, 2 to 9 words long."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        ids = [rng.randrange(len(WORDS_SRC)) for _ in range(rng.randint(2, 9))]
        pairs.append((" ".join(WORDS_SRC[i] for i in ids) + " .", " ".join(WORDS_TGT[i] for i in ids) + " ."))
    return pairs


def write_plain(directory: Path, split: str, pairs) -> tuple[Path, Path]:
    src, tgt = directory / f"{split}.de", directory / f"{split}.en"
    src.write_text("".join(p[0] + "\n" for p in pairs), encoding="utf-8")
    tgt.write_text("".join(p[1] + "\n" for p in pairs), encoding="utf-8")
    return src, tgt


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    """train (400), dev (30) and test (30) splits as plain files in tmp_path/corpus."""
    directory = tmp_path / "corpus"
    directory.mkdir()
    for split, n, seed in (("train", 400, 1), ("dev", 30, 2), ("test", 30, 3)):
        write_plain(directory, split, make_pairs(n, seed))
    return directory


def config_text(corpus_dir: Path, exp_dir: Path, vocab_size: int = 48, extra: str = "") -> str:
    return f"""
exp_dir: {exp_dir}
data:
  train: {{src: {corpus_dir}/train.de, tgt: {corpus_dir}/train.en}}
  dev: {{src: {corpus_dir}/dev.de, tgt: {corpus_dir}/dev.en}}
  test: {{src: {corpus_dir}/test.de, tgt: {corpus_dir}/test.en}}
tokenizer: {{vocab_size: {vocab_size}}}
{extra}"""


def run_cli(module: str, *args: str, cwd: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run a console entry point as the user would (a separate process)."""
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=cwd, input=stdin, capture_output=True, text=True, timeout=300,
    )


def wait_for(log: Path, text: str, seconds: float = 120) -> None:
    """Until `log` holds `text`; a test that waits longer fails, naming what never came."""
    deadline = time.time() + seconds
    while not (log.exists() and text in log.read_text(encoding="utf-8")):
        assert time.time() < deadline, f"{log} never said {text!r}"
        time.sleep(0.1)


def run_in_process(monkeypatch, capsys, main, program: str, *args: str) -> tuple[int, str, str]:
    """A console script's `main` with `args` as its command line, in this process (no second import of
    torch): its exit status, stdout and stderr."""
    monkeypatch.setattr(sys, "argv", [program, *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    out, err = capsys.readouterr()
    return exit_.value.code, out, err


def train_straight_and_resumed(tmp_path: Path, config: Path, exp_dir: Path, *, steps: int, stop_at: int) -> Path:
    """Runs nmt-train on `config` (whose exp_dir is `exp_dir`) straight to `steps` updates, and again
    stopped at `stop_at` and resumed to `steps`; asserts both end in the same place, across an epoch
    boundary, with identical weights. Returns the straight run's directory."""
    import numpy as np

    from nmt.checkpoint import load_checkpoint

    runs = {}
    for name in ("straight", "split"):
        runs[name] = tmp_path / name
        (tmp_path / f"{name}.yaml").write_text(
            config.read_text(encoding="utf-8").replace(str(exp_dir), str(runs[name])), encoding="utf-8")
    train = lambda name, *args: run_cli("nmt.cli.train", "--config", str(tmp_path / f"{name}.yaml"),  # noqa: E731
                                        "--quiet", *args)
    for result in (train("straight", "--set", f"train.max_steps={steps}"),
                   train("split", "--set", f"train.max_steps={stop_at}"),
                   train("split", "--resume", "--set", f"train.max_steps={steps}")):
        assert result.returncode == 0, result.stderr
    a, b = (load_checkpoint(runs[name] / "checkpoints" / "last.pt") for name in ("straight", "split"))
    assert a["iterator"] == b["iterator"] and a["iterator"]["epoch"] > 1  # across an epoch boundary
    assert all(np.array_equal(a["model"][k].numpy(), b["model"][k].numpy()) for k in a["model"])
    return runs["straight"]


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    """A small RNNsearch trained for a few dozen updates on the synthetic corpus."""
    root = tmp_path_factory.mktemp("translate")
    corpus = root / "corpus"
    corpus.mkdir()
    for split, n, seed in (("train", 400, 1), ("dev", 30, 2), ("test", 30, 3)):
        write_plain(corpus, split, make_pairs(n, seed))
    extra = """
model: {variant: rnnsearch, embed_size: 16, encoder_hidden: 16, decoder_hidden: 32, attention_size: 16, dropout: 0.0}
train: {batch_tokens: 1000, validate_every: 10, max_steps: 30, lr: 0.01}
decode: {beam_size: 3, max_src_tokens: 40}
"""
    config = root / "conf.yaml"
    config.write_text(config_text(corpus, root / "exp", extra=extra), encoding="utf-8")
    result = run_cli("nmt.cli.train", "--config", str(config))
    assert result.returncode == 0, result.stderr
    return root / "exp"


@pytest.fixture(scope="session")
def toy_captioner(tmp_path_factory) -> Path:
    """A captioner of coloured discs (tests/captioning_toy.py), trained once a test process."""
    from captioning_toy import train_toy_captioner

    return train_toy_captioner(tmp_path_factory)
