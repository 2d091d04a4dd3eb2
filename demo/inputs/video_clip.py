"""The frames the model sees of one video, kept with a conversation about it.

A follow-up question about the same video must neither read the file again (it may be long, or gone) nor see
other frames, so the sampled frames are kept, as JPEG: 64 frames of 640x360 are about 2 MB that way and 44 MB
as pixels, and a Space keeps one such clip per visitor. Both video paths use these same JPEG frames: the
server gets them as they are (``data:video/jpeg``), the worker decoded; so the first turn and its follow-ups,
and both paths, see the same pixels.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .video_frames import FramePlan

JPEG_QUALITY = 90


@dataclass(frozen=True)
class VideoClip:
    jpegs: tuple[bytes, ...]
    plan: FramePlan

    @classmethod
    def from_frames(cls, frames: list[Image.Image], plan: FramePlan, quality: int = JPEG_QUALITY) -> VideoClip:
        out = []
        for frame in frames:
            buf = io.BytesIO()
            frame.convert("RGB").save(buf, format="JPEG", quality=quality)
            out.append(buf.getvalue())
        return cls(tuple(out), plan)

    def images(self) -> list[Image.Image]:
        """The frames as the model sees them (decoded from the kept JPEG)."""
        return [Image.open(io.BytesIO(j)).convert("RGB") for j in self.jpegs]

    def array(self) -> np.ndarray:
        """(frames, height, width, 3) uint8 RGB, for the video worker."""
        return np.stack([np.asarray(img) for img in self.images()])

    def data_url(self) -> str:
        """vLLM's list-of-JPEG-frames video URL (``VideoMediaIO.load_base64``, ``video/jpeg``)."""
        return "data:video/jpeg;base64," + ",".join(base64.b64encode(j).decode("ascii") for j in self.jpegs)
