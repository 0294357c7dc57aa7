"""The Kubernetes objects the Pulumi program registers, rendered for the kubelet tests, and a real lab network.

The objects come from components/manifests.py, the functions the program itself calls (the
tests may import components; netlab may not). The network is the lab's own layout
(netlab/layout.py): node and pod namespaces, veths, routes and the VIP DNAT.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components import manifests as m
from netlab.kubelet import Placement
from netlab.layout import Layout, build_layout, nat_rules, setup_commands
from netlab.namespaces import claim, release, remove_namespaces, run
from spec.load import load_stack
from spec.model import Stack
from spec.plan import Case, Plan, build_plan
from spec.profiles import quick
from spec.runner import runner_script

IMAGE = "meshperf-tools:dev"
CLAIM = "logs-node"


@dataclass(frozen=True)
class Lab:
    stack: Stack
    plan: Plan
    layout: Layout

    def placement(self, workload: str, node_logs: Path, configmaps: dict[str, Any] | None = None) -> Placement:
        pod = self.layout.pod(workload)
        node = self.layout.node(pod.cluster, pod.node)
        return Placement(
            netns=pod.ns,
            ip=str(pod.ip),
            node_netns=node.ns,
            configmaps=configmaps or {},
            claims={CLAIM: node_logs},
        )


@contextmanager
def lab_network(prefix: str, stack_name: str = "kind-local") -> Iterator[Lab]:
    """The lab's namespaces for a quick stack, removed on every exit path."""
    stack = quick(load_stack(stack_name))
    plan = build_plan(stack)
    layout = build_layout(stack, plan, prefix)
    claim(prefix)
    try:
        for argv in setup_commands(layout):
            run(argv)
        for cluster in layout.clusters:
            rules = nat_rules(layout, cluster.name)
            for node in (n for n in layout.nodes if n.cluster == cluster.name):
                run(("ip", "netns", "exec", node.ns, "iptables-restore"), stdin=rules)
        yield Lab(stack, plan, layout)
    finally:
        remove_namespaces(prefix, layout.namespaces)
        release(prefix)


def server_pod(lab: Lab, workload: str) -> dict[str, Any]:
    return {
        "metadata": m.meta(f"{workload}-server", "meshperf", {m.ROLE: "server", m.WORKLOAD: workload}),
        "spec": m.server_pod_spec(lab.plan, IMAGE, "IfNotPresent", lab.stack.workloads[workload].node_selector),
    }


Obj = dict[str, Any]


def client_job(lab: Lab, client: str, cases: list[Case], deadline_s: int = 120) -> tuple[Obj, Obj]:
    """(the Job, its scripts ConfigMap) for a client running these cases, as components/suite.py makes them."""
    logdir = f"/logs/{lab.stack.run_id}"
    serves = any(c.target.workload == client for c in cases)
    env = {c.target.env_var for c in cases}
    addresses = {k: v for k, v in lab.layout.target_env().items() if k in env}
    scripts = {
        "metadata": m.meta(f"{client}-scripts", "meshperf", {m.WORKLOAD: client}),
        "data": {
            "runner.sh": runner_script(client, cases),
            "entry.sh": m.entry_script(cases, serves=serves, plan=lab.plan),
        },
    }
    template = m.client_pod_template(
        workload=client,
        serves=serves,
        image=IMAGE,
        pull_policy="IfNotPresent",
        node_selector=lab.stack.workloads[client].node_selector,
        env=[{"name": k, "value": v} for k, v in sorted(addresses.items())],
        claim=CLAIM,
        scripts=f"{client}-scripts",
        logdir=logdir,
        mount_path="/logs",
        run_id=lab.stack.run_id,
        plan=lab.plan,
    )
    job = {"metadata": m.meta(f"{client}-client", "meshperf"), "spec": m.job_spec(template, deadline_s)}
    return job, scripts
