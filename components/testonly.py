"""A test-only override, for the live tier: one port taken out of one rendered NetworkPolicy.

The live tier shows that the policies the program renders are what lets each case through, on a
real policy engine: with one port of one policy dropped, the cases that need that port fail (with
their reason in `failures`) and every other case still measures. No stack key can ask for this;
only the environment variable MESHPERF_TEST_ONLY_DROP_POLICY_PORT, read here alone, does:
`<policy name>:<PROTOCOL>/<port>` (`servers-ingress:UDP/5201`). When it is set the program says so
in a warning, and a value that matches no port of that policy stops the program.
"""

from __future__ import annotations

import os
import re

import pulumi

from manifests import Obj

ENV = "MESHPERF_TEST_ONLY_DROP_POLICY_PORT"
_FORMAT = re.compile(r"^(?P<policy>[a-z0-9-]+):(?P<protocol>TCP|UDP|SCTP)/(?P<port>\d+)$")


def without_dropped_port(body: Obj) -> Obj:
    """The policy as rendered, or (test-only, ENV set and naming this policy) without that port in any rule."""
    wanted = os.environ.get(ENV, "")
    if not wanted:
        return body
    match = _FORMAT.match(wanted)
    if match is None:
        raise pulumi.RunError(f"{ENV}={wanted!r}: expected <policy>:<TCP|UDP|SCTP>/<port>")
    if body["metadata"]["name"] != match["policy"]:
        return body
    drop = {"protocol": match["protocol"], "port": int(match["port"])}
    spec = body["spec"]
    rules_key = "ingress" if "ingress" in spec else "egress"
    rules = [{**rule, "ports": [p for p in rule.get("ports", []) if p != drop]} for rule in spec.get(rules_key, [])]
    if rules == spec.get(rules_key, []):
        raise pulumi.RunError(f"{ENV}={wanted!r}: policy {match['policy']} has no port {drop}")
    port = wanted.split(":", 1)[1]
    pulumi.log.warn(f"test-only override {ENV}: port {port} dropped from NetworkPolicy {match['policy']}")
    return {**body, "spec": {**spec, rules_key: rules}}
