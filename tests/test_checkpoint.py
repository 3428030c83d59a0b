"""nmt/checkpoint.py: a checkpoint is replaced whole or not at all, and loads without unpickling objects."""

from __future__ import annotations

import pytest
import torch

from nmt.checkpoint import load_checkpoint, save_checkpoint
from nmt.errors import NmtError


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_write_that_dies_half_way_leaves_the_old_checkpoint_whole(tmp_path, monkeypatch, failure):
    path = tmp_path / "last.pt"
    save_checkpoint({"model": {"w": torch.ones(3)}, "step": 1}, path)

    def dies_half_way(payload, handle, *args, **kwargs):
        handle.write(b"PK\x03\x04 the first bytes of a zip file")
        raise failure

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(type(failure)):
        save_checkpoint({"model": {"w": torch.zeros(3)}, "step": 2}, path)
    monkeypatch.undo()
    old = load_checkpoint(path)
    assert old["step"] == 1 and torch.equal(old["model"]["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no half-written file left beside it


def test_a_checkpoint_holding_an_arbitrary_object_is_refused_in_one_line(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "hook": print}, path)  # unpickling would import and call whatever it names
    with pytest.raises(NmtError, match=str(path)):
        load_checkpoint(path)
