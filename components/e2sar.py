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
Every body (scripts, Service, policies, Jobs) is rendered by `manifests.e2sar`; the waiter
is keyed by the receiver Job's content hash, so a replaced receiver is waited for again.
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

from components.objects import addresses, register
from manifests import CONTENT_HASH, Addresses, Obj, Scene
from manifests import e2sar as e
from spec.plan import E2sarCase

READY_POLL_S = 2.0
ListPods = Callable[[], Awaitable[list[dict[str, Any]]]]


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
    receiver_body: Obj
    sender_body: pulumi.Output[Obj]
    receiver_ip: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        scene: Scene,
        case: E2sarCase,
        beds: dict[str, Any],
        clusters: dict[str, Any],
        node_ips: pulumi.Input[dict[str, list[str]]],
        depends_on: list[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`node_ips`: every cluster's node IPs where the runtime knows them (kind-mesh's routes)."""
        super().__init__("meshperf:kubernetes:E2sarPair", resource_name, None, opts)
        rc, sc = scene.cluster_of(case.receiver), scene.cluster_of(case.sender)

        def opts_in(cluster: str, *deps: Any, **more: Any) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(
                parent=self,
                provider=clusters[cluster].provider,
                depends_on=[beds[cluster], *depends_on, *deps],
                **more,
            )

        def scripts(role: str) -> k8s.core.v1.ConfigMap:
            body = e.e2sar_scripts(scene, case, role)
            return register(
                k8s.core.v1.ConfigMap,
                f"{resource_name}-{role}-scripts",
                body,
                opts_in(rc if role == e.RECEIVER else sc),
            )

        def job(role: str, body: Obj | pulumi.Output[Obj], *deps: Any) -> k8s.batch.v1.Job:
            """The receiver's or the sender's Job, waited for up to its deadline."""
            limit = e.limit_s(scene, case, role)
            return register(
                k8s.batch.v1.Job,
                f"{resource_name}-{role.removeprefix('e2sar-')}",
                body,
                opts_in(
                    rc if role == e.RECEIVER else sc,
                    *deps,
                    custom_timeouts=pulumi.CustomTimeouts(create=f"{limit + 60}s", update=f"{limit + 60}s"),
                    delete_before_replace=True,
                ),
            )

        # Receiver side: it needs no runtime address.
        receiver_scripts = scripts(e.RECEIVER)
        receiver_policy = register(
            k8s.networking.v1.NetworkPolicy,
            f"{resource_name}-receiver-ingress",
            addresses(node_ips=node_ips).apply(lambda a: e.receiver_policy(scene, a, case)),
            opts_in(rc),
        )
        self.service = register(
            k8s.core.v1.Service, f"{resource_name}-receiver-svc", e.receiver_service(scene, case), opts_in(rc)
        )
        self.receiver_body = receiver_body = e.e2sar_job(scene, Addresses(), case, e.RECEIVER)
        self.receiver_job = job(e.RECEIVER, receiver_body, receiver_scripts, receiver_policy)
        # Beside the receiver Job (not after it: Pulumi waits for a Job to complete), the wait for its pod.
        # A new receiver Job (its content hash) is a new pod to wait for.
        run_id = scene.stack.run_id
        ready = ReadyPod(
            f"{resource_name}-receiver-ready",
            {
                "kubeconfig": clusters[rc].kubeconfig,
                "context": scene.stack.cluster(rc).kubeconfig_context,
                "namespace": scene.namespace,
                "selector": ",".join(f"{k}={v}" for k, v in e.selector(case, e.RECEIVER, run_id).items()),
                "timeout_s": e.limit_s(scene, case, e.RECEIVER),
                "run_id": run_id,
                "job": receiver_body["spec"]["template"]["metadata"]["annotations"][CONTENT_HASH],
            },
            pulumi.ResourceOptions(parent=self, depends_on=[beds[rc], *depends_on, receiver_scripts]),
        )
        self.receiver_ip = ready.pod_ip

        # Sender side: the receiver's pod IP, once it is ready.
        sender_scripts = scripts(e.SENDER)
        with_receiver = addresses(receiver_ips={case.id: ready.pod_ip})
        sender_policy = register(
            k8s.networking.v1.NetworkPolicy,
            f"{resource_name}-sender-egress",
            with_receiver.apply(lambda a: e.sender_policy(scene, a, case)),
            opts_in(sc),
        )
        self.sender_body = with_receiver.apply(lambda a: e.e2sar_job(scene, a, case, e.SENDER))
        self.sender_job = job(
            e.SENDER,
            self.sender_body,
            sender_scripts,
            ready,
            sender_policy,
        )
        self.register_outputs({"receiver_ip": self.receiver_ip})
