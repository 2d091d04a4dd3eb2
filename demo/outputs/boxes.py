"""Boxes and points found by grounding (``demo/inputs/grounding.py``), drawn on the image at its own size, each
labelled in its own colour. Pure: no Gradio, no engine."""

from __future__ import annotations

from typing import cast

from PIL import Image, ImageDraw, ImageFont

from ..inputs.grounding import SCALE, Found, round_half_up

PALETTE = ((230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
           (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212))


def to_pixels(found: Found, width: int, height: int) -> tuple[int, ...]:
    """The box (x1, y1, x2, y2), or else the point (x, y), in pixels of a width x height image, inside it."""
    coords = found.box if found.box is not None else found.point
    if coords is None:
        raise ValueError("a Found needs a box or a point")
    sizes = (width, height) * (len(coords) // 2)
    return tuple(min(size - 1, max(0, round_half_up(v / SCALE * size))) for v, size in zip(coords, sizes))


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # Pillow before 10.1, or without FreeType: one bitmap size only
        return ImageFont.load_default()


def _text_box(pen: ImageDraw.ImageDraw, text: str, font) -> tuple[int, int, int, int]:
    """Width and height of the label with its padding, and the offset PIL's text box starts at."""
    # (typed as floats: whole pixels for a text placed at whole pixels)
    left, top, right, bottom = cast("tuple[int, int, int, int]", pen.textbbox((0, 0), text, font=font))
    return right - left + 4, bottom - top + 4, left, top


def _label(pen: ImageDraw.ImageDraw, text: str, anchor: tuple[int, int], colour, font, size) -> None:
    """The text on a filled background of the object's colour, its top-left at anchor, kept inside the image."""
    w, h, left, top = _text_box(pen, text, font)
    x = max(0, min(anchor[0], size[0] - w))
    y = max(0, min(anchor[1], size[1] - h))
    ink = (0, 0, 0) if 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2] > 140 else (255, 255, 255)
    pen.rectangle((x, y, x + w - 1, y + h - 1), fill=colour)
    pen.text((x + 2 - left, y + 2 - top), text, fill=ink, font=font)


def draw(image: Image.Image, found: list[Found]) -> Image.Image:
    """A new RGB copy of the image with each box outlined, each point dotted, each labelled in its own colour."""
    out = image.convert("RGB")  # convert always returns a new image, so the caller's is left as it was
    w, h = out.size
    line, radius = max(2, min(w, h) // 150), max(4, min(w, h) // 80)
    font = _font(max(12, min(w, h) // 40))
    pen = ImageDraw.Draw(out)
    shapes = []
    for i, item in enumerate(f for f in found if f.box is not None or f.point is not None):
        colour = PALETTE[i % len(PALETTE)]
        px = to_pixels(item, w, h)
        shapes.append((px, colour))
        if not item.label:
            continue
        if item.box is not None:
            label_h = _text_box(pen, item.label, font)[1]
            # Just above the box when there is room, else inside it below the top edge.
            anchor = (px[0], px[1] - label_h) if px[1] >= label_h else (px[0] + line, px[1] + line)
        else:
            anchor = (px[0] + radius + 2, px[1] - radius)
        _label(pen, item.label, anchor, colour, font, (w, h))
    # Shapes go on after every label, so no label hides an outline (its corners included) or a dot.
    for px, colour in shapes:
        if len(px) == 4:
            pen.rectangle(px, outline=colour, width=line)
        else:
            x, y = px
            pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour, outline=(255, 255, 255))
    return out
