"""Thinking models: which vLLM reasoning parser the server gets, and the split of a worker's text at '</think>'.

A Qwen3-VL-*-Thinking checkpoint's chat template opens ``<think>`` in the generation prompt, so its output is
reasoning up to ``</think>`` and the answer after it. The co-launched server separates the two with vLLM's
``--reasoning-parser`` (``delta.reasoning`` apart from ``delta.content``); the offline video worker has no parser
and splits its text with :class:`ThinkSplitter`.
"""

from __future__ import annotations

import json
from pathlib import Path

# vLLM's parser for Qwen3 thinking models. Why qwen3 and not deepseek_r1: vLLM's "Reasoning Outputs" page maps the
# Qwen3 series to `qwen3` (docs.vllm.ai/en/stable/features/reasoning_outputs), and in vLLM 0.32 that parser
# starts in the REASONING state unless `enable_thinking` is false (vllm/parser/qwen3.py, qwen3_config), which is
# what a template that already put `<think>` in the prompt needs; it also ends reasoning at a `<tool_call>` and
# drops a repeated `</think>`. The advice to use deepseek_r1 for Qwen3-VL Thinking (vllm-project/vllm#26239,
# vLLM 0.11) dates from the older qwen3 parser, which wanted `<think>` in the output (vllm-project/vllm#22507).
QWEN3_PARSER = "qwen3"
THINK_END = "</think>"


def is_thinking_model(model: str, model_path: str | Path | None = None) -> bool:
    """Whether the model thinks: "Thinking" in the last part of its id or folder name (Qwen/Qwen3-VL-8B-Thinking,
    not /home/thinking-lab/Qwen3-VL-4B-Instruct), or its chat template opening ``<think>`` in the generation prompt
    or reading ``enable_thinking`` (Qwen3.5, which thinks unless a request turns it off), read from the
    checkpoint's chat_template.jinja, chat_template.json or tokenizer_config.json."""
    names = [Path(model.rstrip("/")).name] + ([Path(model_path).name] if model_path is not None else [])
    if any("thinking" in name.lower() for name in names):
        return True
    if model_path is None:
        return False
    template = chat_template(Path(model_path))
    return opens_think(template) or "enable_thinking" in template  # Qwen3.5: thinks unless a request says not


def chat_template(folder: Path) -> str:
    """The checkpoint's chat template as transformers finds it ('' when it has none or it cannot be read)."""
    try:
        if (folder / "chat_template.jinja").is_file():
            return (folder / "chat_template.jinja").read_text()
        for name in ("chat_template.json", "tokenizer_config.json"):
            if (folder / name).is_file():
                value = json.loads((folder / name).read_text()).get("chat_template") or ""
                if isinstance(value, list):  # several named templates: the default one
                    value = next((t.get("template", "") for t in value if t.get("name") == "default"), "")
                if value:
                    return value
    except (OSError, ValueError, AttributeError):
        pass
    return ""


def opens_think(template: str) -> bool:
    """Whether the template's generation prompt ends in ``<think>``: the text after its last
    ``add_generation_prompt`` test holds ``assistant\\n<think>`` (Qwen3-VL-Thinking:
    ``{{- '<|im_start|>assistant\\n<think>\\n' }}``; Instruct: ``{{- '<|im_start|>assistant\\n' }}``)."""
    at = template.rfind("add_generation_prompt")
    if at < 0:
        return False
    tail = template[at:].replace("\\n", "\n")  # the escape inside a Jinja string, or a real newline
    return "assistant\n<think>" in tail


def choose_parser(setting: str, model: str, model_path: str | Path | None = None) -> str | None:
    """The ``--reasoning-parser`` for the server: ``auto`` -> qwen3 for a thinking model, else none; ``none`` ->
    none; any other value -> that parser, as given."""
    if setting == "none":
        return None
    if setting == "auto":
        return QWEN3_PARSER if is_thinking_model(model, model_path) else None
    return setting


class ThinkSplitter:
    """Split a streamed text that starts inside the thinking: reasoning up to the first ``</think>``, answer after.

    ``feed(piece)`` returns (reasoning, answer) for each piece; a ``</think>`` split across pieces is found (text
    that could be its start is held back until the next piece says). Later ``</think>`` in the answer are dropped,
    as vLLM's qwen3 parser does. ``flush()`` returns what is held at the end.
    """

    def __init__(self):
        self.thinking = True
        self._held = ""

    def feed(self, piece: str) -> tuple[str, str]:
        text = self._held + piece
        self._held = ""
        reasoning = ""
        if self.thinking:
            at = text.find(THINK_END)
            if at < 0:
                keep = _partial_end(text)
                self._held = text[len(text) - keep:] if keep else ""
                return text[:len(text) - keep], ""
            reasoning, text = text[:at], text[at + len(THINK_END):]
            self.thinking = False
        text = text.replace(THINK_END, "")
        keep = _partial_end(text)
        self._held = text[len(text) - keep:] if keep else ""
        return reasoning, text[:len(text) - keep]

    def flush(self) -> tuple[str, str]:
        held, self._held = self._held, ""
        return (held, "") if self.thinking else ("", held)


def _partial_end(text: str) -> int:
    """How many characters at the end of ``text`` could begin a ``</think>``."""
    for n in range(min(len(text), len(THINK_END) - 1), 0, -1):
        if THINK_END.startswith(text[-n:]):
            return n
    return 0


def split_reasoning(text: str) -> tuple[str, str]:
    """(reasoning, answer) of a whole text that starts inside the thinking."""
    splitter = ThinkSplitter()
    reasoning, answer = splitter.feed(text)
    rest = splitter.flush()
    return reasoning + rest[0], answer + rest[1]
