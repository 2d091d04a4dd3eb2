"""Every awkward input of issue 4 ("Bad input"), made from code in a folder: no downloads.

``make_images(folder)`` and ``make_videos(folder)`` return ``{name: path}``; single makers are importable for
tests that need one file. Images come from PIL/OpenCV/numpy, videos from PyAV (libx264, libvpx-vp9, mpeg4,
MJPEG, AAC) and OpenCV. Every file is small except the 12000x9000 image (a flat colour: a few hundred kB).
"""

from __future__ import annotations

import io
import struct
import zlib
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

ORIENTATION = 0x0112
MARKUP_NAME = "<b>bold<b><img src=x onerror=alert(1)>.png"  # no "/": it cannot be in a filename


# --- images ---------------------------------------------------------------------------------------------------
def _gradient(width: int, height: int) -> np.ndarray:
    x = np.linspace(0, 255, width, dtype=np.float64)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float64)[:, None]
    return np.stack([np.broadcast_to(x, (height, width)), np.broadcast_to(y, (height, width)),
                     np.full((height, width), 128.0)], axis=-1).astype(np.uint8)


def photo(width: int = 320, height: int = 240) -> Image.Image:
    """An RGB picture with some structure (a gradient and a dark square)."""
    arr = _gradient(width, height)
    arr[height // 4: height // 2, width // 4: width // 2] = (20, 20, 20)
    return Image.fromarray(arr)


def jpeg_bytes(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90, **kw)
    return buf.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` RGB pixels (a decompression bomb's header)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 65536, 9)  # far fewer rows than declared
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def exif_rotated_jpeg() -> bytes:
    """A landscape 320x160 JPEG (red left half, blue right) with EXIF orientation 6: upright it is portrait."""
    img = Image.new("RGB", (320, 160), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 160, 160))
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    return jpeg_bytes(img, exif=exif.tobytes())


def make_images(folder: Path) -> dict[str, Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        path = folder / name
        path.write_bytes(data)
        out[name] = path

    def save(name: str, img: Image.Image, fmt: str, **kw) -> None:
        buf = io.BytesIO()
        img.save(buf, fmt, **kw)
        put(name, buf.getvalue())

    full = jpeg_bytes(photo(640, 480))
    put("truncated.jpg", full[: len(full) // 2])
    put("text.png", b"just some notes, not a picture\n" * 20)
    put("page.png", b"<!doctype html><html><body><script>alert(1)</script><b>hi</b></body></html>\n")
    put("drawing.png", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
                       b'<circle cx="50" cy="50" r="40" fill="red"/></svg>\n')
    save("one-pixel.png", Image.new("RGB", (1, 1), (200, 30, 30)), "PNG")
    # 108 megapixels: under the app's 120 MP limit, so it is answered (downscaled). A flat colour compresses well.
    save("huge-12000x9000.jpg", Image.new("RGB", (12000, 9000), (90, 140, 200)), "JPEG", quality=70)
    put("bomb.png", png_declaring(100_000, 100_000))  # 10 gigapixels declared, a few hundred bytes
    put("over-limit.png", png_declaring(12_000, 12_000))  # 144 MP: over the app's limit, under PIL's hard stop
    save("cmyk.jpg", photo().convert("CMYK"), "JPEG", quality=90)
    grey16 = (np.linspace(0, 65535, 320 * 240).reshape(240, 320)).astype(np.uint16)
    save("grey16.png", Image.fromarray(grey16, mode="I;16"), "PNG")
    import cv2  # 48-bit RGB PNG: PIL cannot write one, OpenCV can

    ok, rgb16 = cv2.imencode(".png", (_gradient(320, 240).astype(np.uint16) * 257)[:, :, ::-1])
    assert ok
    put("rgb16.png", rgb16.tobytes())
    save("palette.png", photo().convert("P", palette=Image.Palette.ADAPTIVE, colors=16), "PNG")
    pal = photo().convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    save("palette-transparent.png", pal, "PNG", transparency=0)
    rgba = photo().convert("RGBA")
    rgba.putalpha(Image.fromarray(_gradient(320, 240)[:, :, 0]))
    save("rgba.png", rgba, "PNG")
    save("grey-alpha.png", photo().convert("LA"), "PNG")
    put("exif-rotated.jpg", exif_rotated_jpeg())
    frames = [Image.new("RGB", (160, 120), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    save("animated.gif", frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    save("picture.webp", photo(), "WEBP", quality=80)
    put(MARKUP_NAME, (folder / "palette.png").read_bytes())  # markup in a filename
    return out


# --- videos ---------------------------------------------------------------------------------------------------
def _frame(i: int, width: int, height: int) -> np.ndarray:
    """RGB frame ``i``: a gradient with a bar that moves, so frames differ."""
    arr = _gradient(width, height)
    x = (i * 8) % max(1, width - 16)
    arr[:, x: x + 16] = (255, 255, 255)
    return arr


def write_video(path: Path, *, codec: str = "libx264", fmt: str | None = None, frames: int = 20, fps: int = 10,
                size: tuple[int, int] = (320, 240), pix_fmt: str = "yuv420p", pts: list[int] | None = None,
                time_base: Fraction | None = None, audio: bool = False, options: dict | None = None) -> Path:
    """Encode ``frames`` frames with PyAV; ``pts`` (in ``time_base`` units) makes a variable frame rate."""
    import av

    width, height = size
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=fps, options=options or {})
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if time_base is not None:
            stream.time_base = stream.codec_context.time_base = time_base
        astream = container.add_stream("aac", rate=16000) if audio else None
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(_frame(i, width, height), format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = int(pts[i]), time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
        if astream is not None:
            _write_tone(container, astream, seconds=frames / fps)
    return path


def _write_tone(container, astream, seconds: float) -> None:
    import av

    rate, n = 16000, 1024
    total = int(seconds * rate)
    for start in range(0, total, n):
        t = np.arange(start, start + n) / rate
        samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate, frame.pts = rate, start
        container.mux(astream.encode(frame))
    container.mux(astream.encode())


def audio_only(path: Path, seconds: float = 2.0) -> Path:
    import av

    with av.open(str(path), "w", format="mp4") as container:
        _write_tone(container, container.add_stream("aac", rate=16000), seconds)
    return path


def long_clip(path: Path, seconds: int = 600, fps: int = 1, size: tuple[int, int] = (128, 96)) -> Path:
    """A ten-minute clip at a tiny size, made in a few seconds."""
    return write_video(path, codec="libx264", frames=seconds * fps, fps=fps, size=size,
                       options={"preset": "ultrafast"})


def make_videos(folder: Path) -> dict[str, Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        (folder / name).write_bytes(data)
        out[name] = folder / name

    put("empty.mp4", b"")
    put("random.mp4", np.random.default_rng(0).integers(0, 256, 64 * 1024, dtype=np.uint8).tobytes())
    put("image.mp4", jpeg_bytes(photo()))
    out["audio-only.mp4"] = audio_only(folder / "audio-only.mp4")
    out["one-frame.mp4"] = write_video(folder / "one-frame.mp4", frames=1)
    out["vertical.mp4"] = write_video(folder / "vertical.mp4", size=(360, 640))
    out["vp9.webm"] = write_video(folder / "vp9.webm", codec="libvpx-vp9", options={"deadline": "realtime",
                                                                                       "cpu-used": "8"})
    out["h264.mov"] = write_video(folder / "h264.mov", audio=True)
    out["mjpeg.avi"] = write_video(folder / "mjpeg.avi", codec="mjpeg", pix_fmt="yuvj420p")
    out["h264.mkv"] = write_video(folder / "h264.mkv")
    # Variable frame rate: 20 frames at irregular times (gaps of 40 to 300 ms) in a 1/1000 time base.
    gaps = [40, 300, 40, 120, 40, 200, 40, 80, 160, 40] * 2
    out["vfr.mp4"] = write_video(folder / "vfr.mp4", pts=list(np.cumsum([0] + gaps[:-1])),
                                 time_base=Fraction(1, 1000))
    return out
