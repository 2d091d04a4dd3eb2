"""demo/ui/video_run.py: the Video tab's conversation as safe HTML with time chips, and the frames' captions."""

from __future__ import annotations

import re

from PIL import Image

from demo.inputs.video_frames import FramePlan, frame_tokens
from demo.ui.video_run import conversation_html, gallery_items

CHIP = re.compile(r'<button type="button" class="seek-chip" data-seek="([\d.]+)" data-frame="(\d+)">')


def test_turns_are_escaped_and_the_answers_times_are_chips_pointing_at_the_nearest_frame():
    out = conversation_html([("<i>when</i>?", "It opens at 00:03 and <script>x</script> closes at 4.5 seconds")],
                            frame_times=[0.5, 0.5, 2.5, 2.5, 4.5, 4.5], duration=6.0)
    assert "<i>" not in out and "&lt;i&gt;when&lt;/i&gt;?" in out and "<script>" not in out
    assert CHIP.findall(out) == [("3", "2"), ("4.5", "4")]


def test_an_answer_still_coming_and_one_without_text_are_told_apart():
    out = conversation_html([("first", "  ")], asking="second", partial="")
    assert out.count("video-turn bot") == 2
    assert "(an answer without text)" in out and out.endswith("…</span></div></div>")


def test_no_turns_no_conversation():
    assert conversation_html([]) == ""


def test_each_frame_is_captioned_with_the_time_of_its_pair_in_the_source_video():
    plan = FramePlan((250, 262, 275, 287), 64, 64, 2.0, frame_tokens(4, 64, 64), source_fps=25.0, source_frames=400)
    frames = [Image.new("RGB", (64, 64))] * 4
    assert [caption for _, caption in gallery_items(frames, plan)] == ["10.2 s", "10.2 s", "11.2 s", "11.2 s"]
