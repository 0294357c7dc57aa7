"""A re-run never reports stale figures: what a Job runs shows in its pod template, and its logs
go to a folder of that run and that content, which `Results` reads.

pulumi-kubernetes replaces a batch/v1 Job only when one of its force-new fields changes; any
other change is an in-place update, and a completed Job that is only updated never runs again.
The fields, from pulumi/pulumi-kubernetes provider/pkg/provider/diff.go (`var job`, plus
`metadataForceNewProperties(".metadata")` that `forceNewProperties` always adds; a changed
path at or under one of them forces replacement, provider.go `convertPatchToDiff`), copied by
hand below: a port, checked here against the program's objects; the live tier (tests/live) sees
the real provider replace the Jobs on the local cluster:
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import DYNAMIC, Registration, Run, plan_logs, run_program, stack_config
from pulumi.runtime import rpc

from components.e2sar import ReadyPodProvider
from components.results import ResultsProvider
from manifests import CONTENT_HASH
from results.detect import parse_output
from spec.plan import Plan

JOB_FORCE_NEW = (".metadata.name", ".metadata.namespace", ".spec.completions", ".spec.parallelism")
JOB_FORCE_NEW += (".spec.selector", ".spec.template")


def plain(value: Any) -> Any:
    """Inputs as a provider sees them: secrets unwrapped, integral doubles as ints."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return plain(value["value"])
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def changed_paths(old: Any, new: Any, path: str = "") -> list[str]:
    """Dotted paths (as the provider writes them) where `new` differs from `old`."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            p for k in sorted(old.keys() | new.keys()) for p in changed_paths(old.get(k), new.get(k), f"{path}.{k}")
        ]
    return [] if old == new else [path or "."]


def job_change(old: Registration, new: Registration) -> str:
    """'replace', 'update' or 'same', by pulumi-kubernetes' rule for batch/v1 Job."""
    paths = changed_paths(plain(old.inputs), plain(new.inputs))
    if any(p == f or p.startswith(f + ".") for p in paths for f in JOB_FORCE_NEW):
        return "replace"
    return "update" if paths else "same"


def jobs(run: Run) -> dict[str, Registration]:
    return {j.name: j for j in run.of_type("batch/v1:Job")}


def dynamic_inputs(run: Run, type_name: str) -> dict[str, Any]:
    """The one dynamic resource's inputs as its provider's diff sees them."""
    (res,) = run.of_type(DYNAMIC + type_name)
    return {k: v for k, v in plain(res.inputs).items() if k != "__provider"}


def results_inputs(run: Run) -> dict[str, Any]:
    return dynamic_inputs(run, "Results")


def waiter_diff(before: Run, after: Run) -> list[str]:
    """What the wait for the E2SAR receiver's pod would be replaced for."""
    diff = ReadyPodProvider().diff("w", dynamic_inputs(before, "ReadyPod"), dynamic_inputs(after, "ReadyPod"))
    return list(diff.replaces or [])


def logdirs(run: Run) -> dict[str, str]:
    """Job name -> the log folder its pod writes to."""
    out = {}
    for name, job in jobs(run).items():
        (container,) = job.inputs["spec"]["template"]["spec"]["containers"]
        out[name] = next(e["value"] for e in container["env"] if e["name"] == "MESHPERF_LOGDIR")
    return out


def with_suite(name: str, suite: str, **changes: Any) -> dict[str, str]:
    config = stack_config(name)
    suites = json.loads(config["meshperf:suites"])
    suites[suite].update(changes)
    config["meshperf:suites"] = json.dumps(suites)
    return config


@pytest.fixture(scope="module")
def before() -> Run:
    return run_program("kind-local", stack_config("kind-local"))


def test_an_unchanged_stack_replaces_nothing_and_reads_nothing_again(before: Run) -> None:
    again = run_program("kind-local", stack_config("kind-local"))
    old, new = jobs(before), jobs(again)
    assert old.keys() == new.keys() and len(old) == 5
    assert {name: job_change(old[name], new[name]) for name in old} == dict.fromkeys(old, "same")
    assert results_inputs(before) == results_inputs(again)
    diff = ResultsProvider().diff("results-1", results_inputs(before), results_inputs(again))
    assert not diff.changes and not diff.replaces
    assert waiter_diff(before, again) == []


@pytest.mark.parametrize(
    ("suite", "change", "affected"),
    [
        ("netperf", {"duration_s": 5}, {"w1-client", "w2-client", "w3-client"}),
        ("e2sar", {"duration_s": 200}, {"e2sar-100m-receiver", "e2sar-100m-sender"}),
    ],
)
def test_a_duration_change_replaces_exactly_the_affected_jobs_and_results_reads_new_folders(
    before: Run, suite: str, change: dict[str, Any], affected: set[str]
) -> None:
    after = run_program("kind-local", with_suite("kind-local", suite, **change))
    old, new = jobs(before), jobs(after)
    replaced = {name for name in old if job_change(old[name], new[name]) == "replace"}
    assert replaced == affected
    for name in old.keys() - affected:
        assert job_change(old[name], new[name]) == "same", name
    # The replaced Jobs carry a new hash and write to a new folder; the others keep theirs.
    hashes = {
        name: (j.inputs["spec"]["template"]["metadata"]["annotations"][CONTENT_HASH], j) for name, j in new.items()
    }
    old_dirs, new_dirs = logdirs(before), logdirs(after)
    for name, (digest, _) in hashes.items():
        assert new_dirs[name] == f"/logs/1-{digest}"
        assert (new_dirs[name] != old_dirs[name]) == (name in affected), name
    # Results reads exactly the Jobs' folders, so its inputs change with them and it reads again.
    read = [v["logdir"] for v in results_inputs(after)["viewers"]]
    assert sorted(read) == sorted(new_dirs.values())
    assert not set(read) & {old_dirs[n] for n in affected}
    diff = ResultsProvider().diff("results-1", results_inputs(before), results_inputs(after))
    assert diff.changes and "viewers" in (diff.replaces or [])
    # A replaced receiver Job is a new pod: the wait for it is replaced too, and selects it by its content hash.
    assert waiter_diff(before, after) == (["selector", "job"] if "e2sar-100m-receiver" in affected else [])


def test_the_old_rule_would_have_kept_the_jobs(before: Run) -> None:
    """Teeth for `job_change`: without the hash, a changed duration showed only in the ConfigMap and in
    activeDeadlineSeconds, which is an in-place update; the rule then keeps the completed Job."""
    job = before.of_type("batch/v1:Job")[0]
    new = json.loads(json.dumps(job.inputs))
    new["spec"]["activeDeadlineSeconds"] = 1.0
    assert job_change(job, Registration(**{**job.__dict__, "inputs": new})) == "update"
    new["spec"]["template"]["metadata"]["annotations"][CONTENT_HASH] = "other"
    assert job_change(job, Registration(**{**job.__dict__, "inputs": new})) == "replace"


def test_results_reads_only_the_folders_of_this_runs_jobs(before: Run, tmp_path: Path) -> None:
    """The provider on a real log volume: each Job's folder holds its cases' raw logs; an earlier
    run's folder beside them (same run id, another hash) holds a different figure, never read."""
    props = results_inputs(before)
    plan = Plan.model_validate_json(props["plan"])
    logs = plan_logs(plan)
    stale = tmp_path / "worker" / "logs" / "1-0000000000000000"
    stale.mkdir(parents=True)
    # The same steady-state text log with every rate 1 Mbit/s: a figure no fresh case has.
    old = re.sub(r"\d+(\.\d+)? Kbits/sec", "1000 Kbits/sec", logs["p1-iperf3-tcp-mss96.txt"])
    assert parse_output(old).throughput_mbps == pytest.approx(1.0)
    (stale / "p1-iperf3-tcp-mss96.txt").write_text(old)
    (stale / "index.tsv").write_text("p1-iperf3-tcp-mss96\t2026-11-01T00:00:00Z\t2026-11-01T00:00:01Z\t0\t1\n")
    viewers = []
    for viewer, job in zip(props["viewers"], jobs(before).values(), strict=True):
        labels = job.inputs["spec"]["template"]["metadata"]["labels"]
        ids = {c.id for c in plan.cases_of(labels["meshperf.io/workload"])} if "-client" in job.name else set()
        folder = tmp_path / viewer["pod"].removeprefix("log-viewer-") / viewer["logdir"].lstrip("/")
        folder.mkdir(parents=True)
        for name, content in logs.items():
            if name.rsplit(".", 1)[0] in ids:
                (folder / name).write_text(content)
        index = [line for line in logs["index.tsv"].splitlines() if line.split("\t")[0] in ids]
        (folder / "index.tsv").write_text("".join(f"{line}\n" for line in index))
        viewers.append({**viewer, "folder": str(folder)})
    outs = ResultsProvider().create({**props, "viewers": viewers}).outs
    fresh = parse_output(logs["p1-iperf3-tcp-mss96.txt"]).throughput_mbps
    assert fresh is not None and fresh > 10
    assert outs["throughput_by_mss"]["1 iperf TCP. Same VM using Pod IP"]["96"] == pytest.approx(fresh)
    assert outs["failures"] == {} and outs["read_errors"] == []
