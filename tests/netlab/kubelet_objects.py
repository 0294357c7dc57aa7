"""The objects `manifests.render` makes for a stack, with the lab's addresses, and a real lab network.

The objects are the ones the Pulumi program registers (the identity test holds render() to
that); the network is the lab's own layout (netlab/layout.py): node and pod namespaces,
veths, routes and the VIP DNAT.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from manifests import Obj, find
from netlab.kubelet import Placement
from netlab.layout import Layout, build_layout, nat_rules, setup_commands
from netlab.namespaces import claim, release, remove_namespaces, run
from netlab.workloads import lab_objects, placement
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
        for cluster in layout.clusters:
            rules = nat_rules(layout, cluster.name)
            for node in (n for n in layout.nodes if n.cluster == cluster.name):
                run(("ip", "netns", "exec", node.ns, "iptables-restore"), stdin=rules)
        yield Lab(stack, plan, layout, lab_objects(stack, plan, layout))
    finally:
        remove_namespaces(prefix, layout.namespaces)
        release(prefix)
