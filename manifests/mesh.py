"""A remote pod made visible in a cluster: a selector-less headless Service and its EndpointSlices.

Its DNS name resolves to the remote pod's IP, which an EndpointSlice holds. A slice holds one
address family (`addressType`), so a remote pod reached over IPv4 and IPv6 has two slices; the
Service's `ipFamilies` are its cluster's.
"""

from __future__ import annotations

from manifests.addresses import Addresses
from manifests.base import API_FAMILY, CLUSTER, WORKLOAD, Obj, meta, obj, service_families, service_ports
from manifests.scene import Scene
from spec.model import Family


def mesh_name(workload: str) -> str:
    return f"{workload}-mesh"


def mesh_service(scene: Scene, cluster: str, workload: str) -> Obj:
    """In the client's `cluster`, the Service standing for the remote server `workload`."""
    metadata = meta(mesh_name(workload), scene.namespace, {WORKLOAD: workload, CLUSTER: cluster}, skip_await=True)
    spec = {"clusterIP": "None", "ports": service_ports(scene.plan), **service_families(scene.stack.cluster(cluster))}
    return obj("v1", "Service", metadata, spec=spec)


def mesh_slice(scene: Scene, addresses: Addresses, cluster: str, workload: str, family: Family = "ipv4") -> Obj:
    """The remote pod's address of one family (the IPv4 slice keeps the name `<service>-1`)."""
    name = mesh_name(workload)
    labels = {
        "kubernetes.io/service-name": name,
        "endpointslice.kubernetes.io/managed-by": "meshperf.io",
        CLUSTER: cluster,
    }
    return obj(
        "discovery.k8s.io/v1",
        "EndpointSlice",
        meta(f"{name}-1" if family == "ipv4" else f"{name}-{family}", scene.namespace, labels),
        addressType=API_FAMILY[family],
        endpoints=[{"addresses": [addresses.pod_ip(workload, family)], "conditions": {"ready": True}}],
        ports=[{"name": p["name"], "port": p["port"], "protocol": p["protocol"]} for p in service_ports(scene.plan)],
    )


def mesh_objects(scene: Scene, addresses: Addresses) -> list[Obj]:
    return [
        o
        for cluster, w in scene.mesh_pairs()
        for o in (
            mesh_service(scene, cluster, w),
            *(mesh_slice(scene, addresses, cluster, w, f) for f in scene.remote_families(cluster, w)),
        )
    ]
