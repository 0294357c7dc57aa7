"""The objects `manifests.render` makes for a stack, with the lab's addresses, and a real lab network.

The objects are the ones the Pulumi program registers (the identity test holds render() to
that); the network is the lab's own layout (netlab/layout.py): node and pod namespaces,
veths, routes, and the nodes' rules from those objects (Services, masquerade, policies) with
every pod running.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from manifests import Obj, find, render
from netlab.cluster_state import cluster_state
from netlab.kubelet import Placement
from netlab.lab import write_rules
from netlab.layout import Layout, build_layout, setup_commands
from netlab.namespaces import claim, release, remove_namespaces, run
from netlab.node_rules import node_rules
from netlab.scheduled import cluster_objects, lab_addresses
from netlab.workloads import placement
from spec.load import load_stack
from spec.model import Stack
from spec.plan import Plan, build_plan
from spec.profiles import quick


@dataclass(frozen=True)
class Lab:
    stack: Stack
    plan: Plan
    layout: Layout
    objects: list[Obj]

    def placement(self, obj: Obj, node_logs: Path) -> Placement:
        """Where the lab runs it: its workload's namespace, its cluster's ConfigMaps, claims on `node_logs`."""
        return placement(self.layout, self.objects, obj, node_logs)

    def pod(self, name: str) -> Obj:
        return copy.deepcopy(find(self.objects, "Pod", name))

    def job(self, name: str) -> Obj:
        return copy.deepcopy(find(self.objects, "Job", name))


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
        addresses = lab_addresses(stack, plan, layout)
        objects = render(stack, plan, stack.kubernetes, addresses)
        cluster_ips = {(stack.kubernetes.namespace, name): ip for name, ip in addresses.cluster_ips.items()}
        states = {c: cluster_state(objs) for c, objs in cluster_objects(objects, layout).items()}
        for node in layout.nodes:
            rules = node_rules(states[node.cluster], node.name, stack.cluster(node.cluster).pod_subnet, cluster_ips)
            write_rules(node.ns, rules)
        yield Lab(stack, plan, layout, objects)
    finally:
        remove_namespaces(prefix, layout.namespaces)
        release(prefix)
