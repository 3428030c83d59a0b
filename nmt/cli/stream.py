"""Line streams for nmt-translate: batches as lines arrive, robust to whatever comes in."""

from __future__ import annotations

import os
import select
import unicodedata
from typing import Iterator

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
    pending, lines, at_end = b"", [], False
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


def clean_line(raw: bytes) -> tuple[str, bool]:
    """Decode one input line; returns (text, had invalid UTF-8).

    Invalid bytes become U+FFFD, control characters become spaces, white space is squeezed.
    """
    try:
        text, invalid = raw.decode("utf-8"), False
    except UnicodeDecodeError:
        text, invalid = raw.decode("utf-8", errors="replace"), True
    return clean_text(text), invalid


def clean_text(text: str) -> str:
    """Control characters become spaces and white space is squeezed (nmt-translate and nmt-serve alike)."""
    text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    return " ".join(text.split())
