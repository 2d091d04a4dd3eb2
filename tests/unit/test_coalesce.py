"""demo.engines.client.coalesce: fewer, larger updates, nothing lost, nothing read ahead, cancel closes the source.

The sources here are plain async generators standing in for any stream of text pieces; the real stream from
vLLM goes through the same function in the engine and page tests.
"""

from __future__ import annotations

import asyncio

import pytest

from demo.engines.client import AnswerStats, Progress, coalesce

STATS = AnswerStats("length", 3, 5, 0.1, 0.2)


async def burst(pieces, then=None):
    for p in pieces:
        yield p
    if then is not None:
        yield then


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))  # a failure, not a hang, if a flush never comes


async def gather(agen):
    return [item async for item in agen]


def test_zero_interval_passes_every_piece_through():
    pieces = ["a", "b", "c"]
    assert run(gather(coalesce(burst(pieces, STATS), 0))) == ["a", "b", "c", STATS]


def test_a_burst_becomes_the_first_piece_then_one_merged_piece_and_nothing_is_lost():
    pieces = [f"t{i} " for i in range(50)]
    out = run(gather(coalesce(burst(pieces, STATS), 10.0)))  # all 50 arrive within one interval
    assert out[0] == "t0 "  # the first text goes out at once
    assert out[-1] is STATS  # the stats come last, after the text was flushed
    assert len(out) == 3
    assert "".join(out[:-1]) == "".join(pieces)


def test_text_waiting_when_the_source_falls_silent_is_sent_by_the_timer():
    released = asyncio.Event()

    async def source():
        yield "a"
        yield "b"
        await released.wait()  # silent until the consumer has seen "b": only a timer can send it
        yield "c"

    async def consume():
        seen = ""
        async for piece in coalesce(source(), 0.05):
            seen += piece
            if "b" in seen:
                released.set()
        return seen

    assert run(consume()) == "abc"


def test_cancelling_the_consumer_closes_the_source_and_its_pending_read():
    events = []

    async def source():
        try:
            yield "first"
            await asyncio.sleep(3600)  # a read that never completes on its own
            yield "never"
        except asyncio.CancelledError:
            events.append("read cancelled")
            raise
        finally:
            events.append("closed")

    async def scenario():
        got = []

        async def consume():
            async for piece in coalesce(source(), 0.04):
                got.append(piece)

        task = asyncio.ensure_future(consume())
        while not got:
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return got

    assert run(scenario()) == ["first"]
    assert events == ["read cancelled", "closed"]


def test_an_error_of_the_source_reaches_the_consumer():
    async def source():
        yield "a"
        raise RuntimeError("server gone")

    with pytest.raises(RuntimeError, match="server gone"):
        run(gather(coalesce(source(), 0.04)))


def test_tokens_without_text_go_out_as_progress_at_most_one_per_interval():
    # a stretch of tokens that complete no character (a random-weight loop, a model's hidden part): the consumer
    # still gets an item, so that Gradio can close a run whose visitor has left (it can only at a yield)
    steps = [Progress(i) for i in range(1, 51)]
    out = run(gather(coalesce(burst(steps, STATS), 10.0)))  # all 50 within one interval
    assert out == [Progress(1), STATS]  # the first at once; the stats end the answer, a count would add nothing


def test_a_silent_stretch_is_reported_by_the_timer_while_the_source_waits():
    released = asyncio.Event()

    async def source():
        yield "a"
        yield Progress(2)
        await released.wait()  # silent until the consumer has seen the progress: only a timer can send it
        yield "b"

    async def consume():
        got = []
        async for item in coalesce(source(), 0.05):
            got.append(item)
            if isinstance(item, Progress):
                released.set()
        return got

    assert run(consume()) == ["a", Progress(2), "b"]


def test_text_in_an_interval_wins_over_progress_and_no_text_is_lost():
    items = ["a", Progress(2), "b", Progress(3), "c"]
    out = run(gather(coalesce(burst(items, STATS), 10.0)))
    assert out == ["a", "bc", STATS]


def test_an_interval_given_as_a_function_is_read_at_every_step():
    """The app's pacing changes the interval while an answer streams: a longer one applies from the next flush."""
    interval = [0.001]

    async def source():
        yield "a"  # first text: at once
        await asyncio.sleep(0.05)
        yield "b"  # 50 ms later, past the 1 ms interval: at once
        interval[0] = 100.0  # the app got busy
        yield "c"  # now within the interval: held
        await asyncio.sleep(0.05)
        yield "d"  # held with it
        yield STATS

    assert run(gather(coalesce(source(), lambda: interval[0]))) == ["a", "b", "cd", STATS]
