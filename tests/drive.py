"""Driving the engines' async generators from plain (sync) tests, as the page's event loop does."""

from __future__ import annotations

import asyncio


def collect(agen) -> list:
    """Every item of an async generator, in order (its exception, if it raises, propagates)."""
    async def run():
        return [item async for item in agen]
    return asyncio.run(run())


def take_then_cancel(agen, n: int) -> list:
    """Consume in a task, as Gradio does, and cancel that task once ``n`` items have arrived: the cancel lands
    inside the generator, awaiting its next read (what Stop or a closed tab does to the page's handler)."""
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
        return got
    return asyncio.run(run())
