"""Inline tags kept through translation (detag and project): `<b>Haus</b> und <i>Katze</i>` is
translated as `Haus und Katze`, and each tag pair goes back around the output pieces the attention
links to the source pieces it enclosed; a lone tag (`<br/>`, or an opening tag never closed) goes
before the output piece linked to the source piece after it. The output is always well formed:
every source tag appears once, pairs nest as they did (a pair whose linked pieces fall outside its
parent's is pulled inside it), and nothing else is added.

Tags are XML-like: `<name attr="...">`, `</name>`, `<name/>`. A `<` that opens no such tag is text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

TAG = re.compile(r"<(/?)([A-Za-z][\w:.-]*)((?:\s+[^<>]*?)?)\s*(/?)>")


@dataclass
class Span:
    """A tag pair, or a lone tag (end None), over characters [start, end) of the text without tags."""

    opening: str
    closing: str | None
    start: int
    end: int | None
    children: list[Span] = field(default_factory=list)


def strip_tags(text: str) -> tuple[str, list[Span]]:
    """The text without its tags, and the tags as a forest of spans over it (in order)."""
    plain: list[str] = []
    length = 0
    roots: list[Span] = []
    stack: list[Span] = []
    position = 0
    for match in TAG.finditer(text):
        plain.append(text[position:match.start()])
        length += match.start() - position
        position = match.end()
        closing, name, lone = match.group(1), match.group(2), match.group(4)
        siblings = stack[-1].children if stack else roots
        if closing:
            opened = next((i for i in range(len(stack) - 1, -1, -1) if _name(stack[i].opening) == name), None)
            if opened is None:  # a closing tag nothing opened: kept as a lone tag
                siblings.append(Span(match.group(0), None, length, None))
                continue
            while len(stack) > opened + 1:  # tags opened inside and never closed become lone tags
                unclosed = stack.pop()
                unclosed.end = None
            span = stack.pop()
            span.closing, span.end = match.group(0), length
        elif lone:
            siblings.append(Span(match.group(0), None, length, None))
        else:
            span = Span(match.group(0), None, length, None)
            siblings.append(span)
            stack.append(span)
    plain.append(text[position:])
    return "".join(plain), roots


def _name(tag: str) -> str:
    match = TAG.match(tag)
    return match.group(2) if match else ""


def piece_offsets(pieces: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """SentencePiece pieces -> the text they spell (▁ a space, none leading) and each piece's span in it."""
    text, spans = "", []
    for piece in pieces:
        word = piece.replace("\u2581", " ")
        if not text:
            word = word.lstrip(" ")
        start = len(text) + (len(word) - len(word.lstrip(" ")))
        text += word
        spans.append((start, len(text)))
    return text, spans


def _covering(spans: list[tuple[int, int]], start: int, end: int) -> list[int]:
    """The pieces that share a character with [start, end)."""
    return [i for i, (a, b) in enumerate(spans) if a < end and b > start]


def project(source_pieces: list[str], target_pieces: list[str], attention: Any, spans: list[Span]) -> str:
    """The target text with `spans` (over the source's plain text) placed by `attention` (target pieces x
    source pieces, EOS rows and columns may follow); None (a model without attention) keeps tags at the
    sentence's ends: a pair around the whole of it, a lone tag at its end (the placement baseline)."""
    _, source_spans = piece_offsets(source_pieces)
    target_text, target_spans = piece_offsets(target_pieces)
    links = [-1] * len(target_pieces)  # target piece -> the source piece it attends to most (-1: none)
    if attention is not None and source_pieces:
        weights = [[float(w) for w in row[: len(source_pieces)]] for row in list(attention)[: len(target_pieces)]]
        links = [max(range(len(row)), key=row.__getitem__) for row in weights]
    inserts: dict[int, list[tuple[int, str]]] = {}  # character offset -> (order, tag)
    counter = [0]

    def put(offset: int, tag: str) -> None:
        inserts.setdefault(offset, []).append((counter[0], tag))
        counter[0] += 1

    def wanted(span: Span) -> tuple[int, int]:
        """The target characters the attention links to what the span enclosed (a lone tag: the point
        before the piece linked to the source after it)."""
        if attention is None:
            return (len(target_text), len(target_text)) if span.end is None else (0, len(target_text))
        if span.end is None:
            later = [i for i, (_, end) in enumerate(source_spans) if end > span.start] or [len(source_pieces)]
            linked = [t for t, s in enumerate(links) if s >= 0 and s >= later[0]]
            offset = target_spans[linked[0]][0] if linked else len(target_text)
            return offset, offset
        enclosed = set(_covering(source_spans, span.start, span.end))
        linked = [t for t, s in enumerate(links) if s in enclosed]
        if linked:
            return target_spans[min(linked)][0], target_spans[max(linked)][1]
        after = [t for t, s in enumerate(links) if s >= 0 and s >= min(enclosed, default=len(source_pieces))]
        offset = target_spans[after[0]][0] if after else len(target_text)
        return offset, offset  # nothing linked to what it enclosed: an empty pair where its source began

    def place_all(children: list[Span], low: int, high: int) -> None:
        """Children within [low, high), in the order their wanted places come in the target; each after
        the one before it, so tags never cross."""
        for (start, end), _, child in sorted((wanted(c), order, c) for order, c in enumerate(children)):
            start = min(max(start, low), high)
            end = min(max(end, start), high)
            put(start, child.opening)
            place_all(child.children, start, end if child.closing else high)
            if child.closing:
                put(end, child.closing)
            low = end if child.closing else start

    place_all(spans, 0, len(target_text))
    out, position = [], 0
    for offset in sorted(inserts):
        out.append(target_text[position:offset])
        out.extend(tag for _, tag in sorted(inserts[offset]))
        position = offset
    out.append(target_text[position:])
    return "".join(out)


def _words(text: str) -> list[str]:
    return [word for word in (w.strip(".,;:!?\"'()").lower() for w in text.split()) if word]


def _enclosed(text: str) -> dict[tuple[str, int], list[str]]:
    """(tag name, its occurrence among that name's pairs) -> the words the pair encloses."""
    plain, roots = strip_tags(text)
    found: dict[tuple[str, int], list[str]] = {}
    counts: dict[str, int] = {}
    stack = list(reversed(roots))
    order: list[Span] = []
    while stack:  # document order: a parent before its children
        span = stack.pop()
        order.append(span)
        stack.extend(reversed(span.children))
    for span in order:
        if span.end is not None:
            name = _name(span.opening)
            found[(name, counts.get(name, 0))] = _words(plain[span.start:span.end])
            counts[name] = counts.get(name, 0) + 1
    return found


def well_formed(source: str, output: str) -> bool:
    """Every tag of the source once in the output, and every pair closed after it opened, nested."""
    given = list(TAG.finditer(source))
    if sorted(m.group(0) for m in given) != sorted(m.group(0) for m in TAG.finditer(output)):
        return False
    opened = {m.group(2) for m in given if not m.group(1) and not m.group(4)}
    closed = {m.group(2) for m in given if m.group(1)}
    stack: list[str] = []
    for match in TAG.finditer(output):
        closing, name, lone = match.group(1), match.group(2), match.group(4)
        if closing and name in opened:  # a stray closing tag (nothing opened it) stands alone
            if not stack or stack.pop() != name:
                return False
        elif not closing and not lone and name in closed:  # an opening tag never closed (<br>) stands alone
            stack.append(name)
    return not stack


def placement(output: str, reference: str) -> tuple[int, int, float]:
    """How the output's tag pairs enclose what the reference's enclose, over the reference's pairs that
    enclose some words but not all: (pairs compared, pairs enclosing exactly the reference's words,
    sum of the word F1 between the two). Pairs are matched by name and order."""
    ours, theirs = _enclosed(output), _enclosed(reference)
    every = _words(strip_tags(reference)[0])
    compared, exact, f1 = 0, 0, 0.0
    for key, wanted in theirs.items():
        if not wanted or wanted == every:
            continue
        compared += 1
        got = ours.get(key, [])
        exact += got == wanted
        common = sum(min(got.count(w), wanted.count(w)) for w in set(got))
        f1 += 2 * common / (len(got) + len(wanted)) if common else 0.0
    return compared, exact, f1
