"""Which app process a request goes to, how many processes a machine runs, and each one's share of the limits
(``demo/fleet``): pure functions, no process started."""

from __future__ import annotations

import pickle

import pytest

from demo.engines.status import EngineStatus, StatusCell
from demo.errors import EngineError
from demo.fleet import app_processes, share_of
from demo.fleet.routing import EventOwners, Request, by_key, reads_body, route, ticket_prefix
from demo.fleet.wire import Failed
from demo.settings import Settings


def sessions_for_each(n: int) -> list[str]:
    """One session name that lands on each of ``n`` processes."""
    found: dict[int, str] = {}
    i = 0
    while len(found) < n:
        found.setdefault(by_key(f"s{i}", n), f"s{i}")
        i += 1
    return [found[k] for k in range(n)]


@pytest.mark.parametrize("n", [2, 3, 4])
def test_every_request_of_a_session_goes_to_one_process(n):
    events = EventOwners()
    for index, session in enumerate(sessions_for_each(n)):
        asked = [
            Request("POST", "/gradio_api/queue/join", {}, session_hash=session),
            Request("GET", "/gradio_api/queue/data", {"session_hash": session}),
            Request("POST", "/gradio_api/cancel", {}, session_hash=session, event_id="e1"),
            Request("POST", "/gradio_api/run/predict", {}, session_hash=session),
            Request("GET", f"/gradio_api/heartbeat/{session}", {}),
            Request("GET", f"/gradio_api/stream/{session}/run1/12/playlist.m3u8", {}),
        ]
        assert [route(r, n, events) for r in asked] == [index] * len(asked)


def test_sessions_spread_over_the_processes():
    counts = [0, 0, 0, 0]
    for i in range(4000):
        counts[by_key(f"{i:016x}", 4)] += 1
    assert min(counts) > 800  # an even share is 1000


def test_a_light_stream_goes_to_the_process_its_ticket_names():
    events = EventOwners()
    for index in range(3):
        ticket = ticket_prefix(index) + "AbC-_xyz"
        assert route(Request("GET", f"/live/{ticket}", {}), 3, events) == index
    assert route(Request("GET", "/live/zz-not-ours", {}), 3, events) is None


def test_an_event_goes_where_it_was_made():
    events = EventOwners()
    events.add("ev7", 1)
    assert route(Request("GET", "/gradio_api/call/chat/ev7", {}), 2, events) == 1
    assert route(Request("GET", "/gradio_api/call/v2/chat/ev7", {}), 2, events) == 1
    assert route(Request("POST", "/gradio_api/stream/ev7", {}), 2, events) == 1
    assert route(Request("POST", "/gradio_api/stream/ev7/close", {}), 2, events) == 1
    assert route(Request("POST", "/gradio_api/reset", {}, event_id="ev7"), 2, events) == 1
    assert route(Request("GET", "/gradio_api/call/chat/unknown", {}), 2, events) is None


def test_an_upload_and_its_progress_go_to_one_process():
    events = EventOwners()
    up = route(Request("POST", "/gradio_api/upload", {"upload_id": "u1"}), 4, events)
    assert up is not None
    assert route(Request("GET", "/gradio_api/upload_progress", {"upload_id": "u1"}), 4, events) == up


def test_what_names_no_session_goes_anywhere_and_one_process_takes_all():
    events = EventOwners()
    for path in ("/", "/config", "/gradio_api/info", "/assets/index.js", "/gradio_api/file=/tmp/gradio/x/a.png"):
        assert route(Request("GET", path, {}), 3, events) is None
        assert route(Request("GET", path, {}), 1, events) == 0


def test_only_a_json_post_is_read_for_its_session():
    assert reads_body("POST", "application/json")
    assert reads_body("POST", "application/json; charset=utf-8")
    assert not reads_body("POST", "multipart/form-data; boundary=x")  # an upload streams through unread
    assert not reads_body("GET", "application/json")


def test_the_events_remembered_are_bounded():
    events = EventOwners(most=3)
    for i in range(5):
        events.add(f"e{i}", i % 2)
    assert len(events) == 3 and events.get("e0") is None and events.get("e4") == 0


@pytest.mark.parametrize("setting, gpus, cores, expected", [
    (0, 0, 2, 1),  # no GPU (the tests, the CPU build): one process, the engines need the cores
    (0, 0, 64, 1),
    (0, 1, 4, 1),  # a small GPU Space
    (0, 1, 8, 2),
    (0, 1, 16, 4),  # the H100 machine of bench/RESULTS-crowd.md
    (0, 8, 128, 4),
    (3, 0, 2, 3),  # asked for: as asked
])
def test_how_many_app_processes(setting, gpus, cores, expected):
    assert app_processes(setting, gpus, cores) == expected


def test_a_share_link_keeps_one_app_process():
    assert app_processes(0, 1, 16, share=True) == 1  # Gradio's tunnel belongs to the one page it launched
    assert app_processes(1, 1, 16, share=True) == 1


def test_a_share_link_with_several_app_processes_is_refused(capsys):
    with pytest.raises(SystemExit):
        Settings.from_args(["--share", "--app-processes", "2"], env={})
    assert "--share opens its link to one app process" in capsys.readouterr().err


def test_each_process_gets_its_share_of_the_whole_apps_limits():
    settings = Settings.from_args(["--concurrency-limit", "32", "--max-concurrency", "250", "--max-queue-size", "256",
                                   "--session-capacity", "1000", "--host", "0.0.0.0", "--share"], env={})
    part = share_of(settings, 3, 40123)
    assert (part.concurrency_limit, part.max_concurrency, part.max_queue_size, part.session_capacity) == (
        11, 84, 86, 334)  # rounded up: together at least the whole
    assert (part.host, part.app_port, part.share, part.app_processes) == ("127.0.0.1", 40123, False, 1)
    assert part.problems() == []


def test_the_setting_is_checked(capsys):
    with pytest.raises(SystemExit):
        Settings.from_args(["--app-processes", "65"], env={})
    assert "--app-processes must be between 0" in capsys.readouterr().err
    assert Settings.from_args([], env={"QWEN_DEMO_APP_PROCESSES": "2"}).app_processes == 2


def test_a_sentence_survives_the_trip_between_processes():
    sent = Failed.of(EngineError("worker_timeout", seconds=900.0))
    back = pickle.loads(pickle.dumps(sent))
    error = EngineError(back.code, **back.fields)
    assert error.code == "worker_timeout" and str(error) == str(EngineError("worker_timeout", seconds=900.0))


def test_a_status_from_another_process_is_taken_whole():
    cell = StatusCell("video worker")
    theirs = EngineStatus("video worker", "restarting", 123.0, "it died", restarts=2, last_start_s=40.0)
    cell.put(theirs)
    assert cell.get() == theirs
    assert cell.wait_for(("restarting",), 0) == theirs
