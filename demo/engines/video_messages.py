"""What crosses the video worker's process boundary, one type per message (issue 27): a job or a cancel to the
worker; from it, that it is ready, its tally of how jobs ended, and each job's events.

A job's events are the page's own (``video_events``: ``Stage``, ``Delta``, ``Thinking``, ``Progress``, ``Done``)
wrapped with the job's id, plus the ways a job ends that only the worker's app side turns into sentences
(``JobFailed``, ``JobCancelled``) and the answer to a cancel that came too late (``JobGone``). Both sides take
them apart with ``match``; multiprocessing's queues pickle them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import numpy as np

from .client import Progress, Thinking
from .params import GenerationParams
from .video_events import Delta, Done, Stage


@dataclass(frozen=True)
class VideoJob:
    job_id: int
    frames: np.ndarray  # (n, height, width, 3) uint8 RGB, already sized by plan_frames
    sample_fps: float
    question: str
    params: GenerationParams  # clamped by the app (vLLM's SamplingParams are built from it in the worker)
    # (frame indices, fps, total frames) of the source video (FramePlan.timing): the times the model is told.
    # None: qwen_vl_utils' own timing for a list of frames (frame i at i / sample_fps s).
    timing: tuple[list[int], float, int] | None = None
    history: tuple[tuple[str, str], ...] = ()  # earlier (question, answer) turns about the same frames
    json_schema: dict | None = None  # an answer held to this JSON schema (vLLM's structured outputs)


# --- to the worker ---
@dataclass(frozen=True)
class Submit:
    job: VideoJob


@dataclass(frozen=True)
class Cancel:
    """Drop the job from the line, or abort it in the engine; answered by its ``JobCancelled`` or ``JobGone``."""

    job_id: int


ToWorker: TypeAlias = Submit | Cancel  # the worker ends when its group is stopped, or when the app is gone


# --- from the worker ---
@dataclass(frozen=True)
class Ready:
    """The engine is loaded: jobs are taken from now on."""


@dataclass(frozen=True)
class Tally:
    """How the worker's jobs ended so far, by way ("finished_length", "aborted", ...): the tests' witness."""

    counts: dict[str, int]


@dataclass(frozen=True)
class JobFailed:
    """The job could not be answered (a bad clip, a prompt too long for the context): the engine's message."""

    message: str


@dataclass(frozen=True)
class JobCancelled:
    """The job was dropped from the line (``tokens`` 0) or aborted in the engine (None)."""

    tokens: int | None


@dataclass(frozen=True)
class JobGone:
    """A cancel came after the job had ended: nothing to do, but every cancel is confirmed."""


JobEvent: TypeAlias = Stage | Delta | Thinking | Progress | Done | JobFailed | JobCancelled | JobGone
ENDS = (Done, JobFailed, JobCancelled)  # a job's last event


@dataclass(frozen=True)
class ForJob:
    job_id: int
    event: JobEvent


FromWorker: TypeAlias = Ready | Tally | ForJob
