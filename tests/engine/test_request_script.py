""""Show request" run as a person runs it (demo/outputs/request_snippet.py): the script is saved with the media
files it names, run by Python with ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` pointing at the real server (tiny
checkpoint, started by the app's launcher), and must make the prompt the app's own request made.

The app's request is the reference: a chat answer's ``AnswerStats.request`` (the arguments its client sent), and
for a video the request the Video tab shows (``video_messages`` + ``request_kwargs``) against the app's own video
answer through the server. Random weights: token counts are compared, never wording.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from demo.engines.client import AnswerStats, request_kwargs
from demo.engines.params import GenerationParams, VideoSampling
from demo.engines.video_via_server import video_messages
from demo.inputs.images import image_part
from demo.outputs.request_snippet import media_files, python_snippet
from tests.drive import collect
from tests.engine.test_engines import make_clip
from tests.unit.test_request_snippet import picture
from tests.waits import ENGINE_WAIT_S

USAGE = re.compile(r"usage: prompt_tokens=(\d+) completion_tokens=(\d+)")
# Text that breaks naive quoting in a script: quotes of every kind, a shell variable, backslashes, unicode.
TRICKY = "It's \"quoted\" and '''triple''' and \"\"\"more\"\"\"\n$HOME `id` \\n \\ end\n日本語 ünïcode ✓ 🎥"
SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


def run_script(engines, kwargs: dict, folder) -> tuple[int, int]:
    """(prompt tokens, completion tokens) that the script rendered from ``kwargs`` printed on its last line."""
    source = python_snippet(kwargs)
    ep = engines.server.endpoint
    assert ep.base_url not in source and ep.api_key not in source  # nothing of this server in what is shown
    for name, data in media_files(kwargs).items():
        (folder / name).write_bytes(data)
    (folder / "request.py").write_text(source)
    env = dict(os.environ, OPENAI_BASE_URL=ep.base_url, OPENAI_API_KEY=ep.api_key)
    run = subprocess.run([sys.executable, "request.py"], cwd=folder, env=env, capture_output=True, text=True,
                         timeout=ENGINE_WAIT_S)
    assert run.returncode == 0, run.stderr[-2000:]
    usage = USAGE.fullmatch(run.stdout.rstrip("\n").split("\n")[-1])
    assert usage, run.stdout[-500:]
    return int(usage.group(1)), int(usage.group(2))


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "whole"])
def test_a_chat_script_makes_the_prompt_of_the_apps_request(engines, tmp_path, streamed):
    first, second = image_part(picture(320, 240)), image_part(picture(64, 48))
    messages = [
        {"role": "system", "content": "Be brief.\nJSON"},
        {"role": "user", "content": [first, second, {"type": "text", "text": TRICKY}]},
        {"role": "assistant", "content": "Two pictures."},
        {"role": "user", "content": [first, {"type": "text", "text": "And the first one again? Answer in JSON."}]},
    ]
    params = GenerationParams(max_tokens=24)
    stats = collect(engines.stream_chat(messages, params, json_schema=SCHEMA))[-1]
    assert isinstance(stats, AnswerStats) and stats.request["extra_body"]["structured_outputs"]["json"] == SCHEMA
    sent = stats.request if streamed else {k: v for k, v in stats.request.items() if k != "stream_options"} | {
        "stream": False}
    prompt, completion = run_script(engines, sent, tmp_path)
    assert prompt == stats.prompt_tokens > 100  # three images' visual tokens are in it, not only the text
    assert 1 <= completion <= params.max_tokens


def test_a_video_script_sends_the_frames_and_their_timing(engines, tmp_path):
    import asyncio

    # From 12 s on: the times the model is told have two digits, so a request without the frames' timing
    # (media_io_kwargs), which the server would take as frames from 0 s, makes a shorter prompt (checked).
    source = make_clip(tmp_path / "clip.mp4", seconds=24, fps=2, size=(160, 120))
    _, clip = asyncio.run(engines.sample_video(str(source), VideoSampling(fps=0.5, max_frames=6, start=12)))
    assert clip.plan.times[0] >= 10  # told with two digits
    question = "What happens in this video?"
    params = GenerationParams(max_tokens=8)
    events = collect(engines.answer_video(clip, question, None, params, via_server=True))
    answer = events[-1].answer
    # the request the Video tab shows for this answer (demo/ui/video_answering.py answer_end)
    messages, media_io_kwargs = video_messages(clip, question)
    request = request_kwargs(engines.server.endpoint.model, messages, params, media_io_kwargs=media_io_kwargs)
    prompt, completion = run_script(engines, request, tmp_path)
    frames = sorted(p.name for p in tmp_path.glob("video-1-frame-*.jpg"))
    assert len(frames) == len(clip.plan.indices) and len(frames) >= 2
    assert prompt == answer.prompt_tokens  # the same frames, with the same times, in the same prompt
    assert 1 <= completion <= params.max_tokens
