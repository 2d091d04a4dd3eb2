"""The Image tab's detail (issue 29): how many visual tokens each new image may cost, chosen before sending.

A Radio (low / standard / high) beside the gallery, and a line under it that says, for each of the gallery's
images, its size, the size the model will see and its visual tokens: from the files' headers only
(:func:`demo.inputs.images.upright_size`, nothing decoded), so it follows every upload and change of level at
once. The level goes with the images into their turn (:func:`demo.inputs.conversation.user_turn`): an image
already in the conversation keeps the detail it was sent at, and the line says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
from PIL import Image

from ..errors import UserFacingError
from ..inputs.conversation import Turn, image_detail, image_pixels, turn_image_parts
from ..inputs.images import DEFAULT_DETAIL, DETAIL_LEVELS, detail_pixels, seen_size, upright_size
from .texts import say, t, texts

TEXTS = texts({
    "detail.label": ("Detail (visual tokens per image)", "细节（每张图片的视觉 token 数）"),
    "detail.info": ("More tokens read smaller text, and cost more time and context. Images already asked about "
                    "keep theirs.",
                    "token 越多，越能看清小字，但也更耗时、占用更多上下文。已经提问过的图片保持原来的细节。"),
    "detail.low": ("Low (~256)", "低（约 256）"),
    "detail.standard": ("Standard", "标准"),
    "detail.high": ("High (small text)", "高（小字）"),
    "detail.seen": ("{width}×{height} → model sees {seen_width}×{seen_height} · {tokens} visual tokens",
                    "{width}×{height} → 模型看到 {seen_width}×{seen_height} · {tokens} 个视觉 token"),
    "detail.kept": (" (sent earlier at “{level}”; a new conversation sends it anew)",
                    "（之前已按“{level}”发送；开始新对话才会重新发送）"),
    "detail.total": ("{count} images · {tokens} visual tokens in all", "共 {count} 张图片 · {tokens} 个视觉 token"),
    "detail.unreadable": ("not readable as an image", "无法作为图片读取"),
})


def detail_line(paths: Sequence[str], level: str, history: Sequence[Turn], max_model_len: int,
                lang: str | None = None) -> str:
    """Markdown: one line per image, "4000×3000 → model sees 1312×960 · 1,230 visual tokens" (an image already in
    the conversation at the detail it was sent at), and a total for several; "" without images."""
    sent = {part["path"]: part for turn in history for part in turn_image_parts(turn)}
    rows, total = [], 0
    for path in paths:
        part = sent.get(path)
        pixels = image_pixels(part) if part else detail_pixels(level, max_model_len)
        try:
            width, height = upright_size(path)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):  # the Ask's check says why
            rows.append(f"{Path(path).name}: {say('detail.unreadable', lang)}")
            continue
        seen = seen_size(width, height, pixels)
        total += seen.tokens
        row = say("detail.seen", lang, width=width, height=height, seen_width=seen.width,
                  seen_height=seen.height, tokens=f"{seen.tokens:,}")
        if part:
            row += say("detail.kept", lang, level=say(f"detail.{image_detail(part)}", lang))
        rows.append(row if len(paths) == 1 else f"{Path(path).name}: {row}")
    if len(paths) > 1:
        rows.append(say("detail.total", lang, count=len(paths), tokens=f"{total:,}"))
    return "  \n".join(rows)  # (Markdown's hard line break)


@dataclass(frozen=True)
class DetailPicker:
    """The level's Radio (an input of the tab's Ask) and the line under it."""

    level: gr.Radio
    line: gr.Markdown


def build_detail() -> DetailPicker:
    """The Radio and its line, where the tab's layout puts them (beside the gallery)."""
    level = gr.Radio([(t(f"detail.{name}"), name) for name in DETAIL_LEVELS], value=DEFAULT_DETAIL,
                     label=t("detail.label"), info=t("detail.info"), elem_id="image-detail")
    line = gr.Markdown(elem_id="image-detail-line")
    return DetailPicker(level, line)


def wire_detail(picker: DetailPicker, engines, gallery: gr.Gallery, state: gr.State,
                paths_of: Callable[[object], list[str]], clears: Sequence[Callable] = (),
                loads: Sequence = ()) -> None:
    """The line follows the gallery and the level (not each change of the conversation: that streams), after
    ``loads`` (the events of example tables that fill the gallery), and is emptied by ``clears`` (the tab's "New
    conversation"): Gradio 6.31's Gallery sends its change event only for what the person does in it, never for a
    value an event sets. Wired after the tab's own listeners: the order of the page's events is what raw callers
    index them by."""
    def show(images, level, history):
        try:
            return detail_line(paths_of(images), level, history or [], engines.max_model_len)
        except UserFacingError:  # a level no Radio offers (a raw request): nothing to show for it
            return ""

    for trigger in (gallery.change, picker.level.change):
        trigger(show, [gallery, picker.level, state], picker.line, queue=False, show_progress="hidden",
                api_visibility="private")
    for load in loads:
        load.then(show, [gallery, picker.level, state], picker.line, queue=False, show_progress="hidden",
                  api_visibility="private")
    for trigger in clears:
        trigger(lambda: "", None, picker.line, queue=False, show_progress="hidden", api_visibility="private")
