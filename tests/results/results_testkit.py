"""Shared test data for tests/results: the captured outputs and a synthetic log folder.

The synthetic folder is built from the real captures in data/ (see capture_outputs.sh),
placed under case ids of a small plan, with every way a case can fail represented once.
"""

from __future__ import annotations

import json
from pathlib import Path

from spec.model import Stack
from spec.plan import Plan, build_plan

DATA = Path(__file__).resolve().parent / "data"
ROOT = Path(__file__).resolve().parents[2]


def read(name: str) -> str:
    return (DATA / name).read_text()


def load_json(name: str) -> dict:
    return json.loads(read(name))


def small_stack() -> Stack:
    """Default clusters and workloads; paths 1, 2, 3 and 5 (4 and 6 not run); two MSS points, one UDP length."""
    netperf = {"paths": [1, 2, 3, 5], "mss": [536, 1376], "udp_length": 1400, "duration_s": 2}
    return Stack.model_validate({"suites": {"netperf": netperf}})


def small_plan() -> Plan:
    return build_plan(small_stack())


def tbf_mbps() -> float:
    """The THROUGHPUT (in 10^3bits/s) of the tbf-limited capture, in Mbit/s: p2's netperf figure."""
    text = read("netperf-2.7-tcp-stream-keyval-kbits-tbf50mbit.txt")
    return float(next(line for line in text.splitlines() if line.startswith("THROUGHPUT=")).split("=")[1]) / 1000


GARBAGE = "Segmentation fault (core dumped)\n\x00\x01 not a tool's output\n"

# case id -> (log content or None for no log, exit code or None for no index line, extra files)
CASES: dict[str, tuple[str | None, int | None, dict[str, str]]] = {
    "p1-iperf3-tcp-mss536": (read("iperf3-3.12-tcp-mss536.json"), 0, {"ss": read("iperf3-3.12-tcp-mss536.ss")}),
    "p1-iperf3-tcp-mss1376": (read("iperf3-3.12-tcp-mss1376.json"), 0, {"ss": read("iperf3-3.12-tcp-mss1376.ss")}),
    "p1-iperf3-udp-len1400": (read("iperf3-3.12-udp-unlimited-len1400.json"), 0, {}),
    "p1-tcp-stream": (read("netperf-2.7-tcp-stream-keyval.txt"), 0, {}),
    "p1-tcp-rr": (read("netperf-2.7-tcp-rr-keyval.txt"), 0, {}),
    "p2-iperf3-tcp-mss536": (read("iperf3-3.1-handwritten-tcp-mss536.json"), 0, {}),
    "p2-iperf3-tcp-mss1376": (read("iperf3-3.12-server-terminated.json"), 0, {}),
    "p2-iperf3-udp-len1400": (read("iperf3-3.1-handwritten-udp-len1400.json"), 0, {}),
    "p2-tcp-stream": (read("netperf-2.7-tcp-stream-keyval-kbits-tbf50mbit.txt"), 0, {}),
    "p2-tcp-rr": (read("netperf-2.7-tcp-rr-csv.txt"), 0, {}),
    "p3-iperf3-tcp-mss536": (read("iperf3-3.12-refused.json"), 1, {}),
    "p3-iperf3-tcp-mss1376": ("", 124, {}),
    "p3-iperf3-udp-len1400": (GARBAGE, 0, {}),
    "p3-tcp-stream": (None, 0, {}),
    "p3-tcp-rr": (read("netperf-2.7-tcp-rr-keyval.txt"), None, {}),
    "p5-iperf3-tcp-mss536": (read("netperf-2.7-tcp-stream-classic.txt"), 0, {}),
    "p5-iperf3-tcp-mss1376": (
        read("iperf3-3.12-tcp-mss1376-mtu1000.json"),
        0,
        {"ss": read("iperf3-3.12-tcp-mss1376-mtu1000.ss")},
    ),
    "p5-iperf3-udp-len1400": (None, None, {}),
    "p5-tcp-stream": (read("netperf-2.7-no-netserver.txt"), 255, {}),
    "p5-tcp-rr": (read("netperf-2.7-tcp-rr-classic.txt"), 0, {}),
}

# Failed case id -> words its reason must hold (besides its log file's name).
EXPECTED_FAILURES: dict[str, tuple[str, ...]] = {
    "p2-iperf3-tcp-mss1376": ("the server has terminated",),
    "p3-iperf3-tcp-mss536": ("exit 1", "Connection refused"),
    "p3-iperf3-tcp-mss1376": ("timed out", "124", "empty output"),
    "p3-iperf3-udp-len1400": ("unreadable output",),
    "p3-tcp-stream": ("no log",),
    "p3-tcp-rr": ("no index line",),
    "p5-iperf3-tcp-mss536": ("holds netperf",),
    "p5-iperf3-udp-len1400": ("not run",),
    "p5-tcp-stream": ("exit 255", "establish control"),
}


def log_name(case_id: str) -> str:
    return f"{case_id}.{'json' if 'iperf3' in case_id else 'txt'}"


def synthetic_folder() -> dict[str, str]:
    """File name -> content, as read_log_folder returns it: logs at the top, the index in
    two per-node files (w1's and w3's), one case indexed twice (a failed try, then the run)."""
    files: dict[str, str] = {}
    index: dict[str, list[str]] = {"w1/index.tsv": [], "w3/index.tsv": [], "w2/index.tsv": []}
    client = {1: "w1", 2: "w1", 3: "w3", 5: "w2"}
    for case_id, (log, code, extra) in CASES.items():
        if log is not None:
            files[log_name(case_id)] = log
        for ext, text in extra.items():
            files[f"{case_id}.{ext}"] = text
        if code is not None:
            node_index = index[f"{client[int(case_id[1])]}/index.tsv"]
            if case_id == "p1-tcp-stream":
                node_index.append(f"{case_id}\t2026-11-25T10:00:00Z\t2026-11-25T10:00:01Z\t1")
            node_index.append(f"{case_id}\t2026-11-25T10:00:02Z\t2026-11-25T10:00:04Z\t{code}")
    for name, lines in index.items():
        files[name] = "\n".join(lines) + "\n"
    return files


def more_tools_stack() -> Stack:
    """Paths 1 and 6 with the tools beyond the seed's: TCP_CRR, UDP_RR, UDP_STREAM, 4 parallel
    streams, and a UDP datagram-size sweep of two lengths."""
    netperf = {
        "paths": [1, 6],
        "tools": ["iperf3_tcp", "iperf3_udp", "tcp_crr", "udp_rr", "udp_stream"],
        "mss": [1376],
        "udp_length": [96, 1400],
        "streams": 4,
        "duration_s": 2,
    }
    return Stack.model_validate({"suites": {"netperf": netperf}})


# A case id without its path -> the capture that stands for its output, and its `ss` snapshot.
MORE_TOOLS_LOGS: dict[str, tuple[str, str | None]] = {
    "iperf3-tcp-mss1376": ("iperf3-3.12-tcp-mss1376.json", "iperf3-3.12-tcp-mss1376.ss"),
    "iperf3-tcp-mss1376-streams4": ("iperf3-3.12-tcp-mss1376-streams4.json", "iperf3-3.12-tcp-mss1376-streams4.ss"),
    "iperf3-udp-len96": ("iperf3-3.12-udp-unlimited-len96.json", None),
    "iperf3-udp-len1400": ("iperf3-3.12-udp-unlimited-len1400.json", None),
    "iperf3-udp-len1400-streams4": ("iperf3-3.12-udp-unlimited-len1422-streams4.json", None),
    "tcp-crr": ("netperf-2.7-tcp-crr-keyval.txt", None),
    "udp-rr": ("netperf-2.7-udp-rr-keyval.txt", None),
    "udp-stream": ("netperf-2.7-udp-stream-keyval.txt", None),
}
MORE_TOOLS_FAILED = "p6-udp-rr"  # left without a log or an index line


def more_tools_folder() -> dict[str, str]:
    """A log folder of `more_tools_stack()`'s plan from the captures, every case measured but one."""
    files: dict[str, str] = {}
    index = []
    for case in build_plan(more_tools_stack()).cases:
        if case.id == MORE_TOOLS_FAILED:
            continue
        log, snapshot = MORE_TOOLS_LOGS[case.id.split("-", 1)[1]]
        files[case.log_name] = read(log)
        if snapshot:
            files[f"{case.id}.ss"] = read(snapshot)
        index.append(f"{case.id}\t2026-11-29T10:00:00Z\t2026-11-29T10:00:02Z\t0\t1\n")
    return files | {"index.tsv": "".join(index)}
