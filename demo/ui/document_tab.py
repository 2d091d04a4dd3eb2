"""The Document tab (issue 29, item 2): to be built."""

from __future__ import annotations

from ..engines.engines import Engines


def build_document_tab(engines: Engines, gen_inputs: list) -> None:
    """Placeholder until the Document tab is built."""
