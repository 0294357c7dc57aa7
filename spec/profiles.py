"""Named variations of a stack's suite, e.g. the quick profile for a first look."""

from __future__ import annotations

import math

from spec.e2sar import MIN_START_S, E2sarSuite
from spec.load import stack_from_config
from spec.model import Stack

QUICK_DURATION_S = 1
QUICK_E2SAR_SLACK_S = 2


def quick(stack: Stack) -> Stack:
    """Few MSS and UDP-length points (the sweeps' ends) and 1 s cases: the whole matrix in about a
    minute (E2SAR: one rate)."""
    suite = stack.suites.netperf
    points, lengths = suite.mss_points(), suite.udp_length_points()
    mss, udp_length = sorted({points[0], points[-1]}), sorted({lengths[0], lengths[-1]})
    update = {"mss": mss, "udp_length": udp_length, "duration_s": QUICK_DURATION_S, "omit_s": 0}
    netperf = suite.model_copy(update=update)
    if (steady := suite.steady_state) is not None:  # steady-state cases: cut at the first window they can judge
        quick_max = min(steady.max_s, math.ceil(max(steady.min_s, steady.omit_s + steady.window_s)) + 1)
        quick_steady = steady.model_copy(update={"max_s": quick_max, "fixed_tools_s": QUICK_DURATION_S})
        netperf = netperf.model_copy(update={"steady_state": quick_steady})
    e2sar = _quick_e2sar(stack)
    return stack.model_copy(update={"suites": stack.suites.model_copy(update={"netperf": netperf, "e2sar": e2sar})})


def _quick_e2sar(stack: Stack) -> E2sarSuite:
    """E2SAR at its first rate only, the receiver running just past the send time."""
    suite = stack.suites.e2sar
    rate = suite.rates()[0]
    duration = min(suite.duration_s, math.ceil(suite.send_seconds(rate)) + MIN_START_S + QUICK_E2SAR_SLACK_S)
    return suite.model_copy(update={"rates_gbps": None, "rate_gbps": rate, "duration_s": duration})


def with_host_baseline(stack: Stack, where: str = "--host-baseline") -> Stack:
    """The stack with `suites.netperf.host_baseline` on, checked again (the host paths need the pod
    paths' ends): StackError naming `where` when it cannot be."""
    config = stack.model_dump(mode="json", exclude_none=True)
    config["suites"]["netperf"]["host_baseline"] = True
    return stack_from_config(config, where)
