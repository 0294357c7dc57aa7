"""A remote pod made visible in a cluster: a selector-less headless Service and its EndpointSlice.

Its DNS name resolves to the remote pod's IP, which the EndpointSlice holds.
"""

from __future__ import annotations

from manifests.addresses import Addresses
from manifests.base import CLUSTER, WORKLOAD, Obj, meta, obj, service_ports
from manifests.scene import Scene


def mesh_name(workload: str) -> str:
    return f"{workload}-mesh"


def mesh_service(scene: Scene, cluster: str, workload: str) -> Obj:
    """In the client's `cluster`, the Service standing for the remote server `workload`."""
    metadata = meta(mesh_name(workload), scene.namespace, {WORKLOAD: workload, CLUSTER: cluster}, skip_await=True)
    return obj("v1", "Service", metadata, spec={"clusterIP": "None", "ports": service_ports(scene.plan)})


def mesh_slice(scene: Scene, addresses: Addresses, cluster: str, workload: str) -> Obj:
    name = mesh_name(workload)
    labels = {
        "kubernetes.io/service-name": name,
        "endpointslice.kubernetes.io/managed-by": "meshperf.io",
        CLUSTER: cluster,
    }
    return obj(
        "discovery.k8s.io/v1",
        "EndpointSlice",
        meta(f"{name}-1", scene.namespace, labels),
        addressType="IPv4",
        endpoints=[{"addresses": [addresses.pod_ip(workload)], "conditions": {"ready": True}}],
        ports=[{"name": p["name"], "port": p["port"], "protocol": p["protocol"]} for p in service_ports(scene.plan)],
    )


def mesh_objects(scene: Scene, addresses: Addresses) -> list[Obj]:
    return [
        o
        for cluster, w in scene.mesh_pairs()
        for o in (mesh_service(scene, cluster, w), mesh_slice(scene, addresses, cluster, w))
    ]
