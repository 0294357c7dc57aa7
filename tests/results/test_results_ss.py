"""The MSS in use, from real `ss -tni` snapshots taken during iperf3 TCP tests."""

from __future__ import annotations

import re

import pytest
from results_testkit import read

from results.ss import parse_ss_mss


@pytest.mark.parametrize(
    ("name", "asked", "limit"),
    [
        ("iperf3-3.12-tcp-mss536.ss", 536, 536),
        ("iperf3-3.12-tcp-mss1376.ss", 1376, 1376),
        ("iperf3-3.12-tcp-mss1376-mtu1000.ss", 1376, 1000 - 40),  # the path MTU caps what -M asked
    ],
)
def test_mss_of_the_data_socket(name: str, asked: int, limit: int) -> None:
    text = read(name)
    all_mss = [int(m) for m in re.findall(r"\smss:(\d+)", text)]
    assert len(all_mss) >= 2  # control connection and data connection both listed
    mss = parse_ss_mss(text)
    assert mss is not None and mss <= limit
    assert limit - mss <= 12  # ss's mss leaves out TCP options (timestamps: 12 bytes)
    if asked < 1448:
        assert mss != 1448  # not the control connection's default MSS


def test_busiest_socket_wins() -> None:
    text = (
        "Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n"
        "0 0 10.0.0.2:1 10.0.0.1:5201\n\t cubic mss:1448 rcvmss:536 advmss:1448 bytes_sent:175 bytes_acked:176\n"
        "0 0 10.0.0.2:2 10.0.0.1:5201\n\t cubic mss:88 rcvmss:536 advmss:88 bytes_sent:9000 bytes_acked:8000\n"
    )
    assert parse_ss_mss(text) == 88


@pytest.mark.parametrize(
    "text",
    ["", "Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n", "0 0 a:1 b:2\n\t rcvmss:536 advmss:9\n"],
)
def test_no_socket_no_mss(text: str) -> None:
    assert parse_ss_mss(text) is None
