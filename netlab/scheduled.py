"""The rendered objects as one cluster's API would list them once the lab runs them (pure).

`manifests.render()` gives Pods and Jobs; the lab runs each Pod, and each Job's pods, in a
network namespace of its own (netlab/layout.py). Here each Pod, and the pod of each Job that is
running, becomes a Pod object with `spec.nodeName` and `status.podIP` filled in (what the
scheduler and the CNI would add), so that kube-proxy and the policy engine read the lab's pods
exactly as they read a cluster's. Jobs run one at a time; a finished Job's pod holds no IP
and no policy applies to it any more, so the lab rewrites the rules as each Job starts.

Also the lab's side of `render()`: the addresses only a runtime knows.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable

from manifests import CLUSTER, Addresses, Obj
from manifests.e2sar import RECEIVER, job_name
from netlab.layout import Layout
from spec.kubernetes import ClusterSettings
from spec.model import Family, Stack
from spec.plan import Plan


def _cluster(obj: Obj) -> str:
    return str(obj["metadata"].get("labels", {}).get(CLUSTER, ""))


def _running(layout: Layout, cluster: str, name: str, pod_name: str, namespace: str, template: Obj) -> Obj | None:
    """The running Pod of the Pod or Job `name`, at its lab namespace's address; None if the lab has none."""
    try:
        pod = layout.pod(name, cluster, namespace)
    except KeyError:
        return None
    ips = [str(pod.address(f)) for f in pod.families]  # one per family, the primary first (as the kubelet)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {**template["metadata"], "name": pod_name, "namespace": namespace},
        "spec": {**template["spec"], "nodeName": pod.node},
        "status": {"podIP": ips[0], "podIPs": [{"ip": ip} for ip in ips], "phase": "Running"},
    }


def cluster_objects(
    objects: Iterable[Obj], layout: Layout, jobs: Collection[str] | None = None
) -> dict[str, list[Obj]]:
    """Per cluster: its objects, with every pod the lab runs as a running Pod: the Pods, and the pods
    of the Jobs named in `jobs` (None: every Job)."""
    out: dict[str, list[Obj]] = {c.name: [] for c in layout.clusters}
    for obj in objects:
        cluster = _cluster(obj)
        if cluster not in out:
            continue
        meta = obj["metadata"]
        if obj["kind"] == "Pod":
            running = _running(layout, cluster, meta["name"], meta["name"], meta["namespace"], obj)
        elif obj["kind"] == "Job":
            if jobs is not None and meta["name"] not in jobs:
                continue
            template = obj["spec"]["template"]
            running = _running(layout, cluster, meta["name"], f"{meta['name']}-pod", meta["namespace"], template)
        else:
            out[cluster].append(obj)
            continue
        if running is not None:
            out[cluster].append(running)
    return out


def meshed(stack: Stack) -> bool:
    """Two kind clusters on one host: the program routes them (KindMeshRoutes) and so knows their node IPs
    (components/config.py `routes_kind_clusters`, read from the same stack keys)."""
    kinds = [c.name for c in stack.clusters if c.kubeconfig_context is None]
    hosts = [stack.kubernetes.clusters.get(c, ClusterSettings()).host for c in kinds]
    return len(kinds) == 2 and hosts[0] == hosts[1]


def spare_service_ip(
    stack: Stack, layout: Layout, cluster: str, family: Family = "ipv4"
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """A ClusterIP of `family` that no workload's VIP uses, as the API server would allocate one."""
    used = {p.vip_of(family) for p in layout.pods if p.cluster == cluster}
    first = stack.cluster(cluster).subnets(family)[1].network_address + 200
    return next(first + i for i in range(256) if first + i not in used)


def lab_addresses(stack: Stack, plan: Plan, layout: Layout) -> Addresses:
    """What the lab gives `render()`: the server Pods' and the E2SAR receiver pods' own IPs, the
    ClusterIPs it chose, and node IPs where the program would know them (two kind clusters on one
    host, or `node_cidrs` declared in the stack: then the lab's own node IPs stand for the declared ones)."""
    cluster_ips: dict[Family, dict[str, ipaddress.IPv4Address | ipaddress.IPv6Address]] = {"ipv4": {}, "ipv6": {}}
    for pod in layout.pods:
        for family in pod.families:
            vip = pod.vip_of(family)
            if vip is not None:
                cluster_ips[family][f"{pod.workload}-vip"] = vip
                cluster_ips[family][f"{pod.workload}-hairpin"] = spare_service_ip(stack, layout, pod.cluster, family)
    known = [
        c.name
        for c in stack.clusters
        if meshed(stack) or (c.name in stack.kubernetes.clusters and stack.kubernetes.clusters[c.name].node_cidrs)
    ]
    return Addresses(
        image=stack.kubernetes.image.name,
        pod_ips={w: s.ip for w in plan.servers() if "ipv4" in (s := layout.server(w)).families},
        cluster_ips=cluster_ips["ipv4"],
        receiver_ips={case.id: layout.pod(job_name(case, RECEIVER)).ip for case in plan.e2sar},
        node_ips={c: tuple(n.ip for n in layout.nodes if n.cluster == c) for c in known},
        pod_ips6={w: ip for w in plan.servers() if (ip := layout.server(w).ip6) is not None},
        cluster_ips6=cluster_ips["ipv6"],
        node_ips6={c: tuple(n.ip6 for n in layout.nodes if n.cluster == c and n.ip6 is not None) for c in known},
    )
