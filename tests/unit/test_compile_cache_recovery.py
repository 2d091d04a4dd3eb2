"""A start that died on a truncated torch.compile artefact clears that cache (and only then)."""

from __future__ import annotations

from demo.engines.supervisor import Supervisor

BROKEN = ("(Worker pid=1) ERROR 11-25 06:34:03 [multiproc_executor.py:1063] torch._inductor.exc.InductorError: "
          "ImportError: /root/.cache/vllm/torch_compile_cache/torch_aot_compile/x/y.main.so: file too short\n")


def make(tmp_path, text):
    log = tmp_path / "engine.log"
    log.write_text("some start-up line\n" + text)
    return Supervisor(log, startup_timeout=1, max_restarts=0)


def test_broken_cache_is_removed(tmp_path, monkeypatch):
    root = tmp_path / "vllm-cache"
    (root / "torch_compile_cache" / "a").mkdir(parents=True)
    (root / "other").mkdir()
    monkeypatch.setenv("VLLM_CACHE_ROOT", str(root))
    assert make(tmp_path, BROKEN).compile_cache_was_broken() is True
    assert not (root / "torch_compile_cache").exists()
    assert (root / "other").exists()  # nothing else is touched


def test_other_failures_leave_the_cache(tmp_path, monkeypatch):
    root = tmp_path / "vllm-cache"
    (root / "torch_compile_cache").mkdir(parents=True)
    monkeypatch.setenv("VLLM_CACHE_ROOT", str(root))
    assert make(tmp_path, "ValueError: max_model_len is too large\n").compile_cache_was_broken() is False
    assert (root / "torch_compile_cache").exists()
