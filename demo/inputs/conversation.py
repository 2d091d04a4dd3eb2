"""Conversations as ``{"role", "content"}`` items, and the two views of them: OpenAI messages and the chat box.

A turn's content is a string, or a list of parts ``{"type": "text", "text": ...}`` and
``{"type": "image", "path": ...}`` (:class:`Turn` declares the shape; an image may say its detail, issue 29).
:func:`to_openai` is the one place where a conversation becomes what the server receives (images read, upright,
downscaled to their detail, as data URLs: cached per file, since every turn resends the conversation);
:func:`to_chatbot` is what the page shows. No Gradio import: the shapes are plain dicts.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NamedTuple, TypedDict

from ..errors import ImageError
from . import region
from .images import DEFAULT_DETAIL, IMAGE_MAX_PIXELS, MAX_IMAGES, detail_pixels, image_part

UPLOAD_HOURS = 3  # how long Gradio keeps an upload (the page's delete_cache is built from it)


# Plain dicts, not classes: turns live in gr.State, which deep-copies them, and go into JSON documents as they are.
class TextPart(TypedDict):
    """Text of a turn that also holds images."""

    type: Literal["text"]
    text: str


class _ImageFile(TypedDict):
    type: Literal["image"]
    path: str


class ImagePart(_ImageFile, total=False):
    """An image of a user's turn: a file on this server (an upload, or an imported document's image), and its
    detail when not "standard" (issue 29): the level, and the pixels it allowed when the image was added (the
    context caps "high"). Without them the image is sent as before: conversations kept earlier read the same."""

    detail: str
    max_pixels: int


class _Said(TypedDict):
    role: Literal["user", "assistant"]
    content: str | list[TextPart | ImagePart]


# (the optional keys in a class of their own: this module's string annotations hide NotRequired at run time)
class Turn(_Said, total=False):
    """One turn of a conversation; an answer may keep its reasoning, thinking time and request beside it."""

    reasoning: str
    thinking_s: float
    sent: dict[str, Any]  # the request, as request_view.sent_of keeps it: {"params": {...}, "system": ...}
    live: str  # while the answer streams on the light route: its ticket (demo/ui/live.py)
    region: list[int]  # a question about a region of its first image: the 0-1000 box, drawn on it in the chat box


class VideoTurn(NamedTuple):
    """A question about a video and its answer: the Video tab keeps its conversation as these (plain pairs too)."""

    question: str
    answer: str


# ANSI escape sequences (CSI "ESC [ ... final", OSC "ESC ] ... BEL or ESC \\", two-character ESC x), then the
# C0/C1 control characters other than tab and newlines, then lone surrogates (which cannot be encoded as UTF-8).
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]?")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# What the chat box's Markdown would turn into HTML, code or an image: backslash-escaped, so user text shows as typed.
_MARKUP = re.compile(r"([\\`<>&~]|(?<=!)\[)")
# In a model's Markdown: an image (``![alt](url)``, ``![alt][ref]``) and a raw HTML tag, outside code.
_IMAGE_OR_TAG = re.compile(r"(?<=!)\[|<(?=[A-Za-z/!?])")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
# an inline code span: a run of backticks closed by a run as long, not across a blank line (a paragraph's end)
_INLINE_CODE = re.compile(r"((`+)(?:(?!\n[ \t]*\n)[\s\S])*?(?<!`)\2(?!`))")


def clean_text(text) -> str:
    """User text as the model should get it: no ANSI escapes or control characters, valid UTF-8 (\\r\\n -> \\n)."""
    text = "" if text is None else str(text)
    text = _ANSI.sub("", text.replace("\r\n", "\n"))
    return _SURROGATE.sub("\ufffd", _CONTROL.sub("", text))


def shown_as_text(text: str) -> str:
    """``text`` for the chat box's Markdown, escaped so that markup in it is shown, never rendered."""
    return _MARKUP.sub(r"\\\1", text)


def answer_markdown(text: str) -> str:
    """A model's Markdown (an answer, its reasoning) as the chat box shows it: rendered, but with no image and no raw
    HTML outside code, which stay as text (``\\![alt](url)``, ``\\<img ...>``). A picture in a model's answer
    would be fetched by the visitor's browser from wherever the text points: a tracking pixel, or a leak of what a
    prompt injection put in its URL (issue 26). Code shows as code, untouched."""
    prose: list[str]
    out, fence, prose = [], None, []
    for line in text.splitlines(keepends=True):
        opening = _FENCE.match(line)
        if fence is None and opening:
            out.append(_escape_prose("".join(prose)))
            prose, fence = [], opening.group(1)
            out.append(line)
        elif fence is not None:
            out.append(line)
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence) \
                    and not line.strip()[len(opening.group(1)):]:
                fence = None  # the closing fence: same character, at least as long, nothing after it
        else:
            prose.append(line)
    out.append(_escape_prose("".join(prose)))
    return "".join(out)


def _escape_prose(text: str) -> str:
    """Images and tags escaped in ``text``, its inline code spans left as they are."""
    pieces = _INLINE_CODE.split(text)
    # split with two groups: [prose, span, its backticks, prose, span, its backticks, ..., prose]
    return "".join(_IMAGE_OR_TAG.sub(r"\\\g<0>", piece) if i % 3 == 0 else piece if i % 3 == 1 else ""
                   for i, piece in enumerate(pieces))


def user_turn(text: str, image_paths: list[str] | tuple[str, ...] = (), detail: str = DEFAULT_DETAIL,
              max_model_len: int | None = None) -> Turn:
    """A question, with images at one ``detail`` level (the context ``max_model_len`` caps "high"); raises
    :class:`ImageError` ("bad_detail") for an unknown level."""
    pixels = detail_pixels(detail, max_model_len)  # (checks the level, images or not)
    if not image_paths:
        return {"role": "user", "content": text}
    parts: list[TextPart | ImagePart] = [image_with_detail(p, detail, pixels) for p in image_paths]
    return {"role": "user", "content": parts + [TextPart(type="text", text=text)]}


def image_with_detail(path: str, detail: str = DEFAULT_DETAIL, max_pixels: int | None = None) -> ImagePart:
    """An image part; a level other than "standard" is written into it with its pixels (default: uncapped)."""
    part = ImagePart(type="image", path=path)
    if detail != DEFAULT_DETAIL:
        part["detail"] = detail
        part["max_pixels"] = detail_pixels(detail) if max_pixels is None else int(max_pixels)
    return part


def image_detail(part: Mapping[str, Any]) -> str:
    """An image part's detail level: "standard" when it says none (a conversation kept before issue 29)."""
    return str(part.get("detail") or DEFAULT_DETAIL)


def image_pixels(part: Mapping[str, Any]) -> int:
    """The most pixels an image part is sent at: those kept with it, else its level's (uncapped)."""
    kept = part.get("max_pixels")
    if isinstance(kept, int) and not isinstance(kept, bool) and kept > 0:
        return kept
    detail = image_detail(part)
    return IMAGE_MAX_PIXELS if detail == DEFAULT_DETAIL else detail_pixels(detail)


def assistant_turn(text: str, reasoning: str = "", thinking_s: float | None = None,
                   sent: dict | None = None) -> Turn:
    """An answer; a thinking model's reasoning and how long it thought kept beside it (never sent back: Qwen's
    Thinking template drops earlier reasoning too), and what the request was (``sent``: the sampling settings and
    system prompt, for "Show request")."""
    turn: Turn = {"role": "assistant", "content": text}
    if reasoning:
        turn["reasoning"] = reasoning
        if thinking_s is not None:  # (Gradio shows no time for a duration of 0: a short thought is 0.1 s)
            turn["thinking_s"] = max(0.1, round(float(thinking_s), 1))
    if sent is not None:
        turn["sent"] = sent
    return turn


def turn_text(turn: Turn) -> str:
    content = turn["content"]
    if isinstance(content, str):
        return content
    parts: Sequence[Mapping[str, Any]] = content
    return "".join(p.get("text", "") for p in parts if p.get("type") == "text")


def turn_images(turn: Turn) -> list[str]:
    return [p["path"] for p in turn_image_parts(turn)]


def turn_image_parts(turn: Turn) -> list[ImagePart]:
    """A turn's image parts, in order (each its path and, if set, its detail)."""
    content = turn["content"]
    parts: Sequence[Any] = [] if isinstance(content, str) else content
    return [p for p in parts if p.get("type") == "image"]


@functools.lru_cache(maxsize=64)
def _cached_image_part(path: str, mtime: float, max_pixels: int) -> dict:
    return image_part(path, max_pixels)


def _image_part(path: str, max_pixels: int = IMAGE_MAX_PIXELS) -> dict:
    try:
        return _cached_image_part(path, os.path.getmtime(path), max_pixels)
    except FileNotFoundError:  # Gradio deleted the upload (hours later: page.DELETE_CACHE); say so, without its path
        raise ImageError("image_gone", hours=UPLOAD_HOURS) from None


def check_image_count(history: Sequence[Turn], adding: int = 0) -> None:
    """Raise :class:`ImageError` when the conversation would hold more than ``MAX_IMAGES`` images."""
    if sum(len(turn_images(t)) for t in history) + adding > MAX_IMAGES:
        raise ImageError("too_many_images", limit=MAX_IMAGES)


class Abandoned(Exception):
    """The request that wanted this work is gone (Stop, a closed tab): the work stopped where it was."""


def to_openai(history: Sequence[Turn], system_prompt: str = "", cancelled=None) -> list[dict]:
    """OpenAI chat messages for a conversation (a blank system prompt is left out).

    Text is cleaned (:func:`clean_text`) and the number of images checked here too, whoever built the history.
    ``cancelled`` (a ``threading.Event``, from ``Engines.run_blocking``) is looked at before each image, the costly
    part (up to 12 MP decoded, turned upright and encoded each): once set, :class:`Abandoned` is raised.
    """
    check_image_count(history)
    messages: list[dict] = []
    system_prompt = clean_text(system_prompt).strip()
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    for turn in history:
        images = turn_image_parts(turn)
        text = clean_text(turn_text(turn))
        if turn["role"] == "user" and images:
            parts = []
            for image in images:
                if cancelled is not None and cancelled.is_set():
                    raise Abandoned()
                parts.append(_image_part(image["path"], image_pixels(image)))  # at its own detail
            messages.append({"role": "user", "content": parts + [{"type": "text", "text": text}]})
        else:
            messages.append({"role": turn["role"], "content": text})
    return messages


THINKING_TITLE = "Thinking"


def _chatbot_messages(history: Sequence[Turn], streaming: bool = False):
    """(turn index, chat box message) pairs; no message with empty content (the indices of Gradio's retry, undo
    and edit events count the messages it is given, so both views must agree). ``streaming``: the last turn is
    the answer being made (its thinking can be "pending"; a stopped one is shown done)."""
    for index, turn in enumerate(history):
        images = turn_images(turn)
        text = turn_text(turn)
        # the person's own words, as typed; the model's answers are Markdown, without images or raw HTML
        text = shown_as_text(text) if turn["role"] == "user" else answer_markdown(text)
        reasoning = answer_markdown(turn.get("reasoning", "")) if turn["role"] == "assistant" else ""
        if reasoning:  # Gradio's collapsible thought: open with a spinner while thinking, closed once answering
            done = bool(text) or "thinking_s" in turn or not (streaming and index == len(history) - 1)
            metadata: dict[str, Any] = {"title": THINKING_TITLE, "status": "done" if done else "pending"}
            if "thinking_s" in turn:
                metadata["duration"] = turn["thinking_s"]
            yield index, {"role": "assistant", "content": reasoning, "metadata": metadata}
        if images:  # a message of their own: Gradio 6.31 sends no edit event for a message that holds a file
            if turn.get("region"):  # the region asked about, drawn on its image (demo/inputs/region.py)
                images = [region.shown(images[0], turn["region"]), *images[1:]]
            yield index, {"role": turn["role"], "content": [{"path": p} for p in images]}
        if text:
            yield index, {"role": turn["role"], "content": text}


def draw_regions(history: Sequence[Turn]) -> None:
    """The pictures with each region's box drawn (:func:`region.shown`), made now: blocking work (decoding the
    images), for the thread of a loaded conversation's import, so that :func:`to_chatbot`, called on the event loop
    too, finds them made instead of decoding there."""
    for turn in history:
        images = turn_images(turn)
        if images and turn.get("region"):
            region.shown(images[0], turn["region"])


def to_chatbot(history: Sequence[Turn], streaming: bool = False) -> list[dict]:
    """Messages for ``gr.Chatbot`` (with ``group_consecutive_messages=False``): a turn's images as one message of
    file entries, then its text; a thinking model's reasoning as a collapsible "Thinking" message before its
    answer (``streaming``: the last answer is still being made)."""
    return [message for _, message in _chatbot_messages(history, streaming)]


def turn_of_message(history: Sequence[Turn], message_index) -> int | None:
    """The turn that the chat box's message ``message_index`` (a retry, undo, edit or select event's index) shows."""
    if isinstance(message_index, (list, tuple)):
        message_index = message_index[0]
    owners = [index for index, _ in _chatbot_messages(history)]
    try:
        return owners[int(message_index)]
    except (IndexError, TypeError, ValueError):
        return None
