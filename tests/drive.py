"""Driving the engines' async generators from plain (sync) tests, as the page's event loop does."""

from __future__ import annotations

import asyncio


def collect(agen) -> list:
    """Every item of an async generator, in order (its exception, if it raises, propagates)."""
    async def run():
        return [item async for item in agen]
    return asyncio.run(run())


def take_then_cancel(agen, n: int, then=None) -> list:
    """Consume in a task, as Gradio does, and cancel that task once ``n`` items have arrived: the cancel lands
    inside the generator, awaiting its next read (what Stop or a closed tab does to the page's handler).

    ``then`` (a blocking check) runs in a thread while the event loop is still alive, as the page's loop always
    is: work that escaped the cancel (a reader task running ahead) keeps running meanwhile, instead of being
    cancelled by ``asyncio.run``'s shutdown, which would hide it.
    """
    async def run():
        got = []

        async def consume():
            async for item in agen:
                got.append(item)

        task = asyncio.ensure_future(consume())
        while len(got) < n and not task.done():
            await asyncio.sleep(0.005)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await agen.aclose()
        if then is not None:
            await asyncio.to_thread(then)
        return got
    return asyncio.run(run())
