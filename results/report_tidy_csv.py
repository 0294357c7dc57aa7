"""A long ("tidy") CSV: one row per case and metric, for spreadsheets and dataframes.

Columns: case_id, path, path_label, tool, mss_requested, mss_actual, udp_length, streams,
family (ipv4, ipv6), metric, value, unit. A case that succeeded has one row per figure it measured; a case with
parallel streams adds each stream's throughput and actual MSS (`stream<k>_throughput`,
`stream<k>_mss_actual`, k from 1 in iperf3's order) beside the total. A failed case has exactly one
row, metric `error`, its reason as the value and no unit: failures stay visible in the
same file, and a reader that wants figures filters `metric != "error"`. With the host-network
baseline, a pod-path case adds its point's baseline (`host_throughput` in Mbit/s, or
`host_transaction_rate` in 1/s, the host path's median) and `pod_host_ratio` (the point's pod
median over it: the CNI's overhead, see `Results.overhead`).
"""

from __future__ import annotations

import csv
import io

from results.model import CaseResult, Overhead, Results

COLUMNS = (
    "case_id",
    "path",
    "path_label",
    "tool",
    "mss_requested",
    "mss_actual",
    "udp_length",
    "streams",
    "family",
    "metric",
    "value",
    "unit",
)
ERROR_METRIC = "error"


def tidy_csv(results: Results) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    baselines = {(o.path, o.tool, o.mss, o.udp_length, o.streams): o for o in results.overhead}
    for case in results.cases:
        baseline = baselines.get((case.path, case.tool, case.mss_requested, case.udp_length, case.streams))
        for metric, value, unit in [*case_metrics(case), *baseline_metrics(case, baseline)]:
            writer.writerow(
                {
                    "case_id": case.case_id,
                    "path": int(case.path),
                    "path_label": case.path_label,
                    "tool": case.tool,
                    "mss_requested": _cell(case.mss_requested),
                    "mss_actual": _cell(case.mss_actual),
                    "udp_length": _cell(case.udp_length),
                    "streams": case.streams,
                    "family": case.family,
                    "metric": metric,
                    "value": value,
                    "unit": unit,
                }
            )
    return out.getvalue()


def case_metrics(case: CaseResult) -> list[tuple[str, str, str]]:
    """(metric, value, unit) rows of one case; one `error` row when it failed."""
    if not case.ok:
        return [(ERROR_METRIC, case.error or "failed", "")]
    candidates: list[tuple[str, float | int | None, str]] = [
        ("throughput", case.throughput_mbps, "Mbit/s"),
        ("retransmits", case.retransmits, "count"),
        ("loss", case.loss_percent, "%"),
        ("lost_packets", case.lost_packets, "count"),
        ("jitter", case.jitter_ms, "ms"),
        ("cpu_host", case.cpu_host_percent, "%"),
        ("cpu_remote", case.cpu_remote_percent, "%"),
        # TCP_CRR's transactions are connections: its rate is connections per second.
        ("connection_rate" if case.tool == "tcp_crr" else "transaction_rate", case.transactions_per_s, "1/s"),
    ]
    if case.latency_us is not None:
        for name, value in case.latency_us.model_dump().items():
            candidates.append((f"latency_{name}", value, "us"))
    for k, stream in enumerate(case.per_stream or (), start=1):
        candidates += [(f"stream{k}_throughput", stream.throughput_mbps, "Mbit/s")]
        candidates += [(f"stream{k}_mss_actual", stream.mss_actual, "bytes")]
    return [(metric, _cell(value), unit) for metric, value, unit in candidates if value is not None]


def baseline_metrics(case: CaseResult, baseline: Overhead | None) -> list[tuple[str, str, str]]:
    """A successful pod-path case's host baseline and its point's pod/host ratio, where measured."""
    if not case.ok or baseline is None:
        return []
    rate = baseline.metric == "transactions_per_s"
    rows: list[tuple[str, float | None, str]] = [
        ("host_transaction_rate" if rate else "host_throughput", baseline.host, "1/s" if rate else "Mbit/s"),
        ("pod_host_ratio", baseline.ratio, "ratio"),
    ]
    return [(metric, _cell(value), unit) for metric, value, unit in rows if value is not None]


def _cell(value: float | int | None) -> str:
    if value is None:
        return ""
    return str(round(value, 6)) if isinstance(value, float) else str(value)
