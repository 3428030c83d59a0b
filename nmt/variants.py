"""The model variants, each registered once (and the cells they can use): its decoder, its encoder's direction, its paper.

`model.variant` in a config names one of these. The config checks a model against its entry
and `nmt.models.build_model` builds the decoder it names, so adding a variant is one decoder
class (with a `from_config` constructor), one entry here and its name in `VariantName`.
This module imports no torch: config validation stays fast.
"""

from __future__ import annotations

import importlib
import typing
from dataclasses import dataclass
from typing import Any, Literal

VariantName = Literal["seq2seq", "context", "bidir", "rnnsearch", "luong"]
Cell = Literal["lstm", "gru", "rnn"]  # the recurrent cells every variant (and the character model) can use


@dataclass(frozen=True)
class Variant:
    paper: str
    decoder: str  # "module:Class" of its decoder, imported only when a model is built
    bidirectional: bool  # the encoder the paper used; what an unset model.bidirectional means
    either_direction: bool  # whether model.bidirectional may choose the other direction

    def decoder_class(self) -> Any:  # a decoder class with a from_config(cfg, encoder) constructor
        module, name = self.decoder.split(":")
        return getattr(importlib.import_module(module), name)


VARIANTS: dict[str, Variant] = {
    "seq2seq": Variant("Sutskever et al. 2014", "nmt.models.decoder:PlainDecoder",
                       bidirectional=False, either_direction=False),
    "context": Variant("Cho et al. 2014", "nmt.models.decoder:ContextDecoder",
                       bidirectional=False, either_direction=False),
    "bidir": Variant("the ablation: a bidirectional encoder without attention", "nmt.models.decoder:PlainDecoder",
                     bidirectional=True, either_direction=False),
    "rnnsearch": Variant("Bahdanau et al. 2014", "nmt.models.attentional:BahdanauDecoder",
                         bidirectional=True, either_direction=True),
    "luong": Variant("Luong et al. 2015", "nmt.models.attentional:LuongDecoder",
                     bidirectional=False, either_direction=True),
}

assert set(typing.get_args(VariantName)) == set(VARIANTS), "VariantName and VARIANTS must name the same variants"


def is_bidirectional(variant: str, bidirectional: bool | None) -> bool:
    """The encoder direction of a model: model.bidirectional where set, else the variant's own."""
    return VARIANTS[variant].bidirectional if bidirectional is None else bidirectional
