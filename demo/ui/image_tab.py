"""The Image tab: one or more images (upload, paste or webcam), a question, and follow-ups about the same images."""

from __future__ import annotations

from contextlib import aclosing
from pathlib import Path

import gradio as gr

from ..engines.engines import Engines
from ..errors import UserFacingError
from ..inputs.conversation import (
    Turn,
    check_image_count,
    clean_text,
    shown_as_text,
    to_chatbot,
    turn_images,
    user_turn,
)
from ..inputs.images import check_image
from . import kept, request_view
from .answering import (
    ConversationView,
    came_back,
    edited,
    file_loaded,
    kept_updates,
    restored,
    retried,
    stream_answer,
    undone,
    unlock_after,
)
from .common import closed_with_its_run, params_from, tell
from .image_detail import build_detail, wire_detail
from .image_find import KINDS, drawn, find_objects, found_in_answer, found_summary
from .image_region import build_region
from .texts import say, t, texts

ASSETS = Path(__file__).resolve().parent.parent.parent / "assets"
DEFAULT_QUESTION = "Describe this image."

TEXTS = texts({
    "image.gallery": ("Images (upload, paste or webcam)", "图片（上传、粘贴或用摄像头拍摄）"),
    "image.find_hint": ("Find in the image… (e.g. cup)", "在图中查找……（例如：杯子）"),
    "image.find": ("Find", "查找"),
    "image.find_as": ("Find as", "查找结果形式"),
    "image.found": ("What the model found", "模型找到的内容"),
    "image.finding": ("Finding…", "正在查找……"),
    "image.chat": ("Conversation about the images", "关于这些图片的对话"),
    "image.ask": ("Ask", "提问"),
    "image.stop": ("Stop", "停止"),
    "image.new": ("New conversation", "新对话"),
    "image.examples": ("Example photographs", "示例照片"),
    "image.find_examples": ("Find in the example photographs", "在示例照片中查找"),
})


def gallery_paths(value) -> list[str]:
    """Paths from a ``gr.Gallery(type="filepath")`` value (items are (path, caption) pairs)."""
    out = []
    for item in value or []:
        path = item[0] if isinstance(item, (tuple, list)) else item
        if isinstance(path, dict):
            path = path.get("path")
        if path:
            out.append(str(path))
    return out


def example_rows() -> list[list]:
    rows = []
    for name, question in (("astronaut.jpg", "Describe this image."),
                           ("coffee.jpg", "What is in the cup, and what is it standing on?"),
                           ("chelsea.jpg", "What animal is this and what is it doing?")):
        if (ASSETS / name).is_file():
            rows.append([[str(ASSETS / name)], question])
    return rows


def example_finds() -> list[list]:
    rows = []
    for name, phrase in (("coffee.jpg", "cup"), ("chelsea.jpg", "the cat's eyes"), ("astronaut.jpg", "flag")):
        if (ASSETS / name).is_file():
            rows.append([[str(ASSETS / name)], phrase])
    return rows


def draw_answer(history):
    """After an answer: the boxes or points it holds (the cookbook's JSON in free text), drawn; else no change."""
    found, path = found_in_answer(history)
    if not found:
        return gr.update(), gr.update()
    try:
        picture = drawn(path, found)
    except OSError:  # the upload is gone: the answer itself is still there to read
        return gr.update(), gr.update()
    return gr.update(value=picture, visible=True), shown_as_text(found_summary(found))


def build_image_tab(engines: Engines, gen_inputs: list, browser: gr.BrowserState, light: str = "off"
                    ) -> kept.OnLoad:
    state = gr.State([])  # the conversation; the images attached to it are those of its turns
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            gallery = gr.Gallery(label=t("image.gallery"),
                                 sources=["upload", "clipboard", "webcam"], interactive=True,
                                 type="filepath", columns=3, height=300, elem_id="image-gallery",
                                 file_types=["image"])
            detail = build_detail()  # issue 29: the new images' visual-token budget, and what the model will see
            with gr.Row(equal_height=True):
                phrase = gr.Textbox(show_label=False, placeholder=t("image.find_hint"), scale=4,
                                    elem_id="image-find", max_lines=1)
                find = gr.Button(t("image.find"), scale=1, min_width=80, elem_id="image-find-btn")
            kind = gr.Radio(list(KINDS), value="boxes", label=t("image.find_as"), elem_id="image-find-kind")
            found_image = gr.Image(label=t("image.found"),
                                   type="filepath", interactive=False, visible=False, elem_id="image-found",
                                   format="png", buttons=["download"])
            found_note = gr.Markdown(elem_id="image-found-note")
            region = build_region(gallery, gallery_paths)  # two clicks: the next Ask is about that region
            examples = example_rows()
        with gr.Column(scale=3):
            # (each message its own bubble: an image message grouped with its text makes Gradio 6.31 drop the edit)
            chatbot = gr.Chatbot(label=t("image.chat"), height=420, editable="user",
                                 group_consecutive_messages=False, buttons=["copy"],
                                 elem_id="image-chat")
            with gr.Row():
                question = gr.Textbox(value=DEFAULT_QUESTION, show_label=False, scale=5, elem_id="image-question",
                                      max_lines=6)
                ask = gr.Button(t("image.ask"), variant="primary", scale=1, elem_id="image-ask")
            with gr.Row():
                stop = gr.Button(t("image.stop"), variant="stop", elem_id="image-stop")
                clear = gr.Button(t("image.new"), elem_id="image-clear")
            stats = gr.Markdown(elem_id="image-stats")
            python, curl = request_view.request_accordion("image")
            download, upload, note = kept.conversation_files_row("image")
    shown = []  # the example tables (their loads do not fire the gallery's change event)
    if examples:
        shown.append(gr.Examples(examples, inputs=[gallery, question], label=t("image.examples")))
    find_rows = [row for row in example_finds() if examples]
    if find_rows:
        # (not the kind too: Gradio 6.31's examples table showed no row at all with the Radio among its inputs)
        shown.append(gr.Examples(find_rows, inputs=[gallery, phrase], label=t("image.find_examples")))

    view = ConversationView("image", chatbot, state, stats, question, python, curl, browser, download, note,
                            light=light)
    request_view.wire_select(engines, chatbot, state, python, curl)

    # --- register listeners ---------------------------------------------------------------------------------
    locked = {question: gr.update(interactive=False), ask: gr.update(interactive=False)}

    def add_question(images, text, history, level):
        text = clean_text(text).strip() or DEFAULT_QUESTION
        paths = gallery_paths(images)
        # Attached means in the conversation: a turn that failed is taken back with its images, so a retry
        # sends them again.
        already = {p for turn in history for p in turn_images(turn)}
        new = [p for p in paths if p not in already]
        if not paths and not already:
            tell("image_missing")
            return {state: history}  # unchanged: the answer step then has nothing to do
        try:
            check_image_count(history, adding=len(new))
            for p in new:
                check_image(p)
            turn = user_turn(text, new, level, engines.max_model_len)  # the new images at the chosen detail
        except UserFacingError as exc:
            tell(exc)
            return {state: history}
        history = history + [turn]
        # Shown at once; and nothing can start a second answer into this conversation until this one ends.
        return {state: history, chatbot: to_chatbot(history), question: gr.update(value="", interactive=False),
                ask: gr.update(interactive=False), stats: ""}

    @closed_with_its_run
    async def respond(history, *gen):
        async with aclosing(stream_answer(engines, history, "", params_from(*gen), view)) as updates:
            async for update in updates:
                yield update

    def again(history):  # the answer to the last question is made again (the Chatbot's retry and edit)
        return {state: history, chatbot: to_chatbot(history), stats: "", **locked}

    answer_args = dict(fn=respond, inputs=[state, *gen_inputs],
                       outputs=[chatbot, state, stats, question, python, curl, browser, download, note],
                       concurrency_id="server", api_visibility="private")
    turn_outputs = [state, chatbot, question, ask, stats]
    events = []
    for trigger in (question.submit, ask.click):
        ev = trigger(region.asking(add_question, view, ask), [gallery, question, state, detail.level, region.state],
                     turn_outputs + region.outputs,
                     concurrency_limit=None, api_visibility="private")
        events.append(ev.success(**answer_args))
    def retry(history: list[Turn], data: gr.RetryData):  # (Gradio passes event data by the type hint)
        return again(retried(history, data))

    def edit(history: list[Turn], data: gr.EditData):
        return again(edited(history, data))

    for trigger, fn in ((chatbot.retry, retry), (chatbot.edit, edit)):
        ev = trigger(fn, [state], turn_outputs, concurrency_limit=None, api_visibility="private")
        events.append(ev.success(**answer_args))
    for ev in events:  # after the answer, an error, Stop or a new conversation (a cancelled event's .then runs)
        unlock_after(ev, view, [question, ask])
        ev.then(draw_answer, state, [found_image, found_note], api_visibility="private")

    @closed_with_its_run
    async def find_in(images, text, kind_v, history):
        paths = gallery_paths(images) or [p for turn in history for p in turn_images(turn)]
        if not paths:
            tell("image_missing")
            return
        yield {found_note: say("image.finding")}
        try:
            found, picture, _ = await find_objects(engines, paths[-1], text, kind_v)
        except UserFacingError as exc:
            tell(exc)
            yield {found_note: ""}
            return
        yield {found_image: gr.update(value=picture, visible=True), found_note: shown_as_text(found_summary(found))}

    finds = [trigger(find_in, [gallery, phrase, kind, state], [found_image, found_note], concurrency_id="server",
                     api_visibility="private") for trigger in (find.click, phrase.submit)]
    stop.click(None, cancels=events + finds, api_visibility="private")

    async def undo(history: list[Turn], data: gr.UndoData):
        history, text = undone(history, data)
        return {state: history, chatbot: to_chatbot(history), question: text, stats: "",
                **await kept_updates(engines, view, history, "")}

    chatbot.undo(undo, [state], [state, chatbot, question, stats, browser, download, note], cancels=events,
                 api_visibility="private")

    def start_over():
        return {**restored(None, view), question: DEFAULT_QUESTION, gallery: None,
                found_image: gr.update(value=None, visible=False), found_note: "", browser: kept.EMPTY,
                download: gr.update(value=None, interactive=False)}

    cleared = [state, chatbot, stats, python, curl, note, question, gallery, found_image, found_note, browser,
               download]
    for trigger in (clear.click, chatbot.clear):  # the chat box's own trash button too
        trigger(start_over, None, cleared, cancels=events + finds, queue=False, api_visibility="private")

    async def load_file(path):
        return await file_loaded(engines, view, path)

    upload.upload(load_file, [upload],
                  [state, chatbot, stats, python, curl, note, browser, download], cancels=events + finds,
                  api_visibility="private")

    async def come_back(saved):
        return await came_back(engines, view, saved)

    wire_detail(detail, engines, gallery, state, gallery_paths, clears=(clear.click, chatbot.clear),
                loads=[e.load_input_event for e in shown])
    region.follows(gallery, gallery_paths, loads=[e.load_input_event for e in shown],
                   clears=(clear.click, chatbot.clear))
    return kept.OnLoad(come_back, [browser], [state, chatbot, stats, python, curl, note, download])

