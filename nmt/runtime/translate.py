"""Lines of text to translations with exported models: nmt-translate and nmt-serve use this when
--model names a directory nmt-export wrote. No torch."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from nmt.batch_plan import make_batches
from nmt.errors import NmtError
from nmt.runtime.model import ExportedEnsemble, ExportedModel, ShortlistedExport, chosen_variant
from nmt.runtime.search import Hypothesis, generate
from nmt.shortlist import Shortlist
from nmt.specials import BOS, EOS, PAD
from nmt.tokenizer import Tokenizer, vocabulary
from nmt.translations import ForcedScore, LineTranslator


class ExportedTranslator(LineTranslator):
    """Translates with an exported model (or an ensemble of them) as `decode` says."""

    def __init__(self, model: ExportedModel | ExportedEnsemble, tokenizer: Tokenizer, *, decode: Any,
                 keep_attention: bool = False, shortlist: Shortlist | None = None):
        """`shortlist`: each batch's output layer over the pieces it lists for the batch (nmt/shortlist.py),
        through the export's shortlisted step."""
        if decode.method == "sample":
            raise NmtError("translate: an exported model searches (greedy or beam); sampling needs the "
                           "experiment directory (torch)")
        if decode.precision != "fp32":
            raise NmtError(f"translate: decode.precision = {decode.precision!r} runs torch's products in bf16; an export "
                           "runs fp32 or int8 (--quantize int8)")
        self.model, self.tokenizer, self.decode, self.keep_attention = model, tokenizer, decode, keep_attention
        self.shortlist = shortlist
        if shortlist is not None:
            for member in model.models if isinstance(model, ExportedEnsemble) else [model]:
                member.restricted()  # a missing graph is one line now, not at the first batch
            self.never_output = np.array(tokenizer.never_output_ids(), dtype=np.int64)

    def sampling_state(self) -> None:
        return None  # no sampling: nothing to continue

    def restore_sampling_state(self, state: bytes) -> None:
        pass

    def translate_ids(self, sources: Sequence[Sequence[int]], prefixes: Sequence[Sequence[int]] | None = None,
                      constraints: Sequence[list[list[int]]] | None = None) -> list[list[Hypothesis]]:
        if constraints is not None:
            raise NmtError("translate: required words (constraints) need the experiment directory (torch), not an export")
        lengths = np.array([len(s) for s in sources], dtype=np.int64)
        results: list[list[Hypothesis] | None] = [None] * len(sources)
        for indices in make_batches(lengths, None, batch_tokens=self.decode.search_batch_tokens(), shuffle=False):
            src, src_lengths = padded([sources[i] for i in indices])
            starts = None
            if prefixes is not None and any(prefixes[i] for i in indices):
                starts = np.full((len(indices), max(len(prefixes[i]) for i in indices)), -1, dtype=np.int64)
                for row, index in enumerate(indices.tolist()):
                    starts[row, : len(prefixes[index])] = prefixes[index]
            model: Any = self.model
            pieces = None
            if self.shortlist is not None:  # as nmt.translate.Translator._restricted
                pieces = self.shortlist.batch_pieces([list(sources[i]) for i in indices],
                                                     [list(prefixes[i]) for i in indices] if prefixes else [],
                                                     self.never_output)
                model = ShortlistedExport(self.model, pieces)
                if starts is not None:  # ids -> positions in the batch's pieces
                    starts = np.where(starts >= 0, np.searchsorted(pieces, starts.clip(min=0)), starts)
            for index, hyps in zip(indices.tolist(), generate(model, src, src_lengths, self.decode,
                                                              keep_attention=self.keep_attention, prefixes=starts)):
                if pieces is not None:  # positions -> target ids
                    for hyp in hyps:
                        hyp.tokens = pieces[hyp.tokens].tolist()
                results[index] = hyps
        return [hyps for hyps in results if hyps is not None]


    def score_ids(self, sources: Sequence[Sequence[int]], targets: Sequence[Sequence[int]]) -> list[ForcedScore]:
        """Forced decoding, as nmt.translate.Translator.score_ids, a step at a time: each step is fed the
        given token instead of a chosen one."""
        src_lengths = np.array([len(s) for s in sources], dtype=np.int64)
        tgt_lengths = np.array([len(t) for t in targets], dtype=np.int64)
        results: list[ForcedScore | None] = [None] * len(sources)
        model: Any = self.model  # one model or an ensemble: the same four calls
        for indices in make_batches(src_lengths, tgt_lengths, batch_tokens=self.decode.batch_tokens, shuffle=False):
            src, lengths = padded([sources[i] for i in indices])
            wanted, _ = padded([targets[i] for i in indices])  # each target then EOS, then PAD
            memory = model.encode(src, lengths)
            state = model.init_state(memory)
            tokens = np.full(len(indices), BOS, dtype=np.int64)
            picked, attention = [], []
            for step in range(wanted.shape[1]):
                log_probs, state, weights = model.step(tokens, state, memory)
                picked.append(log_probs[np.arange(len(indices)), wanted[:, step]])
                attention.append(weights)
                tokens = wanted[:, step]
            scores = np.stack(picked, axis=1)  # (B, T)
            seen_all = np.stack(attention, axis=1) if attention[0] is not None else None  # (B, T, S)
            for row, index in enumerate(indices.tolist()):
                steps = len(targets[index]) + 1
                seen = seen_all[row, :steps, : len(sources[index]) + 1] if seen_all is not None else None
                results[index] = ForcedScore(float(scores[row, :steps].sum(dtype=np.float64)), list(targets[index]),
                                             scores[row, :steps].tolist(), seen, list(sources[index]))
        return [result for result in results if result is not None]


def padded(sentences: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Id sentences -> (B, S) int64 each ending in EOS then PAD, and their lengths (EOS counted)."""
    lengths = np.array([len(s) + 1 for s in sentences], dtype=np.int64)
    src = np.full((len(sentences), int(lengths.max())), PAD, dtype=np.int64)
    for row, sentence in enumerate(sentences):
        src[row, : len(sentence)] = sentence
        src[row, len(sentence)] = EOS
    return src, lengths


@dataclass
class LoadedExport:
    cfg: Any  # the experiment's Config, as exported (decode.shortlist on where nmt-export chose it)
    tokenizer: Tokenizer
    model: ExportedModel | ExportedEnsemble
    directories: list[Path]
    int8: bool = False  # the int8 graphs are loaded
    _shortlist: Shortlist | None = field(default=None, repr=False)

    def shortlist_for(self, decode: Any) -> Shortlist | None:
        """The first export's shortlist where `decode.shortlist` is on (read once), else None; a missing
        file is one line."""
        if not decode.shortlist:
            return None
        if self._shortlist is None:
            from nmt.shortlist import FILE

            if not (self.directories[0] / FILE).exists():
                raise NmtError(f"translate: decode.shortlist is on but {self.directories[0]} has no {FILE}: make the "
                               "shortlist (nmt-shortlist --model EXP_DIR), then nmt-export again")
            self._shortlist = Shortlist.load(self.directories[0])
        return self._shortlist


def load_exports(directories: Sequence[str | Path], *, int8: bool | None = None, threads: int | None = None) -> LoadedExport:
    """One exported model, or several as an ensemble (they must share their SentencePiece models).
    `int8` None: the variant nmt-export chose on dev (nmt/export_choice.py), int8 and the shortlist
    (cfg.decode.shortlist) where every model chose them."""
    from nmt.tasks import load_config

    paths = [Path(d) for d in directories]
    cfg = load_config(paths[0] / "config.yaml")
    if cfg.task != "translation":
        raise NmtError(f"translate: {paths[0]} holds a {cfg.task} model; the runtime translates text")
    tokenizer = Tokenizer.load(paths[0])
    for other in paths[1:]:
        theirs = Tokenizer.load(other)
        if vocabulary(theirs.src) != vocabulary(tokenizer.src) or vocabulary(theirs.tgt) != vocabulary(tokenizer.tgt):
            raise NmtError(f"translate: {other} uses other SentencePiece models than {paths[0]}; an ensemble "
                           "needs the same vocabularies")
    if int8 is None:
        choices = [chosen_variant(path) for path in paths]
        int8 = all(choice["int8"] for choice in choices)
        cfg.decode.shortlist = cfg.decode.shortlist or all(choice["shortlist"] for choice in choices)
    models = [ExportedModel(path, int8=int8, threads=threads) for path in paths]
    return LoadedExport(cfg, tokenizer, models[0] if len(models) == 1 else ExportedEnsemble(models), paths, int8)
