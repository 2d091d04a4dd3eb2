"""Hand a stream of text deltas to a slower reader without making the stream wait for it.

Gradio spends about 0.65 ms of CPU per streamed update and the app about as much again (bench/RESULTS.md),
so a page that forwards every token of a fast server one by one falls behind it and the answer ends later
than the server finished it. :func:`coalesced` reads the server's stream in a thread; each time the reader
asks for the next item it gets every delta already waiting, merged into one, and never waits for more. A
reader that keeps up still gets one update per token; one that is behind catches up in a single update.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterator, TypeVar

T = TypeVar("T")
_END = object()


def coalesced(source: Iterator[str | T]) -> Iterator[str | T]:
    """The items of ``source`` in order, with text deltas that queued up while the reader was busy merged.

    Items that are not ``str`` (the final stats) pass through unchanged; an exception in ``source`` is raised
    to the reader. When the reader stops early (Stop, a closed tab), ``source`` is closed after its next item,
    which closes the HTTP stream so that vLLM aborts the request.
    """
    items: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()

    def pump() -> None:
        try:
            for item in source:
                items.put(item)
                if stop.is_set():
                    break
        except BaseException as exc:  # handed to the reader, raised there with its traceback
            items.put(exc)
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()
            items.put(_END)

    threading.Thread(target=pump, name="stream-pump", daemon=True).start()
    try:
        while True:
            item = items.get()
            text = ""
            while isinstance(item, str):
                text += item
                try:
                    item = items.get_nowait()
                except queue.Empty:
                    item = None
            if text:
                yield text
            if item is None:
                continue
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
