"""`manifests.render`: its contract for any runtime, without Pulumi."""

from __future__ import annotations

import json

import pytest

from manifests import CLUSTER, CONTENT_HASH, Addresses, MissingAddressError, find, logdir_of, of_kind, render
from spec.load import load_stack
from spec.model import Stack
from spec.plan import build_plan


def addresses(stack: Stack, **more: object) -> Addresses:
    plan = build_plan(stack)
    return Addresses.model_validate(
        {
            "image": "tools:test",
            "pod_ips": {w: f"10.244.{i}.5" for i, w in enumerate(plan.servers(), 1)},
            "cluster_ips": {"w2-vip": "10.96.0.20", "w2-hairpin": "10.96.0.21"},
            "receiver_ips": {c.id: "10.245.0.9" for c in plan.e2sar},
            **more,
        }
    )


def rendered(name: str, stack: Stack | None = None, **more: object) -> list[dict[str, object]]:
    stack = stack or load_stack(name)
    return render(stack, build_plan(stack), stack.kubernetes, addresses(stack, **more))


@pytest.mark.parametrize("name", ["kind-local", "kind-mesh", "ci-example"])
def test_objects_are_whole_plain_and_placed(name: str) -> None:
    objects = rendered(name)
    clusters = {c.name for c in load_stack(name).clusters}
    for obj in objects:
        assert {"apiVersion", "kind", "metadata"} <= obj.keys()
        assert obj["metadata"]["labels"][CLUSTER] in clusters  # type: ignore[index]
    assert json.loads(json.dumps(objects)) == objects  # plain data, nothing a runtime must resolve
    assert rendered(name) == objects
    # One namespace per cluster, and the host baseline's beside it where the stack has one.
    host = load_stack(name).suites.netperf.host_baseline
    assert len(of_kind(objects, "Namespace")) == len(clusters) * (2 if host else 1)


def test_find_by_cluster() -> None:
    objects = rendered("kind-mesh")
    with pytest.raises(KeyError, match="2 objects NetworkPolicy/servers-ingress"):
        find(objects, "NetworkPolicy", "servers-ingress")
    policy = find(objects, "NetworkPolicy", "servers-ingress", cluster="cluster-b", namespace="meshperf")
    assert policy["metadata"]["labels"][CLUSTER] == "cluster-b"


def test_a_missing_address_is_named() -> None:
    stack = load_stack("kind-mesh")
    plan = build_plan(stack)
    with pytest.raises(MissingAddressError, match="no pod IP for server 'w4'"):
        render(stack, plan, stack.kubernetes, addresses(stack).model_copy(update={"pod_ips": {}}))
    with pytest.raises(MissingAddressError, match=r"Addresses\.image"):
        render(stack, plan, stack.kubernetes, Addresses())


def test_node_addresses_reach_the_receiving_clusters_policies() -> None:
    objects = rendered("kind-mesh", node_ips={"cluster-a": ["172.18.0.3", "172.18.0.4"], "cluster-b": ["172.18.0.9"]})
    sources = [
        peer["ipBlock"]["cidr"]
        for peer in find(objects, "NetworkPolicy", "servers-ingress", cluster="cluster-b")["spec"]["ingress"][0]["from"]
        if "ipBlock" in peer
    ]
    assert sources == ["10.244.0.0/16", "172.18.0.3/32", "172.18.0.4/32"]  # cluster-a's, not cluster-b's own


def _hashes(objects: list[dict[str, object]]) -> dict[str, str]:
    return {
        j["metadata"]["name"]: j["spec"]["template"]["metadata"]["annotations"][CONTENT_HASH]  # type: ignore[index]
        for j in of_kind(objects, "Job")
    }


def test_the_content_hash_follows_what_a_job_runs() -> None:
    stack = load_stack("kind-local")
    base = _hashes(rendered("kind-local", stack))
    for job in of_kind(rendered("kind-local", stack), "Job"):
        digest = job["spec"]["template"]["metadata"]["annotations"][CONTENT_HASH]
        assert logdir_of(job["spec"]["template"]) == f"/logs/1-{digest}"
    shorter = stack.model_copy(
        update={
            "suites": stack.suites.model_copy(
                update={"netperf": stack.suites.netperf.model_copy(update={"duration_s": 3})}
            )
        }
    )
    changed = _hashes(rendered("kind-local", shorter))
    assert {n for n in base if base[n] != changed[n]} == {"w1-client", "w2-client", "w3-client"}
    rerun = _hashes(rendered("kind-local", stack.model_copy(update={"run_id": "2"})))
    assert all(base[n] != rerun[n] for n in base)
    other_image = _hashes(rendered("kind-local", stack, image="tools:other"))
    assert {n for n in base if base[n] != other_image[n]} == {
        "w1-client",
        "w2-client",
        "w3-client",
    }  # E2SAR's own image
    moved = _hashes(rendered("kind-local", stack, pod_ips={"w2": "10.244.9.9"}))
    assert {n for n in base if base[n] != moved[n]} == {"w1-client", "w3-client"}  # w2 reaches itself by VIP


def test_the_host_baseline_has_its_own_privileged_namespace_and_nothing_else_changes() -> None:
    stack = load_stack("ci-example")
    assert stack.suites.netperf.host_baseline
    objects = rendered("ci-example")
    dump = stack.model_dump(mode="json")
    dump["suites"]["netperf"]["host_baseline"] = False
    off = Stack.model_validate(dump)  # the same stack without the baseline
    pod_objects = render(off, build_plan(off), off.kubernetes, addresses(stack))
    enforce = "pod-security.kubernetes.io/enforce"
    ns = {o["metadata"]["name"]: o["metadata"]["labels"][enforce] for o in of_kind(objects, "Namespace")}
    assert ns == {"meshperf": "restricted", "meshperf-host": "privileged"}
    host = [o for o in objects if o["metadata"].get("namespace") == "meshperf-host"]
    assert not [o for o in host if o["kind"] in ("NetworkPolicy", "Service", "EndpointSlice")]
    pods = [o["spec"] for o in host if o["kind"] == "Pod" and o["metadata"]["labels"]["meshperf.io/role"] == "server"]
    pods += [o["spec"]["template"]["spec"] for o in host if o["kind"] == "Job"]
    assert len(pods) == 4  # servers w2-host, w4-host; clients w1-host, w3-host
    for spec in pods:
        assert spec["hostNetwork"] is True
        assert spec["securityContext"]["runAsNonRoot"] is True
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["capabilities"] == {"drop": ["ALL"]} and sc["readOnlyRootFilesystem"]
            assert sc["allowPrivilegeEscalation"] is False
    # The pods' namespace keeps exactly what it had: the host baseline adds no rule there.
    mine = [o for o in objects if o["metadata"].get("namespace") == "meshperf" and o["kind"] != "ConfigMap"]
    theirs = [o for o in pod_objects if o["metadata"].get("namespace") == "meshperf" and o["kind"] != "ConfigMap"]
    assert [o for o in mine if o["kind"] in ("NetworkPolicy", "Service", "EndpointSlice")] == [
        o for o in theirs if o["kind"] in ("NetworkPolicy", "Service", "EndpointSlice")
    ]
    # A host client reaches its target's node IP, the host server pod's IP as the runtime gives it.
    job = find(objects, "Job", "w1-host-client")
    env = {e["name"]: e["value"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MESHPERF_W2_HOST_POD_IP"] == addresses(stack).pod_ip("w2-host")
    assert env["MESHPERF_W4_HOST_POD_IP"] == addresses(stack).pod_ip("w4-host")
    # Its logs go to its node's claim in the host namespace, read by that namespace's viewer.
    claim = job["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"]
    find(objects, "PersistentVolumeClaim", claim, namespace="meshperf-host")
