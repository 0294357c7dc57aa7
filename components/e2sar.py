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
is keyed by the receiver Job's content hash, so a replaced receiver is waited for again, and
selects the pod by it (`ready_selector`), ignoring pods being deleted: a previous Job's pod of
the same case and run id is never taken for this one's. A receiver that ends before it is
ready fails the wait with e2sar_perf's own last error line (its script's termination message).
The control plane's token (`meshperf:e2sar_token`, a secret config key) goes only into a
Kubernetes Secret per pair and cluster, as a secret Output; the pods read it by `secretKeyRef`.
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
from spec.e2sar import DEFAULT_TOKEN, TOKEN_KEY, token_problem
from spec.load import NAMESPACE, StackError
from spec.plan import E2sarCase

READY_POLL_S = 2.0
ListPods = Callable[[], Awaitable[list[dict[str, Any]]]]


# -- waiting for the receiver ----------------------------------------------------------
class ReceiverNotReadyError(RuntimeError):
    pass


def control_plane_token(where: str = "stack") -> pulumi.Output[str]:
    """`meshperf:e2sar_token` as a secret Output (the seed's placeholder when unset); a token the URI
    cannot carry is one line that does not quote it."""
    value = pulumi.Config(NAMESPACE).get(TOKEN_KEY)
    token = DEFAULT_TOKEN if value is None else value
    if problem := token_problem(token):
        raise StackError(f"{where}: {NAMESPACE}:{TOKEN_KEY}: {problem}")
    return pulumi.Output.secret(token)


def current_pods(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pods not being deleted (no `metadata.deletionTimestamp`): a pod on its way out is no receiver."""
    return [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]


def termination_messages(pod: dict[str, Any]) -> list[str]:
    """What the pod's ended containers left as their termination message (the E2SAR scripts write the
    tool's last error line there)."""
    out = []
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        ended = ((status.get("state") or {}).get("terminated") or {}).get("message")
        if ended and ended.strip():
            out.append(ended.strip())
    return out


async def wait_ready_pod(list_pods: ListPods, what: str, timeout_s: float, poll_s: float = READY_POLL_S) -> str:
    """The pod IP of the first Ready pod `list_pods` returns (pods being deleted left out); an error
    naming what the pod's tool said if it ends first, or if time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        for pod in current_pods(await list_pods()):
            status = pod.get("status") or {}
            phase = status.get("phase")
            if phase in ("Succeeded", "Failed"):
                said = "; ".join(termination_messages(pod))
                tail = f": e2sar_perf: {said}" if said else " (no error line from e2sar_perf)"
                raise ReceiverNotReadyError(f"{what} ended ({phase}) before it was ready{tail}")
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

    def create(self, props: dict[str, Any]) -> CreateResult:
        lister = kube_list_pods(str(props["kubeconfig"]), props.get("context"), props["namespace"], props["selector"])
        what = f"pod {props['selector']} in {props['namespace']}"
        ip = asyncio.run(wait_ready_pod(lister, what, float(props.get("timeout_s", 600))))
        return CreateResult(id_=f"{props['namespace']}/{props['selector']}", outs={**props, "pod_ip": ip})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in ("namespace", "selector", "run_id", "job") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=changed)


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
        self.prefix, self.scene, self.case = resource_name, scene, case
        self.beds, self.clusters, self.depends_on = beds, clusters, depends_on
        self.token = control_plane_token()
        self.secrets = {cluster: self._token_secret(cluster) for cluster in e.token_clusters(scene, case)}
        receiver_scripts = self._receiver(node_ips)
        ready = self._wait_for_receiver(receiver_scripts)
        self.receiver_ip = ready.pod_ip
        self._sender(ready)
        self.register_outputs({"receiver_ip": self.receiver_ip})

    def _cluster_of(self, role: str) -> str:
        return self.scene.cluster_of(self.case.receiver if role == e.RECEIVER else self.case.sender)

    def _opts_in(self, cluster: str, *deps: Any, **more: Any) -> pulumi.ResourceOptions:
        """In `cluster`, after its bed, the pair's predecessors and `deps`."""
        return pulumi.ResourceOptions(
            parent=self,
            provider=self.clusters[cluster].provider,
            depends_on=[self.beds[cluster], *self.depends_on, *deps],
            **more,
        )

    def _token_secret(self, cluster: str) -> k8s.core.v1.Secret:
        """The pair's Secret in `cluster`: its data only as the secret Output (pulumi-kubernetes also
        keeps a Secret's data secret in state)."""
        body = e.token_secret(self.scene, self.case, cluster)
        return k8s.core.v1.Secret(
            f"{self.prefix}-{cluster}-control-plane",
            metadata=body["metadata"],
            type=body["type"],
            string_data={e.TOKEN_SECRET_KEY: self.token},
            opts=self._opts_in(cluster, additional_secret_outputs=["data", "stringData"]),
        )

    def _scripts(self, role: str) -> k8s.core.v1.ConfigMap:
        body = e.e2sar_scripts(self.scene, self.case, role)
        opts = self._opts_in(self._cluster_of(role))
        return register(k8s.core.v1.ConfigMap, f"{self.prefix}-{role}-scripts", body, opts)

    def _job(self, role: str, body: Obj | pulumi.Output[Obj], *deps: Any) -> k8s.batch.v1.Job:
        """The receiver's or the sender's Job, waited for up to its deadline."""
        limit = e.limit_s(self.scene, self.case, role)
        return register(
            k8s.batch.v1.Job,
            f"{self.prefix}-{role.removeprefix('e2sar-')}",
            body,
            self._opts_in(
                self._cluster_of(role),
                *deps,
                custom_timeouts=pulumi.CustomTimeouts(create=f"{limit + 60}s", update=f"{limit + 60}s"),
                delete_before_replace=True,
            ),
        )

    def _receiver(self, node_ips: pulumi.Input[dict[str, list[str]]]) -> k8s.core.v1.ConfigMap:
        """Scripts, ingress policy, Service and Job of the receiver, which needs no runtime address."""
        scene, case, rc = self.scene, self.case, self._cluster_of(e.RECEIVER)
        receiver_scripts = self._scripts(e.RECEIVER)
        receiver_deps: list[Any] = [receiver_scripts, self.secrets[rc]]
        if e.policies_enforced(scene):
            receiver_deps.append(
                register(
                    k8s.networking.v1.NetworkPolicy,
                    f"{self.prefix}-receiver-ingress",
                    addresses(node_ips=node_ips).apply(lambda a: e.receiver_policy(scene, a, case)),
                    self._opts_in(rc),
                )
            )
        self.service = register(
            k8s.core.v1.Service, f"{self.prefix}-receiver-svc", e.receiver_service(scene, case), self._opts_in(rc)
        )
        self.receiver_body = e.e2sar_job(scene, Addresses(), case, e.RECEIVER)
        self.receiver_job = self._job(e.RECEIVER, self.receiver_body, *receiver_deps)
        return receiver_scripts

    def _wait_for_receiver(self, receiver_scripts: k8s.core.v1.ConfigMap) -> ReadyPod:
        """Beside the receiver Job (not after it: Pulumi waits for a Job to complete), the wait for its pod.

        A new receiver Job (its content hash) is a new pod to wait for.
        """
        scene, case, rc = self.scene, self.case, self._cluster_of(e.RECEIVER)
        run_id = scene.stack.run_id
        return ReadyPod(
            f"{self.prefix}-receiver-ready",
            {
                "kubeconfig": self.clusters[rc].kubeconfig,
                "context": scene.stack.cluster(rc).kubeconfig_context,
                "namespace": scene.namespace,
                "selector": e.ready_selector(self.receiver_body),
                "timeout_s": e.limit_s(scene, case, e.RECEIVER),
                "run_id": run_id,
                "job": self.receiver_body["spec"]["template"]["metadata"]["annotations"][CONTENT_HASH],
            },
            pulumi.ResourceOptions(
                parent=self, depends_on=[self.beds[rc], *self.depends_on, receiver_scripts, self.secrets[rc]]
            ),
        )

    def _sender(self, ready: ReadyPod) -> None:
        """Scripts, egress policy and Job of the sender, given the receiver's pod IP once it is ready."""
        scene, case = self.scene, self.case
        sender_scripts = self._scripts(e.SENDER)
        with_receiver = addresses(receiver_ips={case.id: ready.pod_ip})
        sender_deps: list[Any] = [sender_scripts, ready, self.secrets[self._cluster_of(e.SENDER)]]
        if e.policies_enforced(scene):
            sender_deps.append(
                register(
                    k8s.networking.v1.NetworkPolicy,
                    f"{self.prefix}-sender-egress",
                    with_receiver.apply(lambda a: e.sender_policy(scene, a, case)),
                    self._opts_in(self._cluster_of(e.SENDER)),
                )
            )
        self.sender_body = with_receiver.apply(lambda a: e.e2sar_job(scene, a, case, e.SENDER))
        self.sender_job = self._job(e.SENDER, self.sender_body, *sender_deps)
