"""What only a runtime knows when it renders the objects: addresses and the tool image's name.

Kubernetes assigns pod IPs and cluster IPs; the lab assigns its own. `image` is the tool image's
name as the runtime has it (Pulumi: the built or named image). Keys:
- `pod_ips`: server workload -> its server pod's IP (targets by pod IP, mesh EndpointSlices,
  the other cluster's egress /32 blocks);
- `cluster_ips`: Service name -> its ClusterIP (`<w>-vip`, `<w>-hairpin`; names are unique
  across clusters because workload names are);
- `receiver_ips`: E2SAR case id -> the receiver pod's IP, once it is Ready;
- `node_ips`: cluster -> its nodes' IPs, the sources kindnet masquerades pod traffic leaving
  that cluster to (kind-mesh: read by `KindMeshRoutes`; the lab: its node namespaces).
A missing key is a `MissingAddressError` naming it, raised by the object that needs it.
"""

from __future__ import annotations

import ipaddress

from pydantic import Field

from spec.base import Strict


class MissingAddressError(KeyError):
    """An object needs an address the runtime did not give; str() names it."""

    def __str__(self) -> str:
        return str(self.args[0])


class Addresses(Strict):
    image: str | None = None
    pod_ips: dict[str, ipaddress.IPv4Address] = Field(default_factory=dict)
    cluster_ips: dict[str, ipaddress.IPv4Address] = Field(default_factory=dict)
    receiver_ips: dict[str, ipaddress.IPv4Address] = Field(default_factory=dict)
    node_ips: dict[str, tuple[ipaddress.IPv4Address, ...]] = Field(default_factory=dict)

    def tool_image(self) -> str:
        if self.image is None:
            raise MissingAddressError("no tool image name (Addresses.image)")
        return self.image

    def pod_ip(self, workload: str) -> str:
        if workload not in self.pod_ips:
            raise MissingAddressError(f"no pod IP for server {workload!r} (Addresses.pod_ips)")
        return str(self.pod_ips[workload])

    def cluster_ip(self, service: str) -> str:
        if service not in self.cluster_ips:
            raise MissingAddressError(f"no cluster IP for Service {service!r} (Addresses.cluster_ips)")
        return str(self.cluster_ips[service])

    def receiver_ip(self, case_id: str) -> str:
        if case_id not in self.receiver_ips:
            raise MissingAddressError(f"no receiver pod IP for E2SAR case {case_id!r} (Addresses.receiver_ips)")
        return str(self.receiver_ips[case_id])

    def node_blocks(self, cluster: str) -> list[str]:
        """A cluster's node IPs as /32 blocks (none known: none)."""
        return [f"{ip}/32" for ip in self.node_ips.get(cluster, ())]
