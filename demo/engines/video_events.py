"""What a video answer yields on its way to the page, one type per event (issue 27).

Both ways of answering (the worker, ``video_worker.VideoWorker.answer``; the server, ``Engines.answer_video``
with no worker) yield these, and the page takes them apart with ``match``: no event is a string compared with
another, and none carries a field whose meaning depends on a kind. The worker's own process sends them across
its queue wrapped with their job's id (``video_messages.ForJob``), and its app side passes them on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from .client import Progress, Thinking

if TYPE_CHECKING:  # types only: the worker's process imports this module and needs neither
    from ..inputs.video_clip import VideoClip
    from ..inputs.video_frames import FramePlan


@dataclass(frozen=True)
class VideoAnswer:
    text: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    prepare_s: float  # process_vision_info + chat template
    generate_s: float
    prompt_times: tuple[str, ...] = ()  # the "<t seconds>" labels in the engine's prompt, decoded from its tokens
    reasoning: str = ""  # a thinking model's reasoning (``text`` is then the answer after it)
    cached_tokens: int | None = None  # of the prompt tokens, those vLLM's prefix cache held (None: not said)


@dataclass(frozen=True)
class Queued:
    """The job waits for the worker: ``place`` in line, 1 = next."""

    place: int


@dataclass(frozen=True)
class Stage:
    """A step began: "reading" (the file is read and sampled), "encoding" (the job started), "generating"."""

    name: str


@dataclass(frozen=True)
class Frames:
    """The file was read: the frames shown, the plan they were sampled by, the clip a follow-up reuses."""

    frames: list
    plan: FramePlan
    clip: VideoClip


@dataclass(frozen=True)
class Delta:
    """More of the answer's text."""

    text: str


@dataclass(frozen=True)
class Done:
    """The answer, whole; the last event."""

    answer: VideoAnswer


# Thinking: more of a thinking model's reasoning, before the answer; Progress: tokens so far, no text yet
VideoEvent: TypeAlias = Queued | Stage | Frames | Delta | Thinking | Progress | Done

__all__ = ["Delta", "Done", "Frames", "Progress", "Queued", "Stage", "Thinking", "VideoAnswer", "VideoEvent"]
