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
The keys ending in 6 hold the IPv6 addresses of clusters whose `ip_family` is ipv6 or dual
(the first family's come from `status.podIPs` and `spec.clusterIPs` on Kubernetes).
A missing key is a `MissingAddressError` naming it, raised by the object that needs it.
"""

from __future__ import annotations

import ipaddress

from pydantic import Field

from spec.base import Strict
from spec.model import Family


class MissingAddressError(KeyError):
    """An object needs an address the runtime did not give; str() names it."""

    def __str__(self) -> str:
        return str(self.args[0])


# The fields holding each family's pod IPs and cluster IPs.
POD_IPS: dict[Family, str] = {"ipv4": "pod_ips", "ipv6": "pod_ips6"}
CLUSTER_IPS: dict[Family, str] = {"ipv4": "cluster_ips", "ipv6": "cluster_ips6"}


def address_of(ips: list[str], family: Family) -> str:
    """The address of one family among a pod's `status.podIPs` or a Service's `spec.clusterIPs`."""
    version = 6 if family == "ipv6" else 4
    found = next((ip for ip in ips if _version(ip) == version), None)
    if found is None:
        raise MissingAddressError(f"no {_NAMES[family] or 'IPv4 '}address among {ips}")
    return found


def _version(ip: str) -> int | None:
    try:
        return ipaddress.ip_address(ip).version
    except ValueError:  # not filled in (yet): no address
        return None


class Addresses(Strict):
    image: str | None = None
    pod_ips: dict[str, ipaddress.IPv4Address] = Field(default_factory=dict)
    cluster_ips: dict[str, ipaddress.IPv4Address] = Field(default_factory=dict)
    receiver_ips: dict[str, ipaddress.IPv4Address] = Field(default_factory=dict)
    node_ips: dict[str, tuple[ipaddress.IPv4Address, ...]] = Field(default_factory=dict)
    pod_ips6: dict[str, ipaddress.IPv6Address] = Field(default_factory=dict)
    cluster_ips6: dict[str, ipaddress.IPv6Address] = Field(default_factory=dict)
    node_ips6: dict[str, tuple[ipaddress.IPv6Address, ...]] = Field(default_factory=dict)

    def tool_image(self) -> str:
        if self.image is None:
            raise MissingAddressError("no tool image name (Addresses.image)")
        return self.image

    def pod_ip(self, workload: str, family: Family = "ipv4") -> str:
        return self._lookup(POD_IPS[family], workload, f"no {_NAMES[family]}pod IP for server {workload!r}")

    def cluster_ip(self, service: str, family: Family = "ipv4") -> str:
        return self._lookup(CLUSTER_IPS[family], service, f"no {_NAMES[family]}cluster IP for Service {service!r}")

    def _lookup(self, field: str, key: str, missing: str) -> str:
        """`key` in the address map `field`, or a MissingAddressError saying `missing` and naming the field."""
        ips = getattr(self, field)
        if key not in ips:
            raise MissingAddressError(f"{missing} (Addresses.{field})")
        return str(ips[key])

    def pod_block(self, workload: str, family: Family = "ipv4") -> str:
        """A server's pod IP as an ipBlock CIDR of one address: /32, or /128 for IPv6."""
        return f"{self.pod_ip(workload, family)}/{_HOST_PREFIX[family]}"

    def receiver_ip(self, case_id: str) -> str:
        if case_id not in self.receiver_ips:
            raise MissingAddressError(f"no receiver pod IP for E2SAR case {case_id!r} (Addresses.receiver_ips)")
        return str(self.receiver_ips[case_id])

    def node_blocks(self, cluster: str) -> list[str]:
        """A cluster's node IPs as /32 blocks, and its IPv6 ones as /128 (none known: none)."""
        return [f"{ip}/32" for ip in self.node_ips.get(cluster, ())] + [
            f"{ip}/128" for ip in self.node_ips6.get(cluster, ())
        ]


_NAMES: dict[Family, str] = {"ipv4": "", "ipv6": "IPv6 "}  # IPv4 goes unsaid, as before families
_HOST_PREFIX: dict[Family, int] = {"ipv4": 32, "ipv6": 128}
