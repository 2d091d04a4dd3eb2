"""The video worker: a spawned process holding an offline ``vllm.LLM``, as the seed runs Qwen3-VL on video.

Inside the worker (``_worker_main``) the seed's recipe runs verbatim: ``VLLM_WORKER_MULTIPROC_METHOD=spawn``,
``LLM(model, trust_remote_code=True, gpu_memory_utilization=..., enforce_eager=False, tensor_parallel_size=...,
seed=0)``, ``processor.apply_chat_template`` plus ``qwen_vl_utils.process_vision_info(...,
return_video_kwargs=True, return_video_metadata=True)`` passed as ``prompt``, ``multi_modal_data`` and
``mm_processor_kwargs``, and ``SamplingParams(temperature=0, max_tokens=..., top_k=-1)``.

The app side (:class:`VideoWorker`) sends jobs and reads events through two queues. The worker runs in its own
process group (vLLM starts EngineCore processes under it), so stopping or restarting it leaves nothing
behind. A job has a time limit; a worker that dies fails its jobs with a sentence and is restarted.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from .device_plan import Placement
from .messages import EngineError
from .processes import stop_group
from .settings import Settings
from .supervisor import Supervisor


@dataclass(frozen=True)
class VideoJob:
    job_id: int
    frames: np.ndarray  # (n, height, width, 3) uint8 RGB, already sized by plan_frames
    sample_fps: float
    question: str
    max_tokens: int
    sampling: dict = field(default_factory=dict)  # validated overrides of the seed's SamplingParams


@dataclass(frozen=True)
class VideoAnswer:
    text: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    prepare_s: float  # process_vision_info + chat template
    generate_s: float


@dataclass(frozen=True)
class WorkerEvent:
    kind: str  # "queued" (detail = position), "stage" (detail = stage name), "done" (answer set)
    detail: object = None
    answer: VideoAnswer | None = None


def build_messages(frames: list, sample_fps: float, question: str, width: int, height: int) -> list[dict]:
    """The seed's message shape, the video given as its already-sampled frames."""
    return [{"role": "user", "content": [
        {"type": "video", "video": frames, "sample_fps": sample_fps, "raw_fps": sample_fps,
         "resized_height": height, "resized_width": width},
        {"type": "text", "text": question},
    ]}]


def accepted_kwargs(llm_kwargs: dict) -> dict:
    """``llm_kwargs`` less the settings the installed vLLM's ``EngineArgs`` lacks (an older vLLM than the pinned
    one), each said in the log; asked of vLLM itself, not of a version table."""
    import dataclasses

    from vllm.engine.arg_utils import EngineArgs

    known = {f.name for f in dataclasses.fields(EngineArgs)}
    for name in sorted(set(llm_kwargs) - known):
        print(f"this vLLM has no {name}: left out", flush=True)
    return {k: v for k, v in llm_kwargs.items() if k in known}


def _worker_main(model_path: str, llm_kwargs: dict, env: dict, log_path: str, jobs, events) -> None:
    """Entry point of the spawned worker process."""
    os.setsid()  # own process group: the app stops the worker and vLLM's children with one signal
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.environ.update(env)
    os.environ["VLLM_WORKER_MULTIPROC_METHOD"] = "spawn"  # the seed's setting, before vLLM is imported
    print(f"===== {time.strftime('%Y-%m-%d %H:%M:%S')} video worker pid {os.getpid()} LLM({llm_kwargs})",
          flush=True)

    from PIL import Image
    from qwen_vl_utils import process_vision_info
    from transformers import AutoProcessor
    from vllm import LLM, SamplingParams

    processor = AutoProcessor.from_pretrained(model_path, trust_remote_code=llm_kwargs["trust_remote_code"])
    llm_kwargs = accepted_kwargs(llm_kwargs)
    llm = LLM(model=model_path, seed=0, **llm_kwargs)
    events.put(("ready", None, None))

    while True:
        job = jobs.get()
        if job is None:
            return
        try:
            events.put(("stage", job.job_id, "encoding"))
            t0 = time.perf_counter()
            frames = [Image.fromarray(f) for f in job.frames]
            h, w = job.frames.shape[1:3]
            messages = build_messages(frames, job.sample_fps, job.question, w, h)
            prompt = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            _, video_inputs, video_kwargs = process_vision_info(
                messages, image_patch_size=processor.image_processor.patch_size,
                return_video_kwargs=True, return_video_metadata=True)
            inputs = {"prompt": prompt, "multi_modal_data": {"video": video_inputs},
                      "mm_processor_kwargs": video_kwargs}
            t1 = time.perf_counter()
            events.put(("stage", job.job_id, "generating"))
            params = SamplingParams(**{"temperature": 0, "top_k": -1, **job.sampling}, max_tokens=job.max_tokens)
            out = llm.generate([inputs], params, use_tqdm=False)[0]
            t2 = time.perf_counter()
            answer = VideoAnswer(out.outputs[0].text, out.outputs[0].finish_reason, len(out.prompt_token_ids),
                                 len(out.outputs[0].token_ids), t1 - t0, t2 - t1)
            events.put(("done", job.job_id, answer))
        except Exception as exc:  # one bad job must not end the worker; the app shows the sentence
            print(f"job {job.job_id} failed: {type(exc).__name__}: {exc}", flush=True)
            events.put(("error", job.job_id, f"{type(exc).__name__}: {exc}"[:500]))


class VideoWorker(Supervisor):
    """App-side handle of the worker: start, stop, restart, and :meth:`answer` a job."""

    name = "video worker"

    def __init__(self, settings: Settings, model_path: str, placement: Placement, log_dir: str | os.PathLike):
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
        }
        if placement.kv_cache_bytes is not None:  # a shared card: a KV cache of its own size, not what is free then
            self.llm_kwargs["kv_cache_memory_bytes"] = placement.kv_cache_bytes
        self._ctx = mp.get_context("spawn")
        self._proc = None
        self._jobs = None
        self._ready = threading.Event()
        self._pending: dict[int, queue.Queue] = {}  # job id -> its events, in submission order
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.is_alive() else None

    # --- Supervisor hooks ---------------------------------------------------------------------------------
    def _spawn(self) -> None:
        self._ready.clear()
        jobs, events = self._ctx.Queue(), self._ctx.Queue()
        proc = self._ctx.Process(
            target=_worker_main, name="qwen-video-worker", daemon=False,
            args=(self.model_path, self.llm_kwargs, self.placement.env(), str(self.log_path), jobs, events))
        proc.start()
        with self._lock:
            self._proc, self._jobs = proc, jobs
        threading.Thread(target=self._read_events, args=(proc, events), name="video-worker-events",
                         daemon=True).start()

    def _wait_up(self, deadline: float) -> str | None:
        while time.monotonic() < deadline and not self._stopping.is_set():
            if self._ready.wait(1.0):
                return None
            if not self._proc.is_alive():
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
            try:
                own_group = os.getpgid(proc.pid) == proc.pid
            except ProcessLookupError:
                own_group = False
            if not own_group:  # killed before its setsid(): never signal the app's own group
                proc.kill()
        # The worker's group outlives the worker when only the worker died (its EngineCore stays): end it.
        stop_group(proc.pid, reap=lambda: proc.join(0))
        proc.join(10)

    def _on_down(self, reason: str) -> None:
        self._fail_all(EngineError("worker_crashed", detail=reason))

    # --- events from the worker ---------------------------------------------------------------------------
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
            with self._lock:
                q = self._pending.get(job_id)
            if q is not None:
                q.put((kind, payload))

    def _fail_all(self, error: Exception) -> None:
        with self._lock:
            pending = list(self._pending.values())
        for q in pending:
            q.put(("fail", error))

    # --- public -------------------------------------------------------------------------------------------
    def answer(self, frames: np.ndarray, sample_fps: float, question: str, max_tokens: int | None = None,
               sampling: dict | None = None) -> Iterator[WorkerEvent]:
        """Run one job; yields queue positions and stages, and finally an event with the answer.

        Raises :class:`EngineError` when the worker is unavailable, dies, fails or takes too long.
        """
        st = self.status.get()
        if st.state != "ready":
            raise EngineError("worker_unavailable", detail=st.describe())
        job = VideoJob(next(self._ids), np.ascontiguousarray(frames, dtype=np.uint8), sample_fps, question,
                       max_tokens or self.settings.video_max_tokens, dict(sampling or {}))
        events: queue.Queue = queue.Queue()
        with self._lock:
            self._pending[job.job_id] = events
            jobs, proc = self._jobs, self._proc
        try:
            jobs.put(job)
            deadline = time.monotonic() + self.settings.video_timeout
            last_position = None
            while True:
                position = self._position(job.job_id)
                if position != last_position and position > 0:
                    last_position = position
                    yield WorkerEvent("queued", position)
                try:
                    kind, payload = events.get(timeout=0.5)
                except queue.Empty:
                    if proc is None or not proc.is_alive():  # its worker died, even before the monitor saw it
                        raise EngineError("worker_crashed", detail=f"exit code {proc.exitcode if proc else None}")
                    if time.monotonic() > deadline:
                        self._restart_stuck()
                        raise EngineError("worker_timeout", seconds=self.settings.video_timeout)
                    continue
                if kind == "stage":
                    yield WorkerEvent("stage", payload)
                elif kind == "done":
                    yield WorkerEvent("done", answer=payload)
                    return
                elif kind == "error":
                    raise EngineError("worker_failed", detail=payload)
                elif kind == "fail":
                    raise payload
        finally:
            with self._lock:
                self._pending.pop(job.job_id, None)

    def _position(self, job_id: int) -> int:
        """How many jobs are ahead of this one (0: it is being worked on)."""
        with self._lock:
            order = list(self._pending)
        return order.index(job_id) if job_id in order else 0

    def _restart_stuck(self) -> None:
        """A job over its time limit holds the engine: end the process; the monitor restarts it."""
        with self._lock:
            proc = self._proc
        if proc is not None and proc.is_alive():
            proc.kill()  # the monitor sees it die, fails the other jobs and restarts the worker
