"""nmt-serve's command line, in-process: its flags reach the service, and every start-up mistake is one
line and exit 2 before anything listens."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from conftest import run_in_process

from nmt.cli import serve as serve_cli

PINNED = Path(__file__).resolve().parent / "data" / "pinned"


def free_port() -> str:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return str(probe.getsockname()[1])


def run(monkeypatch, capsys, *args: str):
    """nmt-serve with `args` as a user starts it; uvicorn.run is replaced by a stub that keeps the app."""
    import uvicorn

    started: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: started.update(app=app, **options))
    code, _, err = run_in_process(monkeypatch, capsys, serve_cli.main, "nmt-serve", *args)
    return code, err, started


def test_the_limit_flags_reach_the_service(monkeypatch, capsys):
    code, _, started = run(monkeypatch, capsys, "--model", f"ding={PINNED / 'rnnsearch'}", "--port", free_port(),
                           "--max-lines", "3", "--max-chars", "40", "--max-beam", "4", "--max-queue", "9",
                           "--batch-wait-ms", "25", "--batch-tokens", "500")
    assert code == 0
    service = started["app"].state.service
    limits = service.limits
    assert (limits.max_lines, limits.max_chars, limits.max_beam, limits.max_queue_lines) == (3, 40, 4, 9)
    assert (limits.batch_wait_ms, limits.batch_tokens) == (25, 500)
    batcher = started["app"].state.batcher
    assert (batcher.max_wait, batcher.max_tokens, batcher.max_queue_lines) == (0.025, 500, 9)
    assert list(service.models) == ["ding"] and started["host"] == "127.0.0.1"


def test_a_model_is_named_after_its_directory_unless_named(monkeypatch, capsys):
    _, _, started = run(monkeypatch, capsys, "--model", str(PINNED / "rnnsearch"), "--model",
                        f"rev={PINNED / 'seq2seq_reversed'}", "--port", free_port())
    assert list(started["app"].state.service.models) == ["rnnsearch", "rev"]


@pytest.mark.parametrize("args, message", [
    (("--model", "/nonexistent/exp"), "model: /nonexistent/exp is not an experiment directory (no config.yaml)"),
    (("--model", f"a={PINNED / 'rnnsearch'}", "--model", f"a={PINNED / 'seq2seq_reversed'}"),
     "serve: --model 'a=" + str(PINNED / "seq2seq_reversed") + "': the name 'a' is taken"),
    (("--model", f"={PINNED / 'rnnsearch'}"), "a name is empty"),
    (("--model", str(PINNED / "rnnsearch"), "--max-beam", "0"), "serve: --max-beam 0: must be at least 1"),
    (("--model", str(PINNED / "rnnsearch"), "--batch-wait-ms", "-5"), "serve: --batch-wait-ms -5: expected 0 to 10000"),
    (("--model", str(PINNED / "rnnsearch"), "--port", "99999"), "serve: --port 99999: expected 1 to 65535"),
    (("--model", str(PINNED / "rnnsearch"), "--device", "tpu"), "serve: --device"),
])
def test_start_up_mistakes_are_one_line_and_exit_2(monkeypatch, capsys, args, message):
    code, err, started = run(monkeypatch, capsys, *args, *(() if "--port" in args else ("--port", free_port())))
    assert code == 2 and not started
    assert err.startswith("nmt-serve: error: ") and message in err and err.count("\n") == 1, err


def test_a_port_in_use_is_one_line(monkeypatch, capsys):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        code, err, started = run(monkeypatch, capsys, "--model", str(PINNED / "rnnsearch"), "--port", str(port))
    assert code == 2 and not started and f"cannot listen on 127.0.0.1:{port} (Address already in use)" in err
