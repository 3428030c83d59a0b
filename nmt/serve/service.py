"""What the service does, without HTTP: check a request against the service's models and limits,
translate lines with one of its models, and analyse one line for the page (n-best, attention,
cell activations). The batcher calls `Service.run` in its worker thread with the options a
group of requests shares. A request's mistake is a RequestError: its status and one line.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Union

from nmt.data import clean_text
from nmt.errors import NmtError
from nmt.runtime.translate import ExportedTranslator, LoadedExport
from nmt.translations import LineTranslator, Translation, forced_record, json_record

if TYPE_CHECKING:  # torch's: imported where a torch model is used, so an export is served without torch
    from nmt.activations import LayerActivations
    from nmt.experiment import LoadedModel


@dataclass(frozen=True)
class Limits:
    max_lines: int = 64  # lines a request
    max_chars: int = 2000  # characters a line
    max_beam: int = 16
    max_queue_lines: int = 2000  # lines waiting in all; more: 503
    batch_wait_ms: float = 10.0  # how long the first request of a batch waits for others
    batch_tokens: int = 4000  # source tokens a batch


@dataclass(frozen=True)
class Options:
    """What requests must share to be translated in one batch."""

    model: str
    beam: int
    nbest: int
    alignments: bool = False
    analyze: bool = False
    score: bool = False  # forced decoding: each line's given target scored, no search
    tags: bool = False  # inline tags kept (nmt/tags.py)


class Line(NamedTuple):
    """A line as the batcher carries it: the text, and what its request gave beside it: a prefix
    (translating) or the target to score (Options.score)."""

    text: str
    given: str | None = None
    required: tuple[str, ...] = ()  # words the translation must contain


def line_cost(line: Line) -> int:
    """The batcher's measure of a line: its words, and one for EOS."""
    return len(line.text.split()) + 1


class RequestError(Exception):
    """A request the service refuses: the HTTP status and what was wrong, naming the field."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def _round(rows, digits: int = 4) -> list:
    return [[round(float(value), digits) for value in row] for row in rows]


def _layer(item: LayerActivations) -> dict:
    return {"name": item.name, "layer": item.layer, "direction": item.direction,
            "hidden": _round(item.hidden, 3), "cell": _round(item.cell, 3) if item.cell is not None else None}


class Service:
    def __init__(self, models: dict[str, Union[LoadedModel, LoadedExport]], *, device: str = "cpu",
                 limits: Limits = Limits()):
        """`models`: experiment directories' (torch) or exports' (nmt-export: onnxruntime, no cell activations)."""
        if not models:
            raise ValueError("a service needs at least one model")
        self.models, self.device, self.limits = models, device, limits
        self.default_model = next(iter(models))
        self._translators: dict[Options, LineTranslator] = {}

    def describe(self) -> list[dict]:
        return [{"name": name, "variant": m.cfg.model.variant, "cell": m.cfg.model.cell,
                 "src_lang": m.cfg.data.src_lang, "tgt_lang": m.cfg.data.tgt_lang,
                 "beam_size": m.cfg.decode.beam_size, "reverse_source": m.cfg.model.reverse_source}
                for name, m in self.models.items()]

    def options(self, model: str | None, beam: int | None, nbest: int, *, alignments: bool = False,
                analyze: bool = False, score: bool = False, tags: bool = False) -> Options:
        """A request's search settings, checked: a known model (default the first), a beam within the
        limit (default the model's decode.beam_size), nbest within the beam."""
        name = model if model is not None else self.default_model
        if name not in self.models:
            raise RequestError(404, f"model: unknown model {name!r}; this server has {', '.join(self.models)}")
        beam = beam if beam is not None else self.models[name].cfg.decode.beam_size
        if not 1 <= beam <= self.limits.max_beam:
            raise RequestError(422, f"beam: {beam} is out of range: expected 1 to {self.limits.max_beam}")
        if analyze:  # the page asks for a few hypotheses whatever the beam
            nbest = max(1, min(nbest, beam))
        if not 1 <= nbest <= beam:
            raise RequestError(422, f"nbest: {nbest} is out of range: expected 1 to the beam size ({beam})")
        return Options(name, beam, nbest, alignments=alignments, analyze=analyze, score=score, tags=tags)

    def check_lines(self, lines: list[str]) -> None:
        """At least one line; no more lines, and no longer lines, than the limits allow."""
        limits = self.limits
        if not lines:
            raise RequestError(422, "text: the list is empty; give at least one line")
        if len(lines) > limits.max_lines:
            raise RequestError(413, f"text: {len(lines)} lines; a request may hold {limits.max_lines}")
        for number, line in enumerate(lines, 1):
            if len(line) > limits.max_chars:
                raise RequestError(413, f"text: line {number} has {len(line)} characters; the limit is {limits.max_chars}")

    def _translator(self, options: Options) -> LineTranslator:
        if options not in self._translators:
            loaded = self.models[options.model]
            decode = dataclasses.replace(loaded.cfg.decode, method="beam", beam_size=options.beam, nbest=options.nbest)
            keep_attention = options.alignments or options.analyze or options.tags
            if isinstance(loaded, LoadedExport):
                self._translators[options] = ExportedTranslator(loaded.model, loaded.tokenizer, decode=decode,
                                                                keep_attention=keep_attention,
                                                                shortlist=loaded.shortlist_for(decode))
            else:
                from nmt.translate import Translator

                self._translators[options] = Translator(loaded.model, loaded.tokenizer, decode=decode,
                                                        device=self.device, keep_attention=keep_attention)
        return self._translators[options]

    def run(self, options: Options, lines: list[Line]) -> list[dict]:
        """One result per line, in order (the batcher's translate function)."""
        texts = [clean_text(line.text) for line in lines]
        given = [clean_text(line.given) if line.given is not None else "" for line in lines]
        translator = self._translator(options)
        if options.score:
            return self._scores(options, translator, texts, given)
        required = [list(line.required) for line in lines]
        try:
            results = translator.translate(texts, prefixes=given if any(given) else None,
                                           constraints=required if any(required) else None, tags=options.tags)
        except NmtError as err:  # settings the model cannot combine (constraints with a prefix, an export's limits)
            raise RequestError(422, str(err).removeprefix("translate: ")) from None
        if options.analyze:
            return [self._analysis(options, result) for result in results]
        return [self._record(options, result) for result in results]

    def _scores(self, options: Options, translator: Any, texts: list[str], targets: list[str]) -> list[dict]:
        tokenizer = self.models[options.model].tokenizer
        sources, _ = translator.encode(texts)
        return [forced_record(item, tokenizer, alignment=options.alignments)
                for item in translator.score_ids(sources, tokenizer.encode_tgt(targets))]

    def _pieces(self, model: str, ids, side: str) -> list[str]:
        processor = getattr(self.models[model].tokenizer, side)
        return [processor.id_to_piece(int(i)) for i in ids]

    def _record(self, options: Options, result: list[Translation]) -> dict:
        return json_record(result, self.models[options.model].tokenizer, alignment=options.alignments)

    def _analysis(self, options: Options, result: list[Translation]) -> dict[str, Any]:
        """The page's view of one line: every hypothesis with its attention and decoder cells, and the encoder cells."""
        loaded = self.models[options.model]
        source_ids = result[0].source
        exported = isinstance(loaded, LoadedExport)  # an export's graphs give no cell activations
        if not exported:
            from nmt.activations import decoder_activations, encoder_activations

        source = self._pieces(options.model, source_ids, "src") + ["</s>"]
        hypotheses = []
        for hyp in result:
            if not source_ids:
                break
            hypotheses.append({
                "text": hyp.text, "score": round(hyp.score, 4),
                "pieces": self._pieces(options.model, hyp.tokens, "tgt") + ["</s>"],
                "attention": _round(hyp.attention[:, : len(source)]) if hyp.attention is not None else None,
                "decoder": [] if exported else [_layer(item) for item
                                                in decoder_activations(loaded.model, source_ids, hyp.tokens)],
            })
        encoder = ([_layer(item) for item in encoder_activations(loaded.model, source_ids)]
                   if source_ids and not exported else [])
        return {"model": options.model, "source": source if source_ids else [], "hypotheses": hypotheses,
                "encoder": encoder}
