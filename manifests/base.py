"""Building blocks of every object: metadata, labels, the pods' security, ports, images.

Every pod runs as the image's non-root user with no capabilities, no privilege escalation,
a read-only root filesystem (an emptyDir for /tmp, where iperf3 keeps its buffers) and the
runtime's default seccomp profile: the namespace enforces the `restricted` Pod Security level.
The host baseline's pods keep all of it, with `hostNetwork`, in a `privileged` namespace of their own.
Objects are plain dicts in the API's own camelCase spelling.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from spec.kubernetes import KubernetesSettings
from spec.model import Cluster, Family, Stack, Workload, rate_bits_per_s
from spec.plan import Plan
from spec.runner import LOGDIR_VAR

UID = 10001
SKIP_AWAIT = "pulumi.com/skipAwait"
ROLE, WORKLOAD, SERVES = "meshperf.io/role", "meshperf.io/workload", "meshperf.io/serves"
RUN_ID = "meshperf.io/run-id"
# What a Job runs (scripts, cases, pod template, image, run id), hashed: see `content_hash`.
CONTENT_HASH = "meshperf.io/content-hash"
E2SAR_CASE = "meshperf.io/e2sar-case"
# Which cluster of the stack an object goes to (names repeat across clusters: the namespace, ...).
CLUSTER = "meshperf.io/cluster"
PART_OF = {"app.kubernetes.io/part-of": "meshperf"}
SCRIPTS_DIR = "/meshperf"
# The CNI bandwidth plugin's pod annotations: a quantity in bits per second.
EGRESS_BANDWIDTH, INGRESS_BANDWIDTH = "kubernetes.io/egress-bandwidth", "kubernetes.io/ingress-bandwidth"

Obj = dict[str, Any]


def obj(api_version: str, kind: str, metadata: Obj, **body: Any) -> Obj:
    """A whole object: apiVersion, kind, metadata and its body's fields (spec, data, ...)."""
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **body}


def meta(
    name: str,
    namespace: str | None = None,
    labels: dict[str, str] | None = None,
    *,
    annotations: dict[str, str] | None = None,
    skip_await: bool = False,
) -> Obj:
    out: Obj = {"name": name, "labels": {**PART_OF, **(labels or {})}}
    if namespace is not None:
        out["namespace"] = namespace
    notes = dict(annotations or {})
    if skip_await:
        notes[SKIP_AWAIT] = "true"
    if notes:
        out["annotations"] = notes
    return out


def builds_image(stack: Stack, kube: KubernetesSettings) -> bool:
    """The image is built and loaded by meshperf: by default when every cluster is a kind cluster."""
    build = kube.image.build
    return all(c.kubeconfig_context is None for c in stack.clusters) if build is None else build


def pull_policy(stack: Stack, kube: KubernetesSettings) -> str:
    """The tool image's pull policy: never pull an image loaded into kind, else pull when missing."""
    if kube.image.pull_policy:
        return kube.image.pull_policy
    return "Never" if builds_image(stack, kube) else "IfNotPresent"


def bandwidth_annotations(workload: Workload) -> dict[str, str]:
    """A workload's `egress_rate`/`ingress_rate` as the bandwidth plugin's annotations (bits/s), where set.

    They only take effect where the cluster's CNI chain includes the bandwidth plugin.
    """
    out: dict[str, str] = {}
    for key, rate in ((EGRESS_BANDWIDTH, workload.egress_rate), (INGRESS_BANDWIDTH, workload.ingress_rate)):
        if rate is not None:
            out[key] = str(rate_bits_per_s(rate))
    return out


def pod_security() -> Obj:
    return {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "fsGroup": UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security() -> Obj:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def tmp_volume() -> tuple[Obj, Obj]:
    """/tmp as an emptyDir: the mount and the volume."""
    return {"name": "tmp", "mountPath": "/tmp"}, {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}


def server_ports(plan: Plan) -> list[Obj]:
    """Ports a server serves: iperf3 over TCP and UDP, netperf's control and fixed data port
    (TCP, and UDP too for netperf's UDP_RR and UDP_STREAM)."""
    seen: dict[tuple[int, str], str] = {}
    for case in plan.cases:
        if case.tool.startswith("iperf3"):
            seen[(case.port, "TCP")] = "iperf3-tcp"
            seen[(case.port, "UDP")] = "iperf3-udp"
        else:
            seen[(case.port, "TCP")] = "netperf-ctl"
            if case.data_port is not None:
                seen[(case.data_port, "TCP")] = "netperf-data"
                if case.tool.startswith("udp_"):
                    seen[(case.data_port, "UDP")] = "netperf-udp"
    return [{"name": name, "port": port, "protocol": proto} for (port, proto), name in sorted(seen.items())]


# The API's names of the families, in a Service's `ipFamilies` and an EndpointSlice's `addressType`.
API_FAMILY: dict[Family, str] = {"ipv4": "IPv4", "ipv6": "IPv6"}


def service_families(cluster: Cluster) -> Obj:
    """A Service's `ipFamilyPolicy` and `ipFamilies` for the cluster's families; none for an IPv4
    cluster (the API's default there). Dual asks for both (RequireDualStack), IPv4 first."""
    if cluster.families == ("ipv4",):
        return {}
    policy = "RequireDualStack" if len(cluster.families) > 1 else "SingleStack"
    return {"ipFamilyPolicy": policy, "ipFamilies": [API_FAMILY[f] for f in cluster.families]}


def netserver_family(cluster: Cluster) -> str:
    """netserver's listening family: -4 on an IPv4 cluster; else -6, whose socket on `::` takes IPv4 as well."""
    return "-4" if cluster.families == ("ipv4",) else "-6"


def service_ports(plan: Plan) -> list[Obj]:
    return [{**p, "targetPort": p["port"]} for p in server_ports(plan)]


def policy_ports(plan: Plan) -> list[Obj]:
    return [{"protocol": p["protocol"], "port": p["port"]} for p in server_ports(plan)]


def job_spec(template: Obj, deadline_s: int) -> Obj:
    return {"backoffLimit": 0, "activeDeadlineSeconds": deadline_s, "template": template}


def content_hash(parts: Any) -> str:
    """16 hex digits of SHA-256 over `parts` as canonical JSON: what a Job runs, in a folder name."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def with_logdir(template: Obj, parts: Any, mount_path: str, run_id: str) -> Obj:
    """A Job's pod template, hashed with what else it runs (`parts`), given its log folder and hash.

    The folder is `<mount>/<run id>-<hash>`: a Job whose scripts, cases, image, env or run id
    change gets a new template (so pulumi-kubernetes replaces it) and writes to a new folder
    (so the results of an earlier run are never read as this one's).
    """
    digest = content_hash({"template": template, "parts": parts})
    logdir = f"{mount_path.rstrip('/')}/{run_id}-{digest}"
    (container,) = template["spec"]["containers"]
    return {
        "metadata": {
            **template["metadata"],
            "annotations": {**template["metadata"]["annotations"], CONTENT_HASH: digest},
        },
        "spec": {
            **template["spec"],
            "containers": [{**container, "env": [{"name": LOGDIR_VAR, "value": logdir}, *container["env"]]}],
        },
    }


def logdir_of(template: Obj) -> str:
    """The log folder a rendered Job's pod template writes to."""
    (container,) = template["spec"]["containers"]
    return str(next(e["value"] for e in container["env"] if e["name"] == LOGDIR_VAR))
