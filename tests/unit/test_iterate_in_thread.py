"""demo.engines.iterate_in_thread: a blocking iterator consumed from the event loop, abandoned on cancel."""

from __future__ import annotations

import asyncio
import threading

import pytest

from demo.engines import iterate_in_thread


def test_items_arrive_in_order_off_the_event_loop():
    loop_thread = []

    def items():
        for i in range(3):
            loop_thread.append(threading.current_thread() is threading.main_thread())
            yield i

    async def run():
        return [i async for i in iterate_in_thread(items())]

    assert asyncio.run(run()) == [0, 1, 2]
    assert loop_thread == [False, False, False]  # each next() ran in a worker thread


def test_a_cancel_abandons_the_blocked_next_and_the_iterator_is_closed_after():
    closed, blocked, release = threading.Event(), threading.Event(), threading.Event()

    def items():
        try:
            yield "first"
            blocked.set()
            release.wait(30)  # blocked, as the worker's queue wait is
            yield "second"
        finally:
            closed.set()

    async def run():
        got = []

        async def consume():
            async for item in iterate_in_thread(items()):
                got.append(item)

        task = asyncio.ensure_future(consume())
        await asyncio.to_thread(blocked.wait, 30)  # the second next() is running, blocked
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)  # returns although next() is still blocked
        was_closed = closed.is_set()
        release.set()  # the blocked next() returns; then the generator is closed, its finally runs
        return got, task.cancelled(), was_closed, await asyncio.to_thread(closed.wait, 30)

    got, cancelled, closed_while_blocked, closed_after = asyncio.run(run())
    assert got == ["first"] and cancelled
    assert not closed_while_blocked and closed_after


def test_an_error_of_the_iterator_reaches_the_consumer():
    def items():
        yield 1
        raise RuntimeError("worker died")

    async def run():
        return [i async for i in iterate_in_thread(items())]

    with pytest.raises(RuntimeError, match="worker died"):
        asyncio.run(run())
