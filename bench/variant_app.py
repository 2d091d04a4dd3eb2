"""``app.py`` with one change, run only by the benchmark as evidence for the analysis (the app is not edited).

The change: stream the answer through :func:`drain_coalescing`, which reads the server's stream in a thread and,
each time Gradio asks for the next item, hands over everything that has arrived since (never waiting for more).
When Gradio keeps up, that is one update per delta, as now; when it falls behind (many users on two cores),
the deltas that queued up travel in one update instead of one each. No token is ever held back.
Run as ``python -m bench.variant_app`` with app.py's arguments.
"""

from __future__ import annotations

import queue
import threading

_END = object()


def drain_coalescing(inner):
    """Wrap a ``stream_chat``-like function: same arguments, same items, deltas merged only when queued up."""

    def wrapped(*args, **kwargs):
        items: queue.SimpleQueue = queue.SimpleQueue()
        stop = threading.Event()

        def read():
            gen = inner(*args, **kwargs)
            try:
                for item in gen:
                    items.put(item)
                    if stop.is_set():
                        break
            except BaseException as exc:  # handed to the consumer, raised there
                items.put(exc)
            finally:
                gen.close()  # closes the HTTP stream: vLLM aborts the request when the consumer left early
                items.put(_END)

        threading.Thread(target=read, daemon=True, name="stream-reader").start()
        try:
            while True:
                item = items.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                if not isinstance(item, str):
                    yield item
                    continue
                text = item
                while True:  # everything already here, without waiting
                    try:
                        nxt = items.get_nowait()
                    except queue.Empty:
                        break
                    if isinstance(nxt, str):
                        text += nxt
                        continue
                    yield text
                    text = None
                    if nxt is _END:
                        return
                    if isinstance(nxt, BaseException):
                        raise nxt
                    yield nxt
                    break
                if text is not None:
                    yield text
        finally:
            stop.set()

    return wrapped


def main() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import demo.engines as engines

    engines.stream_chat = drain_coalescing(engines.stream_chat)
    import app

    app.main()


if __name__ == "__main__":
    main()
