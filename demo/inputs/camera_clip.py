"""The Live tab's rolling window of camera frames (issue 29, item 1), and the clip a question about it sends.

The camera sends a frame every second or so; :func:`take` keeps one every ``interval`` seconds, downscaled at once
to a small JPEG, with the time it arrived (seconds since the stream began), and forgets what is older than the
window or beyond its last :data:`MAX_FRAMES`: nothing else of the stream is kept, in memory or on disk.
:meth:`LiveWindow.clip` turns the window's recent frames into the :class:`~demo.inputs.video_clip.VideoClip` the
server path sends (``demo/engines/video_via_server.py``), sized so that their tokens fit the context.

The times: the frames come at irregular real times (a slow upload, a busy tab), not at a fixed rate. Qwen3-VL is told
a frame's time as ``index / fps`` from the request's frame indices and fps (vLLM's ``_calculate_timestamps``), and
those indices may be any increasing integers. So the clip is described as a video of :data:`TICKS_PER_SECOND` frames
a second of which only the captured ones were kept: frame ``i`` gets index ``round((t_i - t_0) * 10)``, and the model
is told each pair's real time since the window's first frame, to a tenth of a second, as it would be for a sampled
file. (A nominal fps of ``1 / interval`` with indices 0, 1, 2, ... would claim a regular spacing the frames did not
have.) Stdlib and Pillow only: no Gradio.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, replace

from PIL import Image

from ..errors import VideoError
from .video_clip import VideoClip
from .video_frames import (
    MIN_SIDE,
    PATCH_FACTOR,
    PIXEL_CHOICES,
    TEMPORAL_PATCH,
    TOKENS_PER_GROUP_OVERHEAD,
    FramePlan,
    fit_size,
    frame_tokens,
)

TICKS_PER_SECOND = 10  # the clip's nominal frame rate: its indices count tenths of a second since the window began
MAX_FRAMES = 16  # at most this many frames in the window, whatever its length (a bound on memory and tokens)
STORED_PIXELS = PIXEL_CHOICES["360p"]  # each frame is kept at most this large (the Video tab's default size)
JPEG_QUALITY = 85  # a 640x352 frame is about 25 kB: a full window about 0.4 MB per visitor
TICK_SLACK = 0.5  # the camera's ticks jitter: a frame this much early for the interval is still taken


@dataclass(frozen=True)
class LiveFrame:
    t: float  # seconds since the stream began, when the frame arrived
    jpeg: bytes
    width: int
    height: int

    def image(self) -> Image.Image:
        return Image.open(io.BytesIO(self.jpeg)).convert("RGB")


@dataclass(frozen=True)
class LiveClip:
    """A question's frames: the clip sent to the server, and per frame what the page shows under it."""

    clip: VideoClip
    told: list[float]  # the time the model is told for each frame (both frames of a pair share one)
    ages: list[float]  # how long before the question each frame arrived

    @property
    def captions(self) -> list[str]:
        """``"2.0 s · −6.1 s"``: the time the model is told, and when the frame was taken relative to the question."""
        return [f"{told:.1f} s · −{age:.1f} s" for told, age in zip(self.told, self.ages)]


@dataclass(frozen=True)
class LiveWindow:
    """One visitor's recent frames (kept in ``gr.State``), oldest first. Immutable: a question reads a snapshot
    while the stream goes on adding to a new window."""

    started: float  # the monotonic clock when the stream began
    frames: tuple[LiveFrame, ...] = ()

    def since_start(self, now: float) -> float:
        return now - self.started

    def recent(self, now: float, span: float, max_frames: int = MAX_FRAMES) -> tuple[LiveFrame, ...]:
        """The frames of the last ``span`` seconds before ``now`` (monotonic), at most ``max_frames``, oldest first."""
        cutoff = self.since_start(now) - span
        kept = [f for f in self.frames if f.t >= cutoff]
        return tuple(kept[-max_frames:]) if max_frames > 0 else ()

    def due(self, now: float, interval: float) -> bool:
        """Whether a frame arriving at ``now`` is the next one to keep."""
        return not self.frames or self.since_start(now) - self.frames[-1].t >= interval - TICK_SLACK

    def clip(self, now: float, span: float, budget: int) -> LiveClip:
        """The recent frames as the clip the server gets, their size chosen so that their tokens stay within
        ``budget`` (the oldest dropped when even the smallest size does not fit).

        Raises :class:`VideoError` ``live_empty`` without recent frames, ``no_room`` when no frame fits."""
        frames = self.recent(now, span)
        if not frames:
            raise VideoError("live_empty", seconds=span)
        last = frames[-1]
        count, width, height = fit_window(len(frames), last.width, last.height, budget)
        frames = frames[len(frames) - count:]
        jpegs = tuple(f.jpeg if (f.width, f.height) == (width, height) else _jpeg(f.image(), width, height)
                      for f in frames)
        indices = clip_indices([f.t for f in frames])
        duration = max(frames[-1].t - frames[0].t, 1 / TICKS_PER_SECOND)
        plan = FramePlan(tuple(indices), width, height, sample_fps=min(count / duration, TICKS_PER_SECOND),
                         visual_tokens=frame_tokens(count, width, height), source_fps=float(TICKS_PER_SECOND),
                         source_frames=indices[-1] + 1)
        at = self.since_start(now)
        return LiveClip(VideoClip(jpegs, plan), plan.times, [max(0.0, at - f.t) for f in frames])


def clip_indices(times: list[float]) -> list[int]:
    """The frames' indices in a clip of :data:`TICKS_PER_SECOND` frames a second starting at the first frame:
    their real offsets rounded to a tick, kept strictly increasing (two frames within a tick get adjacent ones)."""
    out: list[int] = []
    for t in times:
        index = round((t - times[0]) * TICKS_PER_SECOND)
        out.append(max(index, out[-1] + 1) if out else 0)
    return out


def fit_window(count: int, width: int, height: int, budget: int) -> tuple[int, int, int]:
    """(frames, width, height): as many of the newest ``count`` frames as fit ``budget`` tokens, as large as the
    kept ``width`` x ``height`` allows and the budget leaves; smaller frames before fewer frames."""
    n = count
    while n >= 1:
        groups = math.ceil(n / TEMPORAL_PATCH)
        per_group = budget // groups - TOKENS_PER_GROUP_OVERHEAD
        pixels = min(width * height, per_group * PATCH_FACTOR * PATCH_FACTOR)
        if pixels >= MIN_SIDE * MIN_SIDE:
            w, h = fit_size(width, height, pixels)
            if frame_tokens(n, w, h) <= budget:
                return n, w, h
        n -= 1
    raise VideoError("no_room", budget=budget)


def _jpeg(img: Image.Image, width: int, height: int) -> bytes:
    if img.size != (width, height):
        img = img.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


def take(window: LiveWindow | None, image: Image.Image | None, now: float, interval: float, span: float
         ) -> LiveWindow | None:
    """The window after the camera sent ``image`` at ``now`` (monotonic): the frame kept (downscaled to at most
    :data:`STORED_PIXELS`, as JPEG) when it is due, and frames older than ``span`` seconds or beyond the last
    :data:`MAX_FRAMES` forgotten. The same window when the frame is not due (nothing is decoded or encoded)."""
    if image is None:
        return window
    if window is None:
        window = LiveWindow(started=now)
    if not window.due(now, interval):
        return window
    width, height = fit_size(image.width, image.height, STORED_PIXELS)
    frame = LiveFrame(window.since_start(now), _jpeg(image, width, height), width, height)
    kept = replace(window, frames=window.frames + (frame,))
    return replace(kept, frames=kept.recent(now, span))
