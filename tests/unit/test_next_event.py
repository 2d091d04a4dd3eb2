"""``next_event``: the video request's wait for its next worker event keeps a cancel that comes with an event
(``asyncio.wait_for`` on Python 3.11 loses it: a Stop then did not stop the job)."""

from __future__ import annotations

import asyncio
import sys

from demo.engines.video_worker import next_event


async def _cancel_as_an_event_arrives(wait):
    events: asyncio.Queue = asyncio.Queue()
    task = asyncio.ensure_future(wait(events))
    for _ in range(3):  # the task (and any task it starts) is now waiting on the queue
        await asyncio.sleep(0)
    events.put_nowait("delta")  # the event and the cancel in one loop turn
    task.cancel()
    return await asyncio.gather(task, return_exceptions=True)


def test_a_cancel_that_comes_with_an_event_is_kept():
    [outcome] = asyncio.run(_cancel_as_an_event_arrives(lambda q: next_event(q, 30.0)))
    assert isinstance(outcome, asyncio.CancelledError), outcome


def test_the_race_is_real_with_wait_for():
    # The witness that the test above can fail: on 3.11 the same race loses the cancel with asyncio.wait_for
    # (3.12 rebuilt wait_for on asyncio.timeout and keeps it).
    [outcome] = asyncio.run(_cancel_as_an_event_arrives(lambda q: asyncio.wait_for(q.get(), 30.0)))
    if sys.version_info < (3, 12):
        assert outcome == "delta"
    else:
        assert isinstance(outcome, asyncio.CancelledError), outcome


def test_an_event_is_returned_and_a_quiet_queue_gives_none():
    async def scenario():
        events: asyncio.Queue = asyncio.Queue()
        events.put_nowait(("stage", "encoding"))
        return await next_event(events, 30.0), await next_event(events, 0.01)

    assert asyncio.run(scenario()) == (("stage", "encoding"), None)
