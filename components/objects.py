"""Registering rendered objects: each body comes from `manifests`, whole, as a value or an Output.

Where an object needs addresses that are Outputs (pod IPs, cluster IPs, node IPs, the image's
name), `addresses(...)` resolves them into one `manifests.Addresses` and the body is rendered
inside `apply`; the resource takes the body's fields as they are.
"""

from __future__ import annotations

import asyncio
from operator import itemgetter
from typing import Any, TypeVar

import pulumi
import pulumi_kubernetes as k8s

from manifests import Addresses, Obj
from manifests.addresses import address_of
from spec.model import Family

R = TypeVar("R", bound=pulumi.CustomResource)

# The body's top-level fields per resource class (apiVersion and kind are the class's), as the SDK names them.
FIELDS: dict[type[pulumi.CustomResource], dict[str, str]] = {
    k8s.core.v1.Namespace: {"metadata": "metadata"},
    k8s.core.v1.ConfigMap: {"metadata": "metadata", "data": "data"},
    k8s.core.v1.Pod: {"metadata": "metadata", "spec": "spec"},
    k8s.core.v1.Service: {"metadata": "metadata", "spec": "spec"},
    k8s.core.v1.PersistentVolumeClaim: {"metadata": "metadata", "spec": "spec"},
    k8s.batch.v1.Job: {"metadata": "metadata", "spec": "spec"},
    k8s.networking.v1.NetworkPolicy: {"metadata": "metadata", "spec": "spec"},
    k8s.discovery.v1.EndpointSlice: {
        "metadata": "metadata",
        "addressType": "address_type",
        "endpoints": "endpoints",
        "ports": "ports",
    },
}


def addresses(**fields: Any) -> pulumi.Output[Addresses]:
    """An `Addresses` from Inputs (Outputs nested in dicts and lists are resolved)."""
    return pulumi.Output.from_input(fields).apply(lambda resolved: Addresses.model_validate(resolved))


def _unknown() -> pulumi.Output[str]:
    """An Output whose value is not known yet (what the engine shows as "output<string>" in a preview)."""
    loop = asyncio.get_event_loop()
    value, known = loop.create_future(), loop.create_future()
    value.set_result(None)
    known.set_result(False)
    return pulumi.Output(set(), value, known)


def _address_or_unknown(ips: list[str], family: Family) -> str | pulumi.Output[str]:
    """The address; in a preview, unknown where the object is not made yet. A real pulumi-kubernetes
    previews a new Pod or Service by a server-side dry run: its status has no pod IP, nor a Service a
    cluster IP, but the value is known (empty), so the engine would run this with it."""
    if pulumi.runtime.is_dry_run() and not any(ip and ip != "None" for ip in ips):
        return _unknown()
    return address_of(ips, family)


def pod_ip_of(pod: k8s.core.v1.Pod, family: Family) -> pulumi.Output[str]:
    """A pod's address of one family: from `status.podIPs` (one per family), else `status.podIP`."""

    def pick(status: k8s.core.v1.outputs.PodStatus | None) -> str | pulumi.Output[str]:
        listed = [str(p.ip) for p in (status.pod_ips if status else None) or []]
        return _address_or_unknown(listed or [str(status.pod_ip if status else None)], family)

    return pod.status.apply(pick)


def cluster_ip_of(service: k8s.core.v1.Service, family: Family) -> pulumi.Output[str]:
    """A Service's virtual IP of one family: from `spec.clusterIPs` (one per family), else `spec.clusterIP`."""
    return service.spec.apply(lambda s: _address_or_unknown(list(s.cluster_ips or []) or [str(s.cluster_ip)], family))


def register(
    cls: type[R], resource_name: str, body: Obj | pulumi.Output[Obj], opts: pulumi.ResourceOptions | None = None
) -> R:
    """A `cls` resource whose inputs are the rendered body's fields."""
    kwargs: dict[str, Any] = {}
    for field, argument in FIELDS[cls].items():
        if isinstance(body, pulumi.Output):
            kwargs[argument] = body.apply(itemgetter(field))
        else:
            kwargs[argument] = body[field]
    return cls(resource_name, **kwargs, opts=opts)
