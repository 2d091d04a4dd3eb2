"""The video worker: a spawned process holding an offline ``vllm.LLM``, as the seed runs Qwen3-VL on video.

Inside the worker (``_worker_main``) the seed's recipe runs: ``VLLM_WORKER_MULTIPROC_METHOD=spawn``,
``LLM(model, trust_remote_code=True, gpu_memory_utilization=..., enforce_eager=False, tensor_parallel_size=...,
seed=0)``, ``processor.apply_chat_template`` plus ``qwen_vl_utils.process_vision_info(...,
return_video_kwargs=True, return_video_metadata=True)`` as ``prompt``, ``multi_modal_data`` and
``mm_processor_kwargs``, and ``SamplingParams(temperature=0, max_tokens=..., top_k=-1)``.

``LLM.generate`` runs one batch to its end, so a worker built on it answers one visitor at a time and cannot
stop a job. Instead the worker drives the same ``LLM``'s engine (``llm.llm_engine``) as an engine loop
(:class:`EngineLoop`): jobs are added as they come, up to ``--video-concurrency`` of them are stepped together
(vLLM batches them), each streams its text, and a cancelled one is aborted in the engine.

The app side (:class:`VideoWorker`) sends jobs and cancels through one queue and reads events from another in
one thread, which hands each event to the event loop of the request it belongs to: a waiting visitor holds no
thread. The worker runs in its own process group (vLLM starts EngineCore processes under it), so stopping or
restarting it leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import multiprocessing as mp
import os
import queue
import re
import threading
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np

from ..errors import EngineError
from ..settings import Settings
from .client import overflows_context
from .placement import Placement
from .processes import stop_group
from .reasoning import ThinkSplitter, split_reasoning
from .supervisor import Supervisor
from .video_events import Delta, Done, Progress, Queued, Stage, Thinking, VideoAnswer, VideoEvent
from .vllm_flags import STRUCTURED_OUTPUTS


@dataclass(frozen=True)
class VideoJob:
    job_id: int
    frames: np.ndarray  # (n, height, width, 3) uint8 RGB, already sized by plan_frames
    sample_fps: float
    question: str
    max_tokens: int
    sampling: dict = field(default_factory=dict)  # validated overrides of the seed's SamplingParams
    # (frame indices, fps, total frames) of the source video (FramePlan.timing): the times the model is told.
    # None: qwen_vl_utils' own timing for a list of frames (frame i at i / sample_fps s).
    timing: tuple[list[int], float, int] | None = None
    history: tuple[tuple[str, str], ...] = ()  # earlier (question, answer) turns about the same frames
    json_schema: dict | None = None  # an answer held to this JSON schema (vLLM's structured outputs)


def build_messages(frames: list, sample_fps: float, question: str, width: int, height: int,
                   history: tuple[tuple[str, str], ...] = ()) -> list[dict]:
    """The seed's message shape, the video given as its already-sampled frames; earlier (question, answer)
    turns about the same frames come first, the video with the first question."""
    questions = [q for q, _ in history] + [question]
    messages = [{"role": "user", "content": [
        {"type": "video", "video": frames, "sample_fps": sample_fps, "raw_fps": sample_fps,
         "resized_height": height, "resized_width": width},
        {"type": "text", "text": questions[0]},
    ]}]
    for (_, answer), q in zip(history, questions[1:]):
        messages += [{"role": "assistant", "content": answer},
                     {"role": "user", "content": [{"type": "text", "text": q}]}]
    return messages


PROMPT_TIME = re.compile(r"<\d+(?:\.\d+)? seconds>")


def with_timing(video_inputs: list, timing: tuple[list[int], float, int] | None) -> list:
    """qwen_vl_utils' metadata for a list of frames, with the source video's own frame indices and fps put in.

    For a list of frames it makes up ``frames_indices = range(n)`` at the given fps, so the times the model is
    told would start at 0 for a clip that starts at 12 s. The processor computes each pair's time from these
    (vLLM ``Qwen3VL..._get_video_second_idx``)."""
    if timing is None:
        return video_inputs
    indices, fps, total = timing
    out = []
    for video, meta in video_inputs:
        padded = list(indices) + [indices[-1]] * (len(video) - len(indices))  # its padding to whole pairs
        out.append((video, {**meta, "frames_indices": padded[:len(video)], "fps": float(fps),
                            "total_num_frames": max(int(total), len(video))}))
    return out


def accepted_kwargs(llm_kwargs: dict) -> dict:
    """``llm_kwargs`` less the settings the installed vLLM's ``EngineArgs`` lacks (an older vLLM than the pinned
    one), each said in the log; asked of vLLM itself, not of a version table."""
    import dataclasses

    from vllm.engine.arg_utils import EngineArgs

    known = {f.name for f in dataclasses.fields(EngineArgs)}
    for name in sorted(set(llm_kwargs) - known):
        print(f"this vLLM has no {name}: left out", flush=True)
    return {k: v for k, v in llm_kwargs.items() if k in known}


# --- inside the worker process --------------------------------------------------------------------------------
@dataclass
class _Run:
    job: VideoJob
    prepare_s: float
    started: float
    sent: int = 0  # characters of the engine's text already sent
    last_sent: float = 0.0
    splitter: ThinkSplitter | None = None  # a thinking model's: reasoning up to '</think>', the answer after


class EngineLoop:
    """Jobs in, events out, around one vLLM engine (``add_request`` / ``step`` / ``abort_request``).

    ``emit(kind, job_id, payload)`` sends an event. Per job: ("stage", "encoding") when it starts (its time
    limit counts from here), ("stage", "generating") once it is in the engine, then ("delta", text) or
    ("progress", tokens) at most once per ``interval`` (with ``thinking``, the text is split at '</think>': the
    reasoning before it as ("thinking", text), then the answer as "delta"), and one final ("done", answer),
    ("error", sentence) or ("cancelled", tokens made). ("counts", None, {...}) after every final event: how many
    jobs ended how, the witness tests use for aborts. A cancel of a job the loop no longer holds (it ended as the
    cancel was sent) is answered ("gone", job_id): every cancel is confirmed, so the app never takes a worker as
    stuck for it.
    """

    def __init__(self, engine, prepare: Callable, make_params: Callable, emit: Callable, capacity: int,
                 interval: float, prompt_times: Callable[[list[int]], tuple[str, ...]] | None = None,
                 thinking: bool = False):
        self.engine, self.prepare, self.make_params, self.emit = engine, prepare, make_params, emit
        self.prompt_times = prompt_times
        # A thinking model's template opens <think> in the prompt, so its text starts inside the reasoning; the
        # offline engine has no reasoning parser to split it (the server's --reasoning-parser does that there).
        self.thinking = thinking
        self.capacity = max(1, capacity)
        self.interval = interval
        self.waiting: collections.deque[VideoJob] = collections.deque()
        self.running: dict[str, _Run] = {}  # vLLM request id -> the job
        self.counts: collections.Counter = collections.Counter()

    def run(self, jobs, alive: Callable[[], bool]) -> None:
        """Serve until told to stop (None) or until ``alive()`` says the app has gone."""
        while True:
            idle = not (self.running or self.waiting)
            for msg in _take(jobs, block=idle):
                if msg is None:
                    self._abort_all()
                    return
                kind, payload = msg
                if kind == "job":
                    self.waiting.append(payload)
                elif kind == "cancel":
                    self.cancel(payload)
            if idle and not alive():
                return
            self._admit()
            if self.running:
                self._step()

    def cancel(self, job_id: int) -> None:
        for job in self.waiting:
            if job.job_id == job_id:
                self.waiting.remove(job)
                self._final("cancelled", job_id, 0, "cancelled_waiting")
                return
        rid = str(job_id)
        if rid in self.running:
            self.engine.abort_request([rid])  # vLLM frees its KV cache at once; no output comes for it
            del self.running[rid]
            self._final("cancelled", job_id, None, "aborted")
            return
        print(f"job {job_id}: cancel came after its end", flush=True)
        self.emit("gone", job_id, None)

    def _admit(self) -> None:
        while self.waiting and len(self.running) < self.capacity:
            job = self.waiting.popleft()
            self.emit("stage", job.job_id, "encoding")
            t0 = time.perf_counter()
            try:
                # Preparing runs between two engine steps: the running jobs wait for it (a second or so).
                inputs = self.prepare(job)
                self.engine.add_request(str(job.job_id), inputs, self.make_params(job))
            except Exception as exc:  # this job only: a bad clip or a prompt too long for the context
                print(f"job {job.job_id} failed: {type(exc).__name__}: {exc}", flush=True)
                self._final("error", job.job_id, f"{type(exc).__name__}: {exc}"[:500], "failed")
                continue
            now = time.perf_counter()
            self.running[str(job.job_id)] = _Run(job, now - t0, now, last_sent=now,
                                                 splitter=ThinkSplitter() if self.thinking else None)
            self.emit("stage", job.job_id, "generating")

    def _step(self) -> None:
        # An exception here is the engine's, not one job's: it ends the worker, whose supervisor fails the
        # jobs it held with a sentence and starts it again.
        outputs = self.engine.step()
        now = time.perf_counter()
        for out in outputs:
            run = self.running.get(out.request_id)
            if run is None:
                continue
            result = out.outputs[0]  # cumulative: the answer so far
            if out.finished:
                del self.running[out.request_id]
                ids = list(out.prompt_token_ids or ())
                reasoning, text = split_reasoning(result.text) if run.splitter else ("", result.text)
                answer = VideoAnswer(text, result.finish_reason, len(ids), len(result.token_ids),
                                     run.prepare_s, now - run.started,
                                     self.prompt_times(ids) if self.prompt_times else (), reasoning)
                self._final("done", run.job.job_id, answer, f"finished_{result.finish_reason}")
            elif now - run.last_sent >= self.interval:
                run.last_sent = now
                piece, run.sent = result.text[run.sent:], len(result.text)
                reasoning, text = run.splitter.feed(piece) if run.splitter else ("", piece)
                if reasoning:
                    self.emit("thinking", run.job.job_id, reasoning)
                if text:
                    self.emit("delta", run.job.job_id, text)
                if not (reasoning or text):  # no text, or only the start of a '</think>' held back
                    self.emit("progress", run.job.job_id, len(result.token_ids))

    def _final(self, kind: str, job_id: int, payload, count: str) -> None:
        self.counts[count] += 1
        print(f"job {job_id}: {count}", flush=True)  # one line per job in the worker's log
        self.emit(kind, job_id, payload)
        self.emit("counts", None, dict(self.counts))

    def _abort_all(self) -> None:
        if self.running:
            self.engine.abort_request(list(self.running))
            self.running.clear()


def _take(jobs, block: bool) -> list:
    """Every message waiting in ``jobs``; with ``block``, wait up to a second for the first."""
    out = []
    try:
        out.append(jobs.get(timeout=1.0) if block else jobs.get_nowait())
        while True:
            out.append(jobs.get_nowait())
    except queue.Empty:
        pass
    return out


def _worker_main(model_path: str, llm_kwargs: dict, env: dict, log_path: str, jobs, events, capacity: int,
                 interval: float, thinking: bool = False) -> None:
    """Entry point of the spawned worker process."""
    app_pid = os.getppid()
    os.setsid()  # own process group: the app stops the worker and vLLM's children with one signal
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.environ.update(env)
    os.environ["VLLM_WORKER_MULTIPROC_METHOD"] = "spawn"  # the seed's setting, before vLLM is imported
    print(f"===== {time.strftime('%Y-%m-%d %H:%M:%S')} video worker pid {os.getpid()} LLM({llm_kwargs}) "
          f"running {capacity} job(s) at once", flush=True)

    from PIL import Image
    from qwen_vl_utils import process_vision_info
    from transformers import AutoProcessor
    from vllm import LLM, SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    processor = AutoProcessor.from_pretrained(model_path, trust_remote_code=llm_kwargs["trust_remote_code"])
    llm_kwargs = accepted_kwargs(llm_kwargs)
    llm = LLM(model=model_path, seed=0, **llm_kwargs)

    def prepare(job: VideoJob) -> dict:
        frames = [Image.fromarray(f) for f in job.frames]
        h, w = job.frames.shape[1:3]
        messages = build_messages(frames, job.sample_fps, job.question, w, h, job.history)
        prompt = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        _, video_inputs, video_kwargs = process_vision_info(
            messages, image_patch_size=processor.image_processor.patch_size,
            return_video_kwargs=True, return_video_metadata=True)
        video_inputs = with_timing(video_inputs, job.timing)
        return {"prompt": prompt, "multi_modal_data": {"video": video_inputs}, "mm_processor_kwargs": video_kwargs}

    def make_params(job: VideoJob):
        extra = {}
        if job.json_schema is not None:
            extra["structured_outputs"] = StructuredOutputsParams(json=job.json_schema)
        return SamplingParams(**{"temperature": 0, "top_k": -1, **job.sampling}, max_tokens=job.max_tokens, **extra)

    def prompt_times(ids: list[int]) -> tuple[str, ...]:
        return tuple(PROMPT_TIME.findall(processor.tokenizer.decode(ids)))

    events.put(("ready", None, None))
    loop = EngineLoop(llm.llm_engine, prepare, make_params, lambda *ev: events.put(ev), capacity, interval,
                      prompt_times, thinking)
    loop.run(jobs, alive=lambda: os.getppid() == app_pid)  # an app killed outright leaves no worker behind


# --- in the app -----------------------------------------------------------------------------------------------
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


FINAL = ("done", "error", "cancelled")


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
    def _spawn(self) -> None:
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
            if not cast("mp.context.SpawnProcess", self._proc).is_alive():  # _spawn set it
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
            try:  # (a started process has a pid: _spawn started it)
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
                kind, job_id, payload = events.get(timeout=0.5)
            except queue.Empty:
                if not proc.is_alive() or self._stopping.is_set():
                    return
                continue
            except (EOFError, OSError):
                return
            if kind == "ready":
                self._ready.set()
                continue
            if kind == "counts":
                self.counts = payload
                continue
            with self._lock:
                ticket = self._pending.get(job_id)
                if kind in FINAL or kind == "gone":
                    self._unconfirmed.discard(job_id)
                started = kind == "stage" and payload == "encoding" and ticket is not None and not ticket.started
                if started:
                    cast(_Ticket, ticket).started = True  # started: a ticket
            if ticket is not None:
                ticket.deliver((kind, payload))
            if started:
                self._nudge_waiting()  # one fewer ahead of every job still in line

    def _fail_all(self, error: Exception) -> None:
        with self._lock:
            pending = list(self._pending.values())
        for ticket in pending:
            ticket.deliver(("fail", error))

    def _nudge_waiting(self) -> None:
        with self._lock:
            waiting = [t for t in self._pending.values() if not t.started]
        for ticket in waiting:
            ticket.deliver(("nudge", None))

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

    def _cancel(self, job_id: int) -> None:
        """Tell the worker to drop or abort a job; a worker that does not confirm in time is taken as stuck."""
        with self._lock:
            jobs, proc = self._jobs, self._proc
            self._unconfirmed.add(job_id)
        try:
            cast("mp.Queue", jobs).put(("cancel", job_id))  # None raises AttributeError, caught below
        except (ValueError, OSError, AttributeError):  # its queue is closed: the worker is gone anyway
            return
        timer = threading.Timer(self.stuck_after, self._restart_if_stuck, args=(job_id, proc))
        timer.daemon = True
        timer.start()

    def _restart_if_stuck(self, job_id: int, proc) -> None:
        with self._lock:
            stuck = job_id in self._unconfirmed and proc is self._proc
            self._unconfirmed.discard(job_id)
        if stuck and proc is not None and proc.is_alive():
            print(f"the video worker did not confirm the cancel of job {job_id} within {self.stuck_after:.0f} s: "
                  "restarting it", flush=True)
            proc.kill()  # the monitor sees it die, fails the other jobs with a sentence and restarts it

    # --- public -------------------------------------------------------------------------------------------
    async def answer(self, frames: np.ndarray, sample_fps: float, question: str, max_tokens: int | None = None,
                     sampling: dict | None = None, *, timing: tuple[list[int], float, int] | None = None,
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
                       max_tokens or self.settings.video_max_tokens, dict(sampling or {}), timing,
                       tuple(history), json_schema)
        ticket = _Ticket(asyncio.get_running_loop(), asyncio.Queue())
        with self._lock:  # sent in the order of _pending, so that places in line are the worker's own
            self._pending[job.job_id] = ticket
            jobs, proc = self._jobs, self._proc
            cast("mp.Queue", jobs).put(("job", job))  # ready: _spawn set it
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
                match item:  # the worker process's (kind, payload) pairs, as the page's events
                    case ("stage", name):
                        if name == "encoding":
                            deadline = time.monotonic() + self.settings.video_timeout
                        yield Stage(name)
                    case ("delta", text):
                        yield Delta(text)
                    case ("thinking", text):
                        yield Thinking(text)
                    case ("progress", tokens):
                        yield Progress(tokens)
                    case ("done", answer):
                        ended = True
                        yield Done(answer)
                        return
                    case ("error", message):
                        ended = True
                        if overflows_context(str(message)):  # vLLM's input check: a conversation too long
                            raise EngineError("too_long", max_model_len=self.settings.max_model_len)
                        raise EngineError("worker_failed", detail=message)
                    case ("cancelled", _):  # not by this request (it would not be listening): say so
                        ended = True
                        raise EngineError("worker_failed", detail="the job was cancelled")
                    case ("fail", error):
                        ended = True
                        raise error
        finally:
            with self._lock:
                self._pending.pop(job.job_id, None)
            if not ended:  # stopped, timed out, or its visitor left: the worker drops or aborts it
                self._cancel(job.job_id)
            self._nudge_waiting()
