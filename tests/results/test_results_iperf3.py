"""iperf3 -J parsing on real 3.12 captures and on hand-written 3.1-shaped documents."""

from __future__ import annotations

import json

import pytest
from results_testkit import load_json, read

from results.detect import parse_output
from results.errors import UnknownOutputError
from results.iperf3 import parse_iperf3


@pytest.mark.parametrize("mss", [536, 1376])
def test_tcp_reports_what_the_receiver_got(mss: int) -> None:
    name = f"iperf3-3.12-tcp-mss{mss}.json"
    doc = load_json(name)
    figures = parse_iperf3(read(name))
    assert figures.ok and figures.error is None
    assert figures.tool == "iperf3" and figures.test == "tcp"
    assert figures.throughput_mbps == pytest.approx(doc["end"]["sum_received"]["bits_per_second"] / 1e6)
    assert figures.throughput_mbps != pytest.approx(doc["end"]["sum_sent"]["bits_per_second"] / 1e6, rel=1e-9)
    assert 100 < figures.throughput_mbps < 1_000_000  # a veth pair on one machine: Gbit/s, not bit/s
    assert figures.retransmits == doc["end"]["sum_sent"]["retransmits"]
    assert figures.mss_requested == mss
    assert figures.cpu_host_percent is not None and 0 < figures.cpu_host_percent <= 100
    assert figures.cpu_remote_percent is not None and 0 < figures.cpu_remote_percent <= 100


def test_udp_paced_rate_arrives_whole() -> None:
    figures = parse_iperf3(read("iperf3-3.12-udp-100M-len1400.json"))
    assert figures.ok and figures.test == "udp"
    assert 90 < (figures.throughput_mbps or 0) <= 101  # -b 100M
    assert figures.loss_percent is not None and 0 <= figures.loss_percent < 5
    assert figures.jitter_ms is not None and figures.jitter_ms >= 0
    assert figures.retransmits is None


def test_udp_unlimited_takes_the_receivers_figures_not_the_senders() -> None:
    name = "iperf3-3.12-udp-unlimited-len1400.json"
    end = load_json(name)["end"]
    figures = parse_iperf3(read(name))
    received, sent = end["sum_received"], end["sum_sent"]
    assert figures.throughput_mbps == pytest.approx(received["bits_per_second"] / 1e6)
    assert figures.loss_percent == pytest.approx(received["lost_percent"])
    assert figures.lost_packets == received["lost_packets"]
    assert figures.jitter_ms == pytest.approx(received["jitter_ms"])
    if received["lost_packets"]:
        assert figures.throughput_mbps < sent["bits_per_second"] / 1e6


def test_refused_connection_is_a_failure_though_iperf3_exited_0() -> None:
    assert read("iperf3-3.12-refused.rc").strip() == "0"
    figures = parse_iperf3(read("iperf3-3.12-refused.json"))
    assert not figures.ok
    assert figures.error is not None and "Connection refused" in figures.error
    assert figures.throughput_mbps is None


def test_server_terminated_mid_test_is_a_failure_despite_partial_figures() -> None:
    doc = load_json("iperf3-3.12-server-terminated.json")
    assert read("iperf3-3.12-server-terminated.rc").strip() == "0"
    assert doc["intervals"] and "bits_per_second" in doc["end"]["sum_received"]  # figures a careless parser would take
    figures = parse_iperf3(json.dumps(doc))
    assert not figures.ok
    assert figures.error == "iperf3: the server has terminated"
    assert figures.throughput_mbps is None


def test_error_is_read_before_any_figure() -> None:
    doc = load_json("iperf3-3.12-tcp-mss536.json")
    doc["error"] = "interrupt - the client has terminated"
    figures = parse_iperf3(json.dumps(doc))
    assert not figures.ok and figures.error is not None and "client has terminated" in figures.error


def test_iperf3_31_udp_has_only_end_sum_and_gives_the_received_rate() -> None:
    name = "iperf3-3.1-handwritten-udp-len1400.json"
    end = load_json(name)["end"]
    assert set(end) == {"streams", "sum", "cpu_utilization_percent"}
    figures = parse_iperf3(read(name))
    assert figures.ok and figures.test == "udp"
    assert figures.throughput_mbps == pytest.approx(112 * (1 - 0.025))
    assert figures.loss_percent == 2.5 and figures.lost_packets == 2500 and figures.jitter_ms == 0.125
    assert figures.note is not None and "3.1" in figures.note


def test_iperf3_31_tcp() -> None:
    figures = parse_iperf3(read("iperf3-3.1-handwritten-tcp-mss536.json"))
    assert figures.ok
    assert figures.throughput_mbps == pytest.approx(960.0)
    assert figures.retransmits == 42 and figures.mss_requested == 536
    assert figures.cpu_host_percent == 12.5 and figures.cpu_remote_percent == 9.25


def test_udp_without_any_sum_is_a_failure_not_a_zero() -> None:
    doc = load_json("iperf3-3.12-udp-100M-len1400.json")
    del doc["end"]["sum_received"], doc["end"]["sum"]
    figures = parse_iperf3(json.dumps(doc))
    assert not figures.ok and figures.throughput_mbps is None and "end.sum" in (figures.error or "")


def test_tcp_without_receiver_sum_is_a_failure() -> None:
    doc = load_json("iperf3-3.12-tcp-mss536.json")
    del doc["end"]["sum_received"]
    figures = parse_iperf3(json.dumps(doc))
    assert not figures.ok and "sum_received" in (figures.error or "")


@pytest.mark.parametrize(("rate", "said"), [(-5e8, "-500 Mbit/s"), (0.0, "0 Mbit/s")])
def test_a_negative_or_zero_rate_is_a_failure_not_a_figure(rate: float, said: str) -> None:
    doc = load_json("iperf3-3.12-tcp-mss536.json")
    doc["end"]["sum_received"]["bits_per_second"] = rate
    figures = parse_output(json.dumps(doc))
    assert not figures.ok and figures.throughput_mbps is None
    assert figures.error == f"iperf3 reported {said}"


def test_an_unknown_rate_unit_in_text_output_is_named() -> None:
    text = "Connecting to host 10.0.0.2, port 5201\n[  5]   0.00-1.00   sec  1.00 GBytes  8.59 Pbits/sec    0\n"
    figures = parse_output(text)
    assert not figures.ok and figures.error == "iperf3 rate unit Pbits/sec: unknown unit"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ('{"start": {', "not valid JSON"),
        ('{"hello": 1}', "not iperf3"),
        ("[1, 2]", "not iperf3"),
        ("iperf3: error - unable to connect", "not valid JSON"),
    ],
)
def test_text_that_is_no_iperf3_json_raises(text: str, why: str) -> None:
    with pytest.raises(UnknownOutputError, match=why):
        parse_iperf3(text)
