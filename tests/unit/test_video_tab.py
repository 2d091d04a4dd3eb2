"""The Video tab's state changes (demo/ui/video_answering.py) and its handlers, without a browser or an engine: a
new conversation, another clip, a loaded or restored conversation, a question streamed to its turn, a Stop in the
middle of one, "Find moments"; and the wiring that keeps the page's endpoints as they were (demo/ui/video_tab.py).

The handlers run against a stand-in for the engines and a scripted ``run_video``; real components are built in a
``gr.Blocks`` so that the updates are checked by the component they go to."""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from types import SimpleNamespace

import gradio as gr
import pytest
from PIL import Image

from demo.engines.params import GenerationParams
from demo.errors import MESSAGES
from demo.inputs import conversation_file
from demo.inputs.conversation import assistant_turn, user_turn
from demo.inputs.video_clip import VideoClip
from demo.inputs.video_frames import FramePlan, frame_tokens
from demo.inputs.video_times import moments_schema
from demo.settings import Settings
from demo.ui import kept, video_answering
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
    describe,
    document,
    find_moments,
    from_loaded,
    load_file,
    locked,
    moments_found,
    moments_params,
    starting,
    streamed,
    unlocked,
)
from demo.ui.video_run import DEFAULT_QUESTION, STAGE_TEXT, Answered, Partial, Reasoning, Shown, Status, VideoChat
from demo.ui.video_tab import build_video_tab

GEN = (0.7, 0.8, 20, 1024, 1.5)  # the generation sliders' values, as the page sends them
SAMPLING = (2.0, 8, "360p", 0, 0)  # fps, max frames, quality, start, end
PLAN = FramePlan((0, 12, 25, 37), 64, 64, 2.0, frame_tokens(4, 64, 64), source_fps=25.0, source_frames=50)
EMPTY_DOWNLOAD = {"__type__": "update", "value": None, "interactive": False}


@pytest.fixture(scope="module")
def clip() -> VideoClip:
    return VideoClip.from_frames([Image.new("RGB", (64, 64), c) for c in ("red", "green", "blue", "white")], PLAN)


@pytest.fixture
def chat(clip) -> VideoChat:
    """A conversation of one turn about /clips/a.mp4, its answer with a thinking model's reasoning."""
    return VideoChat("/clips/a.mp4", clip).add("What happens?", "A door opens at 00:01.", "a door, I think")


@pytest.fixture(scope="module")
def view() -> VideoView:
    with gr.Blocks():
        return VideoView(gr.State(None), gr.Video(), gr.Textbox(), gr.Button(), gr.Textbox(), gr.Button(),
                         gr.Markdown(), gr.Gallery(), gr.Markdown(), gr.HTML(), gr.HTML(), gr.Markdown(), gr.Code(),
                         gr.Code(), gr.BrowserState(None), gr.DownloadButton(), gr.Markdown())


class Engines:
    """What the Video tab's handlers use of the engines; blocking work runs inline."""

    def __init__(self, clip: VideoClip, reasoning_parser: str | None = None):
        self.settings = Settings.from_args([], env={})
        self.model_name = "tiny-model"
        self.max_model_len = 8192
        self.reasoning_parser = reasoning_parser
        self.clip = clip
        self.sampled: list[tuple] = []

    async def run_blocking(self, fn, *args, cancellable=False):
        return fn(*args)

    def video_budget(self, max_tokens=None) -> int:
        return 6000

    async def sample_video(self, path, sampling, max_tokens):
        self.sampled.append((path, max_tokens))
        return self.clip.images(), self.clip


class Script:
    """A stand-in for ``run_video``: records each call and yields the given updates (a callable among them is
    awaited instead: the answer waits there)."""

    def __init__(self, *updates):
        self.updates, self.calls, self.closed = updates, [], False

    async def __call__(self, engines, source, question, sampling, params, history=(), json_schema=None):
        self.calls.append(SimpleNamespace(source=source, question=question, params=params, history=history,
                                          json_schema=json_schema))
        try:
            for update in self.updates:
                if callable(update):
                    await update()
                else:
                    yield update
        finally:
            self.closed = True


def collect(stream) -> list[dict]:
    async def run():
        return [update async for update in stream]

    return asyncio.run(run())


def last(updates: list[dict], component):
    """The last value an event's updates gave ``component`` (what the page shows after them)."""
    values = [u[component] for u in updates if component in u]
    assert values, "no update for the component"
    return values[-1]


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


def test_moments_have_room_for_the_schema_and_for_thinking_and_keep_the_other_settings():
    params = GenerationParams(0.3, 0.9, 5, 4096, 0.5)
    assert moments_params(params, thinking=False) == GenerationParams(0.3, 0.9, 5, MOMENTS_MAX_TOKENS, 0.5)
    assert moments_params(params, thinking=True).max_tokens == MOMENTS_MAX_TOKENS + THINKING_ROOM


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


# --- the handlers ------------------------------------------------------------------------------------------------

def test_a_question_about_a_new_clip_streams_its_turn_and_keeps_the_conversation(view, clip, monkeypatch):
    script = Script(Status(STAGE_TEXT["reading"]), Shown(clip.images(), "caption", clip, PLAN),
                    Status(f"{STAGE_TEXT['generating']} 3 tokens so far"), Partial("A door"),
                    Answered("A door opens at 00:01.", "stats", ""))
    monkeypatch.setattr(video_answering, "run_video", script)
    updates = collect(describe(Engines(clip), view, "/clips/a.mp4", "What happens?", None, *SAMPLING, *GEN))
    assert updates[0] == starting(view, None)
    (call,) = script.calls
    assert (call.source, call.question, call.history, call.json_schema) == ("/clips/a.mp4", "What happens?", (), None)
    assert call.params == GenerationParams(*GEN)
    assert last(updates, view.chat).turns == (("What happens?", "A door opens at 00:01."),)
    assert last(updates, view.status) == "Done." and last(updates, view.question) == ""
    # after the answer: its request, and the conversation in the browser and the Download button
    assert "tiny-model" in last(updates, view.python) and "curl" in last(updates, view.curl)
    keep = last(updates, view.browser)
    assert keep["tab"] == "video" and len(keep["turns"]) == 2
    download = last(updates, view.download)
    assert download["interactive"] is True and json.loads(open(download["value"], "rb").read())["tab"] == "video"


def test_a_question_about_another_clip_starts_over(view, chat, clip, monkeypatch):
    script = Script(Shown(clip.images(), "caption", clip, PLAN), Answered("B.", "stats", ""))
    monkeypatch.setattr(video_answering, "run_video", script)
    updates = collect(describe(Engines(clip), view, "/clips/b.mp4", "And this one?", chat, *SAMPLING, *GEN))
    assert updates[0] == starting(view, None)  # the last conversation leaves the page
    assert (script.calls[0].source, script.calls[0].history) == ("/clips/b.mp4", ())
    after = last(updates, view.chat)
    assert after.video == "/clips/b.mp4" and after.turns == (("And this one?", "B."),)


def test_a_stop_in_the_middle_of_a_follow_up_leaves_the_conversation_as_it_was(view, chat, clip, monkeypatch):
    never = asyncio.Event()
    script = Script(Status(STAGE_TEXT["generating"]), Partial("Then it"), never.wait, Answered("x", "s", ""))
    monkeypatch.setattr(video_answering, "run_video", script)

    async def ask_then_stop():
        stream = describe(Engines(clip), view, None, "And then?", chat, *SAMPLING, *GEN)
        updates = []
        async for update in stream:
            updates.append(update)
            if "Then it" in update.get(view.conversation, ""):
                break
        await stream.aclose()  # what Stop's cancel does to the event's generator
        return updates, script.closed

    updates, closed = asyncio.run(ask_then_stop())
    assert updates[0] == starting(view, chat)
    assert script.calls[0].source is chat.clip and script.calls[0].history == chat.turns  # the same frames
    assert closed  # the answer's stream closed at once, not at a garbage collection (the request aborted with it)
    assert not any(view.chat in u for u in updates)  # the state keeps the one turn it had


def test_a_question_without_a_clip_or_with_bad_settings_is_told_and_changes_nothing_else(view, chat, clip,
                                                                                         monkeypatch):
    script = Script(Answered("x", "s", ""))
    monkeypatch.setattr(video_answering, "run_video", script)
    with pytest.warns(UserWarning, match=re.escape(MESSAGES["missing"])):
        assert collect(describe(Engines(clip), view, None, "What?", None, *SAMPLING, *GEN)) == []
    with pytest.warns(UserWarning, match=re.escape(MESSAGES["bad_video_settings"])):
        updates = collect(describe(Engines(clip), view, None, "What?", chat, 2.0, "many", "360p", 0, 0, *GEN))
    assert updates == [starting(view, chat), {view.status: "⚠️ " + MESSAGES["bad_video_settings"]}]
    assert script.calls == []


def test_find_moments_reads_the_clip_first_and_answers_with_chips_not_a_turn(view, clip, monkeypatch):
    script = Script(Status(STAGE_TEXT["generating"]), Partial("[{"), Answered('[{"time": 1, "label": "door"}]',
                                                                               "stats", ""))
    monkeypatch.setattr(video_answering, "run_video", script)
    engines = Engines(clip, reasoning_parser="qwen3")
    updates = collect(find_moments(engines, view, "/clips/a.mp4", " the  door ", None, *SAMPLING, *GEN))
    assert updates[0] == {view.status: "Looking for the moments…", view.moments: "", view.stats: ""}
    assert updates[1] == {view.status: STAGE_TEXT["reading"]}
    assert engines.sampled == [("/clips/a.mp4", GEN[3])]
    read = updates[2]
    assert read[view.chat] == VideoChat("/clips/a.mp4", clip) and read[view.conversation] == ""
    (call,) = script.calls
    assert call.source is clip and call.json_schema == moments_schema(2.0) and 'the door' in call.question
    assert call.params == GenerationParams(*GEN[:3], MOMENTS_MAX_TOKENS + THINKING_ROOM, GEN[4])
    assert not any(view.conversation in u for u in updates[3:])  # the moments are no turn
    assert updates[-1][view.status] == "Done." and 'data-seek="1"' in updates[-1][view.moments]
    assert last(updates, view.chat).turns == ()


def test_a_loaded_file_shows_its_conversation_and_keeps_it(view, chat, clip, tmp_path):
    path = kept.download_file(document(chat, "tiny-model"), "video")
    out = asyncio.run(load_file(Engines(clip), view, path))
    assert out[view.chat].turns == chat.turns and out[view.video] is None  # the player emptied
    assert out[view.browser]["tab"] == "video" and out[view.download]["interactive"] is True
    other = tmp_path / "chat.json"
    other.write_bytes(conversation_file.dumps(conversation_file.export("chat", [user_turn("hi")], model="m")))
    with pytest.warns(UserWarning, match=re.escape(MESSAGES["import_no_video"])):
        assert asyncio.run(load_file(Engines(clip), view, str(other))) == {}  # nothing changes


def test_a_page_load_restores_what_the_browser_kept_or_an_empty_page(view, chat, clip):
    restoring = asyncio.Semaphore(1)
    out = asyncio.run(come_back(Engines(clip), view, restoring, document(chat, "tiny-model")))
    assert out[view.chat].turns == chat.turns and out[view.video] is None and out[view.download]["interactive"]
    empty = {k: v for k, v in cleared(view).items() if k not in (view.browser, view.download)}
    assert asyncio.run(come_back(Engines(clip), view, restoring, kept.EMPTY)) == empty
    broken = {**document(chat, "tiny-model"), "version": 999}
    out = asyncio.run(come_back(Engines(clip), view, restoring, broken))
    assert out[view.chat] is None and out[view.note]  # why it could not be taken back


def test_the_tabs_events_keep_their_endpoint_names_groups_and_parameters():
    """The handlers are module functions bound to the tab's engines and view: each page event keeps the name, the
    concurrency group and the parameters it had as a closure (a bare partial would be named "partial")."""
    engines = SimpleNamespace(settings=Settings.from_args([], env={}))
    with gr.Blocks() as demo:
        on_load = build_video_tab(engines, generation_accordion(), kept.browser_state("video", "s" * 32))
    fns = {fn.api_name: fn for fn in demo.fns.values()}
    for name in ("describe", "describe_1", "find_moments", "find_moments_1", "load_file"):
        fn = fns[name]
        assert (fn.concurrency_id, fn.concurrency_limit, fn.api_visibility) == (
            "video", video_slots(engines.settings), "private"), name
    assert fns["describe"].types_generator and fns["describe"].inputs[0].elem_id == "video-input"
    assert [p for p in inspect.signature(fns["describe"].fn).parameters][:3] == ["video_path", "text", "current"]
    assert on_load.fn.__name__ == "come_back" and inspect.iscoroutinefunction(on_load.fn)
    assert list(inspect.signature(on_load.fn).parameters) == ["saved"]
