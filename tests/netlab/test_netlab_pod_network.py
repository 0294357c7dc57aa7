"""Each pod its own network namespace and IP in the lab, for real: the hairpin path and the log viewers.

One lab (kind-local, paths 1, 3 and 5, iperf3 TCP and netperf TCP_STREAM) runs the rendered Pods and
client Jobs in the tool image's userland, with policies enforced. w2 is both a server (its server
Pod) and the hairpin client (its client Job, whose entry.sh starts its own `iperf3 -s -D` and
netserver): on Kubernetes those are two pods with two IPs, and the hairpin Service sends w2's
Job back to itself, never to the server Pod. What is read, with the lab still up after w2's Job:
the addresses on each pod's eth0, the node's DNAT counters and conntrack table, the server Pod's
iperf3 log (one "Accepted connection" line per test it served), entry.sh's own output, and the
log viewers' view of the log claim through the kubelet's exec.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from leakguard import become_subreaper, processes_left

from manifests import of_kind
from netlab.lab import Lab
from netlab.layout import Layout
from netlab.rootfs import image_userland
from netlab.run import client_jobs
from results.collect import collect
from results.logs import read_log_folder
from results.model import Results
from spec.load import stack_from_config
from spec.model import Stack
from spec.plan import build_plan
from spec.runner import runner_script

ROOT = Path(__file__).resolve().parents[2]
LOCAL = yaml.safe_load((ROOT / "stacks" / "Pulumi.kind-local.yaml").read_text())
IPERF3, NETSERVER = 5201, 12865


@dataclass(frozen=True)
class Seen:
    """What the lab showed, read while it was up."""

    layout: Layout
    workdir: Path
    results: Results
    eth0: dict[str, str]  # pod name -> `ip -4 addr` of its eth0
    nat_after_w2: str  # the w2 node's nat table with counters, after w2's Job
    conntrack_after_w2: str
    viewers: dict[str, dict[str, tuple[int, str]]]  # viewer -> what it ran -> (exit code, output)
    viewer_running: dict[str, bool]
    job_folders: list[str]
    mount_path: str
    hairpin_vip: str
    bare_hairpin_ok: bool  # the hairpin case through `Lab.run_script` measured


def _stack() -> Stack:
    config = json.loads(json.dumps(LOCAL))["config"]
    config["meshperf:suites"] = {
        "netperf": {"paths": [1, 3, 5], "tools": ["iperf3_tcp", "tcp_stream"], "mss": [1376], "duration_s": 2}
    }
    return stack_from_config({k.removeprefix("meshperf:"): v for k, v in config.items() if k.startswith("meshperf:")})


def _in(ns: str, *argv: str) -> str:
    return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, check=True).stdout


async def _run(lab: Lab) -> Seen:
    layout = lab.layout
    w2 = layout.server("w2")
    node = layout.node(w2.cluster, w2.node).ns
    nat = conntrack = ""
    viewers: dict[str, dict[str, tuple[int, str]]] = {}
    running: dict[str, bool] = {}
    mount = lab.stack.kubernetes.logs.mount_path
    async with lab:
        eth0 = {p.name: _in(p.ns, "ip", "-4", "-o", "addr", "show", "dev", "eth0") for p in layout.pods}
        for job in client_jobs(lab.objects):
            outcome = await lab.run_job(job)
            assert outcome.succeeded, outcome.message
            if job["metadata"]["name"] == "w2-client":
                nat = _in(node, "iptables-save", "-c", "-t", "nat")
                conntrack = _in(node, "cat", "/proc/net/nf_conntrack")
        for viewer in of_kind(lab.objects, "Pod"):
            name = lab.pod_name(viewer)
            if not name.startswith("log-viewer-"):
                continue
            pod = lab.kubelet.pods[name]
            running[name] = pod.ready.is_set() and all(
                c.process and c.process.returncode is None for c in pod.containers
            )
            viewers[name] = {
                "ls": await lab.kubelet.exec(name, "viewer", ["ls", mount]),
                "index": await lab.kubelet.exec(name, "viewer", ["sh", "-c", f"cat {mount}/*/index.tsv"]),
                "write": await lab.kubelet.exec(name, "viewer", ["touch", f"{mount}/x"]),
                "id": await lab.kubelet.exec(name, "viewer", ["id", "-u"]),
                "passwd": await lab.kubelet.exec(name, "viewer", ["grep", "^meshperf:", "/etc/passwd"]),
            }
        folders = sorted(p.name for p in lab.logs.iterdir() if p.is_dir())
        # The benchmarks' bare path: the hairpin case's runner script alone in w2's Job namespace, where
        # the server Pod's containers stand in for the servers entry.sh would start.
        (case,) = [c for c in lab.plan.cases if c.id == "p5-iperf3-tcp-mss1376"]
        script = lab.workdir / "bare.sh"
        script.write_text(runner_script(case.client, [case]))
        bare_code = await lab.run_script(case.client, script, lab.workdir / "bare", case.time_limit_s + 30)
    results = collect(lab.plan, read_log_folder(lab.logs))
    vip = str(lab.cluster_ips[(lab.stack.kubernetes.namespace, "w2-hairpin")])
    bare = collect(lab.plan, read_log_folder(lab.workdir / "bare")).cases
    bare_ok = bare_code == 0 and [c.case_id for c in bare if c.ok] == [case.id]
    return Seen(layout, lab.workdir, results, eth0, nat, conntrack, viewers, running, folders, mount, vip, bare_ok)


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> Seen:
    """One lab for the module's tests, in the image's userland; it must leave nothing behind."""
    if os.geteuid() != 0:
        pytest.fail("the lab tests need root: network namespaces")
    become_subreaper()
    userland = image_userland(say=print)
    assert userland.kind == "image", userland.reason
    stack = _stack()
    lab = Lab(stack, build_plan(stack), tmp_path_factory.mktemp("podnet"), say=lambda _: None, userland=userland)
    out = asyncio.run(_run(lab))
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert lab.layout.prefix not in namespaces, namespaces
    assert not (left := processes_left()), f"processes left: {sorted(left)}"
    return out


def _address(line: str) -> ipaddress.IPv4Interface:
    match = re.search(r"\binet (\S+)", line)
    assert match, line
    return ipaddress.IPv4Interface(match[1])


def test_a_workloads_server_pod_and_client_job_have_their_own_ips_on_the_nodes_pod_subnet(seen: Seen) -> None:
    stack = _stack()
    server, client = seen.layout.server("w2"), seen.layout.client("w2")
    subnet = stack.cluster(server.cluster).node_pod_subnet(server.node)
    on_server, on_client = _address(seen.eth0[server.name]), _address(seen.eth0[client.name])
    assert on_server.ip == server.ip and on_client.ip == client.ip  # what setup really put on each eth0
    assert on_server.ip != on_client.ip
    assert on_server.network == on_client.network == subnet
    # and no two pods of the lab share an address
    addresses = [_address(line).ip for line in seen.eth0.values()]
    assert len(set(addresses)) == len(addresses) == len(seen.layout.pods)


def test_hairpin_reaches_the_client_jobs_own_servers_and_never_the_server_pod(seen: Seen) -> None:
    cases = {c.case_id: c for c in seen.results.cases}
    assert cases and all(c.ok for c in cases.values()), [c.error for c in cases.values() if not c.ok]
    assert {"p5-iperf3-tcp-mss1376", "p5-tcp-stream", "p1-iperf3-tcp-mss1376"} <= cases.keys()
    server, client = seen.layout.server("w2"), seen.layout.client("w2")
    w1, w3 = seen.layout.client("w1"), seen.layout.client("w3")
    # The hairpin Service DNATs to the Job's own pod only, and its counters moved for both servers' ports.
    for port in (IPERF3, NETSERVER):
        dnat = [
            int(line[1 : line.index(":")])
            for line in seen.nat_after_w2.splitlines()
            if "w2-hairpin" in line and line.rstrip().endswith(f"-j DNAT --to-destination {client.ip}:{port}")
        ]
        assert dnat and sum(dnat) >= 1, (port, seen.nat_after_w2)
    assert f"--to-destination {server.ip}:" not in seen.nat_after_w2  # no Service of this plan leads to the Pod
    # conntrack in the node: the Job's connections to its own VIP came back to its own address.
    for port in (IPERF3, NETSERVER):
        back = re.compile(rf"src={client.ip} dst={seen.hairpin_vip} sport=\d+ dport={port} .*src={client.ip} dst=")
        assert any(back.search(line) for line in seen.conntrack_after_w2.splitlines()), port
    # The server Pod's iperf3 served paths 1 and 3 (w1's and w3's Jobs) and nothing else: no hairpin test
    # reached it (neither from the Job's address nor masqueraded to the node's bridge address).
    log = (seen.workdir / "lab" / "pods" / "w2-server" / "iperf3.log").read_text()
    accepted = re.findall(r"Accepted connection from (\S+), port", log)
    assert sorted(accepted) == sorted([str(w1.ip), str(w3.ip)]), accepted


def test_entry_sh_finds_its_ports_free(seen: Seen) -> None:
    """Before, w2's Job shared the server Pod's address: netserver said "Unable to start netserver"."""
    log = (seen.workdir / "lab" / "pods" / "w2-client-0" / "runner.log").read_text()
    assert f"Starting netserver with host 'IN(6)ADDR_ANY' port '{NETSERVER}' and family AF_INET" in log
    assert "Unable to start netserver" not in log
    assert "unable to start listener" not in log


def test_log_viewers_run_in_the_image_and_read_the_runs_logs(seen: Seen) -> None:
    assert sorted(seen.viewers) == ["log-viewer-worker", "log-viewer-worker2"]
    assert all(seen.viewer_running.values()), seen.viewer_running
    assert len(seen.job_folders) == 3  # w1, w3, w2: one log folder per Job (w1, w2 on worker, w3 on worker2)
    for name, ran in seen.viewers.items():
        code, out = ran["ls"]
        assert (code, sorted(out.split())) == (0, seen.job_folders), name
        code, out = ran["index"]  # each Job's index, read through the claim
        assert code == 0 and {line.split("\t")[0] for line in out.splitlines()} == {
            c.case_id for c in seen.results.cases
        }
        code, out = ran["write"]  # the claim is mounted read-only in the viewer
        assert code != 0 and "Read-only file system" in out, out
        assert ran["id"] == (0, "10001\n")
        assert ran["passwd"][0] == 0 and ran["passwd"][1].startswith("meshperf:x:10001:10001:")  # the image's
    assert "meshperf:x:10001" not in Path("/etc/passwd").read_text()


def test_the_bare_hairpin_script_reaches_the_stand_in_servers_in_the_jobs_namespace(seen: Seen) -> None:
    """`Lab.run_script` (bench/): the hairpin case alone, its servers the server Pod's containers run in w2's
    client Job namespace; the server Pod itself still sees no hairpin connection (the test above)."""
    assert seen.bare_hairpin_ok
    log = (seen.workdir / "lab" / "pods" / "w2-client-own-servers" / "iperf3.log").read_text()
    client = seen.layout.client("w2")
    gateway = str(client.gateway)  # the hairpin packets come masqueraded to the node's bridge address
    assert re.findall(r"Accepted connection from (\S+), port", log) == [gateway]
