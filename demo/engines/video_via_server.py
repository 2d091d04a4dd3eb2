"""Video through the OpenAI-compatible server (``--video-via server``, one small GPU, or ``--api-base``).

The app has already decoded and sized the kept frames (:mod:`demo.inputs.video_frames`), so it sends exactly those
frames, not the file: vLLM 0.32 reads a ``data:video/jpeg;base64,<frame>,<frame>,...`` URL as a list of
JPEG frames (``VideoMediaIO.load_base64``) and takes their timing from the request's ``media_io_kwargs``.
The frames, their size and hence the visual tokens are the same as the worker's, and the server never
decodes a user's file nor resamples it (``do_sample_frames`` is off).
"""

from __future__ import annotations

import base64
import io

from PIL import Image

JPEG_QUALITY = 90


def jpeg_frames_url(frames: list[Image.Image], quality: int = JPEG_QUALITY) -> str:
    parts = []
    for frame in frames:
        buf = io.BytesIO()
        frame.convert("RGB").save(buf, format="JPEG", quality=quality)
        parts.append(base64.b64encode(buf.getvalue()).decode("ascii"))
    return "data:video/jpeg;base64," + ",".join(parts)


def video_messages(frames: list[Image.Image], sample_fps: float, question: str) -> tuple[list[dict], dict]:
    """The chat ``messages`` and the request's ``media_io_kwargs`` for a question about ``frames``.

    The timing matches the worker's (``qwen_vl_utils`` with ``sample_fps``): frame i is at i / sample_fps s.
    """
    n = len(frames)
    messages = [{"role": "user", "content": [
        {"type": "video_url", "video_url": {"url": jpeg_frames_url(frames)}},
        {"type": "text", "text": question},
    ]}]
    media_io_kwargs = {"video": {
        "num_frames": n, "fps": float(sample_fps), "frames_indices": list(range(n)),
        "total_num_frames": n, "duration": n / sample_fps if sample_fps > 0 else 0.0,
        "do_sample_frames": False,
    }}
    return messages, media_io_kwargs
