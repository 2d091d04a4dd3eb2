"""The header's words in both languages (demo/ui/header.py): the chips, the plan's summary line and the model line
come from the catalogue in the page's language; English stays as the tests and the log know it."""

from __future__ import annotations

import time

from demo.engines.placement import DevicePlan, Placement
from demo.engines.status import EngineStatus
from demo.settings import Settings
from demo.ui.header import TEXTS, model_source, short_plan, status_text


def cpu() -> Placement:
    return Placement(device="cpu", cpu_kv_cache_gib=1, enforce_eager=True)


def test_every_header_text_has_both_languages():
    assert all(en and zh and en != zh for en, zh in TEXTS.values())


def test_chips_in_english_are_the_engines_own_line_and_in_chinese_are_translated():
    st = EngineStatus("server", "starting", time.monotonic() - 42, detail="loading the weights", last_start_s=35)
    assert status_text(st, "en") == st.describe()
    zh = status_text(st, "zh")
    assert zh.startswith("服务器：启动中（") and "上次在本机启动用了 35 秒" in zh
    assert zh.endswith(" - loading the weights")  # the engine's own phase, as the log prints it
    ready = EngineStatus("video worker", "ready", time.monotonic())
    assert (status_text(ready, "en"), status_text(ready, "zh")) == ("video worker: ready", "视频进程：就绪")


def test_the_plan_line_and_the_model_line_in_both_languages():
    plan = DevicePlan(server=cpu(), worker=None, sequential_start=False)
    assert short_plan(plan, "en") == "server on CPU · video through the server"
    assert short_plan(plan, "zh") == "服务器在 CPU · 视频经由服务器"
    tiny = Settings.from_args(["--model", "tiny"])
    assert model_source(tiny, "en").startswith("tiny random-weight checkpoint")
    assert model_source(tiny, "zh").startswith("tiny 随机权重检查点")
