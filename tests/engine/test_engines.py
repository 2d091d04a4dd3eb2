"""The real vLLM server and video worker, through the app's own launcher, on the tiny checkpoint.

Random weights: every assertion is about structure (deltas, finish reasons, token counts, process state,
error codes), never wording.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import threading
import time
from contextlib import aclosing

import cv2
import numpy as np
import pytest
from PIL import Image

from demo.engines.client import AnswerStats, Progress
from demo.engines.params import GenerationParams, VideoSampling
from demo.engines.processes import group_alive
from demo.engines.video_events import Done, Frames, Stage
from demo.errors import EngineError
from demo.inputs.images import image_part
from tests.drive import cancel_when, collect, take_then_close
from tests.waits import ENGINE_WAIT_S, generated_tokens, prove_abort, wait_until

SHORT = GenerationParams(max_tokens=24)
# Greedy: random weights then loop without an end-of-text token, so the answer is still being made when it is
# stopped or its server killed (sampled, "Write a very long story." ended on its own after 555 tokens). Far
# more tokens than the engine makes before the test's Stop lands (the eager CPU engine: about 100 a second).
LONG = GenerationParams(temperature=0.0, max_tokens=7000, presence_penalty=0.0)
# Sampled from the whole vocabulary instead: text from the first tokens (a greedy loop on a byte token can keep
# the stream silent to its end, see tests/waits.py), for a test that needs a first piece. An end-of-text token
# (2 of ~152k) is unlikely before that piece; after it, any finish is counted, which is what the test checks.
SAMPLED_LONG = GenerationParams(temperature=1.0, top_p=1.0, top_k=-1, max_tokens=7000, presence_penalty=0.0)


def run(engines, messages, params=SHORT):
    out = collect(engines.stream_chat(messages, params))
    items, stats = out[:-1], out[-1]
    assert isinstance(stats, AnswerStats)
    deltas = [d for d in items if isinstance(d, str)]
    counts = [p.completion_tokens for p in items if isinstance(p, Progress)]
    assert len(deltas) + len(counts) == len(items)  # text and progress only
    assert all(deltas)
    assert counts == sorted(counts) and all(0 < c <= stats.completion_tokens for c in counts)
    return deltas, stats


def photo(width=320, height=224, seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def make_clip(path, seconds=4, fps=10, size=(320, 240)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for i in range(seconds * fps):
        frame = np.zeros((size[1], size[0], 3), np.uint8)
        x = (i * 7) % (size[0] - 40)
        frame[:, x:x + 40] = (40, 200, 40)
        writer.write(frame)
    writer.release()
    return path


def test_text_answer_streams_delta_by_delta(engines):
    deltas, stats = run(engines, [{"role": "user", "content": "Reverse every character of 'I love Qwen3-VL'."}])
    assert len(deltas) >= 2  # streamed, not one blob
    assert stats.finish_reason in ("stop", "length")
    assert 1 <= stats.completion_tokens <= SHORT.max_tokens
    assert stats.prompt_tokens > 5
    assert stats.ttft_s is not None and stats.total_s >= stats.ttft_s


def test_image_answer_counts_visual_tokens(engines):
    _, text_only = run(engines, [{"role": "user", "content": "Describe this image."}])
    _, with_image = run(engines, [{"role": "user", "content": [
        image_part(photo()), {"type": "text", "text": "Describe this image."}]}])
    # 320x224 -> the server's processor adds at least 64 visual tokens (min 65536 pixels / 32x32).
    assert with_image.prompt_tokens >= text_only.prompt_tokens + 64
    assert with_image.completion_tokens >= 1


def test_two_images_and_a_follow_up_in_one_conversation(engines):
    first = [{"role": "user", "content": [image_part(photo(seed=1)), image_part(photo(seed=2)),
                                          {"type": "text", "text": "Compare these two images."}]}]
    deltas, one = run(engines, first)
    _, single = run(engines, [{"role": "user", "content": [image_part(photo(seed=1)),
                                                           {"type": "text", "text": "Compare these two images."}]}])
    assert one.prompt_tokens >= single.prompt_tokens + 64  # the second image is in the prompt
    follow = first + [{"role": "assistant", "content": "".join(deltas)},
                      {"role": "user", "content": "And which one is brighter?"}]
    _, two = run(engines, follow)
    assert two.prompt_tokens > one.prompt_tokens  # both images and the first answer carried over


def test_video_answer_through_the_worker(engines, tmp_path):
    clip = make_clip(tmp_path / "clip.mp4")
    events = collect(engines.answer_video(str(clip), "Describe this video. And guess what is the man going to do?",
                                          VideoSampling(fps=2.0, max_frames=16), GenerationParams(max_tokens=32)))
    assert isinstance(events[0], Stage) and isinstance(events[-1], Done)
    stages = [e.name for e in events if isinstance(e, Stage)]
    assert stages == ["reading", "encoding", "generating"]
    frames_event = next(e for e in events if isinstance(e, Frames))
    plan = frames_event.plan
    assert plan.nframes == 8  # 4 s at 2 fps
    assert len(frames_event.frames) == plan.nframes
    assert all(f.size == (plan.width, plan.height) for f in frames_event.frames)
    answer = events[-1].answer
    assert answer.prompt_tokens >= plan.visual_tokens - 12 * (plan.nframes // 2)  # frames reached the model
    assert plan.visual_tokens + 32 <= 8192
    assert 1 <= answer.completion_tokens <= 32
    assert answer.finish_reason in ("stop", "length")


def test_stop_aborts_the_request_on_the_server(engines):
    # cancelled mid-answer, as the page's Stop does; checked while the event loop still runs, as the page's does:
    # vLLM idle again, no finish counted, far fewer tokens than asked for
    def attempt(witness):
        got = cancel_when(engines.stream_chat([{"role": "user", "content": "Write a very long story."}], LONG),
                          ready=lambda: generated_tokens(engines) > witness.tokens, then=witness.check)
        assert not any(isinstance(g, AnswerStats) for g in got)  # it never reached its end

    prove_abort(engines, LONG.max_tokens, attempt)


def test_closing_the_stream_between_two_pieces_aborts_the_request_on_the_server(engines):
    """Gradio ends a run cancelled between two updates, or whose client left, by closing the handler's generator
    at its ``yield``: every nested stream must close with it, not wait for garbage collection."""
    def attempt(witness):
        got = take_then_close(engines.stream_chat([{"role": "user", "content": "Write a very long story."}],
                                                  SAMPLED_LONG), 1, then=witness.check)
        assert len(got) == 1 and isinstance(got[0], (str, Progress))

    prove_abort(engines, SAMPLED_LONG.max_tokens, attempt)


def test_request_longer_than_the_context_is_a_sentence_and_the_next_works(engines):
    with pytest.raises(EngineError) as info:
        run(engines, [{"role": "user", "content": "word " * 9000}])
    assert info.value.code == "too_long"
    assert "8192" in str(info.value)
    _, stats = run(engines, [{"role": "user", "content": "hello"}])
    assert stats.completion_tokens >= 1


def test_concurrent_users_are_all_answered_together(engines):
    """Eight users at once are all answered, and served together: their answers overlap in time (vLLM batches them);
    one after the other, no two answers would overlap and this fails."""
    results, errors = [], []
    ready = threading.Barrier(8)

    async def answer(i):
        first = None
        async with aclosing(engines.stream_chat([{"role": "user", "content": f"Count to {i}."}],
                                                GenerationParams(max_tokens=64))) as items:
            async for item in items:
                first = first or time.monotonic()  # its first token (text or a count of tokens)
                last = item
        return first, time.monotonic(), last

    def user(i):
        try:
            ready.wait(ENGINE_WAIT_S)
            results.append(asyncio.run(answer(i)))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=user, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(ENGINE_WAIT_S)
    assert not errors
    assert len(results) == 8
    assert all(isinstance(stats, AnswerStats) and stats.completion_tokens >= 1 for _, _, stats in results)
    # An answer whose first token came before another's end ran beside it (each has 64 tokens to make).
    overlapping = sum(a_first < b_end and b_first < a_end
                      for n, (a_first, a_end, _) in enumerate(results) for b_first, b_end, _ in results[n + 1:])
    assert overlapping >= 1, results


@pytest.mark.disruptive
def test_server_killed_mid_stream_is_a_sentence_and_it_comes_back(engines):
    old_pid = engines.server.pid
    assert old_pid is not None

    async def kill_mid_answer():
        gen = engines.stream_chat([{"role": "user", "content": "Write a very long story."}], LONG)
        for _ in range(3):
            assert isinstance(await anext(gen), (str, Progress))  # the answer is streaming
        os.kill(old_pid, signal.SIGKILL)
        try:
            return [item async for item in gen][-1]
        except EngineError as exc:
            return exc

    # The open stream ends with a sentence, not a hang and not a silently cut answer: 7000 greedy tokens (about a
    # minute of this engine) cannot be made between the third item and the kill.
    last = asyncio.run(kill_mid_answer())
    assert isinstance(last, EngineError), last
    assert last.code in ("server_lost", "server_unavailable")
    wait_until(lambda: engines.server.status.get().state in ("restarting", "starting"),
               "the supervisor to notice the dead server")
    with pytest.raises(EngineError) as info:  # while it is down, a request gets a sentence at once
        run(engines, [{"role": "user", "content": "hello"}])
    assert info.value.code in ("server_restarting", "server_starting", "server_unavailable")
    engines.server.wait_ready(timeout=ENGINE_WAIT_S)
    assert engines.server.pid not in (None, old_pid)
    assert not group_alive(old_pid)  # its EngineCore and workers went with it
    assert engines.server.status.get().restarts >= 1
    _, stats = run(engines, [{"role": "user", "content": "hello again"}])
    assert stats.completion_tokens >= 1


@pytest.mark.disruptive
def test_worker_killed_mid_job_is_a_sentence_and_it_comes_back(engines, tmp_path):
    old_pid = engines.worker.pid
    assert old_pid is not None
    clip = make_clip(tmp_path / "long.mp4", seconds=8)

    async def kill_mid_job():
        # greedy, so that the long answer cannot end on its own before the kill
        events = engines.answer_video(str(clip), "Describe this video in detail.", VideoSampling(fps=4, max_frames=32),
                                      GenerationParams(max_tokens=4000).greedy())
        async for ev in events:
            if ev == Stage("generating"):
                break  # the worker holds the job now
        else:
            pytest.fail("the job never reached the worker")
        os.kill(old_pid, signal.SIGKILL)
        with pytest.raises(EngineError) as info:
            async for _ in events:
                pass
        return info.value

    assert asyncio.run(kill_mid_job()).code == "worker_crashed"
    with pytest.raises(EngineError) as info:  # while it restarts, a new job gets a sentence at once
        collect(engines.answer_video(str(clip), "Describe this video."))
    assert info.value.code == "worker_unavailable"
    engines.worker.wait_ready(timeout=ENGINE_WAIT_S)
    assert engines.worker.pid not in (None, old_pid)
    assert not group_alive(old_pid)
    events = collect(engines.answer_video(str(clip), "Describe this video.", params=GenerationParams(max_tokens=16)))
    assert isinstance(events[-1], Done) and events[-1].answer.completion_tokens >= 1


@pytest.mark.disruptive
def test_hung_server_times_out_is_shown_unresponsive_and_is_restarted(engines):
    """SIGSTOP freezes the whole server (alive, silent): requests end with a sentence, the status says so,
    and after ``request_timeout`` seconds of silence the supervisor replaces it."""
    old_pid = engines.server.pid
    restarts = engines.server.status.get().restarts
    seen, errors = set(), []

    def ask():
        try:
            run(engines, [{"role": "user", "content": "hello"}])
        except EngineError as exc:
            errors.append(exc.code)

    os.killpg(old_pid, signal.SIGSTOP)
    try:
        asker = threading.Thread(target=ask)
        asker.start()

        def restarted():
            seen.add(engines.server.status.get().state)
            return engines.server.pid not in (None, old_pid)
        wait_until(restarted, "the hung server to be replaced")
        asker.join(ENGINE_WAIT_S)
    finally:
        if group_alive(old_pid):
            os.killpg(old_pid, signal.SIGCONT)
    assert errors and errors[0] in ("server_timeout", "server_unresponsive")
    assert "unresponsive" in seen
    engines.server.wait_ready(timeout=ENGINE_WAIT_S)
    assert not group_alive(old_pid)
    assert engines.server.status.get().restarts == restarts + 1
    _, stats = run(engines, [{"role": "user", "content": "hello again"}])
    assert stats.completion_tokens >= 1


def test_the_server_puts_as_many_tokens_in_a_chunk_as_the_app_asks(engines):
    """vLLM 0.32's per-request ``stream_interval``, which the app asks for while its updates are stretched
    (demo/engines/pacing.py): the server publishes the field, and an answer of 32 tokens asked in chunks of 4 comes
    in at most 10 chunks (the first and last go at once), against one chunk a token when not asked."""
    import openai

    from demo.engines.client import request_kwargs
    from demo.engines.server import accepts_stream_interval

    endpoint = engines.server.endpoint
    assert accepts_stream_interval(endpoint)
    greedy = GenerationParams(temperature=0.0, max_tokens=32, presence_penalty=0.0)  # no end-of-text: 32 tokens
    client = openai.OpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key, max_retries=0)

    def token_chunks(per_chunk: int) -> tuple[int, int]:
        sent = request_kwargs(endpoint.model, [{"role": "user", "content": "Count."}], greedy,
                              chunk_tokens=per_chunk)
        counts = []
        for chunk in client.chat.completions.create(**sent):
            if chunk.choices and chunk.usage is not None and chunk.usage.completion_tokens:
                counts.append(chunk.usage.completion_tokens)
        return len(set(counts)), max(counts)

    chunks, tokens = token_chunks(4)
    assert tokens == 32 and chunks <= 32 // 4 + 2, (chunks, tokens)
    chunks, tokens = token_chunks(1)
    assert tokens == 32 and chunks >= 30, (chunks, tokens)


def test_the_server_says_how_many_requests_wait_in_it(engines):
    """vLLM's /metrics, read by the page's admission (demo/engines/admission.py) through the engines: none wait in an
    idle server."""
    assert engines.server_waiting() == 0
