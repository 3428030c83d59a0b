"""The request batcher alone: merging, order, option groups, a bounded queue, errors."""

from __future__ import annotations

import asyncio
import threading

import pytest

from nmt.serve.batcher import Batcher, QueueFull


class Recorder:
    """A translate function that upper-cases lines and records each call's (options, lines)."""

    def __init__(self, delay: float = 0.0):
        self.calls, self.delay = [], delay
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, options, lines):
        assert self.gate.wait(timeout=60), "the test never opened the gate"
        self.calls.append((options, list(lines)))
        if options == "broken":
            raise ValueError("model exploded")
        return [f"{options}:{line.upper()}" for line in lines]


def run(coroutine):
    return asyncio.run(coroutine)


def test_concurrent_requests_are_merged_and_answered_in_order():
    recorder = Recorder()

    async def scenario():
        batcher = Batcher(recorder, max_wait=0.05)
        batcher.start()
        results = await asyncio.gather(*(batcher.submit("beam", [f"a{i}", f"b{i}"]) for i in range(20)))
        await batcher.stop()
        return results, batcher.stats

    results, stats = run(scenario())
    assert results == [[f"beam:A{i}", f"beam:B{i}"] for i in range(20)]
    assert stats.requests == 20 and stats.batches == len(recorder.calls) < 5


def test_requests_with_other_options_are_never_mixed():
    recorder = Recorder()

    async def scenario():
        batcher = Batcher(recorder, max_wait=0.05)
        batcher.start()
        results = await asyncio.gather(batcher.submit("x", ["1"]), batcher.submit("y", ["2"]), batcher.submit("x", ["3"]))
        await batcher.stop()
        return results

    assert run(scenario()) == [["x:1"], ["y:2"], ["x:3"]]
    assert sorted(recorder.calls) == [("x", ["1", "3"]), ("y", ["2"])]


def test_a_full_queue_refuses_at_once_and_recovers():
    recorder = Recorder()
    recorder.gate.clear()  # the translator is busy: lines pile up

    async def scenario():
        batcher = Batcher(recorder, max_wait=0.0, max_queue_lines=5)
        batcher.start()
        first = asyncio.ensure_future(batcher.submit("x", ["a", "b", "c", "d"]))
        await asyncio.sleep(0.05)
        with pytest.raises(QueueFull):
            await batcher.submit("x", ["e", "f"])
        recorder.gate.set()
        answered = await first
        after = await batcher.submit("x", ["e", "f"])  # room again
        await batcher.stop()
        return answered, after, batcher.stats

    answered, after, stats = run(scenario())
    assert answered == ["x:A", "x:B", "x:C", "x:D"] and after == ["x:E", "x:F"] and stats.refused == 1


def test_a_failing_batch_fails_its_requests_only():
    recorder = Recorder()

    async def scenario():
        batcher = Batcher(recorder, max_wait=0.05)
        batcher.start()
        results = await asyncio.gather(batcher.submit("broken", ["1"]), batcher.submit("fine", ["2"]),
                                       return_exceptions=True)
        later = await batcher.submit("fine", ["3"])
        await batcher.stop()
        return results, later

    (broken, fine), later = run(scenario())
    assert isinstance(broken, ValueError) and fine == ["fine:2"] and later == ["fine:3"]
