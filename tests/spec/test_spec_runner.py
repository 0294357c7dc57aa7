"""Runner scripts, run for real by /bin/sh against stand-in tools.

The stand-ins (`iperf3`, `netperf`, `ss` scripts on PATH) record their arguments and play
success, failure or a hang, so that the script's own mechanics are shown: order, raw logs,
stderr kept apart, the index, exit codes, the time limit. The real tools run in the lab tests.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from spec.model import Stack
from spec.plan import build_plan
from spec.profiles import quick
from spec.runner import case_command, runner_script

STANDIN_IPERF3 = """#!/bin/sh
# stand-in for iperf3: records its arguments, fails for MSS 1376
echo "$*" >> "$STANDIN_CALLS"
case "$*" in
  *"-M 1376"*) echo "iperf3: stand-in refuses" >&2; exit 1 ;;
esac
echo '{"stand_in": "iperf3"}'
"""
STANDIN_NETPERF = """#!/bin/sh
# stand-in for netperf: records its arguments, hangs for TCP_RR, and finds no netserver
# on its first call to the VIP (a server that is still starting)
echo "$*" >> "$STANDIN_CALLS"
case "$*" in
  *TCP_RR*) exec sleep 600 ;;
  *10.96.0.11*)
    if [ ! -e "$STANDIN_CALLS.vip" ]; then
      touch "$STANDIN_CALLS.vip"
      echo "establish control: are you sure there is a netserver listening on 10.96.0.11 at port 12865?" >&2
      exit 1
    fi ;;
esac
echo "THROUGHPUT=1234.5"
"""
STANDIN_SS = """#!/bin/sh
echo "ESTAB 0 0 10.0.0.1:40000 10.0.0.2:5201 cubic mss:1448"
"""


@pytest.fixture
def standins(tmp_path: Path) -> dict[str, str]:
    bindir = tmp_path / "standin-bin"
    bindir.mkdir()
    for name, text in (("iperf3", STANDIN_IPERF3), ("netperf", STANDIN_NETPERF), ("ss", STANDIN_SS)):
        path = bindir / name
        path.write_text(text)
        path.chmod(0o755)
    return {
        **os.environ,
        "PATH": f"{bindir}:{os.environ['PATH']}",
        "STANDIN_CALLS": str(tmp_path / "calls.txt"),
        "MESHPERF_LOGDIR": str(tmp_path / "logs"),
        "MESHPERF_W2_POD_IP": "10.244.1.3",
        "MESHPERF_W2_VIP": "10.96.0.11",
        "MESHPERF_W4_POD_IP": "10.245.1.2",
    }


def _script(tmp_path: Path, client: str, tools: list[str], most: int = 100) -> tuple[Path, list[str]]:
    plan = build_plan(quick(Stack()))
    cases = [c for c in plan.cases_of(client) if c.tool in tools][:most]
    path = tmp_path / f"run-{client}.sh"
    path.write_text(runner_script(client, cases))
    return path, [c.id for c in cases]


def test_script_runs_cases_in_order_and_indexes_each(tmp_path: Path, standins: dict[str, str]) -> None:
    script, ids = _script(tmp_path, "w1", ["iperf3_tcp", "iperf3_udp", "tcp_stream"])
    done = subprocess.run(["sh", str(script)], env=standins, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    logs = tmp_path / "logs"
    index = [line.split("\t") for line in (logs / "index.tsv").read_text().splitlines()]
    assert [row[0] for row in index] == ids
    codes = {row[0]: int(row[3]) for row in index}
    assert codes["p1-iperf3-tcp-mss96"] == 0
    assert codes["p1-iperf3-tcp-mss1376"] == 1
    assert all(row[1].endswith("Z") and row[2] >= row[1] for row in index)
    assert (logs / "p1-iperf3-tcp-mss96.json").read_text().strip() == '{"stand_in": "iperf3"}'
    assert (logs / "p1-iperf3-tcp-mss1376.err").read_text().strip() == "iperf3: stand-in refuses"
    assert not (logs / "p1-iperf3-tcp-mss96.err").exists()
    assert "mss:1448" in (logs / "p1-iperf3-tcp-mss96.ss").read_text()
    assert (logs / "p2-tcp-stream.txt").read_text().strip() == "THROUGHPUT=1234.5"
    attempts = {row[0]: int(row[4]) for row in index}
    assert attempts["p2-tcp-stream"] == 2  # no netserver yet, then measured
    assert attempts["p1-tcp-stream"] == 1
    assert attempts["p1-iperf3-tcp-mss1376"] == 1  # a failure that reached the server is not retried
    assert not (logs / "p2-tcp-stream.err").exists()
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    # First, once: the tools' versions and the node's facts, in the Job's env file and its log.
    assert calls[:2] == ["--version", "-V"]
    env = dict(line.split("\t", 1) for line in (logs / "env-w1.tsv").read_text().splitlines())
    assert env["iperf3"] == '{"stand_in": "iperf3"}' and env["kernel"] == os.uname().release
    assert int(env["cpus"]) == len(os.sched_getaffinity(0))
    assert f"[meshperf] env kernel\t{os.uname().release}" in done.stdout
    calls = calls[2:]
    assert calls[0] == "-c 10.244.1.3 -p 5201 -J -t 1 -M 96"
    assert "-c 10.96.0.11 -p 5201 -J -t 1 -M 96" in calls  # path 2 goes to the VIP
    assert "-H 10.96.0.11 -p 12865 -t TCP_STREAM -l 1 -4 -- -P ,12866" in " ".join(calls)
    assert f"[meshperf] w1 1/{len(ids)} {ids[0]} start" in done.stdout


def test_a_hung_tool_is_cut_and_recorded(tmp_path: Path, standins: dict[str, str]) -> None:
    script, ids = _script(tmp_path, "w3", ["tcp_rr"], most=1)
    started = time.monotonic()
    done = subprocess.run(["sh", str(script)], env=standins, capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - started
    rows = [line.split("\t") for line in (tmp_path / "logs" / "index.tsv").read_text().splitlines()]
    assert [r[0] for r in rows] == ids
    assert all(r[3] == "124" for r in rows)  # timeout's exit code
    assert elapsed < 30
    assert done.returncode == 0


def test_missing_target_address_stops_before_any_case(tmp_path: Path, standins: dict[str, str]) -> None:
    script, _ = _script(tmp_path, "w1", ["iperf3_tcp"])
    env = {k: v for k, v in standins.items() if k != "MESHPERF_W4_POD_IP"}
    done = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert "MESHPERF_W4_POD_IP must hold the target address" in done.stderr
    assert not (tmp_path / "logs" / "index.tsv").exists()


def test_script_is_posix_sh() -> None:
    plan = build_plan(Stack())
    text = runner_script("w1", plan.cases_of("w1"))
    assert text.startswith("#!/bin/sh\n")
    subprocess.run(["sh", "-n"], input=text, text=True, check=True)
    for bashism in ("[[", "function ", "$'", "<(", "&>"):
        assert bashism not in text


def test_case_commands() -> None:
    plan = build_plan(Stack())
    udp = next(c for c in plan.cases if c.tool == "iperf3_udp")
    assert case_command(udp)[-5:] == ["-u", "-b", "0", "-l", "96"]
    rr = next(c for c in plan.cases if c.tool == "tcp_rr")
    command = case_command(rr)
    assert command[command.index("-t") + 1] == "TCP_RR"
    assert "P99_LATENCY" in command[-1]


def _commands(**netperf: object) -> dict[str, list[str]]:
    plan = build_plan(Stack.model_validate({"suites": {"netperf": {"paths": [2], **netperf}}}))
    return {c.id: case_command(c) for c in plan.cases}


def test_netperf_tests_by_tool_with_the_fixed_data_port() -> None:
    commands = _commands(tools=["tcp_stream", "tcp_rr", "tcp_crr", "udp_rr", "udp_stream"], udp_length=[512, 1422])
    tests = {case_id: cmd[cmd.index("-t") + 1] for case_id, cmd in commands.items()}
    assert tests == {
        "p2-tcp-stream": "TCP_STREAM",
        "p2-tcp-rr": "TCP_RR",
        "p2-tcp-crr": "TCP_CRR",
        "p2-udp-rr": "UDP_RR",
        "p2-udp-stream": "UDP_STREAM",
    }
    for cmd in commands.values():  # the data port fixed on every test, as the VIP paths need
        tail = cmd[cmd.index("--") :]
        assert tail[1:3] == ["-P", ",12866"] and cmd[cmd.index("-H") + 1] == "${MESHPERF_W2_VIP}"
    crr, udp_rr, udp_stream = commands["p2-tcp-crr"], commands["p2-udp-rr"], commands["p2-udp-stream"]
    assert "P99_LATENCY" in crr[-1] and "TRANSACTION_RATE" in crr[-1] and "-R" not in crr
    assert udp_rr[udp_rr.index("-R") + 1] == "1"  # netperf's UDP tests do not route unless told
    assert udp_stream[udp_stream.index("-m") + 1] == "1422" and udp_stream[udp_stream.index("-R") + 1] == "1"
    assert {"REMOTE_RECV_THROUGHPUT", "LOCAL_SEND_CALLS", "REMOTE_RECV_CALLS"} <= set(udp_stream[-1].split(","))


def test_parallel_streams_pass_dash_p() -> None:
    commands = _commands(tools=["iperf3_tcp", "iperf3_udp"], mss=[1376], udp_length=[1422], streams=8)
    tcp, udp = commands["p2-iperf3-tcp-mss1376-streams8"], commands["p2-iperf3-udp-len1422-streams8"]
    assert tcp[tcp.index("-P") + 1] == "8" and udp[udp.index("-P") + 1] == "8"
    assert "-P" not in commands["p2-iperf3-tcp-mss1376"]
