"""The README's Kubernetes flow, for real (issue 20, item 3): the real Pulumi CLI and the real
pulumi-kubernetes provider, with local state, against the local cluster (`meshperf cluster up`: the
`live` stack's one node, so paths 1, 2, 5 and the host baseline's same-node path).

One module fixture starts the cluster and stops it on every exit path; the tests run in order on
one stack: up and its outputs, refresh, a new run id, a changed suite key and a changed image
(preview), a NetworkPolicy port taken away (the test-only override), destroy, and destroy of a
second stack whose cluster was stopped under it. Skips in one line when the live tools are not built.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from liveflow import Flow, flow_on, planned_rows, seed_rows, tools_or_skip

from localcluster import down
from manifests.clients import job_name
from results.seed import EXTRA_ROWS, SEED_ROWS

TOOLS = tools_or_skip()

NAME = "lvflow"  # the local cluster's own name (run folder, namespaces, kubeconfig context)
UP_S = 900.0
STEP_S = 300.0
DROPPED = "servers-ingress:UDP/5201"  # iperf3's UDP data port on the servers' ingress
POD_PATHS = range(1, 7)
JOB_TYPE = "kubernetes:batch/v1:Job"
POD_TYPE = "kubernetes:core/v1:Pod"


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    # The README's `pulumi config set` lines, made short: one MSS point, 2 s cases, no steady state.
    short = [("meshperf:suites.netperf.mss", "1376"), ("meshperf:suites.netperf.duration_s", "2")]
    with flow_on("live", NAME, tmp_path_factory.mktemp("liveflow"), TOOLS, short) as flow:
        yield flow


def _figures_by_path(throughput: dict[str, dict[str, Any]]) -> dict[str, list[float]]:
    return {
        path: [float(v) for v in by_tool.values() if isinstance(v, int | float)] for path, by_tool in throughput.items()
    }


def _save(flow: Flow, name: str, value: Any) -> Path:
    path = flow.pulumi.project / f"{name}.json"
    path.write_text(json.dumps(value))
    return path


def test_up_measures_every_path_the_cluster_has(flow: Flow) -> None:
    done = flow.pulumi.run("up", "--yes", timeout_s=UP_S, label="up")
    # The Results provider's own progress: each viewer's log folder read by exec through the API server.
    assert re.search(r"results: \d+ files from viewer meshperf/", done.stdout + done.stderr), "no viewer read"
    out = flow.pulumi.outputs()
    for name in ("throughput", "failures", "csv", "latency", "run", "read_errors"):
        assert name in out, f"no output {name}"
    assert out["failures"] == {}, out["failures"]
    assert out["read_errors"] == []
    plan = flow.plan()
    rows, ours = seed_rows(), planned_rows(plan)
    # Every pod path the cluster has (1, 2, 5) has its seed rows, each with a figure above 0.
    assert {rows[label][1] for label in ours} == {c.path for c in plan.cases if c.path in POD_PATHS}
    assert all((out["throughput"].get(label) or 0) > 0 for label in ours), out["throughput"]
    assert all(out["throughput"].get(label) is None for label in set(rows) - ours), out["throughput"]
    # The host baseline's path (7): every pod point has its host figure.
    assert out["overhead"] and all((o.get("host") or 0) > 0 for o in out["overhead"].values()), out["overhead"]
    print(f"live: throughput {json.dumps(out['throughput'])}")
    check = flow.python(
        "-m",
        "results",
        "check-outputs",
        "--stack",
        str(flow.stack_file),
        str(_save(flow, "throughput", out["throughput"])),
        str(_save(flow, "failures", out["failures"])),
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_refresh_of_an_unchanged_stack_changes_nothing(flow: Flow) -> None:
    flow.pulumi.run("refresh", "--yes", "--expect-no-changes", timeout_s=STEP_S, label="refresh")


def test_a_new_run_id_replaces_every_job_then_nothing_changes(flow: Flow) -> None:
    before, first = flow.kubectl.job_uids(), flow.pulumi.output("run")
    assert before, "no Job of the stack in the cluster"
    flow.pulumi.config_set("meshperf:run_id", "2", path=False)
    flow.pulumi.run("up", "--yes", timeout_s=UP_S, label="up (run_id 2)")
    after, second = flow.kubectl.job_uids(), flow.pulumi.output("run")
    assert set(after) == set(before)
    assert all(after[j] != before[j] for j in before), "a Job kept its uid"
    assert second["label"] != first["label"] and second["started"] > first["ended"], (first, second)
    assert flow.pulumi.output("failures") == {}
    flow.pulumi.run("preview", "--expect-no-changes", timeout_s=STEP_S, label="preview (no changes)")


def _preview_steps(flow: Flow) -> list[dict[str, Any]]:
    out = flow.pulumi.run("preview", "--json", timeout_s=STEP_S, label="preview --json", show_stdout=False)
    return list(json.loads(out.stdout).get("steps", []))


def _name(step: dict[str, Any]) -> str:
    """The object's name: from its new inputs, or where a preview does not know them yet, its old ones."""
    for state in (step.get("newState"), step.get("oldState")):
        for part in ("inputs", "outputs"):
            metadata = ((state or {}).get(part) or {}).get("metadata")
            if isinstance(metadata, dict) and isinstance(metadata.get("name"), str):
                return str(metadata["name"])
    return str(step.get("urn", ""))


def _replaced(steps: list[dict[str, Any]], type_: str) -> set[str]:
    return {_name(s) for s in steps if s.get("op") == "replace" and (s.get("newState") or {}).get("type") == type_}


def test_a_changed_suite_key_replaces_exactly_the_jobs_it_changes(flow: Flow) -> None:
    """Path 2 (same node, virtual IP) out of [1, 2, 5]: only the client that ran it has new cases, so
    the preview replaces its Job alone; the up re-runs it alone, and the other Jobs' figures stay as they were."""
    old, uids, before = flow.plan(), flow.kubectl.job_uids(), flow.pulumi.output("throughput")
    flow.pulumi.run("config", "rm", "--path", "meshperf:suites.netperf.paths[1]", timeout_s=60, label="config rm")
    new = flow.plan()
    clients = {c.client for c in old.cases}
    changed = {job_name(c) for c in clients if old.cases_of(c) != new.cases_of(c)}
    assert changed and len(changed) < len(clients), (changed, clients)
    assert _replaced(_preview_steps(flow), JOB_TYPE) == changed
    flow.pulumi.run("up", "--yes", timeout_s=UP_S, label="up (path 2 removed)")
    after, throughput = flow.kubectl.job_uids(), flow.pulumi.output("throughput")
    assert {j for j in uids if after.get(j) != uids[j]} == {j for j in uids if j.split("/")[1] in changed}
    kept = {r.label for r in (*SEED_ROWS, *EXTRA_ROWS) if r.path == 5 and before.get(r.label) is not None}
    assert kept and all(throughput[label] == before[label] for label in kept), (before, throughput)
    assert all(throughput.get(r.label) is None for r in (*SEED_ROWS, *EXTRA_ROWS) if r.path == 2)


def test_a_changed_image_replaces_every_job_and_renews_every_pod(flow: Flow) -> None:
    """Issue 21, item 6: the image's tag is a hash of images/; an edit there re-runs every Job."""
    dockerfile = flow.pulumi.project / "images" / "Dockerfile"
    saved = dockerfile.read_text()
    try:
        dockerfile.write_text(saved + "# live tier: a changed build input\n")
        steps = _preview_steps(flow)
        jobs = set(flow.kubectl.job_uids())
        assert {f"{ns_name.split('/')[1]}" for ns_name in jobs} == _replaced(steps, JOB_TYPE)
        pods = {_name(s) for s in steps if (s.get("newState") or {}).get("type") == POD_TYPE}
        renewed = {_name(s) for s in steps if s.get("op") in ("replace", "update") and _name(s) in pods}
        assert pods and renewed == pods, (pods, renewed)
    finally:
        dockerfile.write_text(saved)


def test_a_removed_policy_port_fails_the_cases_that_needed_it(flow: Flow) -> None:
    """iperf3's UDP data port taken out of the servers' ingress policy (test-only override): kube-router
    rejects the datagrams, so iperf3 UDP fails on the pod paths (path 1; the hairpin's passes, see the
    README); every other case still measures."""
    flow.pulumi.config_set("meshperf:run_id", "3", path=False)
    flow.pulumi.run(
        "up",
        "--yes",
        timeout_s=UP_S,
        label="up (policy port removed)",
        extra_env={"MESHPERF_TEST_ONLY_DROP_POLICY_PORT": DROPPED},
    )
    failures = flow.pulumi.output("failures")
    print(f"live: failures with {DROPPED} removed: {json.dumps(failures, indent=1)}")
    plan = flow.plan()
    udp_pod = {c.id for c in plan.cases if c.tool == "iperf3_udp" and c.client in ("w1", "w2")}
    assert set(failures) <= udp_pod and failures, (sorted(failures), sorted(udp_pod))
    assert all(reason.strip() for reason in failures.values())
    throughput = flow.pulumi.output("throughput")
    for row in (*SEED_ROWS, *EXTRA_ROWS):
        cases = [c.id for c in plan.cases if (c.tool, c.path) == (row.tool, row.path)]
        if cases and all(c in failures for c in cases):
            assert throughput.get(row.label) is None, row.label
        elif cases:
            assert (throughput.get(row.label) or 0) > 0, row.label


def test_destroy_leaves_nothing_in_the_cluster(flow: Flow) -> None:
    assert flow.kubectl.left(), "the stack made nothing?"
    flow.pulumi.run("destroy", "--yes", timeout_s=STEP_S, label="destroy")
    assert flow.kubectl.left() == []


def test_destroy_after_the_cluster_is_gone(flow: Flow) -> None:
    """Issue 21, item 2: a second stack up, the cluster stopped under it, then destroy in one step."""
    p = flow.pulumi
    p.run("stack", "init", "live-gone", "--copy-config-from", "live", timeout_s=60, stack=False)
    p.stack = "live-gone"
    p.config_set("meshperf:suites.netperf.host_baseline", "false")
    p.run("up", "--yes", timeout_s=UP_S, label="up (second stack)")
    assert flow.kubectl.left()
    t0 = time.monotonic()
    left = down.teardown(flow.spec.run_dir, flow.spec.name, say=lambda line: print(f"live: {line}", flush=True))
    assert left == []
    p.times["cluster down (under the stack)"] = time.monotonic() - t0
    p.run("destroy", "--yes", timeout_s=STEP_S, label="destroy (cluster gone)")
    state = json.loads(p.run("stack", "export", timeout_s=60, label="stack export", show_stdout=False).stdout)
    kept = [r["urn"] for r in state["deployment"].get("resources") or [] if r["type"].startswith("kubernetes:")]
    assert kept == []
