"""A conversation saved as one JSON document, and opened again: the one gate for conversations from outside.

:func:`export` writes what the model got, not references to this machine: each image as the data URL the server
received (:func:`demo.inputs.images.image_part`: upright, downscaled JPEG) with its file's base name, a video
conversation's kept JPEG frames and their :class:`FramePlan` (so that a follow-up sees the same frames at the
same times), and an answer's reasoning, thinking time and sent settings. :func:`load` reads such a document
from an uploaded file, the browser's storage or an API caller, so it trusts nothing in it: every field is
checked and a bad one refused with a sentence (:class:`ConversationFileError`, or :class:`ImageError` for an
image), text is cleaned as typed text is (:func:`clean_text`), unknown keys are dropped, and images are written
only inside the caller's folder, under names of our own (a name in the document is never used as a path).
No Gradio import: the page and the API call these.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
import re
import secrets
import shutil
from dataclasses import MISSING, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any, TypeGuard, cast

from PIL import Image

from ..errors import ImageError, UserFacingError
from .conversation import UPLOAD_HOURS, clean_text, turn_text
from .images import MAX_IMAGES, check_image, image_part
from .numbers import finite
from .video_clip import VideoClip
from .video_frames import FramePlan

FORMAT = "qwen3-vl-demo/conversation"
VERSION = 1
TABS = ("chat", "image", "video")
# Eight images of at most IMAGE_MAX_PIXELS are about 3 MB as base64 JPEG; 256 frames of 720p about 35 MB.
MAX_BYTES = 64 * 1024 * 1024
# The Video tab's limits (demo/ui/video_run.py: sampling_from's max_frames, PIXEL_CHOICES["720p"]); not imported
# from there, as that module starts the engines' package. A clip is decoded whole for the video worker.
MAX_VIDEO_FRAMES = 256
MAX_FRAME_PIXELS = 1280 * 720
# GenerationParams' fields (demo/engines/client.py), as an answer's "sent" settings carry them.
PARAM_KEYS = ("temperature", "top_p", "top_k", "max_tokens", "presence_penalty")
# Image formats an imported image may have (the demo's own exports are JPEG), with the suffix we give the file.
IMAGE_SUFFIX: dict[str | None, str] = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp"}
_DATA_URL = re.compile(r"data:(image/[\w.+-]+);base64,([A-Za-z0-9+/=\s]*)", re.ASCII)
_LARGEST_INT = 10**9  # a frame index or count beyond this is no video's


class ConversationFileError(UserFacingError):
    """A conversation document that cannot be opened."""


@dataclass(frozen=True)
class Loaded:
    """An opened conversation, in the app's in-memory shapes (images as files in the caller's folder)."""

    tab: str  # "chat", "image" or "video"
    history: list[dict]  # turns as demo/inputs/conversation.py keeps them
    system_prompt: str = ""
    model: str = ""  # the model that answered, as the document says (informative: the served one answers now)
    clip: VideoClip | None = None  # the Video tab's kept frames

    @property
    def video_turns(self) -> tuple[tuple[str, str], ...]:
        """(question, answer) pairs, as ``VideoChat.turns`` keeps them (a video conversation alternates)."""
        return tuple((turn_text(q), turn_text(a)) for q, a in zip(self.history[::2], self.history[1::2]))


# ---- export ------------------------------------------------------------------------------------------------


def export(tab: str, history: list[dict], *, model: str, system_prompt: str = "",
           clip: VideoClip | None = None) -> dict:
    """One JSON-able document of a tab's conversation: images and video frames inside, as the model got them.

    Raises :class:`ImageError` ("image_gone") when an image of the conversation is no longer on the server.
    """
    if tab not in TABS:
        raise ValueError(f"tab must be one of {TABS}, not {tab!r}")
    doc = {"format": FORMAT, "version": VERSION, "tab": tab, "model": model, "system_prompt": system_prompt,
           "turns": [_export_turn(turn) for turn in history]}
    if clip is not None:
        doc["video"] = _export_clip(clip)
    return doc


def video_history(turns) -> list[dict]:
    """The Video tab's (question, answer) pairs (``VideoChat.turns``) as a history, for :func:`export`."""
    return [turn for q, a in turns for turn in ({"role": "user", "content": q}, {"role": "assistant", "content": a})]


def _export_turn(turn: dict) -> dict:
    content = turn["content"]
    out = {"role": turn["role"], "content": content if isinstance(content, str)
           else [_export_part(part) for part in content if part.get("type") in ("text", "image")]}
    if turn["role"] == "assistant":  # the extras, as assistant_turn keeps them (plain JSON values)
        out.update({key: turn[key] for key in ("reasoning", "thinking_s", "sent") if key in turn})
    return out


def _export_part(part: dict) -> dict:
    if part["type"] == "text":
        return {"type": "text", "text": part.get("text", "")}
    path = part["path"]
    try:
        url = image_part(path)["image_url"]["url"]  # the very bytes the server got (to_openai sends the same)
    except FileNotFoundError:  # Gradio deleted the upload hours later: say so, without its path
        raise ImageError("image_gone", hours=UPLOAD_HOURS) from None
    return {"type": "image", "name": Path(path).name, "url": url}


def _export_clip(clip: VideoClip) -> dict:
    plan = {f.name: getattr(clip.plan, f.name) for f in fields(FramePlan)}
    plan["indices"] = list(plan["indices"])  # a list, as JSON gives it back
    return {"frames": ["data:image/jpeg;base64," + base64.b64encode(j).decode("ascii") for j in clip.jpegs],
            "plan": plan}


def dumps(doc: dict) -> bytes:
    """The document as UTF-8 JSON: compact, keys sorted (the same conversation gives the same bytes)."""
    options: dict[str, Any] = dict(separators=(",", ":"), sort_keys=True, allow_nan=False)
    text = json.dumps(doc, ensure_ascii=False, **options)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (not valid UTF-8): JSON's \\u escapes carry it instead
        return json.dumps(doc, ensure_ascii=True, **options).encode("ascii")


def filename(tab: str, now: datetime | None = None) -> str:
    """The download's name: ``qwen3-vl-chat-2026-12-03-1712.json``."""
    if tab not in TABS:
        raise ValueError(f"tab must be one of {TABS}, not {tab!r}")
    return f"qwen3-vl-{tab}-{(now or datetime.now()):%Y-%m-%d-%H%M}.json"


# ---- load --------------------------------------------------------------------------------------------------


def load(raw: bytes | str | dict, *, folder: Path, max_bytes: int = MAX_BYTES) -> Loaded:
    """Open a document from outside: checked throughout, images written as files inside ``folder``.

    Raises :class:`ConversationFileError` (or :class:`ImageError` for an image, too many images included) with a
    sentence; nothing is left in ``folder`` then.
    """
    tab, model, system_prompt, turns, clip = _parse(_document(raw, max_bytes))
    return Loaded(tab, _write_images(turns, Path(folder)), system_prompt, model, clip)


def api_history(source: Loaded | dict | bytes | str) -> list[dict]:
    """The conversation's text as ``/chat``'s list form of ``history``: ``[{"role", "content": text}]``.

    Images are dropped (a turn keeps its text), and with them what the model saw in them; so are an answer's
    reasoning and settings. (``/chat`` also takes the whole document as ``history``, images included.) A document
    is checked as :func:`load` checks it (no file is written).
    """
    turns = source.history if isinstance(source, Loaded) else _parse(_document(source, MAX_BYTES))[3]
    return [{"role": turn["role"], "content": turn_text(turn)} for turn in turns]


def _bad(detail: str) -> ConversationFileError:
    return ConversationFileError("import_bad", detail=detail)


def _document(raw, max_bytes: int) -> dict:
    """The parsed document, refused when too large, not JSON, not an object, not ours, or newer than we read."""
    size = _size(raw)
    if size > max_bytes:
        raise ConversationFileError("import_too_large", size=_mb(size), limit=_mb(max_bytes))
    doc = raw
    if not isinstance(raw, dict):
        if isinstance(raw, str):
            raw = raw.removeprefix("\ufeff")  # a byte order mark some editors write (bytes: json handles it)
        elif isinstance(raw, memoryview):  # json reads str, bytes and bytearray only
            raw = raw.tobytes()
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past Python's stack
            raise ConversationFileError("import_unreadable") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ConversationFileError("import_not_ours")
    version = doc.get("version")
    if not _is_int(version) or version < 1:
        raise _bad("its version is not a number")
    if version > VERSION:
        raise ConversationFileError("import_newer", version=version, supported=VERSION)
    return doc


def _size(raw) -> int:
    if isinstance(raw, (bytes, bytearray, memoryview)):
        return len(raw)
    if isinstance(raw, str):
        return len(raw.encode("utf-8", "surrogatepass"))
    if isinstance(raw, dict):  # an API caller's parsed JSON: measured as the text it came as
        try:
            return len(json.dumps(raw, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass"))
        except (TypeError, ValueError, RecursionError):  # not JSON's values, or a cycle
            raise ConversationFileError("import_unreadable") from None
    raise ConversationFileError("import_unreadable")


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _parse(doc: dict) -> tuple[str, str, str, list[dict], VideoClip | None]:
    """(tab, model, system prompt, turns, clip) of a document, all checked; images as bytes, not yet written."""
    tab = doc.get("tab")
    if tab not in TABS:
        raise _bad("its tab is not chat, image or video")
    model = _text(doc.get("model", ""), "the model's name")
    system_prompt = _text(doc.get("system_prompt", ""), "the system prompt")
    turns = _turns(doc.get("turns"))
    video = doc.get("video")
    if video is not None and tab != "video":
        raise _bad("it holds a video but is not a Video tab conversation")
    clip = None if video is None else _clip(video)
    if tab == "video":
        _check_video_turns(turns, clip)
    return tab, model, system_prompt, turns, clip


def _text(value, what: str) -> str:
    if not isinstance(value, str):
        raise _bad(f"{what} is not text")
    return clean_text(value)


def _is_int(value) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)  # JSON's true is no number


def _number(value, what: str, *, low: float = 0.0, high: float = math.inf) -> float:
    number = finite(value)
    if number is None or not low <= number <= high:
        raise _bad(f"{what} is not a number in range")
    return value


def _turns(value) -> list[dict]:
    if not isinstance(value, list):
        raise _bad("its turns are not a list")
    turns = [_turn(i, raw) for i, raw in enumerate(value, 1)]
    # counted before any is decoded: a document of twenty images is refused at once, as the page refuses them
    if sum(len(_images(turn)) for turn in turns) > MAX_IMAGES:
        raise ImageError("too_many_images", limit=MAX_IMAGES)
    for turn in turns:
        if isinstance(turn["content"], list):
            turn["content"] = [_decode_image(part) if part["type"] == "image" else part for part in turn["content"]]
    return turns


def _turn(i: int, raw) -> dict:
    """A turn with only the keys we know, text cleaned; an image part keeps its data URL, checked later."""
    if not isinstance(raw, dict) or raw.get("role") not in ("user", "assistant"):
        raise _bad(f"turn {i} is not a user's or an assistant's turn")
    role, content = raw["role"], raw.get("content")
    if isinstance(content, str):
        content = clean_text(content)
    elif isinstance(content, list):
        content = [_part(i, part) for part in content]
    else:
        raise _bad(f"turn {i} has no content")
    if role == "user":
        return {"role": role, "content": content}
    if isinstance(content, list):  # an answer is text: text parts joined, an image refused
        if any(part["type"] == "image" for part in content):
            raise _bad(f"turn {i} is an answer with an image")
        content = "".join(part["text"] for part in content)
    return {"role": role, "content": content, **_extras(i, raw)}


def _part(i: int, part) -> dict:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text":
        return {"type": "text", "text": _text(part.get("text"), f"a text of turn {i}")}
    if kind == "image":
        url = part.get("url")
        if not isinstance(url, str):
            raise _bad(f"an image of turn {i} has no data")
        name = part.get("name")
        return {"type": "image", "name": safe_name(name if isinstance(name, str) else ""), "url": url, "turn": i}
    raise _bad(f"turn {i} has a part that is neither text nor an image")


def _extras(i: int, raw: dict) -> dict:
    """An answer's reasoning, thinking time and sent settings (assistant_turn's keys), each checked."""
    out: dict[str, Any] = {}
    if "reasoning" in raw:
        out["reasoning"] = _text(raw["reasoning"], f"the reasoning of turn {i}")
    if "thinking_s" in raw:
        out["thinking_s"] = float(_number(raw["thinking_s"], f"the thinking time of turn {i}"))
    if "sent" in raw:
        sent = raw["sent"]
        params = sent.get("params", {}) if isinstance(sent, dict) else None
        if not isinstance(params, dict):
            raise _bad(f"the settings of turn {i} are not a list of settings")
        checked = {key: _number(params[key], f"the {key} of turn {i}", low=-math.inf)
                   for key in PARAM_KEYS if key in params}
        out["sent"] = {"params": checked, "system": _text(sent.get("system", ""), f"the system prompt of turn {i}")}
    return out


def _decode_image(part: dict) -> dict:
    """An image part's data URL decoded: base64 image data of a format we take, else refused."""
    match = _DATA_URL.fullmatch(part["url"])
    data = _base64(match.group(2)) if match else None
    try:
        with Image.open(io.BytesIO(data or b"")) as img:  # the header only; check_image decodes it whole
            suffix = IMAGE_SUFFIX.get(img.format)
    except Exception:  # noqa: BLE001 - whatever PIL raises on foreign data, the answer is the same sentence
        suffix = None
    if suffix is None:
        raise _bad(f"an image of turn {part['turn']} is not image data")
    return {"type": "image", "name": Path(part["name"]).stem + suffix, "data": data}


def _base64(payload: str) -> bytes | None:
    try:
        return base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


NAME_BYTES = 80  # a name's length in UTF-8 bytes: file systems count bytes (255 on most, 143 under eCryptfs)


def safe_name(name: str, default: str = "image") -> str:
    """A file name of our own from a document's: its last component only, letters, digits, spaces, ``.``, ``-``
    and ``_`` (``../../etc/x`` gives ``x``); never empty, hidden or long: at most :data:`NAME_BYTES` bytes, cut
    between characters (80 four-byte letters were 320 bytes: "File name too long", issue 26)."""
    base = re.split(r"[\\/]", name)[-1]
    base = re.sub(r"[^\w. -]+", "_", base).strip("._- ")
    base = base.encode("utf-8")[:NAME_BYTES].decode("utf-8", "ignore").strip("._- ")
    return base or default


def _write_images(turns: list[dict], folder: Path) -> list[dict]:
    """The turns with each image written to a file in a new folder inside ``folder`` and checked by content
    (:func:`check_image`); on any failure that folder is removed."""
    if not any(_images(turn) for turn in turns):
        return turns
    target = folder / f"imported-{secrets.token_hex(8)}"
    count = 0
    try:
        target.mkdir(parents=True)
        for turn in turns:
            if isinstance(turn["content"], list):
                parts = []
                for part in turn["content"]:
                    if part["type"] == "image":
                        count += 1
                        # a folder per image, as Gradio's cache keeps uploads: the name stays as the person gave it
                        path = target / f"{count:02d}" / part["name"]
                        path.parent.mkdir()
                        path.write_bytes(part["data"])
                        check_image(str(path))
                        part = {"type": "image", "path": str(path)}
                    parts.append(part)
                turn["content"] = parts
    except BaseException as exc:
        shutil.rmtree(target, ignore_errors=True)
        if isinstance(exc, OSError):  # the disk's answer, never its path: the folder is the server's business
            raise ConversationFileError("import_not_stored", reason=exc.strerror or type(exc).__name__) from None
        raise
    return turns


def _images(turn: dict) -> list[dict]:
    """The image parts of a parsed (not yet written) turn."""
    content = turn["content"]
    return [] if isinstance(content, str) else [part for part in content if part["type"] == "image"]


def _check_video_turns(turns: list[dict], clip: VideoClip | None) -> None:
    """A Video tab conversation is (question, answer) pairs about its clip, in text."""
    roles = [turn["role"] for turn in turns]
    if roles != ["user", "assistant"] * (len(turns) // 2):
        raise _bad("its turns do not alternate question and answer")
    if any(_images(turn) for turn in turns):
        raise _bad("a Video tab conversation holds an image")
    if turns and clip is None:
        raise _bad("the video's frames are missing")


def _clip(value) -> VideoClip:
    if not isinstance(value, dict) or not isinstance(value.get("frames"), list):
        raise _bad("the video has no list of frames")
    frames = value["frames"]
    if not 1 <= len(frames) <= MAX_VIDEO_FRAMES:
        raise _bad(f"the video has {len(frames)} frames (from 1 to {MAX_VIDEO_FRAMES} are possible)")
    plan = _plan(value.get("plan"), len(frames))
    return VideoClip(tuple(_frame(n, url, plan) for n, url in enumerate(frames, 1)), plan)


def _plan(value, nframes: int) -> FramePlan:
    """A :class:`FramePlan` of the document's fields, each checked (missing ones with defaults take them)."""
    if not isinstance(value, dict):
        raise _bad("the video's frame plan is missing")
    fields_in = {}
    for f in fields(FramePlan):
        if f.name not in value:
            if f.default is MISSING:
                raise _bad(f"the video's frame plan has no {f.name}")
            continue
        fields_in[f.name] = value[f.name]
    indices = fields_in["indices"]
    if not isinstance(indices, list) or len(indices) != nframes \
            or not all(_is_int(i) and 0 <= i <= _LARGEST_INT for i in indices) or indices != sorted(indices):
        raise _bad("the video's frame indices do not match its frames")
    for key in ("width", "height", "visual_tokens", "source_frames"):
        if key in fields_in and not (_is_int(fields_in[key]) and 0 <= fields_in[key] <= _LARGEST_INT):
            raise _bad(f"the video's {key} is not a count")
    if not 1 <= fields_in["width"] * fields_in["height"] <= MAX_FRAME_PIXELS:
        raise _bad("the video's frame size is out of range")
    sample_fps = float(_number(fields_in["sample_fps"], "the video's sample rate"))
    source_fps = float(_number(fields_in.get("source_fps", 0.0), "the video's frame rate", high=1000.0))
    if sample_fps <= 0:
        raise _bad("the video's sample rate is not a number in range")
    return FramePlan(**{**fields_in, "indices": tuple(indices), "sample_fps": sample_fps, "source_fps": source_fps})


def _frame(n: int, url, plan: FramePlan) -> bytes:
    """A frame's JPEG bytes, checked: a data URL of a JPEG of the plan's size that decodes whole."""
    match = _DATA_URL.fullmatch(url) if isinstance(url, str) else None
    data = _base64(match.group(2)) if match else None
    try:
        with Image.open(io.BytesIO(data or b"")) as img:
            ok = img.format == "JPEG" and img.size == (plan.width, plan.height)
            if ok:
                img.load()  # decodes: truncated or corrupt data fails here
    except Exception:  # noqa: BLE001 - whatever PIL raises on foreign data, the answer is the same sentence
        ok = False
    if not ok:
        raise _bad(f"frame {n} of the video is not a JPEG image of the plan's size")
    return cast(bytes, data)  # ok: the data decoded
