"""collect(): a plan and a synthetic log folder of real captures -> Results, failures and all."""

from __future__ import annotations

import pytest
from results_testkit import CASES, EXPECTED_FAILURES, log_name, read, small_plan, synthetic_folder, tbf_mbps

from results.collect import collect
from results.index import parse_index
from results.iperf3 import parse_iperf3
from results.logs import read_log_folder
from results.model import Results
from results.netperf import parse_netperf


@pytest.fixture(scope="module")
def results() -> Results:
    return collect(small_plan(), synthetic_folder(), stack="lab", run_id="7")


def test_every_planned_case_once_in_plan_order(results: Results) -> None:
    assert [c.case_id for c in results.cases] == [c.id for c in small_plan().cases]
    assert set(CASES) == {c.case_id for c in results.cases}
    assert results.stack == "lab" and results.run_id == "7"
    assert results.mss_points == (536, 1376)


def test_failures_are_exactly_the_broken_cases(results: Results) -> None:
    assert set(results.failures()) == set(EXPECTED_FAILURES)


@pytest.mark.parametrize("case_id", sorted(EXPECTED_FAILURES))
def test_failure_reason_names_the_log_and_the_cause(results: Results, case_id: str) -> None:
    case = next(c for c in results.cases if c.case_id == case_id)
    assert not case.ok
    assert case.error is not None and case.error.startswith(log_name(case_id) + ": ")
    for words in EXPECTED_FAILURES[case_id]:
        assert words in case.error
    assert case.throughput_mbps is None and case.transactions_per_s is None and case.latency_us is None


def test_ok_cases_carry_the_parsers_figures(results: Results) -> None:
    by_id = {c.case_id: c for c in results.cases}
    tcp = by_id["p1-iperf3-tcp-mss536"]
    expected = parse_iperf3(read("iperf3-3.12-tcp-mss536.json"))
    assert tcp.ok and tcp.throughput_mbps == expected.throughput_mbps and tcp.retransmits == expected.retransmits
    assert tcp.mss_requested == 536 and tcp.mss_actual == 524
    assert tcp.client == "w1" and tcp.target == "w2" and tcp.address == "pod"
    assert tcp.exit_code == 0 and tcp.start is not None and tcp.end is not None and tcp.start < tcp.end
    assert by_id["p5-iperf3-tcp-mss1376"].mss_actual == 948  # the mtu-1000 capture
    assert by_id["p5-iperf3-tcp-mss1376"].address == "vip"
    udp = by_id["p2-iperf3-udp-len1400"]
    assert udp.ok and udp.throughput_mbps == pytest.approx(109.2) and udp.loss_percent == 2.5 and udp.udp_length == 1400
    rr = by_id["p1-tcp-rr"]
    assert rr.latency_us == parse_netperf(read("netperf-2.7-tcp-rr-keyval.txt")).latency_us


def test_last_index_line_of_a_case_counts(results: Results) -> None:
    stream = next(c for c in results.cases if c.case_id == "p1-tcp-stream")
    assert stream.ok and stream.exit_code == 0


def test_throughput_per_seed_row(results: Results) -> None:
    by_id = {c.case_id: c for c in results.cases}
    best = results.throughput()
    assert list(best)[:16] == [
        "1 iperf TCP. Same VM using Pod IP",
        "2 iperf TCP. Same VM using Virtual IP",
        "3 iperf TCP. Remote VM using Pod IP",
        "4 iperf TCP. Remote VM using Virtual IP",
        "5 iperf TCP. Remote Cluster using Pod IP",
        "6 iperf TCP. Hairpin Pod to own Virtual IP",
        "7 iperf UDP. Same VM using Pod IP",
        "8 iperf UDP. Same VM using Virtual IP",
        "9 iperf UDP. Remote VM using Pod IP",
        "10 iperf UDP. Remote VM using Virtual IP",
        "11 iperf UDP. Remote Cluster using Pod IP",
        "12 netperf. Same VM using Pod IP",
        "13 netperf. Same VM using Virtual IP",
        "14 netperf. Remote VM using Pod IP",
        "15 netperf. Remote VM using Virtual IP",
        "16 netperf. Remote Cluster using Pod IP",
    ]
    p1 = [by_id["p1-iperf3-tcp-mss536"].throughput_mbps, by_id["p1-iperf3-tcp-mss1376"].throughput_mbps]
    assert best["1 iperf TCP. Same VM using Pod IP"] == max(v for v in p1 if v is not None)
    assert best["2 iperf TCP. Same VM using Virtual IP"] == pytest.approx(960.0)  # its other MSS failed
    assert best["3 iperf TCP. Remote VM using Pod IP"] is None  # all failed: no figure, not 0
    assert best["4 iperf TCP. Remote VM using Virtual IP"] is None  # not in the plan
    assert best["6 iperf TCP. Hairpin Pod to own Virtual IP"] == by_id["p5-iperf3-tcp-mss1376"].throughput_mbps
    assert best["13 netperf. Same VM using Virtual IP"] == pytest.approx(tbf_mbps())
    assert best["iperf UDP. Hairpin Pod to own Virtual IP"] is None  # planned, not run
    assert best["netperf. Hairpin Pod to own Virtual IP"] is None


def test_throughput_by_mss(results: Results) -> None:
    table = results.throughput_by_mss()
    assert len(table) == 6
    assert table["2 iperf TCP. Same VM using Virtual IP"] == {536: pytest.approx(960.0), 1376: None}
    assert table["4 iperf TCP. Remote VM using Virtual IP"] == {536: None, 1376: None}


def test_latency_per_path(results: Results) -> None:
    latency = results.latency()
    assert set(latency) == {
        "Same VM using Pod IP",
        "Same VM using Virtual IP",
        "Remote VM using Pod IP",
        "Hairpin Pod to own Virtual IP",
    }
    assert latency["Same VM using Pod IP"] is not None and latency["Same VM using Pod IP"].p99 is not None
    assert latency["Remote VM using Pod IP"] is None  # its only RR case did not finish
    assert latency["Hairpin Pod to own Virtual IP"] is None  # classic output: a rate, no latency


def test_empty_folder_means_every_case_not_run() -> None:
    results = collect(small_plan(), {})
    assert len(results.failures()) == len(small_plan().cases)
    assert all("not run" in reason for reason in results.failures().values())
    assert all(v is None for v in results.throughput().values())


def test_nonzero_exit_with_good_output_is_still_a_failure() -> None:
    plan = small_plan()
    case = next(c for c in plan.cases if c.id == "p1-tcp-stream")
    files = {
        case.log_name: read("netperf-2.7-tcp-stream-keyval.txt"),
        f"{case.id}.err": "netperf: warning: something odd\n",
        "index.tsv": f"{case.id}\t2026-11-25T10:00:00Z\t2026-11-25T10:00:02Z\t2\n",
    }
    result = next(c for c in collect(plan, files).cases if c.case_id == case.id)
    assert not result.ok and result.throughput_mbps is None
    assert result.error == f"{case.log_name}: exit 2: netperf: warning: something odd"


def test_parse_index_tolerates_junk_and_crlf() -> None:
    text = "a\t2026-01-01T00:00:00Z\t2026-01-01T00:00:01Z\t0\r\n\nshort line\nb\tnot-a-time\t\tx\n"
    index = parse_index(text)
    assert set(index) == {"a", "b"}
    assert index["a"].exit_code == 0 and index["a"].start is not None
    assert index["b"].exit_code is None and index["b"].start is None


def test_read_log_folder_round_trip(tmp_path) -> None:
    files = synthetic_folder()
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "binary.bin").write_bytes(b"\xff\xfe\x00")
    read_back = read_log_folder(tmp_path)
    assert {k: v for k, v in read_back.items() if k != "binary.bin"} == files
    assert collect(small_plan(), read_back) == collect(small_plan(), files)


def test_read_log_folder_refuses_a_missing_folder(tmp_path) -> None:
    with pytest.raises(NotADirectoryError):
        read_log_folder(tmp_path / "nope")
