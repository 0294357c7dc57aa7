"""The real program under mocks, for every stack: the whole resource graph, checked."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import yaml
from conftest import DYNAMIC, LAB_RUN, STACK_NAMES, STACKS, Run, run_program, stack_config

from results.detect import parse_output
from spec.load import load_stack
from spec.plan import build_plan


def env_of(job: Any) -> dict[str, str]:
    container = job.inputs["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}  # not those from the API or a Secret


def provider_cluster(run: Run, urn: str) -> str:
    """Which spec cluster a Kubernetes provider reference (urn::id) belongs to."""
    provider = run.by_urn(urn.rsplit("::", 1)[0])
    return provider.name.removeprefix("cluster-").removesuffix("-k8s")


@pytest.mark.parametrize("name", STACK_NAMES)
def test_every_kubernetes_resource_has_an_explicit_provider(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    stack = load_stack(name)
    assert run.kubernetes()
    for res in run.kubernetes():
        assert res.provider.startswith("urn:pulumi:") and "pulumi:providers:kubernetes" in res.provider, res.name
        assert provider_cluster(run, res.provider) in {c.name for c in stack.clusters}
    providers = run.of_type("pulumi:providers:kubernetes")
    assert len(providers) == len(stack.clusters)
    for p in providers:
        assert p.inputs["clusterIdentifier"]
        assert p.inputs["kubeconfig"]
    doc = yaml.safe_load((STACKS / f"Pulumi.{name}.yaml").read_text())
    assert doc["config"]["pulumi:disable-default-providers"] == ["kubernetes"]


@pytest.mark.parametrize("name", STACK_NAMES)
def test_workloads_land_on_labelled_nodes(runs: dict[str, Run], name: str) -> None:
    run, stack = runs[name], load_stack(name)
    placed: dict[str, tuple[str, str]] = {}
    pods = run.of_type(":Pod") + run.of_type(":Job")
    assert pods
    for res in pods:
        spec = res.inputs["spec"]["template"]["spec"] if res.type.endswith("Job") else res.inputs["spec"]
        selector = spec["nodeSelector"]
        cluster = stack.cluster(provider_cluster(run, res.provider))
        nodes = [n.name for n in cluster.nodes if all(n.labels.get(k) == v for k, v in selector.items())]
        assert len(nodes) == 1, f"{res.name}: {selector} matches {nodes} in {cluster.name}"
        meta = res.inputs["spec"]["template"]["metadata"] if res.type.endswith("Job") else res.inputs["metadata"]
        labels = meta["labels"]
        workload = labels.get("meshperf.io/workload")
        if workload:
            placed[workload] = (cluster.name, nodes[0])
    assert placed["w1"] == placed["w2"]
    assert placed["w3"] != placed["w2"]
    if "w4" in placed:
        assert placed["w4"][0] != placed["w1"][0]


@pytest.mark.parametrize("name", STACK_NAMES)
def test_jobs_run_one_after_another_with_plan_timeouts(runs: dict[str, Run], name: str) -> None:
    run, stack = runs[name], load_stack(name)
    plan = build_plan(stack)
    jobs = [j for j in run.of_type("batch/v1:Job") if j.name.endswith("-client")]  # E2SAR's: test_components_e2sar
    assert [j.name for j in jobs] == [f"{c}-client" for c in plan.clients()]
    for before, job in itertools.pairwise(jobs):
        assert before.urn in job.dependencies, f"{job.name} does not wait for {before.name}"
    for job in jobs:
        client = job.name.removesuffix("-client")
        limit = plan.time_limit_s(client) + 300
        assert job.inputs["spec"]["activeDeadlineSeconds"] == limit
        assert job.timeouts["create"] == f"{limit + 60}s"
        assert job.inputs["spec"]["backoffLimit"] == 0
        assert job.delete_before_replace
        annotations = job.inputs["spec"]["template"]["metadata"]["annotations"]
        assert annotations["meshperf.io/run-id"] == stack.run_id
    results = run.of_type(DYNAMIC + "Results")
    assert len(results) == 1
    assert {j.urn for j in jobs} <= set(results[0].dependencies)


def test_a_new_run_id_changes_every_job_template() -> None:
    config = stack_config("kind-local")
    config["meshperf:run_id"] = "second"
    run = run_program("kind-local", config)
    for job in run.of_type("batch/v1:Job"):
        annotations = job.inputs["spec"]["template"]["metadata"]["annotations"]
        assert annotations["meshperf.io/run-id"] == "second"
        env = env_of(job)
        assert env["MESHPERF_LOGDIR"] == f"/logs/second-{annotations['meshperf.io/content-hash']}"


@pytest.mark.parametrize("name", STACK_NAMES)
def test_services_and_addresses(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    services = {s.inputs["metadata"]["name"]: s for s in run.of_type("core/v1:Service")}
    assert services["servers"].inputs["spec"]["clusterIP"] == "None"
    assert "selector" in services["servers"].inputs["spec"]
    pods = {p.inputs["metadata"]["name"]: p for p in run.of_type("core/v1:Pod")}
    w2_ip = pods["w2-server"].outputs["status"]["podIP"]
    jobs = {j.name: j for j in run.of_type("batch/v1:Job")}
    w1, w3, w2 = env_of(jobs["w1-client"]), env_of(jobs["w3-client"]), env_of(jobs["w2-client"])
    assert w1["MESHPERF_W2_POD_IP"] == w2_ip == w3["MESHPERF_W2_POD_IP"]
    vip = services["w2-vip"].outputs["spec"]["clusterIP"]
    assert w1["MESHPERF_W2_VIP"] == vip == w3["MESHPERF_W2_VIP"]
    # Hairpin: w2's own VIP selects the w2 client pod, which serves as well.
    hairpin = services["w2-hairpin"]
    assert w2["MESHPERF_W2_VIP"] == hairpin.outputs["spec"]["clusterIP"] != vip
    w2_pod_labels = jobs["w2-client"].inputs["spec"]["template"]["metadata"]["labels"]
    assert set(hairpin.inputs["spec"]["selector"].items()) <= set(w2_pod_labels.items())
    assert w2_pod_labels["meshperf.io/serves"] == "true"
    ports = {(p["port"], p["protocol"]) for p in services["w2-vip"].inputs["spec"]["ports"]}
    assert ports == {(5201, "TCP"), (5201, "UDP"), (12865, "TCP"), (12866, "TCP")}


@pytest.mark.parametrize("name", ["kind-mesh", "ci-example"])
def test_the_endpoint_slice_carries_the_remote_pod_ip(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    w4 = next(p for p in run.of_type("core/v1:Pod") if p.inputs["metadata"]["name"] == "w4-server")
    (eps,) = run.of_type("EndpointSlice")
    assert eps.inputs["endpoints"][0]["addresses"] == [w4.outputs["status"]["podIP"]]
    assert provider_cluster(run, eps.provider) != provider_cluster(run, w4.provider)
    mesh_svc = next(s for s in run.of_type("core/v1:Service") if s.inputs["metadata"]["name"] == "w4-mesh")
    assert "selector" not in mesh_svc.inputs["spec"]
    assert eps.inputs["metadata"]["labels"]["kubernetes.io/service-name"] == "w4-mesh"
    w1 = env_of(next(j for j in run.of_type("batch/v1:Job") if j.name == "w1-client"))
    assert w1["MESHPERF_W4_POD_IP"] == w4.outputs["status"]["podIP"]
    # w4's policy lets in the client cluster's pods; w1's lets out exactly w4's pod IP.
    policies = {
        (provider_cluster(run, p.provider), p.inputs["metadata"]["name"]): p for p in run.of_type("NetworkPolicy")
    }
    egress = policies[(provider_cluster(run, eps.provider), "clients-egress")].inputs["spec"]["egress"][0]["to"]
    assert {"ipBlock": {"cidr": f"{w4.outputs['status']['podIP']}/32"}} in egress
    ingress = policies[(provider_cluster(run, w4.provider), "servers-ingress")].inputs["spec"]["ingress"][0]["from"]
    assert {"ipBlock": {"cidr": "10.244.0.0/16"}} in ingress


@pytest.mark.parametrize("name", STACK_NAMES)
def test_network_policies_deny_by_default_and_allow_the_test_ports(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    for policy in run.of_type("NetworkPolicy"):
        spec = policy.inputs["spec"]
        if policy.inputs["metadata"]["name"].startswith("e2sar-"):
            continue  # the E2SAR pairs' own policies: test_components_e2sar
        if policy.inputs["metadata"]["name"] == "default-deny":
            # every pod, but the E2SAR pairs' when the stack runs them exempt (the default)
            e2sar = load_stack(name).suites.e2sar
            exempt = [{"key": "meshperf.io/e2sar-case", "operator": "DoesNotExist"}]
            selector = {"matchExpressions": exempt} if e2sar.enabled and e2sar.network_policies == "exempt" else {}
            assert spec == {"podSelector": selector, "policyTypes": ["Ingress", "Egress"]}
            continue
        rules = spec.get("ingress", []) + spec.get("egress", [])
        ports = {(p["protocol"], p["port"]) for rule in rules for p in rule["ports"]}
        assert ports == {("TCP", 5201), ("UDP", 5201), ("TCP", 12865), ("TCP", 12866)}


@pytest.mark.parametrize("name", STACK_NAMES)
def test_containers_run_with_least_privilege(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    for res in run.of_type(":Pod") + run.of_type(":Job"):
        spec = res.inputs["spec"]["template"]["spec"] if res.type.endswith("Job") else res.inputs["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert sc["readOnlyRootFilesystem"] is True
    # The pods' namespace is restricted; the host baseline's alone (where there is one) is privileged,
    # which hostNetwork needs: its pods keep every restriction above all the same.
    levels = {
        ns.inputs["metadata"]["name"]: ns.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        for ns in run.of_type("core/v1:Namespace")
    }
    host = load_stack(name).suites.netperf.host_baseline
    assert levels == {"meshperf": "restricted", **({"meshperf-host": "privileged"} if host else {})}
    for res in run.of_type(":Pod") + run.of_type(":Job"):
        spec = res.inputs["spec"]["template"]["spec"] if res.type.endswith("Job") else res.inputs["spec"]
        in_host = res.inputs["metadata"]["namespace"] == "meshperf-host"
        is_viewer = res.inputs["metadata"]["labels"].get("meshperf.io/role") == "viewer"
        assert spec.get("hostNetwork", False) == (in_host and not is_viewer)


@pytest.mark.parametrize("name", STACK_NAMES)
def test_one_log_claim_and_viewer_per_client_node(runs: dict[str, Run], name: str) -> None:
    run, stack = runs[name], load_stack(name)
    plan = build_plan(stack)
    ends = [*plan.clients(), *(w for p in plan.e2sar for w in (p.sender, p.receiver))]
    # Per cluster, node and namespace: the host baseline's clients keep their logs in their own namespace.
    nodes = {
        (stack.node_of(c)[0].name, stack.node_of(c)[1].name, "meshperf-host" if c.endswith("-host") else "meshperf")
        for c in ends
    }
    claims = run.of_type("PersistentVolumeClaim")
    made = sorted((c.inputs["metadata"]["name"], c.inputs["metadata"]["namespace"]) for c in claims)
    assert made == sorted((f"logs-{n}", ns) for _, n, ns in nodes)
    for claim in claims:
        assert claim.inputs["spec"]["accessModes"] == ["ReadWriteOnce"]
    viewers = [
        p for p in run.of_type("core/v1:Pod") if p.inputs["metadata"]["labels"].get("meshperf.io/role") == "viewer"
    ]
    assert len(viewers) == len(nodes)
    # Each job mounts the claim of its own node.
    for job in run.of_type("batch/v1:Job"):
        client = job.inputs["spec"]["template"]["metadata"]["labels"]["meshperf.io/workload"]
        vol = job.inputs["spec"]["template"]["spec"]["volumes"][0]
        assert vol["persistentVolumeClaim"]["claimName"] == f"logs-{stack.node_of(client)[1].name}"


@pytest.mark.parametrize("name", STACK_NAMES)
def test_outputs_come_from_results_and_secrets_stay_secret(runs: dict[str, Run], name: str) -> None:
    run, stack = runs[name], load_stack(name)
    plan = build_plan(stack)
    for key in ("throughput", "throughput_by_mss", "latency", "csv", "failures"):
        assert run.secret[key] is False
    # The figures are this stack's, computed from a log folder of its own plan (conftest.plan_logs):
    # its MSS points, its paths, and each value the one in that case's raw log (a steady-state case's
    # text log: the running mean its watcher stopped on, as results.detect reads it).
    row = run.outputs["throughput_by_mss"]["1 iperf TCP. Same VM using Pod IP"]
    points = sorted({c.mss for c in plan.cases if c.path == 1 and c.tool == "iperf3_tcp" and c.mss is not None})
    assert sorted(int(m) for m in row) == points
    for mss in points:
        raw = parse_output((LAB_RUN / f"p1-iperf3-tcp-mss{mss}.txt").read_text())
        assert raw.ok and row[str(mss)] == pytest.approx(raw.throughput_mbps)
    remote = [v for key, r in run.outputs["throughput_by_mss"].items() if "Remote Cluster" in key for v in r.values()]
    if 6 in stack.suites.netperf.paths:
        assert remote and all(v is not None for v in remote)
    else:
        assert all(v is None for v in remote)
    assert run.outputs["failures"] == {}  # every netperf case of the lab run measured
    assert run.secret["kubeconfig"] is True
    assert set(run.outputs["kubeconfig"]) == {c.name for c in stack.clusters}
    for cluster in run.of_type(DYNAMIC + "KindCluster"):
        assert cluster.secret_outputs == ["kubeconfig"]
