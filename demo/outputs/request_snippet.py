""""Show request": the app's request to the model server, as a Python script and as a ``curl`` command.

Both are rendered from the very arguments the app passed to ``client.chat.completions.create``
(:func:`demo.engines.client.request_kwargs`, kept with the answer's stats), so what a person copies is what
was sent. Images and video frames travel as data URLs of hundreds of kilobytes: the script reads them from
files (:func:`media_files` gives the names and bytes) and the curl body shows a placeholder that says what was
there. Neither names the server's address or key (docs/SECURITY.md: the page shows no address of this
machine): the script and the command read ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` with local defaults.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, cast

from PIL import Image

from ..inputs.images import seen_size
from ..inputs.numbers import finite

BASE_URL_DEFAULT = "http://localhost:8085/v1"
WIDTH = 100  # the width the Python literals are folded to
# A data URL as the app writes it; the payload is checked when it is decoded.
_DATA_URL = re.compile(r"data:([\w.+-]+/[\w.+-]+);base64,(.*)", re.DOTALL)
_SUFFIX = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif", "image/bmp": "bmp"}
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_KINDS: dict[Any, str] = {"image_url": "image", "video_url": "video"}  # OpenAI content part type -> our kind


@dataclass(frozen=True)
class Media:
    """One image or video of a request: the variable the script names it by, and what it held."""

    name: str  # IMAGE_1, VIDEO_1: the script's variable and the curl body's placeholder
    kind: str  # "image" or "video"
    url: str = field(repr=False)  # the data URL as sent
    mime: str  # of the image, or of each frame of a video (vLLM's video/jpeg is a list of JPEG frames)
    size: tuple[int, int] | None  # (width, height) of the image or first frame, from the data's header
    nbytes: int  # decoded bytes, all frames together
    files: tuple[tuple[str, bytes], ...] = field(repr=False)  # (file name the script reads, its bytes)
    fps: float | None = None  # a video's timing as sent (media_io_kwargs): the rate its frame indices count in
    span: tuple[float, float] | None = None  # the first and last frame's time in the video, s
    total_frames: int | None = None  # of the source video, as sent

    @property
    def frames(self) -> int:
        return len(self.files)

    def what(self) -> str:
        """A short description: "1024×768 JPEG, 143 KB", "32 JPEG frames of 640×360, 1.2 MB"."""
        fmt = self.mime.split("/")[-1].upper()
        pixels = f"{self.size[0]}×{self.size[1]}" if self.size else "unknown size"
        if self.kind == "video":
            return f"{self.frames} {fmt} frames of {pixels}, {human_bytes(self.nbytes)}"
        return f"{pixels} {fmt}, {human_bytes(self.nbytes)}"

    def placeholder(self) -> str:
        """The string that stands for the data URL in the curl body."""
        article = "" if self.kind == "video" else "a "
        return f"<{self.name}: data URL of {article}{self.what()}>"

    def comment(self) -> str:
        """What the script says above the variable: kind, pixel size, bytes and, for a video, its timing."""
        text = f"{self.kind}: {self.what()} ({self.nbytes:,} bytes)"
        if self.kind == "image" and self.size:  # what the model sees of it (issue 29: the image's detail)
            seen = seen_size(*self.size, max_pixels=self.size[0] * self.size[1])
            text += f"; the model sees {seen.width}×{seen.height}, {seen.tokens:,} visual tokens"
        if self.fps:
            text += f"; timing sent: {self.fps:g} fps"
            if self.span is not None:
                text += f", {self.span[0]:.2f}–{self.span[1]:.2f} s of the video"
            if self.total_frames:
                text += f" ({self.total_frames} frames in all)"
        return text


def human_bytes(n: int) -> str:
    if n < 1000:
        return f"{n} bytes"
    if n < 1_000_000:
        return f"{n / 1000:.0f} KB"
    return f"{n / 1_000_000:.1f} MB"


def _decode(payload: str) -> bytes | None:
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None


def _pixel_size(data: bytes | None) -> tuple[int, int] | None:
    """(width, height) from the image's header; nothing is decoded."""
    if not data:
        return None
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except Exception:  # noqa: BLE001 - anything PIL raises on foreign data: the size is then just unknown
        return None


def _media_urls(messages) -> list[tuple[str, str]]:
    """(kind, data URL) of every image and video part, in message order, each URL once."""
    seen: dict[str, str] = {}
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else []:
            kind = _KINDS.get(part.get("type")) if isinstance(part, dict) else None
            holder = part.get(part["type"]) if kind else None
            url = holder.get("url") if isinstance(holder, dict) else None
            if isinstance(url, str) and _DATA_URL.match(url) and url not in seen:
                seen[url] = cast(str, kind)  # a URL only where kind was found
    return [(kind, url) for url, kind in seen.items()]


def _video_timing(kwargs: dict) -> dict:
    extra = kwargs.get("extra_body") or {}
    video = (extra.get("media_io_kwargs") or {}).get("video") if isinstance(extra, dict) else None
    return video if isinstance(video, dict) else {}


def describe_media(kwargs: dict) -> list[Media]:
    """The data-URL images and videos of a request, named IMAGE_1, IMAGE_2, ..., VIDEO_1 in the order they come.

    A URL sent twice (the same image in two turns) is one variable. A video's timing is the request's
    ``media_io_kwargs["video"]`` (the app sends one video per request).
    """
    counts = {"image": 0, "video": 0}
    timing = _video_timing(kwargs)
    out = []
    for kind, url in _media_urls(kwargs.get("messages")):
        counts[kind] += 1
        n = counts[kind]
        mime, payload = cast("re.Match[str]", _DATA_URL.match(url)).groups()  # _media_urls kept matching ones
        if kind == "video":
            out.append(_video(f"VIDEO_{n}", url, mime, payload.split(","), timing, n))
        else:
            data = _decode(payload) or b""
            files = ((f"image-{n}.{_SUFFIX.get(mime, 'bin')}", data),)
            out.append(Media(f"IMAGE_{n}", "image", url, mime, _pixel_size(data), len(data), files))
    return out


def _video(name: str, url: str, mime: str, payloads: list[str], timing: dict, n: int) -> Media:
    frames = [_decode(p) or b"" for p in payloads]
    # vLLM reads data:video/jpeg as JPEG frames; the files are named for the frames' own type
    frame_mime = "image/jpeg" if mime == "video/jpeg" else mime
    digits = _frame_digits(len(frames))
    files = tuple((f"video-{n}-frame-{i:0{digits}d}.{_SUFFIX.get(frame_mime, 'bin')}", data)
                  for i, data in enumerate(frames, 1))
    fps = _number(timing.get("fps"))
    indices = timing.get("frames_indices")
    span = None
    if fps and isinstance(indices, list) and indices and all(_number(i) is not None for i in indices):
        span = (indices[0] / fps, indices[-1] / fps)
    total = timing.get("total_num_frames")
    return Media(name, "video", url, frame_mime, _pixel_size(frames[0]), sum(map(len, frames)), files,
                 fps=fps, span=span, total_frames=total if isinstance(total, int) else None)


def _frame_digits(count: int) -> int:
    """Digits of a frame file's number: 001 up to 999 frames, so that the names sort in order."""
    return max(3, len(str(count)))


def _number(value) -> float | None:
    return finite(value)


def media_files(kwargs: dict) -> dict[str, bytes]:
    """The files the Python script reads (``image-1.jpg``, ``video-1-frame-001.jpg``, ...), with their bytes."""
    return {name: data for media in describe_media(kwargs) for name, data in media.files}


# ---- Python ------------------------------------------------------------------------------------------------


class _Code:
    """A piece of Python source placed in a literal as it is (a variable name, ``float("nan")``)."""

    def __init__(self, source: str):
        self.source = source


def substitute(value, by_url: dict[str, object]):
    """``value`` with every data URL replaced by ``by_url``'s stand-in (and non-finite floats made writable)."""
    if isinstance(value, str):
        return by_url.get(value, value)
    if isinstance(value, dict):
        return {k: substitute(v, by_url) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [substitute(v, by_url) for v in value]
    if isinstance(value, float) and not math.isfinite(value):  # repr gives nan/inf, which Python cannot read
        return _Code(f'float("{value}")')
    return value


def py_literal(value, level: int = 0) -> str:
    """Valid, readable Python for a JSON-like value: on one line when it fits, else one item a line, indented."""
    if isinstance(value, _Code):
        return value.source
    if isinstance(value, str):
        return _py_str(value, level)
    if isinstance(value, dict):
        items = [f"{py_literal(k)}: {py_literal(v, level + 1)}" for k, v in value.items()]
        return _fold("{", items, "}", level)
    if isinstance(value, (list, tuple)):
        return _fold("[", [py_literal(v, level + 1) for v in value], "]", level)
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    raise TypeError(f"not a JSON-like value: {type(value).__name__}")


def _fold(opening: str, items: list[str], closing: str, level: int) -> str:
    inline = opening + ", ".join(items) + closing
    if "\n" not in inline and len(inline) + 4 * level <= WIDTH:
        return inline
    pad = "    " * (level + 1)
    return opening + "\n" + "".join(f"{pad}{item},\n" for item in items) + "    " * level + closing


def _py_str(text: str, level: int) -> str:
    """``repr`` (quotes, escapes, unicode all handled by Python itself); a long text of several lines becomes
    one literal a line, in parentheses (adjacent literals are one string)."""
    whole = repr(text)
    lines = text.splitlines(keepends=True)
    if len(whole) + 4 * level <= WIDTH or len(lines) < 2:
        return whole
    pad = "    " * (level + 1)
    return "(\n" + "".join(f"{pad}{line!r}\n" for line in lines) + "    " * level + ")"


_HELPERS = '''\
def data_url(path: str, mime: str = "image/jpeg") -> str:
    """A file as a data: URL, as the demo sends images."""
    with open(path, "rb") as f:
        return f"data:{mime};base64," + base64.b64encode(f.read()).decode("ascii")


def video_url(paths: list[str], mime: str = "video/jpeg") -> str:
    """Frames as one video: vLLM reads data:video/jpeg;base64,<frame>,<frame>,... as a list of JPEG frames."""
    return f"data:{mime};base64," + ",".join(data_url(p).split(",", 1)[1] for p in paths)
'''

_READ_STREAM = '''\
usage = None
thinking = False
for chunk in stream:
    if chunk.usage is not None:  # the running count (continuous_usage_stats), complete on the last chunk
        usage = chunk.usage
    for choice in chunk.choices:
        # a thinking model's reasoning, apart from its answer (reasoning_content on vLLM before 0.10)
        reasoning = getattr(choice.delta, "reasoning", None) or getattr(choice.delta, "reasoning_content", None)
        if reasoning:
            thinking = True
            print(reasoning, end="", flush=True)
        if choice.delta.content:
            if thinking:
                print("\\n---")
                thinking = False
            print(choice.delta.content, end="", flush=True)
print()
'''

_READ_WHOLE = '''\
usage = response.usage
message = response.choices[0].message
reasoning = getattr(message, "reasoning", None) or getattr(message, "reasoning_content", None)
if reasoning:
    print(reasoning)
    print("---")
print(message.content)
'''

_USAGE = ('print(f"usage: prompt_tokens={usage.prompt_tokens if usage else 0} '
          'completion_tokens={usage.completion_tokens if usage else 0}")\n')


def _media_lines(media: list[Media]) -> str:
    lines = []
    for m in media:
        lines.append(f"# {m.name}, {m.comment()}")
        if m.kind == "video":
            number, digits = m.name.split("_")[1], _frame_digits(m.frames)
            pattern = f'f"video-{number}-frame-{{i:0{digits}d}}.{_SUFFIX.get(m.mime, "bin")}"'
            mime = "" if m.url.startswith("data:video/jpeg;") else f", {m.url[5:].split(';')[0]!r}"
            lines.append(f"{m.name} = video_url([{pattern} for i in range(1, {m.frames + 1})]{mime})")
        else:
            mime = "" if m.mime == "image/jpeg" else f", {m.mime!r}"
            lines.append(f'{m.name} = data_url("{m.files[0][0]}"{mime})')  # our own names: plain ASCII
    return "\n".join(lines) + "\n" if lines else ""


def _call(kwargs: dict, by_url: dict) -> str:
    args = []
    odd = {}
    for key, value in kwargs.items():
        if isinstance(key, str) and key.isidentifier():
            args.append(f"    {key}={py_literal(substitute(value, by_url), 1)},\n")
        else:  # no such argument in the app's calls; kept all the same
            odd[key] = value
    if odd:
        args.append(f"    **{py_literal(substitute(odd, by_url), 1)},\n")
    target = "stream" if kwargs.get("stream") else "response"
    return f"{target} = client.chat.completions.create(\n" + "".join(args) + ")\n"


def python_snippet(kwargs: dict) -> str:
    """A runnable script (``openai`` SDK) that sends these ``create`` arguments and prints the answer as it
    streams, then ``usage: prompt_tokens=<n> completion_tokens=<n>`` on the last line.

    The media are read from files next to the script (:func:`media_files`); the server and key come from
    ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY``.
    """
    media = describe_media(kwargs)
    by_url = {m.url: _Code(m.name) for m in media}
    files = ", ".join(name for m in media for name, _ in m.files[:1]) + (", ..." if media else "")
    head = ('"""The request the Qwen3-VL demo sent, with the openai SDK (pip install openai).\n\n'
            'Run it with OPENAI_BASE_URL (default: a local server) and OPENAI_API_KEY set'
            + (f";\nthe media files ({files}) next to it." if media else ".") + '\n"""\n\n')
    imports = ("import base64\n" if media else "") + "import os\n\nfrom openai import OpenAI\n\n"
    return (head + imports + ("\n" + _HELPERS + "\n\n" + _media_lines(media) + "\n" if media else "")
            + 'client = OpenAI(base_url=os.environ.get("OPENAI_BASE_URL", "' + BASE_URL_DEFAULT + '"),\n'
            + '                api_key=os.environ.get("OPENAI_API_KEY", "EMPTY"))\n\n'
            + _call(kwargs, by_url) + "\n"
            + (_READ_STREAM if kwargs.get("stream") else _READ_WHOLE) + _USAGE)


# ---- curl --------------------------------------------------------------------------------------------------


def request_body(kwargs: dict, placeholders: bool = True) -> dict:
    """The JSON body the SDK sends for these arguments: ``extra_body``'s keys merged at the top level (the SDK
    does so, and they win), data URLs replaced by :meth:`Media.placeholder` unless ``placeholders`` is off."""
    body = {k: v for k, v in kwargs.items() if k != "extra_body"}
    body.update(kwargs.get("extra_body") or {})
    if not placeholders:
        return body
    return substitute(body, {m.url: m.placeholder() for m in describe_media(kwargs)})


def curl_command(kwargs: dict) -> str:
    """A ``curl`` command that posts the request's body (media as placeholders) from a quoted heredoc."""
    text = json.dumps(request_body(kwargs), indent=2, ensure_ascii=False)
    # a lone surrogate cannot be written as UTF-8: JSON's own escape for it (the app cleans text, but be sure)
    text = _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    marker = _terminator(text)
    return (f'curl -sS -N "${{OPENAI_BASE_URL:-{BASE_URL_DEFAULT}}}/chat/completions" \\\n'
            '  -H "Authorization: Bearer ${OPENAI_API_KEY:-EMPTY}" \\\n'
            '  -H "Content-Type: application/json" \\\n'
            f"  --data-binary @- <<'{marker}'\n{text}\n{marker}\n")


def _terminator(text: str) -> str:
    """A heredoc end marker that is no line of ``text`` (indented JSON cannot hold one, but be sure)."""
    lines = set(text.splitlines())
    marker, n = "JSON", 0
    while marker in lines:
        n += 1
        marker = f"JSON_{n}"
    return marker
