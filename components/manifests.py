"""Kubernetes object bodies as plain camelCase dicts: pure, and checked against the OpenAPI schema in tests.

Every pod runs as the image's non-root user with no capabilities, no privilege escalation,
a read-only root filesystem (an emptyDir for /tmp, where iperf3 keeps its buffers) and the
runtime's default seccomp profile: the namespace enforces the `restricted` Pod Security level.
"""

from __future__ import annotations

from typing import Any

from spec.model import Workload, rate_bits_per_s
from spec.plan import Case, Plan

UID = 10001
SKIP_AWAIT = "pulumi.com/skipAwait"
ROLE, WORKLOAD, SERVES = "meshperf.io/role", "meshperf.io/workload", "meshperf.io/serves"
RUN_ID = "meshperf.io/run-id"
PART_OF = {"app.kubernetes.io/part-of": "meshperf"}
SCRIPTS_DIR = "/meshperf"
# The CNI bandwidth plugin's pod annotations: a quantity in bits per second.
EGRESS_BANDWIDTH, INGRESS_BANDWIDTH = "kubernetes.io/egress-bandwidth", "kubernetes.io/ingress-bandwidth"

# Kubernetes objects in the API's own camelCase spelling: the SDK passes them through as they are
# (its TypedDicts spell keys in snake_case, hence Any for the type checker).
Obj = Any


def api(obj: object) -> Any:
    """An API object body written inline, handed to the SDK as it is."""
    return obj


def meta(
    name: str,
    namespace: Any = None,
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


def server_ports(plan: Plan) -> list[Obj]:
    """Ports a server serves: iperf3 over TCP and UDP, netperf's control and fixed data port (TCP)."""
    seen: dict[tuple[int, str], str] = {}
    for case in plan.cases:
        if case.tool.startswith("iperf3"):
            seen[(case.port, "TCP")] = "iperf3-tcp"
            seen[(case.port, "UDP")] = "iperf3-udp"
        else:
            seen[(case.port, "TCP")] = "netperf-ctl"
            if case.data_port is not None:
                seen[(case.data_port, "TCP")] = "netperf-data"
    return [{"name": name, "port": port, "protocol": proto} for (port, proto), name in sorted(seen.items())]


def service_ports(plan: Plan) -> list[Obj]:
    return [{**p, "targetPort": p["port"]} for p in server_ports(plan)]


def _tmp() -> tuple[Obj, Obj]:
    return {"name": "tmp", "mountPath": "/tmp"}, {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}


def _probe(port: int) -> Obj:
    return {"tcpSocket": {"port": port}, "periodSeconds": 2, "failureThreshold": 30}


def _resources() -> Obj:
    return {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "512Mi"}}


def server_pod_spec(plan: Plan, image: Any, pull_policy: str, node_selector: dict[str, str]) -> Obj:
    """iperf3 -s and netserver in one pod, each with a readiness probe on its port."""
    mount, volume = _tmp()
    ports = {p["name"]: p["port"] for p in server_ports(plan)}
    containers: list[Obj] = []
    if "iperf3-tcp" in ports:
        containers.append(
            {
                "name": "iperf3",
                "image": image,
                "imagePullPolicy": pull_policy,
                "command": ["iperf3", "-s", "-p", str(ports["iperf3-tcp"])],
                "env": [{"name": "TMPDIR", "value": "/tmp"}],
                "ports": [
                    {"name": "iperf3-tcp", "containerPort": ports["iperf3-tcp"], "protocol": "TCP"},
                    {"name": "iperf3-udp", "containerPort": ports["iperf3-tcp"], "protocol": "UDP"},
                ],
                "readinessProbe": _probe(ports["iperf3-tcp"]),
                "securityContext": container_security(),
                "resources": _resources(),
                "volumeMounts": [mount],
            }
        )
    if "netperf-ctl" in ports:
        container_ports = [{"name": "netperf-ctl", "containerPort": ports["netperf-ctl"], "protocol": "TCP"}]
        if "netperf-data" in ports:
            container_ports.append({"name": "netperf-data", "containerPort": ports["netperf-data"], "protocol": "TCP"})
        containers.append(
            {
                "name": "netserver",
                "image": image,
                "imagePullPolicy": pull_policy,
                "command": ["netserver", "-D", "-p", str(ports["netperf-ctl"]), "-4"],
                "ports": container_ports,
                "readinessProbe": _probe(ports["netperf-ctl"]),
                "securityContext": container_security(),
                "resources": _resources(),
                "volumeMounts": [mount],
            }
        )
    return {
        "nodeSelector": dict(node_selector),
        "securityContext": pod_security(),
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "containers": containers,
        "volumes": [volume],
    }


def entry_script(cases: list[Case], *, serves: bool, plan: Plan) -> str:
    """A client Job's entry: serve (hairpin), wait until every target answers, then run the runner script."""
    lines = ["#!/bin/sh", "set -u"]
    if serves:
        ports = {p["name"]: p["port"] for p in server_ports(plan)}
        if "iperf3-tcp" in ports:
            lines.append(f"iperf3 -s -p {ports['iperf3-tcp']} -D")
        if "netperf-ctl" in ports:
            lines.append(f"netserver -p {ports['netperf-ctl']} -4")
    lines += [
        "wait_for() {",
        # Without nc the wait below would spin silently for two minutes: say why, once.
        '    command -v nc >/dev/null || { echo "[meshperf] no nc in the image: no wait for $1:$2" >&2; return 1; }',
        '    n=0; until nc -z -w 2 "$1" "$2" 2>/dev/null; do',
        '        n=$((n + 1)); [ "$n" -ge 120 ] && { echo "[meshperf] $1:$2 does not answer" >&2; return 1; }',
        "        sleep 1",
        "    done",
        "}",
    ]
    targets = sorted({(c.target.env_var, c.port) for c in cases})
    lines += [f'wait_for "${{{var}}}" {port} || true' for var, port in targets]
    lines.append(f"exec sh {SCRIPTS_DIR}/runner.sh")
    return "\n".join(lines) + "\n"


def client_pod_template(
    *,
    workload: str,
    serves: bool,
    image: Any,
    pull_policy: str,
    node_selector: dict[str, str],
    env: list[Obj],
    claim: Any,
    scripts: Any,
    logdir: str,
    mount_path: str,
    run_id: str,
    plan: Plan,
    annotations: dict[str, str] | None = None,
) -> Obj:
    mount, volume = _tmp()
    labels = {ROLE: "client", WORKLOAD: workload}
    if serves:
        labels[SERVES] = "true"
    container: Obj = {
        "name": "runner",
        "image": image,
        "imagePullPolicy": pull_policy,
        "command": ["sh", f"{SCRIPTS_DIR}/entry.sh"],
        "env": [
            {"name": "MESHPERF_LOGDIR", "value": logdir},
            {"name": "TMPDIR", "value": "/tmp"},
            {"name": "LANG", "value": "C"},
            *env,
        ],
        "securityContext": container_security(),
        "resources": _resources(),
        "volumeMounts": [
            {"name": "logs", "mountPath": mount_path},
            {"name": "scripts", "mountPath": SCRIPTS_DIR, "readOnly": True},
            mount,
        ],
    }
    if serves:
        ports = {p["name"]: p["port"] for p in server_ports(plan)}
        container["ports"] = [
            {"name": name, "containerPort": port, "protocol": "UDP" if name.endswith("udp") else "TCP"}
            for name, port in sorted(ports.items())
        ]
    return {
        "metadata": {"labels": {**PART_OF, **labels}, "annotations": {RUN_ID: run_id, **(annotations or {})}},
        "spec": {
            "restartPolicy": "Never",
            "nodeSelector": dict(node_selector),
            "securityContext": pod_security(),
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "containers": [container],
            "volumes": [
                {"name": "logs", "persistentVolumeClaim": {"claimName": claim}},
                {"name": "scripts", "configMap": {"name": scripts, "defaultMode": 0o555}},
                volume,
            ],
        },
    }


def job_spec(template: Obj, deadline_s: int) -> Obj:
    return {"backoffLimit": 0, "activeDeadlineSeconds": deadline_s, "template": template}


def viewer_pod_spec(image: Any, pull_policy: str, node_selector: dict[str, str], claim: Any, mount_path: str) -> Obj:
    """A pod that holds a node's log claim (read-only) so that the logs can be read by exec."""
    mount, volume = _tmp()
    return {
        "nodeSelector": dict(node_selector),
        "securityContext": pod_security(),
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 1,
        "containers": [
            {
                "name": "viewer",
                "image": image,
                "imagePullPolicy": pull_policy,
                "command": ["sleep", "infinity"],
                "securityContext": container_security(),
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}},
                "volumeMounts": [{"name": "logs", "mountPath": mount_path, "readOnly": True}, mount],
            }
        ],
        "volumes": [{"name": "logs", "persistentVolumeClaim": {"claimName": claim, "readOnly": True}}, volume],
    }


def claim_spec(size: str, storage_class: str | None) -> Obj:
    spec: Obj = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if storage_class:
        spec["storageClassName"] = storage_class
    return spec


def _policy_ports(plan: Plan) -> list[Obj]:
    return [{"protocol": p["protocol"], "port": p["port"]} for p in server_ports(plan)]


def deny_all_spec() -> Obj:
    return {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def servers_ingress_spec(plan: Plan, remote_sources: list[str]) -> Obj:
    """Servers take the test ports from this namespace's clients, and from the other cluster's sources."""
    sources: list[Obj] = [{"podSelector": {"matchLabels": {ROLE: "client"}}}]
    sources += [{"ipBlock": {"cidr": cidr}} for cidr in remote_sources]
    return {
        "podSelector": {"matchLabels": {SERVES: "true"}},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": sources, "ports": _policy_ports(plan)}],
    }


def clients_egress_spec(plan: Plan, remote_targets: list[str]) -> Obj:
    """Clients reach the servers' test ports here (pod IP or VIP), and the remote pods by /32."""
    targets: list[Obj] = [{"podSelector": {"matchLabels": {SERVES: "true"}}}]
    targets += [{"ipBlock": {"cidr": cidr}} for cidr in remote_targets]
    return {
        "podSelector": {"matchLabels": {ROLE: "client"}},
        "policyTypes": ["Egress"],
        "egress": [{"to": targets, "ports": _policy_ports(plan)}],
    }
