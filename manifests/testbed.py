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
    netserver_family,
    obj,
    pod_security,
    policy_ports,
    pull_policy,
    server_ports,
    service_families,
    service_ports,
    tmp_volume,
)
from manifests.scene import Scene
from spec.model import is_host_workload


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


def namespace(scene: Scene, cluster: str, *, host: bool = False) -> Obj:
    """The pods' namespace, `restricted`; or (`host`) the host baseline's, `privileged`: the Pod Security
    Standards forbid `hostNetwork` at `baseline` already (the Host Namespaces control), and its ports
    become host ports, which `baseline` forbids too. Its pods keep every other restriction of the
    pods' namespace (non-root, no capabilities, read-only root, RuntimeDefault seccomp)."""
    labels = {
        "pod-security.kubernetes.io/enforce": "privileged" if host else "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
    }
    name = scene.host_namespace if host else scene.namespace
    return obj("v1", "Namespace", meta(name, labels={**labels, CLUSTER: cluster}))


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
    subnets = [str(scene.stack.cluster(cluster).subnets(f)[0]) for f in scene.stack.cluster(cluster).families]
    blocks = [*subnets, *addresses.node_blocks(cluster), *scene.node_cidrs(cluster)]
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
    targets += [
        {"ipBlock": {"cidr": addresses.pod_block(t, family)}}
        for t in scene.remote.get(cluster, [])
        for family in scene.remote_families(cluster, t)
    ]
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
    connect, as it serves each connection in a child of its own; iperf3's its listening socket); a host
    baseline's server in its node's network namespace (`hostNetwork`), in the host namespace."""
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
                ["netserver", "-D", "-p", str(ports["netperf-ctl"]), netserver_family(scene.cluster(workload))],
                [_port(name, ports[name], protocol) for name, protocol in wanted if name in ports],
                probe=_probe(ports["netperf-ctl"]),
            )
        )
    spec = {
        **({"hostNetwork": True} if is_host_workload(workload) else {}),
        "nodeSelector": dict(scene.stack.workload(workload).node_selector),
        "securityContext": pod_security(),
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "containers": containers,
        "volumes": [volume],
    }
    metadata = meta(
        server_name(workload),
        scene.namespace_of(workload),
        {ROLE: "server", WORKLOAD: workload, SERVES: "true", CLUSTER: scene.cluster_of(workload)},
        annotations=bandwidth_annotations(scene.stack.workload(workload)),
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
    return obj("v1", "Service", metadata, spec={**spec, **service_families(scene.stack.cluster(cluster))})


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


def log_claim(scene: Scene, cluster: str, node: str, *, host: bool = False) -> Obj:
    """A node's log volume (RWO is per node): one per node that runs clients, in their namespace."""
    spec: Obj = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": scene.kube.logs.size}}}
    if scene.kube.logs.storage_class:
        spec["storageClassName"] = scene.kube.logs.storage_class
    return obj(
        "v1",
        "PersistentVolumeClaim",
        meta(claim_name(node), scene.host_namespace if host else scene.namespace, {CLUSTER: cluster}, skip_await=True),
        spec=spec,
    )


def viewer_pod(scene: Scene, addresses: Addresses, cluster: str, node: str, *, host: bool = False) -> Obj:
    """A pod that holds a node's log claim (read-only) so that the logs can be read by exec; with `host`,
    the host baseline's claim, from the host namespace (the viewer itself is an ordinary pod)."""
    mount, volume = tmp_volume()
    spec = {
        "nodeSelector": scene.client_nodes(cluster, host=host)[node],
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
    namespace = scene.host_namespace if host else scene.namespace
    return obj("v1", "Pod", meta(viewer_name(node), namespace, {ROLE: "viewer", CLUSTER: cluster}), spec=spec)


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
    return out + host_objects(scene, addresses, cluster)


def has_host_bed(scene: Scene, cluster: str) -> bool:
    return bool(scene.servers_in(cluster, host=True) or scene.client_nodes(cluster, host=True))


def host_objects(scene: Scene, addresses: Addresses, cluster: str) -> list[Obj]:
    """The host baseline's bed in `cluster`: its namespace, host-network servers, log claims and viewers.
    No NetworkPolicy: none applies to a host-network pod (kube-network-policies selects none)."""
    if not has_host_bed(scene, cluster):
        return []
    out = [namespace(scene, cluster, host=True)]
    out += [server_pod(scene, addresses, w) for w in scene.servers_in(cluster, host=True)]
    for node in scene.client_nodes(cluster, host=True):
        out += [log_claim(scene, cluster, node, host=True), viewer_pod(scene, addresses, cluster, node, host=True)]
    return out
