"""The video worker's own process: an offline ``vllm.LLM``, as the seed runs Qwen3-VL on video.

Here the seed's recipe runs (``_worker_main``): ``VLLM_WORKER_MULTIPROC_METHOD=spawn``,
``LLM(model, trust_remote_code=True, gpu_memory_utilization=..., enforce_eager=False, tensor_parallel_size=...,
seed=0)``, ``processor.apply_chat_template`` plus ``qwen_vl_utils.process_vision_info(...,
return_video_kwargs=True, return_video_metadata=True)`` as ``prompt``, ``multi_modal_data`` and
``mm_processor_kwargs``, and ``SamplingParams`` (the seed's ``temperature=0, top_k=-1``; here the job's
:class:`GenerationParams`, the same settings as the server's path).

``LLM.generate`` runs one batch to its end, so a worker built on it answers one visitor at a time and cannot
stop a job. Instead the worker drives the same ``LLM``'s engine (``llm.llm_engine``) as an engine loop
(:class:`EngineLoop`): jobs are added as they come, up to ``--video-concurrency`` of them are stepped together
(vLLM batches them), each streams its text, and a cancelled one is aborted in the engine. What it takes and sends
is ``video_messages``; the app's side of it is ``video_worker.VideoWorker``.
"""

from __future__ import annotations

import collections
import os
import queue
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from .client import Progress, Thinking
from .reasoning import ThinkSplitter, split_reasoning
from .video_events import Delta, Done, Stage, VideoAnswer
from .video_messages import (
    Cancel,
    ForJob,
    JobCancelled,
    JobEvent,
    JobFailed,
    JobGone,
    Ready,
    Submit,
    Tally,
    VideoJob,
)


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

    ``emit(message)`` sends a message (``video_messages``). Per job, each a ``ForJob``: ``Stage("encoding")``
    when it starts (its time limit counts from here), ``Stage("generating")`` once it is in the engine, then
    ``Delta`` or ``Progress`` at most once per ``interval`` (with ``thinking``, the text is split at '</think>':
    the reasoning before it as ``Thinking``, then the answer as ``Delta``), and one last ``Done``, ``JobFailed``
    or ``JobCancelled``. A ``Tally`` after every last event: how many jobs ended how, the witness tests use for
    aborts. A cancel of a job the loop no longer holds (it ended as the cancel was sent) is answered ``JobGone``:
    every cancel is confirmed, so the app never takes a worker as stuck for it.
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

    def thinks(self, job: VideoJob) -> bool:
        """Whether this job's text starts inside the reasoning: a thinking model's, unless the job turned thinking
        off (Qwen3.5's switch: its template then writes an empty thinking block in the prompt)."""
        return self.thinking and job.params.thinking is not False

    def run(self, jobs, alive: Callable[[], bool]) -> None:
        """Serve until ``alive()`` says the app has gone (a stop or restart ends the worker's process group)."""
        while True:
            idle = not (self.running or self.waiting)
            for msg in _take(jobs, block=idle):
                match msg:
                    case Submit(job):
                        self.waiting.append(job)
                    case Cancel(job_id):
                        self.cancel(job_id)
            if idle and not alive():
                return
            self._admit()
            if self.running:
                self._step()

    def cancel(self, job_id: int) -> None:
        for job in self.waiting:
            if job.job_id == job_id:
                self.waiting.remove(job)
                self._final(job_id, JobCancelled(0), "cancelled_waiting")
                return
        rid = str(job_id)
        if rid in self.running:
            self.engine.abort_request([rid])  # vLLM frees its KV cache at once; no output comes for it
            del self.running[rid]
            self._final(job_id, JobCancelled(None), "aborted")
            return
        print(f"job {job_id}: cancel came after its end", flush=True)
        self.emit(ForJob(job_id, JobGone()))

    def _admit(self) -> None:
        while self.waiting and len(self.running) < self.capacity:
            job = self.waiting.popleft()
            self.emit(ForJob(job.job_id, Stage("encoding")))
            t0 = time.perf_counter()
            try:
                # Preparing runs between two engine steps: the running jobs wait for it (a second or so).
                inputs = self.prepare(job)
                self.engine.add_request(str(job.job_id), inputs, self.make_params(job))
            except Exception as exc:  # this job only: a bad clip or a prompt too long for the context
                print(f"job {job.job_id} failed: {type(exc).__name__}: {exc}", flush=True)
                self._final(job.job_id, JobFailed(f"{type(exc).__name__}: {exc}"[:500]), "failed")
                continue
            now = time.perf_counter()
            self.running[str(job.job_id)] = _Run(job, now - t0, now, last_sent=now,
                                                 splitter=ThinkSplitter() if self.thinks(job) else None)
            self.emit(ForJob(job.job_id, Stage("generating")))

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
                                     self.prompt_times(ids) if self.prompt_times else (), reasoning,
                                     getattr(out, "num_cached_tokens", None))
                self._final(run.job.job_id, Done(answer), f"finished_{result.finish_reason}")
            elif now - run.last_sent >= self.interval:
                run.last_sent = now
                piece, run.sent = result.text[run.sent:], len(result.text)
                reasoning, text = run.splitter.feed(piece) if run.splitter else ("", piece)
                if reasoning:
                    self.emit(ForJob(run.job.job_id, Thinking(reasoning)))
                if text:
                    self.emit(ForJob(run.job.job_id, Delta(text)))
                if not (reasoning or text):  # no text, or only the start of a '</think>' held back
                    self.emit(ForJob(run.job.job_id, Progress(len(result.token_ids))))

    def _final(self, job_id: int, event: JobEvent, count: str) -> None:
        self.counts[count] += 1
        print(f"job {job_id}: {count}", flush=True)  # one line per job in the worker's log
        self.emit(ForJob(job_id, event))
        self.emit(Tally(dict(self.counts)))


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
        prompt = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                               **job.params.template_kwargs())
        _, video_inputs, video_kwargs = process_vision_info(
            messages, image_patch_size=processor.image_processor.patch_size,
            return_video_kwargs=True, return_video_metadata=True)
        video_inputs = with_timing(video_inputs, job.timing)
        return {"prompt": prompt, "multi_modal_data": {"video": video_inputs}, "mm_processor_kwargs": video_kwargs}

    def make_params(job: VideoJob):
        extra = {}
        if job.json_schema is not None:
            extra["structured_outputs"] = StructuredOutputsParams(json=job.json_schema)
        return SamplingParams(**job.params.vllm_kwargs(), **extra)

    def prompt_times(ids: list[int]) -> tuple[str, ...]:
        return tuple(PROMPT_TIME.findall(processor.tokenizer.decode(ids)))

    events.put(Ready())
    loop = EngineLoop(llm.llm_engine, prepare, make_params, events.put, capacity, interval, prompt_times, thinking)
    loop.run(jobs, alive=lambda: os.getppid() == app_pid)  # an app killed outright leaves no worker behind
