"""Issue 4's bad inputs without an engine: each file from tests/badfiles.py is read by content and either
prepared (images upright RGB, videos sampled in a child process) or refused with its sentence's code."""

from __future__ import annotations

import multiprocessing
import os

import numpy as np
import pytest

from demo.errors import MESSAGES, ImageError, VideoError
from demo.inputs import video_frames
from demo.inputs.conversation import check_image_count, clean_text, shown_as_text, to_chatbot, to_openai, user_turn
from demo.inputs.images import MAX_IMAGES, check_image, image_part, load_image
from tests import badfiles

BUDGET = video_frames.video_token_budget(8192, 1024)

IMAGE_ERRORS = {
    "truncated.jpg": "image_unreadable",
    "text.png": "image_unreadable",
    "page.png": "image_unreadable",
    "drawing.png": "image_unreadable",
    "bomb.png": "image_too_large",
    "over-limit.png": "image_too_large",
}
IMAGE_OK = ["one-pixel.png", "huge-12000x9000.jpg", "cmyk.jpg", "grey16.png", "rgb16.png", "palette.png",
            "palette-transparent.png", "rgba.png", "grey-alpha.png", "exif-rotated.jpg", "animated.gif",
            "picture.webp", badfiles.MARKUP_NAME]
VIDEO_ERRORS = {
    "empty.mp4": "video_empty",
    "random.mp4": "unreadable",
    "image.mp4": "video_is_image",
    "audio-only.mp4": "audio_only",
}
VIDEO_OK = ["one-frame.mp4", "vertical.mp4", "vp9.webm", "h264.mov", "mjpeg.avi", "h264.mkv", "vfr.mp4"]


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return badfiles.make_images(tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    return badfiles.make_videos(tmp_path_factory.mktemp("videos"))


def test_the_lists_cover_every_generated_file(images, videos):
    assert set(images) == set(IMAGE_ERRORS) | set(IMAGE_OK)
    assert set(videos) == set(VIDEO_ERRORS) | set(VIDEO_OK)


@pytest.mark.parametrize("name", sorted(IMAGE_ERRORS))
def test_bad_images_are_refused_with_their_sentence(images, name):
    with pytest.raises(ImageError) as info:
        check_image(str(images[name]))
    assert info.value.code == IMAGE_ERRORS[name]
    assert f"“{name}”" in str(info.value)  # the file's own name, as given


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("name", IMAGE_OK)
def test_awkward_images_are_prepared_as_rgb(images, name):
    path = str(images[name])
    check_image(path)
    img = load_image(path)
    assert img.mode == "RGB" and img.width >= 1 and img.height >= 1
    assert image_part(path)["image_url"]["url"].startswith("data:image/jpeg;base64,")


def test_exif_rotated_photo_is_upright(images):
    img = load_image(str(images["exif-rotated.jpg"]))
    assert img.size == (160, 320)  # stored landscape, shown portrait
    top, bottom = np.asarray(img)[20, 80], np.asarray(img)[300, 80]
    assert top[0] > 200 and top[2] < 60  # orientation 6: the red left half ends on top
    assert bottom[2] > 200 and bottom[0] < 60


def test_sixteen_bit_images_keep_their_range(images):
    for name in ("grey16.png", "rgb16.png"):
        arr = np.asarray(load_image(str(images[name])))
        assert arr.min() < 40 and arr.max() > 215, name  # not clipped to white, not crushed to black


def test_animated_gif_gives_its_first_frame(images):
    assert tuple(np.asarray(load_image(str(images["animated.gif"])))[60, 80]) == (255, 0, 0)


def test_transparency_goes_over_white(images):
    arr = np.asarray(load_image(str(images["rgba.png"])))
    assert tuple(arr[0, 0]) == (255, 255, 255)  # alpha 0 in the first column


@pytest.mark.parametrize("name", sorted(VIDEO_ERRORS))
def test_bad_videos_are_refused_with_their_sentence(videos, name):
    with pytest.raises(VideoError) as info:
        video_frames.read_clip(str(videos[name]), token_budget=BUDGET, timeout=60)
    assert info.value.code == VIDEO_ERRORS[name]
    assert str(info.value) == MESSAGES[VIDEO_ERRORS[name]]


@pytest.mark.parametrize("name", VIDEO_OK)
def test_every_container_is_sampled(videos, name):
    path = str(videos[name])
    frames, plan = video_frames.read_clip(path, token_budget=BUDGET, fps=2.0, max_frames=16, timeout=60)
    assert plan.nframes >= 2 and len(frames) == plan.nframes
    assert all(f.mode == "RGB" and f.size == (plan.width, plan.height) for f in frames)
    assert plan.visual_tokens <= BUDGET
    # the same frames as reading in this process
    here = video_frames.read_frames(path, plan)
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(frames, here))


def test_vertical_video_stays_vertical(videos):
    _, plan = video_frames.read_clip(str(videos["vertical.mp4"]), token_budget=BUDGET, timeout=60)
    assert plan.height > plan.width


def test_a_long_clip_is_reduced_to_fit(tmp_path):
    path = badfiles.long_clip(tmp_path / "ten-minutes.mp4")
    info = video_frames.probe(str(path))
    assert info.duration >= 600
    frames, plan = video_frames.read_clip(str(path), token_budget=BUDGET, fps=2.0, max_frames=256, timeout=120)
    assert plan.nframes == 256 < info.duration * 2  # far fewer than 2 per second of video
    assert plan.visual_tokens <= BUDGET and len(frames) == 256


def test_no_room_is_refused_before_reading(videos):
    with pytest.raises(VideoError) as info:
        video_frames.read_clip(str(videos["vertical.mp4"]), token_budget=8192 - 8100 - 256, timeout=60)
    assert info.value.code == "no_room"


def test_a_reader_that_hangs_is_stopped(tmp_path):
    fifo = tmp_path / "never-written.mp4"
    os.mkfifo(fifo)  # opening it blocks until someone writes: a decoder that never returns
    with pytest.raises(VideoError) as info:
        video_frames.read_clip(str(fifo), token_budget=BUDGET, timeout=2)
    assert info.value.code == "too_slow"
    assert not [p for p in multiprocessing.active_children() if p.name == "video-reader"]  # killed and joined
    # and the next clip is read
    path = badfiles.write_video(tmp_path / "next.mp4")
    frames, _ = video_frames.read_clip(str(path), token_budget=BUDGET, timeout=60)
    assert frames


# --- text -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw,clean", [
    ("hello\x00 world", "hello world"),
    ("\x1b[31mred\x1b[0m text", "red text"),
    ("\x1b]0;title\x07after", "after"),
    ("bell\x07 and \x08back", "bell and back"),
    ("lone \ud800 surrogate", "lone \ufffd surrogate"),
    ("tabs\tand\nlines\r\nkept", "tabs\tand\nlines\nkept"),
    ("中文 and émoji 🙂", "中文 and émoji 🙂"),
    (None, ""),
])
def test_clean_text(raw, clean):
    assert clean_text(raw) == clean
    clean_text(raw).encode("utf-8")  # always encodable


def test_only_control_characters_is_an_empty_message():
    assert clean_text("\x00\x1b[2J\x07 ").strip() == ""


def test_to_openai_cleans_every_text():
    messages = to_openai([user_turn("a\x00b\ud800")], "sys\x1b[1m")
    assert messages == [{"role": "system", "content": "sys"}, {"role": "user", "content": "ab\ufffd"}]


def test_user_markup_is_escaped_for_the_chat_box():
    text = "<img src=x onerror=alert(1)><b>bold</b> & `code` ~~~"
    shown = to_chatbot([user_turn(text), {"role": "assistant", "content": "**answer**"}])
    assert shown[0]["content"] == shown_as_text(text)
    assert "<" not in shown[0]["content"].replace("\\<", "")  # every < is escaped
    assert shown[1]["content"] == "**answer**"  # the model's Markdown is left alone


def test_too_many_images(tmp_path):
    history = [user_turn("q", [f"/x/{i}.png" for i in range(MAX_IMAGES)])]
    check_image_count(history)  # exactly the limit is fine
    with pytest.raises(ImageError) as info:
        check_image_count(history, adding=1)
    assert info.value.code == "too_many_images"
    assert str(MAX_IMAGES) in str(info.value)
    with pytest.raises(ImageError):
        to_openai(history + [user_turn("more", ["/x/extra.png"])])  # refused before any file is read


def test_api_sampling_values_are_held_to_the_sliders_ranges():
    from demo.ui.video_run import sampling_from

    wild = sampling_from(1e9, 10**9, "8k", 0, 0)
    assert (wild.fps, wild.max_frames, wild.max_pixels) == (8.0, 256, 640 * 360)
    low = sampling_from(-3, -7, "240p", 0, 0)
    assert (low.fps, low.max_frames) == (0.25, 2)
