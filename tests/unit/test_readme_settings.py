"""The docs' table of settings (docs/settings.md, linked from the README) is the one generated from the settings
object, so the docs cannot drift.

To refresh it: ``.venv/bin/python -c "from demo.settings import markdown_table; print(markdown_table())"``.
"""

from __future__ import annotations

from pathlib import Path

from demo.settings import markdown_table

SETTINGS_DOC = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def test_docs_settings_page_lists_every_setting_as_generated():
    assert markdown_table() in SETTINGS_DOC.read_text()
