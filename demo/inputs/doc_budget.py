"""Which pages of a document go to the model, and how large, so that they fit the context. Pure: no Gradio.

A question is about one page, a range ("3-7", "1,4,9-12") or the whole document. Each page is an image of at most
:data:`PAGE_MAX_TOKENS` visual tokens (one per 32x32 pixels, ``demo/inputs/images.py``), labelled "Page n:" in the
prompt. When the pages asked for do not fit the context at that size, they are made smaller first, down to
:data:`PAGE_MIN_TOKENS` (about 512 x 724 pixels for A4, where body text is still legible), then fewer: evenly
spread over the pages asked for, the first and the last kept, and the person is told which pages were used. The same
order as a video's frames (``demo/inputs/video_frames.py``: smaller, then fewer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from PIL import Image

from .images import IMAGE_MAX_TOKENS, PATCH_FACTOR, grid_size
from .pdf_pages import DocumentError

PAGE_MAX_TOKENS = IMAGE_MAX_TOKENS  # a page as large as one image of the Image tab
PAGE_MIN_TOKENS = 360  # the floor: smaller pages are not made, fewer are sent
# Per page, besides its image: "Page 12:" and the vision start and end tokens, with room to spare.
PAGE_OVERHEAD_TOKENS = 10
PROMPT_MARGIN_TOKENS = 256  # the chat template and the question (as the video's margin)
SPEC_MAX_CHARS = 200  # a page spec longer than this is refused with a sentence (ranges say any set in far less)
SPEC_MAX_PARTS = 64  # and one of more comma-separated parts
_SPEC = re.compile(r"^\s*(\d+)\s*(?:[-–~]\s*(\d+)\s*)?$")


def page_budget(max_model_len: int, max_answer_tokens: int) -> int:
    """Tokens the pages may take: the context less the answer and a margin for the text."""
    return max_model_len - max_answer_tokens - PROMPT_MARGIN_TOKENS


def parse_pages(spec, count: int) -> tuple[int, ...]:
    """The 1-based pages a spec names: "" or "all" for every page, "3", "3-7", or a list of those ("1, 4, 9-12"),
    in order and without repeats. Raises :class:`DocumentError` ("pdf_bad_pages") otherwise, and
    ("pdf_pages_too_long") for a spec over :data:`SPEC_MAX_CHARS` characters or :data:`SPEC_MAX_PARTS` parts."""
    text = "" if spec is None else str(spec).strip().lower()
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        text = str(int(spec)) if float(spec).is_integer() else "x"
    if text in ("", "all", "whole", "*"):
        return tuple(range(1, count + 1))
    parts = text.split(",")
    if len(text) > SPEC_MAX_CHARS or len(parts) > SPEC_MAX_PARTS:
        raise DocumentError("pdf_pages_too_long", limit=SPEC_MAX_CHARS, parts=SPEC_MAX_PARTS)
    pages: dict[int, None] = {}  # in order, each once (a list's "not in" made "1-2000,"*300 quadratic)
    for part in parts:
        match = _SPEC.match(part)
        if not match:
            raise DocumentError("pdf_bad_pages", count=count)
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) else first
        if not 1 <= first <= last <= count:
            raise DocumentError("pdf_bad_pages", count=count)
        pages.update(dict.fromkeys(range(first, last + 1)))
    return tuple(pages)


def spread(pages: tuple[int, ...], k: int) -> tuple[int, ...]:
    """``k`` of ``pages`` evenly spread, the first and the last among them."""
    if k >= len(pages):
        return pages
    if k <= 1:
        return pages[:1]
    step = (len(pages) - 1) / (k - 1)
    return tuple(pages[round(i * step)] for i in range(k))


def page_size(width: float, height: float, max_pixels: int) -> tuple[int, int]:
    """The size in pixels, on the processor's 32-pixel grid and at most ``max_pixels``, a page of ``width`` x
    ``height`` (any unit: the aspect matters) is sent at: the drawn page is resized to exactly this size
    (:func:`fit_page`), which the server's processor keeps as it is (its ``smart_resize`` rounds each side to the
    nearest multiple of 32: a page sent off the grid could round up, past the tokens counted here)."""
    scale = (max_pixels / max(1e-6, width * height)) ** 0.5
    return grid_size(max(1, round(width * scale)), max(1, round(height * scale)), max_pixels)


def page_tokens(width: float, height: float, max_pixels: int) -> int:
    """Visual tokens of a page of ``width`` x ``height`` sent at ``max_pixels`` (:func:`page_size`'s)."""
    w, h = page_size(width, height, max_pixels)
    return (w // PATCH_FACTOR) * (h // PATCH_FACTOR)


def fit_page(image: Image.Image, width: float, height: float, max_pixels: int) -> Image.Image:
    """A drawn page of ``width`` x ``height`` points resized to exactly :func:`page_size` (what was counted)."""
    target = page_size(width, height, max_pixels)
    return image if image.size == target else image.resize(target, Image.Resampling.LANCZOS)


@dataclass(frozen=True)
class PagePlan:
    """The pages sent (1-based) and their size, of the pages asked for."""

    asked: tuple[int, ...]
    sent: tuple[int, ...]
    max_pixels: int  # each page is drawn at most this large
    tokens: int  # the pages' tokens in the prompt, labels included (an estimate within a few tokens)

    @property
    def dropped(self) -> bool:
        return self.sent != self.asked


def plan_pages(asked: tuple[int, ...], sizes: tuple[tuple[float, float], ...], budget: int) -> PagePlan:
    """Smaller first, then fewer: the largest size (up to :data:`PAGE_MAX_TOKENS` a page) at which every page asked
    for fits ``budget`` tokens; below :data:`PAGE_MIN_TOKENS`, as many pages at that size as fit, evenly spread.
    ``sizes``: every page's (width, height), indexed by page - 1. Raises ``pdf_no_room`` when not one page fits."""
    if not asked:
        raise DocumentError("pdf_bad_pages", count=len(sizes))
    if budget < PAGE_MIN_TOKENS + PAGE_OVERHEAD_TOKENS:
        raise DocumentError("pdf_no_room", budget=max(0, budget))

    def tokens(pages: tuple[int, ...], per_page: int) -> int:
        return sum(page_tokens(*sizes[p - 1], per_page * PATCH_FACTOR * PATCH_FACTOR) + PAGE_OVERHEAD_TOKENS
                   for p in pages)

    per_page = min(PAGE_MAX_TOKENS, budget // len(asked) - PAGE_OVERHEAD_TOKENS)
    sent = asked
    if per_page < PAGE_MIN_TOKENS:  # smaller is not enough: fewer, at the floor
        per_page = PAGE_MIN_TOKENS
        sent = spread(asked, max(1, budget // (PAGE_MIN_TOKENS + PAGE_OVERHEAD_TOKENS)))
    while len(sent) > 1 and tokens(sent, per_page) > budget:  # (grid rounding can overshoot a little)
        sent = spread(asked, len(sent) - 1)
    return PagePlan(asked, sent, per_page * PATCH_FACTOR * PATCH_FACTOR, tokens(sent, per_page))
