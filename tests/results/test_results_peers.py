"""The peers' tests on real captures: netperf TCP_CRR, UDP_RR, UDP_STREAM; iperf3 parallel streams
and the UDP datagram-size sweep; through parse, collect, points and every report."""

from __future__ import annotations

import csv
import io
import json

import pytest
from results_testkit import read

from results.collect import collect
from results.iperf3 import parse_iperf3
from results.model import PointSummary, Results
from results.netperf import parse_netperf
from results.report_json import results_json
from results.report_seed_csv import seed_csv
from results.report_table import results_table
from results.report_tidy_csv import tidy_csv
from results.ss import parse_ss_mss_by_port
from spec.model import Stack
from spec.plan import build_plan


def _keyvals(name: str) -> dict[str, float]:
    pairs = (line.split("=", 1) for line in read(name).splitlines() if "=" in line)
    return {k: float(v) for k, v in pairs if k != "THROUGHPUT_UNITS"}


@pytest.mark.parametrize(("name", "test"), [("tcp-crr", "tcp_crr"), ("udp-rr", "udp_rr")])
def test_request_response_tests_give_rate_and_percentiles(name: str, test: str) -> None:
    text = read(f"netperf-2.7-{name}-keyval.txt")
    values = _keyvals(f"netperf-2.7-{name}-keyval.txt")
    figures = parse_netperf(text)
    assert figures.ok and figures.test == test and figures.throughput_mbps is None
    assert figures.transactions_per_s == values["TRANSACTION_RATE"] > 100
    lat = figures.latency_us
    assert lat is not None and (lat.p50, lat.p90, lat.p99) == (
        values["P50_LATENCY"],
        values["P90_LATENCY"],
        values["P99_LATENCY"],
    )
    assert lat.min <= lat.p50 <= lat.p90 <= lat.p99 <= lat.max  # type: ignore[operator]


def test_udp_stream_gives_the_receivers_figures_and_the_loss() -> None:
    values = _keyvals("netperf-2.7-udp-stream-keyval.txt")
    figures = parse_netperf(read("netperf-2.7-udp-stream-keyval.txt"))
    assert figures.ok and figures.test == "udp_stream"
    assert figures.throughput_mbps == values["REMOTE_RECV_THROUGHPUT"]  # the receiver's, not the sender's
    assert values["LOCAL_SEND_THROUGHPUT"] > values["REMOTE_RECV_THROUGHPUT"]  # this capture lost datagrams
    sent, got = values["LOCAL_SEND_CALLS"], values["REMOTE_RECV_CALLS"]
    assert figures.lost_packets == sent - got
    assert figures.loss_percent == pytest.approx((sent - got) / sent * 100)


def test_udp_stream_classic_table_is_the_receivers_line() -> None:
    text = read("netperf-2.7-udp-stream-classic.txt")
    figures = parse_netperf(text)
    assert figures.ok and figures.test == "udp_stream"
    receiver = text.strip().splitlines()[-1].split()
    assert len(receiver) == 4 and figures.throughput_mbps == float(receiver[3])


@pytest.mark.parametrize("name", ["iperf3-3.12-tcp-mss1376-streams4", "iperf3-3.12-udp-unlimited-len1422-streams4"])
def test_parallel_streams_sum_to_the_total_within_one_percent(name: str) -> None:
    figures = parse_iperf3(read(f"{name}.json"))
    assert figures.ok and figures.per_stream is not None and len(figures.per_stream) == 4
    assert all(s.throughput_mbps > 0 for s in figures.per_stream)
    total = sum(s.throughput_mbps for s in figures.per_stream)
    assert figures.throughput_mbps is not None
    assert total == pytest.approx(figures.throughput_mbps, rel=0.01)


def test_udp_streams_sum_to_the_total_when_the_receiver_ends_later() -> None:
    """A loaded receiver's interval is longer than the sender's (a lab run saw 1.5 %): each stream's
    share is over the receiver's interval, as the total is, so the sum still makes the total."""
    doc = json.loads(read("iperf3-3.12-udp-unlimited-len1422-streams4.json"))
    received = doc["end"]["sum_received"]
    received["seconds"] *= 1.03
    received["bits_per_second"] /= 1.03
    figures = parse_iperf3(json.dumps(doc))
    assert figures.per_stream is not None and figures.throughput_mbps is not None
    assert sum(s.throughput_mbps for s in figures.per_stream) == pytest.approx(figures.throughput_mbps, rel=0.01)


def test_one_stream_has_no_per_stream_figures() -> None:
    assert parse_iperf3(read("iperf3-3.12-tcp-mss1376.json")).per_stream is None


def test_each_streams_socket_in_the_snapshot() -> None:
    by_port = parse_ss_mss_by_port(read("iperf3-3.12-tcp-mss1376-streams4.ss"))
    connected = json.loads(read("iperf3-3.12-tcp-mss1376-streams4.json"))["start"]["connected"]
    assert {c["local_port"] for c in connected} <= set(by_port)
    assert {by_port[c["local_port"]] for c in connected} == {1364}  # -M 1376 less the timestamp option


@pytest.fixture(scope="module")
def results() -> Results:
    stack = Stack.model_validate(
        {
            "suites": {
                "netperf": {
                    "paths": [1, 2],
                    "tools": ["iperf3_tcp", "iperf3_udp", "tcp_crr", "udp_rr", "udp_stream"],
                    "mss": [1376],
                    "udp_length": [96, 1422],
                    "streams": 4,
                }
            }
        }
    )
    logs = {
        "p1-iperf3-tcp-mss1376.json": read("iperf3-3.12-tcp-mss1376.json"),
        "p1-iperf3-tcp-mss1376.ss": read("iperf3-3.12-tcp-mss1376.ss"),
        "p1-iperf3-tcp-mss1376-streams4.json": read("iperf3-3.12-tcp-mss1376-streams4.json"),
        "p1-iperf3-tcp-mss1376-streams4.ss": read("iperf3-3.12-tcp-mss1376-streams4.ss"),
        "p1-iperf3-udp-len96.json": read("iperf3-3.12-udp-unlimited-len96.json"),
        "p1-iperf3-udp-len1422-streams4.json": read("iperf3-3.12-udp-unlimited-len1422-streams4.json"),
        "p1-tcp-crr.txt": read("netperf-2.7-tcp-crr-keyval.txt"),
        "p1-udp-rr.txt": read("netperf-2.7-udp-rr-keyval.txt"),
        "p1-udp-stream.txt": read("netperf-2.7-udp-stream-keyval.txt"),
        "p2-tcp-crr.txt": read("netperf-2.7-udp-rr-keyval.txt"),  # another test's output: a failure
    }
    index = "".join(f"{name.rsplit('.', 1)[0]}\t2026-11-29T17:00:00Z\t2026-11-29T17:00:02Z\t0\t1\n" for name in logs)
    return collect(build_plan(stack), {**logs, "index.tsv": index}, stack="peers", run_id="1")


def _case(results: Results, case_id: str):  # type: ignore[no-untyped-def]
    return next(c for c in results.cases if c.case_id == case_id)


def test_collect_keeps_streams_and_each_streams_mss(results: Results) -> None:
    parallel = _case(results, "p1-iperf3-tcp-mss1376-streams4")
    assert parallel.ok and parallel.streams == 4 and parallel.per_stream is not None
    assert [s.mss_actual for s in parallel.per_stream] == [1364] * 4
    assert sum(s.throughput_mbps for s in parallel.per_stream) == pytest.approx(parallel.throughput_mbps, rel=0.01)
    assert _case(results, "p1-iperf3-tcp-mss1376").streams == 1
    assert _case(results, "p2-tcp-crr").error == "p2-tcp-crr.txt: holds netperf udp_rr output, not tcp_crr"


def test_points_tell_streams_apart(results: Results) -> None:
    keys = {p.key for p in results.points}
    assert {"p1-iperf3_tcp-mss1376", "p1-iperf3_tcp-mss1376-streams4", "p1-iperf3_udp-len1422-streams4"} <= keys
    crr = next(p for p in results.points if p.key == "p1-tcp_crr")
    assert crr.metric == "transactions_per_s" and crr.median == _case(results, "p1-tcp-crr").transactions_per_s


def test_the_seed_csv_keeps_one_stream(results: Results) -> None:
    single = _case(results, "p1-iperf3-tcp-mss1376").throughput_mbps
    row = next(line for line in seed_csv(results).splitlines() if line.startswith("1 iperf TCP."))
    assert row.split(";")[2] == f"{single:.0f}"
    assert results.best_mbps("iperf3_tcp", 1) == single  # type: ignore[arg-type]
    # UDP: the best single-stream datagram size of the sweep, not the parallel case
    udp96 = _case(results, "p1-iperf3-udp-len96").throughput_mbps
    assert results.best_mbps("iperf3_udp", 1) == udp96  # type: ignore[arg-type]


def test_tidy_csv_carries_streams_lengths_and_each_stream(results: Results) -> None:
    rows = list(csv.DictReader(io.StringIO(tidy_csv(results))))
    parallel = [r for r in rows if r["case_id"] == "p1-iperf3-tcp-mss1376-streams4"]
    assert {r["streams"] for r in parallel} == {"4"}
    streams = [float(r["value"]) for r in parallel if r["metric"].startswith("stream") and "throughput" in r["metric"]]
    total = next(float(r["value"]) for r in parallel if r["metric"] == "throughput")
    assert len(streams) == 4 and sum(streams) == pytest.approx(total, rel=0.01)
    assert {r["value"] for r in parallel if r["metric"].endswith("_mss_actual")} == {"1364"}
    udp = [r for r in rows if r["case_id"] == "p1-iperf3-udp-len96"]
    assert {r["udp_length"] for r in udp} == {"96"} and any(r["metric"] == "loss" for r in udp)
    crr = [r for r in rows if r["case_id"] == "p1-tcp-crr"]
    assert any(r["metric"] == "connection_rate" and float(r["value"]) > 0 for r in crr)
    assert any(r["metric"] == "latency_p99" for r in crr)


def test_json_and_table_carry_the_new_tools(results: Results) -> None:
    data = json.loads(results_json(results))
    tools = {c["tool"] for c in data["cases"]}
    assert {"tcp_crr", "udp_rr", "udp_stream"} <= tools
    table = results_table(results)
    assert "CRR conn/s (p50 us)" in table and "UDP_STREAM Mbit/s (loss)" in table and "TCP x4 Mbit/s" in table
    crr = _case(results, "p1-tcp-crr")
    parallel = _case(results, "p1-iperf3-tcp-mss1376-streams4")
    row = table.split("CRR conn/s")[1].splitlines()[2]  # after the header and its rule: path 1
    assert row.startswith("1 Same VM using Pod IP")
    assert f" {parallel.throughput_mbps:.0f} " in row
    assert f"{crr.transactions_per_s:.0f} ({crr.latency_us.p50:.0f})" in row  # type: ignore[union-attr]


def test_old_tool_names_in_saved_points_still_load() -> None:
    point = PointSummary.model_validate({"path": 1, "tool": "netperf_rr", "metric": "transactions_per_s", "n": 1})
    assert point.tool == "tcp_rr"
