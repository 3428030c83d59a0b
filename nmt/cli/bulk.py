"""nmt-translate on large files: progress on stderr, and an output file that an interrupted run continues.

Back-translation translates hundreds of thousands of lines: hours on a CPU. With `-i FILE`,
progress (lines done, lines/s, time left) goes to stderr every few seconds. With `-i FILE -o
FILE`, a sidecar `OUT.partial.json` records, after every batch written, how many lines and bytes
are done, what was asked (input, models, decode settings, output format) and the sampling
generator's state. Run the same command again after an interruption and it continues after the
last complete batch, drawing the same samples it would have drawn; anything else asked starts
over. The sidecar goes when the output is complete.
"""

from __future__ import annotations

import base64
import json
import sys
import time
from pathlib import Path
from typing import Any, BinaryIO

REPORT_EVERY = 10.0  # seconds between progress lines


def count_lines(path: Path) -> int:
    """Lines in a file, a last line without its newline included."""
    count, last = 0, b"\n"
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def file_identity(path: str | Path) -> list:
    path = Path(path)
    stat = path.stat()
    return [str(path.resolve()), stat.st_size, stat.st_mtime_ns]


class LineProgress:
    """Lines done of `total`, at most one stderr line every REPORT_EVERY seconds, and a last one."""

    def __init__(self, total: int, *, done: int = 0, stream=sys.stderr):
        self.total, self.start_done, self.done, self.stream = total, done, done, stream
        self.started = self.last_report = time.monotonic()

    def advance(self, lines: int) -> None:
        self.done += lines
        now = time.monotonic()
        if now - self.last_report >= REPORT_EVERY and self.done < self.total:
            self.last_report = now
            print(f"nmt-translate: {self._status(now)}", file=self.stream, flush=True)

    def _status(self, now: float) -> str:
        rate = (self.done - self.start_done) / max(now - self.started, 1e-9)
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        share = 100.0 * self.done / self.total if self.total else 100.0
        return (f"{self.done:,} of {self.total:,} lines ({share:.1f} %), {rate:,.1f} lines/s, "
                f"about {_duration(left)} left")

    def finish(self) -> None:
        seconds = time.monotonic() - self.started
        rate = (self.done - self.start_done) / max(seconds, 1e-9)
        resumed = f" (continued after line {self.start_done:,})" if self.start_done else ""
        print(f"nmt-translate: {self.done:,} lines in {_duration(seconds)}, {rate:,.1f} lines/s{resumed}",
              file=self.stream, flush=True)


def _duration(seconds: float) -> str:
    if seconds == float("inf"):
        return "unknown time"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class ResumableOutput:
    """The output file of a file-to-file run, continued where an identical run was interrupted."""

    def __init__(self, path: str | Path, asked: dict[str, Any]):
        self.path = Path(path)
        self.sidecar = self.path.with_name(self.path.name + ".partial.json")
        self.asked = json.loads(json.dumps(asked))  # as it reads back from the sidecar
        self.lines_done = 0
        self.handle: BinaryIO | None = None

    def open(self) -> tuple[int, bytes | None]:
        """Opens the output; returns the lines already written and the generator state to continue with."""
        record = self._record()
        if record is not None and record.get("asked") == self.asked and self.path.exists() \
                and self.path.stat().st_size >= record["bytes"]:
            self.lines_done = int(record["lines"])
            state = record.get("generator")
            self.handle = self.path.open("r+b")
            self.handle.truncate(record["bytes"])  # a batch half written when it stopped
            self.handle.seek(record["bytes"])
        else:
            self.handle = self.path.open("wb")
            self._save(0, 0, None)
            return 0, None
        return self.lines_done, base64.b64decode(state) if state else None

    def _record(self) -> dict | None:
        try:
            record = json.loads(self.sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def _save(self, lines: int, size: int, generator_state: bytes | None) -> None:
        state = base64.b64encode(generator_state).decode() if generator_state is not None else None
        tmp = self.sidecar.with_name(self.sidecar.name + ".tmp")
        tmp.write_text(json.dumps({"lines": lines, "bytes": size, "generator": state, "asked": self.asked}),
                       encoding="utf-8")
        tmp.replace(self.sidecar)

    def write(self, text: str, lines: int, generator_state: bytes | None) -> None:
        """A batch of `lines` translations (`text`, newline-terminated), then the record of it."""
        assert self.handle is not None
        self.handle.write(text.encode("utf-8"))
        self.handle.flush()
        self.lines_done += lines
        self._save(self.lines_done, self.handle.tell(), generator_state)

    def close(self, *, complete: bool) -> None:
        if self.handle is not None:
            self.handle.close()
        if complete:
            self.sidecar.unlink(missing_ok=True)


class StreamOutput:
    """stdout, or a file written from the start: what nmt-translate writes when it cannot continue a run."""

    def __init__(self, path: str | None):
        self.handle = open(path, "w", encoding="utf-8") if path else sys.stdout
        self.owned = path is not None

    def write(self, text: str, lines: int, generator_state: bytes | None) -> None:
        self.handle.write(text)
        self.handle.flush()

    def close(self, *, complete: bool) -> None:
        if self.owned:
            self.handle.close()
