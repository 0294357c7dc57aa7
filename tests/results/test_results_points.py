"""Repeats folded into points (n, median, spread, CI), the seed CSV's medians, and iperf3's text output."""

from __future__ import annotations

import json

import pytest

from results.collect import collect
from results.detect import parse_output
from results.iperf3 import parse_iperf3_text
from results.model import Results
from results.report_json import results_json
from results.report_seed_csv import seed_csv
from results.report_table import results_table
from spec.model import NetperfSuite, Stack, SteadyState, Suites
from spec.plan import build_plan

# iperf3 3.12 text mode, -i 0.1 -f k, stopped by SIGTERM, with the runner's line (shortened).
STEADY_TEXT = """\
Connecting to host 10.245.1.2, port 5201
[  5] local 10.244.1.2 port 50312 connected to 10.245.1.2 port 5201
[ ID] Interval           Transfer     Bitrate         Retr  Cwnd
[  5]   0.00-0.11   sec  79.1 MBytes  6254109 Kbits/sec    0   2.29 MBytes
[  5]   0.11-0.20   sec  52.5 MBytes  4000000 Kbits/sec    0   2.16 MBytes
[  5]   0.20-0.30   sec  56.2 MBytes  4000000 Kbits/sec    0   2.01 MBytes
[  5]   0.30-0.40   sec  57.5 MBytes  5000000 Kbits/sec    3    589 KBytes
[  5]   0.40-0.50   sec  61.2 MBytes  5000000 Kbits/sec    0    671 KBytes
[  5]   0.50-0.60   sec  72.5 MBytes  6000000 Kbits/sec    0   1.45 MBytes
- - - - - - - - - - - - - - - - - - - - - - - - -
[ ID] Interval           Transfer     Bitrate         Retr
[  5]   0.00-0.60   sec  2.00 GBytes  4999421 Kbits/sec    3             sender
[  5]   0.00-0.60   sec  0.00 Bytes  0.00 Kbits/sec                  receiver
meshperf-steady: stop=stable tolerance_pct=3 window_s=0.3 min_s=0.5 omit_s=0.2 exit=0
"""


def test_text_output_mean_after_omit() -> None:
    figures = parse_iperf3_text(STEADY_TEXT)
    assert figures.ok and figures.tool == "iperf3" and figures.test == "tcp"
    # Intervals ending after 0.2 s: 4, 5, 5, 6 Gbit/s over 0.1 s each.
    assert figures.throughput_mbps == pytest.approx(5000.0)
    assert figures.retransmits == 3
    assert figures.stopped == "stable" and figures.duration_s == pytest.approx(0.6)
    assert parse_output(STEADY_TEXT) == figures  # detected as iperf3 without -J


def test_text_output_errors_and_units() -> None:
    refused = "iperf3: error - unable to connect to server - server may have stopped running or not be running\n"
    failed = parse_output(refused + "meshperf-steady: stop=max tolerance_pct=3 omit_s=0.5 exit=1\n")
    assert not failed.ok and failed.error is not None and "unable to connect" in failed.error
    plain = "[  5]   0.00-1.00   sec   112 MBytes   940 Mbits/sec    0   1.2 MBytes\n" * 1
    plain += "[  5]   1.00-2.00   sec   112 MBytes  0.96 Gbits/sec    0   1.2 MBytes\n"
    figures = parse_output("Connecting to host 10.0.0.2, port 5201\n" + plain)
    assert figures.throughput_mbps == pytest.approx(950.0)
    assert figures.stopped is None  # not from the runner's watcher
    nothing = parse_iperf3_text("Connecting to host 10.0.0.2, port 5201\nmeshperf-steady: stop=max omit_s=1\n")
    assert not nothing.ok


def _iperf3_json(mbps: float) -> str:
    return json.dumps(
        {
            "start": {"test_start": {"protocol": "TCP"}},
            "intervals": [],
            "end": {
                "sum_sent": {"bits_per_second": mbps * 1e6, "retransmits": 0},
                "sum_received": {"bits_per_second": mbps * 1e6},
            },
        }
    )


def test_repeats_fold_into_points_and_the_seed_csv_shows_medians() -> None:
    stack = Stack(suites=Suites(netperf=NetperfSuite(paths=[6], tools=["iperf3_tcp"], mss=[536, 1376], repeats=3)))
    plan = build_plan(stack)
    figures = {536: [100.0, 300.0, 200.0], 1376: [900.0, 1000.0]}  # 1376's third repeat failed
    files: dict[str, str] = {}
    index = []
    for case in plan.cases:
        assert case.mss is not None
        values = figures[case.mss]
        if case.repeat <= len(values):
            files[case.log_name] = _iperf3_json(values[case.repeat - 1])
            index.append(f"{case.id}\t2026-01-01T00:00:00Z\t2026-01-01T00:00:10Z\t0\t1")
    files["index.tsv"] = "\n".join(index) + "\n"
    results = collect(plan, files)
    low, high = results.points
    assert (low.key, low.n, low.n_failed, low.median, low.min, low.max) == ("p6-iperf3_tcp-mss536", 3, 0, 200, 100, 300)
    assert low.values == (100.0, 300.0, 200.0)  # repeat order
    assert low.mean == pytest.approx(200) and low.stdev == pytest.approx(100)
    assert low.ci95_low == pytest.approx(200 - 4.3027 * 100 / 3**0.5, abs=0.01)  # t(0.975, 2) = 4.3027
    assert low.ci95_high == pytest.approx(200 + 4.3027 * 100 / 3**0.5, abs=0.01)
    assert (high.n, high.n_failed, high.median) == (2, 1, 950)
    assert results.throughput_by_mss()["5 iperf TCP. Remote Cluster using Pod IP"] == {536: 200.0, 1376: 950.0}
    row = next(line for line in seed_csv(results).splitlines() if line.startswith("5 iperf TCP"))
    assert row.endswith(";950.000000;200;950;")
    # The terminal table: the best point's median (not its best repeat, 1000), +- half its 95 % CI:
    # 12.706 * stdev 70.71 / sqrt(2) = 635.3, i.e. 67 % of the mean 950.
    table = results_table(results)
    assert "950 +-67% (1376)" in next(line for line in table.splitlines() if line.startswith("6 Remote"))
    assert "+-: half the 95 % confidence interval" in table
    again = Results.model_validate_json(results_json(results))
    assert again.points == results.points
    assert json.loads(results_json(results))["points"][0]["ci95_low"] == pytest.approx(low.ci95_low)


def test_steady_cases_record_duration_and_stops_in_the_points() -> None:
    stack = Stack(
        suites=Suites(
            netperf=NetperfSuite(
                paths=[6], tools=["iperf3_tcp"], mss=[1376], repeats=2, steady_state=SteadyState(omit_s=0.2)
            )
        )
    )
    plan = build_plan(stack)
    files = {c.log_name: STEADY_TEXT for c in plan.cases}
    files["index.tsv"] = "".join(f"{c.id}\t-\t-\t0\t1\n" for c in plan.cases)
    results = collect(plan, files)
    assert all(c.ok and c.stopped == "stable" and c.duration_s == pytest.approx(0.6) for c in results.cases)
    (point,) = results.points
    assert (point.n, point.median, point.stopped_stable, point.duration_s_median) == (2, 5000.0, 2, 0.6)
    assert point.ci95_low == point.ci95_high == pytest.approx(5000.0)  # two equal figures: no spread
