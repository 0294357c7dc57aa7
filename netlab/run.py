"""One lab run: plan, rendered objects, lab, results, reports, in a run folder.

The run folder keeps everything a user needs to trust or redo the figures:
`objects.json` (every Kubernetes object rendered for the run), `scripts/` (the ConfigMaps'
scripts as run), `logs/` (the log claims: each Job's raw tool output and index.tsv in its
own subfolder), `lab/` (topology, each container's output in `lab/pods/`, the nodes' iptables
as written and their counters after each client), and the reports. results.json records the
userland the containers ran in.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from manifests import Obj, of_kind
from manifests.base import ROLE, WORKLOAD
from netlab import probe
from netlab.e2sar import mark_skipped, run_e2sar
from netlab.lab import Lab
from netlab.netpol import Flow, Isolation, PolicyDrop
from netlab.rootfs import image_userland
from results.collect import case_result, collect
from results.context import run_context, with_logged_facts
from results.index import parse_index
from results.logs import case_logs, read_log_folder
from results.model import Results, Userland
from results.reports import case_summary, write_reports
from results.version import meshperf_version
from spec.model import Stack
from spec.plan import Case, Plan, build_plan

LINE_RE = re.compile(r"^\[meshperf\] (?P<client>\S+) (?P<n>\d+)/(?P<total>\d+) (?P<id>\S+) start$")
END_RE = re.compile(r"^\[meshperf\] (?P<id>\S+) exit=(?P<rc>-?\d+)$")


@dataclass
class RunOutcome:
    folder: Path
    results: Results
    interrupted: bool
    warnings: list[str]


def clock(seconds: float) -> str:
    """0:42, 12:05, 1:02:03."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Live lines: one per case as it ends, with its figure or its failure, the time since the
    first case began and an estimate of the time left (the mean case so far, times the cases left),
    and for a failed case the NetworkPolicy drops of its own flows (`denied`, case id -> what dropped).

    `drops` reads what the policies denied since its last call; `flows_of(case)` tells a case's flows.
    A case's first packets can be counted in the reading taken as the case before it ended: a failed
    case is named by its flows' drops in that reading and its own, and a reading's drops of other
    flows are not the case's."""

    def __init__(
        self,
        plan: Plan,
        logdir: Path,
        say: Callable[[str], None],
        drops: Callable[[], list[PolicyDrop]] | None = None,
        flows_of: Callable[[Case], Callable[[Flow], bool]] | None = None,
        advance: Callable[[int, int], None] | None = None,
    ) -> None:
        self.plan = plan
        self.logdir = logdir  # the log claims' folder: each Job's logs are in a subfolder
        self.say = say
        self.drops = drops
        self.flows_of = flows_of
        self.advance = advance  # (cases done, cases planned): a progress bar's, on a terminal
        self.by_id = {c.id: c for c in plan.cases}
        self.done = 0
        self.started: dict[str, float] = {}
        self.began: float | None = None
        self.denied: dict[str, list[str]] = {}
        self.last_reading: tuple[str, list[PolicyDrop]] | None = None  # (the client, its drops)

    def __call__(self, line: str) -> None:
        if m := LINE_RE.match(line):
            self.started[m["id"]] = time.monotonic()
            if self.began is None:
                self.began = self.started[m["id"]]
        elif (m := END_RE.match(line)) and m["id"] in self.by_id:
            self.done += 1
            case = self.by_id[m["id"]]
            took = time.monotonic() - self.started.get(case.id, time.monotonic())
            width = len(str(len(self.plan.cases)))
            files = case_logs(self.logdir, case.id)
            index = parse_index(f"{case.id}\t\t\t{m['rc']}").get(case.id)
            result = case_result(case, index, files)
            elapsed = time.monotonic() - (self.began or time.monotonic())
            left = elapsed / self.done * (len(self.plan.cases) - self.done)
            self.say(
                f"[{self.done:>{width}}/{len(self.plan.cases)}] {case.id:<28} {case_summary(result)} ({took:.1f} s)"
                f"  elapsed {clock(elapsed)}, about {clock(left)} left"
            )
            denied = [str(d) for d in self._own_drops(case)]
            if denied and not result.ok:
                self.denied[case.id] = denied
                for line in denied:
                    self.say(f"      {line}")
            if self.advance is not None:
                self.advance(self.done, len(self.plan.cases))

    def _own_drops(self, case: Case) -> list[PolicyDrop]:
        """Read at every case's end: the drops of `case`'s flows in this reading and, when the case
        before it was of the same client (its reading may hold this case's first packets), in that one."""
        if self.drops is None:
            return []
        reading = self.drops()
        earlier = self.last_reading[1] if self.last_reading and self.last_reading[0] == case.client else []
        self.last_reading = (case.client, reading)
        if self.flows_of is None:
            return reading
        keep = self.flows_of(case)
        return merged(d for drop in (*earlier, *reading) if (d := drop.only(keep)) is not None)


def merged(drops: Iterable[PolicyDrop]) -> list[PolicyDrop]:
    """One drop per isolation, its flows' packets summed over the readings."""
    isolations: dict[tuple[str, str], Isolation] = {}
    flows: dict[tuple[str, str], dict[Flow, int]] = {}
    for drop in drops:
        key = (drop.isolation.direction, str(drop.isolation.endpoint.ip))
        isolations[key] = drop.isolation
        into = flows.setdefault(key, {})
        for flow, n in drop.flows:
            into[flow] = into.get(flow, 0) + n
    return [PolicyDrop(isolations[key], tuple(sorted(f.items()))) for key, f in flows.items()]


def with_policy_reasons(results: Results, denied: dict[str, list[str]]) -> Results:
    """Failed cases with the NetworkPolicy drops counted while they ran, added to their error."""
    cases = tuple(
        c.model_copy(update={"error": "; ".join([*([c.error] if c.error else []), *denied[c.case_id]])})
        if not c.ok and c.case_id in denied
        else c
        for c in results.cases
    )
    return results.model_copy(update={"cases": cases})


def _silent(line: str) -> None:
    """Drops a line (`-q`)."""


def run_folder(runs_dir: Path, stack_name: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = runs_dir / f"{stack_name}-{stamp}"
    n = 1
    while folder.exists():
        n += 1
        folder = runs_dir / f"{stack_name}-{stamp}-{n}"
    return folder


def write_objects(objects: list[Obj], folder: Path) -> None:
    """The rendered objects, and the ConfigMaps' scripts as files (`scripts/<ConfigMap>/<key>`)."""
    (folder / "objects.json").write_text(json.dumps(objects, indent=1) + "\n")
    for cm in of_kind(objects, "ConfigMap"):
        where = folder / "scripts" / cm["metadata"]["name"]
        where.mkdir(parents=True, exist_ok=True)
        for key, text in cm.get("data", {}).items():
            (where / key).write_text(text)


def client_jobs(objects: list[Obj]) -> list[Obj]:
    """The netperf suite's client Jobs, in the order they run."""
    return [j for j in of_kind(objects, "Job") if j["spec"]["template"]["metadata"]["labels"].get(ROLE) == "client"]


async def run_lab(
    stack: Stack,
    stack_name: str,
    runs_dir: Path,
    say: Callable[[str], None] = print,
    profile: str = "default",
    advance: Callable[[int, int], None] | None = None,
    case_lines: bool = True,
) -> RunOutcome:
    """Build the lab, run every client Job in turn, and always write what was measured.

    `profile` names how `stack` was derived from the stack file ("default": as written;
    "quick"), for the run block; the run folder's name is the run's label. `case_lines` off
    (`-q`) keeps the line per case from `say`.
    """
    started = datetime.now(UTC)
    plan = build_plan(stack)
    folder = run_folder(runs_dir, stack_name)
    logs = folder / "logs"
    logs.mkdir(parents=True)
    userland = await asyncio.to_thread(image_userland, say=say)
    steady = any(c.steady is not None for c in plan.cases)
    bound = f"at most {clock(plan.total_seconds())} of tests" + (" (steady-state cases stop earlier)" if steady else "")
    say(f"[lab] {len(plan.cases)} cases from {len(plan.clients())} clients, {bound}")
    interrupted = False
    skipped: str | None = None
    warnings: list[str] = []
    lab = Lab(stack, plan, folder, say, userland)
    write_objects(lab.objects, folder)
    progress = Progress(plan, logs, say if case_lines else _silent, lab.new_policy_drops, lab.flows_of, advance)
    try:
        async with lab:
            for job in client_jobs(lab.objects):
                await lab.run_job(job, on_line=progress)
                lab.snapshot_rules(job["spec"]["template"]["metadata"]["labels"][WORKLOAD])
            skipped = await run_e2sar(lab, plan, say)
    except (asyncio.CancelledError, KeyboardInterrupt):
        interrupted = True
        say("[lab] interrupted: the lab is removed, what was measured is kept")
    finally:
        warnings = lab.warnings
    files = read_log_folder(logs)
    collected = collect(
        plan,
        files,
        stack=stack_name,
        run_id=stack.run_id,
        e2sar_network_policies=stack.suites.e2sar.network_policies,
    )
    context = run_context(
        stack,
        stack_name=stack_name,
        label=folder.name,
        profile=profile,
        tool_versions=probe.tool_versions(),
        kernel=probe.kernel(),
        cpus=probe.cpus(),
        meshperf_version=meshperf_version(),
        started=started,
        ended=datetime.now(UTC),
    )
    # The tools that ran are the image userland's, as its Jobs logged them; the host's where none did.
    context = with_logged_facts(context, files, (), ())
    results = with_policy_reasons(collected, progress.denied).model_copy(update={"run": context})
    if skipped:
        results = mark_skipped(results, skipped)
    record = Userland(kind=userland.kind, hash=userland.hash, reason=userland.reason)
    results = results.model_copy(update={"userland": record})
    write_reports(results, folder)
    return RunOutcome(folder, results, interrupted, warnings)
