"""The Live tab (issue 29, item 1): to be built."""

from __future__ import annotations

from ..engines.engines import Engines


def build_camera_tab(engines: Engines, gen_inputs: list) -> None:
    """Placeholder until the Live tab is built."""
