"""Dynamic batching: the lines of requests that arrive close together are translated together.

No web framework here. `Batcher.submit` queues a request's lines and awaits their results; one
worker task takes the first waiting request, keeps collecting for up to `max_wait` seconds
or until `max_tokens` source tokens are waiting, then translates each group of requests that
share their options (model, beam, ...) in one call, in a worker thread so the event loop keeps
answering. The queue is bounded in lines: a request that would overfill it is refused at once
(QueueFull), never left to grow memory.
"""

from __future__ import annotations

import asyncio
import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Sequence

Translate = Callable[[Any, list[Any]], list[Any]]  # (options, lines) -> one result per line


class QueueFull(Exception):
    """More lines are waiting than the batcher may hold."""


@dataclass
class _Request:
    options: Hashable
    lines: list[Any]  # strings, or what the translate function takes (nmt.serve.service.Line)
    cost: int
    future: asyncio.Future = field(repr=False)


@dataclass
class BatcherStats:
    requests: int = 0
    lines: int = 0
    batches: int = 0  # translate calls; fewer than requests when requests were merged
    refused: int = 0


class Batcher:
    def __init__(self, translate: Translate, *, max_wait: float = 0.01, max_tokens: int = 4000,
                 max_queue_lines: int = 2000, cost: Callable[[Any], int] = lambda line: len(line.split()) + 1):
        self.translate, self.cost = translate, cost
        self.max_wait, self.max_tokens, self.max_queue_lines = max_wait, max_tokens, max_queue_lines
        self.stats = BatcherStats()
        self.waiting_lines = 0
        self._queue: asyncio.Queue[_Request] | None = None
        self._worker: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="translate")

    def start(self) -> None:
        """Start the worker on the running event loop."""
        self._queue = asyncio.Queue()
        self._worker = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Finish what is queued, then stop the worker."""
        if self._queue is not None:
            await self._queue.join()
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        self._executor.shutdown(wait=True)

    async def submit(self, options: Hashable, lines: Sequence[Any]) -> list[Any]:
        """The results for `lines`, in order; raises QueueFull when the queue has no room."""
        if self._queue is None:
            raise RuntimeError("Batcher.start() was not called")
        if self.waiting_lines + len(lines) > self.max_queue_lines:
            self.stats.refused += 1
            raise QueueFull(f"{self.waiting_lines} lines are waiting; the queue holds {self.max_queue_lines}")
        self.waiting_lines += len(lines)
        self.stats.requests += 1
        self.stats.lines += len(lines)
        request = _Request(options, list(lines), sum(self.cost(line) for line in lines),
                           asyncio.get_running_loop().create_future())
        self._queue.put_nowait(request)
        return await request.future

    @property
    def _started_queue(self) -> asyncio.Queue[_Request]:
        if self._queue is None:
            raise RuntimeError("the batcher has not been started")
        return self._queue

    async def _collect(self) -> list[_Request]:
        """The first waiting request and whatever joins it within max_wait, up to max_tokens."""
        batch = [await self._started_queue.get()]
        loop = asyncio.get_running_loop()
        deadline, cost = loop.time() + self.max_wait, batch[0].cost
        while cost < self.max_tokens:
            try:
                request = await asyncio.wait_for(self._started_queue.get(), max(deadline - loop.time(), 0))
            except asyncio.TimeoutError:
                break
            batch.append(request)
            cost += request.cost
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect()
            by_options = itertools.groupby(sorted(batch, key=lambda r: repr(r.options)), key=lambda r: r.options)
            for options, group in by_options:
                requests = list(group)
                lines = [line for request in requests for line in request.lines]
                self.stats.batches += 1
                try:
                    results = await loop.run_in_executor(self._executor, self.translate, options, lines)
                except Exception as error:  # every request of the group hears of it; the worker goes on
                    for request in requests:
                        if not request.future.done():
                            request.future.set_exception(error)
                else:
                    start = 0
                    for request in requests:
                        if not request.future.done():  # its client may have gone away
                            request.future.set_result(results[start:start + len(request.lines)])
                        start += len(request.lines)
                finally:
                    for request in requests:
                        self.waiting_lines -= len(request.lines)
                        self._started_queue.task_done()
