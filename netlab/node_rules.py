"""Each node namespace's iptables, from one cluster's objects: kube-proxy's Services, kindnet's
masquerade and the NetworkPolicies (pure)."""

from __future__ import annotations

from netlab.cluster_state import ClusterState, IpNetwork
from netlab.iptables import restore_text
from netlab.masquerade import kindnet_masquerade
from netlab.netpol import policy_mangle
from netlab.services import ClusterIps, kube_proxy_nat, service_port_rules


def node_rules(
    state: ClusterState,
    node: str,
    pod_subnet: IpNetwork,
    allocated: ClusterIps,
) -> str:
    """iptables-restore input for one node (ip6tables-restore's for a state and pod subnet of IPv6)."""
    return restore_text(
        [
            kube_proxy_nat(service_port_rules(state, allocated), pod_subnet),
            kindnet_masquerade([pod_subnet]),
            policy_mangle(state, node),
        ]
    )
