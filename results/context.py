"""The context a run's figures were measured in: the `run` block of results.json (pure).

Two runs can only be compared when they measured the same thing the same way (stack, profile,
durations or steady-state settings, MSS points, MTU, link rate: `results.compare.not_comparable`);
this block records that and the machine it ran on (tool versions, kernel, CPUs, repeats), so that
`results compare` can refuse runs that differ and every report can say where its figures come
from. The tool versions, kernel and CPUs come from what the client Jobs logged beside their raw
output (`results.jobenv`, `with_logged_facts`), the same on Kubernetes and in the lab; the lab's
own probe (`netlab.probe`) stands in where no Job logged them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from results.jobenv import job_env
from spec.model import Stack, SteadyState, Tool


class RunContext(BaseModel):
    """The `run` block. `durations`: seconds per case for each fixed-duration tool, or the
    steady-state settings for a tool (iperf3 TCP) that stops once settled."""

    model_config = ConfigDict(frozen=True)

    stack: str
    label: str  # unique per run: the run folder's time stamp in the lab; run id and content hash on Kubernetes
    profile: str  # "default" (the stack as written) or "quick"
    durations: dict[Tool, float | SteadyState]
    repeats: int
    mss: list[int]
    tool_versions: dict[str, str]  # tool -> its version line; empty where the runtime cannot ask the tools
    # None: not known (no Job logged it); a Pulumi stack output leaves such a key out altogether.
    kernel: str | None = None
    mtu: int
    link_rate: str | None = None
    cpus: int | None = None
    meshperf_version: str
    started: datetime | None = None
    ended: datetime | None = None


def run_context(
    stack: Stack,
    *,
    stack_name: str,
    label: str,
    profile: str,
    tool_versions: dict[str, str],
    kernel: str | None,
    cpus: int | None,
    meshperf_version: str,
    started: datetime | None = None,
    ended: datetime | None = None,
) -> RunContext:
    """The block for `stack` (after its profile was applied) and the machine facts given."""
    suite = stack.suites.netperf
    steady = suite.steady_state
    fixed_s = float(steady.fixed_tools_s if steady is not None and steady.fixed_tools_s else suite.duration_s)
    durations: dict[Tool, float | SteadyState] = {}
    if suite.enabled:
        for tool in suite.tools:
            durations[tool] = steady if tool == "iperf3_tcp" and steady is not None else fixed_s
    return RunContext(
        stack=stack_name,
        label=label,
        profile=profile,
        durations=durations,
        repeats=suite.repeats,
        mss=suite.mss_points() if suite.enabled and "iperf3_tcp" in suite.tools else [],
        tool_versions=tool_versions,
        kernel=kernel,
        mtu=stack.link.mtu,
        link_rate=stack.link.rate,
        cpus=cpus,
        meshperf_version=meshperf_version,
        started=started,
        ended=ended,
    )


def with_logged_facts(
    run: RunContext, files: Mapping[str, str], starts: Iterable[datetime], ends: Iterable[datetime]
) -> RunContext:
    """`run` completed from a log folder: the tools, kernel and CPUs its Jobs logged (`results.jobenv`;
    facts already known are kept where the Jobs logged none), and the first start and last end
    of its cases."""
    env = job_env(files)
    first, last = min(starts, default=None), max(ends, default=None)
    return run.model_copy(
        update={
            "tool_versions": env.tool_versions or run.tool_versions,
            "kernel": env.kernel or run.kernel,
            "cpus": env.cpus if env.cpus is not None else run.cpus,
            "started": run.started or first,
            "ended": run.ended or last,
        }
    )


def kubernetes_label(run_id: str, content_hash: str | None = None) -> str:
    """A Kubernetes run's label: its run id, and the content hash of what its Jobs run when known."""
    return f"run {run_id}" + (f" ({content_hash[:12]})" if content_hash else "")


def duration_text(how: float | SteadyState) -> str:
    """'2 s', or 'until steady (within 3 % over 0.5 s, 1..10 s, first 0.2 s left out)'."""
    if isinstance(how, SteadyState):
        return (
            f"until steady (within {how.tolerance_pct:g} % over {how.window_s:g} s, "
            f"{how.min_s:g}..{how.max_s:g} s, first {how.omit_s:g} s left out)"
        )
    return f"{how:g} s"


def durations_text(run: RunContext) -> str:
    """'iperf3_tcp: until steady (within 3 % over 0.5 s, 1..10 s, ...); iperf3_udp: 2 s; ...'."""
    return "; ".join(f"{tool}: {duration_text(how)}" for tool, how in run.durations.items()) or "-"


def context_rows(run: RunContext) -> list[tuple[str, str]]:
    """The block as (name, text) rows, for the reports' headers."""
    return [
        ("stack", run.stack),
        ("run", run.label),
        ("profile", run.profile),
        ("durations", durations_text(run)),
        ("repeats", str(run.repeats)),
        ("MSS points", ", ".join(str(m) for m in run.mss) or "-"),
        ("tools", "; ".join(f"{tool}: {version}" for tool, version in run.tool_versions.items()) or "-"),
        ("kernel", run.kernel or "-"),
        ("link", f"MTU {run.mtu}, rate {run.link_rate or 'unshaped'}"),
        ("CPUs", "-" if run.cpus is None else str(run.cpus)),
        ("meshperf", run.meshperf_version),
        ("started", run.started.isoformat(timespec="seconds") if run.started else "-"),
        ("ended", run.ended.isoformat(timespec="seconds") if run.ended else "-"),
    ]
