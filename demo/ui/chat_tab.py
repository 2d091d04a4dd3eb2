"""The Chat tab: multi-turn text chat that streams as it is generated, with Stop, Regenerate, Clear, a system
prompt, the Chatbot's own edit, retry and undo, "Show request", and the conversation kept in the browser,
downloadable and loadable."""

from __future__ import annotations

from contextlib import aclosing

import gradio as gr

from ..engines.engines import Engines
from ..inputs.conversation import Turn, clean_text, to_chatbot, user_turn
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
from .kept import conversation_files_row
from .texts import t, texts

TEXTS = texts({
    "chat.box": ("Chat", "聊天"),
    "chat.placeholder": ("Ask anything. Answers stream from vLLM as they are generated.",
                         "随便问点什么。回答由 vLLM 一边生成一边流式显示。"),
    "chat.input": ("Type a message and press Enter", "输入消息，按回车发送"),
    "chat.send": ("Send", "发送"),
    "chat.stop": ("Stop", "停止"),
    "chat.regenerate": ("Regenerate", "重新生成"),
    "chat.clear": ("Clear", "清空"),
    "chat.system": ("System prompt", "系统提示词"),
    "chat.system_hint": ("Optional instructions for the assistant", "可选：给助手的指示"),
    "chat.examples": ("Examples", "示例"),
})

EXAMPLES = [
    "reverse every character of 'I love Qwen3-VL-4B-Instruct'",
    "Explain in three sentences what a vision-language model is.",
    "Write a haiku about a robot looking at the sea.",
]


def build_chat_tab(engines: Engines, gen_inputs: list, browser: gr.BrowserState, light: str = "off"
                   ) -> kept.OnLoad:
    state = gr.State([])
    with gr.Row():
        with gr.Column(scale=1):
            chatbot = gr.Chatbot(label=t("chat.box"), height=400, buttons=["copy"], elem_id="chat-box",
                                 editable="user", group_consecutive_messages=False,
                                 placeholder=t("chat.placeholder"))
            with gr.Row():
                textbox = gr.Textbox(placeholder=t("chat.input"), show_label=False,
                                     scale=5, elem_id="chat-input", max_lines=8)
                send = gr.Button(t("chat.send"), variant="primary", scale=1, elem_id="chat-send")
            with gr.Row():
                stop = gr.Button(t("chat.stop"), variant="stop", elem_id="chat-stop")
                regenerate = gr.Button(t("chat.regenerate"), elem_id="chat-regenerate")
                clear = gr.Button(t("chat.clear"), elem_id="chat-clear")
            stats = gr.Markdown(elem_id="chat-stats")
            with gr.Accordion(t("chat.system"), open=False):
                system = gr.Textbox(value="", lines=3, show_label=False, elem_id="chat-system",
                                    placeholder=t("chat.system_hint"))
            python, curl = request_view.request_accordion("chat")
            download, upload, note = conversation_files_row("chat")
            gr.Examples(EXAMPLES, inputs=[textbox], label=t("chat.examples"))
    view = ConversationView("chat", chatbot, state, stats, textbox, python, curl, browser, download, note, system,
                            light)
    request_view.wire_select(engines, chatbot, state, python, curl)

    # --- register listeners ---------------------------------------------------------------------------------
    locked = {textbox: gr.update(interactive=False), send: gr.update(interactive=False),
              regenerate: gr.update(interactive=False)}

    def add_message(text: str, history: list[Turn]):
        text = clean_text(text).strip()
        if not text:
            tell("empty")
            return {state: history}  # unchanged: the answer step then has nothing to do
        history = history + [user_turn(text)]
        # Shown at once; and nothing can start a second answer into this conversation until this one ends.
        return {state: history, chatbot: to_chatbot(history), **locked, textbox: gr.update(value="", interactive=False),
                stats: ""}

    @closed_with_its_run
    async def respond(history, system_prompt, *gen):
        async with aclosing(stream_answer(engines, history, clean_text(system_prompt), params_from(*gen),
                                          view)) as updates:
            async for update in updates:
                yield update

    def drop_last_answer(history: list[Turn]):
        if history and history[-1]["role"] == "assistant":
            history = history[:-1]
        return {state: history, chatbot: to_chatbot(history), stats: "", **locked}

    def retry(history: list[Turn], data: gr.RetryData):
        return drop_last_answer(retried(history, data))

    def edit(history: list[Turn], data: gr.EditData):
        return drop_last_answer(edited(history, data))

    answer_args = dict(fn=respond, inputs=[state, system, *gen_inputs],
                       outputs=[chatbot, state, stats, textbox, python, curl, browser, download, note],
                       concurrency_id="server", api_visibility="private")
    turn_outputs = [state, chatbot, stats, textbox, send, regenerate]
    events = []
    for trigger in (textbox.submit, send.click):
        # Queued (for the toast) but unlimited, so the message shows at once even while others generate.
        ev = trigger(add_message, [textbox, state], turn_outputs, concurrency_limit=None, api_visibility="private")
        events.append(ev.success(**answer_args))
    for trigger, fn in ((regenerate.click, drop_last_answer), (chatbot.retry, retry), (chatbot.edit, edit)):
        ev = trigger(fn, [state], turn_outputs, concurrency_limit=None, api_visibility="private")
        events.append(ev.success(**answer_args))
    for ev in events:  # after the answer, an error, Stop or Clear (a cancelled event's .then runs too)
        unlock_after(ev, view, [textbox, send, regenerate])
    # Cancelling closes the generator, which closes the HTTP stream: vLLM aborts the request.
    # (A Stop that also ran a function to clear the token count failed the Stop test in a fresh-clone run: all
    # three answers ended before their streams closed. Stop stays a bare cancel; the next send clears the count.)
    stop.click(None, cancels=events, api_visibility="private")

    async def undo(history: list[Turn], system_prompt: str, data: gr.UndoData):
        history, text = undone(history, data)
        return {state: history, chatbot: to_chatbot(history), textbox: text, stats: "",
                **await kept_updates(engines, view, history, clean_text(system_prompt))}

    chatbot.undo(undo, [state, system], [state, chatbot, textbox, stats, browser, download, note], cancels=events,
                 api_visibility="private")

    def start_over():
        return {**restored(None, view), browser: kept.EMPTY, download: gr.update(value=None, interactive=False)}

    for trigger in (clear.click, chatbot.clear):  # the chat box's own trash button too
        trigger(start_over, None, [state, chatbot, stats, python, curl, note, browser, download], cancels=events,
                queue=False, api_visibility="private")

    async def load_file(path):
        return await file_loaded(engines, view, path)

    upload.upload(load_file, [upload],
                  [state, chatbot, stats, python, curl, note, system, browser, download], cancels=events,
                  api_visibility="private")

    async def come_back(saved):
        return await came_back(engines, view, saved)

    return kept.OnLoad(come_back, [browser], [state, chatbot, stats, python, curl, note, system, download])
