"""Translating lists of sentences (encode, batch by length, generate, restore order, detokenize),
with one model or an ensemble of several behind the same step interface."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch

from nmt.batching import collate, make_batches
from nmt.config import DecodeConfig
from nmt.constraints import constrained_beam_search
from nmt.device import evaluating, precision_context
from nmt.errors import NmtError
from nmt.models import Seq2Seq
from nmt.models.state import DecoderState, Memory
from nmt.search import Hypothesis, TranslationModel, generate, max_lengths, prefix_tensor
from nmt.shortlist import Shortlist, Shortlisted
from nmt.specials import PAD
from nmt.tokenizer import Tokenizer, vocabulary
from nmt.translations import ForcedScore, LineTranslator

if TYPE_CHECKING:
    from nmt.experiment import LoadedModel


class Translator(LineTranslator):
    """Translates with a model (or an ensemble) as `decode` says; `seed` makes sampling repeatable."""

    def __init__(self, model: TranslationModel, tokenizer: Tokenizer, *, decode: DecodeConfig,
                 device: torch.device | str = "cpu", seed: int | None = None, keep_attention: bool = False,
                 shortlist: Shortlist | None = None):
        """`shortlist`: each batch's output layer over the pieces it lists for the batch (nmt/shortlist.py)."""
        self.model, self.tokenizer, self.decode, self.shortlist = model, tokenizer, decode, shortlist
        self.device, self.keep_attention = torch.device(device), keep_attention
        self.generator = torch.Generator(device=self.device).manual_seed(seed) if seed is not None else None

    def sampling_state(self) -> bytes | None:
        """The sampling generator's state (None without a seed), to continue an interrupted run with."""
        return self.generator.get_state().numpy().tobytes() if self.generator is not None else None

    def restore_sampling_state(self, state: bytes) -> None:
        if self.generator is not None:
            self.generator.set_state(torch.frombuffer(bytearray(state), dtype=torch.uint8))

    def translate_ids(self, sources: Sequence[Sequence[int] | np.ndarray], prefixes: Sequence[Sequence[int]] | None = None,
                      constraints: Sequence[list[list[int]]] | None = None) -> list[list[Hypothesis]]:
        """Token-id sentences (no EOS) -> n-best hypotheses each, in input order; `prefixes`: target ids
        each sentence's hypotheses start with; `constraints`: phrases (target ids) each must contain."""
        if constraints is not None:
            self._check_constraints(prefixes)
        lengths = np.array([len(s) for s in sources], dtype=np.int64)
        results: list[list[Hypothesis] | None] = [None] * len(sources)
        with evaluating(self.model), precision_context(self.decode.precision, self.device):
            for indices in make_batches(lengths, None, batch_tokens=self.decode.search_batch_tokens(), shuffle=False):
                batch = collate([np.asarray(sources[i], dtype=np.int64) for i in indices], None, indices)
                batch_prefixes = [list(prefixes[i]) for i in indices] if prefixes is not None else None
                model, pieces = self._restricted([sources[i] for i in indices], batch_prefixes or [])
                starts = prefix_tensor(batch_prefixes, self.device)
                if starts is not None and pieces is not None:  # ids -> positions in the batch's pieces
                    starts = torch.where(starts >= 0, torch.searchsorted(torch.as_tensor(pieces, device=self.device),
                                                                         starts.clamp(min=0)), starts)
                if constraints is not None:
                    decode = self.decode
                    limits = max_lengths(batch.src_lengths, a=decode.max_length_a, b=decode.max_length_b)
                    hyps = constrained_beam_search(
                        model, batch.src.to(self.device), batch.src_lengths.to(self.device), [constraints[i] for i in indices],
                        beam_size=1 if decode.method == "greedy" else decode.beam_size, nbest=decode.nbest,
                        length_penalty=decode.length_penalty, max_len=limits.to(self.device), min_length=decode.min_length,
                        keep_attention=self.keep_attention)
                else:
                    hyps = generate(model, batch.src.to(self.device), batch.src_lengths.to(self.device), self.decode,
                                    generator=self.generator, keep_attention=self.keep_attention, prefixes=starts)
                if pieces is not None:  # positions in the batch's pieces -> target ids
                    for sentence_hyps in hyps:
                        for hyp in sentence_hyps:
                            hyp.tokens = pieces[hyp.tokens].tolist()
                for index, sentence_hyps in zip(indices.tolist(), hyps):
                    results[index] = sentence_hyps
        done = [hyps for hyps in results if hyps is not None]
        assert len(done) == len(sources), "every sentence is in one batch"
        return done

    @torch.inference_mode()
    def score_ids(self, sources: Sequence[Sequence[int]], targets: Sequence[Sequence[int]]) -> list[ForcedScore]:
        """Forced decoding: each given target's log-probability under the model (an ensemble averages its
        members' log-probabilities at each position, as its search does), piece by piece with EOS, and
        the attention over the source, in input order. No search: one teacher-forced pass a batch."""
        members: list[Any] = self.model.models if isinstance(self.model, Ensemble) else [self.model]
        src_lengths = np.array([len(s) for s in sources], dtype=np.int64)
        tgt_lengths = np.array([len(t) for t in targets], dtype=np.int64)
        results: list[ForcedScore | None] = [None] * len(sources)
        with evaluating(self.model):
            for indices in make_batches(src_lengths, tgt_lengths, batch_tokens=self.decode.batch_tokens, shuffle=False):
                batch = collate([np.asarray(sources[i], dtype=np.int64) for i in indices],
                                [np.asarray(targets[i], dtype=np.int64) for i in indices], indices).to(self.device)
                assert batch.tgt_out is not None
                picked, attention = None, None
                real = batch.tgt_out != PAD  # the output layer runs at these positions only
                wanted = batch.tgt_out[real]
                for member in members:
                    features, weights = member.teacher_forced(batch.src, batch.src_lengths, batch.tgt_in, drop_finished=True)
                    logits = member.output(features[real]).float()  # (real positions, V)
                    # one fused log-softmax: logsumexp's steps each write a (positions, V) table
                    scores = logits.log_softmax(dim=-1).gather(1, wanted[:, None])[:, 0]
                    if member.never_output.numel():  # as its step: normalised over all, then forbidden
                        scores = scores.masked_fill(torch.isin(wanted, member.never_output), float("-inf"))
                    grid = torch.zeros_like(batch.tgt_out, dtype=scores.dtype).masked_scatter(real, scores)
                    picked = grid if picked is None else picked + grid
                    attention = weights if attention is None else attention
                assert picked is not None
                picked = (picked / len(members)).cpu()  # (B, T): the members' mean, as their search takes it
                for row, index in enumerate(indices.tolist()):
                    steps = len(targets[index]) + 1  # the pieces, then EOS
                    results[index] = ForcedScore(
                        float(picked[row, :steps].sum()), list(targets[index]), picked[row, :steps].tolist(),
                        attention[row, :steps, : len(sources[index]) + 1].float().cpu() if attention is not None else None,
                        list(sources[index]))
        return [result for result in results if result is not None]

    def _check_constraints(self, prefixes) -> None:
        if self.decode.method == "sample":
            raise NmtError("translate: required words (constraints) need a search (beam or greedy), not sampling")
        if prefixes is not None or self.shortlist is not None:
            raise NmtError("translate: required words (constraints) do not combine with a prefix or decode.shortlist yet")

    def _restricted(self, sources: list, prefixes: list[list[int]]) -> tuple[Any, np.ndarray | None]:
        """The model over the batch's shortlisted pieces and its prefixes' (the ids no member may output
        left out), and those pieces; the model itself and None without a shortlist."""
        if self.shortlist is None:
            return self.model, None
        members: list[Any] = self.model.models if isinstance(self.model, Ensemble) else [self.model]
        forbidden = np.concatenate([m.never_output.cpu().numpy() for m in members])
        pieces = self.shortlist.batch_pieces([list(s) for s in sources], [list(p) for p in prefixes], forbidden)
        restricted = [Shortlisted(member, pieces) for member in members]
        return (Ensemble(restricted) if len(restricted) > 1 else restricted[0]), pieces  # type: ignore[arg-type]


class Ensemble:
    """Several models behind one step interface (a `TranslationModel`); each step averages their
    log-probabilities. Members may read the source differently (forward and reversed): each
    encodes it its own way, and attention comes from the first member, in the source's order."""

    def __init__(self, models: list[Seq2Seq]):
        self.models = models
        self.training = False

    def eval(self) -> Ensemble:
        for model in self.models:
            model.eval()
        return self

    def train(self, mode: bool = True) -> Ensemble:
        for model in self.models:
            model.train(mode)
        return self

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> list[Memory]:
        return [model.encode(src, src_lengths) for model in self.models]

    def init_state(self, memories: list[Memory]) -> list[DecoderState]:
        return [model.init_state(memory) for model, memory in zip(self.models, memories)]

    def step(self, prev_tokens: torch.Tensor, states: list[DecoderState], memories: list[Memory]):
        outputs = [model.step(prev_tokens, state, memory) for model, state, memory in zip(self.models, states, memories)]
        log_probs = torch.stack([o[0] for o in outputs]).mean(0)  # average of log-probabilities
        return log_probs, [o[1] for o in outputs], outputs[0][2]

    def share_beams(self, memories: list[Memory], beams: int) -> list[Memory] | None:
        shared = [model.share_beams(memory, beams) for model, memory in zip(self.models, memories)]
        kept = [memory for memory in shared if memory is not None]
        return kept if len(kept) == len(shared) else None  # all members share, or none does

    def reorder(self, states: list[DecoderState], memories: list[Memory] | None, index: torch.Tensor):
        pairs = [model.reorder(state, memory, index) for model, state, memory
                 in zip(self.models, states, memories if memories is not None else [None] * len(self.models))]
        return [p[0] for p in pairs], [p[1] for p in pairs] if memories is not None else None


def check_compatible(loaded: list[LoadedModel]) -> None:
    """Ensemble members must read and write the same pieces (they may read them in other orders)."""
    first = loaded[0]
    for other in loaded[1:]:
        same_src = vocabulary(first.tokenizer.src) == vocabulary(other.tokenizer.src)
        same_tgt = vocabulary(first.tokenizer.tgt) == vocabulary(other.tokenizer.tgt)
        if not (same_src and same_tgt):
            raise NmtError(f"model: {other.checkpoint} uses other SentencePiece models than {first.checkpoint}; "
                           "an ensemble needs the same vocabularies")
