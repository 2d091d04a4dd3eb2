"""Numbers that come from outside (a conversation document, a browser's stored copy, a model's answer), read one way.

JSON carries integers of any size, and Python reads them exactly: ``10**400`` is a valid ``int`` that no float can
hold, so ``float()``, ``math.isfinite()`` and every comparison with a float raise ``OverflowError`` ("int too large
to convert to float") on it. A 400-digit number in a document or in an answer's box coordinates once broke the
handlers that read them (issue 26). Everything that reads such a number goes through :func:`finite`.
"""

from __future__ import annotations

import math


def finite(value) -> float | None:
    """``value`` as a finite float, or None when it is no such number (a bool, a string, None, NaN, an infinity, an
    integer too large for a float). Never raises."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None
