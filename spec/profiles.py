"""Named variations of a stack's suite, e.g. the quick profile for a first look."""

from __future__ import annotations

from spec.model import Stack

QUICK_DURATION_S = 1


def quick(stack: Stack) -> Stack:
    """Few MSS points (the sweep's ends) and 1 s cases: the whole matrix in about a minute."""
    suite = stack.suites.netperf
    points = suite.mss_points()
    mss = sorted({points[0], points[-1]})
    netperf = suite.model_copy(update={"mss": mss, "duration_s": QUICK_DURATION_S, "omit_s": 0})
    return stack.model_copy(update={"suites": stack.suites.model_copy(update={"netperf": netperf})})
