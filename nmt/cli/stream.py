"""Line streams for nmt-translate: batches as lines arrive, robust to whatever comes in."""

from __future__ import annotations

import os
import select
from typing import Iterator

from nmt.data import CONTROL, clean_text

CHUNK = 1 << 16


def _input_waiting(fd: int) -> bool:
    try:
        return bool(select.select([fd], [], [], 0)[0])
    except (OSError, ValueError):  # not selectable: read on as if it were a file
        return True


def line_batches(fd: int, *, max_lines: int) -> Iterator[list[bytes]]:
    """Yield raw lines (without line ends) in batches.

    A batch is yielded when `max_lines` are waiting, or as soon as no more input is ready
    (an interactive user gets each line's translation at once; a pipe fills batches).
    """
    pending, at_end = b"", False
    lines: list[bytes] = []
    while not at_end or lines:
        chunk = None
        if not at_end and (not lines or _input_waiting(fd)):
            chunk = os.read(fd, CHUNK)
            if not chunk:
                at_end = True
                if pending:
                    lines.append(pending)
                    pending = b""
            else:
                pending += chunk
                *complete, pending = pending.split(b"\n")
                lines.extend(complete)
        if lines and (len(lines) >= max_lines or chunk is None or at_end):
            batch, lines = lines[:max_lines], lines[max_lines:]
            yield batch


def clean_line(raw: bytes) -> tuple[str, list[str]]:
    """Decode one input line; returns the text and what was wrong with the line, for a warning.

    Invalid bytes become U+FFFD, control characters become spaces, white space is squeezed.
    Tabs and a carriage return (a CRLF file) are white space, not worth a warning.
    """
    try:
        text, problems = raw.decode("utf-8"), []
    except UnicodeDecodeError:
        text, problems = raw.decode("utf-8", errors="replace"), ["invalid UTF-8 replaced with U+FFFD"]
    if any(not c.isspace() for c in CONTROL.findall(text)):  # only the (rare) control characters, in Python
        problems.append("control characters replaced with spaces")
    return clean_text(text), problems
