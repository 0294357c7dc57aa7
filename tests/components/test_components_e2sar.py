"""The E2SAR suite's resource graph under mocks: Jobs, readiness, Service, policies, placement, outputs."""

from __future__ import annotations

import asyncio
import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pulumi
import pytest
import yaml
from conftest import DYNAMIC, SECRET_SIG, Run, run_program, stack_config
from test_components_schema import as_json, unwrap_secrets

from components.e2sar import ReadyPodProvider, ReceiverNotReadyError, wait_ready_pod
from components.stackconfig import check_key_names
from manifests.e2sar import readiness_probe
from spec.load import load_stack
from spec.plan import E2SAR_OWN_IP_VAR, E2SAR_RECEIVER_VAR, E2SAR_TOKEN_VAR, build_plan

STACK_NAMES = ["kind-local", "kind-mesh"]
ROOT = Path(__file__).resolve().parents[2]


def _config(name: str, **e2sar: Any) -> dict[str, str]:
    config = stack_config(name)
    suites = json.loads(config["meshperf:suites"])
    suites["e2sar"].update(e2sar)
    config["meshperf:suites"] = json.dumps(suites)
    return config


@pytest.fixture(scope="module")
def runs() -> dict[str, Run]:
    # The pairs' own policies exist only with `network_policies: enforced` (the default exempts them).
    out = {name: run_program(name, _config(name, network_policies="enforced")) for name in STACK_NAMES}
    out["kind-local-cp"] = run_program(
        "kind-local",
        _config("kind-local", threads=3, direct_mode=False, rates_gbps=[0.1, 1], network_policies="enforced"),
    )
    out["kind-mesh-exempt"] = run_program("kind-mesh", stack_config("kind-mesh"))
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
        env = {e["name"]: e.get("value", e.get("valueFrom")) for e in _template(sender)["spec"]["containers"][0]["env"]}
        assert env[E2SAR_RECEIVER_VAR] == waiter.outputs["pod_ip"]
        token_ref = {"secretKeyRef": {"name": f"{case.id}-control-plane", "key": "token"}}
        assert env[E2SAR_TOKEN_VAR] == token_ref
        own = {e["name"]: e.get("valueFrom") for e in _template(receiver)["spec"]["containers"][0]["env"]}
        assert own[E2SAR_OWN_IP_VAR] == {"fieldRef": {"fieldPath": "status.podIP"}}  # the downward API
        assert own[E2SAR_TOKEN_VAR] == token_ref
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


def test_by_default_no_policy_selects_the_e2sar_pods(runs: dict[str, Run]) -> None:
    """On kind every datagram of a policy-selected pod's one-way UDP would cross kube-network-policies'
    userspace queue: by default neither the pairs' policies nor default-deny select their pods."""
    run = runs["kind-mesh-exempt"]
    policies = _by_name(run, "NetworkPolicy")
    assert not [n for n in policies if n.startswith("e2sar-")]
    exempt = {"matchExpressions": [{"key": "meshperf.io/e2sar-case", "operator": "DoesNotExist"}]}
    assert policies["default-deny"].inputs["spec"]["podSelector"] == exempt
    for job in run.of_type("batch/v1:Job"):
        labels = _template(job)["metadata"]["labels"]
        assert ("meshperf.io/e2sar-case" in labels) is job.name.startswith("e2sar-"), job.name


def test_resources_follow_the_rate(runs: dict[str, Run]) -> None:
    jobs = {j.name: j for j in runs["kind-mesh"].of_type("batch/v1:Job")}
    slow = _template(jobs["e2sar-100m-sender"])["spec"]["containers"][0]["resources"]["requests"]
    fast = _template(jobs["e2sar-1000m-sender"])["spec"]["containers"][0]["resources"]["requests"]
    assert int(slow["cpu"].removesuffix("m")) < int(fast["cpu"].removesuffix("m"))
    script = _by_name(runs["kind-mesh"], "core/v1:ConfigMap")["e2sar-1000m-sender-scripts"].inputs["data"]
    assert "-b 6250000" in script["e2sar-sender.sh"]  # 50 ms of 1 Gbps, not the seed's 32 KB


@pytest.mark.parametrize("name", [*STACK_NAMES, "kind-local-cp"])
def test_every_e2sar_object_validates_strictly(runs: dict[str, Run], name: str) -> None:
    objs = [
        as_json(unwrap_secrets(r.inputs)) for r in runs[name].kubernetes() if "e2sar" in r.inputs["metadata"]["name"]
    ]
    assert {o["kind"] for o in objs} == {"Job", "Service", "NetworkPolicy", "ConfigMap", "Secret"}
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


def test_the_wait_gives_the_ready_pods_ip_or_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
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

    asked: list[tuple[str, str | None, str, str]] = []

    def stand_in_api(kubeconfig: str, context: str | None, namespace: str, selector: str) -> Any:
        """Stand-in for the Kubernetes API's pod list (there is no API here)."""
        asked.append((kubeconfig, context, namespace, selector))
        return lambda: _const([ready])

    monkeypatch.setattr("components.e2sar.kube_list_pods", stand_in_api)
    provider = ReadyPodProvider()
    result = provider.create({"kubeconfig": "kc", "namespace": "meshperf", "selector": "a=b", "timeout_s": 1})
    assert asked == [("kc", None, "meshperf", "a=b")]
    assert result.outs["pod_ip"] == "10.244.2.7"
    assert provider.diff("x", {"run_id": "1"}, {"run_id": "2"}).replaces == ["run_id"]


async def _const(value: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return value


# -- the receiver's pod, as the API lists it ----------------------------------------------------------
REFUSED = "Unable to create reassembler: Data address not present in the URI"


def _pod(template: dict[str, Any], name: str, phase: str, ip: str, ready: bool, **more: Any) -> dict[str, Any]:
    """A Pod as the API server lists it (camelCase, as kubernetes_asyncio serializes it), made from a
    rendered Job's pod template: the labels the Job controller copies, plus its own."""
    labels = {**template["metadata"]["labels"], "batch.kubernetes.io/job-name": name.rsplit("-", 1)[0]}
    container = template["spec"]["containers"][0]["name"]
    state: dict[str, Any] = {"running": {"startedAt": "2026-12-07T14:00:00Z"}}
    if phase in ("Succeeded", "Failed"):
        state = {"terminated": {"exitCode": 0, "reason": "Completed", "message": more.pop("message", None)}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "meshperf", "labels": labels, **more},
        "spec": template["spec"],
        "status": {
            "phase": phase,
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"name": container, "ready": ready, "state": state}],
        },
    }


def _matches(selector: str, pod: dict[str, Any]) -> bool:
    """The API server's equality-based label selector (`k=v,k2=v2`)."""
    labels = pod["metadata"]["labels"]
    return all(labels.get(k) == v for k, v in (term.split("=", 1) for term in selector.split(",")))


def _receiver_and_waiter(config: dict[str, str]) -> tuple[dict[str, Any], str]:
    run = run_program("kind-local", config)
    (job,) = [j for j in run.of_type("batch/v1:Job") if j.name.endswith("-receiver")]
    (waiter,) = run.of_type(DYNAMIC + "ReadyPod")
    return _template(job), waiter.inputs["selector"]


def test_the_wait_selects_this_jobs_receiver_pod_and_skips_pods_being_deleted() -> None:
    """After `duration_s` changes with the same run id, the earlier receiver's Succeeded pod may still be
    listed while the new one starts (same role, case and run id): the wait must not take it for this Job's.
    A pod being deleted (deletionTimestamp set) still says Ready until the kubelet stops it: skipped too."""
    old_template, old_selector = _receiver_and_waiter(_config("kind-local", duration_s=60))
    template, selector = _receiver_and_waiter(_config("kind-local", duration_s=90))
    assert old_selector != selector
    listed = [
        _pod(old_template, "e2sar-100m-receiver-a1b2c", "Succeeded", "10.244.1.5", False),
        _pod(
            template,
            "e2sar-100m-receiver-x9y8z",
            "Running",
            "10.244.1.6",
            True,
            deletionTimestamp="2026-12-07T14:00:05Z",
        ),
        _pod(template, "e2sar-100m-receiver-q7w6e", "Running", "10.244.1.7", True),
    ]

    async def list_pods() -> list[dict[str, Any]]:
        return [p for p in listed if _matches(selector, p)]

    assert asyncio.run(wait_ready_pod(list_pods, "receiver", 1, poll_s=0.01)) == "10.244.1.7"


def test_a_receiver_that_ends_before_it_is_ready_names_the_tools_error_line() -> None:
    """The script writes e2sar_perf's last error line to the termination message, which the pod's status carries."""
    template, _ = _receiver_and_waiter(_config("kind-local"))
    ended = _pod(template, "e2sar-100m-receiver-a1b2c", "Succeeded", "10.244.1.5", False, message=REFUSED + "\n")

    async def list_pods() -> list[dict[str, Any]]:
        return [ended]

    with pytest.raises(ReceiverNotReadyError) as raised:
        asyncio.run(wait_ready_pod(list_pods, "pod e2sar-100m-receiver", 1, poll_s=0.01))
    assert str(raised.value) == f"pod e2sar-100m-receiver ended (Succeeded) before it was ready: e2sar_perf: {REFUSED}"


# -- the control plane's token --------------------------------------------------------------------------
TOKEN = "s3cr3t-T0ken.for_the-LB"


def _plain_strings(value: Any, where: str) -> list[str]:
    """Every place in a recorded value where TOKEN is in plain text (a secret-wrapped value is not)."""
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return []
        return [hit for k, v in value.items() for hit in _plain_strings(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [hit for i, v in enumerate(value) for hit in _plain_strings(v, f"{where}[{i}]")]
    return [where] if TOKEN in str(value) else []


def _secret_values(value: Any) -> list[Any]:
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return [value["value"]]
        return [s for v in value.values() for s in _secret_values(v)]
    if isinstance(value, list):
        return [s for v in value for s in _secret_values(v)]
    return []


def test_the_token_is_nowhere_in_plain_text() -> None:
    """`meshperf:e2sar_token` set as a secret, with the control plane on: the token reaches a Secret per
    pair and cluster, as a secret; no ConfigMap, Job, plan, Results input or stack output holds it."""
    config = {**_config("kind-mesh", direct_mode=False), "meshperf:e2sar_token": TOKEN}
    run = run_program("kind-mesh", config, secret_keys=["meshperf:e2sar_token"])
    leaks = [
        hit
        for r in run.resources
        for part, value in (("inputs", r.inputs), ("outputs", r.outputs))
        for hit in _plain_strings(
            {k: v for k, v in value.items() if part == "inputs" or k not in r.secret_outputs}, f"{r.name} {part}"
        )
    ]
    leaks += _plain_strings(run.outputs, "stack outputs")
    assert not leaks
    secrets = run.of_type("core/v1:Secret")
    plan = build_plan(load_stack("kind-mesh"))
    assert len(secrets) == len(plan.e2sar) * 2  # sender and receiver in different clusters: one each
    for secret in secrets:
        assert _secret_values(secret.inputs["stringData"]) == [{"token": TOKEN}]
        assert {"data", "stringData"} <= set(secret.secret_outputs)
    (results,) = run.of_type(DYNAMIC + "Results")
    assert "token" not in json.loads(results.inputs["plan"])["e2sar"][0]["control_plane"]


def test_a_token_a_uri_cannot_carry_is_one_line_that_does_not_quote_it() -> None:
    config = {**_config("kind-local"), "meshperf:e2sar_token": "bad token/with@signs"}
    with pytest.raises(pulumi.RunError) as raised:
        run_program("kind-local", config, secret_keys=["meshperf:e2sar_token"])
    assert str(raised.value) == (
        "stack kind-local: meshperf:e2sar_token: holds characters other than A-Z a-z 0-9 . _ ~ -"
    )


def test_a_stack_file_may_hold_the_token_as_a_secret(tmp_path: Path) -> None:
    """What `pulumi config set --secret meshperf:e2sar_token T` writes is a known key to the program's
    check, and the lab's reading of the same file leaves it out of the Stack."""
    (tmp_path / "Pulumi.yaml").write_text("name: meshperf\nstackConfigDir: stacks\n")
    (tmp_path / "stacks").mkdir()
    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.kind-local.yaml").read_text())
    document["config"]["meshperf:e2sar_token"] = {"secure": "v1:AAAABBBBCCCC"}
    path = tmp_path / "stacks" / "Pulumi.tok.yaml"
    path.write_text(yaml.safe_dump(document))
    check_key_names("tok", tmp_path)
    assert load_stack(str(path)).suites.e2sar.enabled
