"""The one video worker asked from another app process through the hub (``demo/fleet``), as an app process of
several asks it: the worker's own events, its sentences as the same errors, and a job whose asker lets go
(Stop, a closed tab, an app process gone) aborted in the worker, as in one process.

The hub runs on the session's real engines; the asker is the app processes' own ``MirroredWorker``.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from demo.engines.params import GenerationParams
from demo.engines.video_events import Done, Stage
from demo.errors import EngineError
from demo.fleet.hub import Hub
from demo.fleet.mirror import MirroredWorker
from tests.engine.test_video_loop import LONG, Job, ended, frames, until


@asynccontextmanager
async def through_the_hub(engines):
    """A hub on this event loop and a mirror of the session's worker that reaches it."""
    hub = Hub(engines)
    await hub.start()
    try:
        yield MirroredWorker(hub.shared(), engines.worker.status.get())
    finally:
        await hub.stop()


def test_a_video_answer_through_the_hub_is_the_workers(engines):
    async def scenario():
        async with through_the_hub(engines) as mirror:
            job = Job(mirror, 16)
            await until(lambda: job.ended, "the job's end")
            return job

    job = asyncio.run(scenario())
    assert job.error is None, job.error
    assert job.has(Stage("generating"))
    assert isinstance(job.events[-1], Done) and job.events[-1].answer.completion_tokens >= 1


def test_a_job_whose_asker_lets_go_is_aborted_in_the_worker(engines):
    worker = engines.worker

    async def scenario():
        async with through_the_hub(engines) as mirror:
            before, counts = ended(worker), dict(worker.counts)
            job = Job(mirror, LONG)  # thousands of tokens, the end token ignored: it cannot end on its own first
            await until(lambda: job.has(Stage("generating")), "the job in the engine")
            await job.stop()
            await until(lambda: ended(worker) == before + 1, "the worker to end the job")
            return {name: n - counts.get(name, 0) for name, n in worker.counts.items() if n != counts.get(name, 0)}

    assert asyncio.run(scenario()) == {"aborted": 1}


def test_a_sentence_of_the_worker_arrives_as_the_same_error(engines):
    async def scenario():
        async with through_the_hub(engines) as mirror:
            events = []
            try:
                async for event in mirror.answer(frames(), 2.0, "word " * 9000, GenerationParams(max_tokens=16)):
                    events.append(event)
            except EngineError as exc:
                return exc, events
            return None, events

    error, events = asyncio.run(scenario())
    assert isinstance(error, EngineError) and error.code == "too_long", (error, events)
    assert "tokens" in str(error)  # the sentence itself, formatted from its fields again
