"""The character language model: the seed's "hello", truncated BPTT, sampling, exact resume."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from nmt.checkpoint import load_checkpoint
from nmt.lm.data import CharVocab, StreamIterator
from nmt.lm.model import CharLM
from nmt.lm.task import generate, stream_loss

SMALL = dict(cell="lstm", embed_size=8, hidden_size=32, num_layers=1, dropout=0.0)


def fit(model, ids: np.ndarray, *, bptt: int, steps: int, streams: int = 8, lr: float = 0.01) -> None:
    """Truncated BPTT as the trainer runs it: the state carries, detached, from window to window."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    iterator = StreamIterator(ids, streams=streams, bptt=bptt)
    state, done = None, 0
    while done < steps:
        for batch in iterator:
            state = None if batch.first else state
            logits, state = model(batch.inputs, state)
            state = tuple(s.detach() for s in state)
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch.targets.flatten())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            done += 1
            if done == steps:
                return


def test_the_seeds_hello_is_learned_and_generated_by_argmax():
    vocab = CharVocab.from_text("hello")
    assert sorted(vocab.itos[4:]) == ["e", "h", "l", "o"]
    torch.manual_seed(0)
    model = CharLM(vocab_size=len(vocab), **SMALL)
    fit(model, vocab.encode("hello" * 200), bptt=10, steps=150)
    assert "h" + generate(model, vocab, prime="h", length=4, argmax=True) == "hello"
    assert generate(model, vocab, prime="hel", length=7, argmax=True) == "lohello"


def test_no_gradient_reaches_back_further_than_bptt_steps():
    from nmt.lm.task import LanguageModelTask

    torch.manual_seed(0)
    model = CharLM(vocab_size=10, **SMALL)
    embedded = []
    model.embedding.register_forward_hook(lambda module, inputs, output: embedded.append(output))
    task = LanguageModelTask.__new__(LanguageModelTask)  # only its loss and carried state are used here
    task.device, task.state = torch.device("cpu"), None
    batches = iter(StreamIterator(np.arange(4, 10).repeat(20), streams=2, bptt=5))
    first = task.loss(model, next(batches), label_smoothing=0.0)
    second = task.loss(model, next(batches), label_smoothing=0.0)
    assert task.state is not None and all(s.grad_fn is None for s in task.state)  # carried, detached
    to_first, to_second = torch.autograd.grad(second, embedded, allow_unused=True)
    assert to_first is None and to_second is not None and to_second.abs().sum() > 0
    assert torch.autograd.grad(first, embedded[0])[0].abs().sum() > 0


def test_the_carried_state_remembers_further_back_than_the_window():
    # The character after twelve dots repeats the one before them: 13 steps back, more than a 6-step window.
    rng = np.random.default_rng(0)
    text = "".join(c + "." * 12 + c + "\n" for c in rng.choice(list("ab"), size=600))
    vocab = CharVocab.from_text(text)
    torch.manual_seed(0)
    model = CharLM(vocab_size=len(vocab), **SMALL)
    fit(model, vocab.encode(text), bptt=30, steps=300)
    test = vocab.encode("".join(c + "." * 12 + c + "\n" for c in rng.choice(list("ab"), size=100)))
    carried, count = 0.0, 0
    reset = 0.0
    state = None
    with torch.no_grad():
        for batch in StreamIterator(test, streams=4, bptt=6):
            logits, state = model(batch.inputs, None if batch.first else state)
            carried += float(torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch.targets.flatten(), reduction="sum"))
            fresh, _ = model(batch.inputs, None)
            reset += float(torch.nn.functional.cross_entropy(fresh.flatten(0, 1), batch.targets.flatten(), reduction="sum"))
            count += batch.targets.numel()
    assert carried / count < 0.8 * reset / count, (carried / count, reset / count)
    total, counted = stream_loss(model, test, streams=4, chunk=6)  # the evaluation carries it too
    assert abs(total / counted - carried / count) < 0.05


def test_sampling_is_seeded_and_temperature_towards_zero_is_argmax():
    vocab = CharVocab.from_text("abcdefgh")
    torch.manual_seed(1)
    model = CharLM(vocab_size=len(vocab), **SMALL)
    draw = lambda seed, t=1.0: generate(model, vocab, prime="a", length=40, temperature=t, seed=seed)  # noqa: E731
    assert draw(3) == draw(3) and draw(3) != draw(4)
    assert draw(5, 1e-4) == generate(model, vocab, prime="a", length=40, argmax=True)
    assert set(draw(3)) <= set("abcdefgh")  # no special symbol is ever written


def test_nmt_train_resumes_a_char_lm_run_exactly_with_its_carried_state(tmp_path):
    text = "".join(f"int f{i % 7}(x) {{ return {i % 5}; }}\n" for i in range(400))
    for split in ("train", "dev"):
        (tmp_path / f"{split}.txt").write_text(text if split == "train" else text[:600], encoding="utf-8")

    def config(name: str) -> str:
        path = tmp_path / f"{name}.yaml"
        path.write_text(f"task: char_lm\nexp_dir: {tmp_path / name}\n"
                        f"data: {{train: {tmp_path}/train.txt, dev: {tmp_path}/dev.txt}}\n"
                        "model: {cell: gru, embed_size: 8, hidden_size: 24, num_layers: 2, dropout: 0.1}\n"
                        "train: {streams: 4, bptt: 20, lr: 0.01, validate_every: 5, max_steps: 10}\n")
        return str(path)

    def train(path: str, *args: str):
        result = subprocess.run([sys.executable, "-m", "nmt.cli.train", "--config", path, *args],
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        return result

    assert "best dev bpc " in train(config("straight")).stdout
    split = config("split")
    train(split, "--set", "train.max_steps=5")
    train(split, "--resume")
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")
    assert a["step"] == b["step"] == 10
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    assert torch.equal(a["task_by_rank"][0]["state"][0], b["task_by_rank"][0]["state"][0])


def test_each_command_names_the_other_when_given_the_wrong_kind_of_model(tmp_path):
    from nmt.errors import NmtError
    from nmt.tasks import load_trained

    char_dir, translation_dir = tmp_path / "char", tmp_path / "translation"
    char_dir.mkdir(), translation_dir.mkdir()
    (char_dir / "config.yaml").write_text("task: char_lm\nmodel: {cell: gru}\n", encoding="utf-8")
    (translation_dir / "config.yaml").write_text("model: {variant: rnnsearch}\n", encoding="utf-8")
    with pytest.raises(NmtError, match="holds a character model .* sample from it with nmt-sample"):
        load_trained(char_dir, task="translation")
    with pytest.raises(NmtError, match=r"holds a translation model \(task: translation\), not a character model; translate with nmt-translate"):
        load_trained(translation_dir, task="char_lm")
