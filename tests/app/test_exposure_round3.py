"""Exposure, round 3 (issue 26), on the real engines and the real page, through raw HTTP as a caller sends it: what a
JSON input, a browser's stored copy and a loaded conversation can make the server do, and what the app serves."""

from __future__ import annotations

import json
import secrets
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from demo.errors import MESSAGES
from demo.inputs.conversation_file import FORMAT, VERSION, ConversationFileError, export
from demo.ui.kept import STORAGE_KEY
from tests.app.test_exposure import Bait, http_status
from tests.raw_http import outcome, raw_call, upload
from tests.waits import ENGINE_WAIT_S, ms, wait_until

ASSETS = Path(__file__).resolve().parents[2] / "assets"
GEN = [0.7, 0.8, 20, 4, 0.0, "auto"]  # temperature, top_p, top_k, max_tokens, presence_penalty, thinking


def file_object(url: str) -> dict:
    """What Gradio takes for a file wherever it finds one in a value: it would download an http(s) path."""
    return {"path": url, "url": url, "orig_name": "x.png", "meta": {"_type": "gradio.FileData"}}


def restore_event(app_url: str, tab: str) -> int:
    """The fn_index of the page-load restore of ``tab``: the event whose only input is the tab's BrowserState."""
    cfg = json.loads(urllib.request.urlopen(f"{app_url}/config", timeout=30).read())
    comp = next(c["id"] for c in cfg["components"]
                if c.get("props", {}).get("storage_key") == STORAGE_KEY.format(tab=tab))
    return next(i for i, dep in enumerate(cfg["dependencies"]) if dep["inputs"] == [comp] and dep.get("backend_fn"))


# --- 1. no URL fetched from a JSON value or a browser's stored copy ---------------------------------------------
def test_a_file_object_hidden_in_json_or_a_stored_copy_is_refused_and_nothing_is_fetched(app_url):
    with Bait() as bait:
        hidden = file_object(f"{bait.url}/cat.png")
        history = [{"role": "user", "content": "Hello", "note": {"deep": [hidden]}},
                   {"role": "assistant", "content": "Hi."}]
        doc = {"format": FORMAT, "version": VERSION, "tab": "chat", "turns": history, "extra": hidden}
        calls = {
            "/chat history": ("chat", ["Go on.", "", history, *GEN]),
            "/chat document": ("chat", ["Go on.", "", doc, *GEN]),
            "the chat tab's restore": (restore_event(app_url, "chat"), [doc]),
            "the video tab's restore": (restore_event(app_url, "video"), [{"turns": [], "x": hidden}]),
        }
        for name, (event, data) in calls.items():
            code, events = raw_call(app_url, event, data)
            done = outcome(events)
            assert code == 200 and not done["success"], (name, done)
            assert done["output"]["error"] == MESSAGES["remote_file"], (name, done)
        assert bait.hits == []
    # and the same history without the hidden object is answered
    code, events = raw_call(app_url, "chat", ["Go on.", "", [{"role": "user", "content": "Hello"},
                                                           {"role": "assistant", "content": "Hi."}], *GEN])
    assert outcome(events)["success"]




# --- 2. names written to disk, counted in bytes ----------------------------------------------------------------
def test_an_image_named_with_ninety_four_byte_letters_is_taken(app_url):
    """The name is cut to its bytes (it once was 360 bytes: "File name too long" and the server's path in the
    error); the question about that image is answered."""
    from tests.unit.test_import_names import WIDE, image_doc

    code, events = raw_call(app_url, "chat", ["And its colour?", "", image_doc(WIDE * 90 + ".png"), *GEN])
    done = outcome(events)
    assert code == 200 and done["success"], done
    assert "completion tokens" in done["output"]["data"][0]



# --- 4. no remote image in the page's Markdown ------------------------------------------------------------------
def test_a_loaded_conversation_shows_no_remote_image_in_the_page(page, tmp_path):
    """A document whose answer, reasoning and question hold Markdown and HTML images pointing at another host: the
    chat box shows them as text, and the browser fetches nothing from that host."""
    from playwright.sync_api import expect

    from tests.app.test_browser_conversations import load_file

    with Bait() as bait:
        answer = f"Here: ![pixel]({bait.url}/a.png?leak=1) and <img src='{bait.url}/b.png'> in words"
        doc = export("chat", [{"role": "user", "content": f"Look ![u]({bait.url}/u.png)"},
                              {"role": "assistant", "content": answer, "reasoning": f"![t]({bait.url}/t.png)",
                               "thinking_s": 1.0}], model="m")
        path = tmp_path / "remote-images.json"
        path.write_text(json.dumps(doc))
        load_file(page, "chat", path)
        box = page.locator("#chat-box")
        # (the file is read and checked by the app before the conversation shows)
        expect(box).to_contain_text("in words", timeout=ms(ENGINE_WAIT_S))  # the answer is in the page
        expect(box).to_contain_text("![pixel]", timeout=ms(ENGINE_WAIT_S))  # its image as text
        assert box.locator(f"img[src*='{bait.url.split('//')[1]}']").count() == 0
        assert page.locator(f"img[src*='{bait.url.split('//')[1]}']").count() == 0
        assert bait.hits == []

# --- 5. /ask_video sends the model text only ----------------------------------------------------------------
def test_ask_video_refuses_a_history_with_images_and_takes_its_text(app_url):
    """A Chat/Image document's turns were once sent as their Python repr, the imported image's path inside."""
    from tests.unit.test_import_names import image_doc

    clip = upload(app_url, ASSETS / "example.mp4")
    doc = image_doc("cat.png")
    code, events = raw_call(app_url, "ask_video", [clip, "And then?", doc, 2.0, 4, *GEN])
    done = outcome(events)
    assert code == 200 and not done["success"] and done["output"]["error"] == MESSAGES["video_history_images"], done
    text_only = [{"role": "user", "content": "What is it?"}, {"role": "assistant", "content": "A square."}]
    code, events = raw_call(app_url, "ask_video", [clip, "And then?", text_only, 2.0, 4, *GEN])
    done = outcome(events)
    assert done["success"], done

# --- 3. a number no float can hold ---------------------------------------------------------------------------
def test_an_integer_too_large_for_a_float_in_a_document_is_a_sentence(app_url):
    """10**400 is valid JSON; float() of it raises. In /chat's history document and in a browser's stored copy it
    gets the document's sentence (the restore shows it in the tab's note), and the app goes on."""
    doc = export("chat", [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi."}], model="m")
    doc["turns"][1]["thinking_s"] = 10**400
    sentence = str(ConversationFileError("import_bad", detail="the thinking time of turn 2 is not a number in range"))
    code, events = raw_call(app_url, "chat", ["Go on.", "", doc, *GEN])
    done = outcome(events)
    assert code == 200 and not done["success"] and done["output"]["error"] == sentence, done
    code, events = raw_call(app_url, restore_event(app_url, "chat"), [doc])
    done = outcome(events)
    assert done["success"] and sentence in json.dumps(done["output"]["data"], ensure_ascii=False), done
    del doc["turns"][1]["thinking_s"]
    code, events = raw_call(app_url, "chat", ["Go on.", "", doc, *GEN])
    assert outcome(events)["success"]


# --- 7. a video conversation's load waits with the videos ---------------------------------------------------------
def test_a_video_conversation_load_waits_in_the_video_group(app_page):
    """Its frames (up to 256) are decoded like a video's: the Load is in the video concurrency group, not beside it."""
    fns = list(app_page[0].get_blocks().fns.values())
    video_group = next(f.concurrency_id for f in fns if f.api_name == "describe_video")
    (load,) = [f for f in fns if [getattr(c, "elem_id", None) for c in f.inputs] == ["video-load"]]
    assert load.concurrency_id == video_group


def test_sessions_are_bounded_and_a_video_conversation_has_a_time_to_live(app_page, engines):
    """Gradio keeps every session's state (and each component an event updated) until this many newer sessions came,
    10,000 by default; the Video tab's frames and the Live tab's camera window are freed after their time to live,
    as when the tab closes."""
    blocks = app_page[0].get_blocks()
    assert blocks.state_session_capacity == engines.settings.session_capacity < 10_000
    states = [b for b in blocks.blocks.values() if type(b).__name__ == "State"]
    with_ttl = [s for s in states if s.time_to_live != float("inf")]
    assert len(with_ttl) == 2 and all(s.time_to_live == engines.settings.state_ttl for s in with_ttl)


def test_a_cancelled_preparation_is_told_to_stop(engines):
    """The work of a request that is gone (Stop, a closed tab) is told so by the cancel, through the image pool's
    own path (Engines.run_blocking): the thread stops at its next look, not at the end of its work."""
    import asyncio
    import threading

    started, saw = threading.Event(), []

    def work(cancelled):
        started.set()
        saw.append(cancelled.wait(60))  # set by the cancel, or still unset after a minute: the test's answer

    async def ask_then_leave():
        task = asyncio.ensure_future(engines.run_blocking(work, cancellable=True))
        while not started.is_set() and not task.done():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    # a thread of its own: the browser tests' Playwright keeps an event loop running in this one
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, ask_then_leave()).result()
    wait_until(lambda: saw, "the worker thread's answer", 120)
    assert saw == [True]

# --- 6. every route the app serves ---------------------------------------------------------------------
# Gradio 6.31's routes with run history off, as this app launches it. A Gradio upgrade that adds a route fails here:
# look at what it serves, then add it (or turn it off in demo/ui/page.py's launch_kwargs). The app's own route:
# GET /live/{ticket}, the light stream (demo/ui/live.py: an answer's text, to whoever holds its random ticket).
SERVED = """
GET /live/{ticket} | GET / | HEAD / | GET /assets/{path:path} | GET /config | GET /config/ | GET /favicon.ico | GET /logout
GET /manifest.json | POST /login | POST /login/ | GET /openapi.json | HEAD /openapi.json | GET /monitoring
GET /monitoring/summary | GET /monitoring/{key} | GET /pwa_icon
GET /pwa_icon/{size} | GET /robots.txt | GET /static/{path:path} | GET /svelte/{path:path} | GET /theme.css
POST /gradio_api/api/{api_name} | POST /gradio_api/api/{api_name}/ | GET /gradio_api/app_id | GET /gradio_api/app_id/
POST /gradio_api/call/v2/{api_name} | POST /gradio_api/call/v2/{api_name}/ | GET /gradio_api/call/v2/{api_name}/{event_id}
POST /gradio_api/call/{api_name} | POST /gradio_api/call/{api_name}/ | GET /gradio_api/call/{api_name}/{event_id}
POST /gradio_api/cancel | POST /gradio_api/component_server | POST /gradio_api/component_server/
GET /gradio_api/custom_component/{id}/{environment}/{type}/{file_name} | GET /gradio_api/deep_link
GET /gradio_api/dev/reload | GET /gradio_api/file/{path:path} | GET /gradio_api/file={path_or_url:path}
HEAD /gradio_api/file={path_or_url:path} | GET /gradio_api/heartbeat/{session_hash} | GET /gradio_api/info
GET /gradio_api/info/ | GET /gradio_api/login_check | GET /gradio_api/login_check/ | GET /gradio_api/openapi.json
POST /gradio_api/process_recording | GET /gradio_api/proxy={url_path:path} | HEAD /gradio_api/proxy={url_path:path}
GET /gradio_api/queue/data | POST /gradio_api/queue/join | GET /gradio_api/queue/status | POST /gradio_api/reset
POST /gradio_api/reset/ | POST /gradio_api/run/{api_name} | POST /gradio_api/run/{api_name}/ | GET /gradio_api/runs
GET /gradio_api/runs/ | GET /gradio_api/startup-events | POST /gradio_api/stream/{event_id}
POST /gradio_api/stream/{event_id}/close | GET /gradio_api/stream/{session_hash}/{run}/{component_id}/playlist-file
GET /gradio_api/stream/{session_hash}/{run}/{component_id}/playlist.m3u8
GET /gradio_api/stream/{session_hash}/{run}/{component_id}/{segment_id}.{ext} | GET /gradio_api/theme.css
GET /gradio_api/token | GET /gradio_api/token/ | POST /gradio_api/undo-vibe-edit | POST /gradio_api/undo-vibe-edit/
GET /gradio_api/upload_progress | POST /gradio_api/upload | GET /gradio_api/user | GET /gradio_api/user/
GET /gradio_api/vibe-code | GET /gradio_api/vibe-code/ | POST /gradio_api/vibe-code | POST /gradio_api/vibe-code/
POST /gradio_api/vibe-edit | POST /gradio_api/vibe-edit/ | POST /gradio_api/vibe-starter-queries
POST /gradio_api/vibe-starter-queries/
"""


def served_routes(server_app) -> set[str]:
    """'METHOD path' for every route of the app, mounted sub-applications' routes under their prefix."""
    out = set()

    def walk(routes, prefix: str) -> None:
        for route in routes:
            path = prefix + getattr(route, "path", "")
            methods = getattr(route, "methods", None)
            if methods:
                out.update(f"{m} {path}" for m in methods)
            elif getattr(route, "routes", None) is not None:
                walk(route.routes, path)
            else:
                out.add(f"* {path}")

    walk(server_app.routes, "")
    return out


def test_the_app_serves_the_routes_it_means_to_and_no_run_history(app_page):
    server_app, url = app_page
    allowed = {r.strip() for r in SERVED.replace("\n", "|").split("|") if r.strip()}
    served = served_routes(server_app)
    assert served - allowed == set(), "routes nobody checked"
    assert allowed - served == set(), "routes no longer served: shorten the list"
    # the run history page answers "not found", and its routes that connect a Hugging Face bucket are not there
    assert http_status(f"{url}/gradio_api/runs")[0] == 404
    assert not any("run-history" in route for route in served)


# --- 7. what a caller's session keeps ---------------------------------------------------------------------------
def test_a_callers_history_is_not_kept_in_its_session(app_page):
    """Gradio once copied every input into the caller's session and kept it there: 34 MB per caller who sent a
    32 MB document, for as long as the session lived (bench/RESULTS-memory.md). The session now keeps no values."""
    server_app, url = app_page
    session, marker = secrets.token_hex(8), f"kept-{secrets.token_hex(6)}"
    history = [{"role": "user", "content": f"Say {marker}"}, {"role": "assistant", "content": f"{marker} " * 20}]
    code, events = raw_call(url, "chat", ["Go on.", "", history, *GEN], session=session)
    assert code == 200 and outcome(events)["success"]
    kept = server_app.state_holder.session_data[session]
    assert marker not in json.dumps(kept.config_values, default=str)
    assert marker not in json.dumps(kept.state_data, default=str)
