"""Decoder state and memory: beam search reorders every field, whatever fields there are."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch

from nmt.models.state import DecoderState, Memory, batch_dim


def rows(batch: int, *shape: int, dim: int = 0) -> torch.Tensor:
    """A tensor whose entries along `dim` are their batch row's number."""
    sizes = list(shape)
    sizes.insert(dim, batch)
    view = [1] * len(sizes)
    view[dim] = batch
    return torch.arange(batch, dtype=torch.float).view(view).expand(sizes).clone()


def test_decoder_state_select_reorders_every_field_along_its_batch_dimension():
    state = DecoderState(hidden=rows(4, 2, 3, dim=1), cell=rows(4, 2, 3, dim=1), feed=rows(4, 3))
    index = torch.tensor([2, 2, 0])
    picked = state.select(index)
    assert picked.hidden.shape == (2, 3, 3) and picked.feed.shape == (3, 3)
    for item in dataclasses.fields(DecoderState):
        tensor = getattr(picked, item.name)
        dim = item.metadata.get("batch_dim", 0)
        assert tensor.movedim(dim, 0).flatten(1)[:, 0].tolist() == [2.0, 2.0, 0.0], item.name


def test_a_new_field_is_reordered_without_touching_select():
    @dataclass
    class CoverageState(DecoderState):  # Tu et al. 2016: attention summed over past steps
        coverage: torch.Tensor | None = None
        layer_major: torch.Tensor | None = field(default=None, metadata=batch_dim(1))

    state = CoverageState(hidden=rows(3, 1, 2, dim=1), coverage=rows(3, 5), layer_major=rows(3, 4, dim=1))
    picked = state.select(torch.tensor([1, 0]))
    assert isinstance(picked, CoverageState) and picked.cell is None
    assert picked.coverage[:, 0].tolist() == [1.0, 0.0]
    assert picked.layer_major[0].tolist() == [1.0, 0.0]


def test_memory_select_keeps_none_fields_none():
    memory = Memory(states=rows(3, 4, 2), mask=torch.ones(3, 4, dtype=torch.bool), init_hidden=rows(3, 1, 2),
                    source_positions=torch.arange(4).repeat(3, 1))
    picked = memory.select(torch.tensor([0, 0, 2, 1]))
    assert picked.keys is None and picked.summary is None and picked.init_cell is None
    assert picked.states[:, 0, 0].tolist() == [0.0, 0.0, 2.0, 1.0]
    assert picked.source_positions.shape == (4, 4)
