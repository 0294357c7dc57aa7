"""The reports: the seed's CSV (its layout and figures; its 0.00 rows left empty), the tidy CSV, JSON and the table."""

from __future__ import annotations

import csv
import io

import pytest
from results_testkit import EXPECTED_FAILURES, read, small_plan, synthetic_folder, tbf_mbps

from results.collect import collect
from results.model import CaseResult, Results
from results.report_json import results_json
from results.report_seed_csv import seed_csv
from results.report_table import results_table
from results.report_tidy_csv import COLUMNS, tidy_csv
from spec.model import Stack
from spec.plan import build_plan

# The seed's CSV block (seeds/cluster-mesh-netperf.md, MSS line to row 16), as its users read it.
SEED_BLOCK = read("seed-cluster-mesh-netperf.csv")
SEED_LINES = SEED_BLOCK.splitlines()
TCP_ROW_OF_PATH = {1: 1, 2: 2, 3: 3, 4: 4, 6: 5, 5: 6}
OTHER_ROW_OF_PATH = {1: 0, 2: 1, 3: 2, 4: 3, 6: 4}


def _fields(row: int) -> list[str]:
    return SEED_LINES[row].split(";")[1:-1]


def _seed_results() -> Results:
    """The seed's own figures as Results of the default plan; its 0.00 rows as failures."""
    cases = []
    for case in build_plan(Stack()).cases:
        value: float | None = None
        path = int(case.path)
        if case.tool == "iperf3_tcp":
            points = [int(m) for m in SEED_LINES[0].split(";")[2:-1]]
            value = float(_fields(TCP_ROW_OF_PATH[path])[1 + points.index(case.mss or 0)])
        elif case.tool in ("iperf3_udp", "tcp_stream") and path in OTHER_ROW_OF_PATH:
            row = OTHER_ROW_OF_PATH[path] + (7 if case.tool == "iperf3_udp" else 12)
            value = float(_fields(row)[1]) or None
        ok = value is not None or case.tool == "tcp_rr"
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
                error=None if ok else f"{case.log_name}: exit 1",
                throughput_mbps=value,
                log=case.log_name,
            )
        )
    plan_mss = tuple(sorted({c.mss for c in build_plan(Stack()).cases if c.mss}))
    return Results(stack="seed", run_id="1", mss_points=plan_mss, cases=tuple(cases))


def test_seed_figures_give_the_seeds_csv_but_its_zero_rows_empty() -> None:
    """Character for character, except the three rows the seed filled with 0.00 for failures."""
    expected = SEED_BLOCK
    for row in (13, 15, 16):  # the seed's 0.00 were failures: we leave them empty
        label = SEED_LINES[row].split(";")[0]
        expected = expected.replace(SEED_LINES[row], f"{label};;;")
    assert seed_csv(_seed_results()) == expected


def test_framed_seed_csv_has_the_seeds_frame() -> None:
    lines = seed_csv(_seed_results(), framed=True).splitlines()
    assert lines[0] == "ALL TESTCASES AND MSS RANGES COMPLETE - GENERATING CSV OUTPUT"
    assert lines[2] == SEED_LINES[0] and lines[-1] == "END CSV DATA" and len(lines) == 20


@pytest.fixture(scope="module")
def results() -> Results:
    return collect(small_plan(), synthetic_folder(), stack="lab", run_id="7")


def test_seed_csv_layout_on_a_partial_run(results: Results) -> None:
    lines = seed_csv(results).splitlines()
    assert len(lines) == 17
    assert lines[0] == "MSS                                          ; Maximum; 536; 1376;"
    labels = [line.split(";")[0] for line in lines]
    assert labels == [line.split(";")[0] for line in SEED_LINES]  # labels and padding as the seed's
    assert all(line.endswith(";") for line in lines)
    best = results.throughput()
    by_mss = results.throughput_by_mss()["1 iperf TCP. Same VM using Pod IP"]
    shown = [f"{by_mss[m]:.0f}" for m in (536, 1376)]
    assert lines[1] == f"{labels[1]};{max(float(s) for s in shown):f};{shown[0]};{shown[1]};"
    assert lines[2] == f"{labels[2]};960.000000;960;;"  # MSS 1376 failed: empty, not 0
    for row in (3, 4, 5):  # path 3 all failed, paths 4 and 6 not in the plan
        assert lines[row] == f"{labels[row]};;;;"
    assert lines[6].startswith(labels[6] + ";") and lines[6].endswith(";;" + lines[6].split(";")[-2] + ";")
    udp = best["7 iperf UDP. Same VM using Pod IP"]
    assert udp is not None and lines[7] == f"{labels[7]};{round(udp):f};{udp:.0f};"
    shown_tbf = f"{tbf_mbps():.2f}"  # the tbf-limited netperf run: under 100 Mbit/s, two decimals
    assert lines[13] == f"{labels[13]};{float(shown_tbf):f};{shown_tbf};"
    for row in (9, 10, 11, 14, 15, 16):
        assert lines[row] == f"{labels[row]};;;"
    assert ";0;" not in "\n".join(lines) and "0.00;" not in "\n".join(lines)


def test_tidy_csv_reads_back(results: Results) -> None:
    rows = list(csv.DictReader(io.StringIO(tidy_csv(results))))
    assert rows and tuple(rows[0]) == COLUMNS
    errors = [r for r in rows if r["metric"] == "error"]
    assert sorted(r["case_id"] for r in errors) == sorted(EXPECTED_FAILURES)  # one row per failed case
    assert all(r["value"].startswith(r["case_id"]) for r in errors)
    figures = [r for r in rows if r["metric"] != "error"]
    assert not {r["case_id"] for r in figures} & set(EXPECTED_FAILURES)
    tcp = next(r for r in figures if r["case_id"] == "p1-iperf3-tcp-mss536" and r["metric"] == "throughput")
    case = next(c for c in results.cases if c.case_id == "p1-iperf3-tcp-mss536")
    assert float(tcp["value"]) == pytest.approx(case.throughput_mbps)
    assert tcp["unit"] == "Mbit/s" and tcp["mss_requested"] == "536" and tcp["mss_actual"] == "524"
    assert tcp["path"] == "1" and tcp["path_label"] == "Same VM using Pod IP"
    p99 = next(r for r in figures if r["case_id"] == "p1-tcp-rr" and r["metric"] == "latency_p99")
    assert p99["unit"] == "us" and float(p99["value"]) > 0


def test_json_round_trips(results: Results) -> None:
    text = results_json(results)
    assert Results.model_validate_json(text) == results
    assert '"stack": "lab"' in text


TABLE_SNAPSHOT = """\
path                              TCP max Mbit/s (MSS)   UDP Mbit/s (loss)   netperf Mbit/s   RR p50 us   RR p99 us
───────────────────────────────────────────────────────────────────────────────────────────────────────────────────
1 Same VM using Pod IP                     1683 (1376)        155 (52.46%)          1726.04          14        2650
2 Same VM using Virtual IP                   960 (536)         109 (2.50%)            47.59          14        1589
3 Remote VM using Pod IP                          FAIL                FAIL             FAIL        FAIL        FAIL
5 Hairpin Pod to own Virtual IP            2003 (1376)                FAIL             FAIL           ?           ?"""


def test_table(results: Results) -> None:
    text = results_table(results)
    lines = text.splitlines()
    assert lines[0] == "meshperf results: lab, run 7"
    assert f"{len(results.cases)} cases, {len(EXPECTED_FAILURES)} failed" in text
    header = next(line for line in lines if line.startswith("path"))
    assert "TCP max Mbit/s (MSS)" in header and "RR p99 us" in header
    assert "TCP max: the highest of the path's 2 MSS points" in text and "each figure is a single sample" in text
    rows = {line.split("  ")[0]: line for line in lines if line[:2] in ("1 ", "2 ", "3 ", "4 ", "5 ", "6 ")}
    assert set(rows) == {
        "1 Same VM using Pod IP",
        "2 Same VM using Virtual IP",
        "3 Remote VM using Pod IP",
        "5 Hairpin Pod to own Virtual IP",
    }
    assert rows["3 Remote VM using Pod IP"].split()[-5:] == ["FAIL"] * 5
    assert "960 (536)" in rows["2 Same VM using Virtual IP"]
    assert f"{tbf_mbps():.2f}" in rows["2 Same VM using Virtual IP"]
    start = lines.index(header)
    assert lines[start + 1 : start + 6] and set(lines[start + 1]) == {"─"}
    block = lines[start : start + 6]
    assert block == TABLE_SNAPSHOT.splitlines()  # at rich's fixed width: every column lines up
    assert {len(line) for line in block} == {len(header)}  # right-aligned to one edge
    assert f"failures ({len(EXPECTED_FAILURES)}):" in text
    for case_id in EXPECTED_FAILURES:
        assert f"  {case_id}: " in text
