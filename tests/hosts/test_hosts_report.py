"""The hosts summary table: a snapshot at its fixed width, so that the columns are seen to line up."""

from __future__ import annotations

from hosts.executor import HostReport, OpResult, RunReport
from hosts.report import summary

SNAPSHOT = """\
host     ok   changed   failed   time
────────────────────────────────────────────────────────────────────────────────────────────────
node-a    -         -        -   3.0s   unreachable: ssh: connection refused
node-b    1         1        0   0.4s
node-c    0         0        1   1.5s   apt iperf3: exit 100: E: Unable to locate package iperf3
3 hosts, 1 changed, 2 failed, in 3.1s"""


def test_summary_table_snapshot() -> None:
    run = RunReport(
        hosts=[
            HostReport(
                "node-b", [OpResult("sysctl net.ipv4.ip_forward=1", "changed"), OpResult("file /x", "ok")], elapsed=0.42
            ),
            HostReport("node-a", error="ssh: connection refused", elapsed=3.0),
            HostReport(
                "node-c",
                [OpResult("apt iperf3", "failed", "exit 100: E: Unable to locate package iperf3")],
                elapsed=1.5,
            ),
        ],
        check=False,
        elapsed=3.1,
    )
    assert summary(run) == SNAPSHOT
