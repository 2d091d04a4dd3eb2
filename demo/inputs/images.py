"""Images for the server: read by content, turned upright, downscaled to what the model uses, sent as data URLs.

The server resizes every image to at most ``IMAGE_MAX_TOKENS`` visual tokens anyway (one token per 32x32
pixels), so sending a 12 MP original only costs bandwidth and decode time: we resize first and send a JPEG.

An image's detail (issue 29) is that budget chosen per image: "low" (256 tokens: fast, enough for a photograph's
gist), "standard" (the default, ``IMAGE_MAX_TOKENS``) or "high" (small text: up to half the context). The app
resizes to the detail's size itself, on the processor's 32-pixel grid, so the server's own resize changes nothing
and "Show request" holds the very image the model sees. No ``mm_processor_kwargs`` is sent: it would hold for
every image of a request (a conversation mixes details), and an image already on the grid and within the
processor's limits passes vLLM 0.32's Qwen3-VL ``smart_resize`` unchanged
(``Qwen3VLProcessingInfo._get_vision_info`` rounds each side to the grid and only resizes outside
[shortest_edge, longest_edge]).
"""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path
from typing import Literal, NamedTuple, get_args

from PIL import Image, ImageOps

from ..errors import ImageError

PATCH_FACTOR = 32
# Per-image token budget at the default 8k context: room for several images and an answer.
IMAGE_MAX_TOKENS = 1280
IMAGE_MAX_PIXELS = IMAGE_MAX_TOKENS * PATCH_FACTOR * PATCH_FACTOR
# The processor's own limits (Qwen3-VL's preprocessor_config.json: size.shortest_edge and size.longest_edge, in
# pixels): the server enlarges a smaller image to the first and shrinks a larger one to the second.
PROCESSOR_MIN_PIXELS = 65536
PROCESSOR_MAX_PIXELS = 16777216
# Detail levels, in order of cost; an image part without one is "standard" (conversations saved before issue 29).
Detail = Literal["low", "standard", "high"]
DETAIL_LEVELS: tuple[str, ...] = get_args(Detail)
DEFAULT_DETAIL: Detail = "standard"
LOW_TOKENS = 256
# Larger uploads are refused before decoding. PIL's own guard (which warns above MAX_IMAGE_PIXELS and
# refuses above twice that) is set to the same limit, so every process that decodes images honours it.
UPLOAD_MAX_PIXELS = 120_000_000
# Images one conversation may hold. vLLM 0.32 allows 999 per prompt unless --limit-mm-per-prompt says
# otherwise (MultiModalConfig.get_limit_per_prompt); the context is the real limit: at 8192 tokens about six
# images of the full IMAGE_MAX_TOKENS fit. Past this count the page and the API refuse with a sentence.
MAX_IMAGES = 8
Image.MAX_IMAGE_PIXELS = UPLOAD_MAX_PIXELS


def load_image(source, max_pixels: int | None = None) -> Image.Image:
    """Open a path, bytes or PIL image as upright RGB (EXIF orientation applied, alpha over white).

    With ``max_pixels`` a large JPEG is decoded at a reduced scale (1/2 to 1/8, never below ``max_pixels``):
    a 12000x9000 photograph then decodes in a tenth of the time, to be downscaled anyway.
    """
    if isinstance(source, Image.Image):
        img = source
    elif isinstance(source, (bytes, bytearray)):
        img = Image.open(io.BytesIO(source))
    else:
        img = Image.open(source)
    if max_pixels and img.format == "JPEG" and img.width * img.height > max_pixels:
        scale = math.sqrt(max_pixels / (img.width * img.height))
        img.draft(img.mode, (math.ceil(img.width * scale), math.ceil(img.height * scale)))
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        img = _to_8bit(img)
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")


def _to_8bit(img: Image.Image) -> Image.Image:
    """16-bit and 32-bit greyscale scaled to 8 bits (PIL's convert would clip everything above 255 to white)."""
    import numpy as np

    arr = np.asarray(img, dtype=np.float64)
    top = 65535.0 if img.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
    return Image.fromarray(np.clip(arr / top * 255.0, 0, 255).astype(np.uint8), mode="L")


def grid_size(width: int, height: int, max_pixels: int, factor: int = PATCH_FACTOR) -> tuple[int, int]:
    """The size Qwen's processor gives an image (its ``smart_resize``: sides in multiples of ``factor``, at most
    ``max_pixels``, rounded down when over), as (width, height)."""
    w = max(factor, round(width / factor) * factor)
    h = max(factor, round(height / factor) * factor)
    if w * h > max_pixels:
        beta = math.sqrt(width * height / max_pixels)
        w = max(factor, math.floor(width / beta / factor) * factor)
        h = max(factor, math.floor(height / beta / factor) * factor)
    return w, h


def detail_tokens(level: str, max_model_len: int | None = None) -> int:
    """The visual-token budget of an image at ``level``; "high" takes at most half of a ``max_model_len`` context
    (room for the question, other images and the answer) and at most the processor's own maximum, never less than
    "standard". Raises :class:`ImageError` ("bad_detail") for a level that is not one of :data:`DETAIL_LEVELS`."""
    if level == "low":
        return LOW_TOKENS
    if level == "standard":
        return IMAGE_MAX_TOKENS
    if level == "high":
        most = PROCESSOR_MAX_PIXELS // (PATCH_FACTOR * PATCH_FACTOR)
        return max(IMAGE_MAX_TOKENS, min(most, most if max_model_len is None else max_model_len // 2))
    value, levels = str(level)[:40], ", ".join(DETAIL_LEVELS)
    raise ImageError("bad_detail", value=value, levels=levels)


def detail_pixels(level: str, max_model_len: int | None = None) -> int:
    """:func:`detail_tokens` as a ``max_pixels`` for :func:`image_part`."""
    return detail_tokens(level, max_model_len) * PATCH_FACTOR * PATCH_FACTOR


class Seen(NamedTuple):
    """An image as the model gets it: its size on the grid and its visual tokens (one per 32x32 pixels)."""

    width: int
    height: int
    tokens: int


def processor_size(width: int, height: int, factor: int = PATCH_FACTOR) -> tuple[int, int]:
    """The size the server's processor gives an image it receives (transformers' ``smart_resize`` with Qwen3-VL's
    limits: sides rounded to the grid, enlarged below :data:`PROCESSOR_MIN_PIXELS`, shrunk above the maximum)."""
    w, h = round(width / factor) * factor, round(height / factor) * factor
    if w * h > PROCESSOR_MAX_PIXELS:
        return grid_size(width, height, PROCESSOR_MAX_PIXELS, factor)
    if w * h < PROCESSOR_MIN_PIXELS:
        beta = math.sqrt(PROCESSOR_MIN_PIXELS / (width * height))
        return math.ceil(width * beta / factor) * factor, math.ceil(height * beta / factor) * factor
    return w, h


def seen_size(width: int, height: int, max_pixels: int = IMAGE_MAX_PIXELS) -> Seen:
    """What the model gets of an upright ``width`` x ``height`` image sent by :func:`image_part` at ``max_pixels``:
    our resize (to the grid, only when larger), then the server's (:func:`processor_size`)."""
    if width * height > max_pixels:
        width, height = grid_size(width, height, max_pixels)
    w, h = processor_size(width, height)
    return Seen(w, h, w * h // (PATCH_FACTOR * PATCH_FACTOR))


def upright_size(source) -> tuple[int, int]:
    """An image's (width, height) once turned upright (a path, bytes or PIL image, as :func:`load_image` takes),
    from its header and EXIF only: nothing is decoded."""
    if isinstance(source, Image.Image):
        return _upright(source)
    with Image.open(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source) as img:
        return _upright(img)


def _upright(img: Image.Image) -> tuple[int, int]:
    w, h = img.size
    if img.getexif().get(0x0112) in (5, 6, 7, 8):  # a quarter turn: exif_transpose swaps the sides
        w, h = h, w
    return w, h


def downscale(img: Image.Image, max_pixels: int = IMAGE_MAX_PIXELS) -> Image.Image:
    """The image at most ``max_pixels`` large (never upscaled).

    A larger one is resized straight to the size the processor would give it for that budget, so the server's
    own resize changes nothing and the tokens are those of the original at the same budget (a plain scale to
    ``max_pixels`` rounds differently and gave 1,271 tokens where the original gave 1,230: bench/RESULTS.md).
    """
    w, h = img.size
    if w * h <= max_pixels:
        return img
    return img.resize(grid_size(w, h, max_pixels), Image.Resampling.LANCZOS)


def to_data_url(img: Image.Image, quality: int = 90) -> str:
    """A ``data:image/jpeg;base64,...`` URL of an RGB image."""
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def image_part(source, max_pixels: int = IMAGE_MAX_PIXELS) -> dict:
    """An OpenAI ``image_url`` content part for ``source``, ready to send, at most ``max_pixels`` large.

    A larger image is resized to the grid size of its full upright size (:func:`seen_size`'s), not of the reduced
    size a JPEG is decoded at: the two can round to different sizes, and the page announces the first.
    """
    width, height = upright_size(source)
    img = load_image(source, max_pixels)
    if width * height > max_pixels:
        target = grid_size(width, height, max_pixels)
        if img.size != target:
            img = img.resize(target, Image.Resampling.LANCZOS)
    return {"type": "image_url", "image_url": {"url": to_data_url(img)}}


def check_image(path: str) -> None:
    """Raise :class:`ImageError` unless ``path`` holds an image we can decode (checked by content)."""
    name = Path(path).name
    try:
        with Image.open(path) as img:
            pixels = img.size[0] * img.size[1]
            if pixels > UPLOAD_MAX_PIXELS:
                raise ImageError("image_too_large", name=name, size=f"{pixels / 1e6:.0f} megapixels",
                                 limit=UPLOAD_MAX_PIXELS / 1e6)
            if img.format == "JPEG":  # every byte is still decoded, at 1/8 scale: a truncated file fails all the same
                img.draft(img.mode, (max(1, img.width // 8), max(1, img.height // 8)))
            img.load()  # decodes: truncated or corrupt data fails here
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:  # PIL refuses to even open it: far over the limit
        raise ImageError("image_too_large", name=name, size=f"over {2 * UPLOAD_MAX_PIXELS / 1e6:.0f} megapixels",
                         limit=UPLOAD_MAX_PIXELS / 1e6) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError("image_unreadable", name=name) from exc
