"""Driving the engines' async generators from plain (sync) tests, as the page's event loop does."""

from __future__ import annotations

import asyncio
import sys


def collect(agen) -> list:
    """Every item of an async generator, in order (its exception, if it raises, propagates)."""
    async def run():
        return [item async for item in agen]
    return asyncio.run(run())


def cancel_when(agen, ready, then=None) -> list:
    """Consume in a task, as Gradio does, and cancel that task once ``ready()`` (a blocking check, polled in a
    thread) is true: the cancel lands inside the generator, awaiting its next read (what Stop or a closed tab
    does to the page's handler).

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
        while not task.done() and not await asyncio.to_thread(ready):
            await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await agen.aclose()
        if then is not None:
            await asyncio.to_thread(then)
        return got
    return asyncio.run(run())


def take_then_close(agen, n: int, then=None) -> list:
    """Take ``n`` items, then close the generator where it waits at a ``yield``: what Gradio does to a handler
    whose run was cancelled between two updates or whose client left (``reset_iterators``: ``aclose()``).

    The event loop's finalizer for forgotten async generators is switched off meanwhile (they are kept, and
    closed only after ``then``), so the test sees only what closing the outer generator closes: under Gradio, a
    nested stream that nobody closes stays open until a garbage collection finds it, which can be never.
    """
    return close_when(agen, lambda got: len(got) >= n, then)


def close_when(agen, enough, then=None) -> list:
    """:func:`take_then_close`, closing once ``enough(items so far)`` is true (checked before each item, in the
    event loop: it must not block); fails if the generator ends first."""
    async def run():
        forgotten = []
        hooks = sys.get_asyncgen_hooks()
        # firstiter stays the loop's (shutdown_asyncgens still knows them); only the finalizer is replaced
        sys.set_asyncgen_hooks(firstiter=hooks.firstiter, finalizer=forgotten.append)
        try:
            got = []
            while not enough(got):
                try:
                    got.append(await anext(agen))
                except StopAsyncIteration:
                    raise AssertionError(f"the stream ended before it was to be closed, after {len(got)} items") \
                        from None
            await agen.aclose()
            if then is not None:
                await asyncio.to_thread(then)
            return got
        finally:
            sys.set_asyncgen_hooks(*hooks)
            for g in forgotten:
                await g.aclose()
    return asyncio.run(run())
