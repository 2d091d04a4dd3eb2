"""Video through the server: the app's frames as a ``video/jpeg`` data URL, read back by vLLM's own loader."""

from __future__ import annotations

import numpy as np
from PIL import Image

from demo.engines.video_via_server import video_messages


def frames(n=6, w=96, h=64):
    return [Image.fromarray(np.full((h, w, 3), 40 * i, np.uint8)) for i in range(n)]


def test_message_has_the_video_then_the_question():
    messages, _ = video_messages(frames(), 2.0, "What happens?")
    (msg,) = messages
    assert msg["role"] == "user"
    video, text = msg["content"]
    assert video["type"] == "video_url" and video["video_url"]["url"].startswith("data:video/jpeg;base64,")
    assert text == {"type": "text", "text": "What happens?"}


def test_timing_is_the_sampled_frames_own():
    _, kwargs = video_messages(frames(6), 2.0, "q")
    v = kwargs["video"]
    assert v["num_frames"] == 6 and v["frames_indices"] == list(range(6)) and v["total_num_frames"] == 6
    assert v["fps"] == 2.0 and v["duration"] == 3.0 and v["do_sample_frames"] is False


def test_vllms_loader_reads_back_every_frame_at_its_size_and_the_timing():
    from vllm.multimodal.media.image import ImageMediaIO
    from vllm.multimodal.media.video import VideoMediaIO

    messages, kwargs = video_messages(frames(6, 96, 64), 2.0, "q")
    url = messages[0]["content"][0]["video_url"]["url"]
    media_type, data = url[len("data:"):].split(";base64,", 1)
    io = VideoMediaIO(ImageMediaIO(), **kwargs["video"])
    array, meta = io.load_base64(media_type, data).media
    assert array.shape == (6, 64, 96, 3)
    assert [round(float(array[i].mean()) / 40) for i in range(6)] == list(range(6))  # in order
    assert meta["fps"] == 2.0 and meta["frames_indices"] == list(range(6)) and meta["total_num_frames"] == 6
    assert meta["do_sample_frames"] is False
