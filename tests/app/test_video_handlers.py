"""The Video tab's handlers (demo/ui/video_answering.py) on the real engines (the session's vLLM server and video
worker on the tiny checkpoint), without a browser: a question about a new clip streamed to its turn and kept, a
follow-up about the same frames, another clip starting over, a question refused with a sentence, a Stop in the
middle of a follow-up, "Find moments".

The weights are random: only the updates' structure is checked, never the answers' wording. Real components are
built in a ``gr.Blocks`` so that each update is checked by the component it goes to.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections import Counter

import pytest

from demo.errors import MESSAGES
from demo.ui import kept
from demo.ui.video_answering import VideoView, describe, find_moments, from_loaded, starting
from demo.ui.video_run import STAGE_TEXT, VideoChat
from tests.drive import close_when
from tests.engine.test_engines import make_clip
from tests.unit.test_video_tab import blank_view
from tests.waits import ENGINE_WAIT_S, wait_until

SAMPLING = (2.0, 4, "360p", 0, 0)  # fps, max frames, quality, start, end: four small frames
SHORT = (0.7, 0.8, 20, 16, 1.5)  # the generation sliders' values, as the page sends them: 16 tokens
LONG = (0.7, 0.8, 20, 1024, 1.5)  # the longest video answer the tests' settings allow (--video-max-tokens)
STOP_TRIES = 5  # a random-weight answer may reach its own end before the Stop lands: such a try proves nothing
STATS = re.compile(r"(\d+) prompt \+ (\d+) completion tokens")


@pytest.fixture(scope="module")
def view() -> VideoView:
    return blank_view()


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> tuple[str, str]:
    """Two short clips: the one asked about, and another one."""
    folder = tmp_path_factory.mktemp("clips")
    return (str(make_clip(folder / "clip.mp4")),
            str(make_clip(folder / "other.mp4", seconds=3, size=(256, 192))))


@pytest.fixture(scope="module")
def first(engines, view, clips) -> list[dict]:
    """The updates of a first question about the clip: a new conversation."""
    return collect(describe(engines, view, clips[0], "What happens?", None, *SAMPLING, *SHORT))


def collect(stream) -> list[dict]:
    """Every update of a handler's event, as the page's event loop takes them; bounded by the engine wait."""
    async def run():
        async with asyncio.timeout(ENGINE_WAIT_S):
            return [update async for update in stream]

    return asyncio.run(run())


def last(updates: list[dict], component):
    """The last value an event's updates gave ``component`` (what the page shows after them)."""
    values = [u[component] for u in updates if component in u]
    assert values, "no update for the component"
    return values[-1]


def prompt_tokens(updates: list[dict], view: VideoView) -> int:
    found = STATS.search(last(updates, view.stats))
    assert found, last(updates, view.stats)
    return int(found.group(1))


def test_a_question_about_a_new_clip_streams_its_turn_and_keeps_the_conversation(engines, view, clips, first):
    assert first[0] == starting(view, None)
    chat = last(first, view.chat)
    assert isinstance(chat, VideoChat) and chat.video == clips[0]
    assert [q for q, _ in chat.turns] == ["What happens?"]  # exactly one turn, the question asked
    # the frames read reached the gallery, each with the time the model is told for it
    frames = last(first, view.frames)
    assert len(frames) == chat.clip.plan.nframes >= 2 and all(caption.endswith(" s") for _, caption in frames)
    assert last(first, view.tokens)
    assert last(first, view.status) == "Done." and last(first, view.question) == ""
    assert "video-turn bot" in last(first, view.conversation) and prompt_tokens(first, view) > 0
    # after the answer: its request, and the conversation in the browser and the Download button
    assert engines.model_name in last(first, view.python) and "curl" in last(first, view.curl)
    keep = last(first, view.browser)
    assert keep["tab"] == "video" and len(keep["turns"]) == 2
    download = last(first, view.download)
    assert download["interactive"] is True
    back = from_loaded(kept.import_file(download["value"], "video"))  # a conversation document of this tab
    assert back is not None and back.turns == chat.turns and back.clip.plan == chat.clip.plan


def test_a_follow_up_asks_about_the_same_frames_with_the_turns_before(engines, view, clips, first):
    chat = last(first, view.chat)
    updates = collect(describe(engines, view, clips[0], "And then?", chat, *SAMPLING, *SHORT))
    assert updates[0] == starting(view, chat)  # its frames and turns stay on the page
    assert not any(view.frames in u for u in updates)  # the file is not read again: the conversation's frames
    after = last(updates, view.chat)
    assert after.clip is chat.clip and after.video == clips[0]
    assert after.turns[0] == chat.turns[0] and [q for q, _ in after.turns] == ["What happens?", "And then?"]
    assert last(updates, view.status) == "Done."
    # the turn before went with the question: the same frames make a longer prompt, and the request shows it
    assert prompt_tokens(updates, view) > prompt_tokens(first, view)
    assert "What happens?" in last(updates, view.python) and "And then?" in last(updates, view.python)
    assert len(last(updates, view.browser)["turns"]) == 4


def test_a_question_about_another_clip_starts_over(engines, view, clips, first):
    chat = last(first, view.chat)
    updates = collect(describe(engines, view, clips[1], "And this one?", chat, *SAMPLING, *SHORT))
    assert updates[0] == starting(view, None)  # the last conversation leaves the page
    assert any(view.frames in u for u in updates[1:])  # the other file is read
    after = last(updates, view.chat)
    assert after.video == clips[1] and after.clip is not chat.clip
    assert [q for q, _ in after.turns] == ["And this one?"]
    assert last(updates, view.status) == "Done."


def test_a_question_without_a_clip_or_with_bad_settings_is_told_and_changes_nothing_else(engines, view, first):
    chat = last(first, view.chat)
    with pytest.warns(UserWarning, match=re.escape(MESSAGES["missing"])):
        assert collect(describe(engines, view, None, "What?", None, *SAMPLING, *SHORT)) == []
    with pytest.warns(UserWarning, match=re.escape(MESSAGES["bad_video_settings"])):
        updates = collect(describe(engines, view, None, "What?", chat, 2.0, "many", "360p", 0, 0, *SHORT))
    assert updates == [starting(view, chat), {view.status: "⚠️ " + MESSAGES["bad_video_settings"]}]


class Inconclusive(Exception):
    """The answer reached its own end before the Stop: the try proves nothing either way."""


def test_a_stop_in_the_middle_of_a_follow_up_leaves_the_conversation_as_it_was(engines, view, clips, first):
    """Stop closes the event's generator where it waits at a ``yield`` (Gradio's ``aclose()``). Every stream under
    it must close with it, at once: the video worker then aborts the job in vLLM (its own tally of how jobs end
    says "aborted"). A stream left for the garbage collector (kept open here until the check is done) lets the job
    run to its own end, which is counted as finished: every try is then inconclusive and the test fails."""
    chat = last(first, view.chat)
    worker = engines.worker
    assert worker is not None, "the tests' engines answer videos in the worker"

    def attempt():
        at_close: dict[str, int] = {}

        def generating(got: list[dict]) -> bool:
            """The answer is being made (in the engine): the job's status, or its first text."""
            if got and (view.conversation in got[-1]
                        or got[-1].get(view.status, "").startswith(STAGE_TEXT["generating"])):
                # the job's ends so far (the worker's tally comes in order with the job's events: exact here)
                at_close.update(worker.counts)
                return True
            return False

        def the_job_ended():
            wait_until(lambda: worker.counts != at_close, "the worker to end the stopped job")

        updates = close_when(describe(engines, view, clips[0], "And then?", chat, *SAMPLING, *LONG), generating,
                             then=the_job_ended)
        assert updates[0] == starting(view, chat)
        assert not any(view.chat in u for u in updates)  # the state keeps the turn it had
        ended = Counter(worker.counts)
        ended.subtract(at_close)
        ended = +ended  # the ways the job ended since the close
        if any(way.startswith("finished") for way in ended):
            raise Inconclusive(f"the job ended on its own: {dict(ended)}")
        assert ended == {"aborted": 1}, dict(ended)

    reasons = []
    for _ in range(STOP_TRIES):
        try:
            attempt()
            break
        except Inconclusive as exc:
            reasons.append(str(exc))
    else:
        pytest.fail(f"no Stop aborted the job before its end ({STOP_TRIES} tries): " + "; ".join(reasons))


def test_find_moments_reads_the_clip_first_and_answers_with_chips_not_a_turn(engines, view, clips):
    updates = collect(find_moments(engines, view, clips[0], " the  green bar ", None, *SAMPLING, *SHORT))
    assert updates[0] == {view.status: "Looking for the moments…", view.moments: "", view.stats: ""}
    assert updates[1] == {view.status: STAGE_TEXT["reading"]}
    read = updates[2]  # the schema needs the clip's length: it is read first, and a conversation starts
    assert read[view.chat] == VideoChat(clips[0], read[view.chat].clip) and read[view.conversation] == ""
    assert len(read[view.frames]) == read[view.chat].clip.plan.nframes
    assert not any(view.conversation in u for u in updates[3:])  # the moments are no turn
    end = updates[-1]
    assert end[view.status] == "Done." and STATS.search(end[view.stats])
    moments = end[view.moments]  # the model's JSON (random, held to the schema) as chips, or none found
    assert "moments-title" in moments and html.escape("“the green bar”") in moments
    assert last(updates, view.chat).turns == ()  # the chat state has no new turn
