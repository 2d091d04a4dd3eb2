"""Which app process a request belongs to (pure functions; the front in ``front.py`` applies them).

Gradio keeps a visitor's state, queue and event stream in the process that saw the session first, so every
request of one session must reach the same process. Gradio's browser client and ``gradio_client`` name the
session in each request that touches it: the JSON body (``queue/join``, ``run/...``, ``cancel``), the query
(``queue/data``), or the path (``heartbeat/{session_hash}``, a media ``stream/{session_hash}/...``). A few routes
name something a process made instead: an event (``call/{api}/{event_id}``, ``stream/{event_id}``, ``reset``), a
light-stream ticket (``live/{ticket}``, whose first two characters are its process, ``ticket_prefix``), an upload
(``upload_id``). Everything else (the page, its assets, ``/config``, files in the shared upload and cache
folders) is the same in every process.
"""

from __future__ import annotations

import re
import zlib
from collections import OrderedDict
from dataclasses import dataclass

PREFIX_LEN = 2  # characters of a light-stream ticket that name its process: up to 100 processes
_HEARTBEAT = re.compile(r"/heartbeat/([^/]+)/?$")
_MEDIA_STREAM = re.compile(r"/stream/([^/]+)/[^/]+/\d+/")  # stream/{session_hash}/{run}/{component_id}/...
_EVENT_IN_PATH = re.compile(r"/(?:call(?:/v2)?/[^/]+|stream)/([^/]+)(?:/close)?/?$")
_LIVE = re.compile(r"/live/([^/]+)$")


def ticket_prefix(index: int) -> str:
    """What every light-stream ticket of process ``index`` starts with."""
    return f"{index:0{PREFIX_LEN}d}"


def by_key(key: str, n: int) -> int:
    """The process for a session (or upload) name: the same for a name in every run, spread evenly."""
    return zlib.crc32(key.encode()) % n


@dataclass(frozen=True)
class Request:
    """What routing looks at: the method, the path, the query, and a JSON body's ``session_hash``/``event_id``."""

    method: str
    path: str
    query: dict[str, str]
    session_hash: str | None = None
    event_id: str | None = None


def reads_body(method: str, content_type: str) -> bool:
    """Whether the front must read the body to route the request: a JSON POST may name its session there.
    Uploads (multipart) are streamed through unread; they are routed by their ``upload_id``."""
    return method == "POST" and content_type.split(";")[0].strip().lower() == "application/json"


def route(req: Request, n: int, events: EventOwners) -> int | None:
    """The process that must answer ``req``, or None when any process can."""
    if n == 1:
        return 0
    session = req.session_hash or req.query.get("session_hash")
    if not session:
        m = _HEARTBEAT.search(req.path) or _MEDIA_STREAM.search(req.path)
        session = m.group(1) if m else None
    if session:
        return by_key(session, n)
    live = _LIVE.search(req.path)
    if live:
        prefix = live.group(1)[:PREFIX_LEN]
        return int(prefix) % n if prefix.isdigit() else None
    m = _EVENT_IN_PATH.search(req.path)
    event = req.event_id or (m.group(1) if m else None)
    if event:
        owner = events.get(event)
        if owner is not None:
            return owner
    upload = req.query.get("upload_id")
    if upload:
        return by_key(upload, n)
    return None


class EventOwners:
    """Which process made each recent event (from the ``event_id`` in its answer), for the routes that name an
    event and no session. Bounded: the oldest are forgotten first."""

    def __init__(self, most: int = 100_000):
        self.most = most
        self._owners: OrderedDict[str, int] = OrderedDict()

    def add(self, event_id: str, index: int) -> None:
        self._owners[event_id] = index
        self._owners.move_to_end(event_id)
        while len(self._owners) > self.most:
            self._owners.popitem(last=False)

    def get(self, event_id: str) -> int | None:
        return self._owners.get(event_id)

    def __len__(self) -> int:
        return len(self._owners)
