"""One rendering: what the program registers is exactly what `manifests.render` gives.

For every shipped stack, the real `__main__.py` runs under the SDK's mocks; every registered
`kubernetes:*` resource's inputs are compared with `render(stack, plan, kube, addresses)`,
the addresses rebuilt from the mocks' outputs (pod IPs, cluster IPs, receiver IPs, node IPs,
the image). Canonical JSON, sorted keys, byte for byte, both ways. Numbers: the engine's
wire format carries every number as a double, so the mocks hand back 5201 as 5201.0; on both
sides a float with an integral value is written as an int, and nothing else is changed.
"""

from __future__ import annotations

import json
from collections import Counter
from ipaddress import ip_address
from typing import Any

import pytest
from conftest import DYNAMIC, STACK_NAMES, Run
from test_components_schema import as_json

from manifests import Addresses, render
from spec.load import load_stack
from spec.model import Stack
from spec.plan import build_plan


def text(obj: dict[str, Any]) -> str:
    return json.dumps(as_json(obj), sort_keys=True, separators=(",", ":"))


def registered(run: Run) -> Counter[str]:
    """The registered objects, less the one field `render` leaves to the runtime: a Secret's data."""
    return Counter(text(without_secret_data(r.inputs)) for r in run.kubernetes())


def without_secret_data(inputs: dict[str, Any]) -> dict[str, Any]:
    if inputs.get("kind") != "Secret":
        return inputs
    return {k: v for k, v in inputs.items() if k not in ("stringData", "data")}


def addresses_from(run: Run, stack: Stack) -> Addresses:
    """What the mocked cluster assigned, read back from the registrations' outputs."""
    pods = [r for r in run.of_type("core/v1:Pod") if r.inputs["metadata"]["labels"].get("meshperf.io/role") == "server"]
    services = [r for r in run.of_type("core/v1:Service") if r.outputs["spec"].get("clusterIP") != "None"]
    ready = run.of_type(DYNAMIC + "ReadyPod")
    routes = run.of_type(DYNAMIC + "KindMeshRoutes")
    built = run.of_type(DYNAMIC + "KindImage")

    def of_family(ips: dict[str, list[str]], version: int) -> dict[str, str]:
        """Each name's address of one IP version, where it has one (a dual-stack cluster's: both)."""
        return {
            k: v[0]
            for k, v in ((k, [a for a in ips_ if ip_address(a).version == version]) for k, ips_ in ips.items())
            if v
        }

    pod_ips = {
        p.inputs["metadata"]["labels"]["meshperf.io/workload"]: [i["ip"] for i in p.outputs["status"]["podIPs"]]
        for p in pods
    }
    cluster_ips = {s.inputs["metadata"]["name"]: s.outputs["spec"]["clusterIPs"] for s in services}
    return Addresses(
        image=built[0].outputs["image"] if built else stack.kubernetes.image.name,
        pod_ips=of_family(pod_ips, 4),
        cluster_ips=of_family(cluster_ips, 4),
        pod_ips6=of_family(pod_ips, 6),
        cluster_ips6=of_family(cluster_ips, 6),
        receiver_ips={r.name.removesuffix("-receiver-ready"): r.outputs["pod_ip"] for r in ready},
        node_ips={c: [n["ip"] for n in nodes] for r in routes for c, nodes in r.outputs["nodes"].items()},
        node_ips6={
            c: [n["ip6"] for n in nodes if "ip6" in n] for r in routes for c, nodes in r.outputs["nodes"].items()
        },
    )


def rendered(run: Run, name: str, addresses: Addresses | None = None) -> Counter[str]:
    stack = load_stack(name)
    objects = render(stack, build_plan(stack), stack.kubernetes, addresses or addresses_from(run, stack))
    return Counter(text(o) for o in objects)


def difference(run: Run, name: str, addresses: Addresses | None = None) -> tuple[list[str], list[str]]:
    """(registered but not rendered, rendered but not registered), as `kind/name` of each object."""
    got, want = registered(run), rendered(run, name, addresses)

    def label(items: Counter[str]) -> list[str]:
        return sorted(f"{json.loads(t)['kind']}/{json.loads(t)['metadata']['name']}" for t in items.elements())

    return label(got - want), label(want - got)


@pytest.mark.parametrize("name", STACK_NAMES)
def test_registered_objects_are_the_rendered_ones(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    extra, missing = difference(run, name)
    assert extra == [], f"{name}: registered, not rendered: {extra}"
    assert missing == [], f"{name}: rendered, not registered: {missing}"
    assert sum(registered(run).values()) == len(run.kubernetes()) > 20


@pytest.mark.parametrize("name", ["kind-mesh", "ci-example"])
def test_the_comparison_sees_one_wrong_address(runs: dict[str, Run], name: str) -> None:
    """Teeth: render with w4's pod IP off by one, and exactly the objects that hold it differ."""
    run, stack = runs[name], load_stack(name)
    good = addresses_from(run, stack)
    moved = good.model_copy(update={"pod_ips": {**good.pod_ips, "w4": good.pod_ips["w4"] + 1}})
    extra, missing = difference(run, name, moved)
    holders = ["EndpointSlice/w4-mesh-1", "Job/w1-client", "NetworkPolicy/clients-egress"]
    assert extra == missing == holders
