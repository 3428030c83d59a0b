"""The encoder-decoder family; `build_model` turns a ModelConfig into a Seq2Seq."""

from nmt.models.seq2seq import Seq2Seq, build_model, count_parameters

__all__ = ["Seq2Seq", "build_model", "count_parameters"]
