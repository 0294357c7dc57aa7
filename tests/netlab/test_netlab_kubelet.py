"""The lab's kubelet for real: the program's own Pods and Jobs, in the image's root filesystem, in namespaces.

Root, network namespaces, the rootfs built by mmdebstrap from images/packages.txt (cached in
/var/cache/meshperf/rootfs; the first build takes minutes), real iperf3/netserver/nc/sh.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubelet_objects import Lab, lab_network

from netlab.kubelet import Kubelet, KubeletError, Placement
from netlab.lab import new_prefix
from netlab.rootfs import PACKAGES_FILE, Userland, build_rootfs, cache_dir, image_userland, parse_packages
from netlab.workloads import job_logdir
from results.collect import collect
from results.index import parse_index
from results.logs import read_log_folder

READY_S = 30.0


@pytest.fixture(scope="module")
def userland() -> Userland:
    built = image_userland(say=print)
    assert built.kind == "image", built.reason
    return built


@pytest.fixture
def lab(clean_machine: None) -> Iterator[Lab]:
    with lab_network(new_prefix()) as network:
        yield network


def _uid_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:")))


def _count(log: Path, text: str) -> int:
    return log.read_text().count(text)


def _assert_in_image_root(pid: int) -> None:
    """The process's root is the image's: meshperf is a user there (not on this host), netcat is installed."""
    assert "meshperf:x:10001:10001:" in Path(f"/proc/{pid}/root/etc/passwd").read_text()
    assert "10001" not in Path("/etc/passwd").read_text()
    assert Path(f"/proc/{pid}/root/var/lib/dpkg/info/netcat-openbsd.list").is_file()


async def _start_servers(kubelet: Kubelet, lab: Lab, node_logs: Path) -> None:
    for workload in lab.plan.servers():
        pod = lab.pod(f"{workload}-server")
        await kubelet.start_pod(pod, lab.placement(pod, node_logs))
        await kubelet.wait_ready(f"{workload}-server", READY_S)


def test_server_pod_runs_as_the_image_user_in_its_root_and_gets_ready_by_its_probes(
    lab: Lab, userland: Userland, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with Kubelet(userland, tmp_path / "lab") as kubelet:
            obj = lab.pod("w2-server")
            pod = await kubelet.start_pod(obj, lab.placement(obj, tmp_path / "node"))
            started = time.monotonic()
            await kubelet.wait_ready("w2-server", READY_S)
            assert time.monotonic() - started < READY_S
            assert {c.run.name for c in pod.containers} == {"iperf3", "netserver"}
            for c in pod.containers:
                assert c.pid1 is not None and _uid_of(c.pid1) == 10001
                _assert_in_image_root(c.pid1)
                _assert_confined(c.pid1)
            code, out = await kubelet.exec("w2-server", "iperf3", ["id", "-u"])
            assert (code, out.strip()) == (0, "10001")
            # Real traffic from the node to the pod's iperf3 server.
            w2 = lab.layout.server("w2")
            node = lab.layout.node(w2.cluster, w2.node).ns
            client = ["ip", "netns", "exec", node, "iperf3", "-c", str(w2.ip), "-t", "1", "-p", "5201"]
            # (Not a blocking call: the kubelet's probes must go on closing their connections.)
            proc = await asyncio.create_subprocess_exec(*client, stdout=asyncio.subprocess.DEVNULL)
            assert await asyncio.wait_for(proc.wait(), 20) == 0
            # iperf3's readiness is its listening socket, read in the container: over two probe periods
            # no probe connects to it (a tcpSocket probe would show as a client that sent no parameters).
            probe = next(c for c in pod.containers if c.run.name == "iperf3").probe
            assert probe is not None and probe.exec_argv is not None and probe.tcp_port is None
            await asyncio.sleep(4.5)
            log_text = (tmp_path / "lab" / "pods" / "w2-server" / "iperf3.log").read_text()
            assert "unable to receive parameters" not in log_text and log_text.count("Accepted connection") == 1
            # A killed server is restarted and gets ready again, as its restartPolicy (Always) says.
            iperf3 = next(c for c in pod.containers if c.run.name == "iperf3")
            assert iperf3.pid1 is not None
            os.kill(iperf3.pid1, signal.SIGKILL)  # the new one is ready by its probe: its socket listens
            log = tmp_path / "lab" / "pods" / "w2-server" / "iperf3.log"
            killed = iperf3.pid1
            for _ in range(int(READY_S * 10)):
                if iperf3.restarts == 1 and iperf3.pid1 not in (None, killed) and iperf3.ready:
                    break
                await asyncio.sleep(0.1)
            assert iperf3.restarts == 1 and iperf3.ready and pod.ready.is_set()
            proc = await asyncio.create_subprocess_exec(*client, stdout=asyncio.subprocess.DEVNULL)
            assert await asyncio.wait_for(proc.wait(), 20) == 0  # the restarted server serves
            # kubectl logs: both runs, one file
            assert _count(log, "Server listening") >= 2 and _count(log, "Accepted connection") == 2

    asyncio.run(scenario())


def test_client_job_runs_entry_sh_from_its_configmap_and_logs_to_the_node_folder(
    lab: Lab, userland: Userland, tmp_path: Path
) -> None:
    cases = lab.plan.cases_of("w1")
    job = lab.job("w1-client")
    node_logs = tmp_path / "node-logs"
    lines: list[str] = []

    async def scenario() -> None:
        async with Kubelet(userland, tmp_path / "lab") as kubelet:
            await _start_servers(kubelet, lab, node_logs)
            outcome = await kubelet.run_job(job, lab.placement(job, node_logs), on_line=lines.append)
            assert outcome.succeeded, outcome.message
            assert outcome.attempts == 1

    asyncio.run(scenario())
    logdir = job_logdir(job, "/logs", node_logs)
    index = parse_index((logdir / "index.tsv").read_text())
    assert sorted(index) == sorted(c.id for c in cases)
    assert all(entry.exit_code == 0 for entry in index.values())
    assert all(p.stat().st_uid == 10001 for p in logdir.iterdir())  # written by the image's user
    results = collect(lab.plan, read_log_folder(node_logs))
    measured = {c.case_id: c for c in results.cases if c.client == "w1"}
    assert sorted(measured) == sorted(c.id for c in cases)
    assert all(c.ok for c in measured.values()), [c.error for c in measured.values() if not c.ok]
    assert any(line.startswith(f"[meshperf] w1 1/{len(cases)} ") for line in lines)
    assert not any("no nc in the image" in line for line in lines)
    assert (tmp_path / "lab" / "pods" / "w1-client-0" / "runner.log").is_file()


def _job(lab: Lab, command: list[str], **spec: Any) -> dict[str, Any]:
    """The program's client Job with another command: its volumes and securityContext unchanged."""
    job = lab.job("w1-client")
    job["spec"].update(spec)
    job["spec"]["template"]["spec"]["containers"][0]["command"] = command
    return job


def _placement(lab: Lab, tmp_path: Path) -> Placement:
    """w1's placement: its namespace, its scripts ConfigMap, the node's log folder for its claim."""
    return lab.placement(lab.job("w1-client"), tmp_path / "node-logs")


def test_read_only_root_filesystem_keeps_volumes_writable_unless_read_only(
    lab: Lab, userland: Userland, tmp_path: Path
) -> None:
    script = (
        "touch /rootfile; echo root=$?; touch /tmp/x && echo tmp=ok; touch /logs/x && echo logs=ok; "
        "touch /meshperf/x; echo scripts=$?; ls -ln /meshperf/entry.sh"
    )
    job = _job(lab, ["sh", "-c", script])
    lines: list[str] = []

    async def scenario() -> None:
        async with Kubelet(userland, tmp_path / "lab") as kubelet:
            outcome = await kubelet.run_job(job, _placement(lab, tmp_path), on_line=lines.append)
            assert outcome.succeeded, outcome.message

    asyncio.run(scenario())
    text = "\n".join(lines)
    assert "touch: cannot touch '/rootfile': Read-only file system" in text and "root=1" in text
    assert "tmp=ok" in text and "logs=ok" in text
    assert "scripts=1" in text
    assert "-r-xr-xr-x 1 0 10001 " in text  # defaultMode 0555, group fsGroup
    assert (tmp_path / "node-logs" / "x").stat().st_uid == 10001


def test_a_failing_line_reader_leaves_the_log_whole(lab: Lab, userland: Userland, tmp_path: Path) -> None:
    """The lab's progress reader runs on each line of the container's output: when it raises, the
    container's log is still copied to its end (it once stopped at the line that raised)."""
    job = _job(lab, ["sh", "-c", "for i in 1 2 3 4 5; do echo line$i; done"])
    said: list[str] = []

    def reader(line: str) -> None:
        if line == "line2":
            raise ValueError("a reader's fault")

    async def scenario() -> None:
        async with Kubelet(userland, tmp_path / "lab", said.append) as kubelet:
            outcome = await kubelet.run_job(job, _placement(lab, tmp_path), on_line=reader)
            assert outcome.succeeded, outcome.message

    asyncio.run(scenario())
    (log,) = (tmp_path / "lab" / "pods").glob("*/*.log")
    assert log.read_text().split() == [f"line{i}" for i in range(1, 6)]
    assert any("line reader failed" in s and "a reader's fault" in s for s in said), said


def test_active_deadline_cuts_a_sleeping_job(lab: Lab, userland: Userland, tmp_path: Path) -> None:
    job = _job(lab, ["sleep", "60"], activeDeadlineSeconds=2)

    async def scenario() -> None:
        async with Kubelet(userland, tmp_path / "lab") as kubelet:
            started = time.monotonic()
            outcome = await kubelet.run_job(job, _placement(lab, tmp_path))
            took = time.monotonic() - started
            assert not outcome.succeeded and outcome.reason == "DeadlineExceeded"
            assert 2.0 <= took < 6.0
            assert not kubelet.pods

    asyncio.run(scenario())
    found = subprocess.run(["ip", "netns", "pids", lab.layout.client("w1").ns], capture_output=True, text=True)
    assert found.stdout.split() == []


def test_backoff_limit_retries_failed_pods(lab: Lab, userland: Userland, tmp_path: Path) -> None:
    failing = _job(lab, ["sh", "-c", "echo attempt; exit 3"], backoffLimit=2)
    # Fails once (the claim keeps a mark), then succeeds: one retry.
    flaky = _job(lab, ["sh", "-c", "[ -e /logs/mark ] || { touch /logs/mark; exit 1; }"], backoffLimit=2)
    lines: list[str] = []

    async def scenario() -> None:
        # The Job controller's back-off (10 s, doubled) made short: the count is what is tested.
        async with Kubelet(userland, tmp_path / "lab", job_backoff_base_s=0.1) as kubelet:
            placement = _placement(lab, tmp_path)
            outcome = await kubelet.run_job(failing, placement, on_line=lines.append)
            assert not outcome.succeeded and outcome.reason == "BackoffLimitExceeded"
            assert outcome.attempts == 3 and "exited 3" in (outcome.message or "")
            assert lines.count("attempt") == 3
            again = await kubelet.run_job(flaky, placement)
            assert again.succeeded and again.attempts == 2

    asyncio.run(scenario())


def test_on_failure_restarts_a_failed_container_and_never_a_succeeded_one(
    lab: Lab, userland: Userland, tmp_path: Path
) -> None:
    """Issue 19: restartPolicy OnFailure restarting containers that succeeded passed (no test used it)."""
    done = _job(lab, ["sh", "-c", "echo ran; exit 0"], backoffLimit=3)
    # Fails once (the claim keeps a mark), then succeeds: restarted once, in the same pod.
    flaky = _job(lab, ["sh", "-c", "echo ran; [ -e /logs/mark ] || { touch /logs/mark; exit 1; }"], backoffLimit=3)
    for job in (done, flaky):
        job["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    lines: list[str] = []

    async def scenario() -> None:
        async with Kubelet(userland, tmp_path / "lab", job_backoff_base_s=0.1) as kubelet:
            placement = _placement(lab, tmp_path)
            outcome = await kubelet.run_job(done, placement, on_line=lines.append)
            assert outcome.succeeded and outcome.attempts == 1, outcome
            assert lines.count("ran") == 1, lines  # the pod ended with its one run: never restarted
            lines.clear()
            again = await kubelet.run_job(flaky, placement, on_line=lines.append)
            assert again.succeeded and again.attempts == 1, again  # the container restarted, not the pod
            assert lines.count("ran") == 2, lines

    asyncio.run(scenario())


def test_a_pod_does_not_start_while_a_process_is_left_in_its_network_namespace(
    lab: Lab, userland: Userland, tmp_path: Path
) -> None:
    """A Job's pods use the Job's namespace in turn, which is only sound if none inherits a process: the
    kubelet refuses to start a pod into a namespace that still holds one (here a stray `sleep`)."""
    placement = _placement(lab, tmp_path)
    stray = subprocess.Popen(["ip", "netns", "exec", placement.netns, "sleep", "30"], start_new_session=True)

    async def scenario() -> None:
        async with Kubelet(userland, tmp_path / "lab") as kubelet:
            with pytest.raises(KubeletError, match=rf"network namespace {placement.netns} still holds processes"):
                await kubelet.run_job(lab.job("w1-client"), placement)
            assert not kubelet.pods

    try:
        asyncio.run(scenario())
    finally:
        stray.kill()
        stray.wait()


def test_exec_readiness_probe_reads_the_containers_own_proc(lab: Lab, userland: Userland, tmp_path: Path) -> None:
    pod = lab.pod("w2-server")
    container = pod["spec"]["containers"][0]
    # nc listens on UDP 9999 (0x270F); the probe finds it in /proc/net/udp, inside the container.
    container["command"] = ["sh", "-c", "sleep 1; exec nc -u -l 9999"]
    container["readinessProbe"] = {
        "exec": {"command": ["sh", "-c", "grep -q ':270F ' /proc/net/udp"]},
        "periodSeconds": 1,
        "failureThreshold": 3,
    }
    pod["spec"]["containers"] = [container]

    async def scenario() -> None:
        async with Kubelet(userland, tmp_path / "lab") as kubelet:
            running = await kubelet.start_pod(pod, lab.placement(pod, tmp_path / "node"))
            started = time.monotonic()
            await kubelet.wait_ready("w2-server", READY_S)
            assert time.monotonic() - started >= 1.0  # the first probe, before nc listened, failed
            assert running.containers[0].probe_error is None

    asyncio.run(scenario())


def test_without_netcat_in_the_image_entry_sh_says_why_it_cannot_wait(lab: Lab, tmp_path: Path) -> None:
    packages = [p for p in parse_packages(PACKAGES_FILE.read_text()) if p != "netcat-openbsd"]
    root = build_rootfs(packages, cache_dir(), say=print)
    assert not (root / "usr" / "bin" / "nc").exists()
    userland = Userland(kind="image", hash=root.name, root=str(root))
    job = lab.job("w1-client")
    lines: list[str] = []

    async def scenario() -> None:
        async with Kubelet(userland, tmp_path / "lab") as kubelet:
            await _start_servers(kubelet, lab, tmp_path / "node-logs")
            started = time.monotonic()
            await kubelet.run_job(job, _placement(lab, tmp_path), on_line=lines.append)
            assert time.monotonic() - started < 60  # not two minutes of silent waiting per target

    asyncio.run(scenario())
    target = lab.layout.server("w2").ip
    assert f"[meshperf] no nc in the image: no wait for {target}:5201" in lines


def test_leaving_the_kubelet_on_an_error_stops_every_container_and_removes_the_volumes(
    lab: Lab, userland: Userland, tmp_path: Path
) -> None:
    pod = lab.pod("w2-server")
    netns = lab.layout.server("w2").ns

    async def scenario() -> None:
        async with Kubelet(userland, tmp_path / "lab") as kubelet:
            await kubelet.start_pod(pod, lab.placement(pod, tmp_path / "node"))
            await kubelet.wait_ready("w2-server", READY_S)
            raise RuntimeError("a failure in the middle of a run")

    with pytest.raises(RuntimeError, match="in the middle"):
        asyncio.run(scenario())
    left = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True, check=True).stdout
    assert left.split() == []
    assert not (tmp_path / "lab" / "volumes").exists()
    assert (tmp_path / "lab" / "pods" / "w2-server" / "iperf3.log").is_file()  # the logs stay


def _assert_confined(pid: int) -> None:
    """What the pod spec asks (drop ALL, no privilege escalation) and a root without setuid (issue 23)."""
    status = dict(
        line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":\t" in line
    )
    assert status["CapBnd"].strip() == "0000000000000000", status["CapBnd"]
    assert status["CapEff"].strip() == "0000000000000000" and status["NoNewPrivs"].strip() == "1"
    root = next(
        line.split() for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines() if line.split()[4] == "/"
    )
    assert {"nosuid", "nodev"} <= set(root[5].split(",")), root
