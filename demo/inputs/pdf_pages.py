"""PDF files for the Document tab and ``/describe_document``: opened safely, pages rendered to images. Pure: no Gradio.

The renderer is PDFium, Chrome's own, through pypdfium2 (requirements/app.in says why that one). PDFium is a C
library reading whatever a visitor uploads, so every open and render runs in a child process with a deadline, as
:func:`demo.inputs.video_frames.read_clip` reads clips, for three reasons:

- a damaged or hostile file can hang the parser or crash it; a thread can be neither interrupted nor survive a
  crash (a segmentation fault would take the whole app down), a child is killed or dies alone;
- PDFium is not thread-safe (pypdfium2's documentation: no concurrent calls from several threads); one child per
  request needs no lock, so two visitors' documents render at once;
- the memory a render takes goes back to the system when the child ends.

The cost is a fork from the app's forkserver (milliseconds) and pypdfium2's import there (about 60 ms). Only what
is asked is read: a document's page count and page sizes (cheap, no page drawn), and the pages asked for.

Limits, each with its sentence (``demo/errors.py``, keys ``pdf_*``): an empty file, a file that is not a PDF, a
damaged one, one protected by a password, more than :data:`MAX_PAGES` pages, a page larger than a PDF page may be
(:data:`MAX_PAGE_POINTS`, a page bomb: 200,000 points a side is 70 metres), a page too long and narrow for the
model's processor, and a file that takes longer than the deadline. Every page is drawn at most
:data:`RENDER_MAX_PIXELS` large, whatever its size.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserFacingError
from .video_frames import _context as _child_context  # the app's one forkserver (its preload: numpy, PIL)

MAX_PAGES = 2000  # longer documents are refused: a question reaches a few dozen pages at most anyway
# PDF 1.7 (ISO 32000-1, Annex C.2): a page is at most 14,400 x 14,400 units (200 inches) a side; larger ones are
# made to exhaust whoever draws them (a page bomb) and are refused, by name.
MAX_PAGE_POINTS = 14_400
MIN_PAGE_POINTS = 1  # a page with no area: nothing to draw
# Qwen's image processor refuses an image whose sides differ more than 200 times (smart_resize's MAX_RATIO).
MAX_ASPECT = 200
RENDER_MAX_PIXELS = 4_000_000  # a page drawn for the page view (about 1,700 x 2,300 for A4); the model gets less
MAX_DPI = 300  # a small page (a label, a card) is not drawn larger than this resolution
THUMB_PIXELS = 160 * 220  # a page of the strip
STRIP_MAX_PAGES = 60  # pages shown in the strip; any page of a longer document is still asked about by number
READ_TIMEOUT_S = 60.0  # per read (open, sizes, the pages asked): a file that takes longer is stopped


class DocumentError(UserFacingError):
    """A PDF, or a page of it, that cannot be used as given."""


@dataclass(frozen=True)
class PdfInfo:
    """What a read tells of the whole document without drawing it."""

    name: str
    page_count: int
    sizes: tuple[tuple[float, float], ...]  # (width, height) in points (1/72 inch) of every page, rotation applied


def sniff(path: str) -> None:
    """Refuse an empty file and one that is not a PDF by its first bytes, before PDFium sees it."""
    name = Path(path).name
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(1024)
    except OSError as exc:
        raise DocumentError("pdf_missing") from exc
    if size == 0:
        raise DocumentError("pdf_empty", name=name)
    if b"%PDF-" not in head:  # (readers accept the header anywhere in the first 1,024 bytes)
        raise DocumentError("pdf_not_pdf", name=name)


def render_scale(width: float, height: float, max_pixels: int) -> float:
    """Pixels per point that draw a page of ``width`` x ``height`` points in at most ``max_pixels`` pixels, and no
    finer than :data:`MAX_DPI`."""
    scale = min(MAX_DPI / 72, math.sqrt(max_pixels / max(1e-6, width * height)))
    while scale > 1e-4 and math.ceil(width * scale) * math.ceil(height * scale) > max_pixels:
        scale *= 0.995  # PDFium rounds each side up
    return scale


def check_page(number: int, width: float, height: float) -> None:
    """Refuse a page (1-based ``number``) that is larger than a PDF page may be, has no area, or is too narrow."""
    if not (math.isfinite(width) and math.isfinite(height)) or max(width, height) > MAX_PAGE_POINTS:
        raise DocumentError("pdf_page_too_large", page=number, width=width, height=height, limit=MAX_PAGE_POINTS)
    if min(width, height) < MIN_PAGE_POINTS or max(width, height) / min(width, height) > MAX_ASPECT:
        raise DocumentError("pdf_page_shape", page=number, width=width, height=height)


def _open(path: str, name: str):
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        pdf = pdfium.PdfDocument(Path(path))
    except pdfium.PdfiumError as exc:
        if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
            raise DocumentError("pdf_encrypted", name=name) from None
        raise DocumentError("pdf_damaged", name=name) from None
    return pdf


def read_in_child(path: str, pages: Sequence[int] | None, max_pixels: int, max_pages: int = MAX_PAGES,
                  skip_bad: bool = False):
    """Open, check, size and draw: the work of the child (also callable in-process, for the unit tests).
    Returns (:class:`PdfInfo`, [(1-based page, HxWx3 uint8 array)], [(code, fields) of pages left out]); with
    ``skip_bad`` a page too large or too narrow is left out (the strip), else it is refused. ``pages`` None: the
    strip's."""
    import numpy as np

    name = Path(path).name
    sniff(path)
    pdf = _open(path, name)
    try:
        count = len(pdf)
        if count < 1:
            raise DocumentError("pdf_damaged", name=name)
        if count > max_pages:  # said before any page is looked at
            raise DocumentError("pdf_too_many_pages", name=name, pages=count, limit=max_pages)
        sizes = []
        for i in range(count):
            try:
                sizes.append(tuple(float(v) for v in pdf.get_page_size(i)))
            except Exception:  # noqa: BLE001 (PdfiumError, or a ctypes failure on a broken page tree)
                raise DocumentError("pdf_damaged", name=name) from None
        drawn, skipped = [], []
        for number in strip_pages(count) if pages is None else pages:
            if not 1 <= number <= count:
                raise DocumentError("pdf_bad_pages", count=count)
            width, height = sizes[number - 1]
            try:
                check_page(number, width, height)
            except DocumentError as exc:
                if not skip_bad:
                    raise
                skipped.append((exc.code, exc.fields))
                continue
            try:
                page = pdf[number - 1]
                try:
                    # Drawn at the size the page's area allows; forms are drawn as they look (no form environment:
                    # no JavaScript runs, PDFium's XFA is not loaded).
                    bitmap = page.render(scale=render_scale(width, height, max_pixels), may_draw_forms=False,
                                         fill_color=(255, 255, 255, 255))
                    image = bitmap.to_pil().convert("RGB")
                finally:
                    page.close()
            except DocumentError:
                raise
            except Exception:  # noqa: BLE001 (a page PDFium cannot load or draw)
                raise DocumentError("pdf_damaged", name=name) from None
            drawn.append((number, np.asarray(image)))
        return PdfInfo(name, count, tuple(sizes)), drawn, skipped  # type: ignore[arg-type]  # pairs of floats
    finally:
        pdf.close()


def _child(conn, path: str, pages: list[int], max_pixels: int, max_pages: int, skip_bad: bool) -> None:
    """In the child: read and send ("ok", info, pages, skipped) or ("error", code, fields)."""
    try:
        conn.send(("ok", *read_in_child(path, pages, max_pixels, max_pages, skip_bad)))
    except DocumentError as exc:
        conn.send(("error", exc.code, exc.fields))
    except Exception:  # noqa: BLE001 (anything else a hostile file makes happen)
        conn.send(("error", "pdf_damaged", {"name": Path(path).name}))
    finally:
        conn.close()


def read_pdf(path: str, pages: Sequence[int] = (), max_pixels: int = RENDER_MAX_PIXELS, *,
             timeout: float = READ_TIMEOUT_S, max_pages: int = MAX_PAGES,
             cancelled: threading.Event | None = None):
    """The document's :class:`PdfInfo` and its ``pages`` (1-based) drawn as [(page, RGB PIL image)] of at most
    ``max_pixels``, read in a child process killed after ``timeout`` seconds (``pdf_too_slow``) or when
    ``cancelled`` is set (from ``Engines.run_blocking``: the request is gone). Raises :class:`DocumentError`."""
    info, drawn, _ = _read(path, pages, max_pixels, timeout, max_pages, False, cancelled)
    return info, drawn


def read_strip(path: str, *, timeout: float = READ_TIMEOUT_S, max_pages: int = MAX_PAGES,
               cancelled: threading.Event | None = None):
    """The document's :class:`PdfInfo`, the strip's thumbnails as [(page, image)], and a :class:`DocumentError`
    for each page left out (too large or too narrow to draw), in one read."""
    info, drawn, skipped = _read(path, None, THUMB_PIXELS, timeout, max_pages, True, cancelled)
    return info, drawn, [DocumentError(code, **fields) for code, fields in skipped]


def _read(path: str, pages, max_pixels: int, timeout: float, max_pages: int, skip_bad: bool,
          cancelled: threading.Event | None):
    from PIL import Image

    if not path:
        raise DocumentError("pdf_missing")
    sniff(path)  # here too: the common mistakes need no child
    ctx = _child_context()
    receiver, sender = ctx.Pipe(duplex=False)
    wanted = None if pages is None else [int(p) for p in pages]
    proc = ctx.Process(target=_child, args=(sender, str(path), wanted, int(max_pixels), int(max_pages), skip_bad),
                       name="pdf-reader", daemon=True)
    proc.start()
    sender.close()  # the child holds the only writer: its death is an end-of-file here
    deadline = time.monotonic() + timeout
    try:
        while not receiver.poll(0.2):
            if cancelled is not None and cancelled.is_set():
                raise DocumentError("pdf_too_slow", seconds=timeout)  # no one reads it: the request is gone
            if time.monotonic() > deadline:
                raise DocumentError("pdf_too_slow", seconds=timeout)
        try:
            result = receiver.recv()
        except (EOFError, OSError):  # the child died without answering (PDFium crashed on it)
            raise DocumentError("pdf_damaged", name=Path(path).name) from None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(10)
        receiver.close()
    if result[0] == "error":
        raise DocumentError(result[1], **result[2])
    _, info, drawn, skipped = result
    return info, [(number, Image.fromarray(array)) for number, array in drawn], skipped


def strip_pages(count: int) -> list[int]:
    """The pages the strip shows: the first :data:`STRIP_MAX_PAGES`."""
    return list(range(1, min(count, STRIP_MAX_PAGES) + 1))
