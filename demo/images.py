"""Images for the server: read by content, turned upright, downscaled to what the model uses, sent as data URLs.

The server resizes every image to at most ``IMAGE_MAX_TOKENS`` visual tokens anyway (one token per 32x32
pixels), so sending a 12 MP original only costs bandwidth and decode time: we resize first and send a JPEG.
"""

from __future__ import annotations

import base64
import io
import math

from PIL import Image, ImageOps

PATCH_FACTOR = 32
# Per-image token budget at the default 8k context: room for several images and an answer.
IMAGE_MAX_TOKENS = 1280
IMAGE_MAX_PIXELS = IMAGE_MAX_TOKENS * PATCH_FACTOR * PATCH_FACTOR


def load_image(source) -> Image.Image:
    """Open a path, bytes or PIL image as upright RGB (EXIF orientation applied, alpha over white)."""
    if isinstance(source, Image.Image):
        img = source
    elif isinstance(source, (bytes, bytearray)):
        img = Image.open(io.BytesIO(source))
    else:
        img = Image.open(source)
    img = ImageOps.exif_transpose(img)
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")


def downscale(img: Image.Image, max_pixels: int = IMAGE_MAX_PIXELS) -> Image.Image:
    """The image at most ``max_pixels`` large, aspect kept (never upscaled)."""
    w, h = img.size
    if w * h <= max_pixels:
        return img
    scale = math.sqrt(max_pixels / (w * h))
    return img.resize((max(1, int(w * scale)), max(1, int(h * scale))), Image.Resampling.LANCZOS)


def to_data_url(img: Image.Image, quality: int = 90) -> str:
    """A ``data:image/jpeg;base64,...`` URL of an RGB image."""
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def image_part(source, max_pixels: int = IMAGE_MAX_PIXELS) -> dict:
    """An OpenAI ``image_url`` content part for ``source``, ready to send."""
    return {"type": "image_url", "image_url": {"url": to_data_url(downscale(load_image(source), max_pixels))}}
