"""Helpers of the live tier: the real Pulumi CLI on a copy of the project, with local state, against
the local cluster (localcluster), each command bounded in time, printed as it runs and timed."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from localcluster import down
from localcluster.config import ClusterSpec, from_stack
from localcluster.up import up
from results.seed import EXTRA_ROWS, SEED_ROWS
from spec.load import load_stack
from spec.plan import Plan, build_plan

ROOT = Path(__file__).resolve().parents[2]
# The tools script, as localcluster.tools finds it (MESHPERF_LIVE_TOOLS names another).
SCRIPT = Path(os.environ.get("MESHPERF_LIVE_TOOLS", ROOT / "scripts" / "live-tools.sh"))
# What a copy of the project leaves out: git, caches, run folders (.venv is linked, not copied).
SKIP = shutil.ignore_patterns(".git", ".venv", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", "runs")
PASSPHRASE = "meshperf-live-tier"
PART_OF = "app.kubernetes.io/part-of=meshperf"


class ToolsNotBuiltError(RuntimeError):
    """scripts/live-tools.sh --check failed: str() is its one line."""


def tools_or_skip() -> dict[str, str]:
    """tools_env(), or the calling test module skipped in one line (not root, or the tools not built)."""
    if os.geteuid() != 0:
        pytest.skip("live tier skipped: the local cluster needs root", allow_module_level=True)
    try:
        return tools_env()
    except ToolsNotBuiltError as exc:
        pytest.skip(f"live tier skipped: {exc}", allow_module_level=True)


def tools_env() -> dict[str, str]:
    """`live-tools.sh --env` as variables (PATH, PULUMI_HOME, ...); ToolsNotBuiltError when not built."""
    proc = subprocess.run(["sh", str(SCRIPT), "--env"], capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        lines = (proc.stdout + proc.stderr).strip().splitlines() or ["no output"]
        raise ToolsNotBuiltError(lines[-1])
    env: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        m = re.match(r'^export (\w+)="(.*)"$', line.strip())
        if m:
            env[m[1]] = m[2].replace("$PATH", os.environ.get("PATH", ""))
    return env


def copy_project(dest: Path) -> Path:
    """The working tree copied to `dest` (so `pulumi config set` edits the copy's stacks/), .venv linked."""
    shutil.copytree(ROOT, dest, ignore=SKIP)
    (dest / ".venv").symlink_to((ROOT / ".venv").resolve())
    return dest


@dataclass
class Pulumi:
    """The real CLI in `project`, state in `state` (file://), its own PULUMI_HOME whose plugins are the cache's."""

    project: Path
    home: Path
    tools: dict[str, str]
    stack: str = "live"
    times: dict[str, float] = field(default_factory=dict)

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
        return {
            **base,
            **self.tools,
            "PULUMI_HOME": str(self.home),
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_CONFIRMATIONS": "true",
            **(extra or {}),
        }

    @staticmethod
    def private_home(home: Path, tools: dict[str, str]) -> Path:
        """A PULUMI_HOME of this run (its login is written there), whose plugins are the built ones."""
        home.mkdir(parents=True)
        (home / "plugins").symlink_to(Path(tools["PULUMI_HOME"]) / "plugins")
        return home

    def run(
        self,
        *args: str,
        timeout_s: float,
        check: bool = True,
        extra_env: dict[str, str] | None = None,
        label: str | None = None,
        stack: bool = True,
        show_stdout: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """One pulumi command; its output printed line by line as it comes (stdout kept apart), timed."""
        argv = ["pulumi", *args, "--non-interactive", *(["-s", self.stack] if stack else [])]
        what = label or " ".join(args[:2])
        print(f"live: $ {' '.join(argv)}", flush=True)
        started = time.monotonic()
        proc = subprocess.Popen(
            argv,
            cwd=self.project,
            env=self.env(extra_env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        timed_out = threading.Event()

        def expire() -> None:
            timed_out.set()
            _stop(proc)

        timer = threading.Timer(timeout_s, expire)
        timer.start()
        err_lines: list[str] = []

        def pump() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                err_lines.append(line)
                print(f"live:   [{time.monotonic() - started:5.0f} s] {line.rstrip()}", flush=True)

        reader = threading.Thread(target=pump)
        reader.start()
        try:
            assert proc.stdout is not None
            out_lines = []
            for line in proc.stdout:
                out_lines.append(line)
                if show_stdout:
                    print(f"live:   [{time.monotonic() - started:5.0f} s] {line.rstrip()}", flush=True)
            rc = proc.wait()
        finally:
            timer.cancel()
            _stop(proc)
            reader.join(timeout=10)
        took = time.monotonic() - started
        self.times[what] = self.times.get(what, 0.0) + took
        print(f"live: {what}: exit {rc} in {took:.0f} s", flush=True)
        if timed_out.is_set():
            raise AssertionError(f"pulumi {what}: still running after {timeout_s:.0f} s (stopped)")
        done = subprocess.CompletedProcess(argv, rc, "".join(out_lines), "".join(err_lines))
        if check and rc != 0:
            raise AssertionError(f"pulumi {what}: exit {rc}: {''.join(err_lines)[-2000:]}")
        return done

    def config_set(self, key: str, value: str, *, path: bool = True) -> None:
        self.run("config", "set", *(["--path"] if path else []), key, value, timeout_s=60, label="config set")

    def outputs(self) -> dict[str, Any]:
        out = self.run("stack", "output", "--json", timeout_s=60, label="stack output", show_stdout=False)
        return dict(json.loads(out.stdout))

    def output(self, name: str) -> Any:
        out = self.run("stack", "output", name, "--json", timeout_s=60, label="stack output", show_stdout=False)
        return json.loads(out.stdout)


def start_stack(tmp: Path, stack: str, tools: dict[str, str]) -> Pulumi:
    """The README's first steps on a copy of the project in `tmp`: local state (`pulumi login file://...`),
    a PULUMI_HOME of this run, `pulumi stack init <stack>`."""
    project = copy_project(tmp / "project")
    pulumi = Pulumi(project, Pulumi.private_home(tmp / "pulumi-home", tools), tools, stack=stack)
    (tmp / "state").mkdir()
    pulumi.run("login", f"file://{tmp / 'state'}", timeout_s=60, stack=False)
    pulumi.run("stack", "init", stack, timeout_s=60, stack=False)
    return pulumi


def point_at(pulumi: Pulumi, index: int, cluster: str, spec: ClusterSpec) -> None:
    """The stack's `index`-th cluster (named `cluster` in it) pointed at a local cluster: its context and kubeconfig."""
    pulumi.config_set(f"meshperf:clusters[{index}].kubeconfig_context", spec.context)
    pulumi.config_set(f"meshperf:kubernetes.clusters.{cluster}.kubeconfig", str(spec.kubeconfig))


def seed_rows() -> dict[str, tuple[str, int]]:
    """The `throughput` output's rows (the seed's and meshperf's own): label -> (tool, path)."""
    return {r.label: (r.tool, r.path) for r in (*SEED_ROWS, *EXTRA_ROWS)}


def planned_rows(plan: Plan) -> set[str]:
    """The rows a plan fills: those whose tool runs on their path."""
    planned = {(c.tool, c.path) for c in plan.cases}
    return {label for label, key in seed_rows().items() if key in planned}


def _stop(proc: subprocess.Popen[str]) -> None:
    """The command's own process group (it was started in a session of its own): TERM, then KILL."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


@dataclass(frozen=True)
class Kubectl:
    bin_dir: Path
    kubeconfig: Path
    context: str

    def __call__(self, *args: str, timeout_s: float = 60) -> str:
        argv = [str(self.bin_dir / "kubectl"), "--kubeconfig", str(self.kubeconfig), "--context", self.context, *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=True).stdout

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "-o", "json"))

    def job_uids(self) -> dict[str, str]:
        """Every Job the stack made, by name: its uid."""
        items = self.json("get", "jobs", "-A", "-l", PART_OF)["items"]
        return {f"{j['metadata']['namespace']}/{j['metadata']['name']}": j["metadata"]["uid"] for j in items}

    def left(self) -> list[str]:
        """What the stack made and is still in the cluster (its label), namespaces included."""
        names = self(
            "get", "all,pvc,netpol,cm,secret,endpointslices,ns", "-A", "-l", PART_OF, "-o", "name", timeout_s=90
        )
        return [n for n in names.split() if n]


@dataclass
class Flow:
    """One live stack on its started cluster: the CLI, kubectl, the cluster and when it all began."""

    pulumi: Pulumi
    kubectl: Kubectl
    spec: ClusterSpec
    started: float

    @property
    def stack_file(self) -> Path:
        return self.pulumi.project / "stacks" / f"Pulumi.{self.pulumi.stack}.yaml"

    def plan(self) -> Plan:
        return build_plan(load_stack(str(self.stack_file)))

    def python(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.pulumi.project / ".venv" / "bin" / "python"), *args],
            cwd=self.pulumi.project,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def bin_dir(tools: dict[str, str]) -> Path:
    """The built tools' folder (kubectl, the cluster's daemons): the first entry of their PATH."""
    return Path(tools["PATH"].split(":")[0])


def say(line: str) -> None:
    print(f"live: {line}", flush=True)


@contextmanager
def flow_on(stack: str, name: str, tmp: Path, tools: dict[str, str], short: list[tuple[str, str]]) -> Iterator[Flow]:
    """The stack's cluster started under its own `name` (run folder, namespaces, kubeconfig context), a copy
    of the project logged in to local state, the stack made with the README's `pulumi config set` lines
    (this cluster's context and kubeconfig) and `short`'s (key, value) lines (`--path`) after them, steady
    state removed; the cluster stopped whatever happened, the times printed."""
    started = time.monotonic()
    cluster = from_stack(stack)  # the stack's cluster that names a kubeconfig context
    spec = cluster.renamed({cluster.name: name})
    pulumi: Pulumi | None = None
    try:
        took = up(spec, bin_dir=bin_dir(tools), say=say)
        pulumi = start_stack(tmp, stack, tools)
        pulumi.times["cluster start"] = took
        point_at(pulumi, 0, cluster.name, spec)
        for key, value in short:
            pulumi.config_set(key, value)
        pulumi.run("config", "rm", "--path", "meshperf:suites.netperf.steady_state", timeout_s=60, label="config rm")
        yield Flow(pulumi, Kubectl(bin_dir(tools), spec.kubeconfig, spec.context), spec, started)
    finally:
        t0 = time.monotonic()
        down.teardown(spec.run_dir, spec.name, say=say)
        times = pulumi.times if pulumi else {}
        times["cluster down"] = time.monotonic() - t0
        times["live tier total"] = time.monotonic() - started
        say("times: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()))
