"""Deltas merged only when they queued up behind a slow reader; order, errors and early stops kept."""

from __future__ import annotations

import threading
import time

import pytest

from demo.coalesce import coalesced


def test_a_reader_that_keeps_up_gets_every_delta_on_its_own():
    released = [threading.Event() for _ in range(4)]

    def source():
        for i, ev in enumerate(released):
            ev.wait(5)
            yield f"d{i}"
        yield {"stats": True}

    out = coalesced(source())
    got = []
    for ev in released:
        ev.set()  # one delta becomes available; the reader takes it before the next one exists
        got.append(next(out))
    assert got == ["d0", "d1", "d2", "d3"]
    assert next(out) == {"stats": True}
    with pytest.raises(StopIteration):
        next(out)


def test_deltas_that_queued_up_arrive_as_one_update_and_nothing_is_lost():
    produced = threading.Event()

    def source():
        for i in range(50):
            yield str(i % 10)
        produced.set()
        yield "end"

    out = coalesced(source())
    first = next(out)
    produced.wait(5)
    time.sleep(0.05)
    rest = list(out)
    text = first + "".join(rest)
    assert text == "".join(str(i % 10) for i in range(50)) + "end"
    assert len(rest) <= 2  # the backlog came as one update, not 49


def test_the_final_item_is_kept_apart_from_the_text():
    stats = object()

    def source():
        yield "a"
        yield "b"
        yield stats

    items = list(coalesced(source()))
    assert "".join(i for i in items if isinstance(i, str)) == "ab"
    assert items[-1] is stats


def test_an_error_in_the_stream_reaches_the_reader_after_the_text_before_it():
    def source():
        yield "partial"
        raise ValueError("server died")

    out = coalesced(source())
    assert next(out) == "partial"
    with pytest.raises(ValueError, match="server died"):
        next(out)


def test_a_reader_that_stops_closes_the_stream():
    closed = threading.Event()

    def source():
        try:
            i = 0
            while True:
                i += 1
                yield "x"
                time.sleep(0.01)
        finally:
            closed.set()  # where stream_chat closes the HTTP stream

    out = coalesced(source())
    next(out)
    out.close()  # Stop, or a closed tab
    assert closed.wait(5)
