"""demo/engines/reasoning.py: which reasoning parser the server gets, and the worker's split at '</think>'."""

from __future__ import annotations

import json
import random

import pytest

from demo.engines.reasoning import (
    QWEN3_PARSER,
    ThinkSplitter,
    choose_parser,
    is_thinking_model,
    opens_think,
    split_reasoning,
)

# The ends of the real templates (Qwen/Qwen3-VL-4B-Thinking and -Instruct chat_template.json): the same
# render_content macro and turns; only the Thinking one opens <think> in the generation prompt (and strips earlier
# reasoning from assistant turns).
_COMMON = ("{%- set image_count = namespace(value=0) %}\n{%- macro render_content(content, do_vision_count) %}\n"
           "    {%- if content is string %}\n        {{- content }}\n    {%- endif %}\n{%- endmacro %}\n"
           "{%- for message in messages %}\n    {%- set content = render_content(message.content, True) %}\n"
           "    {{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>' + '\\n' }}\n{%- endfor %}\n")
THINKING_TEMPLATE = (_COMMON.replace("{%- endfor %}", "    {%- if '</think>' in content %}\n        {%- set content = "
                                     "content.split('</think>')[-1].lstrip('\\n') %}\n    {%- endif %}\n{%- endfor %}")
                     + "{%- if add_generation_prompt %}\n"
                       "    {{- '<|im_start|>assistant\\n<think>\\n' }}\n{%- endif %}\n")
INSTRUCT_TEMPLATE = _COMMON + "{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' }}\n{%- endif %}\n"


def checkpoint(tmp_path, name: str, template: str, where: str = "chat_template.json"):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    if where == "chat_template.jinja":
        (folder / where).write_text(template)
    else:
        (folder / where).write_text(json.dumps({"chat_template": template}))
    return folder


@pytest.mark.parametrize("model", ["Qwen/Qwen3-VL-4B-Thinking", "Qwen/Qwen3-VL-8B-Thinking",
                                   "Qwen/Qwen3-VL-30B-A3B-Thinking-FP8", "qwen3-vl-4b-thinking"])
def test_thinking_ids_get_qwen3(model):
    assert choose_parser("auto", model) == QWEN3_PARSER


@pytest.mark.parametrize("model", ["Qwen/Qwen3-VL-4B-Instruct", "Qwen/Qwen3-VL-8B-Instruct", "tiny"])
def test_instruct_ids_get_none(model):
    assert choose_parser("auto", model) is None


@pytest.mark.parametrize("where", ["chat_template.json", "tokenizer_config.json", "chat_template.jinja"])
def test_a_folder_is_told_by_its_template(tmp_path, where):
    thinking = checkpoint(tmp_path, "my-finetune", THINKING_TEMPLATE, where)
    assert choose_parser("auto", str(thinking), thinking) == QWEN3_PARSER
    instruct = checkpoint(tmp_path, "my-other-finetune", INSTRUCT_TEMPLATE, where)
    assert choose_parser("auto", str(instruct), instruct) is None


def test_only_the_last_part_of_a_path_counts(tmp_path):
    (tmp_path / "thinking-lab").mkdir()
    folder = checkpoint(tmp_path / "thinking-lab", "Qwen3-VL-4B-Instruct", INSTRUCT_TEMPLATE)
    assert not is_thinking_model(str(folder), folder)
    snapshot = checkpoint(tmp_path, "0123abcd", INSTRUCT_TEMPLATE)  # a hub snapshot: the id says it
    assert is_thinking_model("Qwen/Qwen3-VL-4B-Thinking", snapshot)


def test_a_folder_without_template_is_not_thinking(tmp_path):
    folder = tmp_path / "bare"
    folder.mkdir()
    assert choose_parser("auto", str(folder), folder) is None
    (folder / "tokenizer_config.json").write_text("not json")
    assert choose_parser("auto", str(folder), folder) is None


def test_the_setting_overrides():
    assert choose_parser("none", "Qwen/Qwen3-VL-4B-Thinking") is None
    assert choose_parser("deepseek_r1", "Qwen/Qwen3-VL-4B-Instruct") == "deepseek_r1"
    assert choose_parser("qwen3", "tiny") == "qwen3"


def test_generation_prompt_detection():
    assert opens_think(THINKING_TEMPLATE)
    assert not opens_think(INSTRUCT_TEMPLATE)
    assert not opens_think("")
    # <think> elsewhere (an assistant turn's reasoning) is not the generation prompt
    assert not opens_think("{{ '<|im_start|>assistant\\n<think>\\n' + r }}{% if add_generation_prompt %}"
                           "{{ '<|im_start|>assistant\\n' }}{% endif %}")
    # the tiny thinking checkpoint's own template (real newlines inside its Jinja strings are fine too)
    assert opens_think("{% if add_generation_prompt %}<|im_start|>assistant\n<think>\n{% endif %}")


# --- the worker's split --------------------------------------------------------------------------------------
def stream(pieces: list[str]) -> tuple[list[str], list[str]]:
    splitter, reasoning, answer = ThinkSplitter(), [], []
    for piece in pieces + [None]:
        r, a = splitter.flush() if piece is None else splitter.feed(piece)
        reasoning += [r] if r else []
        answer += [a] if a else []
    return reasoning, answer


def test_split_in_one_piece():
    assert split_reasoning("look at it\n</think>\n\nA cat.") == ("look at it\n", "\n\nA cat.")
    assert split_reasoning("no end yet") == ("no end yet", "")
    assert split_reasoning("</think>only an answer") == ("", "only an answer")


def test_end_tag_split_across_pieces():
    reasoning, answer = stream(["I think", " so </th", "ink>", "A cat", "."])
    assert "".join(reasoning) == "I think so "
    assert "".join(answer) == "A cat."
    assert all("<" not in a for a in answer)


def test_every_way_of_cutting_gives_the_same_split():
    text = "a < b </thi nk> </think>\n\nanswer </think>< /think> end</"
    whole = split_reasoning(text)
    assert whole == ("a < b </thi nk> ", "\n\nanswer < /think> end</")  # later </think> dropped, as vLLM's qwen3
    rng = random.Random(0)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(text)), rng.randint(1, 12)))
        pieces = [text[i:j] for i, j in zip([0] + cuts, cuts + [len(text)])]
        reasoning, answer = stream(pieces)
        assert ("".join(reasoning), "".join(answer)) == whole, pieces


def test_reasoning_comes_before_the_answer():
    splitter = ThinkSplitter()
    assert splitter.feed("thinking") == ("thinking", "")
    assert splitter.feed(" more</think>answer") == (" more", "answer")
    assert splitter.feed("<") == ("", "")  # could begin a (dropped) </think>: held
    assert splitter.feed("b>") == ("", "<b>")
    assert splitter.flush() == ("", "")


def test_engines_decide_once_and_say_so(tmp_path):
    from demo.engines.engines import Engines
    from demo.settings import Settings

    def create(*argv):
        settings = Settings.from_args(["--api-base", "http://127.0.0.1:9/v1", "--video-via", "server",
                                       "--cache-dir", str(tmp_path), *argv], env={})
        return Engines.create(settings, log_dir=tmp_path)

    thinking = create("--model", "Qwen/Qwen3-VL-4B-Thinking")
    assert thinking.reasoning_parser == "qwen3"
    assert any("qwen3" in note for note in thinking.plan.notes)
    instruct = create("--model", "Qwen/Qwen3-VL-4B-Instruct")
    assert instruct.reasoning_parser is None and not any("reasoning" in n for n in instruct.plan.notes)
    assert create("--model", "Qwen/Qwen3-VL-4B-Thinking", "--reasoning-parser", "none").reasoning_parser is None
