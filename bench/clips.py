"""Test inputs made on the spot: H.264 clips (PyAV's libx264) and a 12 MP photo-like JPEG, cached.

Clips show moving, textured content (scrolling gradients, a moving grid, noise), close to ffmpeg's
``testsrc2`` that shared/TESTBED.md measured with, so that decoding costs what real footage costs.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .common import ROOT

CACHE = ROOT / ".cache" / "bench"
SIZES = {"480p": (854, 480), "1080p": (1920, 1080)}


def clip_path(seconds: int, size: str, fps: int = 30) -> Path:
    return CACHE / f"clip-{seconds}s-{size}-{fps}fps-h264.mp4"


def make_clip(seconds: int, size: str, fps: int = 30) -> Path:
    """An H.264 (yuv420p) mp4 of ``seconds`` at ``size``; made once, then reused."""
    path = clip_path(seconds, size, fps)
    if path.exists() and path.stat().st_size > 0:
        return path
    import av

    width, height = SIZES[size]
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}.mp4")
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([xx / width * 255, yy / height * 255, (xx + yy) / (width + height) * 255], -1)
    noise = rng.integers(0, 24, (height, width, 3), dtype=np.uint8)
    with av.open(str(tmp), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        for i in range(seconds * fps):
            shift = (i * 7) % width
            frame = np.roll(base, shift, axis=1).astype(np.uint8)
            frame = frame + np.roll(noise, i * 3, axis=0)  # wraps: busy texture
            # a moving block and a frame counter-like bar, as testsrc2 has
            x = (i * 13) % max(1, width - 200)
            frame[height // 3: height // 3 + 150, x: x + 200] = (255 - 3 * (i % 80), 40, 200)
            frame[-40:, : (i % fps + 1) * width // fps] = 255
            for f in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(f)
        for f in stream.encode():
            out.mux(f)
    tmp.replace(path)
    return path


def photo_path() -> Path:
    return CACHE / "photo-4000x3000-q92.jpg"


def make_photo(width: int = 4000, height: int = 3000) -> Path:
    """A 12 MP photo-like JPEG (smooth gradients and shapes plus sensor-like noise), quality 92."""
    path = photo_path() if (width, height) == (4000, 3000) else CACHE / f"photo-{width}x{height}-q92.jpg"
    if path.exists() and path.stat().st_size > 0:
        return path
    from PIL import Image, ImageDraw, ImageFilter

    CACHE.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    sky = np.stack([90 + 80 * yy / height, 140 + 60 * yy / height, 230 - 90 * yy / height], -1)
    img = Image.fromarray(sky.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(40):  # objects: soft-coloured ellipses and boxes
        x, y = int(rng.integers(0, width)), int(rng.integers(height // 3, height))
        r = int(rng.integers(width // 60, width // 8))
        colour = tuple(int(c) for c in rng.integers(20, 235, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x - r, y - r // 2, x + r, y + r // 2), fill=colour)
    img = img.filter(ImageFilter.GaussianBlur(6))
    arr = np.asarray(img).astype(np.int16) + rng.normal(0, 6, (height, width, 3)).astype(np.int16)
    Image.fromarray(arr.clip(0, 255).astype(np.uint8)).save(path, quality=92)
    return path
