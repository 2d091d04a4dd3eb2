"""demo/ui/live.py, the light stream: what a reader receives, when an ended answer is forgotten, and how a stopped
answer's conversation is settled (demo/ui/answering.settled). The route itself is exercised on the real page
(tests/app/test_light_stream.py)."""

from __future__ import annotations

import asyncio

import pytest

from demo.ui import answering, live
from demo.ui.live import LiveTexts, events, marker


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_a_reader_gets_the_text_beyond_the_message_then_the_end():
    texts = LiveTexts()
    one = texts.open("Hello")  # the message already shows this

    async def scenario():
        got = []

        async def read():
            async for event in events(one):
                got.append(event)

        reader = asyncio.ensure_future(read())
        await asyncio.sleep(0.01)
        one.add(" wor")
        one.add("ld")  # two pieces before the reader runs again: one message
        await asyncio.sleep(0.01)
        one.add("!")
        one.finish()
        await reader
        return got

    got = run(scenario())
    assert got == ['data: " world"\n\n', 'data: "!"\n\n', "event: end\ndata: \n\n"]


def test_a_reader_that_connects_late_gets_everything_from_the_start_and_no_text_after_the_end():
    texts = LiveTexts()
    one = texts.open("A")
    one.add("bc")
    one.finish()
    one.add("lost")  # after the end: nothing more

    async def read():
        return [event async for event in events(one)]

    assert run(read()) == ['data: "bc"\n\n', "event: end\ndata: \n\n"]


def test_tickets_are_unguessable_and_an_ended_answer_is_forgotten_after_a_while(monkeypatch):
    texts = LiveTexts()
    one, two = texts.open("a"), texts.open("b")
    assert one.ticket != two.ticket and len(one.ticket) >= 20
    assert texts.get(one.ticket) is one and texts.get("guess") is None
    assert f'class="live-text live-{one.ticket}"' in marker(one)
    one.finish()
    clock = [one.ended_at + live.KEEP_S + 1]
    monkeypatch.setattr(live.time, "monotonic", lambda: clock[0])
    texts.open("c")  # opening sweeps
    assert texts.get(one.ticket) is None  # ended long ago: gone
    assert texts.get(two.ticket) is two  # still streaming: kept however old


@pytest.fixture()
def stopped(monkeypatch):
    texts = LiveTexts()
    monkeypatch.setattr(answering, "LIVE", texts)
    one = texts.open("First")
    one.add(" words and more")
    history = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "First", "live": one.ticket}]
    return texts, one, history


def test_a_stopped_answer_keeps_the_text_that_was_shown(stopped):
    _, one, history = stopped
    assert answering.settled(history) is None  # still streaming: its final update will settle it
    one.finish()
    done = answering.settled(history)
    assert done == [history[0], {"role": "assistant", "content": "First words and more"}]


def test_settling_leaves_a_finished_or_changed_conversation_alone(stopped):
    _, one, history = stopped
    one.finish()
    assert answering.settled(history[:1]) is None  # cleared or undone since
    assert answering.settled([*history[:1], {"role": "assistant", "content": "done"}]) is None  # ended normally
    forgotten = [history[0], {**history[1], "live": "gone"}]
    assert answering.settled(forgotten) == [history[0], {"role": "assistant", "content": "First"}]
