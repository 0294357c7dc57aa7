"""The E2SAR suite's resource graph under mocks: Jobs, readiness, Service, policies, placement, outputs."""

from __future__ import annotations

import asyncio
import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from conftest import DYNAMIC, Run, run_program, stack_config
from test_components_schema import as_json

from components.e2sar import ReadyPodProvider, ReceiverNotReadyError, wait_ready_pod
from manifests.e2sar import readiness_probe
from spec.load import load_stack
from spec.plan import E2SAR_RECEIVER_VAR, build_plan

STACK_NAMES = ["kind-local", "kind-mesh"]


def _config(name: str, **e2sar: Any) -> dict[str, str]:
    config = stack_config(name)
    suites = json.loads(config["meshperf:suites"])
    suites["e2sar"].update(e2sar)
    config["meshperf:suites"] = json.dumps(suites)
    return config


@pytest.fixture(scope="module")
def runs() -> dict[str, Run]:
    out = {name: run_program(name, stack_config(name)) for name in STACK_NAMES}
    out["kind-local-cp"] = run_program(
        "kind-local", _config("kind-local", threads=3, direct_mode=False, rates_gbps=[0.1, 1])
    )
    return out


def _by_name(run: Run, suffix: str) -> dict[str, Any]:
    return {r.inputs["metadata"]["name"]: r for r in run.of_type(suffix)}


def _template(job: Any) -> Any:
    return job.inputs["spec"]["template"]


def _node(run: Run, stack: Any, job: Any) -> tuple[str, str]:
    provider = run.by_urn(job.provider.rsplit("::", 1)[0]).name.removeprefix("cluster-").removesuffix("-k8s")
    selector = _template(job)["spec"]["nodeSelector"]
    cluster = stack.cluster(provider)
    (node,) = [n.name for n in cluster.nodes if all(n.labels.get(k) == v for k, v in selector.items())]
    return cluster.name, node


@pytest.mark.parametrize("name", STACK_NAMES)
def test_a_receiver_and_a_sender_job_per_rate_in_turn_after_the_netperf_clients(
    runs: dict[str, Run], name: str
) -> None:
    run, plan = runs[name], build_plan(load_stack(name))
    assert plan.e2sar
    jobs = {j.name: j for j in run.of_type("batch/v1:Job")}
    ready = {r.name: r for r in run.of_type(DYNAMIC + "ReadyPod")}
    last_client = jobs[f"{plan.clients()[-1]}-client"]
    before: list[str] = [last_client.urn]
    for case in plan.e2sar:
        receiver, sender = jobs[f"{case.id}-receiver"], jobs[f"{case.id}-sender"]
        waiter = ready[f"{case.id}-receiver-ready"]
        assert set(before) <= set(receiver.dependencies), f"{case.id} receiver starts before the last run ended"
        # The wait for the receiver sits beside its Job (Pulumi waits for a Job to complete), the sender after it.
        assert receiver.urn not in waiter.dependencies
        assert set(before) <= set(waiter.dependencies)
        assert waiter.urn in sender.dependencies
        assert receiver.urn not in sender.dependencies
        env = {e["name"]: e["value"] for e in _template(sender)["spec"]["containers"][0]["env"]}
        assert env[E2SAR_RECEIVER_VAR] == waiter.outputs["pod_ip"]
        assert env["LANG"] == "C"
        selector = dict(s.split("=") for s in waiter.inputs["selector"].split(","))
        assert selector.items() <= _template(receiver)["metadata"]["labels"].items()
        probe = _template(receiver)["spec"]["containers"][0]["readinessProbe"]
        assert "/proc/net/udp" in probe["exec"]["command"][-1]
        for job in (receiver, sender):
            assert job.inputs["spec"]["backoffLimit"] == 0
            containers = _template(job)["spec"]["containers"]
            assert len(containers) == 1, "no sidecar: the Job completes when e2sar_perf does"
            assert containers[0]["image"] == "jlabtsai/e2sar-container:latest"
            assert containers[0]["command"][0] == "sh"
        before = [receiver.urn, sender.urn]
    results = run.of_type(DYNAMIC + "Results")[0]
    assert {j.urn for j in jobs.values()} <= set(results.dependencies)


@pytest.mark.parametrize("name", STACK_NAMES)
def test_sender_and_receiver_never_share_a_node(runs: dict[str, Run], name: str) -> None:
    run, stack = runs[name], load_stack(name)
    jobs = {j.name: j for j in run.of_type("batch/v1:Job")}
    for case in build_plan(stack).e2sar:
        receiver = _node(run, stack, jobs[f"{case.id}-receiver"])
        sender = _node(run, stack, jobs[f"{case.id}-sender"])
        assert receiver != sender
        assert receiver == (stack.node_of(case.receiver)[0].name, stack.node_of(case.receiver)[1].name)
        if name == "kind-local":
            assert {receiver[1], sender[1]} == {"worker", "worker2"}  # the two labelled workers
        else:
            assert receiver[0] != sender[0]  # across the mesh
        # Each writes its log to the claim of its own node, which a viewer reads back.
        for job, (_, node) in ((jobs[f"{case.id}-receiver"], receiver), (jobs[f"{case.id}-sender"], sender)):
            volume = _template(job)["spec"]["volumes"][0]
            assert volume["persistentVolumeClaim"]["claimName"] == f"logs-{node}"


@pytest.mark.parametrize("name", [*STACK_NAMES, "kind-local-cp"])
def test_udp_service_and_policies_allow_exactly_the_receivers_range(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    stack = load_stack(name.removesuffix("-cp"))
    plan = build_plan(stack)
    if name.endswith("-cp"):
        cases = [c.model_copy(update={"port": 19522, "last_port": 19525, "direct_mode": False}) for c in plan.e2sar]
    else:
        cases = list(plan.e2sar)
    services, policies = _by_name(run, "core/v1:Service"), _by_name(run, "NetworkPolicy")
    for case in cases:
        first, last = case.port, case.last_port
        service = services[case.receiver_id].inputs["spec"]
        assert service["clusterIP"] == "None"
        assert {(p["port"], p["protocol"]) for p in service["ports"]} == {(p, "UDP") for p in range(first, last + 1)}
        ingress = policies[f"{case.id}-receiver"].inputs["spec"]
        assert [r["ports"] for r in ingress["ingress"]] == [[{"protocol": "UDP", "port": first, "endPort": last}]]
        egress = policies[f"{case.id}-sender"].inputs["spec"]
        assert egress["egress"][0]["ports"] == [{"protocol": "UDP", "port": first, "endPort": last}]
        control = [p for rule in egress["egress"][1:] for p in rule["ports"]]
        if case.direct_mode:
            assert len(egress["egress"]) == 1 and "egress" not in ingress
        else:  # the control plane's gRPC (TCP) and sync (UDP) ports, to their addresses only
            assert control == [{"protocol": "TCP", "port": 1234}, {"protocol": "UDP", "port": 1234}]
            assert [r["to"] for r in egress["egress"][1:]] == [
                [{"ipBlock": {"cidr": "10.10.10.10/32"}}],
                [{"ipBlock": {"cidr": "192.168.77.7/32"}}],
            ]
            assert ingress["policyTypes"] == ["Ingress", "Egress"]
        if name == "kind-mesh":  # across clusters: the receiver's pod IP, the sender cluster's sources
            ready = next(r for r in run.of_type(DYNAMIC + "ReadyPod") if r.name == f"{case.id}-receiver-ready")
            assert egress["egress"][0]["to"] == [{"ipBlock": {"cidr": f"{ready.outputs['pod_ip']}/32"}}]
            assert {"ipBlock": {"cidr": "10.244.0.0/16"}} in ingress["ingress"][0]["from"]


def test_resources_follow_the_rate(runs: dict[str, Run]) -> None:
    jobs = {j.name: j for j in runs["kind-mesh"].of_type("batch/v1:Job")}
    slow = _template(jobs["e2sar-100m-sender"])["spec"]["containers"][0]["resources"]["requests"]
    fast = _template(jobs["e2sar-1000m-sender"])["spec"]["containers"][0]["resources"]["requests"]
    assert int(slow["cpu"].removesuffix("m")) < int(fast["cpu"].removesuffix("m"))
    script = _by_name(runs["kind-mesh"], "core/v1:ConfigMap")["e2sar-1000m-sender-scripts"].inputs["data"]
    assert "-b 6250000" in script["e2sar-sender.sh"]  # 50 ms of 1 Gbps, not the seed's 32 KB


@pytest.mark.parametrize("name", [*STACK_NAMES, "kind-local-cp"])
def test_every_e2sar_object_validates_strictly(runs: dict[str, Run], name: str) -> None:
    objs = [as_json(r.inputs) for r in runs[name].kubernetes() if "e2sar" in r.inputs["metadata"]["name"]]
    assert {o["kind"] for o in objs} == {"Job", "Service", "NetworkPolicy", "ConfigMap"}
    for obj in objs:
        kubernetes_validate.validate(obj, "1.31", strict=True)


@pytest.mark.parametrize("name", STACK_NAMES)
def test_the_e2sar_output_comes_from_results(runs: dict[str, Run], name: str) -> None:
    """Through the real results/: the lab run's folder has no E2SAR logs, so each rate is a failure saying so."""
    plan = build_plan(load_stack(name))
    out = {figure["case_id"]: figure for figure in runs[name].outputs["e2sar"].values()}
    assert set(out) == {c.id for c in plan.e2sar}
    for case in plan.e2sar:
        figure = out[case.id]
        assert figure["ok"] is False
        assert f"{case.sender_log}: not run" in figure["error"]
    assert runs[name].secret["e2sar"] is False


def test_the_readiness_probe_reads_bound_udp_ports(tmp_path: Path) -> None:
    case = build_plan(load_stack("kind-local")).e2sar[0].model_copy(update={"last_port": 19523})
    command = readiness_probe(case)["exec"]["command"][-1]
    udp = tmp_path / "udp"
    head = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref\n"
    bound = " 1234: 00000000:4C42 00000000:0000 07 00000000:00000000 00:00000000 00000000 10001 0 1 2\n"
    more = " 1235: 00000000:4C43 00000000:0000 07 00000000:00000000 00:00000000 00000000 10001 0 1 2\n"
    for text, ready in ((head, False), (head + bound, False), (head + bound + more, True)):
        udp.write_text(text)
        done = subprocess.run(["sh", "-c", command.replace("/proc/net/udp", str(udp))], check=False)
        assert (done.returncode == 0) is ready


def test_the_wait_gives_the_ready_pods_ip_or_a_reason() -> None:
    pending = {"status": {"phase": "Pending"}}
    running = {
        "status": {"phase": "Running", "podIP": "10.244.2.7", "conditions": [{"type": "Ready", "status": "False"}]}
    }
    ready = copy.deepcopy(running)
    ready["status"]["conditions"][0]["status"] = "True"
    answers = [[], [pending], [running], [ready]]

    async def list_pods() -> list[dict[str, Any]]:
        return answers.pop(0) if len(answers) > 1 else answers[0]

    assert asyncio.run(wait_ready_pod(list_pods, "receiver", 5, poll_s=0.01)) == "10.244.2.7"

    async def ended() -> list[dict[str, Any]]:
        return [{"status": {"phase": "Failed"}}]

    with pytest.raises(ReceiverNotReadyError, match="ended"):
        asyncio.run(wait_ready_pod(ended, "receiver", 5, poll_s=0.01))

    async def never() -> list[dict[str, Any]]:
        return [running]

    with pytest.raises(ReceiverNotReadyError, match="not ready"):
        asyncio.run(wait_ready_pod(never, "receiver", 0.05, poll_s=0.01))

    provider = ReadyPodProvider()
    provider.list_fn = lambda props: lambda: _const([ready])
    result = provider.create({"namespace": "meshperf", "selector": "a=b", "timeout_s": 1})
    assert result.outs["pod_ip"] == "10.244.2.7"
    assert provider.diff("x", {"run_id": "1"}, {"run_id": "2"}).replaces == ["run_id"]


async def _const(value: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return value
