"""The encoder-decoder model and `build_model`, which turns a ModelConfig into one.

Generation uses only the step interface (`nmt.search.StepModel`):
  encode(src, src_lengths) -> memory
  init_state(memory) -> state
  step(prev_tokens, state, memory) -> (log_probs, state, attention)
  reorder(state, memory | None, index) -> (state, memory | None)
Training uses `forward`, which computes all target steps in one pass and the output
projection once over all of them. Both take the source in its own order: a model with
`reverse_source` reverses it for its encoder and reports attention in the source's order.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import torch
from torch import nn

from nmt.config import ModelConfig
from nmt.models.dropout import WordDropout
from nmt.models.encoder import Encoder
from nmt.models.state import Decoder, DecoderState, Memory
from nmt.specials import PAD
from nmt.variants import VARIANTS, is_bidirectional


class Seq2SeqOutput(NamedTuple):
    logits: torch.Tensor  # (B, T, V)
    attention: torch.Tensor | None  # (B, T, S) for attentional decoders


class Seq2Seq(nn.Module):
    def __init__(self, *, encoder: Encoder, decoder: Decoder, tgt_embedding: nn.Embedding,
                 output: nn.Module, dropout: float, reverse_source: bool, embed_dropout: float | None = None,
                 word_dropout: float = 0.0):
        """`dropout` before the output layer, `embed_dropout` on target embeddings (default: `dropout`),
        `word_dropout`: whole target tokens of the decoder's input."""
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.tgt_embedding, self.output = tgt_embedding, output
        self.word_dropout = WordDropout(word_dropout)
        self.embed_dropout = nn.Dropout(dropout if embed_dropout is None else embed_dropout)
        self.dropout = nn.Dropout(dropout)
        self.reverse_source = reverse_source  # Sutskever 2014: the encoder reads each sentence backwards
        # Target ids that step() never proposes (the training corpora's tags); set by forbid_outputs.
        self.never_output: torch.Tensor
        self.register_buffer("never_output", torch.zeros(0, dtype=torch.long), persistent=False)

    def forbid_outputs(self, ids: list[int]) -> None:
        """Give these target ids probability 0 at every step of search (the weights stay as they are)."""
        self.never_output = torch.tensor(sorted(ids), dtype=torch.long, device=self.never_output.device)

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> Memory:
        """src (B, S) ids ending in EOS, then PAD; src_lengths (B,) -> Memory."""
        if not self.reverse_source:
            return self.decoder.make_memory(self.encoder(src, src_lengths))
        positions = reversed_positions(src_lengths.to(src.device), src.shape[1])  # (B, S)
        memory = self.decoder.make_memory(self.encoder(src.gather(1, positions), src_lengths))
        memory.source_positions = positions  # the reversal is its own inverse: it maps attention back
        return memory

    def init_state(self, memory: Memory) -> DecoderState:
        return self.decoder.init_state(memory)

    def step(self, prev_tokens: torch.Tensor, state: DecoderState, memory: Memory, *, output: nn.Module | None = None):
        """prev_tokens (B,) -> log-probabilities (B, V), the next state, attention (B, S) or None.
        `output`: a restricted_output, whose V pieces the log-probabilities are then over."""
        embedded = self.embed_dropout(self.word_dropout(self.tgt_embedding(prev_tokens)))  # (B, E)
        features, state, attention = self.decoder.step(embedded, state, memory)
        logits = (output or self.output)(self.dropout(features))
        if attention is not None and memory.source_positions is not None:  # (B, S) in the source's order
            positions = memory.source_positions  # (sentences, S): each sentence's beams read it (shapes say how many)
            by_sentence = attention.view(positions.shape[0], -1, attention.shape[-1])
            attention = by_sentence.gather(2, positions.unsqueeze(1).expand_as(by_sentence)).flatten(0, 1)
        log_probs = torch.log_softmax(logits.float(), dim=-1)
        if self.never_output.numel() and output is None:  # a restricted output leaves them out
            log_probs[:, self.never_output] = float("-inf")
        return log_probs, state, attention

    def restricted_output(self, ids: torch.Tensor) -> nn.Module:
        """The output layer over the target ids `ids` only (nmt/shortlist.py), its rows gathered once."""
        return RestrictedOutput(self.output, ids)

    def share_beams(self, memory: Memory, beams: int) -> Memory | None:
        """`memory` read by `beams` consecutive state rows a sentence (beam search's hypotheses), kept
        once instead of repeated; None where the decoder reads memory row by row (plain, context)."""
        if not getattr(self.decoder, "shares_memory", False):
            return None
        with_values = getattr(self.decoder, "with_values", None)  # RNNsearch: W h_j once for the K rows
        return dataclasses.replace(with_values(memory) if with_values else memory, beams=beams)

    def reorder(self, state: DecoderState, memory: Memory | None,
                index: torch.Tensor) -> tuple[DecoderState, Memory | None]:
        """Keep (and repeat) the batch rows `index` of state and memory, e.g. the surviving beams.

        memory None leaves it alone: within a sentence all beams share it, so beam search
        reorders it only when sentences leave the batch. A shared memory (share_beams) keeps the
        sentences of `index`, which then holds each kept sentence's `beams` rows together.
        """
        if memory is not None:
            memory = memory.select(index[:: memory.beams] // memory.beams if memory.beams > 1 else index)
        return state.select(index), memory

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor) -> Seq2SeqOutput:
        """Teacher-forced training pass: src (B, S), tgt_in (B, T) -> logits (B, T, V)."""
        features, attention = self.teacher_forced(src, src_lengths, tgt_in)
        return Seq2SeqOutput(self.output(self.dropout(features)), attention)

    def teacher_forced(self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor, *,
                       drop_finished: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """What the output layer reads at every target position (B, T, F), and the attention (B, T, S)
        in the source's order: forward without the output layer, for callers that need only some rows.
        `drop_finished`: a stepwise decoder computes each step for the rows whose target goes on only
        (the batch sorted longest target first, then put back), as search leaves finished sentences
        out; a padded position's attention is then zeros, its features what the readout makes of zeros
        (no loss or score reads them). Forced decoding's path: training's batches, cut by length, end
        together more nearly, and there sorting cost more than it saved (1,827 against 2,016 target
        tokens/s, rnnsearch, tools/bench.py --only train)."""
        order = running = None
        if drop_finished and self.decoder.stepwise:
            lengths = (tgt_in != PAD).sum(1)
            order = torch.argsort(lengths, descending=True, stable=True)
            src, src_lengths, tgt_in, lengths = src[order], src_lengths[order], tgt_in[order], lengths[order]
            running = (lengths[None, :] > torch.arange(tgt_in.shape[1], device=lengths.device)[:, None]).sum(1).tolist()
        memory = self.encode(src, src_lengths)
        embedded = self.embed_dropout(self.word_dropout(self.tgt_embedding(tgt_in)))  # (B, T, E)
        features, attention = self.decoder(embedded, self.init_state(memory), memory, running)
        if attention is not None and memory.source_positions is not None:  # (B, T, S) in the source's order
            attention = attention.gather(2, memory.source_positions[:, None, :].expand_as(attention))
        if order is not None:
            back = torch.argsort(order)
            features, attention = features[back], attention[back] if attention is not None else None
        return features, attention


def reversed_positions(src_lengths: torch.Tensor, width: int) -> torch.Tensor:
    """(B, S) gather index that reverses each sentence's real tokens and keeps its EOS and padding in place.

    src_lengths (B,) count the EOS. Applied twice it is the identity.
    """
    positions = torch.arange(width, device=src_lengths.device)[None, :]  # (1, S)
    last_real = (src_lengths - 2)[:, None]  # (B, 1) the last token before EOS
    return torch.where(positions <= last_real, last_real - positions, positions)


class TiedOutput(nn.Module):
    """Logits from the target embedding matrix; features of another size are projected to it first."""

    def __init__(self, feature_size: int, embedding: nn.Embedding):
        super().__init__()
        size = embedding.embedding_dim
        self.project = nn.Linear(feature_size, size, bias=False) if feature_size != size else nn.Identity()
        self.embedding = embedding
        self.bias = nn.Parameter(torch.zeros(embedding.num_embeddings))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(self.project(features), self.embedding.weight, self.bias)

    def untied(self) -> nn.Module:
        """The same map as plain layers over a copy of the embedding matrix, for conversions that only
        see nn.Linear (torch's dynamic int8 would leave this layer, a third of a step's products, fp32)."""
        vocab, size = self.embedding.weight.shape
        linear = nn.Linear(size, vocab).to(self.embedding.weight.device)
        with torch.no_grad():
            linear.weight.copy_(self.embedding.weight)
            linear.bias.copy_(self.bias)
        return nn.Sequential(self.project, linear)


def output_rows(output: nn.Module) -> tuple[nn.Module, torch.Tensor, torch.Tensor] | None:
    """A float output layer as (projection, weight (V, D), bias (V,)): logits = W project(x) + b, a row a
    target id. None for any other layer (int8)."""
    if isinstance(output, TiedOutput):
        return output.project, output.embedding.weight, output.bias
    if type(output) is nn.Linear:
        return nn.Identity(), output.weight, output.bias
    return None


class RestrictedOutput(nn.Module):
    """An output layer's logits for some target ids only: a float layer's rows of those ids, gathered
    once (or given: `rows`, an exported step's inputs); any other layer (int8) computes every logit and
    keeps those columns."""

    def __init__(self, output: nn.Module, ids: torch.Tensor | None, rows: tuple[torch.Tensor, torch.Tensor] | None = None):
        super().__init__()
        self.ids = ids
        self.project: nn.Module = nn.Identity()
        self.weight: torch.Tensor | None = None
        parts = output_rows(output)
        if parts is None:
            self.full = output
        else:
            self.project, weight, bias = parts
            self.weight, self.bias = rows if rows is not None else (weight[ids], bias[ids])

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if self.weight is None:
            return self.full(features)[:, self.ids]
        return nn.functional.linear(self.project(features), self.weight, self.bias)


def quantize_int8(model: Seq2Seq) -> nn.Module:
    """A copy of `model` with dynamic int8 weights in every linear layer and RNN, the tied output layer
    included (CPU translation: nmt-translate --quantize int8)."""
    import copy
    import warnings

    model = copy.deepcopy(model)
    if isinstance(model.output, TiedOutput):
        model.output = model.output.untied()
    with warnings.catch_warnings():  # torch's notice that its quantized tensors are deprecated, at every RNN
        warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*deprecated", category=UserWarning)
        warnings.filterwarnings("ignore", message="torch.ao.quantization is deprecated", category=DeprecationWarning)
        return torch.ao.quantization.quantize_dynamic(model, {nn.Linear, nn.LSTM, nn.GRU}, dtype=torch.qint8)


def _embedding(vocab_size: int, size: int) -> nn.Embedding:
    embedding = nn.Embedding(vocab_size, size, padding_idx=PAD)
    nn.init.uniform_(embedding.weight, -0.1, 0.1)
    with torch.no_grad():
        embedding.weight[PAD].zero_()
    return embedding


def build_model(cfg: ModelConfig, src_vocab_size: int, tgt_vocab_size: int) -> Seq2Seq:
    """The model a ModelConfig describes, for the given vocabulary sizes."""
    if cfg.share_embeddings and src_vocab_size != tgt_vocab_size:
        raise ValueError(f"shared embeddings need one vocabulary, got sizes {src_vocab_size} and {tgt_vocab_size}")
    tgt_embedding = _embedding(tgt_vocab_size, cfg.embed_size)
    src_embedding = tgt_embedding if cfg.share_embeddings else _embedding(src_vocab_size, cfg.embed_size)
    encoder = Encoder(embedding=src_embedding, cell=cfg.cell, hidden_size=cfg.encoder_hidden,
                      num_layers=cfg.encoder_layers, bidirectional=is_bidirectional(cfg.variant, cfg.bidirectional),
                      dropout=cfg.dropout, embed_dropout=cfg.embed_dropout, word_dropout=cfg.word_dropout_src)
    decoder = VARIANTS[cfg.variant].decoder_class().from_config(cfg, encoder)
    output: nn.Module
    if cfg.tie_embeddings:
        output = TiedOutput(decoder.feature_size, tgt_embedding)
    else:
        output = nn.Linear(decoder.feature_size, tgt_vocab_size)
    return Seq2Seq(encoder=encoder, decoder=decoder, tgt_embedding=tgt_embedding, output=output,
                   dropout=cfg.dropout, reverse_source=cfg.reverse_source, embed_dropout=cfg.embed_dropout,
                   word_dropout=cfg.word_dropout_tgt)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters, each shared tensor counted once."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
