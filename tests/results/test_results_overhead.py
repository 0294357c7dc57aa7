"""The host-network baseline in the results: each pod point's host twin and pod/host, in every report."""

from __future__ import annotations

import csv
import io
import json

import pytest

from results.model import CaseResult, Results
from results.points import point_summaries
from results.report_html import report_html
from results.report_json import results_json
from results.report_table import results_table
from results.report_tidy_csv import tidy_csv
from spec.model import HOST_PATHS, NetPath, Stack
from spec.plan import build_plan

# Host figures, and what the pod paths get of them: the ratios the reports must show.
HOST_MBPS = {NetPath.HOST_SAME: 10000.0, NetPath.HOST_REMOTE: 5000.0}
HOST_OF = {
    NetPath.SAME_NODE_POD: NetPath.HOST_SAME,
    NetPath.SAME_NODE_VIP: NetPath.HOST_SAME,
    NetPath.REMOTE_NODE_POD: NetPath.HOST_REMOTE,
}
HOST_RATE = 20000.0
FACTOR = {NetPath.SAME_NODE_POD: 0.9, NetPath.SAME_NODE_VIP: 0.5, NetPath.REMOTE_NODE_POD: 0.8}


def _results(failed_host: str | None = None) -> Results:
    stack = Stack.model_validate(
        {
            "clusters": [Stack().clusters[0]],
            "workloads": {k: v for k, v in Stack().workloads.items() if k != "w4"},
            "suites": {
                "netperf": {
                    "paths": [1, 2, 3],
                    "mss": [96, 1376],
                    "tools": ["iperf3_tcp", "tcp_rr"],
                    "host_baseline": True,
                }
            },
        }
    )
    cases = []
    for case in build_plan(stack).cases:
        host = case.path in HOST_PATHS
        base = HOST_MBPS.get(case.path, 0.0) if host else HOST_MBPS[HOST_OF[case.path]] * FACTOR[case.path]
        scale = (case.mss or 1376) / 1376  # a figure that differs per MSS: ratios still per point
        ok = case.id != failed_host
        rate = (HOST_RATE if host else HOST_RATE * FACTOR[case.path]) if case.tool == "tcp_rr" else None
        cases.append(
            CaseResult(
                case_id=case.id,
                path=case.path,
                tool=case.tool,
                client=case.client,
                target=case.target.workload,
                address=case.target.address,
                mss_requested=case.mss,
                ok=ok,
                error=None if ok else "exit 1",
                throughput_mbps=base * scale if ok and case.tool == "iperf3_tcp" else None,
                transactions_per_s=rate if ok else None,
                log=case.log_name,
            )
        )
    return Results(stack="t", run_id="1", cases=tuple(cases), points=point_summaries(cases))


def test_every_pod_point_has_its_host_twin_and_the_ratio() -> None:
    res = _results()
    pod_points = [p for p in res.points if p.path not in HOST_PATHS]
    assert [o.point for o in res.overhead] == [p.key for p in pod_points]  # one each, none for host points
    for o in res.overhead:
        assert o.host_path == HOST_OF[o.path]
        assert o.ratio == pytest.approx(FACTOR[o.path])
        assert o.metric == ("transactions_per_s" if o.tool == "tcp_rr" else "throughput_mbps")
    # results.json carries them, and reads back.
    text = results_json(res)
    assert Results.model_validate_json(text) == res
    saved = json.loads(text)["overhead"]
    assert {o["point"]: o["ratio"] for o in saved} == pytest.approx({o.point: FACTOR[o.path] for o in res.overhead})


def test_a_host_point_without_a_figure_leaves_its_ratios_empty() -> None:
    res = _results(failed_host="p7-iperf3-tcp-mss96")
    empty = {o.point for o in res.overhead if o.ratio is None}
    assert empty == {"p1-iperf3_tcp-mss96", "p2-iperf3_tcp-mss96"}
    assert Results(stack="t").overhead == ()  # no baseline, no entries


def test_the_table_the_tidy_csv_and_the_report_show_pod_over_host() -> None:
    res = _results()
    table = results_table(res)
    _, _, rest = table.partition("CNI overhead: pod path / its host-network baseline")
    assert rest, table
    rows = {line.split()[0]: line for line in rest.splitlines() if line[:1].isdigit()}
    assert set(rows) == {"1", "2", "3"}
    assert "host-same" in rows["2"] and rows["2"].split()[-2:] == ["0.50", "0.50"]
    assert "host-remote" in rows["3"] and rows["3"].split()[-2:] == ["0.80", "0.80"]
    lines = list(csv.DictReader(io.StringIO(tidy_csv(res))))
    ratio = {r["case_id"]: float(r["value"]) for r in lines if r["metric"] == "pod_host_ratio"}
    pod_ids = {c.case_id for c in res.cases if c.path not in HOST_PATHS}
    assert set(ratio) == pod_ids
    assert ratio["p2-tcp-rr"] == pytest.approx(0.5)
    host = next(r for r in lines if r["case_id"] == "p3-iperf3-tcp-mss96" and r["metric"] == "host_throughput")
    assert float(host["value"]) == pytest.approx(5000 * 96 / 1376) and host["unit"] == "Mbit/s"
    assert any(r["metric"] == "host_transaction_rate" and r["unit"] == "1/s" for r in lines)
    html = report_html(res, {"throughput": "<svg/>", "latency": "<svg/>"})
    assert 'id="overhead"' in html and "p2-iperf3_tcp-mss1376" in html and "0.50" in html
