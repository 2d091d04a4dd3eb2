"""Video through the server: the kept JPEG frames as a ``video/jpeg`` data URL with the source's timing, read back
by vLLM's own loader; follow-up turns after the first question, which carries the video."""

from __future__ import annotations

import numpy as np
from PIL import Image

from demo.engines.video_via_server import video_messages
from demo.inputs.video_clip import VideoClip
from demo.inputs.video_frames import FramePlan, frame_tokens

# Six frames of a 25 fps video of 400 frames, kept from 10 s on (frame 250) every half second.
INDICES = (250, 262, 275, 287, 300, 312)
PLAN = FramePlan(INDICES, 96, 64, 2.0, frame_tokens(6, 96, 64), source_fps=25.0, source_frames=400)


def clip(n=6, w=96, h=64, plan=PLAN) -> VideoClip:
    return VideoClip.from_frames([Image.fromarray(np.full((h, w, 3), 40 * i, np.uint8)) for i in range(n)], plan)


def test_message_has_the_video_then_the_question():
    messages, _ = video_messages(clip(), "What happens?")
    (msg,) = messages
    assert msg["role"] == "user"
    video, text = msg["content"]
    assert video["type"] == "video_url" and video["video_url"]["url"].startswith("data:video/jpeg;base64,")
    assert text == {"type": "text", "text": "What happens?"}


def test_a_follow_up_keeps_the_video_with_the_first_question_and_the_turns_in_order():
    messages, _ = video_messages(clip(), "And then?", [("What happens?", "A man walks."), ("Who?", "A cook.")])
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user"]
    assert messages[0]["content"][0]["type"] == "video_url"
    assert messages[0]["content"][1]["text"] == "What happens?"
    assert [m["content"] for m in messages[1:]] == ["A man walks.", "Who?", "A cook.", "And then?"]


def test_timing_is_the_source_videos_own():
    _, kwargs = video_messages(clip(), "q")
    v = kwargs["video"]
    assert v["num_frames"] == 6 and v["frames_indices"] == list(INDICES) and v["total_num_frames"] == 400
    assert v["fps"] == 25.0 and v["duration"] == 16.0 and v["do_sample_frames"] is False


def test_a_plan_without_its_source_falls_back_to_the_kept_frames_at_their_rate():
    bare = FramePlan((0, 5, 10, 15), 64, 64, 2.0, frame_tokens(4, 64, 64))
    _, kwargs = video_messages(clip(4, 64, 64, bare), "q")
    v = kwargs["video"]
    assert v["frames_indices"] == [0, 1, 2, 3] and v["fps"] == 2.0 and v["total_num_frames"] == 4


def test_vllms_loader_reads_back_every_frame_and_its_processor_tells_the_times_the_page_shows():
    from vllm.model_executor.models.qwen3_vl import Qwen3VLProcessingInfo
    from vllm.multimodal.media.image import ImageMediaIO
    from vllm.multimodal.media.video import VideoMediaIO

    messages, kwargs = video_messages(clip(), "q")
    url = messages[0]["content"][0]["video_url"]["url"]
    media_type, data = url[len("data:"):].split(";base64,", 1)
    io = VideoMediaIO(ImageMediaIO(), **kwargs["video"])
    array, meta = io.load_base64(media_type, data).media
    assert array.shape == (6, 64, 96, 3)
    assert [round(float(array[i].mean()) / 40) for i in range(6)] == list(range(6))  # in order
    assert meta["fps"] == 25.0 and meta["frames_indices"] == list(INDICES) and meta["do_sample_frames"] is False
    # vLLM's own arithmetic for the "<t seconds>" labels (no self needed), against the per-frame captions
    pairs = Qwen3VLProcessingInfo._calculate_timestamps(None, list(meta["frames_indices"]), meta["fps"], 2)
    assert [round(t, 1) for t in pairs] == [10.2, 11.2, 12.2]
    assert [round(t, 1) for t in PLAN.times] == [10.2, 10.2, 11.2, 11.2, 12.2, 12.2]
