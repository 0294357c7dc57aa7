"""kindnet's masquerade on every node of a kind cluster (pure).

kindnetd (kubernetes-sigs/kind, images/kindnetd/cmd/kindnetd/masq.go, `IPMasqAgent.SyncRules`,
alike in v0.24.0 and today; main.go passes the cluster's POD_SUBNET as the no-masquerade
CIDRs) keeps in the nat table:

    -A POSTROUTING -m addrtype ! --dst-type LOCAL -j KIND-MASQ-AGENT
    -A KIND-MASQ-AGENT -d <pod subnet> -j RETURN
    -A KIND-MASQ-AGENT -j MASQUERADE

and the same in ip6tables with the IPv6 pod subnet on an IPv6 or dual-stack cluster (main.go
makes one agent per family of POD_SUBNET). So whatever leaves a node for an address outside
its cluster's pod subnet (the other cluster's pods included) leaves with the node's own IP
as its source. A policy on the other side that admits only the sending cluster's pod subnet
then never sees that subnet.
"""

from __future__ import annotations

from collections.abc import Iterable

from netlab.cluster_state import IpNetwork
from netlab.iptables import Fragment, comment

CHAIN = "KIND-MASQ-AGENT"


def kindnet_masquerade(pod_subnets: Iterable[IpNetwork]) -> Fragment:
    rules = [
        f"-A POSTROUTING -m addrtype ! --dst-type LOCAL "
        f"{comment('kind-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination traffic')} -j {CHAIN}"
    ]
    rules += [
        f"-A {CHAIN} -d {subnet} {comment('kind-masq-agent: local traffic is not subject to MASQUERADE')} -j RETURN"
        for subnet in pod_subnets
    ]
    rules.append(f"-A {CHAIN} {comment('kind-masq-agent: outbound traffic is subject to MASQUERADE')} -j MASQUERADE")
    return Fragment("nat", (CHAIN,), tuple(rules))
