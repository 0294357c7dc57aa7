"""A built lab: namespaces up, servers supervised, client scripts run one at a time.

The nodes' iptables (Services, kindnet's masquerade, NetworkPolicies) come from the objects
`manifests.render()` returns for the lab's addresses, rewritten as each Job starts.
`Lab` is a context manager: whatever happens inside (a failed case, Ctrl-C, SIGTERM, an
exception), leaving it kills every process in the lab's namespaces and deletes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import secrets
import signal
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from manifests import Obj, render
from netlab.cluster_state import ClusterState, cluster_state
from netlab.layout import Layout, Pod, build_layout, setup_commands, shaping_commands
from netlab.namespaces import LabError, claim, release, remove_namespaces, run
from netlab.netpol import PolicyDrop, drop_counts, policy_drops
from netlab.node_rules import node_rules
from netlab.scheduled import cluster_objects, lab_addresses
from spec.model import Stack
from spec.plan import Plan
from spec.runner import LOGDIR_VAR

MAX_RESTARTS = 20
READY_TIMEOUT_S = 10.0

LineHandler = Callable[[str], Awaitable[None] | None]


def new_prefix() -> str:
    """A namespace prefix unique to this run."""
    return f"mp{secrets.token_hex(3)}"


@dataclass
class Server:
    """One supervised server process in a pod: restarted if it dies while the lab runs."""

    pod: Pod
    name: str
    argv: list[str]
    port: int
    log: Path
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class Lab:
    def __init__(self, stack: Stack, plan: Plan, workdir: Path, say: Callable[[str], None] = print) -> None:
        self.stack = stack
        self.plan = plan
        self.workdir = workdir
        self.say = say
        self.layout: Layout = build_layout(stack, plan, new_prefix())
        self.servers: list[Server] = []
        self.warnings: list[str] = []
        self.objects: list[Obj] = []
        self.states: dict[str, ClusterState] = {}
        self.cluster_ips: dict[tuple[str, str], ipaddress.IPv4Address] = {}
        self._drop_counts: dict[str, dict[str, int]] = {}
        self._stopping = False

    # -- building and removing -------------------------------------------------------
    async def __aenter__(self) -> Lab:
        (self.workdir / "lab").mkdir(parents=True, exist_ok=True)
        try:
            self._build()  # synchronous: a Ctrl-C lands after it, never halfway into a thread
            await self._start_servers()
        except BaseException:
            await self._teardown()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._teardown()

    def _build(self) -> None:
        layout = self.layout
        self.say(f"[lab] building {len(layout.namespaces)} namespaces (prefix {layout.prefix})")
        claim(layout.prefix)
        for argv in setup_commands(layout):
            run(argv)
        addresses = lab_addresses(self.stack, self.plan, layout)
        self.objects = render(self.stack, self.plan, self.stack.kubernetes, addresses)
        (self.workdir / "lab" / "objects.json").write_text(json.dumps(self.objects, indent=1, default=str) + "\n")
        namespace = self.stack.kubernetes.namespace
        self.cluster_ips = {(namespace, name): ip for name, ip in addresses.cluster_ips.items()}
        self.apply_rules(jobs=())
        for what, argv in shaping_commands(layout):
            try:
                run(argv)
            except LabError as exc:
                self.warn(f"{what} not applied, that traffic runs unshaped: {exc}")
        self._write_topology()

    def apply_rules(self, jobs: Collection[str]) -> None:
        """Write every node's iptables from the objects, with the pods of `jobs` running: Services,
        kindnet's masquerade and the NetworkPolicies. Counters start again from zero."""
        self.states = {c: cluster_state(objs) for c, objs in cluster_objects(self.objects, self.layout, jobs).items()}
        label = "-".join(jobs) or "servers"
        for node in self.layout.nodes:
            rules = node_rules(
                self.states[node.cluster], node.name, self.stack.cluster(node.cluster).pod_subnet, self.cluster_ips
            )
            (self.workdir / "lab" / f"rules-{node.cluster}-{node.name}-{label}.txt").write_text(rules)
            run(("ip", "netns", "exec", node.ns, "iptables-restore"), stdin=rules)
        self._drop_counts = {}

    def _write_topology(self) -> None:
        lines = [f"prefix {self.layout.prefix}", f"link mtu {self.layout.link_mtu} rate {self.layout.link_rate}"]
        lines += [f"node {n.cluster}/{n.name} ns={n.ns} ip={n.ip} pods={n.pod_subnet}" for n in self.layout.nodes]
        lines += [
            f"pod {p.workload} {p.cluster}/{p.node} ns={p.ns} ip={p.ip} vip={p.vip or '-'} "
            f"egress_rate={p.egress_rate or '-'} ingress_rate={p.ingress_rate or '-'}"
            for p in self.layout.pods
        ]
        (self.workdir / "lab" / "topology.txt").write_text("\n".join(lines) + "\n")

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        self.say(f"[lab] warning: {message}")

    async def _teardown(self) -> None:
        self._stopping = True
        tasks = [s.task for s in self.servers if s.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        removed = remove_namespaces(self.layout.prefix, self.layout.namespaces)
        release(self.layout.prefix)
        self.say(f"[lab] removed {len(removed)} namespaces and their processes")

    # -- servers ---------------------------------------------------------------------
    async def _start_servers(self) -> None:
        ports = self.stack.suites.netperf.ports
        for workload in self.plan.servers():
            pod = self.layout.pod(workload)
            logs = self.workdir / "lab"
            self.servers += [
                Server(
                    pod,
                    "iperf3",
                    ["iperf3", "-s", "-p", str(ports.iperf3)],
                    ports.iperf3,
                    logs / f"server-{workload}-iperf3.log",
                ),
                Server(
                    pod,
                    "netserver",
                    ["netserver", "-D", "-p", str(ports.netperf_control), "-4"],
                    ports.netperf_control,
                    logs / f"server-{workload}-netserver.log",
                ),
            ]
        for server in self.servers:
            await self._spawn(server)
            server.task = asyncio.create_task(self._supervise(server))
        await asyncio.gather(*(self._wait_listening(s) for s in self.servers))
        self.say(f"[lab] servers listening in {', '.join(self.plan.servers())}")

    async def _spawn(self, server: Server) -> None:
        with server.log.open("a") as log:
            server.process = await asyncio.create_subprocess_exec(
                "ip",
                "netns",
                "exec",
                server.pod.ns,
                *server.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

    async def _supervise(self, server: Server) -> None:
        """Restart a server that dies mid-run, so that one killed server fails one case, not the rest."""
        while True:
            assert server.process is not None
            code = await server.process.wait()
            if self._stopping:
                return
            if server.restarts >= MAX_RESTARTS:
                self.warn(f"{server.name} in {server.pod.workload} exited ({code}) {MAX_RESTARTS} times; left down")
                return
            server.restarts += 1
            self.say(f"[lab] {server.name} in {server.pod.workload} exited ({code}); restarting")
            await asyncio.sleep(0.2)
            await self._spawn(server)

    async def _wait_listening(self, server: Server) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            out = await asyncio.to_thread(
                run, ("ip", "netns", "exec", server.pod.ns, "ss", "-Hltn", f"sport = :{server.port}")
            )
            if out.strip():
                return
            await asyncio.sleep(0.05)
        raise LabError(
            f"{server.name} in {server.pod.workload} is not listening on {server.port} "
            f"after {READY_TIMEOUT_S:.0f} s (see {server.log})"
        )

    # -- clients ---------------------------------------------------------------------
    async def run_script(
        self,
        client: str,
        script: Path,
        logdir: Path,
        time_limit_s: float,
        on_line: LineHandler | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> int:
        """Run one runner script in a client pod; its exit code, or -1 when it was cut."""
        proc = await self.start_script(client, script, logdir, extra_env)
        try:
            async with asyncio.timeout(time_limit_s):
                assert proc.stdout is not None
                async for raw in proc.stdout:
                    if on_line is not None:
                        result = on_line(raw.decode(errors="replace").rstrip("\n"))
                        if result is not None:
                            await result
                return await proc.wait()
        except TimeoutError:
            self.warn(f"client {client} cut after {time_limit_s:.0f} s")
            return -1
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()

    async def start_script(
        self, workload: str, script: Path, logdir: Path, extra_env: dict[str, str] | None = None
    ) -> asyncio.subprocess.Process:
        """Start a runner script in a pod (its own session, output on a pipe); the caller waits and kills."""
        env = {**os.environ, **self.layout.target_env(), LOGDIR_VAR: str(logdir), "LANG": "C", **(extra_env or {})}
        return await asyncio.create_subprocess_exec(
            "ip",
            "netns",
            "exec",
            self.layout.pod(workload).ns,
            "sh",
            str(script),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )

    async def exec(self, workload: str, *argv: str, limit_s: float = 120.0) -> tuple[int, str]:
        """Run a command in a pod (benchmarks and checks); exit code and output."""
        proc = await asyncio.create_subprocess_exec(
            "ip",
            "netns",
            "exec",
            self.layout.pod(workload).ns,
            *argv,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), limit_s)
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        return proc.returncode or 0, out.decode(errors="replace")

    def snapshot_rules(self, label: str) -> None:
        """iptables counters of every node, kept in the run folder: evidence of what DNAT, masquerade
        and the policies did."""
        for node in self.layout.nodes:
            out = run(("ip", "netns", "exec", node.ns, "iptables-save", "-c"))
            (self.workdir / "lab" / f"iptables-{node.cluster}-{node.name}-after-{label}.txt").write_text(out)

    def new_policy_drops(self) -> list[PolicyDrop]:
        """Which pods' policies dropped packets since the last call: what a failed case's reason names."""
        drops: list[PolicyDrop] = []
        for cluster, state in self.states.items():
            nodes = [n for n in self.layout.nodes if n.cluster == cluster]
            counts = drop_counts(
                run(("ip", "netns", "exec", n.ns, "iptables-save", "-c", "-t", "mangle")) for n in nodes
            )
            drops += policy_drops(state, counts, self._drop_counts.get(cluster))
            self._drop_counts[cluster] = counts
        return drops
