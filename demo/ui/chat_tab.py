"""The Chat tab: multi-turn text chat that streams token by token, with Stop, Regenerate, Clear and a system prompt."""

from __future__ import annotations

from contextlib import aclosing

import gradio as gr

from ..inputs.conversation import assistant_turn, clean_text, to_chatbot, to_openai, turn_text, user_turn
from ..engines import Engines
from ..errors import MESSAGES, UserFacingError
from ..engines.client import Progress
from .common import closed_with_its_run, params_from, progress_markdown, stats_markdown, tell
from .local_files import local_only

EXAMPLES = [
    "reverse every character of 'I love Qwen3-VL-4B-Instruct'",
    "Explain in three sentences what a vision-language model is.",
    "Write a haiku about a robot looking at the sea.",
]


async def stream_answer(engines: Engines, history: list[dict], system_prompt: str, params, chatbot, state, stats,
                        textbox):
    """Shared by the Chat and Image tabs: stream the answer to ``history`` into the chat box and the state.

    An async generator, awaited in the request's own task: Stop, Clear or a closed tab cancel that task or close
    this generator, which closes the HTTP stream (each layer closes the one below: ``aclosing``), which aborts
    the request in vLLM. On failure the user's last message goes back into
    the text box (nothing is lost), the conversation is restored, and the sentence is shown.
    """
    if not history or history[-1]["role"] != "user":
        return
    answer, final, progress_shown = "", None, False
    try:
        # reading and resizing the images, off the event loop
        messages = await engines.run_blocking(to_openai, history, system_prompt)
        async with aclosing(engines.stream_chat(messages, params)) as items:
            async for item in items:
                if isinstance(item, str):
                    answer += item
                    current = history + [assistant_turn(answer)]
                    update = {chatbot: to_chatbot(current), state: current}
                    if progress_shown:  # text again: the count would go stale
                        update[stats], progress_shown = "", False
                    yield update
                elif isinstance(item, Progress):
                    progress_shown = True
                    yield {stats: progress_markdown(item)}
                else:
                    final = item
        current = history + [assistant_turn(answer)]
        yield {chatbot: to_chatbot(current), state: current, stats: stats_markdown(final)}
    except UserFacingError as exc:
        tell(exc)
        restored = history[:-1]
        yield {chatbot: to_chatbot(restored), state: restored, textbox: turn_text(history[-1]), stats: ""}


def build_chat_tab(engines: Engines, gen_inputs: list) -> None:
    state = gr.State([])
    with gr.Row():
        with gr.Column(scale=1):
            chatbot = local_only(gr.Chatbot(label="Chat", height=400, buttons=["copy"], elem_id="chat-box",
                                            placeholder="Ask anything. Answers stream from vLLM as they are "
                                                        "generated."))
            with gr.Row():
                textbox = gr.Textbox(placeholder="Type a message and press Enter", show_label=False,
                                     scale=5, elem_id="chat-input", max_lines=8)
                send = gr.Button("Send", variant="primary", scale=1, elem_id="chat-send")
            with gr.Row():
                stop = gr.Button("Stop", variant="stop", elem_id="chat-stop")
                regenerate = gr.Button("Regenerate", elem_id="chat-regenerate")
                clear = gr.Button("Clear", elem_id="chat-clear")
            stats = gr.Markdown(elem_id="chat-stats")
            with gr.Accordion("System prompt", open=False):
                system = gr.Textbox(value="", lines=3, show_label=False,
                                    placeholder="Optional instructions for the assistant")
            gr.Examples(EXAMPLES, inputs=[textbox], label="Examples")

    # --- register listeners ---------------------------------------------------------------------------------
    def add_message(text: str, history: list[dict]):
        text = clean_text(text).strip()
        if not text:
            tell(MESSAGES["empty"])
            return {state: history}  # unchanged: the answer step then has nothing to do
        history = history + [user_turn(text)]
        # Shown at once; and nothing can start a second answer into this conversation until this one ends.
        return {state: history, chatbot: to_chatbot(history), textbox: gr.update(value="", interactive=False),
                send: gr.update(interactive=False), regenerate: gr.update(interactive=False), stats: ""}

    @closed_with_its_run
    async def respond(history, system_prompt, *gen):
        async with aclosing(stream_answer(engines, history, system_prompt, params_from(*gen), chatbot, state,
                                          stats, textbox)) as updates:
            async for update in updates:
                yield update

    def drop_last_answer(history: list[dict]):
        if history and history[-1]["role"] == "assistant":
            history = history[:-1]
        return {state: history, chatbot: to_chatbot(history), stats: "", textbox: gr.update(interactive=False),
                send: gr.update(interactive=False), regenerate: gr.update(interactive=False)}

    answer_args = dict(fn=respond, inputs=[state, system, *gen_inputs], outputs=[chatbot, state, stats, textbox],
                       concurrency_id="server", api_visibility="private")
    events = []
    for trigger in (textbox.submit, send.click):
        # Queued (for the toast) but unlimited, so the message shows at once even while others generate.
        ev = trigger(add_message, [textbox, state], [state, chatbot, textbox, send, regenerate, stats],
                     concurrency_limit=None, api_visibility="private")
        events.append(ev.success(**answer_args))
    ev = regenerate.click(drop_last_answer, [state], [state, chatbot, stats, textbox, send, regenerate],
                          concurrency_limit=None, api_visibility="private")
    events.append(ev.success(**answer_args))
    for ev in events:  # after the answer, an error, Stop or Clear (a cancelled event's .then runs too)
        ev.then(lambda: [gr.update(interactive=True)] * 3, None, [textbox, send, regenerate], queue=False,
                api_visibility="private")
    # Cancelling closes the generator, which closes the HTTP stream: vLLM aborts the request.
    # (A Stop that also ran a function to clear the token count failed the Stop test in a fresh-clone run: all
    # three answers ended before their streams closed. Stop stays a bare cancel; the next send clears the count.)
    stop.click(None, cancels=events, api_visibility="private")
    clear.click(lambda: ([], [], ""), outputs=[state, chatbot, stats], cancels=events, queue=False,
                api_visibility="private")
