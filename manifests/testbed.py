"""One cluster's test bed: namespace, NetworkPolicies, servers, Services, log claims and viewers."""

from __future__ import annotations

from functools import partial

from manifests.addresses import Addresses
from manifests.base import (
    CLUSTER,
    E2SAR_CASE,
    ROLE,
    SERVES,
    WORKLOAD,
    Obj,
    bandwidth_annotations,
    container_security,
    meta,
    obj,
    pod_security,
    policy_ports,
    pull_policy,
    server_ports,
    service_ports,
    tmp_volume,
)
from manifests.scene import Scene


def _resources() -> Obj:
    return {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "512Mi"}}


def _probe(port: int) -> Obj:
    return {"tcpSocket": {"port": port}, "periodSeconds": 2, "failureThreshold": 30}


def _listening_probe(port: int) -> Obj:
    """Ready once a TCP socket listens on `port` (state 0A in /proc/net/tcp or tcp6, read in the container).

    For iperf3 -s, which serves one client at a time: a tcpSocket probe between two tests is taken
    for a client, and iperf3 3.12 can then reset the next real one ("unable to receive parameters
    from client: Bad file descriptor" in the server's log, "Connection reset by peer" in the client's).
    """
    listening = f"grep -qsE '^ *[0-9]+: [0-9A-F]+:{port:04X} [0-9A-F]+:0000 0A ' /proc/net/tcp /proc/net/tcp6"
    return {"exec": {"command": ["sh", "-c", listening]}, "periodSeconds": 2, "failureThreshold": 30}


def namespace(scene: Scene, cluster: str) -> Obj:
    labels = {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
    }
    return obj("v1", "Namespace", meta(scene.namespace, labels={**labels, CLUSTER: cluster}))


def _policy(scene: Scene, cluster: str, name: str, spec: Obj) -> Obj:
    return obj("networking.k8s.io/v1", "NetworkPolicy", meta(name, scene.namespace, {CLUSTER: cluster}), spec=spec)


def deny_all(scene: Scene, cluster: str) -> Obj:
    """Every pod isolated both ways; E2SAR's pods too unless the stack exempts them from policies."""
    selector: Obj = {}
    if scene.plan.e2sar and scene.stack.suites.e2sar.network_policies == "exempt":
        selector = {"matchExpressions": [{"key": E2SAR_CASE, "operator": "DoesNotExist"}]}
    return _policy(scene, cluster, "default-deny", {"podSelector": selector, "policyTypes": ["Ingress", "Egress"]})


def masquerade_sources(scene: Scene, addresses: Addresses, cluster: str) -> list[str]:
    """What packets from `cluster`'s pods carry as source in the other cluster: the pod subnet (a CNI
    that does not masquerade), and the node addresses kindnet masquerades them to (runtime's and stack's)."""
    blocks = [str(scene.stack.cluster(cluster).pod_subnet), *addresses.node_blocks(cluster), *scene.node_cidrs(cluster)]
    return sorted(dict.fromkeys(blocks))


def servers_ingress(scene: Scene, addresses: Addresses, cluster: str) -> Obj:
    """Servers take the test ports from this namespace's clients, and from the other cluster's sources."""
    sources: list[Obj] = [{"podSelector": {"matchLabels": {ROLE: "client"}}}]
    remote = sorted(
        {
            b
            for src, t in scene.mesh_pairs()
            if scene.cluster_of(t) == cluster
            for b in masquerade_sources(scene, addresses, src)
        }
    )
    sources += [{"ipBlock": {"cidr": cidr}} for cidr in remote]
    spec = {
        "podSelector": {"matchLabels": {SERVES: "true"}},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": sources, "ports": policy_ports(scene.plan)}],
    }
    return _policy(scene, cluster, "servers-ingress", spec)


def clients_egress(scene: Scene, addresses: Addresses, cluster: str) -> Obj:
    """Clients reach the servers' test ports here (pod IP or VIP), and the remote pods by /32."""
    targets: list[Obj] = [{"podSelector": {"matchLabels": {SERVES: "true"}}}]
    targets += [{"ipBlock": {"cidr": f"{addresses.pod_ip(t)}/32"}} for t in scene.remote.get(cluster, [])]
    spec = {
        "podSelector": {"matchLabels": {ROLE: "client"}},
        "policyTypes": ["Egress"],
        "egress": [{"to": targets, "ports": policy_ports(scene.plan)}],
    }
    return _policy(scene, cluster, "clients-egress", spec)


def server_name(workload: str) -> str:
    return f"{workload}-server"


def server_pod(scene: Scene, addresses: Addresses, workload: str) -> Obj:
    """iperf3 -s and netserver in one pod, each with a readiness probe on its port (netserver's a TCP
    connect, as it serves each connection in a child of its own; iperf3's its listening socket)."""
    mount, volume = tmp_volume()
    ports = {p["name"]: p["port"] for p in server_ports(scene.plan)}
    server = partial(
        _server_container, image=addresses.tool_image(), pull=pull_policy(scene.stack, scene.kube), mount=mount
    )
    containers: list[Obj] = []
    if "iperf3-tcp" in ports:
        port = ports["iperf3-tcp"]
        containers.append(
            server(
                "iperf3",
                ["iperf3", "-s", "-p", str(port)],
                [_port("iperf3-tcp", port, "TCP"), _port("iperf3-udp", port, "UDP")],
                probe=_listening_probe(port),
                env=[{"name": "TMPDIR", "value": "/tmp"}],
            )
        )
    if "netperf-ctl" in ports:
        wanted = (("netperf-ctl", "TCP"), ("netperf-data", "TCP"), ("netperf-udp", "UDP"))
        containers.append(
            server(
                "netserver",
                ["netserver", "-D", "-p", str(ports["netperf-ctl"]), "-4"],
                [_port(name, ports[name], protocol) for name, protocol in wanted if name in ports],
                probe=_probe(ports["netperf-ctl"]),
            )
        )
    spec = {
        "nodeSelector": dict(scene.stack.workloads[workload].node_selector),
        "securityContext": pod_security(),
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "containers": containers,
        "volumes": [volume],
    }
    metadata = meta(
        server_name(workload),
        scene.namespace,
        {ROLE: "server", WORKLOAD: workload, SERVES: "true", CLUSTER: scene.cluster_of(workload)},
        annotations=bandwidth_annotations(scene.stack.workloads[workload]),
    )
    return obj("v1", "Pod", metadata, spec=spec)


def _port(name: str, port: int, protocol: str) -> Obj:
    return {"name": name, "containerPort": port, "protocol": protocol}


def _server_container(
    name: str,
    command: list[str],
    ports: list[Obj],
    *,
    probe: Obj,
    image: str,
    pull: str,
    mount: Obj,
    env: list[Obj] | None = None,
) -> Obj:
    """A server's container: ready once its `probe` passes, unprivileged, with a writable /tmp."""
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": pull,
        "command": command,
        **({"env": env} if env else {}),
        "ports": ports,
        "readinessProbe": probe,
        "securityContext": container_security(),
        "resources": _resources(),
        "volumeMounts": [mount],
    }


def _service(
    scene: Scene, cluster: str, name: str, spec: Obj, labels: dict[str, str], *, skip_await: bool = False
) -> Obj:
    metadata = meta(name, scene.namespace, {**labels, CLUSTER: cluster}, skip_await=skip_await)
    return obj("v1", "Service", metadata, spec=spec)


def vip_service(scene: Scene, workload: str) -> Obj:
    spec = {"type": "ClusterIP", "selector": {ROLE: "server", WORKLOAD: workload}, "ports": service_ports(scene.plan)}
    return _service(scene, scene.cluster_of(workload), f"{workload}-vip", spec, {WORKLOAD: workload})


def hairpin_service(scene: Scene, workload: str) -> Obj:
    """The client pod serves too and is the only endpoint of its own VIP. The pod only exists
    once its Job starts, so Pulumi must not wait for endpoints here."""
    spec = {
        "type": "ClusterIP",
        "selector": {ROLE: "client", WORKLOAD: workload, SERVES: "true"},
        "ports": service_ports(scene.plan),
    }
    return _service(
        scene, scene.cluster_of(workload), f"{workload}-hairpin", spec, {WORKLOAD: workload}, skip_await=True
    )


def headless_service(scene: Scene, cluster: str) -> Obj:
    """Discovery, as in the E2SAR seed: DNS answers with the servers' pod IPs."""
    spec = {"clusterIP": "None", "selector": {ROLE: "server"}, "ports": service_ports(scene.plan)}
    return _service(scene, cluster, "servers", spec, {})


def claim_name(node: str) -> str:
    return f"logs-{node}"


def viewer_name(node: str) -> str:
    return f"log-viewer-{node}"


def log_claim(scene: Scene, cluster: str, node: str) -> Obj:
    """A node's log volume (RWO is per node): one per node that runs clients."""
    spec: Obj = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": scene.kube.logs.size}}}
    if scene.kube.logs.storage_class:
        spec["storageClassName"] = scene.kube.logs.storage_class
    return obj(
        "v1",
        "PersistentVolumeClaim",
        meta(claim_name(node), scene.namespace, {CLUSTER: cluster}, skip_await=True),
        spec=spec,
    )


def viewer_pod(scene: Scene, addresses: Addresses, cluster: str, node: str) -> Obj:
    """A pod that holds a node's log claim (read-only) so that the logs can be read by exec."""
    mount, volume = tmp_volume()
    spec = {
        "nodeSelector": scene.client_nodes(cluster)[node],
        "securityContext": pod_security(),
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 1,
        "containers": [
            {
                "name": "viewer",
                "image": addresses.tool_image(),
                "imagePullPolicy": pull_policy(scene.stack, scene.kube),
                "command": ["sleep", "infinity"],
                "securityContext": container_security(),
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}},
                "volumeMounts": [{"name": "logs", "mountPath": scene.kube.logs.mount_path, "readOnly": True}, mount],
            }
        ],
        "volumes": [
            {"name": "logs", "persistentVolumeClaim": {"claimName": claim_name(node), "readOnly": True}},
            volume,
        ],
    }
    return obj("v1", "Pod", meta(viewer_name(node), scene.namespace, {ROLE: "viewer", CLUSTER: cluster}), spec=spec)


def cluster_objects(scene: Scene, addresses: Addresses, cluster: str) -> list[Obj]:
    """Everything a cluster holds before its Jobs run, in the order it is built."""
    out = [
        namespace(scene, cluster),
        deny_all(scene, cluster),
        servers_ingress(scene, addresses, cluster),
        clients_egress(scene, addresses, cluster),
    ]
    out += [server_pod(scene, addresses, w) for w in scene.servers_in(cluster)]
    out += [vip_service(scene, w) for w in scene.vip_targets_in(cluster)]
    hairpin = scene.hairpin_in(cluster)
    if hairpin is not None:
        out.append(hairpin_service(scene, hairpin))
    out.append(headless_service(scene, cluster))
    for node in scene.client_nodes(cluster):
        out += [log_claim(scene, cluster, node), viewer_pod(scene, addresses, cluster, node)]
    return out
