"""Aggregation: a plan and the contents of its log folder -> Results (pure).

Every case of the plan comes out, exactly once. A case without figures (never run, cut by
its time limit, exited non-zero, left no log or no index line, wrote an error or text no
parser reads, or another tool's output) is `ok=False` with a reason that names its log
file, never a zero and never an exception.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any, Literal

from results.detect import parse_output
from results.e2sar import e2sar_result
from results.errors import UnknownOutputError
from results.figures import Figures, StreamFigure
from results.index import IndexLine, parse_index
from results.model import CaseResult, Results
from results.points import point_summaries
from results.ss import parse_ss_mss, parse_ss_mss_by_port
from spec.model import NETPERF_TESTS
from spec.plan import Case, Plan
from spec.runner import TIMEOUT_EXIT

_INDEX_NAME = re.compile(r"^index.*\.tsv$")
# What output each tool must leave: iperf3's protocol, or netperf's test of the same name.
_EXPECTED: dict[str, tuple[str, str]] = {
    "iperf3_tcp": ("iperf3", "tcp"),
    "iperf3_udp": ("iperf3", "udp"),
    **{tool: ("netperf", tool) for tool in NETPERF_TESTS},
}


def collect(
    plan: Plan,
    files: Mapping[str, str],
    *,
    stack: str = "",
    run_id: str = "",
    e2sar_network_policies: Literal["exempt", "enforced"] | None = None,
) -> Results:
    """Results of `plan` from its log folder's files (name -> text, see `read_log_folder`); with the
    stack's `suites.e2sar.network_policies`, recorded where the plan runs E2SAR pairs."""
    logs: dict[str, str] = {}
    index_parts: list[str] = []
    for name, text in files.items():
        base = PurePosixPath(name).name
        if _INDEX_NAME.match(base):
            index_parts.append(text)
        else:
            logs[base] = text
    index = parse_index("\n".join(index_parts))
    mss_points = tuple(sorted({c.mss for c in plan.cases if c.tool == "iperf3_tcp" and c.mss is not None}))
    cases = tuple(case_result(case, index.get(case.id), logs) for case in plan.cases)
    e2sar = tuple(e2sar_result(pair, index, logs) for pair in plan.e2sar)
    return Results(
        stack=stack,
        run_id=run_id,
        mss_points=mss_points,
        cases=cases,
        points=point_summaries(cases),
        e2sar_cases=e2sar,
        e2sar_network_policies=e2sar_network_policies if plan.e2sar else None,
    )


def case_result(case: Case, line: IndexLine | None, logs: Mapping[str, str]) -> CaseResult:
    """One case's result from its index line (if any) and the log folder's files."""
    fields: dict[str, Any] = {
        "case_id": case.id,
        "path": case.path,
        "tool": case.tool,
        "client": case.client,
        "target": case.target.workload,
        "address": case.target.address,
        "mss_requested": case.mss,
        "udp_length": case.udp_length,
        "streams": case.streams,
        "family": case.family,
        "log": case.log_name,
        "repeat": case.repeat,
    }
    if line is not None:
        fields.update(start=line.start, end=line.end, exit_code=line.exit_code, attempts=line.attempts)
    snapshot = logs.get(f"{case.id}.ss")
    if case.tool == "iperf3_tcp" and snapshot is not None:
        fields["mss_actual"] = parse_ss_mss(snapshot)
    text = logs.get(case.log_name)
    figures, unreadable = _read(text)
    reason = _failure(case, line, text, figures, unreadable, logs.get(f"{case.id}.err"))
    if reason is not None or figures is None:
        return CaseResult(ok=False, error=reason or f"{case.log_name}: no figures", **fields)
    return CaseResult(
        ok=True,
        throughput_mbps=figures.throughput_mbps,
        retransmits=figures.retransmits,
        cpu_host_percent=figures.cpu_host_percent,
        cpu_remote_percent=figures.cpu_remote_percent,
        loss_percent=figures.loss_percent,
        jitter_ms=figures.jitter_ms,
        lost_packets=figures.lost_packets,
        transactions_per_s=figures.transactions_per_s,
        latency_us=figures.latency_us,
        per_stream=_with_mss(figures, snapshot),
        note=figures.note,
        duration_s=figures.duration_s,
        stopped=figures.stopped,
        **fields,
    )


def _with_mss(figures: Figures, snapshot: str | None) -> tuple[StreamFigure, ...] | None:
    """Parallel streams with each one's actual MSS, from the `ss` snapshot by local port."""
    if figures.per_stream is None or snapshot is None:
        return figures.per_stream
    by_port = parse_ss_mss_by_port(snapshot)
    return tuple(
        s.model_copy(update={"mss_actual": by_port.get(s.local_port) if s.local_port is not None else None})
        for s in figures.per_stream
    )


def _read(text: str | None) -> tuple[Figures | None, str | None]:
    """The log's figures, or why it has none readable (None, None: there is no log)."""
    if text is None:
        return None, None
    try:
        return parse_output(text), None
    except UnknownOutputError as exc:
        return None, f"unreadable output: {exc}"


def _failure(
    case: Case,
    line: IndexLine | None,
    text: str | None,
    figures: Figures | None,
    unreadable: str | None,
    stderr: str | None,
) -> str | None:
    """Why the case has no figures, starting with its log file's name; None if it has them."""
    log = case.log_name
    said = _what_it_said(figures, unreadable, stderr)
    if line is None and text is None:
        return f"{log}: not run (no index line, no log)"
    if text is None:
        return _join(f"{log}: no log (exit {line.exit_code if line else '?'})", _first_line(stderr))
    if line is None:
        return _join(f"{log}: no index line (the case did not finish)", said)
    if line.exit_code is None:
        return _join(f"{log}: index line without an exit code", said)
    if line.exit_code == TIMEOUT_EXIT:
        return _join(f"{log}: timed out (exit {TIMEOUT_EXIT}, limit {case.time_limit_s}s)", said)
    if line.exit_code != 0:
        return _join(f"{log}: exit {line.exit_code}", said)
    if figures is None or not figures.ok:
        return _join(log, said)
    tool, test = _EXPECTED[case.tool]
    if figures.tool != tool or (figures.test is not None and figures.test != test):
        return f"{log}: holds {figures.tool} {figures.test or 'unknown'} output, not {case.tool}"
    return None


def _what_it_said(figures: Figures | None, unreadable: str | None, stderr: str | None) -> str | None:
    """The run's own account of a failure: the output's error, or why it is unreadable
    (with the first line of stderr), or else stderr alone. None for a clean output."""
    if figures is not None:
        return figures.error if not figures.ok else _first_line(stderr)
    errline = _first_line(stderr)
    if unreadable and errline:
        return f"{unreadable}; stderr: {errline}"
    return unreadable or errline


def _first_line(text: str | None) -> str | None:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[0] if lines else None


def _join(head: str, detail: str | None) -> str:
    return f"{head}: {detail}" if detail else head
