""""Show request": under an answer, the call that reproduces it, as an ``openai`` Python script and a ``curl``
command (demo/outputs/request_snippet.py renders them; images and video frames become placeholders that say what
they were).

The last answer's request is the one the client sent (``AnswerStats.request``). An earlier answer's is built again
from the conversation up to it and what its turn kept (``sent``: sampling settings and system prompt), through the
same functions (:func:`demo.inputs.conversation.to_openai`, :func:`demo.engines.client.request_kwargs`), so it is
the same request. No address or key of the server is shown (docs/SECURITY.md): the snippets read them from
``OPENAI_BASE_URL`` and ``OPENAI_API_KEY``.
"""

from __future__ import annotations

import gradio as gr

from ..engines.client import request_kwargs
from ..engines.params import GenerationParams
from ..errors import UserFacingError
from ..inputs.conversation import Turn, to_openai, turn_of_message
from ..outputs.request_snippet import curl_command, python_snippet
from .common import tell
from .texts import t, texts

PARAMS = ("temperature", "top_p", "top_k", "max_tokens", "presence_penalty")
TEXTS = texts({
    "request.show": ("Show request", "查看请求"),
    "request.note": (
        "The request of the last answer (click another answer to see its own). Set `OPENAI_BASE_URL` and "
        "`OPENAI_API_KEY` to your vLLM server's. Images and video frames are read from the files named in the "
        "script (`image-1.jpg`, `video-1-frame-001.jpg`, ...), each with a comment saying what was sent; in curl "
        "they are placeholders. A video answered by the worker is shown as the request the server gets for the "
        "same frames and prompt.",
        "最近一次回答的请求（点击其他回答可查看它自己的请求）。把 `OPENAI_BASE_URL` 和 `OPENAI_API_KEY` 设为你的 "
        "vLLM 服务的地址和密钥。图片和视频帧从脚本里列出的文件读取（`image-1.jpg`、`video-1-frame-001.jpg` 等），"
        "每个文件旁都有注释说明发送了什么；curl 命令里它们只是占位符。由视频工作进程回答的视频，显示的是同样的帧和"
        "提示词发给服务时的请求。"),
})


def sent_of(request: dict | None, system_prompt: str) -> dict | None:
    """What an answer's turn keeps of its request: the sampling settings as sent (clamped), and the system prompt."""
    if not request:
        return None
    params = {k: request[k] for k in PARAMS if k in request}
    extra = request.get("extra_body", {})
    params["top_k"] = extra.get("top_k", GenerationParams().top_k)
    if "enable_thinking" in extra.get("chat_template_kwargs", {}):  # chosen for this answer (Qwen3.5's switch)
        params["thinking"] = bool(extra["chat_template_kwargs"]["enable_thinking"])
    return {"params": params, "system": system_prompt}


def views(request: dict | None) -> tuple[str, str]:
    """The Python script and the curl command for a request (empty when there is none)."""
    if not request:
        return "", ""
    return python_snippet(request), curl_command(request)


def request_of_turn(model: str, history: list[Turn], index: int) -> dict | None:
    """The request that produced the answer ``history[index]`` (None for a user turn or an answer without
    ``sent``). Reads the conversation's images: call it off the event loop."""
    if index is None or not 0 <= index < len(history):
        return None
    turn = history[index]
    sent = turn.get("sent") if turn["role"] == "assistant" else None
    if not sent:
        return None
    params = GenerationParams(**{k: sent["params"][k] for k in (*PARAMS, "thinking") if k in sent["params"]})
    return request_kwargs(model, to_openai(history[:index], sent.get("system", "")), params)


def request_accordion(prefix: str) -> tuple[gr.Code, gr.Code]:
    """The collapsed "Show request" block under a tab's conversation."""
    with gr.Accordion(t("request.show"), open=False, elem_id=f"{prefix}-request"):
        gr.Markdown(t("request.note"))
        python = gr.Code(language="python", label="Python (openai)", interactive=False,
                         elem_id=f"{prefix}-request-python")
        curl = gr.Code(language="shell", label="curl", interactive=False, elem_id=f"{prefix}-request-curl")
    return python, curl


def wire_select(engines, chatbot, state, python, curl) -> None:
    """Clicking an answer shows its request."""
    async def show(history, evt: gr.SelectData):
        index = turn_of_message(history, evt.index)
        try:
            request = await engines.run_blocking(request_of_turn, engines.model_name, history, index)
            if request is None:
                return gr.update(), gr.update()
            return await engines.run_blocking(views, request)
        except UserFacingError as exc:  # an image of the conversation is gone (uploads are kept for hours)
            tell(exc)
            return gr.update(), gr.update()

    chatbot.select(show, [state], [python, curl], api_visibility="private")
