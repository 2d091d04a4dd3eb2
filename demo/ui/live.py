"""The light stream: a page's answer text sent to the browser beside Gradio's queue, not through it (issue 30).

Every Gradio update of a streaming answer costs about 1.2 ms of the app's one event loop (the queue's
``process_api``, a thread hop for ``postprocess``, the diff, the SSE message), and more for a long conversation.
At 256 answers that update often enough for a token to arrive within 300 ms, that is more than a core
(``bench/RESULTS-capacity.md``). On this route an update is the new text appended to a string and one SSE
message written: the answer's first text and its end still go through Gradio (they make and settle the chat
box's message), and everything in between goes here.

How the page follows it: the message being made carries an empty ``<span class="live-text live-TICKET">`` after its
first text (a class: the chat box's sanitizer keeps classes and drops ``data-`` attributes). ``assets/live.js`` sees
the span appear, opens an ``EventSource`` on ``live/TICKET`` and writes the text that follows into the span (as
text, never HTML). The final Gradio update replaces the message with the whole answer, rendered, without the span,
and the script closes the stream. A Stop (or any cancel) ends the answer here too; the step after the answer
(:func:`settled`) then puts the text the person saw into the conversation. Tickets are random (128 bits): knowing
one is the only way to read an answer.

Nothing here knows Gradio; the route is plain Starlette, added to the app Gradio builds (``launch_kwargs``).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from typing import cast

from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

PATH = "/live/{ticket}"
KEEP_S = 300.0  # an ended answer stays readable this long (the step after a Stop reads what it said)
MOST_READERS = 4  # readers of one answer at once (the page opens one; a reload may open another)


class LiveText:
    """One answer's text beyond what its first Gradio update showed (``shown`` characters), as it grows."""

    def __init__(self, ticket: str, shown: str, owner: str | None):
        self.ticket, self.owner = ticket, owner
        self.answer = shown  # the whole answer so far
        self.shown = len(shown)  # what the chat box's message itself holds; the stream sends the rest
        self.done = False
        self.ended_at: float | None = None
        self.readers = 0
        self._changed: asyncio.Event | None = None

    def add(self, text: str) -> None:
        if text and not self.done:
            self.answer += text
            self._wake()

    def finish(self) -> None:
        if not self.done:
            self.done, self.ended_at = True, time.monotonic()
            self._wake()

    def _wake(self) -> None:
        event, self._changed = self._changed, None
        if event is not None:
            event.set()

    async def changed(self) -> None:
        """Returns at the next :meth:`add` or :meth:`finish` (callers check ``done`` first)."""
        if self._changed is None:
            self._changed = asyncio.Event()
        await self._changed.wait()


class LiveTexts:
    """The answers streaming on the light route, by ticket. One per process (the route is the app's, and tickets
    are unguessable); an ended answer is forgotten ``KEEP_S`` later."""

    def __init__(self) -> None:
        self._by_ticket: dict[str, LiveText] = {}
        self.prefix = ""  # what every ticket starts with: its app process, where several serve the page (demo/fleet)

    def open(self, shown: str, owner: str | None = None) -> LiveText:
        self._forget_old()
        live = LiveText(self.prefix + secrets.token_urlsafe(16), shown, owner)
        self._by_ticket[live.ticket] = live
        return live

    def get(self, ticket: str) -> LiveText | None:
        return self._by_ticket.get(ticket)

    def __len__(self) -> int:
        return len(self._by_ticket)

    def _forget_old(self) -> None:
        now = time.monotonic()
        # done is set with ended_at
        for ticket in [t for t, live in self._by_ticket.items()
                       if live.done and now - cast(float, live.ended_at) > KEEP_S]:
            del self._by_ticket[ticket]


LIVE = LiveTexts()


def marker(live: LiveText) -> str:
    """What the message being made ends with: where the page writes the rest of the answer."""
    return f'<span class="live-text live-{live.ticket}"></span>'


async def events(live: LiveText):
    """The SSE body: the text beyond the message's own, from the start at every (re)connection, as it comes; then
    an ``end`` event."""
    sent = live.shown
    while True:
        text, done = live.answer, live.done
        if len(text) > sent:
            yield f"data: {json.dumps(text[sent:], ensure_ascii=False)}\n\n"
            sent = len(text)
        if done:
            yield "event: end\ndata: \n\n"
            return
        await live.changed()


async def follow(request: Request):
    live = LIVE.get(request.path_params["ticket"])
    if live is None:
        return PlainTextResponse("No answer is streaming under this name (it ended a while ago, or never was).",
                                 status_code=404)
    if live.readers >= MOST_READERS:
        return PlainTextResponse("This answer is already followed by enough readers.", status_code=429)
    live.readers += 1

    async def body():
        try:
            async for event in events(live):
                yield event
        finally:
            live.readers -= 1

    # no-transform and X-Accel-Buffering: proxies in front of a Space must pass each message on at once
    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"})


def routes() -> list[Route]:
    """The light stream's route, for ``launch(app_kwargs={"routes": ...})``: it goes before Gradio's own."""
    route = Route(PATH, follow, methods=["GET"])
    # (Starlette adds it to every GET) a HEAD would hold a reader's place for nothing
    cast("set[str]", route.methods).discard("HEAD")
    return [route]
