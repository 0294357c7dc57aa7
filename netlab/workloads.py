"""The rendered objects in the lab: which pods it runs, and where each runs (pure).

The lab gives render() its own addresses (netlab/scheduled.py) and runs what comes back: the
Pods (servers and log viewers), the client Jobs in order, the E2SAR Jobs. Each Pod, and each
Job's pods, run in the network namespace the layout made for that object (netlab/layout.py);
every log claim is the run's `logs/` folder, so each Job's log folder (`<mount>/<run id>-<hash>`)
is a subfolder of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from manifests import CLUSTER, Obj, logdir_of, of_kind
from netlab.kubelet import Placement
from netlab.layout import Layout


def placement(
    layout: Layout, objects: list[Obj], obj: Obj, logs: Path, secrets: Mapping[str, Mapping[str, str]] | None = None
) -> Placement:
    """Where a Pod or a Job's pods run: the object's own namespace and IP, its node's namespace (probes
    come from there), its cluster's ConfigMaps, the Secrets' data (held in memory by the lab), and the
    run's log folder for every log claim."""
    cluster = str(obj["metadata"]["labels"][CLUSTER])
    namespace = str(obj["metadata"].get("namespace", "default"))
    pod = layout.pod(str(obj["metadata"]["name"]), cluster, namespace)
    node = layout.node(pod.cluster, pod.node)
    return Placement(
        netns=pod.ns,
        ip=str(pod.ip),
        node_netns=node.ns,
        namespace=namespace,
        configmaps={str(c["metadata"]["name"]): c for c in of_kind(objects, "ConfigMap", cluster)},
        secrets=dict(secrets or {}),
        claims={str(c["metadata"]["name"]): logs for c in of_kind(objects, "PersistentVolumeClaim", cluster)},
    )


def job_logdir(job: Obj, mount_path: str, logs: Path) -> Path:
    """The run folder's subfolder a Job writes its logs to (its MESHPERF_LOGDIR, under the claim)."""
    inside = logdir_of(job["spec"]["template"])
    return logs / Path(inside).relative_to(mount_path)
