"""The Python surface the page uses: start/stop both engines, stream a chat answer, answer a video, report status.

Nothing here imports Gradio (STYLE.md: the back end knows nothing of the UI); the page consumes these async
generators on its event loop. Blocking work (reading and sampling a video, encoding images) runs in pools of
threads sized from the settings, which a cancel abandons; waiting on the video worker holds no thread at all.
``Engines.create(settings)`` resolves the model, detects GPUs and makes the device plan.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing, asynccontextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import cast

from ..errors import EngineError
from ..inputs import video_frames
from ..inputs.video_clip import VideoClip
from ..inputs.video_frames import FramePlan
from ..settings import Settings
from . import video_via_server
from .admission import server_waiting
from .client import AnswerStats, Progress, Thinking, make_client, stream_chat
from .handles import ServerHandle, WorkerHandle
from .model import resolve_model
from .model_card import ModelCard, read_card
from .pacing import Pacer, Pacers
from .params import GenerationParams, VideoSampling
from .placement import (
    QWEN3_VL_4B,
    DevicePlan,
    ModelFootprint,
    PlanInputs,
    detect_gpus,
    fit_to_free,
    plan_devices,
)
from .reasoning import choose_parser
from .server import AttachedServer, ServerSupervisor, accepts_stream_interval
from .status import EngineStatus
from .video_events import Delta, Done, Frames, Stage, VideoAnswer, VideoEvent
from .video_worker import VideoWorker
from .vllm_flags import missing, server_flags


def make_plan(settings: Settings, footprint: ModelFootprint | None,
              accepted_flags: frozenset[str] | None = None) -> DevicePlan:
    """The device plan for this machine, its fractions held to the memory free on each card now. ``footprint``:
    the model's (its card's), None for an attached server's model (the 4B's figures stand in)."""
    gpus = detect_gpus()
    footprint = footprint or QWEN3_VL_4B
    explicit_kv = accepted_flags is None or "--kv-cache-memory-bytes" in accepted_flags
    plan = plan_devices(gpus, footprint, PlanInputs.from_settings(settings, explicit_kv=explicit_kv))
    return fit_to_free(plan, gpus, footprint, settings.max_model_len)


def accepted_server_flags(settings: Settings) -> tuple[frozenset[str] | None, list[str]]:
    """What the installed vLLM's server accepts, and a line for each optional flag it lacks. Asked only where a
    server is launched on GPUs: the CPU build is the pinned version, and asking costs seconds of start-up."""
    if settings.api_base or not detect_gpus():
        return None, []
    accepted = server_flags(settings.cache_dir)
    return accepted, missing(accepted)


class Engines:
    """The server (co-launched or attached) and the video worker, behind one object."""

    def __init__(self, settings: Settings, model_path: Path | None, plan: DevicePlan, log_dir: str | os.PathLike,
                 accepted_flags: frozenset[str] | None = None, reasoning_parser: str | None = None, *,
                 server: ServerHandle | None = None, worker: WorkerHandle | None = None,
                 card: ModelCard | None = None):
        """``server`` and ``worker``: engines started elsewhere, as one app process of several has them
        (``demo/fleet/mirror.py``); by default they are made from the plan here. ``card``: what the model's own
        files say of it (None: an attached server's model, not read)."""
        self.settings = settings
        self.model_path = model_path
        self.card = card
        self.plan = plan
        self.log_dir = Path(log_dir)
        # A thinking model's parser (None: not one): the server streams its reasoning apart, the worker splits its
        # text at '</think>', and the page can say "thinking model". Decided once, in create().
        self.reasoning_parser = reasoning_parser
        self.server: ServerHandle
        self.worker: WorkerHandle | None
        if server is not None:
            self.server = server
        elif plan.server is not None:
            self.server = ServerSupervisor(settings, str(model_path), plan.server, log_dir, accepted_flags,
                                           reasoning_parser)
        else:
            self.server = AttachedServer(settings)
        self.worker = worker if worker is not None or server is not None else (
            VideoWorker(settings, str(model_path), plan.worker, log_dir, reasoning_parser) if plan.worker else None)
        # One async client per event loop: an httpx connection belongs to the loop that opened it.
        self._clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._starter: threading.Thread | None = None
        self._life = threading.Lock()  # orders the starter's starts against stop()
        self._stopped = False
        self._open_streams = 0  # HTTP streams to the server now open (answers being read)
        self._open_lock = threading.Lock()  # streams are read on several event loops (one per thread)
        # Blocking work runs in pools of its own, sized from the settings, never in the event loop's default
        # pool (cpu count + 4 threads): clips being read (seconds each, up to --video-read-timeout) must not
        # hold the threads that turn a chat's images into data URLs, nor the other way round.
        # How often answers update the page, from the app's own load (issue 30); and whether the server takes vLLM's
        # per-request tokens per chunk (asked once, when the first answer is streamed).
        self.pacers = Pacers(settings.stream_interval, settings.pace_budget)
        self._takes_chunking: bool | None = None
        self._video_pool = ThreadPoolExecutor(2 * settings.video_concurrency, thread_name_prefix="video-prep")
        self._image_pool = ThreadPoolExecutor(settings.concurrency_limit, thread_name_prefix="image-prep")

    @classmethod
    def create(cls, settings: Settings, log_dir: str | os.PathLike | None = None) -> Engines:
        """Resolve the model (download or build it), plan the devices, and construct (not start) the engines."""
        model_path = resolve_model(settings) if not settings.api_base or settings.video_via == "worker" else None
        card = read_card(model_path, settings.model) if model_path is not None else None
        log_dir = log_dir or Path(os.path.expanduser(settings.cache_dir)) / "logs"
        accepted, lacking = accepted_server_flags(settings)
        plan = make_plan(settings, card.footprint if card else None, accepted)
        shared = plan.server is not None and plan.worker is not None and set(plan.server.gpus) & set(plan.worker.gpus)
        lacking = [n for n in lacking if shared or "--kv-cache-memory-bytes" not in n]  # it matters on a shared card
        # An attached server's parser is its own business; the setting then only tells the worker (if any).
        parser = choose_parser(settings.reasoning_parser, settings.model, model_path)
        thinking = (f"a thinking model: its reasoning streams apart from its answer (vLLM reasoning parser "
                    f"{parser})",) if parser else ()
        plan = replace(plan, notes=plan.notes + tuple(lacking) + thinking)
        return cls(settings, model_path, plan, log_dir, accepted, parser, card=card)

    def for_a_schema(self, params: GenerationParams) -> GenerationParams:
        """Settings of an answer held to a JSON schema (Find, Find moments): a model that can answer without
        thinking (Qwen3.5's switch) does, since the schema fixes the answer's shape and its reasoning would only
        cost time and tokens; a model that always thinks keeps thinking first."""
        if self.card is not None and self.card.thinking == "switch":
            return replace(params, thinking=False)
        return params

    def switchable(self, params: GenerationParams) -> GenerationParams:
        """``params`` with the thinking choice kept only for a model whose template has the switch (or an attached
        server's, which the app cannot read): a Thinking edition thinks whatever a request says, and vLLM's qwen3
        parser, told ``enable_thinking: false``, would then put its reasoning into the answer."""
        if params.thinking is not None and self.card is not None and self.card.thinking != "switch":
            return replace(params, thinking=None)
        return params

    def thinks(self, params: GenerationParams) -> bool:
        """Whether an answer with these settings starts with the model's reasoning."""
        return bool(self.reasoning_parser) and params.thinking is not False

    # --- life cycle ---------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start both engines; returns at once. In the plan's sequential order (a shared card, or a machine
        without a GPU) the worker starts once the server is ready."""
        with self._life:
            self._stopped = False
        self.server.start()
        if self.worker is None:
            return
        if not self.plan.sequential_start:
            self.worker.start()
            return

        self.worker.status.set("starting", "waits for the server to be ready", fresh=True)

        def after_the_server():
            try:
                self.server.wait_ready()
            except Exception:  # the server's status says why; the worker would not fit beside a failed start
                with self._life:
                    if not self._stopped:
                        self.worker.status.set("error", "not started: the server did not start")
                return
            with self._life:  # stop() either comes first (no worker) or stops the worker started here
                if not self._stopped:
                    self.worker.start()

        self._starter = threading.Thread(target=after_the_server, name="engine-starter", daemon=True)
        self._starter.start()

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until every engine is ready; raises :class:`EngineStartError` with the reason otherwise."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self.server.wait_ready(timeout)
        if self._starter is not None:
            self._starter.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        if self.worker is not None:
            self.worker.wait_ready(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def stop(self) -> None:
        """Stop both engines and every process they started (both at once: each may take its grace period).
        Final: once it returns no engine process exists, and the starter of a sequential start starts none."""
        with self._life:
            self._stopped = True
        stopper = threading.Thread(target=self.worker.stop, daemon=True) if self.worker is not None else None
        if stopper is not None:
            stopper.start()
        self.server.stop()
        if stopper is not None:
            stopper.join()
        if self._starter is not None:
            self._starter.join()  # the server's stop has woken it; it starts nothing now
        for pool in (self._video_pool, self._image_pool):
            pool.shutdown(wait=False, cancel_futures=True)

    def statuses(self) -> list[EngineStatus]:
        out = [self.server.status.get()]
        if self.worker is not None:
            out.append(self.worker.status.get())
        return out

    # --- requests -----------------------------------------------------------------------------------------
    async def run_blocking(self, fn, *args, cancellable: bool = False):
        """``fn(*args)`` for a chat or image request (reading, checking, encoding images) in the image pool.
        A cancel abandons the wait at once. ``cancellable``: ``fn`` also gets ``cancelled=`` a ``threading.Event``
        that the cancel sets, so that work which looks at it stops there rather than hold a thread of the shared
        pool to its end for a request that is gone (issue 26)."""
        cancelled = threading.Event()
        call = partial(fn, *args, cancelled=cancelled) if cancellable else partial(fn, *args)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._image_pool, call)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def _off_loop(self, fn, *args):
        """The same for video work (probing, decoding, sampling, encoding frames), in the video pool."""
        return await asyncio.get_running_loop().run_in_executor(self._video_pool, partial(fn, *args))

    @property
    def model_name(self) -> str:
        """The name the server serves the model under (what requests and conversation files name)."""
        return self.server.endpoint.model

    def server_waiting(self) -> int | None:
        """Requests waiting in vLLM's own queue now; None while the server is not ready or does not say (blocking:
        an HTTP request to its ``/metrics``)."""
        if self.server.status.get().state != "ready":
            return None
        return server_waiting(self.server.endpoint)

    @property
    def max_model_len(self) -> int:
        """The context of the server in use: an attached server's own once it is known, else the setting."""
        return self.server.max_model_len or self.settings.max_model_len

    def _require_server(self) -> None:
        st = self.server.status.get()
        if st.state == "ready":
            return
        if st.state == "restarting":
            raise EngineError("server_restarting")
        if st.state == "starting":
            raise EngineError("server_starting")
        if st.state == "unresponsive":
            raise EngineError("server_unresponsive", detail=st.detail)
        raise EngineError("server_unavailable", detail=st.detail.splitlines()[0] if st.detail else st.state)

    @property
    def client(self):
        """The async OpenAI client of the running event loop."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = make_client(self.server.endpoint.base_url, self.server.endpoint.api_key,
                                                       self.settings.request_timeout)
        return client

    async def stream_chat(self, messages: list[dict], params: GenerationParams | None = None,
                          json_schema: dict | None = None
                          ) -> AsyncGenerator[str | Thinking | Progress | AnswerStats, None]:
        """Stream an answer to OpenAI-format ``messages`` (text and ``image_url`` parts): text pieces, coalesced to
        one per ``--stream-interval`` (a :class:`Progress` for an interval of tokens without text; a thinking
        model's reasoning as :class:`Thinking`, before its text), then the stats.
        ``json_schema`` holds the answer to that schema. Cancelling the consumer aborts the request in vLLM."""
        self._require_server()
        params = self.switchable((params or GenerationParams()).clamped(self.max_model_len))
        # Every layer closes the one below it (aclosing): Gradio ends a cancelled or abandoned run by closing the
        # handler's generator where it waits at a yield, and an ``async for`` alone would leave this stream open
        # until garbage collection (seen: vLLM finished cancelled answers). The same in every nested stream.
        pacer = self.pacers.here()
        chunk_tokens = await self._chunk_tokens(pacer)
        async with self._counted(), aclosing(stream_chat(self.client, self.server.endpoint.model, messages, params,
                                                         max_model_len=self.max_model_len,
                                                         request_timeout=self.settings.request_timeout,
                                                         json_schema=json_schema, interval=pacer.current,
                                                         chunk_tokens=chunk_tokens)) as items:
            async for item in items:
                yield item

    async def _chunk_tokens(self, pacer: Pacer) -> int:
        """Tokens per chunk to ask of the server for an answer starting now: 1 (every token) while the app keeps
        up, more while its updates are stretched; always 1 for a server that does not take the field."""
        if self._takes_chunking is None:
            self._takes_chunking = await asyncio.get_running_loop().run_in_executor(
                self._image_pool, accepts_stream_interval, self.server.endpoint)
        return pacer.chunk_tokens(self._open_streams) if self._takes_chunking else 1

    @property
    def open_streams(self) -> int:
        """Answers being read from the server now; a stream counts until it is closed (ended, stopped, failed)."""
        return self._open_streams

    @asynccontextmanager
    async def _counted(self):
        with self._open_lock:
            self._open_streams += 1
        try:
            yield
        finally:
            with self._open_lock:
                self._open_streams -= 1

    def video_budget(self, max_tokens: int | None = None) -> int:
        return video_frames.video_token_budget(self.max_model_len,
                                               max_tokens or self.settings.video_max_tokens)

    def prepare_video(self, path: str, sampling: VideoSampling, max_tokens: int | None = None
                      ) -> tuple[list, FramePlan]:
        """Read the clip and keep the frames the model will see, sized to fit the context.

        Probing and decoding run in a child process killed after ``--video-read-timeout`` seconds: a decoder
        that hangs cannot be stopped inside a thread.
        """
        return video_frames.read_clip(
            path, token_budget=self.video_budget(max_tokens), fps=sampling.fps, max_frames=sampling.max_frames,
            max_pixels=sampling.max_pixels, start=sampling.start, end=sampling.end,
            timeout=self.settings.video_read_timeout)

    async def sample_video(self, path: str, sampling: VideoSampling | None = None, max_tokens: int | None = None
                           ) -> tuple[list, VideoClip]:
        """Read and sample a clip off the event loop: (the frames, the :class:`VideoClip` a question is asked of)."""
        frames, plan = await self._off_loop(self.prepare_video, path, sampling or VideoSampling(), max_tokens)
        return frames, await self._off_loop(VideoClip.from_frames, frames, plan)

    async def answer_video(self, source: str | VideoClip, question: str, sampling: VideoSampling | None = None,
                           params: GenerationParams | None = None, *,
                           history: Sequence[tuple[str, str]] = (), json_schema: dict | None = None,
                           via_server: bool = False) -> AsyncGenerator[VideoEvent, None]:
        """Answer a question about a video in the worker, yielding its progress.

        ``source`` is a file, read and sampled first (a :class:`Frames` event carries the frames and the kept
        :class:`VideoClip`), or the clip of an earlier turn, which is not read again. ``history`` holds the
        earlier (question, answer) turns about it; ``json_schema`` holds the answer to that schema (vLLM's
        structured outputs). Without a worker (the device plan's choice, or an attached server), or with
        ``via_server`` (the benchmark and tests compare both paths), the same frames go to the server, and the
        answer streams as :class:`Delta` events. A thinking model's reasoning comes first, as :class:`Thinking`
        events, and is kept apart in the answer's ``reasoning``. The events: ``video_events.VideoEvent``.
        """
        on_server = self.worker is None or via_server
        if on_server:
            self._require_server()
        else:
            st = cast(WorkerHandle, self.worker).status.get()  # not on_server: there is a worker
            if st.state != "ready":
                raise EngineError("worker_unavailable", detail=st.describe())
        params = self.switchable(
            (params or GenerationParams(max_tokens=self.settings.video_max_tokens)).clamped(self.max_model_len))
        clip = source if isinstance(source, VideoClip) else None
        if clip is None:
            yield Stage("reading")
            frames, clip = await self.sample_video(cast(str, source), sampling, params.max_tokens)  # not a clip: a file
            yield Frames(frames, clip.plan, clip)
        history = tuple((str(q), str(a)) for q, a in history)
        if on_server:
            async with aclosing(self._answer_video_on_server(clip, question, history, params,
                                                             json_schema)) as events:
                async for ev in events:
                    yield ev
            return
        array = await self._off_loop(clip.array)
        worker = cast(WorkerHandle, self.worker)  # not on_server: there is a worker
        async with aclosing(worker.answer(array, clip.plan.sample_fps, question, params,
                                          timing=clip.plan.timing, history=history,
                                          json_schema=json_schema)) as worker_events:
            async for ev in worker_events:
                yield ev

    async def _answer_video_on_server(self, clip: VideoClip, question: str, history: tuple[tuple[str, str], ...],
                                      params: GenerationParams, json_schema: dict | None
                                      ) -> AsyncGenerator[VideoEvent, None]:
        yield Stage("encoding")
        started = time.perf_counter()
        messages, media_io_kwargs = await self._off_loop(video_via_server.video_messages, clip, question, history)
        prepare_s = time.perf_counter() - started
        yield Stage("generating")
        text, reasoning, stats = "", "", None
        pacer = self.pacers.here()
        chunk_tokens = await self._chunk_tokens(pacer)
        async with self._counted(), aclosing(stream_chat(self.client, self.server.endpoint.model, messages, params,
                                                         max_model_len=self.max_model_len,
                                                         request_timeout=self.settings.request_timeout,
                                                         media_io_kwargs=media_io_kwargs, json_schema=json_schema,
                                                         interval=pacer.current, chunk_tokens=chunk_tokens)) as items:
            async for item in items:
                if isinstance(item, str):
                    text += item
                    yield Delta(item)
                elif isinstance(item, Thinking):
                    reasoning += item.text
                    yield item
                elif isinstance(item, Progress):
                    yield item
                else:
                    stats = item
        stats = cast(AnswerStats, stats)  # stream_chat ends with its stats (or raises)
        yield Done(VideoAnswer(text, stats.finish_reason, stats.prompt_tokens,
                                                    stats.completion_tokens, prepare_s, stats.total_s,
                                                    reasoning=reasoning, cached_tokens=stats.cached_tokens))

