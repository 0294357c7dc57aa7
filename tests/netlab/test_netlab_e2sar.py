"""The E2SAR suite through the real lab: runner scripts, UDP between namespaces, logs, parsing.

There is no e2sar_perf here: a STAND-IN (tests/netlab/e2sar_standin.py, installed first
on PATH as `e2sar_perf`) takes the seed's command lines, refuses what E2SAR refuses, moves
real UDP (each event cut into MTU-sized frames) from the sender's pod to the receiver's across
the lab's clusters, reassembles and counts what really arrived, and prints each E2SAR
version's format. What it shows: the pairing (the sender reaches the receiver's address and
port range), the protocol (the receiver is up before the sender sends, both end, both logs and
index lines), the parsing of both formats, and the loss figures against a link that drops on
purpose (a tbf below the send rate), checked against the tbf's own counters. What it cannot
show, and these tests do not claim: how E2SAR itself loses events (its threads, its queues).
Without it on PATH, the lab says the suite is skipped in one line and runs the rest.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from labrun import run_netlab

ROOT = Path(__file__).resolve().parents[2]
MESH = yaml.safe_load((ROOT / "stacks" / "Pulumi.kind-mesh.yaml").read_text())
STANDIN = Path(__file__).resolve().parent / "e2sar_standin.py"
EVENTS = 2000
TOKEN = "lab-T0ken.never_in_files"


def _stack(tmp_path: Path, netperf: dict[str, object], **e2sar: object) -> Path:
    document = json.loads(json.dumps(MESH))
    suites = document["config"]["meshperf:suites"]
    suites["netperf"].pop("steady_state")  # fixed-duration cases, as each test sets them
    suites["netperf"].update(netperf)
    suites["e2sar"].update({"rates_gbps": [0.1], "num_events": EVENTS, "duration_s": 2, "threads": 2, **e2sar})
    path = tmp_path / "Pulumi.e2sartest.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _standin_processes(marker: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if marker in line]


@pytest.fixture
def standin() -> Iterator[Path]:
    """A folder holding the stand-in as `e2sar_perf`, removed after the test. The E2SAR Jobs run as the
    pod's user (10001) on the host's userland (E2SAR's image is not built here): the stand-in must be
    where that user can run it (not under /tmp: the pods mount an emptyDir there), with the system's
    python. Its settings go in `standin.json` beside it: a pod gets no env of the host."""
    bindir = Path(tempfile.mkdtemp(prefix="meshperf-standin-", dir="/var/tmp"))
    try:
        bindir.chmod(0o755)
        exe = bindir / "e2sar_perf"
        exe.write_text(f"#!/usr/bin/python3\n# STAND-IN for e2sar_perf (see {STANDIN.name})\n" + STANDIN.read_text())
        exe.chmod(0o755)
        yield bindir
    finally:
        shutil.rmtree(bindir)


@pytest.mark.usefixtures("clean_machine")
@pytest.mark.parametrize("version", ["0.1.4", "0.3.1"])
def test_sender_and_receiver_scripts_run_in_the_lab_with_a_standin(tmp_path: Path, standin: Path, version: str) -> None:
    bindir = standin
    (bindir / "standin.json").write_text(json.dumps({"STANDIN_E2SAR_VERSION": version}))
    env = {"PATH": f"{bindir}:{os.environ['PATH']}", "MESHPERF_E2SAR_TOKEN": TOKEN}
    code, output = run_netlab(tmp_path, _stack(tmp_path, {"enabled": False}), env)
    assert code == 0, output
    assert "e2sar-100m: 0.1 Gbps pair done" in output
    folder = Path(re.search(r"^run folder: (.+)$", output, re.MULTILINE)[1])  # type: ignore[index]
    logs = folder / "logs"  # each Job's log folder is a subfolder
    (receiver_log,) = (p.read_text() for p in logs.rglob("e2sar-100m-receiver.txt"))
    (sender_log,) = (p.read_text() for p in logs.rglob("e2sar-100m-sender.txt"))
    assert "Receiving on ports" in receiver_log and "19522:19523" in receiver_log  # 2 threads: 2 UDP ports
    # 512-byte events at MTU 512: two frames each (MTU - 64 bytes of data a frame); E2SAR's separators
    assert re.search(rf"^Completed, {2 * EVENTS:,} (packets|frames) sent", sender_log, re.MULTILINE)
    if version.startswith("0.3"):
        assert "{info} Stats:" in receiver_log and "Port Stats:" in receiver_log  # stderr kept in the log
    lines = [line for p in logs.rglob("index.tsv") for line in p.read_text().splitlines()]
    index = {line.split("\t")[0]: line.split("\t") for line in lines}
    assert set(index) == {"e2sar-100m-receiver", "e2sar-100m-sender"}
    assert index["e2sar-100m-sender"][3] == "0"
    document = json.loads((folder / "results.json").read_text())
    (pair,) = document["e2sar_cases"]
    assert pair["ok"], pair
    assert pair["version"] == version
    assert pair["events_sent"] == EVENTS  # read from the sender's log
    received = int(re.findall(r"Events Received: ([\d,]+)", receiver_log)[-1].replace(",", ""))
    assert 0 < received <= EVENTS  # real UDP across the lab's link: the receiver was up in time
    assert pair["events_received"] == received  # read from the receiver's log, in its version's format
    assert pair["loss"] == EVENTS - received  # counted from both sides: whatever the network dropped
    assert pair["e2sar_lost"] == 0
    assert (folder / "results-e2sar.csv").read_text().count("\n") == 2
    assert "E2SAR rate" in output
    assert not _standin_processes(str(bindir))
    # The token went to the pods through their Secret: in no file of the run (objects.json, scripts/, lab/, logs).
    holding = [p for p in folder.rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()]
    assert not holding
    objects = json.loads((folder / "objects.json").read_text())
    (receiver_job,) = [o for o in objects if o["kind"] == "Job" and o["metadata"]["name"] == "e2sar-100m-receiver"]
    env_refs = {e["name"]: e.get("valueFrom") for e in receiver_job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env_refs["MESHPERF_E2SAR_TOKEN"] == {"secretKeyRef": {"name": "e2sar-100m-control-plane", "key": "token"}}
    assert env_refs["MESHPERF_E2SAR_POD_IP"] == {"fieldRef": {"fieldPath": "status.podIP"}}


@pytest.mark.usefixtures("clean_machine")
def test_without_e2sar_perf_the_lab_says_so_in_one_line_and_runs_the_rest(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    path = ":".join(p for p in os.environ["PATH"].split(":") if not (Path(p) / "e2sar_perf").exists())
    stack = _stack(tmp_path, {"paths": [6], "tools": ["iperf3_udp"], "duration_s": 1})
    code, output = run_netlab(tmp_path, stack, {"PATH": path})
    assert code == 0, output
    assert output.count("[lab] e2sar suite skipped: e2sar_perf is not on PATH") == 1
    folder = Path(re.search(r"^run folder: (.+)$", output, re.MULTILINE)[1])  # type: ignore[index]
    document = json.loads((folder / "results.json").read_text())
    assert all(c["ok"] for c in document["cases"]) and len(document["cases"]) == 1
    (pair,) = document["e2sar_cases"]
    assert pair["ok"] is False and pair["skipped"] is True and pair["error"] == "e2sar_perf is not on PATH"


@pytest.mark.usefixtures("clean_machine")
@pytest.mark.parametrize("mode", ["exempt", "enforced"])
def test_e2sar_runs_with_and_without_network_policies(tmp_path: Path, standin: Path, mode: str) -> None:
    """Enforced, every datagram is judged by the pair's policies on both nodes (one-way UDP is never
    established: on kind each would cross the engine's userspace queue); exempt, none is."""
    env = {"PATH": f"{standin}:{os.environ['PATH']}"}
    code, output = run_netlab(
        tmp_path,
        _stack(tmp_path, {"enabled": False}, network_policies=mode, threads=1, rates_gbps=[0.05], length=448),
        env,
    )
    assert code == 0, output
    folder = Path(re.search(r"^run folder: (.+)$", output, re.MULTILINE)[1])  # type: ignore[index]
    document = json.loads((folder / "results.json").read_text())
    assert document["e2sar_network_policies"] == mode
    (pair,) = document["e2sar_cases"]
    assert pair["ok"] and pair["events_received"] == EVENTS, pair
    judged = 0
    for node in ("cluster-a-worker", "cluster-b-worker"):
        text = (folder / "lab" / f"iptables-{node}-after-e2sar-50m.txt").read_text()
        judged += sum(
            int(n)
            for n in re.findall(r'^\[(\d+):\d+\] .*"meshperf/e2sar-50m-(?:sender|receiver)" -j RETURN$', text, re.M)
        )
    assert judged == (2 * EVENTS if mode == "enforced" else 0)  # 448-byte events at MTU 512: one frame each


# The tbf also passes what the node's bridge floods to every pod (ARP, IPv6 neighbour discovery): a few dozen.
NOT_UDP = 50


def _counter(log: str, name: str) -> int:
    return int(re.findall(rf"^\t{name}: ([\d,]+)$", log, re.MULTILINE)[-1].replace(",", ""))


@pytest.mark.usefixtures("clean_machine")
def test_a_link_that_drops_on_purpose_gives_true_loss_from_both_sides(tmp_path: Path, standin: Path) -> None:
    """The receiver's ingress is a 5 Mbit/s tbf, the pair sends at 100 Mbit/s: most frames are dropped.
    Each side's count must be what really happened, as the tbf's own counters say: the receiver's
    frames are what passed the tbf, the sender's what passed plus what it dropped; events received,
    E2SAR's lost-in-reassembly (events of which some frames came) and the true loss (sent minus received,
    which also counts the events of which no frame came) add up."""
    (standin / "standin.json").write_text(json.dumps({"STANDIN_E2SAR_VERSION": "0.3.1"}))
    document = yaml.safe_load(
        _stack(tmp_path, {"enabled": False}, version="0.3.x", length=2048, threads=1, duration_s=8).read_text()
    )
    document["config"]["meshperf:workloads"]["w4"]["ingress_rate"] = "5mbit"  # w4: the receiver's workload
    stack = tmp_path / "Pulumi.e2sarloss.yaml"
    stack.write_text(yaml.safe_dump(document))
    code, output = run_netlab(tmp_path, stack, {"PATH": f"{standin}:{os.environ['PATH']}"})
    assert code in (0, 1), output
    folder = Path(re.search(r"^run folder: (.+)$", output, re.MULTILINE)[1])  # type: ignore[index]
    (receiver_log,) = (p.read_text() for p in (folder / "logs").rglob("e2sar-100m-receiver.txt"))
    (sender_log,) = (p.read_text() for p in (folder / "logs").rglob("e2sar-100m-sender.txt"))
    frames_per_event = -(-2048 // (512 - 64))  # 5
    sent_frames = int(re.search(r"^Completed, ([\d,]+) packets sent", sender_log, re.M)[1].replace(",", ""))  # type: ignore[index]
    assert sent_frames == EVENTS * frames_per_event
    tc = (folder / "lab" / "tc-e2sar-100m-receiver.txt").read_text()
    passed, dropped = (
        int(v) for v in re.search(r"qdisc tbf .*?Sent \d+ bytes (\d+) pkt \(dropped (\d+),", tc, re.S).groups()
    )  # type: ignore[union-attr]
    assert dropped > EVENTS  # the link dropped on purpose, and a lot
    udp = dict(
        zip(
            *(
                line.split()[1:]
                for line in re.findall(
                    r"^Udp: .*$", (folder / "lab" / "snmp-e2sar-100m-receiver.txt").read_text(), re.M
                )
            ),
            strict=True,
        )
    )
    delivered, no_room = int(udp["InDatagrams"]), int(udp["RcvbufErrors"])
    assert udp["NoPorts"] == "0"  # the receiver outlasted what the tbf held back
    assert 0 <= passed - (delivered + no_room) <= NOT_UDP, (passed, delivered, no_room)  # what passed the tbf
    frames = _counter(receiver_log, "Total Packets")
    assert frames == delivered  # the receiver counted every datagram the kernel gave it, and no other
    assert 0 <= passed + dropped - sent_frames <= NOT_UDP, (passed, dropped, sent_frames)  # every frame met the tbf
    received = _counter(receiver_log, "Events Received")
    partial = [int(f) for f in re.findall(r"<\d+:\d+/(\d+)>", receiver_log.rsplit("{info} Stats:", 1)[1])]
    assert received * frames_per_event + sum(partial) == frames  # every frame counted in exactly one event
    assert all(0 < f < frames_per_event for f in partial)
    assert _counter(receiver_log, "Events Lost in reassembly") == len(partial) > 0
    document = json.loads((folder / "results.json").read_text())
    (pair,) = document["e2sar_cases"]
    assert pair["events_sent"] == EVENTS and pair["events_received"] == received
    assert 0 < received < EVENTS
    assert pair["loss"] == EVENTS - received  # the true loss, from both sides
    assert pair["e2sar_lost"] == len(partial) < pair["loss"]  # E2SAR's own counter misses events with no frame in
    assert not _standin_processes(str(standin))


@pytest.mark.usefixtures("clean_machine")
def test_a_receiver_that_ends_before_it_is_ready_is_reported_in_the_tools_words(tmp_path: Path, standin: Path) -> None:
    """The receiver given meshperf's earlier URI (no `data=`): the stand-in refuses it as E2SAR 0.3.2 did
    (and exits 0); the lab names that line, not only that no container failed."""
    old = "ejfat://useless@10.10.10.10:1234/lb/1?sync=192.168.77.7:1234"
    (standin / "standin.json").write_text(json.dumps({"STANDIN_E2SAR_VERSION": "0.3.1", "STANDIN_RECEIVER_URI": old}))
    code, output = run_netlab(
        tmp_path,
        _stack(tmp_path, {"enabled": False}, version="0.3.x", threads=1),
        {"PATH": f"{standin}:{os.environ['PATH']}"},
    )
    assert code == 1, output
    refused = "Unable to create reassembler: Data address not present in the URI"
    assert f"warning: e2sar-100m: the receiver never got ready, sender not run: e2sar_perf: {refused}" in output
    folder = Path(re.search(r"^run folder: (.+)$", output, re.MULTILINE)[1])  # type: ignore[index]
    (log,) = (p.read_text() for p in (folder / "logs").rglob("e2sar-100m-receiver.txt"))
    assert refused in log and "Receiving on ports" not in log
    (pair,) = json.loads((folder / "results.json").read_text())["e2sar_cases"]
    assert not pair["ok"]
