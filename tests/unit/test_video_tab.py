"""The Video tab's state changes (demo/ui/video_answering.py), without a browser or a model: a new conversation,
another clip, a loaded or restored conversation, a question streamed to its turn, "Find moments"'s chips; the
handlers that need no model (a conversation loaded from a file or restored at a page load); and the wiring that
keeps the page's endpoints as they were (demo/ui/video_tab.py).

Those handlers get the app's real engines, constructed but never started (no process: checked after each test);
the handlers that ask the model run on the session's real engines in tests/app/test_video_handlers.py. Real
components are built in a ``gr.Blocks`` so that the updates are checked by the component they go to."""

from __future__ import annotations

import asyncio
import inspect
import re

import gradio as gr
import psutil
import pytest
from PIL import Image

from demo.engines.engines import Engines
from demo.engines.model_card import ModelCard
from demo.engines.params import GenerationParams
from demo.engines.placement import QWEN3_VL_4B, PlanInputs, plan_devices
from demo.errors import MESSAGES
from demo.inputs import conversation_file
from demo.inputs.conversation import assistant_turn, user_turn
from demo.inputs.video_clip import VideoClip
from demo.inputs.video_frames import FramePlan, frame_tokens
from demo.ui import kept
from demo.ui.common import generation_accordion, video_slots
from demo.ui.image_find import THINKING_ROOM
from demo.ui.video_answering import (
    MOMENTS_MAX_TOKENS,
    VideoView,
    answered,
    asking,
    cleared,
    come_back,
    continued,
    conversation_page,
    document,
    from_loaded,
    load_file,
    locked,
    moments_found,
    moments_params,
    starting,
    streamed,
    unlocked,
)
from demo.ui.video_run import DEFAULT_QUESTION, STAGE_TEXT, Partial, Reasoning, Shown, Status, VideoChat
from demo.ui.video_tab import build_video_tab
from tests.conftest import engine_settings

PLAN = FramePlan((0, 12, 25, 37), 64, 64, 2.0, frame_tokens(4, 64, 64), source_fps=25.0, source_frames=50)
EMPTY_DOWNLOAD = {"__type__": "update", "value": None, "interactive": False}


@pytest.fixture(scope="module")
def clip() -> VideoClip:
    return VideoClip.from_frames([Image.new("RGB", (64, 64), c) for c in ("red", "green", "blue", "white")], PLAN)


@pytest.fixture
def chat(clip) -> VideoChat:
    """A conversation of one turn about /clips/a.mp4, its answer with a thinking model's reasoning."""
    return VideoChat("/clips/a.mp4", clip).add("What happens?", "A door opens at 00:01.", "a door, I think")


def blank_view() -> VideoView:
    """The Video tab's view over real components of each kind, in a page of their own (updates are checked by the
    component they go to)."""
    with gr.Blocks():
        return VideoView(gr.State(None), gr.Video(), gr.Textbox(), gr.Button(), gr.Textbox(), gr.Button(),
                         gr.Markdown(), gr.Gallery(), gr.Markdown(), gr.HTML(), gr.HTML(), gr.Markdown(), gr.Code(),
                         gr.Code(), gr.BrowserState(None), gr.DownloadButton(), gr.Markdown())


@pytest.fixture(scope="module")
def view() -> VideoView:
    return blank_view()


@pytest.fixture
def unstarted(tmp_path):
    """The app's real engines on the tests' settings, constructed but never started: what loading a file, a page
    load and the tab's wiring use of them (the settings, the model's name and context, ``run_blocking``'s pools)
    needs no model. Their plan is a machine's without a GPU, and no checkpoint is resolved (``Engines.create``
    would build the tiny one: seconds in a fresh clone, where the unit tests run first). No process may start."""
    before = set(psutil.Process().children(recursive=True))  # an earlier test's (multiprocessing's tracker)
    settings = engine_settings()
    eng = Engines(settings, None, plan_devices([], QWEN3_VL_4B, PlanInputs.from_settings(settings)), tmp_path)
    try:
        yield eng
    finally:
        eng.stop()  # its pools of threads
    started = set(psutil.Process().children(recursive=True)) - before
    assert not started, f"the engines started processes: {started}"


# --- the page's state changes ------------------------------------------------------------------------------------

def test_a_question_locks_exactly_its_four_inputs_and_its_end_unlocks_them(view):
    assert list(locked(view)) == [view.ask, view.find, view.question, view.phrase]
    assert all(u == {"__type__": "update", "interactive": False} for u in locked(view).values())
    assert list(unlocked(view)) == list(locked(view))
    assert all(u == {"__type__": "update", "interactive": True} for u in unlocked(view).values())


def test_a_new_conversation_empties_the_page_and_forgets_what_the_browser_kept(view):
    assert cleared(view) == {view.chat: None, view.frames: None, view.tokens: "", view.conversation: "",
                             view.moments: "", view.stats: "", view.status: "", view.python: "", view.curl: "",
                             view.browser: kept.EMPTY, view.download: EMPTY_DOWNLOAD, view.note: ""}


def test_another_clip_in_the_player_starts_a_new_conversation_and_the_same_one_continues(view, chat):
    assert continued(chat, "/clips/b.mp4") is None
    assert continued(chat, "/clips/a.mp4") is chat
    assert continued(chat, None) is chat  # the player emptied (a loaded conversation): its own frames
    assert continued(None, "/clips/a.mp4") is None
    assert starting(view, None) == {view.status: "Reading the video…", view.stats: "", view.frames: None,
                                    view.tokens: "", view.conversation: "", view.moments: "", view.chat: None}
    assert starting(view, chat) == {view.status: STAGE_TEXT["encoding"], view.stats: ""}  # frames and turns stay


def test_a_follow_up_continues_the_conversation_and_a_question_of_nothing_is_the_default(chat):
    now = asking(None, "  And \x00then?  ", chat)
    assert (now.chat, now.question, now.turns, now.thoughts) == (chat, "And then?", chat.turns, chat.thoughts)
    assert now.times == PLAN.times and now.duration == chat.duration == 2.0
    fresh = asking("/clips/b.mp4", "", chat)
    assert (fresh.chat, fresh.video, fresh.question, fresh.turns, fresh.times) == (
        None, "/clips/b.mp4", DEFAULT_QUESTION, (), None)


def test_a_streamed_question_becomes_a_turn_of_a_new_conversation(view, clip):
    now = asking("/clips/b.mp4", "What is it?", None)
    now, changes = streamed(view, now, Shown(clip.images(), "4 frames", clip, PLAN), redraw=True)
    assert now.chat == VideoChat("/clips/b.mp4", clip) and changes[view.chat] is now.chat
    assert [caption for _, caption in changes[view.frames]] == ["0.2 s", "0.2 s", "1.2 s", "1.2 s"]
    assert changes[view.tokens] == "4 frames" and now.times == PLAN.times

    now, changes = streamed(view, now, Status(f"{STAGE_TEXT['generating']} 7 tokens <so far>"), redraw=True)
    assert now.counting and changes == {view.status: f"{STAGE_TEXT['generating']} 7 tokens &lt;so far&gt;"}
    now, changes = streamed(view, now, Reasoning("hmm"), redraw=True)
    assert now.thinking == "hmm" and list(changes) == [view.conversation]
    assert "video-thinking' open" in changes[view.conversation]  # open while it thinks
    now, changes = streamed(view, now, Partial("It is"), redraw=True)
    assert not now.counting and changes[view.status] == STAGE_TEXT["generating"]  # the token count went stale
    assert "What is it?" in changes[view.conversation] and "It is" in changes[view.conversation]
    now, changes = streamed(view, now, Partial("It is a door"), redraw=True)
    assert list(changes) == [view.conversation]  # the status is left alone

    chat, changes = answered(view, now, "It is a door at 00:01.", "hmm", "9 prompt + 5 completion <tokens>")
    assert chat.turns == (("What is it?", "It is a door at 00:01."),) and chat.thoughts == ("hmm",)
    assert chat.video == "/clips/b.mp4"
    assert changes[view.chat] is chat and changes[view.question] == "" and changes[view.status] == "Done."
    assert changes[view.stats] == "9 prompt + 5 completion &lt;tokens&gt;"
    assert changes[view.conversation].count("video-turn bot") == 1 and 'data-seek="1"' in changes[view.conversation]


def test_moments_do_not_redraw_the_conversation_and_become_chips(view, chat):
    now = asking(None, "Find the door", chat)
    assert streamed(view, now, Reasoning("hmm"), redraw=False)[1] == {}
    assert streamed(view, now, Partial('[{"time"'), redraw=False)[1] == {}
    found = moments_found(view, "the door", chat, '[{"time": 1.0, "label": "door"}, {"time": 9, "label": "end"}]')
    assert list(found) == [view.moments]
    assert "the door" in found[view.moments] and found[view.moments].count("class=\"seek-chip\"") == 2
    assert 'data-seek="2"' in found[view.moments]  # held to the clip's two seconds
    assert "No moment" in moments_found(view, "a cat", chat, "none")[view.moments]


@pytest.mark.parametrize("thinking", ["never", "always", "switch"])
def test_moments_have_room_for_the_schema_and_for_thinking_and_keep_the_other_settings(tmp_path, thinking):
    settings = engine_settings()
    card = ModelCard("Qwen3_5ForConditionalGeneration", "Qwen3.5", thinking, QWEN3_VL_4B)
    eng = Engines(settings, None, plan_devices([], QWEN3_VL_4B, PlanInputs.from_settings(settings)), tmp_path,
                  reasoning_parser=None if thinking == "never" else "qwen3", card=card)
    try:
        got = moments_params(eng, GenerationParams(0.3, 0.9, 5, 4096, 0.5))
    finally:
        eng.stop()
    room = MOMENTS_MAX_TOKENS + (THINKING_ROOM if thinking == "always" else 0)
    # a model with the switch answers the schema without thinking; one that always thinks gets room for it
    assert got == GenerationParams(0.3, 0.9, 5, room, 0.5, thinking=False if thinking == "switch" else None)


def test_a_kept_document_comes_back_as_the_same_conversation_and_its_page(view, chat):
    loaded, problem = kept.restore(document(chat, "tiny-model"), "video")
    back = from_loaded(loaded)
    assert problem is None and back is not None
    assert (back.video, back.turns, back.thoughts, back.clip.plan) == ("", chat.turns, chat.thoughts, PLAN)
    page = conversation_page(view, back, 8192, 6000)
    assert page[view.chat] is back and page[view.status] == "Loaded: ask a follow-up about these frames."
    assert len(page[view.frames]) == 4 and "6000 for frames" in page[view.tokens]
    assert page[view.conversation].count("video-turn user") == 1 and "video-thinking" in page[view.conversation]
    assert (page[view.moments], page[view.stats], page[view.python], page[view.curl]) == ("", "", "", "")
    assert conversation_page(view, None, 8192, 6000) == {k: v for k, v in cleared(view).items()
                                                         if k not in (view.browser, view.download, view.note)}


def test_a_document_without_frames_is_no_video_conversation(tmp_path):
    doc = conversation_file.export("chat", [user_turn("hi"), assistant_turn("hello")], model="m")
    assert from_loaded(conversation_file.load(doc, folder=tmp_path)) is None
    assert from_loaded(None) is None


def test_a_loaded_file_shows_its_conversation_and_keeps_it(unstarted, view, chat, tmp_path):
    path = kept.download_file(document(chat, "tiny-model"), "video")
    out = asyncio.run(load_file(unstarted, view, path))
    assert out[view.chat].turns == chat.turns and out[view.video] is None  # the player emptied
    assert out[view.browser]["tab"] == "video" and out[view.download]["interactive"] is True
    other = tmp_path / "chat.json"
    other.write_bytes(conversation_file.dumps(conversation_file.export("chat", [user_turn("hi")], model="m")))
    with pytest.warns(UserWarning, match=re.escape(MESSAGES["import_no_video"])):
        assert asyncio.run(load_file(unstarted, view, str(other))) == {}  # nothing changes


def test_a_page_load_restores_what_the_browser_kept_or_an_empty_page(unstarted, view, chat):
    restoring = asyncio.Semaphore(1)
    out = asyncio.run(come_back(unstarted, view, restoring, document(chat, "tiny-model")))
    assert out[view.chat].turns == chat.turns and out[view.video] is None and out[view.download]["interactive"]
    empty = {k: v for k, v in cleared(view).items() if k not in (view.browser, view.download)}
    assert asyncio.run(come_back(unstarted, view, restoring, kept.EMPTY)) == empty
    broken = {**document(chat, "tiny-model"), "version": 999}
    out = asyncio.run(come_back(unstarted, view, restoring, broken))
    assert out[view.chat] is None and out[view.note]  # why it could not be taken back


def test_the_tabs_events_keep_their_endpoint_names_groups_and_parameters(unstarted):
    """The handlers are module functions bound to the tab's engines and view: each page event keeps the name, the
    concurrency group and the parameters it had as a closure (a bare partial would be named "partial")."""
    with gr.Blocks() as demo:
        on_load = build_video_tab(unstarted, generation_accordion(), kept.browser_state("video", "s" * 32))
    fns = {fn.api_name: fn for fn in demo.fns.values()}
    for name in ("describe", "describe_1", "find_moments", "find_moments_1", "load_file"):
        fn = fns[name]
        assert (fn.concurrency_id, fn.concurrency_limit, fn.api_visibility) == (
            "video", video_slots(unstarted.settings), "private"), name
    assert fns["describe"].types_generator and fns["describe"].inputs[0].elem_id == "video-input"
    assert [p for p in inspect.signature(fns["describe"].fn).parameters][:3] == ["video_path", "text", "current"]
    assert on_load.fn.__name__ == "come_back" and inspect.iscoroutinefunction(on_load.fn)
    assert list(inspect.signature(on_load.fn).parameters) == ["saved"]
