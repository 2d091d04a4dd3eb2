"""The app's side of the video worker (its own process is ``video_process``): start, stop, restart, and answer.

:class:`VideoWorker` spawns the worker process, sends it jobs and cancels through one queue and reads its
messages (``video_messages``) from another in one thread, which hands each job's events to the event loop of the
request it belongs to: a waiting visitor holds no thread. The worker runs in its own process group (vLLM starts
EngineCore processes under it), so stopping or restarting it leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing as mp
import os
import queue
import threading
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from ..errors import EngineError
from ..settings import Settings
from .client import Progress, Thinking, overflows_context
from .params import GenerationParams
from .placement import Placement
from .processes import stop_group
from .supervisor import Supervisor
from .video_events import Delta, Done, Queued, Stage, VideoEvent
from .video_messages import (
    ENDS,
    Cancel,
    ForJob,
    FromWorker,
    JobCancelled,
    JobEvent,
    JobFailed,
    JobGone,
    Ready,
    Submit,
    Tally,
    VideoJob,
)
from .video_process import _worker_main
from .vllm_flags import STRUCTURED_OUTPUTS


@dataclass(frozen=True)
class Nudge:
    """(Within the app) a job ahead started: a waiting request looks at its place in line again."""


@dataclass(frozen=True)
class Crashed:
    """(Within the app) the worker died or stopped while the job was pending: ``error`` says so."""

    error: Exception


@dataclass
class _Ticket:
    """A job the app sent, with the event loop and queue of the request waiting for it."""

    loop: asyncio.AbstractEventLoop
    events: asyncio.Queue
    started: bool = False

    def deliver(self, item) -> None:
        try:
            self.loop.call_soon_threadsafe(self.events.put_nowait, item)
        except RuntimeError:  # its event loop has closed: nobody is waiting any more
            pass


async def next_event(events: asyncio.Queue, wait: float):
    """The next item of ``events``, or None after ``wait`` seconds.

    Not ``asyncio.wait_for``: on Python 3.11 it returns the item when a cancel comes in the same loop turn as the
    item, and the cancel is lost (seen: a Stop whose job ran on to its last token, the request's task going on).
    ``asyncio.timeout`` tells its own timeout from a cancel from outside.
    """
    try:
        async with asyncio.timeout(wait):
            return await events.get()
    except TimeoutError:
        return None


class VideoWorker(Supervisor):
    """App-side handle of the worker: start, stop, restart, and :meth:`answer` a job."""

    name = "video worker"
    stuck_after = 60.0  # seconds a worker may take to confirm a cancel before it is taken as stuck and restarted

    def __init__(self, settings: Settings, model_path: str, placement: Placement, log_dir: str | os.PathLike,
                 reasoning_parser: str | None = None):
        super().__init__(Path(log_dir) / "video-worker.log", settings.startup_timeout, settings.max_restarts)
        self.settings = settings
        self.model_path = str(model_path)
        self.placement = placement
        self.llm_kwargs = {
            "trust_remote_code": settings.trust_remote_code,
            "gpu_memory_utilization": placement.gpu_memory_utilization or settings.video_gpu_memory_utilization,
            "enforce_eager": placement.enforce_eager,  # the seed's False on GPUs; True on the CPU build
            "tensor_parallel_size": placement.tensor_parallel_size,
            "max_model_len": settings.max_model_len,
            "limit_mm_per_prompt": {"image": 0, "video": 1},
            "structured_outputs_config": dict(STRUCTURED_OUTPUTS),  # Find moments (see vllm_flags)
        }
        if placement.kv_cache_bytes is not None:  # a shared card: a KV cache of its own size, not what is free then
            self.llm_kwargs["kv_cache_memory_bytes"] = placement.kv_cache_bytes
        # A thinking model: its text is split at '</think>' here (EngineLoop), and the engine gets the parser too so
        # that an answer held to a JSON schema (Find moments) starts after the reasoning, as on the server.
        self.thinking = bool(reasoning_parser)
        if reasoning_parser:
            self.llm_kwargs["reasoning_parser"] = reasoning_parser
        self.counts: dict[str, int] = {}  # the worker's own tally of how jobs ended (see EngineLoop)
        self._ctx = mp.get_context("spawn")
        self._proc: mp.context.SpawnProcess | None = None
        self._jobs: mp.Queue | None = None
        self._ready = threading.Event()
        self._pending: dict[int, _Ticket] = {}  # job id -> its ticket, in the order the jobs were sent
        self._unconfirmed: set[int] = set()  # cancelled jobs the worker has not yet confirmed
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.is_alive() else None

    @property
    def start_key(self) -> str:
        return f"{self.name} · {self.model_path} · {self.placement.describe()}"

    # --- Supervisor hooks ---------------------------------------------------------------------------------
    def spawn(self) -> None:
        self._ready.clear()
        jobs, events = self._ctx.Queue(), self._ctx.Queue()
        proc = self._ctx.Process(
            target=_worker_main, name="qwen-video-worker", daemon=False,
            args=(self.model_path, self.llm_kwargs, self.placement.env(), str(self.log_path), jobs, events,
                  self.settings.video_concurrency, self.settings.stream_interval, self.thinking))
        proc.start()
        with self._lock:
            self._proc, self._jobs = proc, jobs
            self._unconfirmed.clear()
            self.counts = {}  # a new worker's tally starts at zero; the old one's would never move again
        threading.Thread(target=self._read_events, args=(proc, events), name="video-worker-events",
                         daemon=True).start()

    def _wait_up(self, deadline: float) -> str | None:
        while time.monotonic() < deadline and not self._stopping.is_set():
            if self._ready.wait(1.0):
                return None
            if not cast("mp.context.SpawnProcess", self._proc).is_alive():  # spawn set it
                return self._exited_while_starting()
            self._progress()
        return "stopped" if self._stopping.is_set() else self._too_slow()

    def _running(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    def _exit_code(self) -> int | None:
        return self._proc.exitcode if self._proc is not None else None

    def _kill(self) -> None:
        with self._lock:
            proc = self._proc
        if proc is None:
            return
        if proc.is_alive():
            try:  # (a started process has a pid: spawn started it)
                own_group = os.getpgid(cast(int, proc.pid)) == proc.pid
            except ProcessLookupError:
                own_group = False
            if not own_group:  # killed before its setsid(): never signal the app's own group
                proc.kill()
        # The worker's group outlives the worker when only the worker died (its EngineCore stays): end it.
        stop_group(cast(int, proc.pid), reap=lambda: proc.join(0))
        proc.join(10)

    def _on_down(self, reason: str) -> None:
        self._fail_all(EngineError("worker_crashed", detail=reason))

    # --- events from the worker (one thread) ----------------------------------------------------------------
    def _read_events(self, proc, events) -> None:
        while True:
            try:
                message: FromWorker = events.get(timeout=0.5)
            except queue.Empty:
                if not proc.is_alive() or self._stopping.is_set():
                    return
                continue
            except (EOFError, OSError):
                return
            match message:
                case Ready():
                    self._ready.set()
                case Tally(counts):
                    self.counts = counts
                case ForJob(job_id, event):
                    self._deliver(job_id, event)

    def _deliver(self, job_id: int, event: JobEvent) -> None:
        with self._lock:
            ticket = self._pending.get(job_id)
            if isinstance(event, (*ENDS, JobGone)):
                self._unconfirmed.discard(job_id)
            started = event == Stage("encoding") and ticket is not None and not ticket.started
            if started:
                cast(_Ticket, ticket).started = True  # started: a ticket
        if ticket is not None:
            ticket.deliver(event)
        if started:
            self._nudge_waiting()  # one fewer ahead of every job still in line

    def _fail_all(self, error: Exception) -> None:
        with self._lock:
            pending = list(self._pending.values())
        for ticket in pending:
            ticket.deliver(Crashed(error))

    def _nudge_waiting(self) -> None:
        with self._lock:
            waiting = [t for t in self._pending.values() if not t.started]
        for ticket in waiting:
            ticket.deliver(Nudge())

    def _place_in_line(self, job_id: int) -> int:
        """1 for the next job to start once a slot frees, 2 for the one after it, ...; 0 for a job that has
        started or takes a free slot now (the worker runs ``--video-concurrency`` jobs at once, in order)."""
        with self._lock:
            running = sum(t.started for t in self._pending.values())
            ahead = 0
            for jid, ticket in self._pending.items():
                if jid == job_id:
                    if ticket.started:
                        return 0
                    return max(0, ahead + 1 - (self.settings.video_concurrency - running))
                if not ticket.started:
                    ahead += 1
        return 0

    def cancel(self, job_id: int) -> None:
        """Tell the worker to drop or abort a job (a closed answer does); one that does not confirm in time is stuck."""
        with self._lock:
            jobs, proc = self._jobs, self._proc
            self._unconfirmed.add(job_id)
        try:
            cast("mp.Queue", jobs).put(Cancel(job_id))  # None raises AttributeError, caught below
        except (ValueError, OSError, AttributeError):  # its queue is closed: the worker is gone anyway
            return
        timer = threading.Timer(self.stuck_after, self._restart_if_stuck, args=(job_id, proc))
        timer.daemon = True
        timer.start()

    def awaiting_confirmation(self, job_id: int) -> bool:
        """Whether the worker has yet to confirm a :meth:`cancel` of the job (one left unconfirmed counts as stuck)."""
        with self._lock:
            return job_id in self._unconfirmed

    def _restart_if_stuck(self, job_id: int, proc) -> None:
        with self._lock:
            stuck = job_id in self._unconfirmed and proc is self._proc
            self._unconfirmed.discard(job_id)
        if stuck and proc is not None and proc.is_alive():
            print(f"the video worker did not confirm the cancel of job {job_id} within {self.stuck_after:.0f} s: "
                  "restarting it", flush=True)
            proc.kill()  # the monitor sees it die, fails the other jobs with a sentence and restarts it

    # --- public -------------------------------------------------------------------------------------------
    async def answer(self, frames: np.ndarray, sample_fps: float, question: str,
                     params: GenerationParams | None = None, *, timing: tuple[list[int], float, int] | None = None,
                     history: tuple[tuple[str, str], ...] = (), json_schema: dict | None = None
                     ) -> AsyncGenerator[VideoEvent, None]:
        """Run one job; yields its place in line, stages, text as it comes, and finally the answer.
        ``timing``, ``history`` and ``json_schema``: see :class:`VideoJob`.

        Closing this generator before the answer (Stop, a closed tab) cancels the job in the worker: dropped
        from the line, or aborted in vLLM. Raises :class:`EngineError` when the worker is unavailable, dies,
        fails the job, or the job runs longer than ``--video-timeout`` (counted from its start, not from the
        time it spent in line; only that job is stopped).
        """
        st = self.status.get()
        if st.state != "ready":
            raise EngineError("worker_unavailable", detail=st.describe())
        job = VideoJob(next(self._ids), np.ascontiguousarray(frames, dtype=np.uint8), sample_fps, question,
                       params or GenerationParams(max_tokens=self.settings.video_max_tokens), timing,
                       tuple(history), json_schema)
        ticket = _Ticket(asyncio.get_running_loop(), asyncio.Queue())
        with self._lock:  # sent in the order of _pending, so that places in line are the worker's own
            self._pending[job.job_id] = ticket
            jobs, proc = self._jobs, self._proc
            cast("mp.Queue", jobs).put(Submit(job))  # ready: spawn set it
        ended, deadline, last_place = False, None, None
        try:
            while True:
                place = self._place_in_line(job.job_id)
                if place and place != last_place:
                    last_place = place
                    yield Queued(place)
                if deadline is not None and time.monotonic() > deadline:
                    raise EngineError("worker_timeout", seconds=self.settings.video_timeout)
                wait = 1.0 if deadline is None else min(1.0, max(0.01, deadline - time.monotonic()))
                item = await next_event(ticket.events, wait)
                if item is None:
                    if proc is None or not proc.is_alive():  # its worker died, even before the monitor saw it
                        ended = True
                        raise EngineError("worker_crashed", detail=f"exit code {proc.exitcode if proc else None}")
                    continue
                match item:
                    case Stage(name):
                        if name == "encoding":
                            deadline = time.monotonic() + self.settings.video_timeout
                        yield item
                    case Delta() | Thinking() | Progress():
                        yield item
                    case Done():
                        ended = True
                        yield item
                        return
                    case JobFailed(message):
                        ended = True
                        if overflows_context(message):  # vLLM's input check: a conversation too long
                            raise EngineError("too_long", max_model_len=self.settings.max_model_len)
                        raise EngineError("worker_failed", detail=message)
                    case JobCancelled():  # not by this request (it would not be listening): say so
                        ended = True
                        raise EngineError("worker_failed", detail="the job was cancelled")
                    case Crashed(error):
                        ended = True
                        raise error
                    case Nudge() | JobGone():
                        pass  # a job ahead started: the place in line is looked at again above
        finally:
            with self._lock:
                self._pending.pop(job.job_id, None)
            if not ended:  # stopped, timed out, or its visitor left: the worker drops or aborts it
                self.cancel(job.job_id)
            self._nudge_waiting()
