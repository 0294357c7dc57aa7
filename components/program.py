"""The program behind `__main__.py`: config -> checked spec and settings -> Suite -> stack outputs.

The config is checked in full before any resource is made: a bad stack stops with one line.
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.baseline import baseline_regressions
from components.config import Settings, settings_from_config
from components.e2sar import control_plane_token
from components.stackconfig import read_stack_config
from components.suite import Suite
from spec.load import StackError
from spec.plan import build_plan


def load(stack_name: str) -> Settings:
    where = f"stack {stack_name}"
    try:
        settings = settings_from_config(read_stack_config(stack_name), where=where)
        if settings.stack.suites.e2sar.enabled:
            control_plane_token(where)  # checked with the rest, before any resource is made
        return settings
    except StackError as exc:
        raise pulumi.RunError(str(exc)) from None


def run(stack_name: str) -> dict[str, Any]:
    settings = load(stack_name)
    plan = build_plan(settings.stack)
    suite = Suite("meshperf", settings, plan)
    outputs: dict[str, Any] = {
        "kubeconfig": pulumi.Output.secret({name: c.kubeconfig for name, c in suite.clusters.items()}),
        "jobs": [job.metadata.name for job in suite.jobs],
    }
    if suite.results is not None:
        res = suite.results
        outputs.update(
            throughput=res.throughput,
            throughput_by_mss=res.throughput_by_mss,
            latency=res.latency,
            tcp_crr=res.tcp_crr,
            udp_rr=res.udp_rr,
            udp_stream=res.udp_stream,
            udp_by_length=res.udp_by_length,
            streams=res.streams,
            csv=res.csv,
            failures=res.failures,
            read_errors=res.read_errors,
            points=res.points,
            e2sar=res.e2sar,
            run=res.run,
            overhead=res.overhead,
        )
        if settings.stack.baseline is not None:
            outputs["regressions"] = baseline_regressions(settings.stack.baseline, res.points)
    return outputs
