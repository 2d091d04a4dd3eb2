"""The GPU check of issue 28: the device plan for a Qwen3.5 size against what vLLM logs, and the family's
differences on the CUDA path (thinking on and off per question, prefix-cache counts), through the app's own
launcher. Usage (from the project's root, on the GPU machine):
python3 bench/gpu_qwen35/check.py CKPT OUTDIR [app.py flags].

1. ``python -m demo.plan --model CKPT``: the plan and its estimates (weights, KV cache, tokens) on this card.
2. ``app.py --model CKPT``: the app co-launches its server and its video worker as planned; their logs give
   vLLM's own figures ("Model loading took", "Available KV cache memory", "GPU KV cache size").
3. Six answers straight from the app's server (OpenAI SDK, its key): thinking on and off, and the same image
   question three times (prompt_tokens_details.cached_tokens).
4. SIGTERM to the app; no GPU process may be left.
Writes OUTDIR/qwen35-check.json and prints it."""
import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CACHE = Path.home() / ".cache" / "qwen3-vl-demo"


def gpu_pids() -> list[str]:
    out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid", "--format=csv,noheader"], capture_output=True,
                         text=True).stdout
    return out.split()


def healthy(port: int) -> bool:
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).status == 200
    except Exception:
        return False


def vllm_figures(text: str) -> dict:
    """The memory figures vLLM writes to its log (the last of each)."""
    pats = {"weights_gib": r"Model loading took ([\d.]+) GiB",
            "kv_available_gib": r"Available KV cache memory: ([\d.]+) GiB",
            "kv_reserved_gib": r"reserved ([\d.]+) GiB memory for KV Cache",
            "kv_tokens": r"KV cache size: ([\d,]+) tokens",
            "max_concurrency": r"Maximum concurrency for [\d,]+ tokens per request: ([\d.]+)x"}
    out = {}
    for key, pat in pats.items():
        found = re.findall(pat, text)
        if found:
            out[key] = float(found[-1].replace(",", ""))
    return out


def ask(client, image_url: str | None, thinking: bool | None, text: str) -> dict:
    try:
        return _ask(client, image_url, thinking, text)
    except Exception as exc:  # one answer's failure is a result too; the others still run
        return {"thinking": thinking, "error": f"{type(exc).__name__}: {exc}"[:300]}


def _ask(client, image_url: str | None, thinking: bool | None, text: str) -> dict:
    content = [{"type": "text", "text": text}]
    if image_url:
        content.insert(0, {"type": "image_url", "image_url": {"url": image_url}})
    extra = {"top_k": 20}
    if thinking is not None:
        extra["chat_template_kwargs"] = {"enable_thinking": thinking}
    t0 = time.perf_counter()
    first = None
    reasoning = answer = 0
    usage = None
    stream = client.chat.completions.create(model="Qwen3-VL-4B-Instruct",
                                            messages=[{"role": "user", "content": content}],
                                            max_tokens=256, stream=True, extra_body=extra,
                                            stream_options={"include_usage": True})
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            d = choice.delta
            if getattr(d, "reasoning", None) or getattr(d, "reasoning_content", None):
                reasoning += 1
                first = first or time.perf_counter() - t0
            if d.content:
                answer += 1
                first = first or time.perf_counter() - t0
    total = time.perf_counter() - t0
    details = getattr(usage, "prompt_tokens_details", None)
    return {"thinking": thinking, "reasoning_deltas": reasoning, "answer_deltas": answer,
            "prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
            "cached_tokens": getattr(details, "cached_tokens", None), "first_s": round(first or 0, 3),
            "tokens_per_s": round(usage.completion_tokens / total, 1)}


def main(ckpt: str, outdir: str, app_flags: list[str]) -> None:
    out = Path(outdir)
    res: dict = {"card": subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,memory.free",
                                         "--format=csv,noheader"], capture_output=True, text=True).stdout.strip()}
    plan = subprocess.run([sys.executable, "-m", "demo.plan", "--model", ckpt], capture_output=True, text=True)
    res["plan"] = plan.stdout + plan.stderr
    print(res["plan"], flush=True)
    logs = CACHE / "logs"
    for f in logs.glob("*.log"):
        f.unlink()
    app_log = open(out / "app.log", "w")
    t0 = time.time()
    app = subprocess.Popen([sys.executable, "app.py", "--model", ckpt, "--app-port", "7860", *app_flags],
                           stdout=app_log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while not healthy(8085) and app.poll() is None and time.time() - t0 < 360:
            time.sleep(2)
        res["server_ready_s"] = round(time.time() - t0, 1) if healthy(8085) else None
        import openai
        key = (CACHE / "server-api-key").read_text().strip()
        client = openai.OpenAI(base_url="http://127.0.0.1:8085/v1", api_key=key)
        image = "data:image/jpeg;base64," + base64.b64encode(Path("assets/coffee.jpg").read_bytes()).decode()
        res["answers"] = []
        if res["server_ready_s"]:
            for thinking in (None, False, True):
                res["answers"].append(ask(client, None, thinking, "Say something about coffee."))
            for _ in range(3):
                res["answers"].append(ask(client, image, False, "Describe this image."))
        # the worker starts after the server on a shared card: give it until 300 s after the server
        deadline = time.time() + 300
        while time.time() < deadline and not any("KV cache" in f.read_text(errors="replace")
                                                  for f in logs.glob("*worker*.log")):
            time.sleep(3)
        time.sleep(5)
    finally:
        res["figures"] = {f.name: vllm_figures(f.read_text(errors="replace")) for f in logs.glob("*.log")}
        os.killpg(app.pid, signal.SIGTERM)
        try:
            res["app_exit"] = app.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(app.pid, signal.SIGKILL)
            res["app_exit"] = "killed after 60 s"
        time.sleep(5)
        res["gpu_processes_left"] = gpu_pids()
        for f in logs.glob("*.log"):
            (out / f.name).write_text(f.read_text(errors="replace")[-1_500_000:])
        (out / "qwen35-check.json").write_text(json.dumps(res, indent=2))
        print(json.dumps({k: v for k, v in res.items() if k != "plan"}, indent=2), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
