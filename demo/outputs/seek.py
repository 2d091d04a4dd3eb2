"""An answer about a video as HTML whose times are buttons that seek the player (the page's script makes them seek);
the moments found as the same buttons. Stdlib only."""

from __future__ import annotations

import html

from ..inputs.video_times import DURATION_SLACK, Moment, clock, find_times, nearest_frame


def _number(x: float) -> str:
    """A plain decimal for an attribute: no exponent, no trailing zeros."""
    return f"{x:.3f}".rstrip("0").rstrip(".")


def _chip(seconds: float, text: str, frame_times: list[float] | None) -> str:
    frame = nearest_frame(seconds, frame_times or [])
    attr = "" if frame is None else f' data-frame="{frame}"'
    return (f'<button type="button" class="seek-chip" data-seek="{_number(seconds)}"{attr}>'
            f"{html.escape(text)}</button>")


def _text(s: str) -> str:
    return html.escape(s).replace("\r\n", "\n").replace("\n", "<br>")


def seek_html(text: str, frame_times: list[float] | None = None, duration: float | None = None) -> str:
    """The answer as escaped HTML with each time in it a ``seek-chip`` button; line breaks become ``<br>``.

    The buttons carry ``data-seek`` (seconds) and ``data-frame`` (nearest frame); the page's script makes
    them seek, not this module. Times past ``duration`` (plus slack) stay plain text.
    """
    out, pos = [], 0
    for span in find_times(text):
        if duration is not None and span.seconds > duration + DURATION_SLACK:
            continue
        out += [_text(text[pos:span.start]), _chip(span.seconds, text[span.start:span.end], frame_times)]
        pos = span.end
    out.append(_text(text[pos:]))
    return "".join(out)


def moments_html(moments: list[Moment], frame_times: list[float] | None = None) -> str:
    """A seek chip per moment, ``m:ss.f label``."""
    return " ".join(_chip(m.seconds, f"{clock(m.seconds)} {m.label}".rstrip(), frame_times) for m in moments)
