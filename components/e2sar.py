"""The E2SAR suite on Kubernetes: per rate, a receiver Job, then a sender Job once it listens.

The receiver binds UDP ports, and UDP has no handshake a sender could wait on, so the order
is kept by Pulumi, not by a guess in the sender (the seed slept 5 s after an nslookup):
- the receiver Job's pod has a readiness probe that passes only once every port of its
  range is bound (read from /proc/net/udp, no tool needed in the image);
- a `ReadyPod` resource (a dynamic provider) waits, beside the receiver Job, until that pod
  is Ready and gives its pod IP. Pulumi still waits for the receiver Job to complete, and
  the waiter does not depend on it: it depends on what the receiver depends on;
- the sender Job depends on the waiter and gets the IP in `MESHPERF_E2SAR_RECEIVER_IP`,
  as netperf clients get their targets; in either cluster of a mesh, with no DNS parsing.
The headless Service (UDP ports) makes the receiver discoverable by DNS in its cluster.
NetworkPolicies let the sender's UDP into exactly the receiver's port range (`endPort`),
and the control plane's ports out only when DIRECT_MODE is off. Both Jobs run their
scripts (spec/runner.py) and end on their own; their logs go to their node's log volume.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider

from components import manifests as m
from components.config import Settings
from spec.plan import E2SAR_RECEIVER_VAR, E2sarCase
from spec.runner import e2sar_script

E2SAR_CASE = "meshperf.io/e2sar-case"
RUN_LABEL = "meshperf.io/run-id"
RECEIVER, SENDER = "e2sar-receiver", "e2sar-sender"
READY_POLL_S = 2.0

Obj = Any
ListPods = Callable[[], Awaitable[list[dict[str, Any]]]]


# -- bodies (pure) ---------------------------------------------------------------------
def selector(case: E2sarCase, role: str, run_id: str) -> dict[str, str]:
    return {m.ROLE: role, E2SAR_CASE: case.id, RUN_LABEL: run_id}


def udp_ports(case: E2sarCase) -> list[int]:
    return list(range(case.port, case.last_port + 1))


def readiness_probe(case: E2sarCase) -> Obj:
    """Ready once every UDP port of the range is bound: /proc/net/udp lists local ports in hex."""
    checks = " && ".join(f"grep -qE '^ *[0-9]+: [0-9A-F]{{8}}:{p:04X} ' /proc/net/udp" for p in udp_ports(case))
    return {"exec": {"command": ["sh", "-c", checks]}, "periodSeconds": 1, "failureThreshold": 600}


def resources(case: E2sarCase, role: str) -> Obj:
    """Sized from the rate: about a core per Gbps (and per receiver thread), room for the socket buffers."""
    cores = max(0.25, min(8.0, case.rate_gbps)) * (case.threads if role == "receiver" else 1)
    buffers_mi = -(-case.buf_size * max(case.threads, 4) // 2**20)
    memory = 128 + 2 * buffers_mi
    return {
        "requests": {"cpu": f"{int(cores * 1000)}m", "memory": f"{memory}Mi"},
        "limits": {"memory": f"{2 * memory + 256}Mi"},
    }


def pod_template(
    case: E2sarCase,
    role: str,
    *,
    workload: str,
    node_selector: dict[str, str],
    pull_policy: str,
    env: list[Obj],
    claim: Any,
    scripts: Any,
    logdir: str,
    mount_path: str,
    run_id: str,
    annotations: dict[str, str] | None = None,
) -> Obj:
    container: Obj = {
        "name": role.removeprefix("e2sar-"),
        "image": case.image,
        "imagePullPolicy": pull_policy,
        "command": ["sh", f"{m.SCRIPTS_DIR}/{role}.sh"],
        "env": [
            {"name": "MESHPERF_LOGDIR", "value": logdir},
            {"name": "TMPDIR", "value": "/tmp"},
            {"name": "LANG", "value": "C"},
            *env,
        ],
        "securityContext": m.container_security(),
        "resources": resources(case, "receiver" if role == RECEIVER else "sender"),
        "volumeMounts": [
            {"name": "logs", "mountPath": mount_path},
            {"name": "scripts", "mountPath": m.SCRIPTS_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    if role == RECEIVER:
        container["ports"] = [
            {"name": f"e2sar-{i}", "containerPort": p, "protocol": "UDP"} for i, p in enumerate(udp_ports(case))
        ]
        container["readinessProbe"] = readiness_probe(case)
    return {
        "metadata": {
            "labels": {**m.PART_OF, m.WORKLOAD: workload, **selector(case, role, run_id)},
            "annotations": {m.RUN_ID: run_id, **(annotations or {})},
        },
        "spec": {
            "restartPolicy": "Never",
            "nodeSelector": dict(node_selector),
            "securityContext": m.pod_security(),
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "containers": [container],
            "volumes": [
                {"name": "logs", "persistentVolumeClaim": {"claimName": claim}},
                {"name": "scripts", "configMap": {"name": scripts, "defaultMode": 0o555}},
                {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
            ],
        },
    }


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


def receiver_policy_spec(case: E2sarCase, run_id: str, remote_sources: list[str] | None) -> Obj:
    """UDP into the receiver's whole port range, from its sender (same cluster) or the sender's cluster."""
    sources: list[Obj] = (
        [{"podSelector": {"matchLabels": selector(case, SENDER, run_id)}}]
        if remote_sources is None
        else [{"ipBlock": {"cidr": c}} for c in remote_sources]
    )
    spec: Obj = {
        "podSelector": {"matchLabels": selector(case, RECEIVER, run_id)},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": sources, "ports": [udp_range(case)]}],
    }
    if not case.direct_mode:
        spec["policyTypes"] = ["Ingress", "Egress"]
        spec["egress"] = control_plane_rules(case)
    return spec


def sender_policy_spec(case: E2sarCase, run_id: str, receiver_cidr: str | None) -> Obj:
    """UDP out to the receiver's whole port range (by pod in its cluster, by /32 across clusters)."""
    to: list[Obj] = (
        [{"podSelector": {"matchLabels": selector(case, RECEIVER, run_id)}}]
        if receiver_cidr is None
        else [{"ipBlock": {"cidr": receiver_cidr}}]
    )
    return {
        "podSelector": {"matchLabels": selector(case, SENDER, run_id)},
        "policyTypes": ["Egress"],
        "egress": [{"to": to, "ports": [udp_range(case)]}, *control_plane_rules(case)],
    }


# -- waiting for the receiver ----------------------------------------------------------
class ReceiverNotReadyError(RuntimeError):
    pass


async def wait_ready_pod(list_pods: ListPods, what: str, timeout_s: float, poll_s: float = READY_POLL_S) -> str:
    """The pod IP of the first Ready pod `list_pods` returns; an error if it ends first or time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        for pod in await list_pods():
            status = pod.get("status") or {}
            phase = status.get("phase")
            if phase in ("Succeeded", "Failed"):
                raise ReceiverNotReadyError(f"{what} ended ({phase}) before it was ready")
            ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
            if ready and status.get("podIP"):
                return str(status["podIP"])
        if time.monotonic() >= deadline:
            raise ReceiverNotReadyError(f"{what} was not ready (UDP ports bound) within {timeout_s:g}s")
        await asyncio.sleep(poll_s)


def kube_list_pods(kubeconfig: str, context: str | None, namespace: str, label_selector: str) -> ListPods:
    """A ListPods over the Kubernetes API (kubernetes_asyncio), one connection per call."""

    async def run() -> list[dict[str, Any]]:
        from kubernetes_asyncio import client, config

        configuration = client.Configuration()
        await config.load_kube_config_from_dict(
            yaml.safe_load(kubeconfig), context=context, client_configuration=configuration
        )
        async with client.ApiClient(configuration=configuration) as api_client:
            pods = await client.CoreV1Api(api_client).list_namespaced_pod(namespace, label_selector=label_selector)
            return [api_client.sanitize_for_serialization(p) for p in pods.items]

    return run


class ReadyPodProvider(ResourceProvider):
    """Inputs: kubeconfig, context, namespace, selector, timeout_s, run_id. Outputs add pod_ip."""

    # Tests put a stand-in here; Pulumi never sets it.
    list_fn: Callable[[dict[str, Any]], ListPods] | None = None

    def create(self, props: dict[str, Any]) -> CreateResult:
        lister = (self.list_fn or _lister)(props)
        what = f"pod {props['selector']} in {props['namespace']}"
        ip = asyncio.run(wait_ready_pod(lister, what, float(props.get("timeout_s", 600))))
        return CreateResult(id_=f"{props['namespace']}/{props['selector']}", outs={**props, "pod_ip": ip})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in ("namespace", "selector", "run_id", "job") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=changed)


def _lister(props: dict[str, Any]) -> ListPods:
    return kube_list_pods(str(props["kubeconfig"]), props.get("context"), props["namespace"], props["selector"])


class ReadyPod(Resource, module="meshperf", name="ReadyPod"):
    pod_ip: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(ReadyPodProvider(), name, {**props, "pod_ip": None}, opts)


# -- the pair ----------------------------------------------------------------------------
class E2sarPair(pulumi.ComponentResource):
    """One rate: scripts, Service, policies, receiver Job, the wait for it, sender Job."""

    receiver_job: k8s.batch.v1.Job
    sender_job: k8s.batch.v1.Job
    receiver_ip: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        settings: Settings,
        case: E2sarCase,
        beds: dict[str, Any],
        clusters: dict[str, Any],
        logdir: str,
        remote_sources: list[pulumi.Input[str] | pulumi.Input[list[str]]],
        depends_on: list[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("meshperf:kubernetes:E2sarPair", resource_name, None, opts)
        stack, kube = settings.stack, settings.kube
        run_id = stack.run_id
        (rc, rnode), (sc, snode) = stack.node_of(case.receiver), stack.node_of(case.sender)
        across = rc.name != sc.name
        pull = kube.image.pull_policy or "IfNotPresent"

        def opts_in(cluster: str, *deps: Any, **more: Any) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(
                parent=self,
                provider=clusters[cluster].provider,
                depends_on=[beds[cluster], *depends_on, *deps],
                **more,
            )

        def scripts(cluster: str, role: str) -> k8s.core.v1.ConfigMap:
            name = f"{case.id}-{role.removeprefix('e2sar-')}-scripts"
            return k8s.core.v1.ConfigMap(
                f"{resource_name}-{role}-scripts",
                metadata=m.meta(name, beds[cluster].namespace, {E2SAR_CASE: case.id}),
                data={f"{role}.sh": e2sar_script(case, role.removeprefix("e2sar-"))},
                opts=opts_in(cluster),
            )

        def job(
            role: str, cluster: str, node: str, limit_s: int, *, env: list[Any], configmap: Any, deps: list[Any]
        ) -> Any:
            """The receiver's or the sender's Job: one container, logs on its node's volume."""
            workload = case.receiver if role == RECEIVER else case.sender
            limit = limit_s + kube.job_slack_s
            return k8s.batch.v1.Job(
                f"{resource_name}-{role.removeprefix('e2sar-')}",
                metadata=m.meta(
                    case.receiver_id if role == RECEIVER else case.sender_id,
                    beds[cluster].namespace,
                    {E2SAR_CASE: case.id},
                ),
                spec=m.job_spec(
                    pod_template(
                        case,
                        role,
                        workload=workload,
                        node_selector=stack.workloads[workload].node_selector,
                        pull_policy=pull,
                        env=env,
                        claim=beds[cluster].claims[node].metadata.name,
                        scripts=configmap.metadata.name,
                        logdir=logdir,
                        mount_path=kube.logs.mount_path,
                        run_id=run_id,
                        annotations=m.bandwidth_annotations(stack.workloads[workload]),
                    ),
                    limit,
                ),
                opts=opts_in(
                    cluster,
                    configmap,
                    *deps,
                    custom_timeouts=pulumi.CustomTimeouts(create=f"{limit + 60}s", update=f"{limit + 60}s"),
                    delete_before_replace=True,
                ),
            )

        # Receiver side.
        receiver_scripts = scripts(rc.name, RECEIVER)
        sources = (
            pulumi.Output.all(*remote_sources).apply(lambda xs: _flat(xs)) if across else pulumi.Output.from_input(None)
        )
        receiver_policy = k8s.networking.v1.NetworkPolicy(
            f"{resource_name}-receiver-ingress",
            metadata=m.meta(f"{case.id}-receiver", beds[rc.name].namespace, {E2SAR_CASE: case.id}),
            spec=sources.apply(lambda xs: receiver_policy_spec(case, run_id, xs)),
            opts=opts_in(rc.name),
        )
        self.service = k8s.core.v1.Service(
            f"{resource_name}-receiver-svc",
            metadata=m.meta(case.receiver_id, beds[rc.name].namespace, {E2SAR_CASE: case.id}, skip_await=True),
            spec=m.api(
                {
                    "clusterIP": "None",
                    "selector": selector(case, RECEIVER, run_id),
                    "ports": [
                        {"name": f"e2sar-{i}", "port": p, "targetPort": p, "protocol": "UDP"}
                        for i, p in enumerate(udp_ports(case))
                    ],
                }
            ),
            opts=opts_in(rc.name),
        )
        self.receiver_job = job(
            RECEIVER,
            rc.name,
            rnode.name,
            case.receiver_limit_s,
            env=[],
            configmap=receiver_scripts,
            deps=[receiver_policy],
        )
        limit = case.receiver_limit_s + kube.job_slack_s
        # Beside the receiver Job (not after it: Pulumi waits for a Job to complete), the wait for its pod.
        ready = ReadyPod(
            f"{resource_name}-receiver-ready",
            {
                "kubeconfig": clusters[rc.name].kubeconfig,
                "context": rc.kubeconfig_context,
                "namespace": beds[rc.name].namespace,
                "selector": ",".join(f"{k}={v}" for k, v in selector(case, RECEIVER, run_id).items()),
                "timeout_s": limit,
                "run_id": run_id,
            },
            pulumi.ResourceOptions(parent=self, depends_on=[beds[rc.name], *depends_on, receiver_scripts]),
        )
        self.receiver_ip = ready.pod_ip

        # Sender side.
        sender_scripts = scripts(sc.name, SENDER)
        receiver_cidr = ready.pod_ip.apply(lambda ip: f"{ip}/32") if across else pulumi.Output.from_input(None)
        sender_policy = k8s.networking.v1.NetworkPolicy(
            f"{resource_name}-sender-egress",
            metadata=m.meta(f"{case.id}-sender", beds[sc.name].namespace, {E2SAR_CASE: case.id}),
            spec=receiver_cidr.apply(lambda cidr: sender_policy_spec(case, run_id, cidr)),
            opts=opts_in(sc.name),
        )
        self.sender_job = job(
            SENDER,
            sc.name,
            snode.name,
            case.sender_limit_s,
            env=[{"name": E2SAR_RECEIVER_VAR, "value": ready.pod_ip}],
            configmap=sender_scripts,
            deps=[ready, sender_policy],
        )
        self.register_outputs({"receiver_ip": self.receiver_ip})


def _flat(items: list[Any]) -> list[str]:
    flat: list[str] = []
    for item in items:
        flat.extend(item if isinstance(item, list) else [item])
    return sorted(dict.fromkeys(str(c) for c in flat))
