"""Qwen3-VL grounding: the question to ask and a lenient reader of the answer (drawn by ``demo/outputs/boxes.py``).

Qwen3-VL answers grounding questions with a JSON list such as ``[{"bbox_2d": [x1, y1, x2, y2], "label": "cup"}]``
or ``[{"point_2d": [x, y], "label": "..."}]``, usually inside a ```json fence, with coordinates relative to the
original image on a 0-1000 scale (QwenLM/Qwen3-VL, cookbooks/2d_grounding.ipynb and spatial_understanding.ipynb).
Pure: no Gradio, no engine.
"""

from __future__ import annotations

import ast
import json
import math
from dataclasses import dataclass
from typing import cast

from .numbers import finite

MAX_OBJECTS = 20
MAX_LABEL = 40
SCALE = 1000
# Inputs past this are cut before scanning: an answer cut by max_tokens is far shorter, and the scan stays linear.
MAX_TEXT = 200_000
# One entry is about 60 characters; longer brace spans are wrappers or garbage and are not worth a json.loads.
MAX_SPAN = 1_000
# Bright, mutually distinct colours (Trubetskoy's palette), none of them grey.
_KINDS = {"boxes": ("bbox_2d", 4), "points": ("point_2d", 2)}


@dataclass(frozen=True)
class Found:
    """One grounded object: a box (x1, y1, x2, y2) or a point (x, y), in 0-1000 coordinates."""

    label: str
    box: tuple[int, int, int, int] | None = None
    point: tuple[int, int] | None = None


def _kind(kind: str) -> tuple[str, int]:
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {sorted(_KINDS)}, not {kind!r}")
    return _KINDS[kind]


def schema(kind: str) -> dict:
    """JSON schema of a grounding answer, for vLLM's structured outputs (plain keywords only, for xgrammar)."""
    key, n = _kind(kind)
    coords = {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": SCALE},
              "minItems": n, "maxItems": n}
    entry = {"type": "object", "properties": {key: coords, "label": {"type": "string", "maxLength": MAX_LABEL}},
             "required": [key, "label"], "additionalProperties": False}
    # At least one: the page always has something to draw (the tiny checkpoint's random weights chose "[]" once in
    # three); a phrase that is not in the image then gets the model's best guess, labelled.
    return {"type": "array", "items": entry, "minItems": 1, "maxItems": MAX_OBJECTS}


def prompt(phrase: str, kind: str) -> str:
    """The question sent with the image, in the cookbook's wording."""
    key, n = _kind(kind)
    what, coords = ("bbox", "x1, y1, x2, y2") if n == 4 else ("point", "x, y")
    return (f'Locate every instance of "{phrase.strip()}" in the image and report {what} coordinates in JSON '
            f'format: [{{"{key}": [{coords}], "label": "..."}}].')


def round_half_up(v: float) -> int:
    return math.floor(v + 0.5)  # half up: round() would send 12.5 to 12 and 13.5 to 14


def _coords(value, n: int) -> tuple[int, ...] | None:
    """``n`` finite numbers, rounded and clamped to 0..1000; None for any other shape."""
    if not isinstance(value, (list, tuple)) or len(value) != n:
        return None
    numbers = [finite(v) for v in value]
    if None in numbers:
        return None
    return tuple(min(SCALE, max(0, round_half_up(v))) for v in cast("list[float]", numbers))  # None is out


def _found(entry: dict) -> Found | None:
    box, point = _coords(entry.get("bbox_2d"), 4), _coords(entry.get("point_2d"), 2)
    if box is None and point is None:
        return None
    if box is not None:
        x1, y1, x2, y2 = box
        box = (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))
    label = entry.get("label")
    label = " ".join(label.split())[:MAX_LABEL].strip() if isinstance(label, str) else ""
    return Found(label, box, cast("tuple[int, int] | None", point))  # _coords(..., 2): two numbers


def load_span(span: str):
    """One ``{...}`` span read as JSON, else as a Python literal; None for neither. :func:`parse` reads through it."""
    try:
        return json.loads(span, strict=False)  # xgrammar lets control characters (a tab) into strings
    except (ValueError, RecursionError):
        pass
    try:  # Python-style dicts: single quotes, trailing commas (the cookbook falls back to literal_eval too)
        return ast.literal_eval(span)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def parse(text: str) -> list[Found]:
    """Every complete ``{...}`` entry with a well-shaped bbox_2d or point_2d, wherever it sits; never raises.

    Fences, prose, a lone object, a list, a wrapper object: all are scanned the same way, brace by brace, so
    an answer cut by max_tokens keeps its complete entries and loses only the broken tail.
    """
    if not isinstance(text, str):
        return []
    text = text[:MAX_TEXT]
    # Characters handed to the JSON reader, in all: nested braces would otherwise have every span of up to MAX_SPAN
    # read again at each closing brace (200,000 characters of them took 24 s of CPU, issue 26). A real answer's
    # entries and wrapper come to about twice its length.
    budget = 2 * len(text) + MAX_SPAN
    found: list[Found] = []
    opens: list[int] = []
    in_string = escaped = False
    for i, ch in enumerate(text):
        if in_string:  # strings are tracked only inside braces: quotes in the prose around do not count
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"' and opens:
            in_string = True
        elif ch == "{":
            opens.append(i)
        elif ch == "}" and opens:
            span = text[opens.pop():i + 1]
            if len(span) <= MAX_SPAN and ("bbox_2d" in span or "point_2d" in span):
                budget -= len(span)
                if budget < 0:
                    break
                entry = load_span(span)
                item = _found(entry) if isinstance(entry, dict) else None
                if item is not None:
                    found.append(item)
                    if len(found) == MAX_OBJECTS:
                        break
    return found


def as_json(found: list[Found]) -> list[dict]:
    """The cookbook's shape again, ``{"bbox_2d": [...], "label": ...}`` or ``{"point_2d": [...], ...}``."""
    out = []
    for item in found:
        entry = {}
        if item.box is not None:
            entry["bbox_2d"] = list(item.box)
        if item.point is not None:
            entry["point_2d"] = list(item.point)
        if entry:
            out.append({**entry, "label": item.label})
    return out
