"""IPv6 captures (tests/results/capture_outputs.sh: -6 between namespaces, ULA addresses) through the same
parsers, and the `family` of a dual-stack run through collect, points and the reports (the seed CSV: IPv4)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from results_testkit import read

from results.collect import collect
from results.detect import parse_output
from results.humanize import human
from results.iperf3 import parse_iperf3
from results.netperf import parse_netperf
from results.report_html import report_html
from results.report_seed_csv import seed_csv
from results.report_table import results_table
from results.report_tidy_csv import tidy_csv
from results.ss import parse_ss_mss, parse_ss_mss_by_port
from spec.model import Stack
from spec.plan import build_plan


def test_iperf3_over_ipv6_and_its_sockets() -> None:
    raw = json.loads(read("iperf3-3.12-tcp-mss1376-ipv6.json"))
    assert raw["start"]["connected"][0]["remote_host"] == "fd00:250::1"
    figures = parse_iperf3(read("iperf3-3.12-tcp-mss1376-ipv6.json"))
    assert figures.ok and figures.throughput_mbps is not None and figures.throughput_mbps > 10
    snapshot = read("iperf3-3.12-tcp-mss1376-ipv6.ss")
    assert "[fd00:250::2]:" in snapshot  # ss writes IPv6 endpoints in brackets
    assert parse_ss_mss(snapshot) == 1364  # -M 1376 less the timestamp option, as over IPv4
    local = raw["start"]["connected"][0]["local_port"]
    assert parse_ss_mss_by_port(snapshot)[local] == 1364
    udp = parse_iperf3(read("iperf3-3.12-udp-unlimited-len1400-ipv6.json"))
    assert udp.ok and udp.throughput_mbps is not None and udp.loss_percent is not None


@pytest.mark.parametrize(
    ("name", "test"),
    [
        ("tcp-rr", "tcp_rr"),
        ("tcp-crr", "tcp_crr"),
        ("udp-rr", "udp_rr"),
        ("tcp-rr-keyval-ipv4-to-netserver6", "tcp_rr"),
    ],
)
def test_netperf_request_response_over_ipv6(name: str, test: str) -> None:
    file = f"netperf-2.7-{name}.txt" if name.endswith("netserver6") else f"netperf-2.7-{name}-keyval-ipv6.txt"
    text = read(file)
    figures = parse_netperf(text)
    assert figures.ok and figures.test == test, figures
    assert figures.transactions_per_s is not None and figures.transactions_per_s > 100
    assert ("AF_INET6" in text) is not name.endswith("netserver6")  # IPv4 to netserver -6 stays IPv4


def test_netperf_streams_over_ipv6() -> None:
    keyval = parse_netperf(read("netperf-2.7-tcp-stream-keyval-ipv6.txt"))
    assert keyval.ok and keyval.throughput_mbps is not None and keyval.throughput_mbps > 10
    classic = read("netperf-2.7-tcp-stream-classic-ipv6.txt")
    assert "to fd00:250::1 () port 0 AF_INET6" in classic
    assert parse_netperf(classic).throughput_mbps == float(classic.strip().splitlines()[-1].split()[4])
    udp = parse_netperf(read("netperf-2.7-udp-stream-keyval-ipv6.txt"))
    assert udp.ok and udp.test == "udp_stream" and udp.loss_percent is not None


def test_netperf_without_the_family_fails_on_an_ipv6_address() -> None:
    text = read("netperf-2.7-ipv6-without-family.txt")
    assert "could not resolve fd00:250::1 as a host name" in text
    assert read("netperf-2.7-ipv6-without-family.rc").strip() != "0"
    figures = parse_output(text)  # recognised as netperf's, a failure that says why
    assert figures.tool == "netperf" and not figures.ok
    assert figures.error is not None and "could not resolve host 'fd00:250::1'" in figures.error


def _dual_results():  # type: ignore[no-untyped-def]
    stack = Stack.model_validate(
        {
            "clusters": [
                {"name": "a", "ip_family": "dual", "nodes": [{"name": "n1", "labels": {"node": "worker1"}}]},
            ],
            "workloads": {"w1": {"cluster": "a", "node_selector": {"node": "worker1"}},
                          "w2": {"cluster": "a", "node_selector": {"node": "worker1"}}},
            "suites": {"netperf": {"paths": [1], "tools": ["iperf3_tcp", "tcp_rr"], "mss": [1376]},
                       "e2sar": {"enabled": False}},
        }
    )  # fmt: skip
    logs = {
        "p1-iperf3-tcp-mss1376.json": read("iperf3-3.12-tcp-mss1376.json"),
        "p1-iperf3-tcp-mss1376-ipv6.json": read("iperf3-3.12-tcp-mss1376-ipv6.json"),
        "p1-iperf3-tcp-mss1376-ipv6.ss": read("iperf3-3.12-tcp-mss1376-ipv6.ss"),
        "p1-tcp-rr.txt": read("netperf-2.7-tcp-rr-keyval.txt"),
        "p1-tcp-rr-ipv6.txt": read("netperf-2.7-tcp-rr-keyval-ipv6.txt"),
    }
    index = "".join(f"{name.rsplit('.', 1)[0]}\t2026-11-29T17:00:00Z\t2026-11-29T17:00:02Z\t0\t1\n" for name in logs)
    return collect(build_plan(stack), {**logs, "index.tsv": index}, stack="dual", run_id="1")


def test_a_dual_run_carries_the_family_everywhere_but_the_seed_csv() -> None:
    results = _dual_results()
    assert {(c.case_id, c.family) for c in results.cases} == {
        ("p1-iperf3-tcp-mss1376", "ipv4"),
        ("p1-iperf3-tcp-mss1376-ipv6", "ipv6"),
        ("p1-tcp-rr", "ipv4"),
        ("p1-tcp-rr-ipv6", "ipv6"),
    }
    assert all(c.ok for c in results.cases)
    v6 = next(c for c in results.cases if c.case_id == "p1-iperf3-tcp-mss1376-ipv6")
    assert v6.mss_actual == 1364
    # one point per family, not two repeats of one
    assert sorted(p.key for p in results.points if p.tool == "iperf3_tcp") == [
        "p1-iperf3_tcp-mss1376",
        "p1-iperf3_tcp-mss1376-ipv6",
    ]
    assert all(p.n == 1 for p in results.points)
    rows = list(csv.DictReader(io.StringIO(tidy_csv(results))))
    assert {r["family"] for r in rows} == {"ipv4", "ipv6"}
    assert {r["case_id"] for r in rows if r["family"] == "ipv6"} == {"p1-iperf3-tcp-mss1376-ipv6", "p1-tcp-rr-ipv6"}
    assert json.loads(results.model_dump_json())["cases"][1]["family"] in ("ipv4", "ipv6")
    ipv4_mbps = next(c for c in results.cases if c.case_id == "p1-iperf3-tcp-mss1376").throughput_mbps
    assert results.best_mbps("iperf3_tcp", 1) == ipv4_mbps  # the seed's figure is IPv4's
    assert results.best_mbps("iperf3_tcp", 1, family="ipv6") == v6.throughput_mbps
    ipv4_only = results.model_copy(
        update={
            "cases": tuple(c for c in results.cases if c.family == "ipv4"),
            "points": tuple(p for p in results.points if p.family == "ipv4"),
        }
    )
    assert seed_csv(results) == seed_csv(ipv4_only)  # the IPv6 cases leave the seed CSV as it was
    table = results_table(results)
    assert "IPv4:" in table and "IPv6:" in table
    assert table.index("IPv4:") < table.index("IPv6:")


def test_the_html_report_gives_each_family_its_own_rows() -> None:
    """Each section a row per path and family: IPv6 rows labelled, IPv4 rows with IPv4's figures only."""
    results = _dual_results()
    page = report_html(results, {"throughput": "<svg/>", "latency": "<svg/>"})
    by_id = {c.case_id: c for c in results.cases}
    v4, v6 = by_id["p1-iperf3-tcp-mss1376"], by_id["p1-iperf3-tcp-mss1376-ipv6"]
    assert v4.throughput_mbps != v6.throughput_mbps
    tcp = page[page.index('id="tcp"') : page.index('id="udp"')]
    rr = page[page.index('id="rr"') :]
    for section in (tcp, rr):
        assert "Same VM using Pod IP (IPv6)" in section
        assert section.index("Same VM using Pod IP<") < section.index("Same VM using Pod IP (IPv6)")
    v4_row = tcp[tcp.index("Same VM using Pod IP<") : tcp.index("Same VM using Pod IP (IPv6)")]
    v6_row = tcp[tcp.index("Same VM using Pod IP (IPv6)") :]
    assert human(v4.throughput_mbps) in v4_row and human(v6.throughput_mbps) not in v4_row
    assert human(v6.throughput_mbps) in v6_row
