"""Figure 4: image preparation. A 12 MP photo from upload to the server's inputs: the app's path
(``check_image`` + ``image_part``: decode, upright, downscale to the model's budget, JPEG, data URL) against
sending the original file as a data URL. Both go to the same server; ``usage.prompt_tokens`` says whether the
model got the same visual tokens. The original is also sent with the server told the same pixel budget
(``mm_processor_kwargs.max_pixels``), which is what "the same visual tokens" asks of the comparison.
"""

from __future__ import annotations

import base64
import time

from .common import Summary

QUESTION = "Describe this image."


def _ask(client, model: str, url: str, mm_kwargs: dict | None = None) -> tuple[float, int | None, str | None]:
    """One request with the image (max_tokens 1: the cost is the image's): (seconds, prompt tokens, error)."""
    import openai

    content = [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": QUESTION}]
    extra = {"mm_processor_kwargs": mm_kwargs} if mm_kwargs else None
    t0 = time.perf_counter()
    try:
        r = client.chat.completions.create(model=model, messages=[{"role": "user", "content": content}],
                                           max_tokens=1, temperature=0, extra_body=extra)
    except openai.APIStatusError as exc:
        return time.perf_counter() - t0, None, str(getattr(exc, "message", exc))[:300]
    return time.perf_counter() - t0, r.usage.prompt_tokens, None


def app_prepare(path: str) -> tuple[str, float]:
    """The app's path for an uploaded file (demo/ui/api.py describe_image -> demo/inputs/conversation.py)."""
    from demo.inputs.images import check_image, image_part

    t0 = time.perf_counter()
    check_image(path)
    url = image_part(path)["image_url"]["url"]
    return url, time.perf_counter() - t0


def original_prepare(path: str) -> tuple[str, float]:
    t0 = time.perf_counter()
    with open(path, "rb") as fh:
        url = "data:image/jpeg;base64," + base64.b64encode(fh.read()).decode("ascii")
    return url, time.perf_counter() - t0


def run(base_url: str, api_key: str, model: str, photo: str, trials: int, log=print) -> dict:
    import openai
    from PIL import Image

    from demo.inputs.images import IMAGE_MAX_PIXELS

    client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=300)
    budget = {"max_pixels": IMAGE_MAX_PIXELS}
    with Image.open(photo) as im:
        size = im.size
    file_bytes = len(open(photo, "rb").read())
    rows = []
    try:
        text_only = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": [{"type": "text", "text": QUESTION}]}],
            max_tokens=1, temperature=0).usage.prompt_tokens
        # warm-up (first image request pays for the processor's first run)
        _ask(client, model, app_prepare(photo)[0])
        for t in range(trials):
            for path in (("app", "original") if t % 2 == 0 else ("original", "app")):
                prepare = {"app": app_prepare, "original": original_prepare}[path]
                url, prep = prepare(photo)
                req, tokens, err = _ask(client, model, url, None if path == "app" else budget)
                rows.append({"path": path, "bytes": len(url), "prep_s": prep, "request_s": req,
                             "total_s": prep + req, "prompt_tokens": tokens, "error": err, "trial": t})
            log(f"  image trial {t + 1}/{trials}: " + ", ".join(
                f"{r['path']} {r['bytes'] / 1e6:.2f} MB {r['total_s']:.2f} s {r['prompt_tokens']} tokens"
                for r in rows[-2:]))
        # the original with the server's own default budget (the real model's processor: 16.7 MP)
        url, _ = original_prepare(photo)
        req, tokens, err = _ask(client, model, url)
        unbounded = {"request_s": req, "prompt_tokens": tokens, "error": err}
    finally:
        client.close()
    return {"photo": photo, "size": list(size), "file_bytes": file_bytes, "text_prompt_tokens": text_only,
            "max_pixels": IMAGE_MAX_PIXELS, "rows": rows, "original_unbounded": unbounded}


def summarise(result: dict) -> dict:
    out = {}
    for path in ("app", "original"):
        rs = [r for r in result["rows"] if r["path"] == path]
        out[path] = {k: Summary.of(r[k] for r in rs) for k in ("bytes", "prep_s", "request_s", "total_s")}
        toks = sorted({r["prompt_tokens"] for r in rs if r["prompt_tokens"] is not None})
        out[path]["prompt_tokens"] = toks
        out[path]["errors"] = [r["error"] for r in rs if r["error"]][:2]
    a, o = out["app"], out["original"]
    out["bytes_ratio"] = o["bytes"].median / a["bytes"].median if a["bytes"].median else float("nan")
    out["same_tokens"] = bool(a["prompt_tokens"]) and a["prompt_tokens"] == o["prompt_tokens"]
    return out
