"""Every Kubernetes object of a stack, rendered at once, and ways to find one among them."""

from __future__ import annotations

from manifests.addresses import Addresses
from manifests.base import CLUSTER, Obj
from manifests.clients import client_objects
from manifests.e2sar import e2sar_objects
from manifests.mesh import mesh_objects
from manifests.scene import Scene
from manifests.testbed import cluster_objects
from spec.kubernetes import KubernetesSettings
from spec.model import Stack
from spec.plan import Plan


def render(stack: Stack, plan: Plan, kube: KubernetesSettings, addresses: Addresses) -> list[Obj]:
    """Every object the Pulumi program registers for `stack`, as plain camelCase dicts.

    Contract (pure: no I/O, the same inputs give equal output):
    - `plan` is `spec.plan.build_plan(stack)`; `kube` its `stack.kubernetes`, or any settings a
      runtime wants (namespace, log mount path, slack);
    - `addresses` holds what only a runtime knows (see `manifests.addresses`); an object that
      needs an address the runtime did not give raises `MissingAddressError` naming it;
    - each object is whole: `apiVersion`, `kind`, `metadata` (`name`, `namespace` except for
      the Namespace, `labels`, `annotations` where any) and its body (`spec`, `data`, or an
      EndpointSlice's `addressType`/`endpoints`/`ports`), exactly as registered: the program's
      identity test (tests/components/test_components_identity.py) holds it to that;
    - every object's label `meshperf.io/cluster` names the stack's cluster it goes to;
      `find`/`of_kind` select by it;
    - order: per cluster its test bed (namespace, policies, servers, Services, log claims and
      viewers), then the mesh endpoints, the netperf clients (ConfigMap, then Job) in the order
      they run, then E2SAR per rate; Jobs run one at a time in this order;
    - a Job's pod template carries `meshperf.io/content-hash`, a hash of what it runs, and
      writes its logs to `MESHPERF_LOGDIR` = `<logs.mount_path>/<run_id>-<hash>`.
    """
    scene = Scene(stack, plan, kube)
    out: list[Obj] = []
    for cluster in scene.clusters:
        out += cluster_objects(scene, addresses, cluster)
    return out + mesh_objects(scene, addresses) + client_objects(scene, addresses) + e2sar_objects(scene, addresses)


def of_kind(objects: list[Obj], kind: str, cluster: str | None = None) -> list[Obj]:
    """The objects of one kind (in one cluster, if named), in render order."""
    return [
        o for o in objects if o["kind"] == kind and (cluster is None or o["metadata"]["labels"].get(CLUSTER) == cluster)
    ]


def find(objects: list[Obj], kind: str, name: str, *, cluster: str | None = None, namespace: str | None = None) -> Obj:
    """The one object of `kind` named `name` (in `cluster`, `namespace` where given); KeyError if not one."""
    found = [
        o
        for o in of_kind(objects, kind, cluster)
        if o["metadata"]["name"] == name and (namespace is None or o["metadata"].get("namespace") == namespace)
    ]
    if len(found) != 1:
        where = f" in cluster {cluster}" if cluster else ""
        raise KeyError(f"{len(found)} objects {kind}/{name}{where}, not one")
    return found[0]
