"""Registering rendered objects: each body comes from `manifests`, whole, as a value or an Output.

Where an object needs addresses that are Outputs (pod IPs, cluster IPs, node IPs, the image's
name), `addresses(...)` resolves them into one `manifests.Addresses` and the body is rendered
inside `apply`; the resource takes the body's fields as they are.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any, TypeVar

import pulumi
import pulumi_kubernetes as k8s

from manifests import Addresses, Obj

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
