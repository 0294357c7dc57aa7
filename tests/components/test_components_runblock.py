"""The `run` block on Kubernetes: the Results provider's `run` output, and `compare` on it.

The provider is called directly on the committed real lab run (split by client, as the
per-node viewers hold it), with each client's env file written by the real runner script's
`log_env` under /bin/sh on this machine; the program under mocks exports the same block.
`compare` then takes a saved `pulumi stack output --json` like a lab's results.json.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from conftest import LAB_RUN, Run, run_program, split_lab_run, stack_config

from components.results import ResultsProvider
from manifests.base import content_hash
from results.__main__ import main as results_main
from results.context import RunContext, run_context
from results.jobenv import job_env
from spec.load import load_stack
from spec.plan import build_plan
from spec.runner import env_name, runner_script

RUN_KEYS = {
    "stack", "label", "profile", "durations", "repeats", "mss", "tool_versions", "kernel", "mtu", "link_rate",
    "cpus", "meshperf_version", "started", "ended",
}  # fmt: skip


def _first_line(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    return next(line.strip() for line in (done.stdout + done.stderr).splitlines() if line.strip())


def _viewers_with_env(tmp_path: Path) -> list[dict[str, Any]]:
    """The lab run split by client, each folder with the env file its Job's script writes (run for real)."""
    viewers = split_lab_run(build_plan(load_stack("kind-mesh")), tmp_path)
    for viewer in viewers:
        client, folder = viewer["pod"].removeprefix("viewer-"), Path(viewer["folder"])
        # The client's runner script with no case: its prelude and `log_env`, as every Job runs them.
        script = tmp_path / f"{client}.sh"
        script.write_text(runner_script(client, []))
        done = subprocess.run(
            ["/bin/sh", str(script)],
            env={**os.environ, "MESHPERF_LOGDIR": str(folder)},
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert f"[meshperf] env iperf3\t{_first_line(['iperf3', '--version'])}" in done.stdout  # the pod's log
    return viewers


def _context(stack_name: str = "kind-mesh") -> RunContext:
    stack = load_stack(stack_name)
    plan = build_plan(stack)
    return run_context(
        stack,
        stack_name=stack_name,
        label=f"run {stack.run_id} ({content_hash(plan.model_dump(mode='json'))[:12]})",
        profile="default",
        tool_versions={},
        kernel=None,
        cpus=None,
        meshperf_version="v0-test",
    )


def test_the_provider_completes_the_run_block_from_the_jobs_logs(tmp_path: Path) -> None:
    plan = build_plan(load_stack("kind-mesh"))
    context = _context()
    props = {"plan": plan.model_dump_json(), "viewers": _viewers_with_env(tmp_path), "run_id": "1", "jobs": []}
    run = ResultsProvider().create({**props, "context": context.model_dump_json()}).outs["run"]
    assert set(run) == RUN_KEYS
    assert run["label"] == context.label and run["label"].startswith("run 1 (")
    assert run["tool_versions"] == {
        "iperf3": _first_line(["iperf3", "--version"]),
        "netperf": _first_line(["netperf", "-V"]),
    }
    assert run["tool_versions"]["iperf3"].startswith("iperf 3.")
    assert run["tool_versions"]["netperf"].startswith("Netperf version")
    assert run["kernel"] == platform.release()
    assert run["cpus"] == len(os.sched_getaffinity(0))
    ids = {c.id for c in plan.cases}  # the fixture also holds a baseline run's host cases
    index = [f for f in (line.split("\t") for line in (LAB_RUN / "index.tsv").read_text().splitlines()) if f[0] in ids]
    assert (run["started"], run["ended"]) == (min(f[1] for f in index), max(f[2] for f in index))
    assert (run["mtu"], run["link_rate"], run["meshperf_version"]) == (1500, "10gbit", "v0-test")
    assert run["durations"]["iperf3_tcp"]["max_s"] > 0 and run["durations"]["tcp_rr"] == 2.0
    # Without a context (an older program's inputs) there is no block, and no error.
    assert ResultsProvider().create(props).outs["run"] is None


def test_nodes_that_disagree_keep_every_value_seen() -> None:
    files = {
        "a/env-w1.tsv": "iperf3\tiperf 3.12\nnetperf\tNetperf version 2.7.0\nkernel\t6.1.0\ncpus\t2\n",
        "b/env-w3.tsv": "iperf3\tiperf 3.16\nnetperf\tNetperf version 2.7.0\nkernel\t6.1.0\ncpus\t8\n",
        "b/p1-tcp-rr.txt": "kernel\tnot an env file\n",
    }
    env = job_env(files)
    assert env.tool_versions == {"iperf3": "iperf 3.12 | iperf 3.16", "netperf": "Netperf version 2.7.0"}
    assert (env.kernel, env.cpus) == ("6.1.0", None)
    assert job_env({}).tool_versions == {} and job_env({}).kernel is None


def test_every_client_script_logs_its_env_once() -> None:
    plan = build_plan(load_stack("kind-mesh"))
    for client in plan.clients():
        script = runner_script(client, plan.cases_of(client))
        assert script.count(f'log_env "$LOGDIR/{env_name(client)}"') == 1


def test_the_program_exports_the_run_block(runs: dict[str, Run]) -> None:
    stack = load_stack("kind-mesh")
    plan = build_plan(stack)
    run = runs["kind-mesh"].outputs["run"]
    # The stand-in viewers hold no env file: no kernel or CPUs, and Pulumi leaves out a null property.
    assert set(run) == RUN_KEYS - {"kernel", "cpus"} and run["tool_versions"] == {}
    assert run["stack"] == "kind-mesh"
    assert run["label"] == f"run 1 ({content_hash(plan.model_dump(mode='json'))[:12]})"
    assert run["profile"] == "default" and run["repeats"] == 1
    assert run["mss"] == stack.suites.netperf.mss_points()
    assert run["started"] is not None and run["ended"] is not None  # from the (stand-in) viewers' index lines
    results = next(r for r in runs["kind-mesh"].of_type("Results"))
    assert RunContext.model_validate_json(results.inputs["context"]).label == run["label"]


def _saved_outputs(run: Run, path: Path) -> Path:
    """What `pulumi stack output --json > FILE` saves: every output, secrets masked."""
    shown = {k: "[secret]" if run.secret.get(k) else v for k, v in run.outputs.items()}
    path.write_text(json.dumps(shown))
    return path


def _outputs_with(stack: str, changes: dict[str, Any]) -> Run:
    config = stack_config(stack)
    for key, value in changes.items():
        config[key] = value if isinstance(value, str) else json.dumps(value)
    return run_program(stack, config)


def test_compare_takes_kubernetes_runs_by_the_lab_rules(runs: dict[str, Run], tmp_path: Path, capsys: Any) -> None:
    baseline = _saved_outputs(runs["kind-mesh"], tmp_path / "run1.json")
    again = _saved_outputs(_outputs_with("kind-mesh", {"meshperf:run_id": "2"}), tmp_path / "run2.json")
    assert results_main(["compare", str(baseline), str(again), "--plot", str(tmp_path / "plot")]) == 0
    out = capsys.readouterr().out
    label1 = json.loads(baseline.read_text())["run"]["label"]
    label2 = json.loads(again.read_text())["run"]["label"]
    assert label1 != label2 and label2.startswith("run 2 (")
    assert f"kind-mesh {label1}" in out and f"kind-mesh {label2}" in out
    # The picture's title names both runs too (matplotlib keeps each text as a comment in the SVG).
    assert f"baseline {label1}  vs  current {label2}" in (tmp_path / "plot" / "comparison.svg").read_text()

    # The seed's fixed 10 s: the same refusal as between two lab runs of different durations.
    suites = json.loads(stack_config("kind-mesh")["meshperf:suites"])
    del suites["netperf"]["steady_state"]
    fixed = _saved_outputs(_outputs_with("kind-mesh", {"meshperf:suites": suites}), tmp_path / "fixed.json")
    assert results_main(["compare", str(baseline), str(fixed)]) == 2
    assert "not comparable: keys that differ (baseline / current): durations.iperf3_tcp until steady" in (
        capsys.readouterr().err
    )
    assert results_main(["compare", "--force", str(baseline), str(fixed)]) in (0, 1)


def test_compare_takes_a_kubernetes_run_against_a_report_of_its_logs(
    runs: dict[str, Run], tmp_path: Path, capsys: Any
) -> None:
    """A Kubernetes run's outputs against results.json of the same logs (`results report`): comparable."""
    outputs = _saved_outputs(runs["kind-mesh"], tmp_path / "k8s.json")
    # Exit 1: the fixture has no E2SAR logs (the pairs were skipped in that lab run).
    # --ignore-unplanned: the fixture also holds the host-network paths, which kind-mesh as shipped does not plan.
    report = ["report", str(LAB_RUN), "--stack", "kind-mesh", "--out", str(tmp_path / "lab"), "--ignore-unplanned"]
    assert results_main(report) == 1
    capsys.readouterr()
    assert results_main(["compare", str(tmp_path / "lab"), str(outputs), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["current"] == f"kind-mesh {json.loads(outputs.read_text())['run']['label']}"
    assert {p["verdict"] for p in document["points"]} == {"same"}
