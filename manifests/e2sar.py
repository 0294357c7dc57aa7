"""The E2SAR suite's objects, per rate: scripts, receiver Service and policy, sender policy, two Jobs.

The receiver Job's pod has a readiness probe that passes only once every port of its range
is bound (read from /proc/net/udp, no tool needed in the image); the runtime waits for it
(`ready_selector`: this Job's pods only, by their content-hash label) and hands the sender its
IP (`Addresses.receiver_ips`). The receiver learns its own IP from the downward API
(status.podIP), both sides the control plane's token from a Secret (`token_secret`, whose data
each runtime fills in: the token is in no rendered object). NetworkPolicies let the sender's
UDP into exactly the receiver's port range (`endPort`), and the control plane's ports out only
when DIRECT_MODE is off.
"""

from __future__ import annotations

from manifests.addresses import Addresses
from manifests.base import (
    CLUSTER,
    CONTENT_HASH,
    E2SAR_CASE,
    ROLE,
    RUN_ID,
    SCRIPTS_DIR,
    Obj,
    job_spec,
    meta,
    obj,
    with_logdir,
)
from manifests.jobpod import script_pod_template
from manifests.scene import Scene
from manifests.testbed import masquerade_sources
from spec.plan import E2SAR_OWN_IP_VAR, E2SAR_RECEIVER_VAR, E2SAR_TOKEN_VAR, E2sarCase
from spec.runner import e2sar_script

RECEIVER, SENDER = "e2sar-receiver", "e2sar-sender"
ROLES = (RECEIVER, SENDER)
TOKEN_SECRET_KEY = "token"


def selector(case: E2sarCase, role: str, run_id: str) -> dict[str, str]:
    return {ROLE: role, E2SAR_CASE: case.id, RUN_ID: run_id}


def workload_of(case: E2sarCase, role: str) -> str:
    return case.receiver if role == RECEIVER else case.sender


def udp_ports(case: E2sarCase) -> list[int]:
    return list(range(case.port, case.last_port + 1))


def readiness_probe(case: E2sarCase) -> Obj:
    """Ready once every UDP port of the range is bound: /proc/net/udp lists local ports in hex."""
    checks = " && ".join(f"grep -qE '^ *[0-9]+: [0-9A-F]{{8}}:{p:04X} ' /proc/net/udp" for p in udp_ports(case))
    return {"exec": {"command": ["sh", "-c", checks]}, "periodSeconds": 1, "failureThreshold": 600}


def resources(case: E2sarCase, role: str) -> Obj:
    """Sized from the rate: about a core per Gbps (and per receiver thread), room for the socket buffers."""
    cores = max(0.25, min(8.0, case.rate_gbps)) * (case.threads if role == RECEIVER else 1)
    buffers_mi = -(-case.buf_size * max(case.threads, 4) // 2**20)
    memory = 128 + 2 * buffers_mi
    return {
        "requests": {"cpu": f"{int(cores * 1000)}m", "memory": f"{memory}Mi"},
        "limits": {"memory": f"{2 * memory + 256}Mi"},
    }


def scripts_name(case: E2sarCase, role: str) -> str:
    return f"{case.id}-{role.removeprefix('e2sar-')}-scripts"


def job_name(case: E2sarCase, role: str) -> str:
    return case.receiver_id if role == RECEIVER else case.sender_id


def token_secret_name(case: E2sarCase) -> str:
    return f"{case.id}-control-plane"


def token_secret(scene: Scene, case: E2sarCase, cluster: str) -> Obj:
    """The pair's Secret in one cluster, without its data: the runtime adds `stringData` {token: ...}
    (Pulumi from the secret config key, as a secret Output; the lab in memory only)."""
    metadata = meta(token_secret_name(case), scene.namespace, {E2SAR_CASE: case.id, CLUSTER: cluster})
    return obj("v1", "Secret", metadata, type="Opaque")


def token_clusters(scene: Scene, case: E2sarCase) -> list[str]:
    """The clusters that run a side of the pair: each needs the pair's Secret."""
    return sorted({scene.cluster_of(case.receiver), scene.cluster_of(case.sender)})


def e2sar_env(addresses: Addresses, case: E2sarCase, role: str) -> list[Obj]:
    """The address the URI's `data=` names (the receiver's own, by the downward API; the receiver's
    for the sender) and the token, by reference to the pair's Secret."""
    address: Obj = (
        {"name": E2SAR_OWN_IP_VAR, "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}
        if role == RECEIVER
        else {"name": E2SAR_RECEIVER_VAR, "value": addresses.receiver_ip(case.id)}
    )
    token = {"secretKeyRef": {"name": token_secret_name(case), "key": TOKEN_SECRET_KEY}}
    return [address, {"name": E2SAR_TOKEN_VAR, "valueFrom": token}]


def ready_selector(job: Obj) -> str:
    """The label selector of this receiver Job's pods: its role, case and run id, and its content
    hash, so that a receiver pod of an earlier Job of the same case and run is never picked."""
    labels = job["spec"]["template"]["metadata"]["labels"]
    return ",".join(f"{k}={labels[k]}" for k in (ROLE, E2SAR_CASE, RUN_ID, CONTENT_HASH))


def e2sar_scripts(scene: Scene, case: E2sarCase, role: str) -> Obj:
    cluster = scene.cluster_of(workload_of(case, role))
    metadata = meta(scripts_name(case, role), scene.namespace, {E2SAR_CASE: case.id, CLUSTER: cluster})
    return obj("v1", "ConfigMap", metadata, data={f"{role}.sh": e2sar_script(case, role.removeprefix("e2sar-"))})


def udp_range(case: E2sarCase) -> Obj:
    return {"protocol": "UDP", "port": case.port, "endPort": case.last_port}


def control_plane_rules(case: E2sarCase) -> list[Obj]:
    """Egress to the control plane (gRPC, TCP) and its sync port (UDP): only with DIRECT_MODE off."""
    if case.direct_mode:
        return []
    cp = case.control_plane
    return [
        {"to": [{"ipBlock": {"cidr": f"{cp.address}/32"}}], "ports": [{"protocol": "TCP", "port": cp.port}]},
        {"to": [{"ipBlock": {"cidr": f"{cp.sync_address}/32"}}], "ports": [{"protocol": "UDP", "port": cp.sync_port}]},
    ]


def policies_enforced(scene: Scene) -> bool:
    """Whether the pairs get their own NetworkPolicies (`suites.e2sar.network_policies`); exempt, no
    policy selects their pods (default-deny leaves them out too)."""
    return scene.stack.suites.e2sar.network_policies == "enforced"


def receiver_policy(scene: Scene, addresses: Addresses, case: E2sarCase) -> Obj:
    """UDP into the receiver's whole port range, from its sender (same cluster) or what the sender's
    cluster sends as (its pod subnet, its masquerading nodes)."""
    run_id = scene.stack.run_id
    rc, sc = scene.cluster_of(case.receiver), scene.cluster_of(case.sender)
    sources: list[Obj] = (
        [{"podSelector": {"matchLabels": selector(case, SENDER, run_id)}}]
        if rc == sc
        else [{"ipBlock": {"cidr": c}} for c in masquerade_sources(scene, addresses, sc)]
    )
    spec: Obj = {
        "podSelector": {"matchLabels": selector(case, RECEIVER, run_id)},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": sources, "ports": [udp_range(case)]}],
    }
    if not case.direct_mode:
        spec["policyTypes"] = ["Ingress", "Egress"]
        spec["egress"] = control_plane_rules(case)
    metadata = meta(f"{case.id}-receiver", scene.namespace, {E2SAR_CASE: case.id, CLUSTER: rc})
    return obj("networking.k8s.io/v1", "NetworkPolicy", metadata, spec=spec)


def sender_policy(scene: Scene, addresses: Addresses, case: E2sarCase) -> Obj:
    """UDP out to the receiver's whole port range (by pod in its cluster, by /32 across clusters)."""
    run_id = scene.stack.run_id
    rc, sc = scene.cluster_of(case.receiver), scene.cluster_of(case.sender)
    to: list[Obj] = (
        [{"podSelector": {"matchLabels": selector(case, RECEIVER, run_id)}}]
        if rc == sc
        else [{"ipBlock": {"cidr": f"{addresses.receiver_ip(case.id)}/32"}}]
    )
    spec = {
        "podSelector": {"matchLabels": selector(case, SENDER, run_id)},
        "policyTypes": ["Egress"],
        "egress": [{"to": to, "ports": [udp_range(case)]}, *control_plane_rules(case)],
    }
    metadata = meta(f"{case.id}-sender", scene.namespace, {E2SAR_CASE: case.id, CLUSTER: sc})
    return obj("networking.k8s.io/v1", "NetworkPolicy", metadata, spec=spec)


def receiver_service(scene: Scene, case: E2sarCase) -> Obj:
    """Headless, UDP ports: the receiver is discoverable by DNS in its cluster."""
    spec = {
        "clusterIP": "None",
        "selector": selector(case, RECEIVER, scene.stack.run_id),
        "ports": [
            {"name": f"e2sar-{i}", "port": p, "targetPort": p, "protocol": "UDP"} for i, p in enumerate(udp_ports(case))
        ],
    }
    labels = {E2SAR_CASE: case.id, CLUSTER: scene.cluster_of(case.receiver)}
    return obj("v1", "Service", meta(case.receiver_id, scene.namespace, labels, skip_await=True), spec=spec)


def limit_s(scene: Scene, case: E2sarCase, role: str) -> int:
    """A side's time limit: what it runs plus the stack's slack."""
    return (case.receiver_limit_s if role == RECEIVER else case.sender_limit_s) + scene.kube.job_slack_s


def e2sar_template(scene: Scene, addresses: Addresses, case: E2sarCase, role: str) -> Obj:
    """The pod template, before its log folder and hash are set: one container, logs on its node's volume."""
    container: Obj = {
        "name": role.removeprefix("e2sar-"),
        "image": case.image,
        "imagePullPolicy": scene.kube.image.pull_policy or "IfNotPresent",
        "command": ["sh", f"{SCRIPTS_DIR}/{role}.sh"],
        "env": e2sar_env(addresses, case, role),
        "resources": resources(case, role),
    }
    if role == RECEIVER:
        container["ports"] = [
            {"name": f"e2sar-{i}", "containerPort": p, "protocol": "UDP"} for i, p in enumerate(udp_ports(case))
        ]
        container["readinessProbe"] = readiness_probe(case)
    labels = selector(case, role, scene.stack.run_id)
    return script_pod_template(scene, workload_of(case, role), labels, container, scripts=scripts_name(case, role))


def e2sar_job(scene: Scene, addresses: Addresses, case: E2sarCase, role: str) -> Obj:
    parts = {"scripts": e2sar_scripts(scene, case, role)["data"], "case": case.model_dump(mode="json")}
    template = with_logdir(
        e2sar_template(scene, addresses, case, role), parts, scene.kube.logs.mount_path, scene.stack.run_id
    )
    # The hash as a label too: what the ready-wait selects the receiver's pod by.
    digest = template["metadata"]["annotations"][CONTENT_HASH]
    template = {
        **template,
        "metadata": {**template["metadata"], "labels": {**template["metadata"]["labels"], CONTENT_HASH: digest}},
    }
    cluster = scene.cluster_of(workload_of(case, role))
    metadata = meta(job_name(case, role), scene.namespace, {E2SAR_CASE: case.id, CLUSTER: cluster})
    return obj("batch/v1", "Job", metadata, spec=job_spec(template, limit_s(scene, case, role)))


def e2sar_objects(scene: Scene, addresses: Addresses) -> list[Obj]:
    out: list[Obj] = []
    enforced = policies_enforced(scene)
    for case in scene.plan.e2sar:
        out += [
            e2sar_scripts(scene, case, RECEIVER),
            *([receiver_policy(scene, addresses, case)] if enforced else []),
            receiver_service(scene, case),
            e2sar_job(scene, addresses, case, RECEIVER),
            e2sar_scripts(scene, case, SENDER),
            *([sender_policy(scene, addresses, case)] if enforced else []),
            e2sar_job(scene, addresses, case, SENDER),
        ]
    return out
