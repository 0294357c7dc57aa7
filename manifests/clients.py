"""The netperf suite's clients: per client workload, its scripts (a ConfigMap) and its Job.

A Job's pod template carries a hash of what it runs, and its logs go to a folder named by
the run id and that hash (`base.with_logdir`).
"""

from __future__ import annotations

from manifests.addresses import Addresses
from manifests.base import (
    CLUSTER,
    ROLE,
    SCRIPTS_DIR,
    SERVES,
    WORKLOAD,
    Obj,
    job_spec,
    meta,
    netserver_family,
    obj,
    pull_policy,
    server_ports,
    with_logdir,
)
from manifests.jobpod import script_pod_template
from manifests.scene import Scene
from spec.plan import Case, Plan
from spec.runner import runner_script


def serves(plan: Plan, client: str) -> bool:
    """The client is its own target (hairpin): it serves as well."""
    return any(c.target.workload == client for c in plan.cases_of(client))


def entry_script(cases: list[Case], *, serves: bool, plan: Plan, family: str = "-4") -> str:
    """A client Job's entry: serve (hairpin; netserver's listening `family`, `netserver_family`), wait
    until every target answers, then run the runner script."""
    lines = ["#!/bin/sh", "set -u"]
    if serves:
        ports = {p["name"]: p["port"] for p in server_ports(plan)}
        if "iperf3-tcp" in ports:
            lines.append(f"iperf3 -s -p {ports['iperf3-tcp']} -D")
        if "netperf-ctl" in ports:
            lines.append(f"netserver -p {ports['netperf-ctl']} {family}")
    lines += [
        "wait_for() {",
        # Without nc the wait below would spin silently for two minutes: say why, once.
        '    command -v nc >/dev/null || { echo "[meshperf] no nc in the image: no wait for $1:$2" >&2; return 1; }',
        # Bounded by the clock, not by tries: against a dropping policy each try takes nc's 2 s.
        '    end=$(($(date +%s) + 120)); until nc -z -w 2 "$1" "$2" 2>/dev/null; do',
        '        [ "$(date +%s)" -ge "$end" ] && { echo "[meshperf] $1:$2 does not answer in 120 s" >&2; return 1; }',
        "        sleep 1",
        "    done",
        "}",
    ]
    targets = sorted({(c.target.env_var, c.port) for c in cases})
    lines += [f'wait_for "${{{var}}}" {port} || true' for var, port in targets]
    lines.append(f"exec sh {SCRIPTS_DIR}/runner.sh")
    return "\n".join(lines) + "\n"


def scripts_name(client: str) -> str:
    return f"{client}-scripts"


def job_name(client: str) -> str:
    return f"{client}-client"


def client_scripts(scene: Scene, client: str) -> Obj:
    cases = scene.plan.cases_of(client)
    data = {
        "runner.sh": runner_script(client, cases),
        "entry.sh": entry_script(
            cases, serves=serves(scene.plan, client), plan=scene.plan, family=netserver_family(scene.cluster(client))
        ),
    }
    labels = {WORKLOAD: client, CLUSTER: scene.cluster_of(client)}
    metadata = meta(scripts_name(client), scene.namespace_of(client), labels)
    return obj("v1", "ConfigMap", metadata, data=data)


def target_env(scene: Scene, addresses: Addresses, client: str) -> list[Obj]:
    """Each target variable of a client's cases -> the address it stands for: a ClusterIP (the
    target's VIP, or the client's own hairpin Service), else the server's pod IP (in a mesh, the
    one its EndpointSlice holds)."""
    out: dict[str, str] = {}
    for case in scene.plan.cases_of(client):
        t = case.target
        if t.env_var in out:
            continue
        if t.address == "vip":
            out[t.env_var] = addresses.cluster_ip(
                f"{t.workload}-hairpin" if t.workload == client else f"{t.workload}-vip", t.family
            )
        else:
            out[t.env_var] = addresses.pod_ip(t.workload, t.family)
    return [{"name": var, "value": value} for var, value in sorted(out.items())]


def client_template(scene: Scene, addresses: Addresses, client: str) -> Obj:
    """The pod template, before its log folder and hash are set."""
    labels = {ROLE: "client"}
    container: Obj = {
        "name": "runner",
        "image": addresses.tool_image(),
        "imagePullPolicy": pull_policy(scene.stack, scene.kube),
        "command": ["sh", f"{SCRIPTS_DIR}/entry.sh"],
        "env": target_env(scene, addresses, client),
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "512Mi"}},
    }
    if serves(scene.plan, client):
        # A hairpin client is its own server: it declares the server's ports and is selected as one.
        labels[SERVES] = "true"
        ports = {p["name"]: p["port"] for p in server_ports(scene.plan)}
        container["ports"] = [
            {"name": name, "containerPort": port, "protocol": "UDP" if name.endswith("udp") else "TCP"}
            for name, port in sorted(ports.items())
        ]
    return script_pod_template(scene, client, labels, container, scripts=scripts_name(client))


def time_limit_s(scene: Scene, client: str) -> int:
    """A client Job's deadline: its cases' time limits plus the stack's slack."""
    return scene.plan.time_limit_s(client) + scene.kube.job_slack_s


def client_job(scene: Scene, addresses: Addresses, client: str) -> Obj:
    """The client's Job: its runner script once, no retry, cut at the plan's time limit plus slack."""
    parts = {
        "scripts": client_scripts(scene, client)["data"],
        "cases": [c.model_dump(mode="json") for c in scene.plan.cases_of(client)],
    }
    template = with_logdir(
        client_template(scene, addresses, client), parts, scene.kube.logs.mount_path, scene.stack.run_id
    )
    limit = time_limit_s(scene, client)
    metadata = meta(job_name(client), scene.namespace_of(client), {WORKLOAD: client, CLUSTER: scene.cluster_of(client)})
    return obj("batch/v1", "Job", metadata, spec=job_spec(template, limit))


def client_objects(scene: Scene, addresses: Addresses) -> list[Obj]:
    return [
        o
        for client in scene.plan.clients()
        for o in (client_scripts(scene, client), client_job(scene, addresses, client))
    ]
