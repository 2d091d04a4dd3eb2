"""The times Qwen3-VL is told for a video's frames, the times it writes back, and "moments" asked as JSON.

Qwen3-VL's processor writes ``<12.5 seconds>`` before each pair of frames (temporal patch 2); the time is the
mean of the pair's first and last frame, from the original frame indices and fps (``_calculate_timestamps``
in transformers' ``processing_qwen3_vl.py`` and vLLM's ``models/qwen3_vl.py``). Answers echo those times in
several forms (``12.5 seconds``, ``00:12``, ``1:02:03``); :func:`find_times` finds them, and ``demo/outputs/seek.py``
turns them into chips that seek the video. Stdlib only: the page and the tests import it without a model.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

from .numbers import finite

TEMPORAL_PATCH = 2
MAX_MOMENTS = 12
LABEL_MAX = 60
DURATION_SLACK = 0.5  # a time this far past the end still seeks (to the end): labels are rounded to 0.1 s


def pair_times(indices: list[int] | tuple[int, ...], fps: float, merge: int = TEMPORAL_PATCH) -> list[float]:
    """One time per group of ``merge`` frames, as the processors compute it (last index repeated to pad)."""
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    idx = list(indices)
    if idx and len(idx) % merge:
        idx += [idx[-1]] * (merge - len(idx) % merge)
    t = [i / fps for i in idx]
    return [(t[i] + t[i + merge - 1]) / 2 for i in range(0, len(t), merge)]


def frame_times(indices: list[int] | tuple[int, ...], fps: float) -> list[float]:
    """One time per frame: the time the model was told for the frame's pair."""
    pairs = pair_times(indices, fps)
    return [pairs[k // TEMPORAL_PATCH] for k in range(len(indices))]


def frame_labels(indices: list[int] | tuple[int, ...], fps: float) -> list[str]:
    """One label per frame, rounded as the model sees it: ``"12.5 s"``."""
    return [f"{t:.1f} s" for t in frame_times(indices, fps)]


def prompt_label(t: float) -> str:
    """The exact text the processor puts before a pair of frames."""
    return f"<{t:.1f} seconds>"


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    seconds: float


_NUM = r"\d+(?:\.\d+)?"
_UNIT = r"(?:seconds?|secs?|s)(?!\w)"
_TIME_RE = re.compile(
    # a range whose unit comes only after the second number: "3.0-5.5 seconds", "from 3 to 5 s"
    rf"(?<![\w.,:/-])(?P<r1>{_NUM})[ \t]*(?:-|–|—|to|and|until)[ \t]*(?P<r2>{_NUM})[ \u00a0]?{_UNIT}"
    # h:mm:ss(.ff) and m:ss(.ff); never followed by another ":x" or ",d" (timecodes, subtitle commas)
    rf"|(?<![\w.:])(?P<h>\d{{1,2}}):(?P<hm>[0-5]\d):(?P<hs>[0-5]\d(?:\.\d+)?)(?![\w:]|[.,]\d)"
    rf"|(?<![\w.:])(?P<m>\d{{1,2}}):(?P<ms>[0-5]\d(?:\.\d+)?)(?![\w:]|[.,]\d)"
    # a number with a unit, optionally in the prompt's own "<12.5 seconds>"
    rf"|(?P<lt><)?(?<![\w.,:/-])(?P<n>{_NUM})(?P<sp>[ \u00a0])?(?P<u>{_UNIT})(?(lt)>)",
    re.IGNORECASE,
)


def find_times(text: str) -> list[Span]:
    """Times written in ``text`` (seconds with a unit, clock forms, ranges), in order and never overlapping."""
    spans: list[Span] = []
    for m in _TIME_RE.finditer(text):
        if m["r1"] is not None:
            spans.append(Span(m.start("r1"), m.end("r1"), float(m["r1"])))
            spans.append(Span(m.start("r2"), m.end(), float(m["r2"])))
        elif m["h"] is not None:
            spans.append(Span(m.start(), m.end(), int(m["h"]) * 3600 + int(m["hm"]) * 60 + float(m["hs"])))
        elif m["m"] is not None:
            spans.append(Span(m.start(), m.end(), int(m["m"]) * 60 + float(m["ms"])))
        elif not (m["sp"] is None and m["u"].lower() == "s" and re.fullmatch(r"\d{3}0", m["n"])):
            spans.append(Span(m.start(), m.end(), float(m["n"])))  # (the skipped case is a decade: "1990s")
    return spans


def nearest_frame(seconds: float, times: list[float]) -> int | None:
    """Index of the frame whose time is closest to ``seconds`` (the first on a tie); None without frames."""
    if not times:
        return None
    return min(range(len(times)), key=lambda k: abs(times[k] - seconds))


def clock(seconds: float) -> str:
    """``m:ss.f`` (``h:mm:ss.f`` from an hour), rounded half up to a tenth: 75.25 -> ``1:15.3``."""
    tenths = math.floor(max(0.0, seconds) * 10 + 0.5)
    h, rest = divmod(tenths, 36000)
    m, t = divmod(rest, 600)
    sec = f"{t // 10:02d}.{t % 10}"
    return f"{h}:{m:02d}:{sec}" if h else f"{m}:{sec}"


@dataclass(frozen=True)
class Moment:
    seconds: float
    label: str


def moments_schema(duration: float) -> dict:
    """JSON schema for the moments answer, in keywords every structured-output backend knows."""
    top = math.ceil(round(max(0.0, duration) * 10, 6)) / 10  # round first: 12.3 * 10 is 123.00000000000001
    item = {
        "type": "object",
        "properties": {"time": {"type": "number", "minimum": 0, "maximum": top},
                       "label": {"type": "string", "maxLength": LABEL_MAX}},
        "required": ["time", "label"],
        "additionalProperties": False,
    }
    # At least one: there is always a time to click, with a weak model too.
    return {"type": "array", "items": item, "minItems": 1, "maxItems": MAX_MOMENTS}


def moments_prompt(phrase: str) -> str:
    """The question that asks for the moments matching ``phrase``."""
    phrase = " ".join(phrase.split())
    return (f'Find the moments in the video where "{phrase}". '
            'Answer in JSON: [{"time": seconds from the start, "label": "what happens"}].')


_TIME_KEYS = ("time", "timestamp", "seconds", "start")
_OPEN_RE = re.compile(r"[\[{]")


def _dicts(obj):
    """The objects inside a decoded answer that look like moments, at any depth ({"moments": [...]} too)."""
    if isinstance(obj, dict):
        if any(k in obj for k in _TIME_KEYS):
            yield obj
        else:
            for v in obj.values():
                yield from _dicts(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _dicts(v)


def _decoded(text: str):
    """Every JSON value that decodes from a '[' or '{' in ``text``; a truncated array still yields its
    complete objects, because after a failure the scan goes on at the next bracket."""
    decoder, i = json.JSONDecoder(strict=False), 0  # xgrammar lets control characters (a tab) into strings
    while (m := _OPEN_RE.search(text, i)) is not None:
        try:
            obj, i = decoder.raw_decode(text, m.start())
        except ValueError:
            i = m.start() + 1
            continue
        except RecursionError:  # "[[[[...": retrying at each bracket would take seconds; keep what we have
            return
        yield obj


def _seconds(value) -> float | None:
    """A moment's time: a number, a string in any form :func:`find_times` reads, or a bare numeric string."""
    if isinstance(value, str):
        spans = find_times(value)
        try:
            value = spans[0].seconds if spans else float(value)
        except ValueError:
            return None
    return finite(value)


def parse_moments(text: str, duration: float | None) -> list[Moment]:
    """Moments from a model's answer, leniently (fences, truncation, "00:12" strings); never raises."""
    try:
        found: list[Moment] = []
        for d in (d for obj in _decoded(str(text)) for d in _dicts(obj)):
            t = _seconds(next(d[k] for k in _TIME_KEYS if k in d))
            if t is None:
                continue
            t = max(0.0, t if duration is None else min(t, float(duration)))
            label = d.get("label")
            found.append(Moment(t, label.strip()[:LABEL_MAX] if isinstance(label, str) else ""))
            if len(found) == MAX_MOMENTS:
                break
        return sorted(found, key=lambda m: m.seconds)
    except Exception:  # a malformed answer must never break the page
        return []
