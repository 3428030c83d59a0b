"""What a translation is, as every front end gives it (nmt-translate, the HTTP API, nmt-caption),
whether torch or the exported runtime (nmt/runtime) made it. Imports no torch."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence


@dataclass
class Translation:
    text: str
    score: float
    tokens: list[int]
    attention: Any  # (target steps incl. EOS, source tokens incl. EOS): a torch tensor or a numpy array; None
    source: list[int]  # the source ids translated (cut to decode.max_src_tokens; no EOS)
    token_scores: list[float] | None = None  # each token's log-probability, then EOS's
    constraints_met: bool | None = None  # with required words: whether this translation has them all


@dataclass
class ForcedScore:
    score: float  # the sum of token_scores
    tokens: list[int]  # the target pieces scored (no EOS)
    token_scores: list[float]  # each piece's log-probability, then EOS's
    attention: Any  # (pieces + EOS, source pieces + EOS): a torch tensor or a numpy array; None
    source: list[int]


def json_record(result: list[Translation], tokenizer: Any, *, alignment: bool) -> dict:
    """One line's translation as nmt-translate --json and the HTTP API both give it: the best text and
    score, the n-best, and (when asked) the best one's attention with the pieces it runs over."""
    best = result[0]
    record: dict = {"text": best.text, "score": round(best.score, 4),
                    "nbest": [{"text": t.text, "score": round(t.score, 4)} for t in result]}
    if best.constraints_met is not None:
        record["constraints_met"] = best.constraints_met
    if best.token_scores is not None:  # each piece's log-probability: a word-level confidence
        record["pieces"] = [tokenizer.tgt.id_to_piece(int(i)) for i in best.tokens] + ["</s>"]
        record["token_scores"] = [round(float(value), 4) for value in best.token_scores]
    if alignment:
        record["alignment"] = None if best.attention is None else {
            "source": [tokenizer.src.id_to_piece(int(i)) for i in best.source] + ["</s>"],
            "target": [tokenizer.tgt.id_to_piece(int(i)) for i in best.tokens] + ["</s>"],
            # (target, source), EOS included on both sides; a batch's padding cut off
            "weights": [[round(float(w), 4) for w in row] for row in best.attention[:, : len(best.source) + 1]],
        }
    return record


def forced_record(item: ForcedScore, tokenizer: Any, *, alignment: bool) -> dict:
    """A scored given translation as nmt-translate --score-target --json and POST /v1/score give it: the
    score, each piece with its log-probability (EOS last), and (when asked) the attention."""
    pieces = [tokenizer.tgt.id_to_piece(int(i)) for i in item.tokens] + ["</s>"]
    record: dict = {"score": round(item.score, 4), "pieces": pieces,
                    "token_scores": [round(float(value), 4) for value in item.token_scores]}
    if alignment:
        record["alignment"] = None if item.attention is None else {
            "source": [tokenizer.src.id_to_piece(int(i)) for i in item.source] + ["</s>"], "target": pieces,
            "weights": [[round(float(w), 4) for w in row] for row in item.attention]}
    return record


def with_kept_words(pattern: re.Pattern | None, lines: Sequence[str], required: Sequence[Sequence[str]] | None,
                    *, tags: bool = False) -> list[list[str]] | None:
    """Each line's required words (None: none) and every match of `pattern` in the line: source words
    to keep untranslated (placeholders, URLs, product names) are words the translation must contain.
    With `tags`, matched in the line without its tags."""
    if pattern is None:
        return [list(words) for words in required] if required is not None else None
    from nmt.tags import strip_tags

    given = required if required is not None else [[] for _ in lines]
    return [list(words) + [m.group(0) for m in pattern.finditer(strip_tags(line)[0] if tags else line) if m.group(0)]
            for words, line in zip(given, lines)]


def keep_pattern(text: str | None, where: str) -> re.Pattern | None:
    """The --keep / "keep" regular expression compiled; a bad one is a ValueError naming `where`."""
    if text is None:
        return None
    try:
        return re.compile(text)
    except re.error as err:
        raise ValueError(f"{where} {text!r} is not a regular expression: {err}") from None


class LineTranslator:
    """Lines of text to n-best translations around `translate_ids`, which a subclass gives: torch's
    nmt.translate.Translator or the exported runtime's (nmt/runtime/translate.py). Needs `tokenizer`
    and `decode` (a DecodeConfig)."""

    tokenizer: Any
    decode: Any

    def translate_ids(self, sources: Sequence[Sequence[int]], prefixes: Sequence[Sequence[int]] | None = None,
                      constraints: Sequence[list[list[int]]] | None = None) -> list[list[Any]]:
        """Token-id sentences (no EOS) -> n-best hypotheses (tokens, score, attention) each, in input order;
        with `prefixes`, sentence i's hypotheses start with target ids prefixes[i]; with `constraints`,
        they contain each of the phrases (target id lists) constraints[i]."""
        raise NotImplementedError

    def encode(self, lines: Sequence[str]) -> tuple[list[list[int]], list[bool]]:
        """Source ids per line, cut to decode.max_src_tokens; also which lines were cut."""
        ids = self.tokenizer.encode_src(list(lines))
        limit = self.decode.max_src_tokens
        return [seq[:limit] for seq in ids], [len(seq) > limit for seq in ids]

    def translate(self, lines: Sequence[str], *, on_truncated: Callable[[int], None] | None = None,
                  prefixes: Sequence[str] | None = None, constraints: Sequence[Sequence[str]] | None = None,
                  tags: bool = False) -> list[list[Translation]]:
        """Plain-text lines -> detokenized n-best translations; an empty line gives an empty translation.

        `on_truncated(i)` is called for each line i longer than decode.max_src_tokens. `prefixes`: the
        start of each line's translation, kept as given (an empty one leaves the line free).
        `constraints`: words or phrases each line's translation must contain (nmt/constraints.py).
        `tags`: inline tags in the lines are taken out, and put back into each translation where the
        attention links them (nmt/tags.py; needs a translator that keeps attention).
        """
        if tags:
            from nmt.tags import strip_tags

            stripped = [strip_tags(line) for line in lines]
            results = self.translate([plain for plain, _ in stripped], on_truncated=on_truncated, prefixes=prefixes,
                                     constraints=constraints)
            return [self._tagged(result, spans) for result, (_, spans) in zip(results, stripped)]
        ids, truncated = self.encode(lines)
        if on_truncated is not None:
            for index in (i for i, cut in enumerate(truncated) if cut):
                on_truncated(index)
        real = [i for i, seq in enumerate(ids) if seq]
        output: list[list[Translation]] = [[Translation("", 0.0, [], None, [])] for _ in lines]
        starts = self.tokenizer.encode_tgt(list(prefixes)) if prefixes is not None else None
        chosen = [starts[i] for i in real] if starts is not None else None
        required = None
        if constraints is not None and any(constraints):
            required = [[piece for piece in self.tokenizer.encode_tgt(list(constraints[i])) if piece] for i in real]
        for index, hyps in zip(real, self.translate_ids([ids[i] for i in real], chosen, required)):
            texts = self.tokenizer.decode_tgt([h.tokens for h in hyps])
            if prefixes is not None and starts is not None and prefixes[index]:
                texts = [self._after_prefix(prefixes[index], len(starts[index]), h.tokens) for h in hyps]
            output[index] = [Translation(t, h.score, h.tokens, h.attention, ids[index], h.token_scores,
                                         getattr(h, "constraints_met", None)) for t, h in zip(texts, hyps)]
        return output

    def _after_prefix(self, prefix: str, given: int, tokens: Sequence[int]) -> str:
        """The prefix exactly as the user typed it, then the text of the pieces the search added: a
        character the target vocabulary lacks (`côte`) would otherwise come back as ⁇."""
        rest = list(tokens[given:])
        if not rest:
            return prefix
        text = self.tokenizer.decode_tgt([rest])[0]
        starts_word = self.tokenizer.tgt.id_to_piece(int(rest[0])).startswith("\u2581")
        return prefix + (" " if starts_word and text and not prefix.endswith(" ") else "") + text

    def _tagged(self, result: list[Translation], spans: list) -> list[Translation]:
        """Each hypothesis's text with the line's tags put back (at its end where there is no attention)."""
        import dataclasses

        from nmt.tags import project

        if not spans:
            return result
        source = [self.tokenizer.src.id_to_piece(int(i)) for i in result[0].source]
        tagged = []
        for hyp in result:
            target = [self.tokenizer.tgt.id_to_piece(int(i)) for i in hyp.tokens]
            tagged.append(dataclasses.replace(hyp, text=project(source, target, hyp.attention, spans)))
        return tagged
