"""demo.ui.common.closed_with_its_run: a handler left suspended at a yield when its run's task ends (cancelled,
or ended by Gradio without closing it) has its stream closed; a run that ends normally is untouched."""

from __future__ import annotations

import asyncio

from demo.ui.common import closed_with_its_run


def make_handler(log: list):
    async def handler(n):
        try:
            for i in range(n):
                yield i
                await asyncio.sleep(0)
        finally:
            log.append("closed")  # where the HTTP stream to vLLM would be closed
    return handler


async def wait_for(log: list) -> None:
    for _ in range(200):
        if log:
            return
        await asyncio.sleep(0.01)


def test_a_cancelled_run_closes_the_handler_suspended_at_its_yield():
    log: list = []
    wrapped = closed_with_its_run(make_handler(log))

    async def scenario():
        gen = wrapped(10)
        got = []

        async def gradio_run():  # takes one update, then is cancelled between two updates
            got.append(await anext(gen))
            await asyncio.sleep(3600)

        task = asyncio.ensure_future(gradio_run())
        while not got:
            await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await wait_for(log)
        closed = list(log)  # read inside the loop: asyncio.run closes every generator left when it ends
        gen = None  # the last reference to the generator dropped
        return closed

    assert asyncio.run(scenario()) == ["closed"]


def test_a_run_that_ends_without_closing_its_handler_closes_it():
    log: list = []
    wrapped = closed_with_its_run(make_handler(log))

    async def scenario():
        gen = wrapped(10)

        async def gradio_run():  # its client left: the run returns without closing the generator
            await anext(gen)

        await asyncio.ensure_future(gradio_run())
        await wait_for(log)
        closed = list(log)
        gen = None  # the last reference to the generator dropped
        return closed

    assert asyncio.run(scenario()) == ["closed"]


def test_a_run_to_its_end_yields_everything_and_closes_once():
    log: list = []
    wrapped = closed_with_its_run(make_handler(log))

    async def scenario():
        return [item async for item in wrapped(5)]

    assert asyncio.run(scenario()) == [0, 1, 2, 3, 4]
    assert log == ["closed"]
