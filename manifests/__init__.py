"""The plan as plain Kubernetes objects, for both runtimes (pure: no I/O, no Pulumi; imports `spec` only).

`render(stack, plan, kube, addresses)` returns every object; the per-object functions of the
modules below are what it is made of, for a runtime that registers objects one at a time
(the Pulumi components, inside `Output.apply`). No other code builds a pod.
"""

from manifests.addresses import Addresses, MissingAddressError
from manifests.base import CLUSTER, CONTENT_HASH, Obj, logdir_of
from manifests.render import find, of_kind, render
from manifests.scene import Scene

__all__ = [
    "CLUSTER",
    "CONTENT_HASH",
    "Addresses",
    "MissingAddressError",
    "Obj",
    "Scene",
    "find",
    "logdir_of",
    "of_kind",
    "render",
]
