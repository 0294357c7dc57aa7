"""Numbers rounded for people (reports and tables); full precision stays in the CSV and JSON files."""

from __future__ import annotations

import math


def human(value: float | None, missing: str = "-") -> str:
    """About three significant digits, never fewer than the integer part: 13183.0 -> '13183',
    956.44 -> '956', 45.49 -> '45.5', 0.0123 -> '0.0123'."""
    if value is None or math.isnan(value):
        return missing
    size = abs(value)
    if size >= 100 or (value == int(value) and size >= 1):
        return f"{value:.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    if size == 0:
        return "0"
    return f"{value:.{2 - math.floor(math.log10(size))}f}"
