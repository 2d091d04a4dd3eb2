"""A region of an image to ask about (issue 29): two clicked corners become a 0-1000 box, the question names it the
way Qwen3-VL reads boxes, and a small region also goes as a zoomed crop, a second image.

Qwen3-VL reads and writes boxes as plain text, ``{"bbox_2d": [x1, y1, x2, y2]}`` in coordinates relative to the
image on a 0-1000 scale (x1, y1 the top-left corner): its grounding answers (demo/inputs/grounding.py) and the
``image_zoom_in_tool`` of QwenLM/Qwen3-VL's cookbooks/think_with_images.ipynb, whose ``bbox_2d`` argument is "the
bounding box of the region to zoom in, as [x1, y1, x2, y2] ... relative coords with ranging [0, 1000]" (Qwen-Agent's
``image_zoom_in_qwen3vl.py``). The question says the region in that same JSON. The crop is made as that tool makes
it: cut from the original, then resized (never below 256 visual tokens' worth of pixels, its ``min_pixels``).

Pure: no Gradio, no engine. The files it writes (crops, pictures with the box drawn) go to a private folder of
this process in the system's temporary directory, pruned of files older than the uploads they go with.
"""

from __future__ import annotations

import atexit
import math
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from ..errors import ImageError
from .grounding import SCALE, round_half_up
from .images import DEFAULT_DETAIL, IMAGE_MAX_PIXELS, PATCH_FACTOR, detail_pixels, load_image
from .numbers import finite

Box = tuple[int, int, int, int]  # x1, y1, x2, y2 on the 0-1000 scale, x1 < x2 and y1 < y2

MIN_SIDE = 10  # a region is at least 1% of the image's width and height: two clicks on one spot still make a box
SMALL_AREA = 0.25  # a region under a quarter of the image's area is sent zoomed in too
CROP_MARGIN = 0.1  # the crop shows this much more on each side (of the region's own size): the region's context
# The crop's size: at least the 256 visual tokens of Qwen-Agent's image_zoom_in_tool (its min_pixels), at most 4x
# upscaled (more invents no detail), never over the budget of any image we send (images.IMAGE_MAX_PIXELS).
CROP_MIN_PIXELS = min(256 * PATCH_FACTOR * PATCH_FACTOR, IMAGE_MAX_PIXELS)
CROP_MAX_UPSCALE = 4.0
# The box as demo/outputs/boxes.py draws the first object found (its colour and line; not imported: inputs come
# before outputs in the layers, tests/unit/test_layers.py), with a white halo so that it shows on red things too.
COLOUR, HALO = (230, 25, 75), (255, 255, 255)
SHOWN_MAX_SIDE = 1280  # the picture with the box drawn, for the page (the chat box and the picker show no more)
FOLDER_PREFIX = "qwen3-vl-demo-region-"
KEEP_S = 4 * 3600  # crops go with a conversation as long as its uploads are kept (conversation.UPLOAD_HOURS: 3)
MAX_GIVEN = 60  # characters of a refused box quoted back
MAX_BOX_TEXT = 100  # a box as text is refused past this length before it is matched (four numbers take far less)


class RegionError(ImageError):
    """A region that cannot be used as given."""


def from_corners(a: Sequence[float], b: Sequence[float], size: Sequence[int]) -> Box:
    """The 0-1000 box between two corners clicked in an image of ``size`` (width, height) pixels: in either order,
    clamped to the image, at least :data:`MIN_SIDE` on each side."""
    w, h = size
    xs = [_scaled(a[0], w), _scaled(b[0], w)]
    ys = [_scaled(a[1], h), _scaled(b[1], h)]
    return _sized(min(xs), min(ys), max(xs), max(ys))


def _scaled(v: float, size: int) -> int:
    return min(SCALE, max(0, round_half_up(float(v) / max(1, size) * SCALE)))


def _grown(lo: int, hi: int) -> tuple[int, int]:
    """One side at least MIN_SIDE long, grown about its middle and kept inside 0..1000."""
    if hi - lo >= MIN_SIDE:
        return lo, hi
    lo = max(0, min(SCALE - MIN_SIDE, (lo + hi) // 2 - MIN_SIDE // 2))
    return lo, lo + MIN_SIDE


def _sized(x1: int, y1: int, x2: int, y2: int) -> Box:
    x1, x2 = _grown(x1, x2)
    y1, y2 = _grown(y1, y2)
    return x1, y1, x2, y2


_NUMBER = r"\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*"
# (matched on the stripped text, short: no two runs of spaces next to each other, which backtrack quadratically)
_BOX_TEXT = re.compile(r"[\[(]?" + ",".join([_NUMBER] * 4) + r"[\])]?")


def parse_box(value) -> Box:
    """An API caller's box: ``[x1, y1, x2, y2]`` (numbers from 0 to 1000) or the text ``"x1,y1,x2,y2"``; corners
    in either order; at least :data:`MIN_SIDE` on a side once read. Raises :class:`RegionError` with the sentence
    for anything else, an empty box included."""
    if isinstance(value, str):
        text = value.strip()
        match = _BOX_TEXT.fullmatch(text) if len(text) <= MAX_BOX_TEXT else None
        numbers = [finite(float(g)) for g in match.groups()] if match else []
    elif isinstance(value, (list, tuple)) and not any(isinstance(v, (bool, str)) for v in value):
        numbers = [finite(v) for v in value]
    else:
        numbers = []
    if len(numbers) != 4 or any(n is None or not 0 <= n <= SCALE for n in numbers):
        raise RegionError("region_bad_box", given=_quoted(value))
    x1, y1, x2, y2 = (round_half_up(n) for n in numbers)  # type: ignore[arg-type]  # None refused above
    if x1 == x2 or y1 == y2:
        raise RegionError("region_empty", given=_quoted(value))
    return _sized(min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))


def _quoted(value) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= MAX_GIVEN else text[:MAX_GIVEN - 1] + "…"


def is_small(box: Box) -> bool:
    """Whether the region is under :data:`SMALL_AREA` of the image: then its zoomed crop is sent too."""
    x1, y1, x2, y2 = box
    return (x2 - x1) * (y2 - y1) < SMALL_AREA * SCALE * SCALE


def as_text(box: Box) -> str:
    """The box as Qwen3-VL writes one: ``{"bbox_2d": [x1, y1, x2, y2]}``."""
    x1, y1, x2, y2 = box
    return f'{{"bbox_2d": [{x1}, {y1}, {x2}, {y2}]}}'


def prompt(box: Box, question: str, zoomed: bool) -> str:
    """The question sent with the image (and its crop, when ``zoomed``): the region first, in the model's own box
    format, then the person's question."""
    text = (f"About the region {as_text(box)} of the image (relative coordinates from 0 to 1000, x1, y1 its top-left "
            "corner and x2, y2 its bottom-right)")
    if zoomed:
        text += "; the second image is this region zoomed in, with a little margin around it"
    return f"{text}:\n{question.strip()}"


def crop(image: Image.Image, box: Box) -> Image.Image:
    """The region of ``image`` with :data:`CROP_MARGIN` around it, enlarged to at least :data:`CROP_MIN_PIXELS`
    (at most :data:`CROP_MAX_UPSCALE` times, never over :data:`IMAGE_MAX_PIXELS`)."""
    w, h = image.size
    x1, y1, x2, y2 = (v / SCALE * size for v, size in zip(box, (w, h, w, h)))
    mx, my = (x2 - x1) * CROP_MARGIN, (y2 - y1) * CROP_MARGIN
    left, top = max(0, math.floor(x1 - mx)), max(0, math.floor(y1 - my))
    right, bottom = min(w, math.ceil(x2 + mx)), min(h, math.ceil(y2 + my))
    right, bottom = max(right, left + 1), max(bottom, top + 1)
    out = image.crop((left, top, right, bottom))
    area = out.width * out.height
    if area < CROP_MIN_PIXELS:  # (enlarged to CROP_MIN_PIXELS at most: well inside IMAGE_MAX_PIXELS)
        scale = min(CROP_MAX_UPSCALE, math.sqrt(CROP_MIN_PIXELS / area))
        size = (max(1, round(out.width * scale)), max(1, round(out.height * scale)))
        out = out.resize(size, Image.Resampling.BICUBIC)
    return out


_FOLDER: list[Path] = []  # (made by the first file written: a process that only imports this makes none)
_FOLDER_LOCK = threading.Lock()


def folder() -> Path:
    """This process's private folder for the files written here, pruned of old files: 0700, with a random name (no
    other local user can read the crops or make the folder first), removed when the app exits, as demo/ui/kept.py's.
    """
    with _FOLDER_LOCK:
        if not _FOLDER:
            _FOLDER.append(Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX)))
            atexit.register(shutil.rmtree, _FOLDER[0], True)
    now = time.time()
    for old in _FOLDER[0].iterdir():
        try:
            if now - old.stat().st_mtime > KEEP_S:
                old.unlink()
        except OSError:  # another request pruned it first
            pass
    return _FOLDER[0]


def crop_file(path: str, box: Box) -> str:
    """The zoomed crop of the image at ``path`` (upright, as the model sees it), written as a JPEG file."""
    out = folder() / f"region-{uuid.uuid4().hex}.jpg"
    crop(load_image(path), box).save(out, quality=92)
    return str(out)


def drawn(image: Image.Image, box: Box) -> Image.Image:
    """An RGB copy of ``image`` at most :data:`SHOWN_MAX_SIDE` large with the box outlined."""
    return _marked(image, box, None)


def _marked(image: Image.Image, box: Box | None, corner: tuple[int, int] | None) -> Image.Image:
    """An RGB copy at most SHOWN_MAX_SIDE large, with the box outlined or else the corner (0-1000) dotted."""
    out = image.convert("RGB")  # a new image: the caller's stays as it was
    if max(out.size) > SHOWN_MAX_SIDE:
        out.thumbnail((SHOWN_MAX_SIDE, SHOWN_MAX_SIDE))  # relative coordinates: the same places
    w, h = out.size
    line, radius = max(2, min(w, h) // 150), max(4, min(w, h) // 80)
    pen = ImageDraw.Draw(out)

    def px(x: int, y: int) -> tuple[int, int]:
        return (min(w - 1, max(0, round_half_up(x / SCALE * w))), min(h - 1, max(0, round_half_up(y / SCALE * h))))

    if box is not None:
        (x1, y1), (x2, y2) = px(box[0], box[1]), px(box[2], box[3])
        pen.rectangle((x1 - line, y1 - line, x2 + line, y2 + line), outline=HALO, width=1)
        pen.rectangle((x1, y1, x2, y2), outline=COLOUR, width=line)
    elif corner is not None:
        x, y = px(*corner)
        pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=COLOUR, outline=HALO)
    return out


_SHOWN: dict[tuple[str, float, Box], str] = {}


def shown(path: str, box: Sequence[int]) -> str:
    """A picture of the image at ``path`` with the box drawn, as a PNG file (made once per image and box, for the
    chat box, which shows it in place of the image); the image's own path when it cannot be read (an upload gone:
    sending the conversation says so).

    Made on a first call only, which decodes the image: blocking work, for a thread (the question's own handler,
    or :func:`conversation.draw_regions` when a conversation is loaded); later calls, the chat box's on the event
    loop included, find it made (an image that could not be read is remembered too)."""
    x1, y1, x2, y2 = (int(v) for v in box)
    key_box: Box = (x1, y1, x2, y2)
    try:
        key = (path, os.path.getmtime(path), key_box)
    except OSError:
        return path
    done = _SHOWN.pop(key, None)
    if done is not None and (done == path or os.path.exists(done)):
        _SHOWN[key] = done  # (last again: the oldest used is forgotten first)
        return done
    try:
        picture = drawn(load_image(path, SHOWN_MAX_SIDE * SHOWN_MAX_SIDE), key_box)
        out = str(folder() / f"shown-{uuid.uuid4().hex}.png")
        picture.save(out)
    except (OSError, ValueError):
        out = path
    if len(_SHOWN) > 256:  # a long-running app forgets the oldest (the files are pruned by age)
        _SHOWN.pop(next(iter(_SHOWN)))
    _SHOWN[key] = out
    return out


def region_turn(path: str, box: Box, question: str, detail: str = DEFAULT_DETAIL, max_pixels: int | None = None
                ) -> dict[str, Any]:
    """The user's turn about a region of the image at ``path``: the image, the zoomed crop when the region is small,
    and the question that names the region; the box kept beside (``region``), for the page to draw it.

    The image goes at its ``detail`` level (issue 29; ``max_pixels``: that level as the context caps it, default
    uncapped), written into its part as ``conversation.image_with_detail`` writes it. The crop goes at "standard"
    whatever the level: it is at most the region's own pixels (enlarged only to the zoom tool's 256 tokens), which
    standard's 1,280 tokens mostly hold whole, and two "high" images of half the context each would leave no room
    for the question and the answer. Raises ``ImageError`` ("bad_detail") for an unknown level.

    A ``conversation.Turn``, written out: conversation.py imports this module (to draw the box), so this one
    does not import it (tests/unit/test_layers.py)."""
    main: dict[str, Any] = {"type": "image", "path": path}
    if detail != DEFAULT_DETAIL:
        main["detail"] = detail
        main["max_pixels"] = detail_pixels(detail) if max_pixels is None else int(max_pixels)  # (checks the level)
    zoomed = is_small(box)
    parts: list = [main] + ([{"type": "image", "path": crop_file(path, box)}] if zoomed else [])
    parts.append({"type": "text", "text": prompt(box, question, zoomed)})
    return {"role": "user", "content": parts, "region": list(box)}


def picture(path: str, box: Box | None = None, corner: Sequence[float] | None = None
            ) -> tuple[str, tuple[int, int]]:
    """The region picker's picture of the image at ``path``: upright, at most :data:`SHOWN_MAX_SIDE` large, with
    the box drawn or the first corner marked (0-1000 coordinates), as a PNG file; and its size in pixels, which
    the picker's clicks are counted in."""
    image = load_image(path, SHOWN_MAX_SIDE * SHOWN_MAX_SIDE)
    if max(image.size) > SHOWN_MAX_SIDE:
        image.thumbnail((SHOWN_MAX_SIDE, SHOWN_MAX_SIDE))
    out = folder() / f"picker-{uuid.uuid4().hex}.png"
    _marked(image, box, None if corner is None else (int(corner[0]), int(corner[1]))).save(out)
    return str(out), image.size


def scaled_point(xy: Sequence[float], size: Sequence[int]) -> tuple[int, int]:
    """A pixel of an image of ``size`` (width, height) on the 0-1000 scale."""
    return _scaled(xy[0], size[0]), _scaled(xy[1], size[1])
