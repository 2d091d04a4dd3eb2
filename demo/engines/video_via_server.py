"""Video through the OpenAI-compatible server (``--video-via server``, one small GPU, or ``--api-base``).

The app has already decoded and sized the kept frames (:mod:`demo.inputs.video_frames`), so it sends exactly those
frames, not the file: vLLM 0.32 reads a ``data:video/jpeg;base64,<frame>,<frame>,...`` URL as a list of
JPEG frames (``VideoMediaIO.load_base64``) and takes their timing from the request's ``media_io_kwargs``.
The frames, their size and hence the visual tokens are the same as the worker's, and the server never
decodes a user's file nor resamples it (``do_sample_frames`` is off).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..inputs.video_clip import VideoClip


def video_messages(clip: VideoClip, question: str, history: Sequence[tuple[str, str]] = ()
                   ) -> tuple[list[dict], dict]:
    """The chat ``messages`` and the request's ``media_io_kwargs`` for a question about ``clip``.

    ``history`` holds the earlier (question, answer) turns about the same clip: the video goes with the first
    question, as it did when that was asked, so a follow-up's prompt begins as the first turn's did.
    The timing is the source video's (frame indices and fps): vLLM's Qwen3-VL processor then labels each
    pair of frames with its time in the video (``_get_video_second_idx``), a start offset included.
    """
    questions = [q for q, _ in history] + [question]
    video = {"type": "video_url", "video_url": {"url": clip.data_url()}}
    messages = [{"role": "user", "content": [video, {"type": "text", "text": questions[0]}]}]
    for (_, answer), q in zip(history, questions[1:]):
        messages += [{"role": "assistant", "content": answer}, {"role": "user", "content": q}]
    indices, fps, total = clip.plan.timing
    media_io_kwargs = {"video": {
        "num_frames": len(indices), "fps": float(fps), "frames_indices": indices, "total_num_frames": total,
        "duration": total / fps if fps > 0 else 0.0, "do_sample_frames": False,
    }}
    return messages, media_io_kwargs
