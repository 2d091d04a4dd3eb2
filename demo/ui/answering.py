"""What the Chat and Image tabs share: streaming an answer into the conversation, its thinking, its request, the
copy the browser keeps, and the Chatbot's own edit, retry and undo.

A conversation is the list of turns in ``gr.State`` (:mod:`demo.inputs.conversation`); the chat box only shows it.
Each answer streams as coalesced pieces (one page update per piece, never per token). A thinking model's
reasoning goes into a collapsible "Thinking" message above the answer, open while it thinks and closed, with its
time, once the answer starts. When the answer ends, the turn keeps what was sent (for "Show request"), and the
conversation is handed to the browser (``gr.BrowserState``) and to the Download button.
"""

from __future__ import annotations

import logging
import time
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, cast

import gradio as gr

from ..engines.client import AnswerStats, Progress, Thinking
from ..engines.engines import Engines
from ..errors import UserFacingError
from ..inputs import conversation_file
from ..inputs.conversation import (
    TextPart,
    Turn,
    assistant_turn,
    clean_text,
    draw_regions,
    to_chatbot,
    to_openai,
    turn_of_message,
    turn_text,
)
from . import kept, request_view
from .common import progress_markdown, stats_markdown, tell
from .live import LIVE, LiveText, marker

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConversationView:
    """A tab's conversation components."""

    tab: str  # "chat" or "image": the document's tab and the browser's storage key
    chatbot: gr.Chatbot
    state: gr.State
    stats: gr.Markdown
    textbox: gr.Textbox  # where a failed or undone question goes back
    python: gr.Code
    curl: gr.Code
    browser: gr.BrowserState
    download: gr.DownloadButton
    note: gr.Markdown  # what the page says about keeping (too large for the browser, a file that did not load)
    system: gr.Textbox | None = None  # the system prompt, where the tab has one (a loaded conversation sets it)
    light: str = "off"  # the light stream (--light-stream): on, off, or auto (on while the app is busy)


def light_now(engines: Engines, mode: str) -> bool:
    """Whether an answer whose text starts now goes on the light stream (demo/ui/live.py)."""
    return mode == "on" or (mode == "auto" and engines.pacers.here().busy())


def settled(history: list[Turn]) -> list[Turn] | None:
    """After an answer that streamed on the light stream ended without its final update (Stop, a cancel): the
    conversation with the text the person saw, instead of the first words its message held. None: nothing to do
    (an answer that finished, a conversation changed since, an answer still streaming)."""
    if not history or history[-1]["role"] != "assistant" or "live" not in history[-1]:
        return None
    live = LIVE.get(history[-1]["live"])
    if live is not None and not live.done:
        return None
    turn = cast(Turn, {key: value for key, value in history[-1].items() if key != "live"})
    if live is not None:
        turn["content"] = live.answer
    return history[:-1] + [turn]


def unlock_after(ev, view: ConversationView, unlocked: list) -> None:
    """After an answer (its end, an error, Stop, a cancel: a cancelled event's .then runs too): the inputs come
    back, and an answer stopped on the light stream keeps the text that was shown."""
    def after(history):
        out = {component: gr.update(interactive=True) for component in unlocked}
        done = settled(history)
        if done is not None:
            out.update({view.state: done, view.chatbot: to_chatbot(done)})
        return out

    ev.then(after, [view.state], [*unlocked, view.state, view.chatbot], queue=False, api_visibility="private")


async def kept_updates(engines: Engines, view: ConversationView, history: list[Turn], system_prompt: str) -> dict:
    """The browser's copy, the file to download and the note, for the conversation as it is now."""
    if not history:
        return {view.browser: kept.EMPTY, view.download: gr.update(value=None, interactive=False), view.note: ""}
    try:
        doc = await engines.run_blocking(lambda: conversation_file.export(
            view.tab, history, model=engines.model_name, system_prompt=system_prompt))
        keep, note = kept.to_keep(doc, view.tab)
        path = await engines.run_blocking(kept.download_file, doc, view.tab)
    except (UserFacingError, OSError):  # an image gone meanwhile, a full disk: the page keeps what it shows
        return {}
    return {view.browser: keep, view.download: gr.update(value=path, interactive=True), view.note: note or ""}


async def stream_answer(engines: Engines, history: list[Turn], system_prompt: str, params, view: ConversationView):
    """Stream the answer to ``history`` into the chat box and the state.

    An async generator, awaited in the request's own task: Stop, Clear or a closed tab cancel that task or close
    this generator, which closes the HTTP stream (each layer closes the one below: ``aclosing``), which aborts
    the request in vLLM. On failure the user's last message goes back into the text box (nothing is lost), the
    conversation is restored, and the sentence is shown.

    On the light stream (``view.light``), the answer's first text makes its message (with the light stream's
    marker) and the rest goes to :data:`LIVE`, not through Gradio, until the final update.
    """
    if not history or history[-1]["role"] != "user":
        return
    answer, reasoning, thought_s, final, progress_shown = "", "", None, None, False
    thinking_since = None
    live: LiveText | None = None
    try:
        # reading and resizing the images, off the event loop
        messages = await engines.run_blocking(to_openai, history, system_prompt, cancellable=True)
        async with aclosing(engines.stream_chat(messages, params)) as items:
            async for item in items:
                if isinstance(item, (str, Thinking)):
                    if isinstance(item, Thinking):
                        reasoning += item.text
                        thinking_since = thinking_since or time.perf_counter()
                        if live is not None:  # (no parser thinks after answering) kept for the final update
                            continue
                    else:
                        answer += item
                        if live is not None:  # the rest of the answer: the light stream, not a Gradio update
                            live.add(item)
                            continue
                        if thinking_since is not None and thought_s is None:  # the block closes with its time
                            thought_s = time.perf_counter() - thinking_since
                    current = history + [assistant_turn(answer, reasoning, thought_s)]
                    chat = to_chatbot(current, streaming=True)
                    if isinstance(item, str) and chat[-1]["role"] == "assistant" and "metadata" not in chat[-1] \
                            and light_now(engines, view.light):
                        live = LIVE.open(answer)  # the last message is this answer's text (non-empty)
                        chat[-1] = {**chat[-1], "content": chat[-1]["content"] + marker(live)}
                        current[-1]["live"] = live.ticket  # a Stop then settles it with what was shown
                    update: dict[Any, Any] = {view.chatbot: chat, view.state: current}
                    if progress_shown:  # text again: the count would go stale
                        update[view.stats], progress_shown = "", False
                    yield update
                elif isinstance(item, Progress):
                    if live is not None:  # the text itself is arriving: no Gradio update for a count
                        continue
                    progress_shown = True
                    yield {view.stats: progress_markdown(item)}
                else:
                    final = item
        final = cast(AnswerStats, final)  # stream_chat ends with its stats (or raises)
        if live is not None:
            live.finish()
        thought_s = final.thinking_s if final.thinking_s is not None else thought_s
        current = history + [assistant_turn(answer, reasoning, thought_s,
                                            request_view.sent_of(final.request, system_prompt))]
        yield {view.chatbot: to_chatbot(current), view.state: current, view.stats: stats_markdown(final)}
    except UserFacingError as exc:
        tell(exc)
        restored = history[:-1]
        yield {view.chatbot: to_chatbot(restored), view.state: restored, view.textbox: turn_text(history[-1]),
               view.stats: ""}
        return
    finally:  # ended, failed, stopped or cancelled: the page's stream ends (the text stays readable a while)
        if live is not None:
            live.finish()
    # After the answer is on the page: its request and the copies kept (a failure here loses no answer).
    try:
        python, curl = await engines.run_blocking(request_view.views, final.request)
        yield {view.python: python, view.curl: curl, **await kept_updates(engines, view, current, system_prompt)}
    except (UserFacingError, OSError) as exc:
        logger.warning("could not keep the conversation: %s", exc)


def retried(history: list[Turn], data: gr.RetryData) -> list[Turn]:
    """The conversation up to and with the question whose answer is retried (Gradio sends that question's index)."""
    index = turn_of_message(history, data.index)
    if index is None or history[index]["role"] != "user":
        return history
    return history[:index + 1]


def undone(history: list[Turn], data: gr.UndoData) -> tuple[list[Turn], str]:
    """The conversation before the undone question, and its text (back into the text box)."""
    index = turn_of_message(history, data.index)
    if index is None or history[index]["role"] != "user":
        return history, ""
    return history[:index], turn_text(history[index])


def edited(history: list[Turn], data: gr.EditData) -> list[Turn]:
    """The conversation up to the edited question, which now says the new text (its images stay); later turns go.
    An edit to nothing leaves the conversation as it was (and says so)."""
    index = turn_of_message(history, data.index)
    if index is None or history[index]["role"] != "user":
        return history
    value = data.value if isinstance(data.value, str) else " ".join(
        p.get("text", "") if isinstance(p, dict) else str(p) for p in (data.value or []))
    turn = history[index].copy()
    text = clean_text(value).strip()
    if not text:
        tell("empty")
        return history
    if isinstance(turn["content"], str):
        turn["content"] = text
    else:
        turn["content"] = [p for p in turn["content"] if p["type"] != "text"] + [TextPart(type="text", text=text)]
    return history[:index] + [turn]


def restored(loaded, view: ConversationView, note: str | None = None) -> dict:
    """The page's state for a conversation loaded from the browser or a file (None: an empty page). Its regions'
    pictures must be drawn already (:func:`with_regions_drawn`, off the event loop): the chat box is made here."""
    history = loaded.history if loaded is not None else []
    updates = {view.state: history, view.chatbot: to_chatbot(history), view.note: note or "",
               view.stats: "", view.python: "", view.curl: ""}
    if loaded is not None and view.system is not None:
        updates[view.system] = loaded.system_prompt
    return updates


def with_regions_drawn(load, *args):
    """``load(*args)`` (an import: a loaded conversation, or one in a (loaded, problem) pair), then its regions'
    pictures drawn, in the same blocking call (:func:`draw_regions`: a large image decodes in seconds)."""
    result = load(*args)
    loaded = result[0] if isinstance(result, tuple) else result
    if loaded is not None:
        draw_regions(loaded.history)
    return result


async def file_loaded(engines: Engines, view: ConversationView, path: str | None) -> dict:
    """The page for a conversation file the person chose ("Load conversation"); nothing changes when no file came
    or it was refused (its sentence is shown)."""
    try:
        loaded = await engines.run_blocking(with_regions_drawn, kept.import_file, path, view.tab)
    except UserFacingError as exc:
        tell(exc)
        return {}
    if loaded is None:
        return {}
    system_prompt = loaded.system_prompt if view.system is not None else ""  # a tab without one sends none
    return {**restored(loaded, view), **await kept_updates(engines, view, loaded.history, system_prompt)}


async def came_back(engines: Engines, view: ConversationView, saved) -> dict:
    """The page (re)loaded: the conversation the browser kept, if any (or why it could not be taken back)."""
    loaded, problem = await engines.run_blocking(with_regions_drawn, kept.restore, saved, view.tab)
    if loaded is None:
        return restored(None, view, problem)
    path = await engines.run_blocking(kept.download_file, saved, view.tab)
    return {**restored(loaded, view), view.download: gr.update(value=path, interactive=True)}
