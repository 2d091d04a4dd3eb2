"""Waiting in tests without betting on the engine's speed, and vLLM's own counters as witnesses.

Every wait ends on the event it waits for (an answer's end, a state); its limit is one setting,
``TEST_ENGINE_WAIT_S`` (default 900 s), sized for a cold 2-core machine where both engines start, restart and
answer while other tests run. A browser test's wait for the page's own reaction has a bound of its own,
``TEST_PAGE_WAIT_S`` (default 120 s), so that a UI check that fails says so in minutes. A limit is a failure, never
a pass: no test asserts a duration.

Stop and cancel tests use vLLM's finished-request counter by reason (``vllm:request_success_total``): a
request that runs to its end is counted under ``length`` (or ``stop``); one that the client aborts is not
counted at all (vLLM 0.32, ``OutputProcessor.abort_requests`` records no finish). So "the engine is idle
again and counted no finish" proves the abort, and a build whose Stop does nothing fails, because the
request then finishes on its own and is counted.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request

import pytest

ENGINE_WAIT_S = float(os.environ.get("TEST_ENGINE_WAIT_S", "900"))
# The bound for the page's own reaction in the browser tests (a click, a tab switch, a typed value, a file's preview,
# a queue=False reply, a queued step that reaches no engine), on a loaded 2-core machine: Playwright's default there
# (tests/app/conftest.py). A wait for anything the engines make or end names ENGINE_WAIT_S instead (issue 27).
PAGE_WAIT_S = float(os.environ.get("TEST_PAGE_WAIT_S", "120"))


def ms(seconds: float) -> float:
    """Seconds as Playwright's timeouts take them (milliseconds)."""
    return seconds * 1000


def wait_until(predicate, what: str, timeout: float = ENGINE_WAIT_S, poll: float = 0.1) -> None:
    """Poll ``predicate`` until it is true; fail (naming ``what``) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(poll)


def metrics(engines) -> dict[str, float]:
    """vLLM's Prometheus metrics, ``name{labels}`` -> value (summed when a name repeats)."""
    with urllib.request.urlopen(f"{engines.server.endpoint.root}/metrics", timeout=30) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = out.get(key, 0.0) + float(value)
    return out


def metric(engines, name: str, label: str = "") -> float:
    """The sum of the series of ``name`` whose labels contain ``label``."""
    return sum(v for k, v in metrics(engines).items() if k.split("{", 1)[0] == name and label in k)


def running_requests(engines) -> float:
    return metric(engines, "vllm:num_requests_running")


def in_engine(engines) -> float:
    """Requests vLLM holds: running or waiting."""
    return metric(engines, "vllm:num_requests_running") + metric(engines, "vllm:num_requests_waiting")


def finished(engines) -> dict[str, float]:
    """Requests vLLM saw through to a finish of their own, by reason (stop, length, ...); aborts are not here."""
    return {reason: metric(engines, "vllm:request_success_total", f'finished_reason="{reason}"')
            for reason in ("stop", "length", "error", "repetition")}


def generated_tokens(engines) -> float:
    return metric(engines, "vllm:generation_tokens_total")


class Inconclusive(Exception):
    """The answer reached its end before the stop was carried out: this attempt proves nothing either way."""


class AbortWitness:
    """Taken before a long request starts; :meth:`check`, once the app has closed its stream after the Stop,
    proves vLLM aborted the request.

    It first requires that the answer had not ended on its own by then (else :class:`Inconclusive`: on this
    2-core VM a process can stall for seconds while vLLM decodes, and a 4096-token answer of the tiny model
    takes about 8 s). Then it waits (on state) until vLLM holds no request, and asserts that no request finished
    on its own and that fewer than ``max_tokens`` tokens were made. Without a working Stop the stream closes
    only at the answer's end, which is counted under ``length``: every attempt is inconclusive or fails.
    """

    def __init__(self, engines, max_tokens: int):
        wait_until(lambda: in_engine(engines) == 0, "the server to be idle before the test")
        self.engines, self.max_tokens = engines, max_tokens
        self.finished, self.tokens = finished(engines), generated_tokens(engines)

    def wait_decoding(self, done=lambda: False, arrived=lambda: False) -> None:
        wait_decoding(self.engines, self.tokens, done, arrived)

    def check(self) -> None:
        wait_until(lambda: self.engines.open_streams == 0, "the app to close its stream after the stop")
        at_close = finished(self.engines)
        if at_close != self.finished:
            raise Inconclusive(f"the answer had ended before its stream was closed: {self.finished} -> {at_close}")
        # A one-token request first: when it is answered, vLLM has stepped (and published its gauges) after
        # the Stop, so "holds no request" below is read from the engine's present, not from before the Stop.
        one_token(self.engines)
        counted = sum(self.finished.values()) + 1
        wait_until(lambda: in_engine(self.engines) == 0 and sum(finished(self.engines).values()) >= counted,
                   "vLLM to hold no request after the stop")
        after = finished(self.engines)
        made = generated_tokens(self.engines) - self.tokens
        expected = dict(self.finished, length=self.finished["length"] + 1)  # the one-token request
        assert after == expected, (f"the request finished on its own, not aborted: {self.finished} -> {after}, "
                                   f"{made:.0f} tokens made")
        assert made < self.max_tokens, f"{made:.0f} tokens made: the request ran to its end"


def prove_abort(engines, max_tokens: int, attempt, tries: int = 10) -> None:
    """Call ``attempt(witness)`` (start a long answer, stop it, ``witness.check()``) until one attempt proves
    the abort; fail when ``tries`` attempts were all inconclusive, which is what a Stop that does nothing gives.

    More than three: the test process (which also runs the in-process app) sometimes stalls for as long as a whole
    4096-token answer (about 10 s). Seen in a probe of 12 Stops in a row: a thread ticking every 10 ms in this
    process went 4 to 15 s without running, Playwright's click or the wait for the answer blocked as long, and
    such attempts came in runs of up to six. Every attempt whose click landed on time aborted the request. The
    same probe showed it on the code before issue 15 (f271b63). Two fresh-clone runs out of four failed the Stop
    test with three tries, each time with three late attempts. An inconclusive attempt proves nothing either way,
    so more of them do not weaken the test: a Stop that does nothing still fails every attempt. Ten since a
    fresh-clone run of 2026-12-06 saw six late attempts in a row (the same test passed in that day's three other
    full runs)."""
    reasons = []
    for _ in range(tries):
        try:
            attempt(AbortWitness(engines, max_tokens))
            return
        except Inconclusive as exc:
            reasons.append(str(exc))
    pytest.fail(f"no attempt stopped the answer before its end ({tries} tries): " + "; ".join(reasons))


def wait_decoding(engines, since_tokens: float, done=lambda: False, arrived=lambda: False) -> None:
    """Wait until vLLM has made tokens since ``since_tokens`` (its counter) or ``arrived()`` (the caller saw
    some of the answer: text, or the page's token count), the signal a Stop test acts on; fail if ``done()``
    (the job ended first).

    Not the streamed text alone: greedy random weights can loop on a byte token that never completes a
    character, and vLLM then streams nothing until the answer's end (seen: 3913 tokens made before the third
    piece). Not the counter alone either: in a full fresh-clone run it lagged the stream by many seconds (the
    closed-tab test's screenshot, taken when the counter moved, showed a page of answer already there) and all
    three attempts of two tests acted too late. Not the running-requests gauge: a queue test once polled it
    twenty times while the log said "Running: 2 reqs" and never read 2.
    """
    wait_until(lambda: generated_tokens(engines) > since_tokens or arrived() or done(), "vLLM to make the answer",
               poll=0.05)
    assert not done(), "the request ended before vLLM made any of it"


def wait_processing(*jobs) -> None:
    """Wait until each ``gradio_client`` job runs (holds one of the app's concurrency slots); fail if one ended."""
    from gradio_client.utils import Status

    wait_until(lambda: all(j.status().code in (Status.PROCESSING, Status.ITERATING) or j.done() for j in jobs),
               "the jobs to run", poll=0.05)
    assert not any(j.done() for j in jobs), [j.status() for j in jobs if j.done()]


def one_token(engines) -> None:
    """One completion of exactly one token, straight to the server (``ignore_eos``: it always ends by length)."""
    ep = engines.server.endpoint
    body = json.dumps({"model": ep.model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1,
                       "ignore_eos": True}).encode()
    request = urllib.request.Request(f"{ep.base_url}/chat/completions", data=body, headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {ep.api_key}"})
    with urllib.request.urlopen(request, timeout=ENGINE_WAIT_S) as resp:
        assert json.load(resp)["choices"][0]["finish_reason"] == "length"


def app_client(url: str):
    """A ``gradio_client.Client`` whose HTTP requests may take as long as any engine wait: its default of 5 s
    let a request to join the queue time out on a busy 2-core machine (seen)."""
    from gradio_client import Client

    return Client(url, verbose=False, httpx_kwargs={"timeout": ENGINE_WAIT_S})


def cancel_now(app_url: str, client, job, api_name: str) -> None:
    """Send what ``job.cancel()`` sends (``POST /gradio_api/cancel`` with the session, the endpoint and the
    event), at once.

    ``Job.cancel()`` first takes the job's lock, which gradio_client's reader thread takes again for every
    update it applies; with a backlog of updates on a loaded 2-core machine the cancel waited for the answer's
    end. Seen in a full run: the cancel reached the app 23 and 25 s after the answer began (a debug log in
    Gradio's /cancel route), while vLLM's token counter moves within a second of the start (a probe of the same
    7000-token answer). Three such late cancels failed a fresh-clone run.
    """
    wait_until(lambda: job.communicator.event_id is not None, "the job's event id")
    fn_index = next(i for i, dep in enumerate(client.config["dependencies"])
                    if dep.get("api_name") == api_name.lstrip("/"))
    body = json.dumps({"session_hash": client.session_hash, "fn_index": fn_index,
                       "event_id": job.communicator.event_id}).encode()
    request = urllib.request.Request(f"{app_url}/gradio_api/cancel", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=ENGINE_WAIT_S) as resp:
        assert resp.status == 200
