"""bench/lab_vs_cluster's pure part: lab and cluster points paired into ratio rows, and their table.

The bench itself needs the live tools, root and minutes (a local cluster and `pulumi up`): it is run
by hand (bench/lab_vs_cluster/RESULTS.md); what it computes from the figures is checked here.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from results.model import PointSummary
from spec.model import NetPath

RATIOS = Path(__file__).resolve().parents[2] / "bench" / "lab_vs_cluster" / "ratios.py"


@pytest.fixture(scope="module")
def ratios() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_lab_vs_cluster_ratios", RATIOS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def tcp(path: int, mbps: float | None) -> PointSummary:
    return PointSummary(
        path=NetPath(path), tool="iperf3_tcp", mss=1376, metric="throughput_mbps", n=1, median=mbps, n_failed=0
    )


def rr(path: int, per_s: float | None) -> PointSummary:
    failed = 1 if per_s is None else 0
    return PointSummary(
        path=NetPath(path), tool="tcp_rr", metric="transactions_per_s", n=1 - failed, n_failed=failed, median=per_s
    )


def test_each_point_has_both_medians_and_the_median_of_its_pairs_ratios(ratios: ModuleType) -> None:
    pairs = [
        ([rr(1, 20000.0), tcp(3, 8000.0), tcp(1, 10000.0)], [tcp(1, 5000.0), tcp(3, 4000.0), rr(1, 10000.0)]),
        ([tcp(1, 9000.0), tcp(3, 6000.0), rr(1, 12000.0)], [tcp(1, 6000.0), tcp(3, 6000.0), rr(1, 12000.0)]),
        ([tcp(1, 11000.0), tcp(3, 7000.0), rr(1, 16000.0)], [tcp(1, 4000.0), tcp(3, 3500.0), rr(1, 8000.0)]),
    ]
    rows = ratios.pair_rows(pairs)
    # By tool (iperf3 TCP before TCP_RR), then path.
    assert [r.point for r in rows] == ["p1-iperf3_tcp-mss1376", "p3-iperf3_tcp-mss1376", "p1-tcp_rr"]
    p1 = rows[0]
    assert (p1.lab, p1.cluster, p1.pairs) == (10000.0, 5000.0, 3)
    # Pairs' ratios 2.0, 1.5, 2.75: their median, not the ratio of the medians (10000 / 5000 = 2.0).
    assert p1.ratio == pytest.approx(2.0)
    assert (p1.low, p1.high) == (pytest.approx(1.5), pytest.approx(2.75))
    p3 = rows[1]
    # 2.0, 1.0, 2.0: median 2.0; the medians' ratio would be 7000 / 4000 = 1.75.
    assert p3.ratio == pytest.approx(2.0) and (p3.lab, p3.cluster) == (7000.0, 4000.0)
    assert rows[2].ratio == pytest.approx(2.0)
    assert ratios.tool_medians(rows) == {"iperf3_tcp": pytest.approx(2.0), "tcp_rr": pytest.approx(2.0)}
    assert ratios.exit_code(rows) == 0


def test_a_point_one_side_failed_keeps_its_row_without_a_ratio(ratios: ModuleType) -> None:
    pairs = [
        ([tcp(1, 9000.0), rr(5, 15000.0)], [tcp(1, 3000.0), rr(5, None)]),
        ([tcp(1, 9000.0), rr(5, 15000.0), tcp(2, 8000.0)], [tcp(1, 4500.0)]),
    ]
    rows = {r.point: r for r in ratios.pair_rows(pairs)}
    assert rows["p1-iperf3_tcp-mss1376"].ratio == pytest.approx(2.5) and rows["p1-iperf3_tcp-mss1376"].pairs == 2
    # Failed on the cluster (no median), then missing there: never a ratio, never zero.
    assert rows["p5-tcp_rr"].ratio is None and rows["p5-tcp_rr"].cluster is None and rows["p5-tcp_rr"].lab == 15000.0
    assert rows["p2-iperf3_tcp-mss1376"].ratio is None and rows["p2-iperf3_tcp-mss1376"].pairs == 0
    assert ratios.tool_medians(list(rows.values())) == {"iperf3_tcp": pytest.approx(2.5), "tcp_rr": None}
    assert ratios.exit_code(list(rows.values())) == 1
    assert ratios.exit_code([]) == 1


def test_the_table_shows_each_path_and_tool_with_both_figures_and_the_tools_median(ratios: ModuleType) -> None:
    pairs = [([tcp(1, 9000.0), tcp(3, 6000.0), rr(1, 20000.0)], [tcp(1, 3000.0), tcp(3, 6000.0), rr(1, None)])]
    lines = ratios.table(ratios.pair_rows(pairs)).splitlines()
    assert lines[0].split() == [
        "tool",
        "path",
        "lab",
        "cluster",
        "unit",
        "lab/cluster",
        "vs",
        "host",
        "pairs",
        "low..high",
    ]
    assert lines[1].split()[:2] == ["iperf3_tcp", "1"] and "Same VM using Pod IP" in lines[1]
    assert lines[1].split()[-6:] == ["9000.0", "3000.0", "Mbit/s", "3.000", "-", "3.00..3.00"]
    assert lines[2].split()[-6:] == ["6000.0", "6000.0", "Mbit/s", "1.000", "-", "1.00..1.00"]
    assert lines[3].split() == ["iperf3_tcp", "median", "over", "its", "paths", "2.000", "-"]
    assert lines[4].split()[-7:] == ["20000.0", "-", "trans/s", "no", "figure", "-", "-"]
    assert lines[5].split() == ["tcp_rr", "median", "over", "its", "paths", "-", "-"]
    assert len(lines) == 6


def test_vs_host_is_the_median_of_each_pairs_pod_host_ratios_divided(ratios: ModuleType) -> None:
    """Lab p1/p7 0.8, cluster 0.5: 1.6; then 0.9 and 0.9: 1.0; then 1.0 and 0.5: 2.0; median 1.6."""
    pairs = [
        ([tcp(1, 8000.0), tcp(7, 10000.0), tcp(3, 5000.0)], [tcp(1, 3000.0), tcp(7, 6000.0), tcp(3, 2500.0)]),
        ([tcp(1, 9000.0), tcp(7, 10000.0)], [tcp(1, 4500.0), tcp(7, 5000.0)]),
        ([tcp(1, 6000.0), tcp(7, 6000.0)], [tcp(1, 2000.0), tcp(7, 4000.0)]),
    ]
    rows = {r.point: r for r in ratios.pair_rows(pairs)}
    assert rows["p1-iperf3_tcp-mss1376"].vs_host == pytest.approx(1.6)
    # A host path has no baseline of its own; path 3's (path 8) was not measured.
    assert rows["p7-iperf3_tcp-mss1376"].vs_host is None and rows["p3-iperf3_tcp-mss1376"].vs_host is None
    assert ratios.tool_medians(list(rows.values()), "vs_host") == {"iperf3_tcp": pytest.approx(1.6)}
    assert ratios.table(list(rows.values())).splitlines()[-1].split()[-1] == "1.600"
