"""Calls to the page's API as a hand-made HTTP request sends them: no client-side checks (``gradio_client`` refuses
to send NaN or a URL in place of an uploaded file; a raw caller is not so polite)."""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request

from tests.waits import ENGINE_WAIT_S


def fn_index(app_url: str, api_name: str) -> int:
    config = json.loads(urllib.request.urlopen(f"{app_url}/config", timeout=30).read())
    return next(i for i, dep in enumerate(config["dependencies"]) if dep.get("api_name") == api_name)


def raw_call(app_url: str, api_name: str | int, data: list, session: str | None = None) -> tuple[int, list[dict]]:
    """Join the queue for ``api_name`` (or an event's index, for the page's own events) with ``data`` as sent,
    in a new session (or ``session``); the HTTP status and the events to the last one."""
    session = session or secrets.token_hex(8)
    index = api_name if isinstance(api_name, int) else fn_index(app_url, api_name)
    # json.dumps writes NaN and Infinity as such: what a hand-made request can send
    body = json.dumps({"data": data, "fn_index": index, "session_hash": session}).encode()
    req = urllib.request.Request(f"{app_url}/gradio_api/queue/join", data=body,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            code = resp.status
    except urllib.error.HTTPError as exc:
        return exc.code, []
    events = []
    with urllib.request.urlopen(f"{app_url}/gradio_api/queue/data?session_hash={session}",
                                timeout=ENGINE_WAIT_S) as resp:
        for line in resp:
            line = line.decode().strip()
            if line.startswith("data:"):
                events.append(json.loads(line[5:]))
                if events[-1].get("msg") in ("process_completed", "close_stream"):
                    break
    return code, events


def outcome(events: list[dict]) -> dict:
    """The last "process_completed" event (its ``success``, ``output``); fails the test when there is none."""
    done = [e for e in events if e.get("msg") == "process_completed"]
    assert done, events
    return done[-1]


def upload(app_url: str, path) -> dict:
    """Upload a file as the page does; the FileData dict that names it in a request."""
    import mimetypes
    import uuid
    from pathlib import Path

    path = Path(path)
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{path.name}\"\r\n"
            f"Content-Type: {mimetypes.guess_type(path.name)[0] or 'application/octet-stream'}\r\n\r\n").encode()
    body += path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(f"{app_url}/gradio_api/upload", data=body,
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        server_path = json.loads(resp.read())[0]
    return {"path": server_path, "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}
