"""nmt-translate, nmt-score and nmt-average as a user runs them, on a small trained model."""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import make_pairs, run_cli

from nmt.checkpoint import load_checkpoint


def translate(model_dir, *args, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nmt.cli.translate", "--model", str(model_dir), *args],
                          input=stdin, capture_output=True, timeout=300)


def test_translates_lines_in_order(model_dir):
    result = translate(model_dir, stdin=b"katze hund .\nhaus .\n")
    assert result.returncode == 0, result.stderr.decode()
    lines = result.stdout.decode().split("\n")
    assert len(lines) == 3 and lines[2] == ""
    assert all(line.strip() for line in lines[:2])


def test_fuzzed_input_never_crashes_or_shifts_lines(model_dir):
    rng = random.Random(0)
    lines = [b"", b"   \t ", b"haus katze .", b"\xff\xfe broken \xc3(", b"ctrl \x00\x07\x1b[31m chars",
             "ümlaut ☃ 漢字 .".encode(), b"haus " * 200_000, bytes(rng.randrange(256) for _ in range(300)).replace(b"\n", b""),
             b"\r", b"baum ."]
    for _ in range(20):
        lines.append(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80))).replace(b"\n", b" "))
    stdin = b"\n".join(lines)  # and no newline at the very end
    result = translate(model_dir, stdin=stdin)
    stderr = result.stderr.decode()
    assert result.returncode == 0, stderr
    assert "Traceback" not in stderr
    output = result.stdout.decode().split("\n")
    assert output[-1] == "" and len(output) - 1 == len(lines)
    assert output[0] == "" and output[1] == ""  # empty and blank lines give empty lines
    assert "warning: input line 4 (and maybe later ones): invalid UTF-8 replaced with U+FFFD" in stderr
    # Tabs on line 2 and the lone CR on line 9 are white space; line 5 is the first with control characters.
    assert "warning: input line 5 (and maybe later ones): control characters replaced with spaces" in stderr
    assert stderr.count("control characters") == 1 and stderr.count("invalid UTF-8") == 1
    assert "input line 7 is longer than 40 tokens" in stderr


def test_interactive_use_gets_each_line_at_once(model_dir):
    process = subprocess.Popen([sys.executable, "-m", "nmt.cli.translate", "--model", str(model_dir)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for text in (b"haus .\n", b"katze baum .\n"):
            process.stdin.write(text)
            process.stdin.flush()
            line = process.stdout.readline()  # arrives while stdin is still open
            assert line.endswith(b"\n") and line.strip()
    finally:
        process.stdin.close()
        process.wait(timeout=60)
    assert process.returncode == 0


def test_nbest_json_and_alignments(model_dir):
    tsv = translate(model_dir, "--nbest", "3", "--beam", "3", stdin=b"haus katze .\n")
    fields = tsv.stdout.decode().rstrip("\n").split("\t")
    assert len(fields) == 6 and all(float(s) <= 0 for s in fields[1::2])
    assert [float(s) for s in fields[1::2]] == sorted((float(s) for s in fields[1::2]), reverse=True)
    aligned = translate(model_dir, "--alignments", "--beam", "1", stdin=b"haus katze .\n\n")
    first, empty = [json.loads(line) for line in aligned.stdout.decode().splitlines()]
    matrix = first["alignment"]["weights"]
    assert len(matrix[0]) == len(first["alignment"]["source"]) >= 3 and all(abs(sum(row) - 1) < 1e-3 for row in matrix)
    assert empty["text"] == "" and empty["alignment"] is None


def test_decode_settings_can_be_overridden_but_nothing_else(model_dir):
    capped = translate(model_dir, "--set", "decode.max_length_a=0", "--set", "decode.max_length_b=1",
                       stdin=b"haus katze hund baum garten .\n")
    assert capped.returncode == 0, capped.stderr.decode()
    assert len(capped.stdout.decode().split()) <= 1  # at most one output piece
    wrong = translate(model_dir, "--set", "model.dropout=0.5", stdin=b"haus .\n")
    assert wrong.returncode == 2 and b"only decode.* settings" in wrong.stderr
    typo = translate(model_dir, "--set", "decode.beam_sise=2", stdin=b"haus .\n")
    assert typo.returncode == 2 and b"unknown key 'decode.beam_sise' (did you mean 'beam_size'?)" in typo.stderr


@pytest.mark.parametrize("args, message", [
    (("--beam", "0"), "decode.beam_size = 0 is out of range: expected at least 1 (--beam sets decode.beam_size)"),
    (("--beam", "1", "--nbest", "3"), "decode.nbest = 3 must be at most decode.beam_size (1) "
                                      "(--beam sets decode.beam_size; --nbest sets decode.nbest)"),
    (("--nbest", "4"), "decode.nbest = 4 must be at most decode.beam_size (3) (--nbest sets decode.nbest)"),
    (("--sample", "--temperature", "0"), "decode.temperature = 0.0 must be above 0 for sampling"),
    (("--sample", "--nbest", "2"), "decode.nbest = 2 needs decode.method 'beam'"),
])
def test_impossible_search_options_are_one_line(model_dir, args, message):
    result = translate(model_dir, *args, stdin=b"haus .\n")
    assert result.returncode == 2 and "Traceback" not in result.stderr.decode()
    assert message in result.stderr.decode()


def test_nbest_is_checked_against_the_beam_size_set_on_the_command_line(model_dir):
    result = translate(model_dir, "--set", "decode.beam_size=4", "--nbest", "4", stdin=b"haus katze .\n")
    assert result.returncode == 0, result.stderr.decode()
    assert len(result.stdout.decode().rstrip("\n").split("\t")) == 8  # 4 (text, score) pairs


def test_sampling_is_reproducible_with_a_seed(model_dir):
    args = ("--sample", "--temperature", "1.5", "--top-k", "5")
    stdin = b"haus katze hund baum .\n" * 5
    first, again, other = (translate(model_dir, *args, "--seed", seed, stdin=stdin) for seed in ("7", "7", "8"))
    for run in (first, again, other):
        assert run.returncode == 0, run.stderr.decode()
        assert len(run.stdout.decode().splitlines()) == 5
    assert first.stdout == again.stdout and first.stdout != other.stdout


def test_files_ensembles_averages_and_quantization(model_dir, tmp_path):
    # A copy: avg.pt written into the session's model would make "no avg.pt yet" true only once a session.
    model_dir = Path(shutil.copytree(model_dir, tmp_path / "model"))
    source = tmp_path / "in.txt"
    source.write_text("haus katze .\nbaum .\n", encoding="utf-8")
    single = translate(model_dir, "-i", str(source), "-o", str(tmp_path / "out.txt"))
    assert single.returncode == 0 and single.stdout == b""
    expected = (tmp_path / "out.txt").read_text(encoding="utf-8")
    # The same model twice averages identical log-probabilities: the same translations.
    twice = subprocess.run([sys.executable, "-m", "nmt.cli.translate", "--model", str(model_dir), "--model", str(model_dir),
                            "-i", str(source)], capture_output=True, text=True, timeout=300)
    assert twice.returncode == 0 and twice.stdout == expected
    missing = translate(model_dir, "--checkpoint", "avg", stdin=b"haus .\n")
    assert missing.returncode == 2 and b"nmt-average" in missing.stderr
    averaged = run_cli("nmt.cli.average", "--model", str(model_dir), "--last", "2")
    assert averaged.returncode == 0 and "averaged 2 checkpoints" in averaged.stdout
    steps = sorted(model_dir.glob("checkpoints/step-*.pt"), key=lambda p: int(p.stem.split("-")[1]))[-2:]
    members = [load_checkpoint(path)["model"] for path in steps]
    average = load_checkpoint(model_dir / "checkpoints" / "avg.pt")["model"]
    assert set(average) == set(members[0])
    for name, tensor in average.items():  # the element-wise mean of the two most recent checkpoints
        torch.testing.assert_close(tensor, (members[0][name].double() + members[1][name].double()).div(2).to(tensor.dtype))
    assert translate(model_dir, "--checkpoint", "avg", "-i", str(source)).stdout.count(b"\n") == 2
    ensemble = translate(model_dir, "--checkpoint", "best", "--checkpoint", "last", "-i", str(source))
    assert ensemble.returncode == 0 and ensemble.stdout.count(b"\n") == 2
    plain = translate(model_dir, "--json", "-i", str(source))
    quantized = translate(model_dir, "--quantize", "int8", "--json", "-i", str(source))
    assert quantized.returncode == 0, quantized.stderr.decode()
    scores = [[json.loads(line)["nbest"][0]["score"] for line in run.stdout.splitlines()] for run in (plain, quantized)]
    assert len(scores[1]) == 2 and scores[0] != scores[1]  # int8 weights score differently (a no-op would not) ...
    assert all(abs(a - b) < 1.0 for a, b in zip(*scores))  # ... but close to the float model


def test_missing_or_broken_model_is_one_line(model_dir, tmp_path):
    missing = translate(tmp_path / "nothing", stdin=b"haus .\n")
    assert missing.returncode == 2 and missing.stderr.decode().count("\n") == 1
    assert "is not an experiment directory" in missing.stderr.decode()
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"PK\x03\x04 not really a checkpoint")
    result = translate(model_dir, "--checkpoint", str(broken), stdin=b"haus .\n")
    assert result.returncode == 2 and "Traceback" not in result.stderr.decode()
    assert f"checkpoint: {broken} is truncated or corrupt" in result.stderr.decode()


def test_score_cli(tmp_path):
    ref, ref2 = tmp_path / "ref.txt", tmp_path / "ref2.txt"
    ref.write_text("the cat sat on the mat .\nhello world .\n", encoding="utf-8")
    ref2.write_text("a cat sat on a mat .\nhi world .\n", encoding="utf-8")
    perfect = run_cli("nmt.cli.score", "-r", str(ref), "--json", stdin=ref.read_text(encoding="utf-8"))
    scores = json.loads(perfect.stdout)
    assert scores["bleu"] == 100.0 and scores["chrf"] == 100.0 and "nrefs:1" in scores["bleu_signature"]
    two = run_cli("nmt.cli.score", "-r", str(ref), "-r", str(ref2), "--json", stdin="a cat sat on a mat .\nhi world .\n")
    assert json.loads(two.stdout)["bleu"] == 100.0 and "nrefs:2" in json.loads(two.stdout)["bleu_signature"]
    plain = run_cli("nmt.cli.score", "-r", str(ref), stdin="the cat sat .\nhello world .\n")
    assert plain.stdout.startswith("BLEU = ") and "signature: nrefs:1" in plain.stdout
    short = run_cli("nmt.cli.score", "-r", str(ref), stdin="only one line\n")
    assert short.returncode == 2 and short.stderr.strip() == f"nmt-score: error: score: stdin has 1 lines but reference {ref} has 2"


def test_a_killed_file_to_file_run_continues_to_the_same_output(model_dir, tmp_path):
    """Bulk translation (back-translation's thousands of lines): progress on stderr, and after a kill
    the same command continues after the last complete batch, sampling what it would have sampled."""
    source = tmp_path / "mono.txt"
    rng = random.Random(4)
    source.write_text("".join(a + "\n" for a, _ in make_pairs(4000, 11)) + "\n" + "baum ." * rng.randint(1, 3),
                      encoding="utf-8")  # an empty line, and no newline at the end
    args = ("--sample", "--seed", "5", "-i", str(source))
    straight = translate(model_dir, *args, "-o", str(tmp_path / "straight.txt"))
    assert straight.returncode == 0, straight.stderr.decode()
    assert b"4,002 lines in" in straight.stderr and not (tmp_path / "straight.txt.partial.json").exists()
    output, sidecar = tmp_path / "out.txt", tmp_path / "out.txt.partial.json"
    process = _started_past(512, model_dir, *args, "-o", str(output), stderr=subprocess.DEVNULL)
    process.kill()
    process.wait(timeout=60)
    done = json.loads(sidecar.read_text())["lines"]
    assert 512 <= done < 4002
    with output.open("ab") as handle:
        handle.write(b"half a batch that was being writ")  # what a kill mid-write leaves
    resumed = translate(model_dir, *args, "-o", str(output))
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert f"(continued after line {done:,})".encode() in resumed.stderr
    assert output.read_bytes() == (tmp_path / "straight.txt").read_bytes() and not sidecar.exists()
    # Interrupted again, then asked for something else (another seed): the file is written anew.
    process = _started_past(512, model_dir, *args, "-o", str(output), stderr=subprocess.DEVNULL)
    process.kill()
    process.wait(timeout=60)
    done = json.loads(sidecar.read_text())["lines"]
    other_seed = translate(model_dir, "--sample", "--seed", "6", "-i", str(source), "-o", str(output), "--quiet")
    assert other_seed.returncode == 0 and b"continued" not in other_seed.stderr  # --quiet: no progress either
    written = output.read_text(encoding="utf-8").splitlines()
    seed_5 = (tmp_path / "straight.txt").read_text(encoding="utf-8").splitlines()
    assert len(written) == 4002 and written[:done] != seed_5[:done]  # not seed 5's lines kept


def _started_past(lines: int, model_dir, *args: str, **popen) -> subprocess.Popen:
    """A file-to-file nmt-translate, returned once its record says `lines` lines are written."""
    sidecar = Path(f"{args[args.index('-o') + 1]}.partial.json")
    process = subprocess.Popen([sys.executable, "-m", "nmt.cli.translate", "--model", str(model_dir), *args],
                               stdout=subprocess.DEVNULL, **popen)
    try:
        deadline = time.time() + 120
        while True:
            try:
                if json.loads(sidecar.read_text() or "{}").get("lines", 0) >= lines:  # replaced whole, never half
                    return process
            except OSError:
                pass  # not written yet
            assert process.poll() is None and time.time() < deadline, "the run ended before it could be stopped"
            time.sleep(0.01)
    except BaseException:
        process.kill()
        process.wait(timeout=60)
        raise


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_ends_a_background_run_and_says_how_far_it_got(model_dir, tmp_path, signum):
    """A script's `nmt-translate ... &` starts with SIGINT ignored (bash does that to background
    commands); Ctrl-C's signal and SIGTERM must still end it at once, its output consistent."""
    source, output = tmp_path / "mono.txt", tmp_path / "out.txt"
    source.write_text("".join(a + "\n" for a, _ in make_pairs(20000, 12)), encoding="utf-8")
    process = _started_past(512, model_dir, "--beam", "1", "-i", str(source), "-o", str(output),
                            stderr=subprocess.PIPE, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    process.send_signal(signum)
    try:
        _, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"nmt-translate ignored signal {signum.name}")
    assert process.returncode == 128 + signum, stderr.decode()
    record = json.loads((tmp_path / "out.txt.partial.json").read_text())
    assert 512 <= record["lines"] < 20000
    assert stderr.decode().endswith(f"nmt-translate: {record['lines']:,} lines are in {output}; the same command "
                                    "continues after them\nnmt-translate: interrupted\n")
    assert output.read_bytes()[:record["bytes"]].count(b"\n") == record["lines"]
