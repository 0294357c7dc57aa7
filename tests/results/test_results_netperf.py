"""netperf parsing on real 2.7.0 captures: classic tables, omni -k and -o, failures."""

from __future__ import annotations

import pytest
from results_testkit import read

from results.detect import parse_output
from results.errors import UnknownOutputError
from results.netperf import parse_netperf


def _keyvals(name: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in read(name).splitlines() if "=" in line)


def test_stream_classic_is_the_last_lines_fifth_field() -> None:
    text = read("netperf-2.7-tcp-stream-classic.txt")
    figures = parse_netperf(text)
    assert figures.ok and figures.tool == "netperf" and figures.test == "tcp_stream"
    assert figures.throughput_mbps == float(text.strip().splitlines()[-1].split()[4])
    assert 100 < figures.throughput_mbps < 1_000_000


def test_stream_keyval_in_megabits() -> None:
    name = "netperf-2.7-tcp-stream-keyval.txt"
    values = _keyvals(name)
    assert values["THROUGHPUT_UNITS"] == "10^6bits/s"
    assert parse_netperf(read(name)).throughput_mbps == pytest.approx(float(values["THROUGHPUT"]))


def test_stream_keyval_in_gigabits_is_converted() -> None:
    name = "netperf-2.7-tcp-stream-keyval-gbits.txt"
    values = _keyvals(name)
    assert values["THROUGHPUT_UNITS"] == "10^9bits/s"
    figures = parse_netperf(read(name))
    assert figures.throughput_mbps == pytest.approx(float(values["THROUGHPUT"]) * 1000)
    assert figures.throughput_mbps > 100


def test_stream_csv_output() -> None:
    text = read("netperf-2.7-tcp-stream-csv.txt")
    value = float(text.strip().splitlines()[-1].split(",")[0])
    figures = parse_netperf(text)
    assert figures.ok and figures.test == "tcp_stream" and figures.throughput_mbps == pytest.approx(value)


@pytest.mark.parametrize(
    "name", ["netperf-2.7-tcp-stream-classic-tbf50mbit.txt", "netperf-2.7-tcp-stream-keyval-kbits-tbf50mbit.txt"]
)
def test_under_100_mbits_still_parses(name: str) -> None:
    figures = parse_netperf(read(name))
    assert figures.ok
    assert figures.throughput_mbps is not None and 30 < figures.throughput_mbps < 55  # tbf rate 50mbit


def test_rr_classic_is_the_last_full_lines_sixth_field() -> None:
    text = read("netperf-2.7-tcp-rr-classic.txt")
    full = [line.split() for line in text.splitlines() if len(line.split()) == 6]
    figures = parse_netperf(text)
    assert figures.ok and figures.test == "tcp_rr"
    assert figures.transactions_per_s == float(full[-1][5])
    assert figures.transactions_per_s > 100
    assert figures.throughput_mbps is None


@pytest.mark.parametrize("name", ["netperf-2.7-tcp-rr-keyval.txt", "netperf-2.7-tcp-rr-csv.txt"])
def test_rr_omni_latency_percentiles(name: str) -> None:
    figures = parse_netperf(read(name))
    assert figures.ok and figures.test == "tcp_rr"
    lat = figures.latency_us
    assert lat is not None
    assert None not in (lat.min, lat.p50, lat.p90, lat.p99, lat.max, lat.mean)
    assert lat.min <= lat.p50 <= lat.p90 <= lat.p99 <= lat.max  # type: ignore[operator]
    assert 0 < lat.p50 < 100_000  # type: ignore[operator]
    assert figures.transactions_per_s is not None and figures.transactions_per_s > 100


def test_rr_keyval_values_are_taken_as_written() -> None:
    values = _keyvals("netperf-2.7-tcp-rr-keyval.txt")
    figures = parse_netperf(read("netperf-2.7-tcp-rr-keyval.txt"))
    assert figures.latency_us is not None
    assert figures.latency_us.p99 == float(values["P99_LATENCY"])
    assert figures.latency_us.mean == float(values["MEAN_LATENCY"])
    assert figures.transactions_per_s == float(values["TRANSACTION_RATE"])


def test_no_netserver_is_a_failure_with_netperfs_words() -> None:
    assert read("netperf-2.7-no-netserver.rc").strip() != "0"
    figures = parse_netperf(read("netperf-2.7-no-netserver.txt"))
    assert not figures.ok
    assert figures.error is not None
    assert "establish control: are you sure there is a netserver listening" in figures.error
    assert "12999" in figures.error


BANNER = "MIGRATED TCP STREAM TEST from 0.0.0.0 (0.0.0.0) port 0 AF_INET to 10.0.0.1 () port 12866 AF_INET : demo\n"
RR_BANNER = (
    "MIGRATED TCP REQUEST/RESPONSE TEST from 0.0.0.0 (0.0.0.0) port 0 AF_INET to 10.0.0.1 () port 12866 AF_INET"
    " : demo : first burst 0\n"
)


@pytest.mark.parametrize(
    ("text", "mbps"),
    [
        (BANNER + "THROUGHPUT=12.5\nTHROUGHPUT_UNITS=10^6bits/s\n", 12.5),
        (BANNER + "THROUGHPUT=0.75\nTHROUGHPUT_UNITS=10^9bits/s\n", 750.0),
        (BANNER + "THROUGHPUT=8000\nTHROUGHPUT_UNITS=10^3bits/s\n", 8.0),
        (BANNER + "THROUGHPUT=10\nTHROUGHPUT_UNITS=10^6bytes/s\n", 80.0),
        (BANNER + "THROUGHPUT=3.5\n", 3.5),
    ],
)
def test_any_unit_and_magnitude(text: str, mbps: float) -> None:
    figures = parse_netperf(text)
    assert figures.ok and figures.throughput_mbps == pytest.approx(mbps)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (BANNER + "THROUGHPUT=0.00\nTHROUGHPUT_UNITS=10^6bits/s\n", "netperf reported 0 Mbit/s"),
        (BANNER + "THROUGHPUT=5\nTHROUGHPUT_UNITS=furlongs/s\n", "THROUGHPUT_UNITS 'furlongs/s': unknown unit"),
    ],
)
def test_zero_throughput_and_unknown_units_are_failures_that_say_so(text: str, why: str) -> None:
    figures = parse_output(text)
    assert not figures.ok and figures.throughput_mbps is None
    assert figures.error is not None and why in figures.error


def test_rr_throughput_in_transactions() -> None:
    figures = parse_netperf(RR_BANNER + "THROUGHPUT=1234.5\nTHROUGHPUT_UNITS=Trans/s\nP50_LATENCY=-1\n")
    assert figures.ok and figures.test == "tcp_rr"
    assert figures.transactions_per_s == 1234.5 and figures.throughput_mbps is None
    assert figures.latency_us is None  # -1 is netperf's "not measured"


def test_data_connection_error_after_banner() -> None:
    text = BANNER + "netperf: send_omni: connect_data_socket failed: Connection refused\n"
    figures = parse_netperf(text)
    assert not figures.ok and "connect_data_socket failed" in (figures.error or "")


def test_banner_without_a_result_is_a_failure() -> None:
    figures = parse_netperf(BANNER)
    assert not figures.ok and figures.error == "netperf output without a result line"


def test_stream_keys_without_throughput_is_a_failure_not_a_zero() -> None:
    figures = parse_netperf(BANNER + "LOCAL_SEND_SIZE=16384\nELAPSED_TIME=2.00\n")
    assert not figures.ok and figures.throughput_mbps is None


@pytest.mark.parametrize("text", ["", "hello world\n", "Recv-Q Send-Q\n0 0 1.2.3.4:5 6.7.8.9:10\n"])
def test_unknown_text_raises(text: str) -> None:
    with pytest.raises(UnknownOutputError):
        parse_netperf(text)
