"""demo/engines/pacing.py: answers update less often while the app's event loop is busy, and as often as set when
it is quiet. The load is real: a coroutine that keeps the loop's thread busy."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from demo.engines.pacing import LONGEST_S, MOST_TOKENS_PER_CHUNK, Pacer, Pacers, next_interval, tokens_per_chunk

SHORTEST, BUDGET = 0.04, 0.7


def test_the_interval_stretches_above_the_budget_and_shrinks_well_below_it():
    assert next_interval(SHORTEST, 1.0, BUDGET, SHORTEST) > SHORTEST
    assert next_interval(0.4, 0.1, BUDGET, SHORTEST) < 0.4
    assert next_interval(0.4, 0.6, BUDGET, SHORTEST) == 0.4  # within the band: held, no see-saw
    assert next_interval(0.4, 0.45, BUDGET, SHORTEST) < 0.4  # below the band: shorter
    assert next_interval(SHORTEST, 0.0, BUDGET, SHORTEST) == SHORTEST  # never below the setting
    assert next_interval(LONGEST_S, 1.0, BUDGET, SHORTEST) == LONGEST_S  # never above the longest
    assert next_interval(0.1, 1.0, BUDGET, SHORTEST) <= 0.2  # at most twice per sample
    assert next_interval(0.1, 1.0, 0.0, SHORTEST) == SHORTEST  # a budget of 0: no pacing


def test_tokens_per_chunk_follow_the_interval_and_the_crowd():
    assert tokens_per_chunk(SHORTEST, SHORTEST) == 1
    assert tokens_per_chunk(0.2, SHORTEST) == 5
    assert tokens_per_chunk(LONGEST_S, SHORTEST) == MOST_TOKENS_PER_CHUNK
    assert tokens_per_chunk(0.5, 0.0) == 1
    assert tokens_per_chunk(SHORTEST, SHORTEST, streams=16) == 1
    assert tokens_per_chunk(SHORTEST, SHORTEST, streams=64) == 4
    assert tokens_per_chunk(SHORTEST, SHORTEST, streams=1000) == MOST_TOKENS_PER_CHUNK


def test_a_busy_loop_stretches_the_interval_and_a_quiet_one_shrinks_it_back():
    seen = {}

    async def scenario():
        pacers = Pacers(SHORTEST, BUDGET)
        pacer = pacers.here()
        assert isinstance(pacer, Pacer) and pacers.here() is pacer
        # busy: the loop's thread computes, yielding to other tasks every 20 ms (as a loop full of updates does)
        deadline = time.monotonic() + 60  # a failure, not a hang, if the pacer never reacts
        while pacer.current() < 4 * SHORTEST and time.monotonic() < deadline:
            end = time.perf_counter() + 0.02
            while time.perf_counter() < end:
                pass
            await asyncio.sleep(0)
        seen["busy"], seen["load"], seen["chunk"] = pacer.current(), pacer.load, pacer.chunk_tokens()
        seen["shown"] = pacers.interval()
        # quiet
        deadline = time.monotonic() + 60
        while pacer.current() > SHORTEST and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        seen["quiet"] = pacer.current()

    with ThreadPoolExecutor(1) as pool:  # a loop of its own thread: its CPU is what the pacer measures
        pool.submit(asyncio.run, scenario()).result()
    assert seen["busy"] >= 4 * SHORTEST, seen
    assert seen["load"] > BUDGET and seen["chunk"] >= 4 and seen["shown"] == seen["busy"], seen
    assert seen["quiet"] == SHORTEST, seen
