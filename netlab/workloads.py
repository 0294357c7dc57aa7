"""The rendered objects in the lab: the addresses `manifests.render` needs, and where each pod runs (pure).

The lab gives render() its own addresses (the layout's pod IPs and VIPs, its node IPs) and the
stack's tool image name, and runs what comes back: the server Pods, the client Jobs in order, the
E2SAR Jobs. A pod runs in its workload's namespace; every log claim is the run's `logs/` folder,
so each Job's log folder (`<mount>/<run id>-<hash>`) is a subfolder of it.
"""

from __future__ import annotations

from pathlib import Path

from manifests import CLUSTER, Addresses, Obj, logdir_of, of_kind, render
from manifests.base import ROLE, WORKLOAD
from netlab.kubelet import Placement
from netlab.layout import Layout
from spec.model import Stack
from spec.plan import Plan


def lab_addresses(stack: Stack, plan: Plan, layout: Layout) -> Addresses:
    """The lab's addresses in render()'s terms: a VIP serves both the `-vip` and `-hairpin` Service;
    the image is the stack's tool image (the lab runs it from the root filesystem it builds)."""
    cluster_ips = {}
    for pod in layout.pods:
        if pod.vip is not None:
            cluster_ips[f"{pod.workload}-vip"] = pod.vip
            cluster_ips[f"{pod.workload}-hairpin"] = pod.vip
    return Addresses(
        image=stack.kubernetes.image.name,
        pod_ips={p.workload: p.ip for p in layout.pods},
        cluster_ips=cluster_ips,
        receiver_ips={case.id: layout.pod(case.receiver).ip for case in plan.e2sar},
        node_ips={c.name: tuple(n.ip for n in layout.nodes if n.cluster == c.name) for c in layout.clusters},
    )


def lab_objects(stack: Stack, plan: Plan, layout: Layout) -> list[Obj]:
    return render(stack, plan, stack.kubernetes, lab_addresses(stack, plan, layout))


def server_pods(objects: list[Obj]) -> list[Obj]:
    """The Pods the lab runs before the Jobs: the servers (the log viewers only serve `kubectl exec`)."""
    return [o for o in of_kind(objects, "Pod") if o["metadata"]["labels"].get(ROLE) == "server"]


def jobs(objects: list[Obj]) -> list[Obj]:
    """The Jobs, in the order they run."""
    return of_kind(objects, "Job")


def workload_of(obj: Obj) -> str:
    """The workload a Pod or a Job's pod belongs to (its namespace in the lab)."""
    labels = (obj["spec"]["template"]["metadata"] if obj["kind"] == "Job" else obj["metadata"])["labels"]
    return str(labels[WORKLOAD])


def placement(layout: Layout, objects: list[Obj], obj: Obj, logs: Path) -> Placement:
    """Where a Pod or Job runs: its workload's namespace and IP, its node's namespace (probes come from
    there), its cluster's ConfigMaps, and the run's log folder for every log claim."""
    cluster = str(obj["metadata"]["labels"][CLUSTER])
    pod = layout.pod(workload_of(obj))
    node = layout.node(pod.cluster, pod.node)
    return Placement(
        netns=pod.ns,
        ip=str(pod.ip),
        node_netns=node.ns,
        namespace=str(obj["metadata"].get("namespace", "default")),
        configmaps={str(c["metadata"]["name"]): c for c in of_kind(objects, "ConfigMap", cluster)},
        claims={str(c["metadata"]["name"]): logs for c in of_kind(objects, "PersistentVolumeClaim", cluster)},
    )


def job_logdir(job: Obj, mount_path: str, logs: Path) -> Path:
    """The run folder's subfolder a Job writes its logs to (its MESHPERF_LOGDIR, under the claim)."""
    inside = logdir_of(job["spec"]["template"])
    return logs / Path(inside).relative_to(mount_path)
