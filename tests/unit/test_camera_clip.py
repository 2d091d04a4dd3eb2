"""demo/inputs/camera_clip.py, the Live tab's rolling window: frames kept at the interval, forgotten by age and by
count, downscaled on arrival, and the clip a question sends with the real times the frames were taken."""

from __future__ import annotations

import pytest
from PIL import Image

from demo.engines.video_via_server import video_messages
from demo.errors import VideoError
from demo.inputs.camera_clip import MAX_FRAMES, STORED_PIXELS, TICKS_PER_SECOND, LiveWindow, clip_indices, take
from demo.inputs.video_frames import frame_tokens

START = 1000.0  # a monotonic clock reading when the stream began


def frame(shade: int = 128, size=(640, 480)) -> Image.Image:
    return Image.new("RGB", size, (shade, 255 - shade, 64))


def fed(times, interval=1.0, span=30.0, window=None, size=(640, 480)) -> LiveWindow:
    """The window after the camera sent a frame at each of ``times`` (seconds after START)."""
    for i, t in enumerate(times):
        window = take(window, frame(i * 7 % 256, size), START + t, interval, span)
    assert window is not None
    return window


def test_a_frame_is_kept_once_per_interval_with_its_time_since_the_stream_began():
    window = fed([0.0, 1.02, 1.98, 3.01, 4.03, 5.0], interval=2.0)
    assert [f.t for f in window.frames] == pytest.approx([0.0, 1.98, 4.03])
    assert window.started == START


def test_frames_older_than_the_window_are_forgotten():
    window = fed([i * 1.0 for i in range(13)], interval=1.0, span=4.0)
    assert [f.t for f in window.frames] == pytest.approx([8.0, 9.0, 10.0, 11.0, 12.0])
    # and a question later sees only what is still within the window then (the camera stopped at 12 s)
    assert [f.t for f in window.recent(START + 14.5, 4.0)] == pytest.approx([11.0, 12.0])
    assert window.recent(START + 30.0, 4.0) == ()


def test_at_most_max_frames_are_kept_the_newest():
    window = fed([i * 1.0 for i in range(MAX_FRAMES + 9)], interval=1.0, span=30.0)
    assert len(window.frames) == MAX_FRAMES
    assert window.frames[-1].t == pytest.approx(MAX_FRAMES + 8)


def test_frames_are_downscaled_on_arrival_to_small_jpegs():
    window = fed([0.0], size=(1920, 1080))
    f = window.frames[0]
    assert f.width * f.height <= STORED_PIXELS and f.width % 32 == 0 and f.height % 32 == 0
    assert f.jpeg[:2] == b"\xff\xd8" and len(f.jpeg) < 100_000
    assert f.image().size == (f.width, f.height)


def test_a_frame_that_is_not_due_leaves_the_window_as_it_was():
    window = fed([0.0, 1.0], interval=2.0)
    assert take(window, frame(), START + 1.2, 2.0, 10.0) is window
    assert take(window, None, START + 5.0, 2.0, 10.0) is window


def test_the_clip_tells_the_model_the_real_times_since_the_windows_first_frame():
    # frames taken at irregular times; the question 1.5 s after the last one
    window = fed([0.0, 2.1, 3.9, 6.4, 8.0], interval=1.0, span=30.0)
    shown = window.clip(START + 9.5, span=30.0, budget=6000)
    plan = shown.clip.plan
    assert plan.indices == (0, 21, 39, 64, 80)
    assert plan.source_fps == TICKS_PER_SECOND
    # the server gets those indices and fps, so vLLM labels each pair with its mean real time
    messages, kwargs = video_messages(shown.clip, "What happens?")
    video = kwargs["video"]
    assert video["frames_indices"] == [0, 21, 39, 64, 80] and video["fps"] == 10.0
    assert video["num_frames"] == 5 and video["total_num_frames"] >= 81 and video["do_sample_frames"] is False
    assert messages[0]["content"][0]["video_url"]["url"].count(",") == 5  # "data:...;base64," and one per frame
    assert shown.told == pytest.approx([1.05, 1.05, 5.15, 5.15, 8.0])  # pair means; the odd last frame alone
    assert shown.ages == pytest.approx([9.5, 7.4, 5.6, 3.1, 1.5])
    assert shown.captions[0] == "1.1 s · −9.5 s" and shown.captions[-1] == "8.0 s · −1.5 s"


def test_the_clip_takes_only_the_last_span_seconds():
    window = fed([float(i) for i in range(10)], interval=1.0, span=30.0)
    shown = window.clip(START + 9.5, span=4.0, budget=6000)
    assert shown.clip.plan.nframes == 4 and shown.clip.plan.indices == (0, 10, 20, 30)
    assert shown.ages == pytest.approx([3.5, 2.5, 1.5, 0.5])


def test_the_clip_fits_the_token_budget_smaller_frames_first_then_fewer():
    window = fed([float(i) for i in range(8)], interval=1.0, span=30.0)
    full = window.clip(START + 8, span=30.0, budget=100_000).clip.plan
    assert (full.width, full.height) == (window.frames[0].width, window.frames[0].height)
    small = window.clip(START + 8, span=30.0, budget=400).clip.plan
    assert small.nframes == 8 and small.width < full.width
    assert frame_tokens(small.nframes, small.width, small.height) == small.visual_tokens <= 400
    few = window.clip(START + 8, span=30.0, budget=40).clip
    assert 1 <= few.plan.nframes < 8 and few.plan.visual_tokens <= 40
    assert few.images()[0].size == (few.plan.width, few.plan.height)  # re-encoded at the smaller size
    with pytest.raises(VideoError) as exc:
        window.clip(START + 8, span=30.0, budget=10)
    assert exc.value.code == "no_room"


def test_an_empty_window_is_a_sentence():
    with pytest.raises(VideoError) as exc:
        LiveWindow(started=START).clip(START + 3, span=10.0, budget=6000)
    assert exc.value.code == "live_empty" and "10 s" in str(exc.value)


def test_indices_stay_increasing_for_frames_within_a_tick():
    assert clip_indices([5.0, 5.02, 5.04, 7.0]) == [0, 1, 2, 20]
