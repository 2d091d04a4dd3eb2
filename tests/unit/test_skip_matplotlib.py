"""demo.ui.page.skip_missing_matplotlib: a missing matplotlib is marked absent once; an installed one is left be."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from demo.ui import page


def test_a_missing_matplotlib_fails_to_import_without_a_search(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    monkeypatch.setitem(sys.modules, "matplotlib", sys.modules.get("matplotlib"))  # undone after the test
    del sys.modules["matplotlib"]
    page.skip_missing_matplotlib()
    assert "matplotlib" in sys.modules and sys.modules["matplotlib"] is None
    searched = []
    monkeypatch.setattr(sys, "meta_path", [_Recorder(searched)] + sys.meta_path)
    with pytest.raises(ImportError):
        import matplotlib  # noqa: F401
    assert searched == []  # refused from sys.modules, no finder asked


def test_an_installed_matplotlib_is_left_alone(monkeypatch):
    monkeypatch.delitem(sys.modules, "matplotlib", raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object())
    page.skip_missing_matplotlib()
    assert "matplotlib" not in sys.modules


class _Recorder:
    def __init__(self, seen):
        self.seen = seen

    def find_spec(self, name, path=None, target=None):
        self.seen.append(name)
        return None
