"""Data-parallel training across processes, as `torchrun` launches them, with torch.distributed.

The trainer asks a `Cluster` a few questions (am I the main process, the sum of these
numbers over all processes, the hypotheses of all processes) and never branches on the
world size itself: a one-process run answers them locally, so the single-process path is
the same code. Every collective of the training loop runs in a group with a short timeout
(`train.rank_timeout`): a process that died or stalls stops the others within that bound,
with one line saying so, instead of hanging them.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from typing import Any, Iterator

import torch

from nmt.errors import NmtError, gist

# How the backends word a lost peer, where autograd hands their error on as a plain RuntimeError.
LOST_PEER_WORDS = ("gloo", "nccl", "connection closed", "connection reset", "timed out", "timeout")

# Waiting for rank 0 to prepare the data (SentencePiece on a large corpus takes a while).
PREPARE_TIMEOUT = datetime.timedelta(hours=2)


class RankFailure(NmtError):
    """Another process died or stalled: this one cannot go on."""


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


class Cluster:
    """This process's place among `world_size` training processes (one, when not launched by torchrun)."""

    def __init__(self, *, rank: int = 0, local_rank: int = 0, world_size: int = 1, group: Any = None):
        self.rank, self.local_rank, self.world_size, self.group = rank, local_rank, world_size, group

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @classmethod
    def from_environment(cls, *, device_type: str, rank_timeout: float) -> Cluster:
        """Joins the process group torchrun set up (RANK, WORLD_SIZE, LOCAL_RANK); alone otherwise."""
        if not launched_by_torchrun():
            return cls()
        import torch.distributed as dist

        rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        backend = "nccl" if device_type == "cuda" else "gloo"
        if device_type == "cuda":
            torch.cuda.set_device(local_rank)
        try:
            dist.init_process_group(backend, timeout=PREPARE_TIMEOUT)
            group = dist.new_group(backend=backend, timeout=datetime.timedelta(seconds=rank_timeout))
        except (RuntimeError, ValueError) as err:
            raise NmtError(f"distributed: rank {rank} cannot join the process group ({_first_line(err)})") from None
        return cls(rank=rank, local_rank=local_rank, world_size=world_size, group=group)

    def device(self, chosen: torch.device) -> torch.device:
        """One device a process: the CUDA device of this process's local rank, or the CPU."""
        if chosen.type == "cuda" and self.distributed:
            return torch.device("cuda", self.local_rank)
        return chosen

    # ------------------------------------------------------------ collectives

    @contextlib.contextmanager
    def watch(self, what: str) -> Iterator[None]:
        """Turns a lost peer (gloo/NCCL error or timeout) inside the block into one RankFailure line."""
        try:
            yield
        except (RuntimeError, ValueError) as err:
            import torch.distributed as dist

            lost = isinstance(err, dist.DistError) or any(w in str(err).lower() for w in LOST_PEER_WORDS)
            if not (self.distributed and lost):
                raise
            raise RankFailure(f"distributed: rank {self.rank} lost contact with another rank during {what} "
                              f"(it died or stalled: {_first_line(err)})") from None

    def _collective(self, what: str, call, *args, **kwargs):
        with self.watch(what):
            return call(*args, **kwargs)

    def sum(self, values: list[float], device: torch.device, *, what: str) -> list[float]:
        """The element-wise sum of `values` over all processes."""
        if not self.distributed:
            return list(values)
        import torch.distributed as dist

        tensor = torch.tensor(values, dtype=torch.float64, device=device)
        self._collective(what, dist.all_reduce, tensor, group=self.group)
        return tensor.tolist()

    def gather(self, item: Any, *, what: str) -> list[Any]:
        """Every process's `item` (any picklable value), in rank order, on every process."""
        if not self.distributed:
            return [item]
        import torch.distributed as dist

        items: list[Any] = [None] * self.world_size
        self._collective(what, dist.all_gather_object, items, item, group=self.group)
        return items

    def wait_for_main(self, *, what: str) -> None:
        """Every process waits here until all have arrived (long timeout: the main one may be preparing data)."""
        if not self.distributed:
            return
        import torch.distributed as dist

        self._collective(what, dist.barrier)

    def close(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()


def _first_line(err: BaseException) -> str:
    """The gist of a backend's message: its first line, without gloo's source location, first sentence only."""
    return gist(err, limit=200).split(". ")[0]
