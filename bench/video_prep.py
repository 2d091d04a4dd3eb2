"""Figure 3: video preparation. The app's path from an uploaded file to the engine's inputs against
``qwen_vl_utils.process_vision_info`` reading the file with its default reader (decord), keeping the same
frames at the same size. Each trial runs in a fresh process (``python -m bench.video_prep ...``) so that its
peak resident memory is its own.

The app's path is what ``Engines.answer_video`` and the worker do: ``video_frames.probe`` + ``plan_frames`` +
``read_frames`` (OpenCV, in order, converting only kept frames), the kept clip (``VideoClip``: the frames as
JPEG, which a conversation keeps for its follow-ups) and its decoded array (what is sent to the worker), then in
the worker ``Image.fromarray`` per frame and ``process_vision_info`` on that frame list.
"""

from __future__ import annotations

import json
import sys
import time

from .common import PY, Summary, run_json

QUESTION = "Describe this video."
PATCH = 16  # Qwen3-VL's image_processor.patch_size (the worker passes it as image_patch_size)


def app_plan(path: str, max_model_len: int = 8192, video_max_tokens: int = 1024):
    """The frames and size the app keeps for this clip at the page's defaults (fps 2, 64 frames, 360p)."""
    from demo.engines.params import VideoSampling
    from demo.inputs import video_frames as vf

    s = VideoSampling()
    info = vf.probe(path)
    return info, vf.plan_frames(info, token_budget=vf.video_token_budget(max_model_len, video_max_tokens),
                                fps=s.fps, max_frames=s.max_frames, max_pixels=s.max_pixels, start=s.start,
                                end=s.end)


def _rss() -> tuple[float, float]:
    """(current, peak) resident memory of this process in GiB, from /proc/self/status."""
    cur = peak = 0.0
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                cur = int(line.split()[1]) / 2**20
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 2**20
    return cur, peak


def child(method: str, path: str) -> dict:
    """One trial in this (fresh) process. Both methods import the same modules before the clock starts."""
    import cv2  # noqa: F401
    from PIL import Image
    from qwen_vl_utils import process_vision_info

    from demo.engines.video_process import build_messages
    from demo.inputs import video_frames as vf
    from demo.inputs.video_clip import VideoClip

    _, plan = app_plan(path)  # cheap (reads the header): both methods keep exactly these frames
    base_rss, _ = _rss()
    t0 = time.perf_counter()
    if method == "app":
        vf.probe(path)  # what the app's reader does first (read_clip's child: probe, plan, read)
        frames = vf.read_frames(path, plan)
        array = VideoClip.from_frames(frames, plan).array()  # Engines.answer_video -> the worker's queue
        del frames
        t1 = time.perf_counter()
        # --- in the worker (demo/engines/video_process.py) ---
        pil = [Image.fromarray(f) for f in array]
        messages = build_messages(pil, plan.sample_fps, QUESTION, plan.width, plan.height)
        _, videos, kwargs = process_vision_info(messages, image_patch_size=PATCH, return_video_kwargs=True,
                                                return_video_metadata=True)
    else:
        t1 = None
        messages = [{"role": "user", "content": [
            {"type": "video", "video": path, "nframes": plan.nframes, "resized_height": plan.height,
             "resized_width": plan.width},
            {"type": "text", "text": QUESTION}]}]
        _, videos, kwargs = process_vision_info(messages, image_patch_size=PATCH, return_video_kwargs=True,
                                                return_video_metadata=True)
    t2 = time.perf_counter()
    video, meta = videos[0]
    _, peak = _rss()
    return {"method": method, "seconds": t2 - t0, "read_s": (t1 - t0) if t1 else None,
            "vision_s": (t2 - t1) if t1 else None, "peak_gib": peak, "base_gib": base_rss,
            "shape": list(video.shape), "nframes": plan.nframes, "width": plan.width, "height": plan.height,
            "indices_match": list(plan.indices) == [int(i) for i in meta.get("frames_indices", [])]
            if method == "reference" else None}


def run(clips: list[tuple[str, str]], trials: int, log=print) -> dict:
    """``clips``: (label, path). Trials alternate reference and app, each in a fresh process."""
    rows = []
    for label, path in clips:
        info, plan = app_plan(path)
        for t in range(trials):
            order = ("reference", "app") if t % 2 == 0 else ("app", "reference")
            for method in order:
                r = run_json([PY, "-m", "bench.video_prep", method, path], timeout=900)
                r.update(clip=label, trial=t, duration_s=info.duration, src=f"{info.width}x{info.height}",
                         fps=info.fps)
                rows.append(r)
                log(f"  video {label} {method:9} {r['seconds']:.2f} s, peak {r['peak_gib']:.2f} GiB "
                    f"({r['nframes']} frames {r['width']}x{r['height']})")
    return {"rows": rows}


def summarise(result: dict) -> dict:
    out = {}
    for label in dict.fromkeys(r["clip"] for r in result["rows"]):
        rs = [r for r in result["rows"] if r["clip"] == label]
        app = [r for r in rs if r["method"] == "app"]
        ref = [r for r in rs if r["method"] == "reference"]
        out[label] = {
            "app_s": Summary.of(r["seconds"] for r in app), "ref_s": Summary.of(r["seconds"] for r in ref),
            "app_read_s": Summary.of(r["read_s"] for r in app),
            "app_vision_s": Summary.of(r["vision_s"] for r in app),
            "app_peak": Summary.of(r["peak_gib"] for r in app), "ref_peak": Summary.of(r["peak_gib"] for r in ref),
            "base": Summary.of(r["base_gib"] for r in rs),
            "frames": app[0]["nframes"] if app else None,
            "size": f"{app[0]['width']}x{app[0]['height']}" if app else "",
            "src": rs[0]["src"], "duration_s": rs[0]["duration_s"],
            "same_shape": all(r["shape"] == rs[0]["shape"] for r in rs),
            "same_indices": all(r["indices_match"] for r in ref),
        }
        s = out[label]
        s["speedup"] = s["ref_s"].median / s["app_s"].median if s["app_s"].median else float("nan")
        s["app_inc"] = Summary.of(r["peak_gib"] - r["base_gib"] for r in app)
        s["ref_inc"] = Summary.of(r["peak_gib"] - r["base_gib"] for r in ref)
        # The goal's ratio: memory the path itself takes, above the imports both processes share (torch,
        # OpenCV, qwen-vl-utils: 0.43 GiB). The app reads in a child without torch (video_frames.read_clip),
        # and the worker that runs the vision step holds vLLM anyway; the whole-process ratio is shown too.
        s["memory_ratio"] = s["app_inc"].median / s["ref_inc"].median if s["ref_inc"].median else float("nan")
        s["memory_ratio_process"] = (s["app_peak"].median / s["ref_peak"].median if s["ref_peak"].median
                                     else float("nan"))
    return out


if __name__ == "__main__":
    print(json.dumps(child(sys.argv[1], sys.argv[2])))
