"""The rendered objects in the lab: which pods it runs, and where each runs (pure).

The lab gives render() its own addresses (netlab/scheduled.py) and runs what comes back: the
server Pods, the client Jobs in order, the E2SAR Jobs. A pod runs in its workload's namespace;
every log claim is the run's `logs/` folder, so each Job's log folder (`<mount>/<run id>-<hash>`)
is a subfolder of it.
"""

from __future__ import annotations

from pathlib import Path

from manifests import CLUSTER, Obj, logdir_of, of_kind
from manifests.base import ROLE, WORKLOAD
from netlab.kubelet import Placement
from netlab.layout import Layout


def server_pods(objects: list[Obj]) -> list[Obj]:
    """The Pods the lab runs before the Jobs: the servers (the log viewers only serve `kubectl exec`)."""
    return [o for o in of_kind(objects, "Pod") if o["metadata"]["labels"].get(ROLE) == "server"]


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
