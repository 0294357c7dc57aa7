"""Label selectors as the API machinery reads them (`metav1.LabelSelectorAsSelector`), pure.

A missing selector selects nothing, an empty one everything; `matchLabels` and every
`matchExpressions` entry must all hold (operators In, NotIn, Exists, DoesNotExist).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Whether `selector` (a LabelSelector dict, or None) selects an object with `labels`."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise ValueError(f"label selector operator {op!r} is not one of In, NotIn, Exists, DoesNotExist")
    return True


def is_empty(selector: Mapping[str, Any] | None) -> bool:
    """A present selector with no terms: it selects everything."""
    return selector is not None and not selector.get("matchLabels") and not selector.get("matchExpressions")
