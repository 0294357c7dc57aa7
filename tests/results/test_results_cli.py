"""`python -m results` as a user runs it: exit codes, stderr lines, JSON keys, reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from results_testkit import DATA, ROOT, synthetic_folder


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "results", *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("name", "keys"),
    [
        ("iperf3-3.12-tcp-mss536.json", {"tool", "ok", "throughput_mbps", "retransmits"}),
        ("iperf3-3.12-udp-unlimited-len1400.json", {"tool", "ok", "throughput_mbps", "loss_percent", "jitter_ms"}),
        ("netperf-2.7-tcp-stream-classic-tbf50mbit.txt", {"tool", "ok", "throughput_mbps"}),
        ("netperf-2.7-tcp-rr-keyval.txt", {"tool", "ok", "transactions_per_s", "latency_us"}),
    ],
)
def test_parse_prints_figures(name: str, keys: set[str]) -> None:
    done = run("parse", str(DATA / name))
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert keys <= set(figures)
    assert figures["ok"] is True and "error" not in figures
    assert figures["tool"] == name.split("-")[0]
    if "latency_us" in keys:
        assert {"p50", "p90", "p99", "mean", "min", "max"} <= set(figures["latency_us"])


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("iperf3-3.12-server-terminated.json", "the server has terminated"),
        ("iperf3-3.12-refused.json", "Connection refused"),
        ("netperf-2.7-no-netserver.txt", "establish control"),
    ],
)
def test_parse_of_a_failed_run_exits_0_and_says_why(name: str, words: str) -> None:
    done = run("parse", str(DATA / name))
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["ok"] is False and words in figures["error"]
    assert "throughput_mbps" not in figures


def test_parse_of_no_tool_output_is_one_stderr_line(tmp_path: Path) -> None:
    garbage = tmp_path / "p1-iperf3-tcp-mss96.json"
    garbage.write_bytes(b"\x00\xffSegmentation fault\n")
    for file in (garbage, DATA / "iperf3-3.12-tcp-mss536.ss", tmp_path / "missing.json"):
        done = run("parse", str(file))
        assert done.returncode != 0
        assert done.stdout == ""
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"{file}: ")


def test_report_writes_the_reports(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.lab.yaml"
    stack.write_text(
        "config:\n"
        "  meshperf:run_id: r7\n"
        "  meshperf:suites:\n"
        "    netperf:\n"
        "      paths: [1, 2, 3, 5]\n"
        "      mss: [536, 1376]\n"
        "      duration_s: 2\n"
    )
    logs = tmp_path / "logs"
    for name, text in synthetic_folder().items():
        (logs / name).parent.mkdir(parents=True, exist_ok=True)
        (logs / name).write_text(text)
    out = tmp_path / "out"
    done = run("report", str(logs), "--stack", str(stack), "--out", str(out), "--content-hash", "0123456789abcdef")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"meshperf results: {stack}, run r7 (0123456789ab)")
    assert sorted(p.name for p in out.iterdir()) == [
        "latency.png",
        "latency.svg",
        "report.html",
        "results-tidy.csv",
        "results.csv",
        "results.json",
        "throughput-vs-mss.png",
        "throughput-vs-mss.svg",
    ]
    assert (out / "results.csv").read_text().splitlines()[0].endswith("; Maximum; 536; 1376;")
    saved = json.loads((out / "results.json").read_text())
    assert saved["run_id"] == "r7"
    assert saved["run"]["label"] == "run r7 (0123456789ab)"
    assert saved["run"]["durations"] == {t: 2.0 for t in ("iperf3_tcp", "iperf3_udp", "netperf_stream", "netperf_rr")}
    assert saved["run"]["mss"] == [536, 1376] and saved["run"]["kernel"] is None
    as_json = run("report", str(logs), "--stack", str(stack), "--out", str(out), "--json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout)["run"]["label"] == "run r7"


def test_report_with_a_bad_stack_is_one_line(tmp_path: Path) -> None:
    done = run("report", str(tmp_path), "--stack", str(tmp_path / "Pulumi.none.yaml"))
    assert done.returncode != 0 and len(done.stderr.strip().splitlines()) == 1
