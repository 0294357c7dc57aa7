"""The lab's kubelet: it runs Pods and Jobs, given as the plain objects the API server would hold.

Each container runs through netlab/container_init.py in its pod's network namespace: its own
command, args and env, its volumes, its user, in the image's userland (netlab/rootfs.py).
Readiness probes run as the kubelet runs them (netlab/probes.py); Pods whose restartPolicy
allows it are restarted when a container dies, so that one killed server fails one case; Jobs
honour activeDeadlineSeconds, backoffLimit and restartPolicy. Each container's output goes to
`<logs>/<pod>/<container>.log`, as `kubectl logs` would show it.

Each pod runs in the network namespace its placement names, which is the pod's own: a pod does
not start while a process of an earlier pod is left in it (a Job's pods use their Job's in turn).

Every exit path stops what was started: `Kubelet.close()` (or leaving `async with`) deletes every
pod; deleting a pod kills its containers' process groups (the container init then takes PID 1 and
every process in its PID namespace with it) and removes the pod's volumes. Mounts need no
cleanup: they live in each container's own mount namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic import BaseModel

from netlab.namespaces import namespace_pids
from netlab.podspec import BindMount, ContainerRun, PodSpecError, PodVolumes, container_env, container_run, pod_volumes
from netlab.probes import NetnsConnector, ProbeSpec, exec_in, probe_spec
from netlab.rootfs import Userland

INIT = Path(__file__).resolve().parent / "container_init.py"
CHAIN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
RESTART_PAUSE_S = 0.2
MAX_RESTARTS = 20
GRACE_CAP_S = 1.0  # the lab does not wait 30 s for a PID 1 that ignores SIGTERM (sh, netserver)
START_TIMEOUT_S = 20.0
LEFTOVER_WAIT_S = 2.0  # the processes of a pod just deleted leave its network namespace
JOB_BACKOFF_BASE_S = 10.0  # the Job controller's: 10 s, doubled per failure, at most 6 min
JOB_BACKOFF_CAP_S = 360.0

Obj = Mapping[str, Any]
LineHandler = Callable[[str], Awaitable[None] | None]


class KubeletError(RuntimeError):
    """A pod that cannot start or get ready; str() is one line naming the pod and why."""


@dataclass(frozen=True)
class Placement:
    """Where a pod runs in the lab: its network namespace and IP, its node's namespace, what it mounts."""

    netns: str
    ip: str | None = None
    node_netns: str | None = None
    namespace: str = "default"
    configmaps: Mapping[str, Obj] = field(default_factory=dict)
    secrets: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    claims: Mapping[str, Path] = field(default_factory=dict)


@dataclass
class Container:
    run: ContainerRun
    probe: ProbeSpec | None
    log: Path
    process: asyncio.subprocess.Process | None = None
    pid1: int | None = None
    exit_codes: list[int] = field(default_factory=list)
    start_error: str | None = None
    restarts: int = 0
    ready: bool = False
    probe_error: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)


@dataclass
class Pod:
    name: str
    spec: Obj
    placement: Placement
    volumes_dir: Path
    containers: list[Container]
    restart_budget: int
    on_line: LineHandler | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    stopping: bool = False

    @property
    def succeeded(self) -> bool:
        return all(c.exit_codes and c.exit_codes[-1] == 0 for c in self.containers)

    def failure(self) -> str:
        """Why the pod failed, from its containers' last state."""
        parts = []
        for c in self.containers:
            if c.start_error:
                parts.append(f"container {c.run.name} could not start: {c.start_error}")
            elif c.exit_codes and c.exit_codes[-1] != 0:
                parts.append(f"container {c.run.name} exited {c.exit_codes[-1]}{_tail(c.log)}")
        return "; ".join(parts) or "no container failed"


class JobOutcome(BaseModel):
    """A Job's end as its status would say it: Complete, or Failed with a reason."""

    name: str
    succeeded: bool
    reason: str | None = None
    message: str | None = None
    attempts: int
    pods: list[str]


def _tail(log: Path, lines: int = 2) -> str:
    try:
        text = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return f" (last output: {' | '.join(text[-lines:])})" if text else ""


class Kubelet:
    def __init__(
        self,
        userland: Userland,
        workdir: Path,
        say: Callable[[str], None] = print,
        *,
        job_backoff_base_s: float = JOB_BACKOFF_BASE_S,
        by_image: Mapping[str, Userland] | None = None,
    ) -> None:
        """`userland` runs every container, except those whose image `by_image` names."""
        self.userland = userland
        self.by_image = dict(by_image or {})
        self.logs_dir = workdir / "pods"
        self.volumes_root = workdir / "volumes"
        self.say = say
        self.job_backoff_base_s = job_backoff_base_s
        self.pods: dict[str, Pod] = {}
        self.job_pods: dict[str, str] = {}  # Job -> its current pod
        self.connector = NetnsConnector()

    async def __aenter__(self) -> Kubelet:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        for name in list(self.pods):
            await self.delete_pod(name)
        self.connector.close()
        with contextlib.suppress(OSError):
            self.volumes_root.rmdir()  # empty once every pod is gone

    # -- pods ------------------------------------------------------------------------------------
    async def start_pod(
        self,
        pod: Obj,
        placement: Placement,
        on_line: LineHandler | None = None,
        restart_budget: int | None = None,
        name: str | None = None,
    ) -> Pod:
        """Create a pod's volumes and start its containers; they run (and restart) in the background.

        `name`: what this kubelet calls the pod (its logs' and volumes' folder), the object's name by
        default; the lab's one kubelet serves every cluster, whose pods' names may repeat."""
        pod_name = str(pod["metadata"]["name"])
        name = name or pod_name
        if name in self.pods:
            raise KubeletError(f"pod {name}: already running")
        # A pod's own namespace starts empty; a host-network pod shares its node's with whatever runs there.
        left = [] if pod["spec"].get("hostNetwork") else await _processes_in(placement.netns)
        if left:
            raise KubeletError(
                f"pod {name}: network namespace {placement.netns} still holds processes {left} of an earlier pod"
            )
        spec = pod["spec"]
        policy = spec.get("restartPolicy", "Always")
        budget = restart_budget if restart_budget is not None else (0 if policy == "Never" else MAX_RESTARTS)
        volumes_dir = self.volumes_root / name
        fields = {
            "metadata.name": pod_name,
            "metadata.namespace": placement.namespace,
            "status.podIP": placement.ip or "",
            "spec.nodeName": placement.node_netns or "",
        }
        try:
            volumes = pod_volumes(name, spec, placement.configmaps, placement.claims, volumes_dir)
            hosts = volumes_dir / "etc-hosts"
            extra = [BindMount(source=str(hosts), target="/etc/hosts", readonly=False)]
            containers = []
            for c in spec["containers"]:
                userland = self.by_image.get(str(c.get("image")), self.userland)
                env = container_env(name, c, fields, placement.configmaps, userland, placement.secrets)
                run = container_run(name, spec, c, volumes, env, extra, userland)
                ports = {str(p["name"]): int(p["containerPort"]) for p in c.get("ports") or [] if "name" in p}
                try:
                    probe = probe_spec(c["readinessProbe"], ports) if c.get("readinessProbe") else None
                except ValueError as exc:
                    raise PodSpecError(f"pod {name} container {run.name}: readinessProbe: {exc}") from None
                containers.append(Container(run, probe, self.logs_dir / name / f"{run.name}.log"))
        except PodSpecError as exc:
            raise KubeletError(str(exc)) from None
        _write_volumes(volumes, spec, placement, hosts, pod_name)
        (self.logs_dir / name).mkdir(parents=True, exist_ok=True)
        state = Pod(name, spec, placement, volumes_dir, containers, budget, on_line)
        self.pods[name] = state
        for container in containers:
            container.task = asyncio.create_task(self._keep_running(state, container, policy))
        return state

    async def wait_ready(self, name: str, timeout_s: float) -> None:
        """Until every container is ready; KubeletError naming the last probe failure otherwise."""
        pod = self.pods[name]
        waiters = [asyncio.create_task(pod.ready.wait()), asyncio.create_task(pod.done.wait())]
        try:
            await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
        if pod.ready.is_set():
            return
        if pod.done.is_set():
            raise KubeletError(f"pod {name} ended before it was ready: {pod.failure()}")
        why = "; ".join(
            f"container {c.run.name}: {c.start_error or c.probe_error or 'not ready'} (log {c.log})"
            for c in pod.containers
            if not c.ready
        )
        raise KubeletError(f"pod {name} not ready after {timeout_s:.0f} s: {why}")

    async def wait_job_ready(self, job: str, timeout_s: float) -> None:
        """Until the Job's current pod is ready (a receiver that others wait for)."""
        started = time.monotonic()
        for _ in range(int(timeout_s / 0.05) + 1):
            if self.job_pods.get(job) in self.pods:
                break
            await asyncio.sleep(0.05)
        else:
            raise KubeletError(f"job {job}: no pod after {timeout_s:.0f} s")
        await self.wait_ready(self.job_pods[job], max(0.1, timeout_s - (time.monotonic() - started)))

    async def wait_done(self, name: str) -> Pod:
        pod = self.pods[name]
        await pod.done.wait()
        return pod

    async def delete_pod(self, name: str) -> None:
        """Stop the containers (TERM, a grace period, KILL), then remove the pod's volumes."""
        pod = self.pods.pop(name, None)
        if pod is None:
            return
        pod.stopping = True
        grace = min(float(pod.spec.get("terminationGracePeriodSeconds", 30)), GRACE_CAP_S)
        for c in pod.containers:
            _signal(c, signal.SIGTERM)
        exits = [asyncio.create_task(c.process.wait()) for c in pod.containers if c.process is not None and _alive(c)]
        if exits:
            await asyncio.wait(exits, timeout=grace)
        for c in pod.containers:
            _kill_namespace(c)
            _signal(c, signal.SIGKILL)
        for c in pod.containers:
            if c.task is not None:
                c.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await c.task
        shutil.rmtree(pod.volumes_dir, ignore_errors=True)

    async def exec(self, name: str, container: str, argv: list[str], timeout_s: float = 120.0) -> tuple[int, str]:
        """`kubectl exec`: a command in a running container, as its user, with its env."""
        c = next(c for c in self.pods[name].containers if c.run.name == container)
        if c.pid1 is None or not _alive(c):
            return -1, f"container {container} of pod {name} is not running"
        return await exec_in(c.pid1, c.run.uid, c.run.gid, argv, c.run.env, timeout_s)

    # -- one container ---------------------------------------------------------------------------
    async def _keep_running(self, pod: Pod, c: Container, policy: str) -> None:
        """Run the container; restart it as the pod's restartPolicy says, within the pod's budget."""
        try:
            while True:
                code = await self._run_once(pod, c)
                c.exit_codes.append(code)
                if pod.stopping:
                    return
                again = policy == "Always" or (policy == "OnFailure" and code != 0)
                if not again:
                    return
                if c.restarts >= pod.restart_budget:
                    self.say(f"[kubelet] {pod.name}/{c.run.name} exited ({code}) {c.restarts + 1} times; left down")
                    return
                c.restarts += 1
                self.say(f"[kubelet] {pod.name}/{c.run.name} exited ({code}); restarting")
                await asyncio.sleep(RESTART_PAUSE_S)
        finally:
            c.ready = False
            if all(x.task is None or x.task.done() or x is c for x in pod.containers):
                pod.done.set()

    async def _run_once(self, pod: Pod, c: Container) -> int:
        c.ready, c.start_error, c.pid1 = False, None, None
        read_status, write_status = os.pipe()
        spec = c.run.model_dump_json()
        try:
            c.process = await asyncio.create_subprocess_exec(
                "ip",
                "netns",
                "exec",
                pod.placement.netns,
                sys.executable,
                "-I",
                "-S",
                str(INIT),
                spec,
                str(write_status),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=CHAIN_ENV,
                pass_fds=(write_status,),
                start_new_session=True,
            )
        finally:
            os.close(write_status)
        logging = asyncio.create_task(self._copy_log(pod, c, c.process))
        prober: asyncio.Task[None] | None = None
        try:
            status = await asyncio.wait_for(asyncio.to_thread(_read_all, read_status), START_TIMEOUT_S)
            for line in status.splitlines():
                kind, _, value = line.partition(" ")
                if kind == "pid":
                    c.pid1 = int(value)
                elif kind == "error":
                    c.start_error = value
            if c.start_error is None:
                prober = asyncio.create_task(self._probe(pod, c))
            code = await c.process.wait()
            await logging
            return code
        except TimeoutError:
            c.start_error = f"not started after {START_TIMEOUT_S:.0f} s"
            _signal(c, signal.SIGKILL)
            return await c.process.wait()
        finally:
            os.close(read_status)
            if prober is not None:
                prober.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await prober
            if c.process.returncode is None:
                _signal(c, signal.SIGKILL)
                await c.process.wait()
            logging.cancel()
            self._update_ready(pod)

    async def _copy_log(self, pod: Pod, c: Container, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        with c.log.open("ab") as log:
            async for raw in proc.stdout:
                log.write(raw)
                log.flush()
                if pod.on_line is not None:
                    try:
                        result = pod.on_line(raw.decode(errors="replace").rstrip("\n"))
                        if result is not None:
                            await result
                    except Exception as exc:  # a reader's fault must not cut the container's log
                        self.say(f"[kubelet] {pod.name}: its line reader failed, the log goes on without it: {exc!r}")
                        pod.on_line = None

    async def _probe(self, pod: Pod, c: Container) -> None:
        """Readiness: ready without a probe; else successThreshold passes in a row make it ready,
        failureThreshold failures in a row make it unready, one probe per period."""
        if c.probe is None:
            c.ready = True
            self._update_ready(pod)
            return
        probe = c.probe
        await asyncio.sleep(probe.initial_delay_s)
        passes = fails = 0
        while True:
            c.probe_error = await self._probe_once(pod, c, probe)
            passes, fails = (passes + 1, 0) if c.probe_error is None else (0, fails + 1)
            if passes >= probe.success_threshold:
                c.ready = True
            elif fails >= probe.failure_threshold:
                c.ready = False
            self._update_ready(pod)
            await asyncio.sleep(probe.period_s)

    async def _probe_once(self, pod: Pod, c: Container, probe: ProbeSpec) -> str | None:
        if probe.tcp_port is not None:
            where = pod.placement.node_netns or pod.placement.netns
            host = probe.tcp_host or pod.placement.ip or "127.0.0.1"
            return await self.connector.connect(where, host, probe.tcp_port, probe.timeout_s)
        assert probe.exec_argv is not None and c.pid1 is not None
        code, out = await exec_in(c.pid1, c.run.uid, c.run.gid, probe.exec_argv, c.run.env, probe.timeout_s)
        return None if code == 0 else f"exec probe exited {code}: {out.strip()[-200:]}"

    def _update_ready(self, pod: Pod) -> None:
        if all(c.ready for c in pod.containers):
            pod.ready.set()
        else:
            pod.ready.clear()

    # -- jobs ------------------------------------------------------------------------------------
    async def run_job(self, job: Obj, placement: Placement, on_line: LineHandler | None = None) -> JobOutcome:
        """Run a Job to its end: pods until one succeeds, backoffLimit failures, or activeDeadlineSeconds."""
        name = str(job["metadata"]["name"])
        spec = job["spec"]
        template = spec["template"]
        policy = template["spec"].get("restartPolicy")
        if policy not in ("Never", "OnFailure"):
            raise KubeletError(f"job {name}: restartPolicy must be Never or OnFailure, not {policy}")
        backoff_limit = int(spec.get("backoffLimit", 6))
        deadline_s = spec.get("activeDeadlineSeconds")
        deadline_note = f"Job was active longer than specified deadline ({deadline_s} s)"
        started = time.monotonic()
        failures = 0
        pods: list[str] = []

        def outcome(ok: bool, reason: str | None = None, message: str | None = None) -> JobOutcome:
            return JobOutcome(name=name, succeeded=ok, reason=reason, message=message, attempts=len(pods), pods=pods)

        while True:
            pod_name = f"{name}-{len(pods)}"
            pods.append(pod_name)
            obj = {"metadata": {**(template.get("metadata") or {}), "name": pod_name}, "spec": template["spec"]}
            budget = backoff_limit - failures if policy == "OnFailure" else 0
            pod = await self.start_pod(obj, placement, on_line, restart_budget=budget)
            self.job_pods[name] = pod_name
            left = None if deadline_s is None else float(deadline_s) - (time.monotonic() - started)
            try:
                await asyncio.wait_for(pod.done.wait(), left)
            except TimeoutError:
                return outcome(False, "DeadlineExceeded", deadline_note)
            finally:
                await self.delete_pod(pod_name)
            if pod.succeeded:
                return outcome(True)
            failures += 1 + sum(c.restarts for c in pod.containers)
            why = pod.failure()
            self.say(f"[kubelet] job {name}: pod {pod_name} failed: {why}")
            if failures > backoff_limit:
                return outcome(False, "BackoffLimitExceeded", f"Job has reached the specified backoff limit: {why}")
            pause = min(self.job_backoff_base_s * 2 ** (failures - 1), JOB_BACKOFF_CAP_S)
            if deadline_s is not None and time.monotonic() - started + pause >= float(deadline_s):
                await asyncio.sleep(max(0.0, float(deadline_s) - (time.monotonic() - started)))
                return outcome(False, "DeadlineExceeded", deadline_note)
            await asyncio.sleep(pause)


def _write_volumes(volumes: PodVolumes, spec: Obj, placement: Placement, hosts: Path, pod: str) -> None:
    """The pod's volumes on the node: emptyDirs (0777, fsGroup's), ConfigMap files, claims (the pod
    user's, `_own_claim`), and the /etc/hosts the kubelet writes for each pod."""
    fs_group = (spec.get("securityContext") or {}).get("fsGroup")
    hosts.parent.mkdir(parents=True, exist_ok=True)
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    if placement.ip:
        lines.append(f"{placement.ip}\t{pod}")
    hosts.write_text("\n".join(lines) + "\n")
    hosts.chmod(0o644)
    for folder in volumes.empty_dirs:
        Path(folder).mkdir(parents=True, exist_ok=True)
        _own(Path(folder), fs_group, 0o777)
    for f in volumes.configmap_files:
        path = Path(volumes.sources[f.volume]) / f.path
        path.parent.mkdir(parents=True, exist_ok=True)
        _own(path.parent, fs_group, 0o755)
        path.write_text(f.content)
        _own(path, fs_group, f.mode)
    security = spec.get("securityContext") or {}
    for claim in placement.claims.values():
        claim.mkdir(parents=True, exist_ok=True)
        _own_claim(claim, security.get("runAsUser"), fs_group)


def _own_claim(claim: Path, run_as: int | None, fs_group: int | None) -> None:
    """A claim belongs to the pod's user (and fsGroup, setgid): writable by the pods, by nobody else.

    kind's local-path provisioner makes claims 0777; here the folder sits on the machine that runs
    the collector as root, so a world-writable claim would let any local user plant symlinks."""
    os.chown(claim, int(run_as) if run_as is not None else 0, int(fs_group) if fs_group is not None else 0)
    claim.chmod(0o2775 if fs_group is not None else 0o755)


def _own(path: Path, fs_group: int | None, mode: int) -> None:
    """The volume ownership the kubelet applies: group fsGroup (and setgid on folders) when set."""
    if fs_group is not None:
        os.chown(path, 0, int(fs_group))
        mode |= 0o2000 if path.is_dir() else 0
    path.chmod(mode)


async def _processes_in(netns: str) -> list[int]:
    """The processes still in a network namespace, after a short wait for a deleted pod's to go.

    A pod's namespace is its own (a Job's pods use their Job's in turn): a fresh pod finds none."""
    pids: list[int] = []
    for _ in range(int(LEFTOVER_WAIT_S / 0.05) + 1):
        pids = await asyncio.to_thread(namespace_pids, netns)
        if not pids:
            break
        await asyncio.sleep(0.05)
    return pids


def _read_all(fd: int) -> str:
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def _alive(c: Container) -> bool:
    return c.process is not None and c.process.returncode is None


def _kill_namespace(c: Container) -> None:
    """SIGKILL the container's PID-namespace init, which takes every process of the container with it.

    Signalling the wrapper's process group is not enough: a command that became the namespace's
    PID 1 (`exec nc ...`) ignores SIGTERM from outside, the wrapper dies of it, and the command
    would outlive its container. The grace period is short, so the PID is still the container's.
    """
    if c.pid1 is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(c.pid1, signal.SIGKILL)


def _signal(c: Container, sig: signal.Signals) -> None:
    if _alive(c):
        assert c.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(c.process.pid, sig)
