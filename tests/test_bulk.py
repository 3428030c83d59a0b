"""nmt/cli/bulk.py: the record that lets an interrupted nmt-translate continue, and its progress lines."""

from __future__ import annotations

import io
import json

from nmt.cli.bulk import LineProgress, ResumableOutput, count_lines

ASKED = {"input": ["in.txt", 10, 1], "decode": {"beam_size": 5}, "seed": None}


def test_an_identical_run_continues_after_the_last_recorded_batch(tmp_path):
    path = tmp_path / "out.txt"
    first = ResumableOutput(path, ASKED)
    assert first.open() == (0, None)
    first.write("eins\nzwei\n", 2, b"\x01\x02")
    first.write("drei\n", 1, b"\x03")
    first.handle.write(b"vier but killed")  # written, never recorded
    first.handle.flush()
    again = ResumableOutput(path, ASKED)
    assert again.open() == (3, b"\x03")
    again.write("vier\n", 1, None)
    again.close(complete=True)
    assert path.read_text() == "eins\nzwei\ndrei\nvier\n"
    assert not (tmp_path / "out.txt.partial.json").exists()


def test_a_run_that_asks_for_something_else_starts_over(tmp_path):
    path = tmp_path / "out.txt"
    first = ResumableOutput(path, ASKED)
    first.open()
    first.write("eins\n", 1, None)
    first.close(complete=False)
    assert json.loads((tmp_path / "out.txt.partial.json").read_text())["lines"] == 1
    other = ResumableOutput(path, {**ASKED, "seed": 3})
    assert other.open() == (0, None) and path.read_bytes() == b""
    shrunk = ResumableOutput(path, {**ASKED, "seed": 3})
    other.write("a\n", 1, None)
    path.write_bytes(b"")  # the output was cut by someone else: what the record says is not there
    assert shrunk.open() == (0, None)


def test_lines_are_counted_with_or_without_a_last_newline_and_progress_says_the_rate(tmp_path):
    (tmp_path / "a").write_bytes(b"x\ny\n")
    (tmp_path / "b").write_bytes(b"x\ny\nz")
    (tmp_path / "c").write_bytes(b"")
    assert [count_lines(tmp_path / name) for name in "abc"] == [2, 3, 0]
    stream = io.StringIO()
    progress = LineProgress(1000, done=200, stream=stream)
    progress.last_report -= 60  # as if a minute had passed since the last line
    progress.advance(300)
    progress.finish()
    first, last = stream.getvalue().splitlines()
    assert first.startswith("nmt-translate: 500 of 1,000 lines (50.0 %), ") and "left" in first
    assert last.startswith("nmt-translate: 500 lines in ") and last.endswith("(continued after line 200)")
