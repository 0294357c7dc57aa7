"""Each node namespace's iptables, from one cluster's objects: kube-proxy's Services, kindnet's
masquerade and the NetworkPolicies (pure)."""

from __future__ import annotations

import ipaddress

from netlab.cluster_state import ClusterState
from netlab.iptables import restore_text
from netlab.masquerade import kindnet_masquerade
from netlab.netpol import policy_mangle
from netlab.services import ClusterIps, kube_proxy_nat, service_port_rules


def node_rules(
    state: ClusterState,
    node: str,
    pod_subnet: ipaddress.IPv4Network,
    allocated: ClusterIps,
) -> str:
    """iptables-restore input for one node."""
    return restore_text(
        [
            kube_proxy_nat(service_port_rules(state, allocated), pod_subnet),
            kindnet_masquerade([pod_subnet]),
            policy_mangle(state, node),
        ]
    )
