"""Give vLLM 0.26 the per-request ``stream_interval`` of vLLM 0.32, for GPU runs from here only.

The project pins vLLM 0.32, whose chat API takes ``stream_interval`` (tokens per streamed chunk) per request; the
app asks for more tokens per chunk as its loop gets busy (demo/engines/pacing.py). The GPU machine can only run
vLLM 0.26 (``../shared/GPU_TESTBED.md``: the newest CUDA build for its torch), which has the server-wide
``--stream-interval`` but not the per-request field, so there the app found no field and took one chunk per token:
a GPU run measured a cost the product does not have. This rewrites the two places of an installed 0.26 that 0.32
changed (the request's field, read into the sampling parameters' ``extra_args``; the output processor's interval,
raised to the request's as 0.32 does: ``max(request, server)``), so that the app's own detection
(``server.accepts_stream_interval``) and requests work there as they do on 0.32. Never used by the app.

    python -m bench.backport_stream_interval /root/site    # the folder holding the vllm package
"""

from __future__ import annotations

import sys
from pathlib import Path

MARK = "# backported: per-request stream_interval (vLLM 0.32)"

PROTOCOL = "vllm/entrypoints/openai/chat_completion/protocol.py"
PROCESSOR = "vllm/v1/engine/output_processor.py"

EDITS = {
    PROTOCOL: [
        (  # the field, after the last of vLLM's extra parameters (so the OpenAPI schema names it, as 0.32's does)
            "    # --8<-- [end:chat-completion-extra-params]\n",
            f"    stream_interval: int | None = Field(default=None, ge=1)  {MARK}\n\n"
            "    # --8<-- [end:chat-completion-extra-params]\n",
        ),
        (
            "        if self.kv_transfer_params:\n"
            "            # Pass in kv_transfer_params via extra_args\n",
            f"        if self.stream_interval is not None:  {MARK}\n"
            "            extra_args[\"stream_interval\"] = self.stream_interval\n"
            "        if self.kv_transfer_params:\n"
            "            # Pass in kv_transfer_params via extra_args\n",
        ),
    ],
    PROCESSOR: [
        (
            "            output_kind = sampling_params.output_kind\n"
            "            logprobs_processor = LogprobsProcessor.from_new_request(\n",
            "            output_kind = sampling_params.output_kind\n"
            f"            asked = (sampling_params.extra_args or {{}}).get(\"stream_interval\")  {MARK}\n"
            "            if asked:\n"
            "                stream_interval = max(int(asked), stream_interval)\n"
            "            logprobs_processor = LogprobsProcessor.from_new_request(\n",
        ),
    ],
}


def backport(site: Path) -> list[str]:
    """Edit the vllm package under ``site`` in place; what was done, a line per file. Raises if an anchor is not
    found exactly once (another vLLM than 0.26.0: nothing is half-edited, files are written only at the end)."""
    new: dict[Path, str] = {}
    for rel, edits in EDITS.items():
        path = site / rel
        text = path.read_text()
        if MARK in text:
            continue
        for old, replacement in edits:
            if text.count(old) != 1:
                raise SystemExit(f"{rel}: the text to edit was found {text.count(old)} times, not once: not vLLM 0.26?")
            text = text.replace(old, replacement)
        compile(text, str(path), "exec")
        new[path] = text
    for path, text in new.items():
        path.write_text(text)
    return [f"edited {path}" for path in new] or ["already edited"]


if __name__ == "__main__":
    for line in backport(Path(sys.argv[1])):
        print(line)
