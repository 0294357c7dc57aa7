"""The Results resource: after the Jobs, read the raw logs from the viewers and export the figures.

Its provider reads every viewer's log folder (by exec, `components.logs`), merges them (the
index files are concatenated), and hands them to `results.collect` with the plan: the very
code the lab uses. A case that failed, or whose log is missing, comes back in `failures`,
and a viewer that could not be read in `read_errors`; a stack none of whose viewers could be
read, or whose viewers hold no log at all, is an error, never a run whose every case failed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider

from components.hostrun import progress
from components.logs import ExecLogReader, FolderLogReader, LogReadError, Viewer, kube_exec
from results import more_tools
from results.collect import collect
from results.context import RunContext, with_logged_facts
from results.report_seed_csv import seed_csv
from spec.plan import Plan
from spec.runner import INDEX_NAME

FIGURES = (
    "throughput",
    "throughput_by_mss",
    "latency",
    "tcp_crr",
    "udp_rr",
    "udp_stream",
    "udp_by_length",
    "streams",
    "csv",
    "failures",
    "points",
    "e2sar",
    "run",
    "overhead",
)


def figures(plan: Plan, files: Mapping[str, str], context: RunContext | None = None) -> dict[str, Any]:
    """The stack outputs computed from raw logs by `results/`; `run` is `context` completed from
    the logs (`results.context.with_logged_facts`), None without one."""
    res = collect(plan, files)
    run = (
        with_logged_facts(
            context,
            files,
            (c.start for c in res.cases if c.start is not None),
            (c.end for c in res.cases if c.end is not None),
        )
        if context is not None
        else None
    )
    return {
        "throughput": _plain(res.throughput()),
        "throughput_by_mss": _plain(res.throughput_by_mss()),
        "latency": _plain(res.latency()),
        # The tools beyond the seed's, named as netperf names its tests ({} when the plan has none).
        "tcp_crr": _plain(more_tools.request_response(res, "tcp_crr")),
        "udp_rr": _plain(more_tools.request_response(res, "udp_rr")),
        "udp_stream": _plain(more_tools.udp_stream(res)),
        "udp_by_length": _plain(more_tools.udp_by_length(res)),
        "streams": _plain(more_tools.parallel_streams(res)),
        "csv": seed_csv(res),
        "failures": _plain(res.failures()),
        # Per-point summaries (n, median, spread, CI): what a stack naming this one as its baseline reads.
        "points": [p.model_dump(mode="json") for p in res.points],
        # E2SAR figures per rate (loss counted from both sides); {} when the stack runs no E2SAR suite.
        "e2sar": _plain(res.e2sar()),
        # The run's context, as results.json's `run` block: what `results compare` checks two runs by.
        "run": run.model_dump(mode="json") if run is not None else None,
        # Per pod-path point: its host-network baseline and pod/host (the CNI's overhead); {} without one.
        "overhead": {o.point: _plain(o.model_dump(mode="json", exclude={"point"})) for o in res.overhead},
    }


def _plain(value: Any) -> Any:
    """Results' figures as JSON-like data (keys as strings) that Pulumi can keep in state."""
    if hasattr(value, "model_dump"):
        return _plain(value.model_dump(mode="json"))
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def merge_logs(folders: list[dict[str, str]]) -> dict[str, str]:
    """Several viewers' folders as one: index files concatenated, other names are unique per case."""
    merged: dict[str, str] = {}
    index = ""
    for files in folders:
        for name, text in files.items():
            if name == INDEX_NAME:
                index += text if text.endswith("\n") or not text else text + "\n"
            else:
                merged[name] = text
    if index:
        merged[INDEX_NAME] = index
    return merged


async def read_viewers(viewers: list[dict[str, Any]], timeout_s: float) -> tuple[list[dict[str, str]], list[str]]:
    """Every viewer's files, and one line for each viewer that could not be read."""
    folders: list[dict[str, str]] = []
    problems: list[str] = []
    for number, v in enumerate(viewers, 1):
        viewer = Viewer(v["namespace"], v["pod"], v.get("container", "viewer"), v["logdir"])
        reader: ExecLogReader | FolderLogReader
        if v.get("folder"):
            reader = FolderLogReader(v["folder"])
        else:
            reader = ExecLogReader(kube_exec(v["kubeconfig"], v.get("context")), viewer, timeout_s)
        progress(f"results: reading {viewer.logdir} from viewer {viewer.label} ({number}/{len(viewers)})")
        try:
            folders.append(await reader.read())
        except LogReadError as exc:
            problems.append(str(exc))
            progress(f"results: viewer {viewer.label} could not be read: {exc}")
        else:
            progress(f"results: {len(folders[-1])} files from viewer {viewer.label}")
    return folders, problems


class ResultsProvider(ResourceProvider):
    """Inputs: plan (Plan JSON), viewers, run_id, jobs, timeout_s, context (the run block as known when
    the program ran, `RunContext` JSON). Outputs add the figures, `run` and read_errors."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=f"results-{props.get('run_id', '1')}", outs=self.compute(props))

    def compute(self, props: dict[str, Any]) -> dict[str, Any]:
        plan = Plan.model_validate_json(props["plan"])
        folders, problems = asyncio.run(read_viewers(list(props["viewers"]), float(props.get("timeout_s", 120))))
        if problems and not folders:
            raise RuntimeError("no logs could be read: " + "; ".join(problems))
        if not any(folders):
            where = ", ".join(f"{v['namespace']}/{v['pod']}:{v['logdir']}" for v in props["viewers"])
            raise RuntimeError(f"no logs in any viewer ({where})")
        context = RunContext.model_validate_json(props["context"]) if props.get("context") else None
        out = figures(plan, merge_logs(folders), context)
        progress(f"results: figures of {len(plan.cases)} cases computed, {len(out.get('failures') or {})} failed")
        return {**props, **out, "read_errors": problems}

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # New jobs, plan or run id: new logs, so read them again.
        changed = [k for k in ("plan", "run_id", "jobs", "viewers") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=changed)


class ResultsResource(Resource, module="meshperf", name="Results"):
    """A run's figures as a Pulumi resource, type token `Results` (`results.model.Results` is the model)."""

    throughput: pulumi.Output[dict[str, Any]]
    throughput_by_mss: pulumi.Output[dict[str, Any]]
    latency: pulumi.Output[dict[str, Any]]
    tcp_crr: pulumi.Output[dict[str, Any]]
    udp_rr: pulumi.Output[dict[str, Any]]
    udp_stream: pulumi.Output[dict[str, Any]]
    udp_by_length: pulumi.Output[dict[str, Any]]
    streams: pulumi.Output[dict[str, Any]]
    csv: pulumi.Output[str]
    failures: pulumi.Output[dict[str, str]]
    points: pulumi.Output[list[dict[str, Any]]]
    e2sar: pulumi.Output[dict[str, Any]]
    run: pulumi.Output[dict[str, Any]]
    overhead: pulumi.Output[dict[str, Any]]
    read_errors: pulumi.Output[list[str]]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        outs = dict.fromkeys((*FIGURES, "read_errors"))
        super().__init__(ResultsProvider(), name, {**props, **outs}, opts)
