"""A conversation saved as one JSON document, and opened again: the one gate for conversations from outside.

:func:`export` writes what the model got, not references to this machine: each image as the data URL the server
received (:func:`demo.inputs.images.image_part`: upright, downscaled JPEG) with its file's base name, a video
conversation's kept JPEG frames and their :class:`FramePlan` (so that a follow-up sees the same frames at the
same times), and an answer's reasoning, thinking time and sent settings. :func:`load` reads such a document
from an uploaded file, the browser's storage or an API caller, so it trusts nothing in it: :class:`Document`
and its parts declare its shape and limits once (pydantic models, strict: JSON's own types only), a document
that breaks them is refused with the sentence of its first fault (:class:`ConversationFileError`, or
:class:`ImageError` for an image), text is cleaned as typed text is (:func:`clean_text`), unknown keys are
dropped, and images are written only inside the caller's folder, under names of our own (a name in the
document is never used as a path).
No Gradio import: the page and the API call these.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import secrets
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, get_args

from PIL import Image
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from typing_extensions import TypeAliasType

from ..errors import ImageError, UserFacingError
from .conversation import (
    UPLOAD_HOURS,
    TextPart,
    Turn,
    VideoTurn,
    clean_text,
    image_detail,
    image_pixels,
    image_with_detail,
    turn_text,
)
from .images import DEFAULT_DETAIL, MAX_IMAGES, Detail, check_image, image_part
from .numbers import finite
from .video_clip import VideoClip
from .video_frames import MAX_FRAMES, PIXEL_CHOICES, FramePlan

_Format = Literal["qwen3-vl-demo/conversation"]
FORMAT: str = get_args(_Format)[0]
VERSION = 1
Tab = Literal["chat", "image", "video"]
TABS: tuple[str, ...] = get_args(Tab)
# Eight images of at most IMAGE_MAX_PIXELS are about 3 MB as base64 JPEG; 256 frames of 720p about 35 MB.
MAX_BYTES = 64 * 1024 * 1024
# The Video tab's limits: a clip is decoded whole for the video worker
MAX_VIDEO_FRAMES = MAX_FRAMES
MAX_FRAME_PIXELS = max(PIXEL_CHOICES.values())
MAX_SOURCE_FPS = 1000.0
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
    history: list[Turn]
    system_prompt: str = ""
    model: str = ""  # the model that answered, as the document says (informative: the served one answers now)
    clip: VideoClip | None = None  # the Video tab's kept frames

    @property
    def video_turns(self) -> tuple[VideoTurn, ...]:
        """(question, answer) pairs, as ``VideoChat.turns`` keeps them (a video conversation alternates)."""
        return tuple(VideoTurn(turn_text(q), turn_text(a)) for q, a in zip(self.history[::2], self.history[1::2]))


# ---- export ------------------------------------------------------------------------------------------------


def export(tab: str, history: Sequence[Turn], *, model: str, system_prompt: str = "",
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


def video_history(turns: Iterable[tuple[str, str]]) -> list[Turn]:
    """The Video tab's (question, answer) pairs (``VideoChat.turns``) as a history, for :func:`export`."""
    history: list[Turn] = []
    for question, answer in turns:
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return history


def _export_turn(turn: Turn) -> dict:
    content = turn["content"]
    out: dict[str, Any] = {"role": turn["role"], "content": content if isinstance(content, str)
           else [_export_part(part) for part in content if part.get("type") in ("text", "image")]}
    if turn["role"] == "assistant":  # the extras, as assistant_turn keeps them (plain JSON values)
        out.update({key: turn[key] for key in ("reasoning", "thinking_s", "sent") if key in turn})
    elif "region" in turn:  # a question about a region (issue 29): its 0-1000 box, drawn again when opened
        out["region"] = list(turn["region"])
    return out


def _export_part(part: Mapping[str, Any]) -> dict:
    if part["type"] == "text":
        return {"type": "text", "text": part.get("text", "")}
    path = part["path"]
    try:  # the very bytes the server got, at the image's detail (to_openai sends the same)
        url = image_part(path, image_pixels(part))["image_url"]["url"]
    except FileNotFoundError:  # Gradio deleted the upload hours later: say so, without its path
        raise ImageError("image_gone", hours=UPLOAD_HOURS) from None
    out = {"type": "image", "name": Path(path).name, "url": url}
    if image_detail(part) != DEFAULT_DETAIL:  # (issue 29; absent: "standard", as in documents saved before it)
        out["detail"] = image_detail(part)
    return out


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
    doc = _parse(_document(raw, max_bytes))
    clip = None if doc.video is None else doc.video.clip
    return Loaded(doc.tab, _history(doc.turns, Path(folder)), doc.system_prompt, doc.model, clip)


def api_history(source: Loaded | dict | bytes | str) -> list[Turn]:
    """The conversation's text as ``/chat``'s list form of ``history``: ``[{"role", "content": text}]``.

    Images are dropped (a turn keeps its text), and with them what the model saw in them; so are an answer's
    reasoning and settings. (``/chat`` also takes the whole document as ``history``, images included.) A document
    is checked as :func:`load` checks it (no file is written).
    """
    if isinstance(source, Loaded):
        return [{"role": turn["role"], "content": turn_text(turn)} for turn in source.history]
    return [{"role": turn.role, "content": turn.text} for turn in _parse(_document(source, MAX_BYTES)).turns]


def _document(raw, max_bytes: int) -> Any:
    """The parsed JSON, refused when too large or not JSON (what it holds is :func:`_parse`'s to check)."""
    size = _size(raw)
    if size > max_bytes:
        raise ConversationFileError("import_too_large", size=_mb(size), limit=_mb(max_bytes))
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str):
        raw = raw.removeprefix("\ufeff")  # a byte order mark some editors write (bytes: json handles it)
    elif isinstance(raw, memoryview):  # json reads str, bytes and bytearray only
        raw = raw.tobytes()
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past Python's stack
        raise ConversationFileError("import_unreadable") from None


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


def _parse(doc: Any) -> Document:
    """The document, checked throughout (its images decoded, not yet written), or its first fault's sentence."""
    try:
        return Document.model_validate(doc)
    except ValidationError as exc:
        raise _sentence(exc) from None


# ---- names and data ----------------------------------------------------------------------------------------


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


# ---- the document's shape ----------------------------------------------------------------------------------
# Every fault a model finds is a "refused" error whose context is the page's sentence (its code and fields):
# pydantic collects the faults in document order, and the first is the one said (its own words never are).

_REFUSED = "refused"


def _refusal(code: str, **fields: Any) -> PydanticCustomError:
    return PydanticCustomError(_REFUSED, code, {"code": code, **fields})


def _bad(detail: str) -> PydanticCustomError:
    """``import_bad``'s refusal; a ``{turn}`` in ``detail`` becomes the number of the turn where it was found."""
    return _refusal("import_bad", detail=detail)


def _refused(detail: str = "", *, code: str = "import_bad", missing: str = "") -> WrapValidator:
    """An annotation: a value not of its declared type or within its limits is refused with ``detail`` (or as
    ``code``); a refusal from within it (one of its parts, with a sentence of its own) stands. ``missing``: the
    sentence for its required keys, named as ``{key}``, said before any other fault of it."""
    def validate(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            absent = [e["loc"][-1] for e in errors if e["type"] == "missing"] if missing else []
            if absent:
                raise _bad(missing.format(key=absent[0])) from None
            if errors[0]["type"] == _REFUSED:
                raise
            raise _bad(detail) if code == "import_bad" else _refusal(code) from None
    return WrapValidator(validate)


def _sentence(exc: ValidationError) -> UserFacingError:
    """The document's first fault as the page says it: an :class:`ImageError` for too many images."""
    error = exc.errors(include_url=False)[0]
    if error["type"] != _REFUSED:  # no document's shape at all: a list, a string, a number
        return ConversationFileError("import_not_ours")
    fields = dict(error["ctx"])
    code, loc = fields.pop("code"), error["loc"]
    if "detail" in fields and loc[:1] == ("turns",) and len(loc) > 1:
        fields["detail"] = fields["detail"].replace("{turn}", str(int(loc[1]) + 1))
    return (ImageError if code == "too_many_images" else ConversationFileError)(code, **fields)


def _required() -> Any:
    """A key the document must have: absent, it is refused with its own sentence, as a null would be."""
    return Field(default=None, validate_default=True)


def _optional() -> Any:
    """A key the document may leave out: kept only where it is there (``model_fields_set``); a null is refused."""
    return Field(default=None)


def _finite(value: float) -> float:
    if finite(value) is None:
        raise ValueError("not a finite number")
    return value


Text = Annotated[str, AfterValidator(clean_text)]  # cleaned as typed text is: no control characters, valid UTF-8
# A JSON number that a float holds (no NaN, no infinity, no 400-digit integer: issue 26); an integer stays one.
Number = Annotated[int | float, AfterValidator(_finite)]
Count = Annotated[int, Field(ge=0, le=_LARGEST_INT)]


class _Shape(BaseModel):
    # JSON's own types only ("1" is no number, true no count), unknown keys dropped, never changed once read
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class _Decoded(NamedTuple):
    data: bytes
    file_name: str  # the document's name (made safe) with the suffix of the data's format


class DocText(_Shape):
    """Text of a question that also holds images (an answer's text parts are joined)."""

    type: Literal["text"]
    text: Annotated[Text, _refused("a text of turn {turn} is not text")] = _required()


class DocImage(_Shape):
    """An image of a question, as the data URL the model got; decoded once the document's images are counted."""

    type: Literal["image"]
    url: Annotated[str, _refused("an image of turn {turn} has no data")] = _required()
    # only a hint, whatever it holds: our file's name is made of it (safe_name), never a path
    name: Annotated[str, BeforeValidator(lambda v: v if isinstance(v, str) else ""), AfterValidator(safe_name)] \
        = Field("", validate_default=True)
    # the detail it was sent at (issue 29); a document saved before it has none: "standard"
    detail: Annotated[Detail, _refused("an image of turn {turn} has an unknown detail")] \
        = DEFAULT_DETAIL

    @cached_property
    def decoded(self) -> _Decoded:
        """The image's bytes; ValueError when they are not base64 image data of a format we take."""
        match = _DATA_URL.fullmatch(self.url)
        data = _base64(match.group(2)) if match else None
        try:
            with Image.open(io.BytesIO(data or b"")) as img:  # the header only; check_image decodes it whole
                suffix = IMAGE_SUFFIX.get(img.format)
        except Exception:  # noqa: BLE001 - whatever PIL raises on foreign data, the answer is the same sentence
            suffix = None
        if data is None or suffix is None:
            raise ValueError("not image data")
        return _Decoded(data, Path(self.name).stem + suffix)


def _member(kind: Callable[[Any], Any], detail: str) -> Discriminator:
    """An annotation: which member of a union a value is (``kind`` gives its tag); a value of none is refused with
    ``detail``. (Pydantic's own code checks it: a wrap would be a Python call for every turn and part.)"""
    return Discriminator(kind, custom_error_type=_REFUSED, custom_error_message=detail,
                         custom_error_context={"code": "import_bad", "detail": detail})


def _key(name: str) -> Callable[[Any], Any]:
    return lambda value: value.get(name) if isinstance(value, dict) else None


def _content_kind(value: Any) -> str | None:
    return "text" if isinstance(value, str) else "parts" if isinstance(value, list) else None


# (an alias of its own: the annotation is in a union below, which Python 3.11 builds of hashable members only)
DocPart = TypeAliasType("DocPart", Annotated[Annotated[DocText, Tag("text")] | Annotated[DocImage, Tag("image")],
                                             _member(_key("type"),
                                                     "turn {turn} has a part that is neither text nor an image")])
DocContent = Annotated[Annotated[Text, Tag("text")] | Annotated[list[DocPart], Field(fail_fast=True), Tag("parts")],
                       _member(_content_kind, "turn {turn} has no content")]


class _DocTurn(_Shape):
    """A turn's content: text, or a list of text and image parts."""

    content: DocContent = _required()

    @property
    def text(self) -> str:
        content = self.content
        return content if isinstance(content, str) else "".join(p.text for p in content if isinstance(p, DocText))

    @property
    def images(self) -> list[DocImage]:
        return [] if isinstance(self.content, str) else [p for p in self.content if isinstance(p, DocImage)]


class DocQuestion(_DocTurn):
    """A user's turn: text, or text and images."""

    role: Literal["user"]
    # a question about a region of its first image (issue 29): the box on the 0-1000 scale, for the page to draw
    region: Annotated[list[Annotated[int, Field(ge=0, le=1000)]], Field(min_length=4, max_length=4),
                      _refused("the region of turn {turn} is not four numbers from 0 to 1000")] = _optional()

    def turn(self, paths: Iterator[str]) -> Turn:
        """The turn as the app keeps it, its images at ``paths`` (the document's images, in order, as written)."""
        if isinstance(self.content, str):
            return {"role": "user", "content": self.content}
        turn: Turn = {"role": "user", "content": [TextPart(type="text", text=p.text) if isinstance(p, DocText)
                                                  else image_with_detail(next(paths), p.detail)
                                                  for p in self.content]}
        if "region" in self.model_fields_set and self.images:
            turn["region"] = list(self.region)
        return turn


class DocParams(_Shape):
    """An answer's sampling settings as they were sent (GenerationParams' fields): any finite number, kept as is."""

    temperature: Annotated[Number, _refused("the temperature of turn {turn} is not a number in range")] = _optional()
    top_p: Annotated[Number, _refused("the top_p of turn {turn} is not a number in range")] = _optional()
    top_k: Annotated[Number, _refused("the top_k of turn {turn} is not a number in range")] = _optional()
    max_tokens: Annotated[Number, _refused("the max_tokens of turn {turn} is not a number in range")] = _optional()
    presence_penalty: Annotated[Number, _refused("the presence_penalty of turn {turn} is not a number in range")] \
        = _optional()
    # thinking turned on or off for this answer (Qwen3.5's switch); absent: the model's default
    thinking: Annotated[bool, _refused("the thinking of turn {turn} is not true or false")] = _optional()


class DocSent(_Shape):
    """What an answer's request was (``request_view.sent_of``): the settings that were set, and the prompt."""

    params: DocParams = DocParams()
    system: Annotated[Text, _refused("the system prompt of turn {turn} is not text")] = ""


def _no_image(content: str | list[DocText | DocImage]) -> str | list[DocText | DocImage]:
    if not isinstance(content, str) and any(isinstance(p, DocImage) for p in content):
        raise _bad("turn {turn} is an answer with an image")
    return content


class DocAnswer(_DocTurn):
    """An answer, in text (text parts are joined), and what assistant_turn keeps beside it, each key if present."""

    content: Annotated[DocContent, AfterValidator(_no_image)] = _required()
    role: Literal["assistant"]
    reasoning: Annotated[Text, _refused("the reasoning of turn {turn} is not text")] = _optional()
    thinking_s: Annotated[Number, Field(ge=0), AfterValidator(float),
                          _refused("the thinking time of turn {turn} is not a number in range")] = _optional()
    sent: Annotated[DocSent, _refused("the settings of turn {turn} are not a list of settings")] = _optional()

    def turn(self, paths: Iterator[str]) -> Turn:
        """The turn as the app keeps it (an answer has no image: ``paths`` is not read)."""
        turn: Turn = {"role": "assistant", "content": self.text}
        given = self.model_fields_set
        if "reasoning" in given:
            turn["reasoning"] = self.reasoning
        if "thinking_s" in given:
            turn["thinking_s"] = self.thinking_s
        if "sent" in given:
            turn["sent"] = {"params": self.sent.params.model_dump(exclude_unset=True), "system": self.sent.system}
        return turn


DocTurn = Annotated[Annotated[DocQuestion, Tag("user")] | Annotated[DocAnswer, Tag("assistant")],
                    _member(_key("role"), "turn {turn} is not a user's or an assistant's turn")]


def _images_decoded(turns: list[DocQuestion | DocAnswer]) -> list[DocQuestion | DocAnswer]:
    # counted before any is decoded: a document of twenty images is refused at once, as the page refuses them
    images = [(i, image) for i, turn in enumerate(turns, 1) for image in turn.images]
    if len(images) > MAX_IMAGES:
        raise _refusal("too_many_images", limit=MAX_IMAGES)
    for i, image in images:
        try:
            image.decoded  # noqa: B018 - decoding is the check (a cached property: the bytes are written later)
        except ValueError:
            raise _bad(f"an image of turn {i} is not image data") from None
    return turns


def _ascending(indices: list[int]) -> list[int]:
    if indices != sorted(indices):
        raise ValueError("not in order")
    return indices


class DocPlan(_Shape):
    """A :class:`FramePlan` (the same keys, required as there): how the kept frames were sampled."""

    # the counts before the rates: a plan wrong in both is refused for its count (the order the checks had)
    indices: Annotated[list[Count], Field(fail_fast=True), AfterValidator(_ascending),
                       _refused("the video's frame indices do not match its frames")]
    width: Annotated[Count, _refused("the video's width is not a count")]
    height: Annotated[Count, _refused("the video's height is not a count")]
    visual_tokens: Annotated[Count, _refused("the video's visual_tokens is not a count")]
    source_frames: Annotated[Count, _refused("the video's source_frames is not a count")] = 0
    sample_fps: Annotated[Number, Field(gt=0), AfterValidator(float),
                          _refused("the video's sample rate is not a number in range")]
    source_fps: Annotated[Number, Field(ge=0, le=MAX_SOURCE_FPS), AfterValidator(float),
                          _refused("the video's frame rate is not a number in range")] = 0.0

    @model_validator(mode="after")
    def _frame_size(self) -> DocPlan:
        if not 1 <= self.width * self.height <= MAX_FRAME_PIXELS:
            raise _bad("the video's frame size is out of range")
        return self

    def frame_plan(self) -> FramePlan:
        return FramePlan(tuple(self.indices), self.width, self.height, self.sample_fps, self.visual_tokens,
                         self.source_fps, self.source_frames)


def _frame_count(frames: list[Any]) -> list[Any]:
    if not 1 <= len(frames) <= MAX_VIDEO_FRAMES:
        raise _bad(f"the video has {len(frames)} frames (from 1 to {MAX_VIDEO_FRAMES} are possible)")
    return frames


def _jpeg(n: int, url: Any, plan: DocPlan) -> bytes:
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
    if not ok or data is None:
        raise _bad(f"frame {n} of the video is not a JPEG image of the plan's size")
    return data


class DocVideo(_Shape):
    """The Video tab's kept frames, as JPEG data URLs, and the plan they were sampled by."""

    frames: Annotated[list[Any], _refused("the video has no list of frames"), AfterValidator(_frame_count)] \
        = _required()
    plan: Annotated[DocPlan, _refused("the video's frame plan is missing",
                                      missing="the video's frame plan has no {key}")] = _required()
    _jpegs: tuple[bytes, ...] = PrivateAttr(())

    @model_validator(mode="after")
    def _frames_of_the_plan(self) -> DocVideo:
        if len(self.plan.indices) != len(self.frames):
            raise _bad("the video's frame indices do not match its frames")
        self._jpegs = tuple(_jpeg(n, url, self.plan) for n, url in enumerate(self.frames, 1))
        return self

    @property
    def clip(self) -> VideoClip:
        return VideoClip(self._jpegs, self.plan.frame_plan())


def _not_newer(version: int) -> int:
    if version > VERSION:
        raise _refusal("import_newer", version=version, supported=VERSION)
    return version


class Document(_Shape):
    """A conversation document, as :func:`export` writes it and :func:`load` reads it."""

    format: Annotated[_Format, _refused(code="import_not_ours")] = _required()
    version: Annotated[int, Field(ge=1), _refused("its version is not a number"), AfterValidator(_not_newer)] \
        = _required()
    tab: Annotated[Tab, _refused("its tab is not chat, image or video")] = _required()
    model: Annotated[Text, _refused("the model's name is not text")] = ""
    system_prompt: Annotated[Text, _refused("the system prompt is not text")] = ""
    turns: Annotated[list[DocTurn], Field(fail_fast=True), _refused("its turns are not a list"),
                     AfterValidator(_images_decoded)] = _required()
    video: Annotated[DocVideo | None, _refused("the video has no list of frames")] = None

    @field_validator("video", mode="before")
    @classmethod
    def _in_the_video_tab(cls, video: Any, info: ValidationInfo) -> Any:
        if video is not None and info.data.get("tab") != "video":
            raise _bad("it holds a video but is not a Video tab conversation")
        return video

    @model_validator(mode="after")
    def _video_conversation(self) -> Document:
        """A Video tab conversation is (question, answer) pairs about its clip, in text."""
        if self.tab != "video":
            return self
        if [turn.role for turn in self.turns] != ["user", "assistant"] * (len(self.turns) // 2):
            raise _bad("its turns do not alternate question and answer")
        if any(turn.images for turn in self.turns):
            raise _bad("a Video tab conversation holds an image")
        if self.turns and self.video is None:
            raise _bad("the video's frames are missing")
        return self


# ---- writing -----------------------------------------------------------------------------------------------


def _history(turns: Sequence[DocQuestion | DocAnswer], folder: Path) -> list[Turn]:
    """The turns as the app keeps them, each image written to a file in a new folder inside ``folder`` and
    checked by content (:func:`check_image`); on any failure that folder is removed."""
    images = [image.decoded for turn in turns for image in turn.images]
    paths: list[str] = []
    if images:
        target = folder / f"imported-{secrets.token_hex(8)}"
        try:
            target.mkdir(parents=True)
            for count, image in enumerate(images, 1):
                # a folder per image, as Gradio's cache keeps uploads: the name stays as the person gave it
                path = target / f"{count:02d}" / image.file_name
                path.parent.mkdir()
                path.write_bytes(image.data)
                check_image(str(path))
                paths.append(str(path))
        except BaseException as exc:
            shutil.rmtree(target, ignore_errors=True)
            if isinstance(exc, OSError):  # the disk's answer, never its path: the folder is the server's business
                raise ConversationFileError("import_not_stored", reason=exc.strerror or type(exc).__name__) from None
            raise
    written = iter(paths)
    return [turn.turn(written) for turn in turns]
