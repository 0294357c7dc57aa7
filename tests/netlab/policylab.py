"""A small lab for the policy and Service tests: kind-mesh's namespaces, an echo server in one pod
namespace of each workload (`lab_pod`), and iptables written from hand-written objects. Everything
goes on every exit path."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

from netlab.cluster_state import cluster_state
from netlab.lab import new_prefix, write_rules
from netlab.layout import Layout, Pod, build_layout, setup_commands
from netlab.namespaces import claim, release, remove_namespaces, run
from netlab.netpol import PolicyDrop, drop_counts, policy_drops
from netlab.node_rules import node_rules
from netlab.services import ClusterIps
from spec.load import load_stack
from spec.plan import build_plan

PROBE = str(Path(__file__).with_name("probe.py"))
ECHO_PORTS = list(range(7000, 7012))
SERVE_S = 240  # the servers end on their own even if this process is killed
Obj = dict[str, Any]


def lab_pod(layout: Layout, workload: str) -> Pod:
    """The lab pod that stands for a workload here: its first (its server Pod, else its client Job)."""
    return next(p for p in layout.pods if p.workload == workload)


def pod(layout: Layout, workload: str, namespace: str, labels: dict[str, str], ports: list[Obj] | None = None) -> Obj:
    """A running Pod object at a lab pod's address (what the kubelet and scheduler would report)."""
    at = lab_pod(layout, workload)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": workload, "namespace": namespace, "labels": labels},
        "spec": {"nodeName": at.node, "containers": [{"name": "echo", "ports": ports or []}]},
        "status": {"podIP": str(at.ip)},
    }


def namespace(name: str, labels: dict[str, str]) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def policy(name: str, ns: str, spec: Obj) -> Obj:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


class PolicyLab:
    def __init__(self) -> None:
        self.stack = load_stack("kind-mesh")
        self.layout = build_layout(self.stack, build_plan(self.stack), new_prefix())
        self.servers: list[subprocess.Popen[str]] = []
        self.objects: dict[str, list[Obj]] = {}

    def __enter__(self) -> PolicyLab:
        try:
            claim(self.layout.prefix)
            for argv in setup_commands(self.layout):
                run(argv)
            for p in (lab_pod(self.layout, w) for w in sorted(self.stack.workloads)):
                server = subprocess.Popen(
                    ["ip", "netns", "exec", p.ns, sys.executable, PROBE, "serve", str(SERVE_S), *map(str, ECHO_PORTS)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                    start_new_session=True,
                )
                self.servers.append(server)
                assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        for server in self.servers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        remove_namespaces(self.layout.prefix, self.layout.namespaces)
        release(self.layout.prefix)

    def apply(self, objects: dict[str, list[Obj]], allocated: ClusterIps | None = None) -> None:
        """Every node's iptables from the objects of each cluster (a cluster not given has none)."""
        self.objects = objects
        for node in self.layout.nodes:
            state = cluster_state(objects.get(node.cluster, []))
            rules = node_rules(state, node.name, self.stack.cluster(node.cluster).pod_subnet, allocated or {})
            write_rules(node.ns, rules)

    def reaches(self, src: str, ip: str, port: int, proto: str = "tcp", uid: int | None = None) -> bool:
        """Whether `src` (a workload, or cluster/node for a node namespace) gets the echo back."""
        ns = lab_pod(self.layout, src).ns if "/" not in src else self.layout.node(*src.split("/")).ns
        argv = ["ip", "netns", "exec", ns, sys.executable, PROBE, proto, ip, str(port)]
        if uid is not None:
            argv.append(str(uid))
        return subprocess.run(argv, capture_output=True, timeout=20, check=False).returncode == 0

    def ip(self, workload: str) -> str:
        return str(lab_pod(self.layout, workload).ip)

    def saved(self, table: str, cluster: str | None = None) -> list[str]:
        nodes = [n for n in self.layout.nodes if cluster in (None, n.cluster)]
        return [run(("ip", "netns", "exec", n.ns, "iptables-save", "-c", "-t", table)) for n in nodes]

    def drop_sets(self, cluster: str) -> list[str]:
        nodes = [n for n in self.layout.nodes if n.cluster == cluster]
        return [run(("ip", "netns", "exec", n.ns, "ipset", "save")) for n in nodes]

    def drops(self) -> list[PolicyDrop]:
        return [
            drop
            for cluster, objs in self.objects.items()
            for drop in policy_drops(cluster_state(objs), drop_counts(self.drop_sets(cluster)))
        ]
