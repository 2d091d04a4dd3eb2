"""The README's table of settings is the one generated from the settings object, so the docs cannot drift.

To refresh it: ``.venv/bin/python -c "from demo.settings import markdown_table; print(markdown_table())"``.
"""

from __future__ import annotations

from pathlib import Path

from demo.settings import markdown_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_lists_every_setting_as_generated():
    assert markdown_table() in README.read_text()
