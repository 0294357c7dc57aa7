"""The seed's CSV block: the `MSS ; Maximum; 96; ...;` header and its 16 rows.

Users of the cluster-mesh netperf benchmark read this layout, so it is kept to the
character: labels padded to 45, the Maximum as %f, iperf3 figures as whole Mbit/s,
netperf's with two decimals, a `;` after every field. Two things differ on purpose: a
row whose path was not run or failed has empty fields (the seed wrote 0 and 0.00, which
reads as a measured zero), and the Maximum is taken over the figures the row shows.
"""

from __future__ import annotations

from results.model import Results
from results.seed import LABEL_WIDTH, SEED_ROWS, SeedRow

FRAME_HEAD = (
    "ALL TESTCASES AND MSS RANGES COMPLETE - GENERATING CSV OUTPUT",
    "the output for each MSS testpoint is a single value in Mbits/sec",
)
FRAME_TAIL = "END CSV DATA"


def seed_csv(results: Results, framed: bool = False) -> str:
    """The CSV block; `framed` adds the seed's lines before and after it (as in its log)."""
    header = f"{'MSS':<{LABEL_WIDTH}}; Maximum;" + "".join(f" {m};" for m in results.mss_points)
    lines = [header, *(_row(results, row) for row in SEED_ROWS)]
    if framed:
        lines = [*FRAME_HEAD, *lines, FRAME_TAIL]
    return "\n".join(lines) + "\n"


def _row(results: Results, row: SeedRow) -> str:
    if row.tool == "iperf3_tcp":
        by_mss = results.throughput_by_mss()[row.label]
        shown = [_whole(by_mss.get(m)) for m in results.mss_points]
    elif row.tool == "iperf3_udp":
        shown = [_whole(results.best_mbps(row.tool, row.path))]
    else:
        shown = [_hundredths(results.best_mbps(row.tool, row.path))]
    values = [float(s) for s in shown if s]
    maximum = f"{max(values):f}" if values else ""
    return f"{row.label:<{LABEL_WIDTH}};{maximum};" + "".join(f"{s};" for s in shown)


def _whole(mbps: float | None) -> str:
    return "" if mbps is None else f"{mbps:.0f}"


def _hundredths(mbps: float | None) -> str:
    return "" if mbps is None else f"{mbps:.2f}"
