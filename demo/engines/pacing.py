"""How often a streaming answer updates the page, from how busy the app is (issue 30).

One event loop runs every answer's stream, and its work grows with the updates it sends: Gradio's send path and
``process_api`` per update (more for a long conversation), the ``openai`` SDK per chunk. At a fixed 40 ms, 64
streams were 1,600 updates a second and the loop fell behind (p95 14 s, ``bench/RESULTS-capacity.md``). A
:class:`Pacer` measures its loop's load every ``SAMPLE_S`` (the loop thread's CPU share, or how late the loop
woke it, whichever is more) and stretches the interval between updates when the load is above the budget,
shrinking it back to ``--stream-interval`` when the app is quiet. An update then carries more text; none is
dropped or reordered, and an answer's first text still goes out at once (``client.coalesce``). Measuring CPU and
not counting updates, a long conversation's costlier updates count for what they cost.

It also says how many tokens vLLM should put in one streamed chunk (vLLM's per-request ``stream_interval``):
an update every 200 ms needs no chunk per token, and the SDK's per-chunk parsing is the other half of the cost.
"""

from __future__ import annotations

import asyncio
import time
import weakref

SAMPLE_S = 0.25  # how often the load is measured
LATE_S = 0.25  # a loop that wakes the measurement this late is full, whatever its thread's CPU says
# An interval is held while the load is between this share of the budget and the budget. With the light stream
# much of the load no longer scales with the number of updates (a crowd's chunks, its visitors' own steps): a wider
# band (0.6) held 256 answers at 1 s intervals on a loop 70 % busy (p50 delay 545 ms; 151 ms with this one).
HELD_FROM = 0.85
LONGEST_S = 1.0  # the longest interval between two updates of one answer
MOST_TOKENS_PER_CHUNK = 8  # 133 ms of tokens at 60 a second: a chunk's own wait stays short
STREAMS_PER_TOKEN_CHUNK = 16  # one chunk a token for up to this many answers at once, then fewer


def next_interval(interval: float, load: float, budget: float, shortest: float, longest: float = LONGEST_S) -> float:
    """The interval after a sample of ``load`` (busy share of one core) against ``budget``.

    The loop's work is mostly per update, so it scales about as 1 / interval: the interval moves by the ratio of
    load to budget, at most twice as long per sample when the loop is full (a crowd arriving at once stretches it
    from 40 ms to 1 s in five samples) and 1.5 times shorter (a burst does not swing it to an end), and shrinks
    only when the load is below ``HELD_FROM`` of the budget (no see-saw around it)."""
    if budget <= 0 or shortest <= 0:
        return shortest
    ratio = load / budget
    if HELD_FROM <= ratio <= 1.0:
        return interval
    return min(longest, max(shortest, interval * min(2.0, max(2 / 3, ratio))))


def tokens_per_chunk(interval: float, shortest: float, streams: int = 0) -> int:
    """Tokens vLLM may gather into one chunk for an answer starting now, while updates are ``interval`` apart and
    ``streams`` answers stream: 1 at the shortest interval with a few answers. The SDK parses each chunk on the
    loop, so a crowd's answers start with fewer chunks even before the interval has stretched."""
    if shortest <= 0:
        return 1
    wanted = max(interval / shortest, streams / STREAMS_PER_TOKEN_CHUNK)
    return max(1, min(MOST_TOKENS_PER_CHUNK, int(wanted + 1e-9)))


class Pacer:
    """The update interval of every answer streamed on one event loop, measured on that loop."""

    def __init__(self, shortest: float, budget: float):
        self.shortest = shortest
        self.budget = budget
        self.interval = shortest
        self.load = 0.0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Measure the running loop's load from now on (once; a pacer belongs to one loop)."""
        if self._task is None and self.shortest > 0 and self.budget > 0:
            self._task = asyncio.get_running_loop().create_task(self._measure(), name="pacer")

    def current(self) -> float:
        return self.interval

    def busy(self) -> bool:
        """The loop is over its budget, or was lately (its answers update less often than they could)."""
        return self.interval > self.shortest or self.load > self.budget

    def chunk_tokens(self, streams: int = 0) -> int:
        return tokens_per_chunk(self.interval, self.shortest, streams)

    async def _measure(self) -> None:
        loop = asyncio.get_running_loop()
        wall, cpu = loop.time(), time.thread_time()  # this thread is the loop's: its CPU is the loop's work
        while True:
            await asyncio.sleep(SAMPLE_S)
            now, used = loop.time(), time.thread_time()
            elapsed = max(now - wall, 1e-6)
            late = max(0.0, elapsed - SAMPLE_S)  # the loop could not run this sooner: it was full
            # the thread's CPU alone misses a loop that waits on the GIL (other threads of the app)
            self.load = min(1.0, max((used - cpu) / elapsed, late / LATE_S))
            self.interval = next_interval(self.interval, self.load, self.budget, self.shortest)
            wall, cpu = now, used


class Pacers:
    """One :class:`Pacer` per event loop that streams answers (the app has one; tests may run several)."""

    def __init__(self, shortest: float, budget: float):
        self.shortest, self.budget = shortest, budget
        self._by_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def here(self) -> Pacer:
        """The running loop's pacer, measuring from its first use."""
        loop = asyncio.get_running_loop()
        pacer = self._by_loop.get(loop)
        if pacer is None:
            pacer = self._by_loop[loop] = Pacer(self.shortest, self.budget)
            pacer.start()
        return pacer

    def saturated(self) -> bool:
        """A loop whose answers update as seldom as they may and is still over its budget: one more answer would
        slow every other (demo/engines/admission.py)."""
        return any(p.interval >= LONGEST_S and p.load > p.budget for p in list(self._by_loop.values()))

    def interval(self) -> float:
        """The longest interval in use now (what the header shows): the shortest when nothing streams yet."""
        return max((p.interval for p in list(self._by_loop.values())), default=self.shortest)
