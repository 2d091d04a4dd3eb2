"""Read a video and pick the frames the model will see, sized so that their tokens fit the context.

qwen-vl-utils' own budget assumes a 128k context (``MODEL_SEQ_LEN``); with ``--max-model-len 8192`` a short
clip at its defaults already overflows. :func:`plan_frames` is the pure part: given the clip and the sampling
controls it chooses the frame indices and one frame size (a multiple of 32, see below) so that the visual
tokens plus the answer fit. :func:`read_frames` decodes in order with OpenCV, ``grab()``-ing every frame and
``retrieve()``-ing and resizing only the kept ones: on a 120 s 1080p clip that took 5.1 s and 0.33 GB where
decord took 10.7 s and 3.0 GB, and seeking to each frame 18.8 s (shared/TESTBED.md).

Sizes are multiples of 32 and the size we choose is the size the model gets: we pass it as
``resized_height``/``resized_width``. (For a list of frames qwen-vl-utils first resizes each frame to a
multiple of 64, as ``fetch_video`` passes its 32 factor as ``fetch_image``'s patch size, then to our size;
a small double resize that changes nothing in the token count.)
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import stat
import time
from dataclasses import dataclass

from ..errors import VideoError
from .video_times import frame_times

PATCH_FACTOR = 32  # patch 16 x spatial merge 2: one visual token per 32x32 pixels ...
TEMPORAL_PATCH = 2  # ... per pair of frames
SIZE_FACTOR = 32
MIN_SIDE = 64  # 64x64 is the processors' smallest frame (4 tokens); smaller ones would be scaled up
# Per pair of frames Qwen3-VL's processor adds "<12.5 seconds>" plus vision start/end tokens.
TOKENS_PER_GROUP_OVERHEAD = 12
# Room for the chat template, the question and the system prompt.
PROMPT_MARGIN_TOKENS = 256
# The Video tab's choices, one place for the page, the API and an imported conversation's checks: frames a question
# may take (its slider's range), and the largest frame each size choice allows
MIN_FRAMES, MAX_FRAMES = 2, 256
PIXEL_CHOICES = {"240p": 426 * 240, "360p": 640 * 360, "480p": 854 * 480, "720p": 1280 * 720}


@dataclass(frozen=True)
class VideoInfo:
    frame_count: int
    fps: float
    width: int
    height: int

    @property
    def duration(self) -> float:
        return self.frame_count / self.fps if self.fps > 0 else 0.0


@dataclass(frozen=True)
class FramePlan:
    indices: tuple[int, ...]  # source frames to keep, in order
    width: int
    height: int
    sample_fps: float  # kept frames per second of video
    visual_tokens: int  # tokens the frames will take in the prompt, timestamps included
    # The source video's rate and length: with ``indices`` they give the times the model is told, in the
    # video's own time (a start offset included), as Qwen3-VL's processor computes them (video_times).
    source_fps: float = 0.0
    source_frames: int = 0

    @property
    def nframes(self) -> int:
        return len(self.indices)

    @property
    def timing(self) -> tuple[list[int], float, int]:
        """(frame indices, fps, total frames) for the processor's video metadata: the source's own when known,
        else the kept frames counted at ``sample_fps`` (frame i at i / sample_fps s)."""
        if self.source_fps > 0:
            # a one-frame clip is padded to a pair: vLLM wants at least as many frames as it is sent
            return list(self.indices), self.source_fps, max(self.source_frames, max(self.indices) + 1,
                                                            len(self.indices))
        return list(range(self.nframes)), self.sample_fps, self.nframes

    @property
    def times(self) -> list[float]:
        """Per frame, the time the model is told for it (both frames of a pair share the pair's time)."""
        indices, fps, _ = self.timing
        return frame_times(indices, fps)


def video_token_budget(max_model_len: int, max_answer_tokens: int) -> int:
    """Tokens the frames may take: the context less the answer and a margin for the text."""
    return max_model_len - max_answer_tokens - PROMPT_MARGIN_TOKENS


def frame_tokens(nframes: int, width: int, height: int) -> int:
    """Prompt tokens of ``nframes`` frames of ``width`` x ``height`` (padded to whole frame pairs)."""
    groups = math.ceil(nframes / TEMPORAL_PATCH)
    return groups * ((width // PATCH_FACTOR) * (height // PATCH_FACTOR) + TOKENS_PER_GROUP_OVERHEAD)


def fit_size(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    """A size in multiples of 32 close to the clip's aspect ratio, at most ``max_pixels`` pixels (sides >= 64)."""
    scale = min(1.0, math.sqrt(max_pixels / (width * height)))
    w = max(MIN_SIDE, round(width * scale / SIZE_FACTOR) * SIZE_FACTOR)
    h = max(MIN_SIDE, round(height * scale / SIZE_FACTOR) * SIZE_FACTOR)
    if w * h > max_pixels:  # rounding up overshot: round down instead
        w = max(MIN_SIDE, int(width * scale) // SIZE_FACTOR * SIZE_FACTOR)
        h = max(MIN_SIDE, int(height * scale) // SIZE_FACTOR * SIZE_FACTOR)
    return w, h


def plan_frames(info: VideoInfo, *, token_budget: int, fps: float = 2.0, max_frames: int = 64,
                max_pixels: int = 640 * 360, start: float = 0.0, end: float | None = None) -> FramePlan:
    """Choose kept frames and their size so that ``frame_tokens`` stays within ``token_budget``.

    Frames are spread evenly over [start, end) at ``fps`` (at most ``max_frames``, an even number); the size
    shrinks to fit, and when even the smallest size does not fit, fewer frames are kept.
    """
    if info.frame_count < 1 or info.fps <= 0 or info.width < 1 or info.height < 1:
        raise VideoError("no_frames")
    end = info.duration if end is None or end <= 0 else min(end, info.duration)
    start = max(0.0, min(start, end))
    first = min(int(start * info.fps), info.frame_count - 1)
    last = max(first, min(info.frame_count - 1, math.ceil(end * info.fps) - 1))
    available = last - first + 1
    span = available / info.fps
    wanted = min(max_frames, max(2, round(span * fps)), max(available, 2))
    n = max(2, wanted - wanted % TEMPORAL_PATCH)

    min_tokens = frame_tokens(2, MIN_SIDE, MIN_SIDE)
    if token_budget < min_tokens:
        raise VideoError("no_room", budget=token_budget)
    while True:
        groups = math.ceil(n / TEMPORAL_PATCH)
        per_group = token_budget // groups - TOKENS_PER_GROUP_OVERHEAD
        pixels = min(max_pixels, per_group * PATCH_FACTOR * PATCH_FACTOR)
        w, h = fit_size(info.width, info.height, max(pixels, MIN_SIDE * MIN_SIDE))
        if frame_tokens(n, w, h) <= token_budget or n <= 2:
            break
        n = max(2, (n // 2) - (n // 2) % TEMPORAL_PATCH)
    if frame_tokens(n, w, h) > token_budget:
        raise VideoError("no_room", budget=token_budget)
    step = (available - 1) / (n - 1) if n > 1 else 0
    indices = tuple(first + min(available - 1, round(i * step)) for i in range(n))
    # A clip shorter than two frames is padded by repeating: never claim more frames per second than it has.
    sample_fps = min(n / span, info.fps) if span > 0 else fps
    return FramePlan(indices, w, h, sample_fps=sample_fps, visual_tokens=frame_tokens(n, w, h),
                     source_fps=info.fps, source_frames=info.frame_count)


def probe(path: str) -> VideoInfo:
    """Frame count, fps and size of a video file, read from its content (never from its name)."""
    import cv2

    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            raise diagnose(path, "unreadable")
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
    finally:
        cap.release()
    if width < 1 or height < 1:
        raise diagnose(path, "unreadable")
    if not 0 < fps < 1000:
        fps = 25.0  # some containers carry no rate; the timestamps then are approximate
    if count < 1:
        raise diagnose(path, "no_frames")
    return VideoInfo(count, fps, width, height)


def diagnose(path: str, code: str) -> VideoError:
    """The most helpful error for a file OpenCV could not use: empty, a still image, sound only, or ``code``."""
    try:
        st = os.stat(path)
    except OSError:
        return VideoError(code)
    if not stat.S_ISREG(st.st_mode):  # a pipe or a device: nothing to say about its content
        return VideoError(code)
    if st.st_size == 0:
        return VideoError("video_empty")
    try:
        from PIL import Image

        with Image.open(path) as img:  # reads the header only
            if getattr(img, "n_frames", 1) == 1:
                return VideoError("video_is_image")
    except Exception:  # not an image: fall through
        pass
    try:
        import av

        with av.open(path) as container:
            if not container.streams.video and container.streams.audio:
                return VideoError("audio_only")
    except Exception:  # not a container PyAV knows either
        pass
    return VideoError(code)


def read_frames(path: str, plan: FramePlan, deadline: float | None = None):
    """Decode in order, keeping and resizing only ``plan.indices``; returns a list of RGB PIL images.

    Repeated indices (a clip shorter than the frames asked for) reuse the decoded frame.
    """
    import cv2
    from PIL import Image

    wanted = sorted(set(plan.indices))
    kept: dict[int, Image.Image] = {}
    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            raise VideoError("unreadable")
        pos = 0
        for target in wanted:
            while pos <= target:
                if deadline is not None and time.monotonic() > deadline:
                    raise VideoError("too_slow")
                if not cap.grab():
                    break
                if pos == target:
                    ok, frame = cap.retrieve()
                    if ok:
                        frame = cv2.resize(frame, (plan.width, plan.height), interpolation=cv2.INTER_AREA)
                        kept[target] = Image.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
                pos += 1
            else:
                continue
            break  # the stream ended before the frame count said it would
    finally:
        cap.release()
    if not kept:
        raise VideoError("no_frames")
    # A container that over-reports its length: repeat the last frame read for the missing tail.
    frames, last = [], kept[min(kept)]
    for i in plan.indices:
        last = kept.get(i, last)
        frames.append(last)
    return frames


def _read_clip_child(conn, path: str, plan_kwargs: dict) -> None:
    """In the child: probe, plan and read; send ("ok", frames array, plan) or ("error", code, fields)."""
    import numpy as np

    try:
        plan = plan_frames(probe(path), **plan_kwargs)
        frames = read_frames(path, plan)
        conn.send(("ok", np.stack([np.asarray(f) for f in frames]), plan))
    except VideoError as exc:
        conn.send(("error", exc.code, exc.fields))
    except Exception:  # a decoder failing in a way OpenCV does not report as a closed capture
        conn.send(("error", "unreadable", {}))
    finally:
        conn.close()


_CONTEXT = None


def _context():
    """A 'forkserver' context whose server has OpenCV and this module loaded: each read forks in milliseconds.

    Not 'fork': the app has threads (Gradio, the engines' supervisors), and forking a threaded process can
    leave a lock held in the child.
    """
    global _CONTEXT
    if _CONTEXT is None:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload([__name__, "cv2", "numpy", "PIL.Image", "av"])
        _CONTEXT = ctx
    return _CONTEXT


def read_clip(path: str, *, token_budget: int, fps: float = 2.0, max_frames: int = 64,
              max_pixels: int = 640 * 360, start: float = 0.0, end: float | None = None,
              timeout: float = 120.0):
    """:func:`probe`, :func:`plan_frames` and :func:`read_frames` in a child process with a time limit.

    A decoder that hangs (a damaged file, a pipe no one writes) cannot be interrupted inside a thread, so the
    reading runs in a child that is killed after ``timeout`` seconds (``VideoError("too_slow")``); a child
    that dies gives ``VideoError("unreadable")``. Returns (RGB PIL images, the :class:`FramePlan`).
    """
    from PIL import Image

    ctx = _context()
    receiver, sender = ctx.Pipe(duplex=False)
    kwargs = dict(token_budget=token_budget, fps=fps, max_frames=max_frames, max_pixels=max_pixels,
                  start=start, end=end)
    proc = ctx.Process(target=_read_clip_child, args=(sender, str(path), kwargs), name="video-reader",
                       daemon=True)
    proc.start()
    sender.close()  # the child holds the only writer: its death is an end-of-file here
    try:
        if not receiver.poll(timeout):
            raise VideoError("too_slow")
        try:
            result = receiver.recv()
        except (EOFError, OSError):
            raise VideoError("unreadable") from None  # the child died without answering (a decoder crash)
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(10)
        receiver.close()
    if result[0] == "error":
        raise VideoError(result[1], **result[2])
    _, array, plan = result
    return [Image.fromarray(a) for a in array], plan
