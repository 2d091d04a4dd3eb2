"""The Image tab's region picker (issue 29): the last image added, where two clicks set the corners of a region;
the next Ask is about that region. Its turn carries the image, the question naming the region's 0-1000 box and,
for a small region, the zoomed crop (demo/inputs/region.py); the chat box shows the image with the box drawn.

image_tab.py builds it under the gallery (:func:`build_region`) and wraps its Ask with :meth:`RegionPicker.asking`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from ..errors import UserFacingError
from ..inputs import region
from ..inputs.conversation import check_image_count, clean_text, to_chatbot, turn_image_parts
from ..inputs.images import DEFAULT_DETAIL
from .answering import ConversationView
from .common import tell
from .texts import t, texts

TEXTS = texts({
    "region.title": ("Ask about a region", "针对图中某个区域提问"),
    "region.picker": ("Region: click two opposite corners", "区域：点击两个对角"),
    "region.hint": ("Click two opposite corners of a region on the last image added; the next Ask is about that "
                    "region. A small region is also sent zoomed in.",
                    "在最后添加的图片上点击区域的两个对角，下一次提问就针对该区域；较小的区域还会放大后一并发送。"),
    "region.clear": ("Clear region", "清除区域"),
})
DEFAULT_QUESTION = "Describe this region."
EMPTY: dict[str, Any] = {"image": None, "size": None, "corner": None, "box": None}


@dataclass(frozen=True)
class RegionPicker:
    """The picker's components: its picture, what it holds (``state``: the image, the picture's size in pixels, a
    first corner clicked, the box), the box as text, and Clear."""

    picture: gr.Image
    state: gr.State
    note: gr.Markdown
    clear: gr.Button

    @property
    def outputs(self) -> list:
        return [self.picture, self.state, self.note]

    def shown(self, held: dict) -> dict:
        """The picker as ``held`` says: the image, with its box or first corner."""
        if not held.get("image"):
            return {self.picture: None, self.state: dict(EMPTY), self.note: ""}
        box = tuple(held["box"]) if held.get("box") else None
        corner = region.scaled_point(held["corner"], held["size"]) if held.get("corner") and held.get("size") \
            else None
        try:
            path, size = region.picture(held["image"], box, corner)  # type: ignore[arg-type]  # four ints
        except (OSError, ValueError):  # the upload is gone or unreadable: no picker
            return {self.picture: None, self.state: dict(EMPTY), self.note: ""}
        note = f"`{region.as_text(box)}`" if box else ""  # type: ignore[arg-type]
        return {self.picture: path, self.state: {**held, "size": list(size)}, self.note: note}

    def asking(self, add_question, view: ConversationView, ask: gr.Button):
        """``add_question`` (inputs: images, text, history, detail level), or, when a region is picked, a question
        about it. The wrapped function takes the picker's state after ``add_question``'s inputs.

        The region's image goes at the Detail level chosen, as the tab's own Ask writes an image: the image part is
        the one ``add_question`` makes of it alone (its level as the engines' context caps it, which only the tab
        knows), then the region's turn is built around it."""
        def ask_about(*args):
            *inputs, held = args
            if not (held or {}).get("box"):
                return {**add_question(*inputs), **self.unchanged()}
            text, history, level = inputs[1], inputs[2], inputs[3]
            question = clean_text(text).strip() or DEFAULT_QUESTION
            box = region.parse_box(held["box"])  # (the picker's own: always good)
            try:
                check_image_count(history, adding=2 if region.is_small(box) else 1)
                # (add_question checks the image by content, and tells why it refuses it or the level)
                alone = add_question([held["image"]], question, [], level).get(view.state) or []
                if not alone:
                    return {view.state: history, **self.unchanged()}
                main = turn_image_parts(alone[-1])[0]
                turn = region.region_turn(held["image"], box, question, main.get("detail", DEFAULT_DETAIL),
                                          main.get("max_pixels"))
            except UserFacingError as exc:
                tell(exc)
                return {view.state: history, **self.unchanged()}
            except OSError:  # the upload is gone
                tell(region.RegionError("region_no_image"))
                return {view.state: history, **self.unchanged()}
            history = history + [turn]
            # as add_question: shown at once, and no second answer starts into this conversation until this one ends
            return {view.state: history, view.chatbot: to_chatbot(history),
                    view.textbox: gr.update(value="", interactive=False), ask: gr.update(interactive=False),
                    view.stats: "", **self.shown({**held, "corner": None, "box": None})}  # the region is used
        return ask_about

    def unchanged(self) -> dict:
        return {self.picture: gr.update(), self.state: gr.update(), self.note: gr.update()}

    def follows(self, gallery: gr.Gallery, paths_of, loads=(), clears=()) -> None:
        """The picker after ``loads`` (the example tables' events that fill the gallery) and ``clears`` (New
        conversation): Gradio 6.31's Gallery sends its change event only for what the person does in it, never
        for a value an event sets (demo/ui/image_detail.py found it), so the picker would keep the last image."""
        def last_image(images):
            paths = paths_of(images)
            return self.shown({**EMPTY, "image": paths[-1]} if paths else dict(EMPTY))

        for load in loads:
            load.then(last_image, [gallery], self.outputs, queue=False, show_progress="hidden",
                      api_visibility="private")
        for trigger in clears:
            trigger(lambda: self.shown(dict(EMPTY)), None, self.outputs, queue=False, show_progress="hidden",
                    api_visibility="private")


def build_region(gallery: gr.Gallery, paths_of) -> RegionPicker:
    """The picker, under the gallery (``paths_of``: the gallery's value as paths), with its listeners."""
    with gr.Accordion(t("region.title"), open=False, elem_id="image-region"):
        gr.Markdown(t("region.hint"), elem_classes=["region-hint"])
        picture = gr.Image(label=t("region.picker"), type="filepath", interactive=False, format="png",
                           elem_id="image-region-picker", buttons=[], height=320)
        with gr.Row(equal_height=True):
            note = gr.Markdown(elem_id="image-region-box")
            clear = gr.Button(t("region.clear"), size="sm", scale=0, min_width=120, elem_id="image-region-clear")
    state = gr.State(dict(EMPTY))
    picker = RegionPicker(picture, state, note, clear)

    def last_image(images):  # the gallery changed: the picker shows its last image, no region yet
        paths = paths_of(images)
        return picker.shown({**EMPTY, "image": paths[-1]} if paths else dict(EMPTY))

    def click(held, evt: gr.SelectData):  # (Gradio passes event data by the type hint)
        if not held.get("image") or not held.get("size") or not isinstance(evt.index, (list, tuple)):
            tell(region.RegionError("region_no_image"))
            return picker.unchanged()
        here = [float(evt.index[0]), float(evt.index[1])]
        if held.get("corner") is None or held.get("box"):  # a first corner (a third click starts again)
            return picker.shown({**held, "corner": here, "box": None})
        box = region.from_corners(held["corner"], here, held["size"])
        return picker.shown({**held, "corner": None, "box": list(box)})

    def cleared(held):
        return picker.shown({**held, "corner": None, "box": None})

    gallery.change(last_image, [gallery], picker.outputs, concurrency_limit=None, api_visibility="private")
    picture.select(click, [state], picker.outputs, concurrency_limit=None, api_visibility="private")
    clear.click(cleared, [state], picker.outputs, concurrency_limit=None, api_visibility="private")
    return picker
