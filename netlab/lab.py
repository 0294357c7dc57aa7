"""A built lab: namespaces up, the rendered Pods (servers, log viewers) running in the kubelet, Jobs run
one at a time, each pod in its own network namespace with its own IP.

The nodes' iptables (Services, kindnet's masquerade, NetworkPolicies) come from the objects
`manifests.render()` returns for the lab's addresses, rewritten as each Job starts.
`Lab` is a context manager: whatever happens inside (a failed case, Ctrl-C, SIGTERM, an
exception), leaving it deletes every pod (netlab/kubelet.py), kills every process left in the
lab's namespaces and deletes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from types import TracebackType

from manifests import CLUSTER, Obj, clients, find, of_kind, render
from manifests.base import SERVES
from manifests.testbed import server_name
from netlab.cluster_state import VERSIONS, ClusterState, cluster_state
from netlab.kubelet import JobOutcome, Kubelet, KubeletError
from netlab.layout import Layout, build_layout, setup_commands, shaping_commands
from netlab.namespaces import LabError, claim, output_of, release, remove_namespaces, run
from netlab.netpol import DropCounts, Flow, PolicyDrop, drop_counts, drop_sets_restore, policy_drops
from netlab.node_rules import node_rules
from netlab.rootfs import Userland, host_userland
from netlab.scheduled import cluster_objects, lab_addresses
from netlab.services import service_port_rules
from netlab.workloads import job_logdir, placement
from spec.model import Family, Stack
from spec.plan import Case, Plan
from spec.runner import LOGDIR_VAR

READY_TIMEOUT_S = 60.0
RESTORE: dict[Family, str] = {"ipv4": "iptables-restore", "ipv6": "ip6tables-restore"}

LineHandler = Callable[[str], Awaitable[None] | None]


def write_rules(ns: str, rules: str, family: Family = "ipv4") -> None:
    """A node namespace's iptables of one family, after the drop sets its policy rules record the
    denied flows in (made when missing, emptied: their counters start again with the rules')."""
    run(("ip", "netns", "exec", ns, "ipset", "-exist", "restore"), stdin=drop_sets_restore([VERSIONS[family]]))
    run(("ip", "netns", "exec", ns, RESTORE[family]), stdin=rules)


def new_prefix() -> str:
    """A namespace prefix unique to this run."""
    return f"mp{secrets.token_hex(3)}"


class Lab:
    def __init__(
        self,
        stack: Stack,
        plan: Plan,
        workdir: Path,
        say: Callable[[str], None] = print,
        userland: Userland | None = None,
    ) -> None:
        self.stack = stack
        self.plan = plan
        self.workdir = workdir
        self.say = say
        self.layout: Layout = build_layout(stack, plan, new_prefix())
        addresses = lab_addresses(stack, plan, self.layout)
        self.objects: list[Obj] = render(stack, plan, stack.kubernetes, addresses)
        namespace = stack.kubernetes.namespace
        self.cluster_ips = {(namespace, name): ip for name, ip in addresses.cluster_ips.items()}
        self.cluster_ips6 = {(namespace, name): ip for name, ip in addresses.cluster_ips6.items()}
        self.logs = workdir / "logs"
        self.userland = userland or host_userland("no root filesystem was given to the lab")
        # Images other than the tool image (E2SAR's) are not built here: they run on the host's userland.
        other = host_userland("only the tool image's root filesystem is built in the lab")
        self.kubelet = Kubelet(other, workdir / "lab", say, by_image={stack.kubernetes.image.name: self.userland})
        self.warnings: list[str] = []
        self.states: dict[str, ClusterState] = {}
        self.states6: dict[str, ClusterState] = {}  # the IPv6 rules' states, of the clusters that have IPv6
        self.running: set[str] = set()  # the Jobs whose pods run now: the pods the rules see
        self._applied: tuple[str, ...] | None = None  # the running Jobs the rules were last written for
        self._drop_counts: dict[tuple[str, Family], DropCounts] = {}
        # Secret name -> data: what a cluster's Secrets would hold, in memory only (never in objects.json).
        self.secrets: dict[str, dict[str, str]] = {}

    # -- building and removing -------------------------------------------------------
    async def __aenter__(self) -> Lab:
        (self.workdir / "lab").mkdir(parents=True, exist_ok=True)
        try:
            self._build()  # synchronous: a Ctrl-C lands after it, never halfway into a thread
            await self._start_pods()
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
        self.apply_rules()
        for what, argv in shaping_commands(layout):
            try:
                run(argv)
            except LabError as exc:
                self.warn(f"{what} not applied, that traffic runs unshaped: {exc}")
        self._write_topology()

    def apply_rules(self) -> None:
        """Write every node's iptables from the objects, with the server Pods and the pods of the running
        Jobs: Services, kindnet's masquerade and the NetworkPolicies. Counters start again from zero; with
        the same pods as the last time, the rules and their counters stay (a Job run again, a bench's cases)."""
        jobs = tuple(sorted(self.running))
        if jobs == self._applied:
            return
        self._applied = jobs
        objects = cluster_objects(self.objects, self.layout, jobs)
        self.states = {c: cluster_state(objs) for c, objs in objects.items()}
        self.states6 = {c: cluster_state(objs, "ipv6") for c, objs in objects.items() if self._has_ipv6(c)}
        label = "-".join(jobs) or "servers"
        for node in self.layout.nodes:
            cluster = self.stack.cluster(node.cluster)
            rules = node_rules(self.states[node.cluster], node.name, cluster.pod_subnet, self.cluster_ips)
            (self.workdir / "lab" / f"rules-{node.cluster}-{node.name}-{label}.txt").write_text(rules)
            write_rules(node.ns, rules)
            if node.cluster in self.states6:
                rules6 = node_rules(self.states6[node.cluster], node.name, cluster.pod_subnet_v6, self.cluster_ips6)
                (self.workdir / "lab" / f"rules6-{node.cluster}-{node.name}-{label}.txt").write_text(rules6)
                write_rules(node.ns, rules6, "ipv6")
        self._drop_counts = {}

    def _has_ipv6(self, cluster: str) -> bool:
        return "ipv6" in self.stack.cluster(cluster).families

    def _write_topology(self) -> None:
        lines = [f"prefix {self.layout.prefix}", f"link mtu {self.layout.link_mtu} rate {self.layout.link_rate}"]
        lines += [
            f"node {n.cluster}/{n.name} ns={n.ns} ip={n.ip} pods={n.pod_subnet}"
            + (f" ip6={n.ip6} pods6={n.pod_subnet6}" if n.ip6 is not None else "")
            for n in self.layout.nodes
        ]
        lines += [
            f"pod {p.name} workload={p.workload or '-'} {p.cluster}/{p.node} ns={p.ns} ip={p.ip} vip={p.vip or '-'} "
            + (f"ip6={p.ip6} vip6={p.vip6 or '-'} " if p.ip6 is not None else "")
            + f"egress_rate={p.egress_rate or '-'} ingress_rate={p.ingress_rate or '-'}"
            for p in self.layout.pods
        ]
        (self.workdir / "lab" / "topology.txt").write_text("\n".join(lines) + "\n")

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        self.say(f"[lab] warning: {message}")

    async def _teardown(self) -> None:
        await self.kubelet.close()
        removed = remove_namespaces(self.layout.prefix, self.layout.namespaces)
        release(self.layout.prefix)
        self.say(f"[lab] removed {len(removed)} namespaces and their processes")

    # -- pods and jobs -----------------------------------------------------------------
    async def _start_pods(self) -> None:
        """The rendered Pods (servers and log viewers), all at once; each must get ready by its own probes."""
        pods = {self.pod_name(p): p for p in of_kind(self.objects, "Pod")}
        for name, pod in pods.items():
            await self.kubelet.start_pod(pod, placement(self.layout, self.objects, pod, self.logs), name=name)
        try:
            await asyncio.gather(*(self.kubelet.wait_ready(name, READY_TIMEOUT_S) for name in pods))
        except KubeletError as exc:
            raise LabError(str(exc)) from None
        if pods:
            self.say(f"[lab] pods ready: {', '.join(pods)}")

    def pod_name(self, pod: Obj) -> str:
        """What the lab's kubelet calls a rendered Pod: its name, with its cluster's where two clusters
        hold a Pod of that name (each node's log viewer is named after the node), and its namespace's
        where it is not the pods' (the host baseline's log viewers)."""
        meta = pod["metadata"]
        name = str(meta["name"])
        if sum(p["metadata"]["name"] == name for p in of_kind(self.objects, "Pod")) == 1:
            return name
        namespace = meta["namespace"]
        return f"{name}.{meta['labels'][CLUSTER]}" + (
            f".{namespace}" if namespace != self.stack.kubernetes.namespace else ""
        )

    def job_logdir(self, job: Obj) -> Path:
        return job_logdir(job, self.stack.kubernetes.logs.mount_path, self.logs)

    async def run_job(self, job: Obj, on_line: LineHandler | None = None) -> JobOutcome:
        """A rendered Job, to its end (Complete, or Failed with the reason its status would give).

        While it runs, its pod is in the rules (its Services' endpoints, its policies), as on a cluster."""
        self.job_logdir(job).parent.mkdir(parents=True, exist_ok=True)
        with self._running(str(job["metadata"]["name"])):
            where = placement(self.layout, self.objects, job, self.logs, self.secrets)
            outcome = await self.kubelet.run_job(job, where, on_line)
        if not outcome.succeeded:
            self.warn(f"job {outcome.name} failed: {outcome.reason}: {outcome.message}")
        return outcome

    @contextlib.contextmanager
    def _running(self, job: str) -> Iterator[None]:
        """The rules with `job`'s pod running (its Services' endpoints, its policies), while inside."""
        self.running.add(job)
        self.apply_rules()
        try:
            yield
        finally:
            self.running.discard(job)

    # -- the benchmarks' bare path: a script or a command straight in a pod's namespace ------
    async def run_script(
        self, client: str, script: Path, logdir: Path, time_limit_s: float, on_line: LineHandler | None = None
    ) -> int:
        """Run a runner script in the client Job's namespace on the host (bench/), with the Job's env (the
        addresses of its targets): its exit code, or -1 when cut. The rules see it as the client's Job, so
        that the Services and policies treat it as that Job. A client that is its own target (hairpin)
        serves too: its workload's server Pod's containers stand in, in its namespace, for the servers
        that entry.sh starts in the Job."""
        job = find(self.objects, "Job", clients.job_name(client))
        with self._running(clients.job_name(client)):
            async with self._own_servers(client, job):
                return await self._run_script(client, job, script, logdir, time_limit_s, on_line)

    @contextlib.asynccontextmanager
    async def _own_servers(self, client: str, job: Obj) -> AsyncIterator[None]:
        if job["spec"]["template"]["metadata"]["labels"].get(SERVES) != "true":
            yield
            return
        name = f"{job['metadata']['name']}-own-servers"
        server = find(self.objects, "Pod", server_name(client))
        await self.kubelet.start_pod(server, placement(self.layout, self.objects, job, self.logs), name=name)
        try:
            await self.kubelet.wait_ready(name, READY_TIMEOUT_S)
            yield
        finally:
            await self.kubelet.delete_pod(name)

    async def _run_script(
        self, client: str, job: Obj, script: Path, logdir: Path, time_limit_s: float, on_line: LineHandler | None
    ) -> int:
        (container,) = job["spec"]["template"]["spec"]["containers"]
        job_env = {str(e["name"]): str(e["value"]) for e in container.get("env") or [] if "value" in e}
        env = {**os.environ, **job_env, LOGDIR_VAR: str(logdir), "LANG": "C"}
        proc = await asyncio.create_subprocess_exec(
            "ip",
            "netns",
            "exec",
            self.layout.client(client).ns,
            "sh",
            str(script),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
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

    async def exec(self, workload: str, *argv: str, limit_s: float = 120.0) -> tuple[int, str]:
        """Run a command in the namespace of a workload's client Job on the host (benchmarks and checks), seen
        by the rules as that Job; exit code and output (-1 when cut at `limit_s`)."""
        with self._running(clients.job_name(workload)):
            return await output_of(("ip", "netns", "exec", self.layout.client(workload).ns, *argv), limit_s)

    def snapshot_rules(self, label: str) -> None:
        """iptables counters of every node, kept in the run folder: evidence of what DNAT, masquerade
        and the policies did."""
        for node in self.layout.nodes:
            out = run(("ip", "netns", "exec", node.ns, "iptables-save", "-c"))
            (self.workdir / "lab" / f"iptables-{node.cluster}-{node.name}-after-{label}.txt").write_text(out)
            if self._has_ipv6(node.cluster):
                out = run(("ip", "netns", "exec", node.ns, "ip6tables-save", "-c"))
                (self.workdir / "lab" / f"ip6tables-{node.cluster}-{node.name}-after-{label}.txt").write_text(out)

    def flows_of(self, case: Case) -> Callable[[Flow], bool]:
        """Whether a denied flow is one of `case`'s: on one of its ports, to the address its Job's
        env gives its target or to a Pod behind that address (after DNAT on the node that judges)."""
        job = find(self.objects, "Job", clients.job_name(case.client))
        containers = job["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e.get("value") for c in containers for e in c.get("env", [])}
        target = str(env.get(case.target.env_var))
        addresses = {target}
        for states, ips in ((self.states, self.cluster_ips), (self.states6, self.cluster_ips6)):
            for rule in (r for state in states.values() for r in service_port_rules(state, ips)):
                if str(rule.cluster_ip) == target:
                    addresses |= {str(e.ip) for e in rule.endpoints}
        ports = {str(p) for p in (case.port, case.data_port) if p is not None}
        return lambda flow: flow.dst in addresses and flow.port in ports

    def new_policy_drops(self) -> list[PolicyDrop]:
        """Which pods' policies dropped packets since the last call: what a failed case's reason names."""
        drops: list[PolicyDrop] = []
        for states in (self.states, self.states6):
            for cluster, state in states.items():
                family = state.family
                nodes = [n for n in self.layout.nodes if n.cluster == cluster]
                counts = drop_counts(run(("ip", "netns", "exec", n.ns, "ipset", "save")) for n in nodes)
                drops += policy_drops(state, counts, self._drop_counts.get((cluster, family)))
                self._drop_counts[cluster, family] = counts
        return drops
