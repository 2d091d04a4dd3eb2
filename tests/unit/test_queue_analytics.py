"""demo.ui.page.skip_queue_analytics: Gradio's queue no longer summarises its events with pandas at every event's
start and end (it did at each one: 5-17 ms each, for a dashboard this app does not serve)."""

from __future__ import annotations

import time

import gradio as gr
import pytest

from demo.ui import page


def queued_page() -> gr.Blocks:
    with gr.Blocks() as demo:
        gr.Button().click(lambda: None)
    return demo.queue()


def records(n: int) -> list[dict]:
    return [{"time": time.time(), "status": "success", "process_time": 0.1, "function": "f", "session_hash": "s"}
            for _ in range(n)]


def test_gradio_summarises_at_every_event_without_it(monkeypatch):
    """The cost this removes is real on this Gradio: the summary runs again after one more event."""
    queue = queued_page()._queue
    calls = []
    monkeypatch.setattr(type(queue), "_get_df", staticmethod(lambda recs: calls.append(len(recs)) or _df(recs)))
    queue.events_recorded += 1
    queue.compute_analytics_summary(records(50))
    assert calls == [50]


def test_no_summary_after_it_and_fewer_events_kept(monkeypatch):
    demo = queued_page()
    page.skip_queue_analytics(demo)
    queue = demo._queue

    def refuse(recs):
        raise AssertionError("the queue built its pandas summary")

    monkeypatch.setattr(type(queue), "_get_df", staticmethod(refuse))
    for _ in range(3):
        queue.events_recorded += 1
        assert queue.compute_analytics_summary(records(500)) == queue.cached_event_analytics_summary
    assert queue.ANALYTICS_MAX_EVENTS == 1000


def test_a_gradio_that_keeps_its_analytics_otherwise_is_refused():
    demo = queued_page()
    del demo._queue.ANAYLTICS_CACHE_FREQUENCY
    with pytest.raises(RuntimeError):
        page.skip_queue_analytics(demo)


def _df(recs):
    import pandas as pd

    return pd.DataFrame(recs)
