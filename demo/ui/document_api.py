"""The API's document endpoint (issue 29): to be built."""

from __future__ import annotations

from ..engines.engines import Engines


def register(engines: Engines, gen: list) -> None:
    """Placeholder until the endpoint is built. ``gen``: the generation settings' hidden inputs (build_api's)."""
