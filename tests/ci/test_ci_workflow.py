"""The kind workflow, checked offline: GitHub's workflow schema, the shell of every step, the
pulumi commands of docs/kubernetes.md's "Run on kind", and the config its commands make.

The workflow itself only runs on GitHub's runners (Docker, kind, the Pulumi CLI); nothing here
runs it. `apply_config_set` below is a stand-in for `pulumi config set [--path]`, following the
rules of Pulumi's documentation: with --path, integers become numbers and true/false booleans,
everything else stays text; a top-level value is always text.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_cli import PulumiCli

from components.stackconfig import SCALAR_KEYS
from spec.load import StackError, stack_from_config
from spec.model import Stack
from spec.plan import build_plan

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "kind.yml"
KUBERNETES_DOC = ROOT / "docs" / "kubernetes.md"
STACKS = ("kind-local", "kind-mesh")
CHECK_JSONSCHEMA = Path(shutil.which("check-jsonschema") or ROOT / ".venv" / "bin" / "check-jsonschema")


def workflow() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text())


def run_steps(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(job, shell, script) of every `run:` step, the shell as GitHub resolves it (step, job, workflow)."""
    default = doc.get("defaults", {}).get("run", {}).get("shell", "bash")
    steps = []
    for name, job in doc["jobs"].items():
        job_shell = job.get("defaults", {}).get("run", {}).get("shell", default)
        steps += [(name, s.get("shell", job_shell), s["run"]) for s in job["steps"] if "run" in s]
    return steps


def schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_workflow_follows_githubs_schema(tmp_path: Path) -> None:
    done = schema_check(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = copy.deepcopy(workflow())
    del broken["jobs"]["kind-local"]["runs-on"]  # the check can fail: a job without a runner
    (tmp_path / "broken.yml").write_text(yaml.safe_dump(broken))
    assert schema_check(tmp_path / "broken.yml").returncode != 0


def shell_syntax(shell: str, script: str) -> subprocess.CompletedProcess[str]:
    """`sh -n` or `bash -n` of a step, its `${{ ... }}` expressions replaced by a plain word first."""
    plain = re.sub(r"\$\{\{.*?\}\}", "EXPRESSION", script)
    return subprocess.run([shell, "-n"], input=plain, capture_output=True, text=True, timeout=30)


def test_every_run_step_is_valid_shell() -> None:
    steps = run_steps(workflow())
    assert len(steps) >= 2 * 6 and {shell for _, shell, _ in steps} <= {"bash", "sh"}
    for job, shell, script in steps:
        done = shell_syntax(shell, script)
        assert done.returncode == 0, f"{job}: {done.stderr}"
    assert shell_syntax("bash", "if true; then echo x\n").returncode != 0  # the check can fail


def commands(script: str) -> list[str]:
    """The simple commands of a shell text (split at `&&`, `||`, `|`, `;`), comments and redirections off."""
    found: list[str] = []
    for line in script.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words: list[str] = []
        redirect = False
        for token in lexer:
            if token in ("&&", "||", "|", ";", "&"):
                found.append(shlex.join(words))
                words = []
            elif token in (">", ">>", "<"):
                redirect = True
            elif redirect:
                redirect = False
            else:
                words.append(token)
        found.append(shlex.join(words))
    return [c for c in found if c]


def pulumi_form(command: str) -> str | None:
    """A pulumi command with its stack named STACK and CI's `--yes` off; None for other commands."""
    words = shlex.split(command)
    if not words or words[0] != "pulumi":
        return None
    return shlex.join("STACK" if w in STACKS else w for w in words if w != "--yes")


def docs_run_on_kind() -> str:
    text = KUBERNETES_DOC.read_text()
    section = text.split("\n## Run on kind\n", 1)[1].split("\n## ", 1)[0]
    return "\n".join(re.findall(r"```sh\n(.*?)```", section, re.DOTALL))


def test_the_workflow_runs_the_docs_pulumi_commands() -> None:
    shown = {f for c in commands(docs_run_on_kind()) if (f := pulumi_form(c))}
    ran = {f for *_, script in run_steps(workflow()) for c in commands(script) if (f := pulumi_form(c))}
    assert {"pulumi login --local", "pulumi up -s STACK", "pulumi destroy -s STACK"} <= ran
    assert ran - shown == set(), "pulumi commands docs/kubernetes.md's 'Run on kind' does not show"
    # Both kind jobs run the same commands, stack name aside (the tools' job runs none).
    per_job: dict[str, set[str]] = {}
    for job, _, script in run_steps(workflow()):
        if ran_here := {f for c in commands(script) if (f := pulumi_form(c))}:
            per_job.setdefault(job, set()).update(ran_here)
    assert set(per_job) == set(STACKS) and per_job["kind-local"] == per_job["kind-mesh"]
    lines = {line.strip() for line in WORKFLOW.read_text().splitlines()}
    assert {"pulumi up -s kind-mesh --yes", "pulumi destroy -s kind-mesh --yes || status=$?"} <= lines


def config_commands(job: str) -> list[str]:
    scripts = [script for j, _, script in run_steps(workflow()) if j == job]
    return [c for script in scripts for c in commands(script) if c.startswith("pulumi config set")]


def stack_of(cli: PulumiCli) -> Stack:
    """The Stack the program reads from what the CLI hands over (text for scalars, JSON for the rest)."""
    config = cli.program_config()
    values = {
        key.removeprefix("meshperf:"): value if key.removeprefix("meshperf:") in SCALAR_KEYS else json.loads(value)
        for key, value in config.items()
        if key.startswith("meshperf:")
    }
    return stack_from_config(values, cli.stack)


@pytest.mark.parametrize("stack", STACKS)
def test_the_workflows_config_commands_make_a_short_valid_stack(stack: str) -> None:
    found = config_commands(stack)
    assert len(found) >= 5
    lines = {line.strip() for line in WORKFLOW.read_text().splitlines()}
    for command in found:  # one command per line, literal values: what a config harness can read
        assert "$" not in command and "`" not in command and command in lines, command
    cli = PulumiCli.from_files(ROOT, stack)
    before = build_plan(stack_of(cli))
    up_config = [c for c in found if "run_id" not in c and "labels" not in c]
    for command in up_config:
        cli.run(command)
    short = build_plan(stack_of(cli))
    assert {c.mss for c in short.cases if c.mss} == {1312, 1376}
    assert {c.duration_s for c in short.cases} == {2}
    assert len(short.cases) <= len(before.cases) / 4
    assert {(c.path, c.tool) for c in short.cases} == {(c.path, c.tool) for c in before.cases}  # every path still
    for command in found:
        cli.run(command)
    after = stack_of(cli)
    assert after.run_id == "2"
    assert after.clusters[0].nodes[2].labels["ci"] == "changed"


def test_a_config_command_of_the_wrong_type_is_refused_by_the_stack_check() -> None:
    cli = PulumiCli.from_files(ROOT, "kind-local")
    cli.run("pulumi config set --path meshperf:suites.netperf.duration_s fast -s kind-local")
    with pytest.raises(StackError, match=r"meshperf:suites.netperf.duration_s: expects an integer, not \"fast\""):
        stack_of(cli)


@pytest.mark.parametrize("stack", STACKS)
def test_the_label_change_is_applied_not_only_previewed(stack: str) -> None:
    """Re-creating a cluster is what a preview cannot show going wrong: the step runs `up` after it,
    then checks the figures and the new label on a node of the new cluster."""
    steps = [script for job, _, script in run_steps(workflow()) if job == stack]
    step = next(s for s in steps if any("labels.ci" in c for c in commands(s)))
    found = commands(step)
    changed = next(i for i, c in enumerate(found) if "labels.ci" in c)
    after = found[changed + 1 :]
    assert f"pulumi preview --diff -s {stack}" in after
    up = after.index(f"pulumi up -s {stack} --yes")
    assert up > after.index(f"pulumi preview --diff -s {stack}")
    assert any(c.startswith("kubectl") and "ci=changed" in c for c in after[up:])
    assert any("check-outputs" in c for c in after[up:])


LIVE_TOOLS = ROOT / "scripts" / "live-tools.sh"
PIPE_TO_SHELL = re.compile(r"\|\s*(sudo\s+(-\S+\s+)*)?(env\s+)?(ba|da|z|k)?sh\b")
PINNED_ACTION = re.compile(r"^[\w.-]+/[\w./-]+@v\d+(\.\d+){0,2}$")  # a release tag, not a branch
PINNED_GO_INSTALL = re.compile(r"^go install [\w./-]+@v\d+\.\d+\.\d+$")


def unverified_fetches(doc: dict[str, Any]) -> list[str]:
    """What in a workflow fetches code unverified, one line each: a download piped into a shell, curl
    or wget at all (no step needs one: tools come from Go modules, the virtualenv from the hashed lock,
    kubectl and jq from the runner image), a URL in a script, pip without --require-hashes, a `go install`
    of no exact version, an action on a branch, a Pulumi CLI not from live-tools.sh --pulumi-only."""
    found: list[str] = []
    for name, job in doc["jobs"].items():
        pulumi_from_tools = False
        for i, step in enumerate(job["steps"]):
            where = f"{name}, step {i + 1} ({step.get('name') or step.get('uses')})"
            if "uses" in step and not PINNED_ACTION.match(step["uses"]):
                found.append(f"{where}: action not pinned to a release tag: {step['uses']}")
            script = step.get("run", "")
            if PIPE_TO_SHELL.search(script):
                found.append(f"{where}: a download piped into a shell")
            for word in ("get.pulumi.com", "releases/download", "http://", "https://"):
                if word in script:
                    found.append(f"{where}: fetches from a URL ({word})")
            for command in commands(script):
                words = shlex.split(command)
                program = words[1] if words[:1] == ["sudo"] and len(words) > 1 else (words or [""])[0]
                if program in ("curl", "wget"):
                    found.append(f"{where}: {program} fetches a file no checksum verifies: {command}")
                if "pip" in program and "install" in words and "--require-hashes" not in words:
                    found.append(f"{where}: pip install without --require-hashes: {command}")
                if words[:2] == ["go", "install"] and not PINNED_GO_INSTALL.match(command):
                    found.append(f"{where}: go install of no exact version: {command}")
                if command == "sh scripts/live-tools.sh --pulumi-only":
                    pulumi_from_tools = True
                if program == "pulumi" and not pulumi_from_tools:
                    found.append(f"{where}: pulumi runs before scripts/live-tools.sh --pulumi-only built it")
                    pulumi_from_tools = True  # said once per job
    return found


def test_no_step_fetches_anything_unverified() -> None:
    assert unverified_fetches(workflow()) == []
    # The check can fail: the old install line of the Pulumi CLI, planted back into one step.
    planted = copy.deepcopy(workflow())
    step = next(s for s in planted["jobs"]["kind-mesh"]["steps"] if "kind version" in s.get("run", ""))
    step["run"] += "curl -fsSL https://get.pulumi.com | sh -s -- --version 3.274.0\n"
    problems = unverified_fetches(planted)
    assert any("piped into a shell" in p for p in problems), problems
    assert any("get.pulumi.com" in p for p in problems), problems
    assert any("curl fetches a file" in p for p in problems), problems
    for line, why in [
        ("wget -q -O /usr/local/bin/kubectl https://dl.k8s.io/v1.34.4/bin/linux/amd64/kubectl", "wget fetches"),
        ("sudo curl -Lo /usr/local/bin/kind https://kind.sigs.k8s.io/dl/v0.24.0/kind-linux-amd64", "curl fetches"),
        ("go install sigs.k8s.io/kind@latest", "go install of no exact version"),
        ("pip install pulumi", "without --require-hashes"),
    ]:
        planted = copy.deepcopy(workflow())
        planted["jobs"]["kind-local"]["steps"][-1]["run"] += line + "\n"
        assert any(why in p for p in unverified_fetches(planted)), line
    planted = copy.deepcopy(workflow())
    planted["jobs"]["kind-local"]["steps"][0]["uses"] = "actions/checkout@main"
    assert any("not pinned" in p for p in unverified_fetches(planted))
    planted = copy.deepcopy(workflow())  # the CLI from somewhere else: the tools step taken out
    planted["jobs"]["kind-local"]["steps"] = [
        s for s in planted["jobs"]["kind-local"]["steps"] if "live-tools" not in s.get("run", "")
    ]
    assert [p for p in unverified_fetches(planted) if "pulumi runs before" in p] == [
        "kind-local, step 6 (Stack with local state and a short profile): pulumi runs before scripts/live-tools.sh"
        " --pulumi-only built it"
    ]


@pytest.mark.parametrize("job", ["pulumi-tools", *STACKS])
def test_the_pulumi_cli_comes_built_and_cached_from_live_tools(job: str) -> None:
    """Every job builds (or restores) the tools with the script, under a cache key of the script's pins;
    the kind jobs hand the built CLI and the no-download flag to every later step."""
    doc = workflow()
    steps = doc["jobs"][job]["steps"]
    cache = next(s for s in steps if s.get("uses", "").startswith("actions/cache"))
    build = next(s for s in steps if "run" in s and "sh scripts/live-tools.sh --pulumi-only" in commands(s["run"]))
    assert steps.index(cache) < steps.index(build)
    assert "hashFiles('scripts/live-tools.sh')" in cache["with"]["key"]
    assert "steps.go.outputs.go-version" in cache["with"]["key"]  # the script's cache key holds Go's version too
    assert cache["with"]["path"] == build["env"]["MESHPERF_CACHE"] + "/live-tools"
    if job == "pulumi-tools":
        assert cache["uses"].startswith("actions/cache@")  # restores and saves
        return
    assert doc["jobs"][job]["needs"] == "pulumi-tools"
    script = build["run"]
    assert 'eval "$(sh scripts/live-tools.sh --pulumi-only --env)"' in script
    assert 'sh scripts/live-tools.sh --pulumi-only --check >> "$GITHUB_PATH"' in script
    assert '>> "$GITHUB_ENV"' in script and "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION" in script
    first_pulumi = next(
        i for i, s in enumerate(steps) if any(c.startswith("pulumi ") for c in commands(s.get("run", "")))
    )
    assert steps.index(build) <= first_pulumi
    venv = next(i for i, s in enumerate(steps) if "pip install" in s.get("run", ""))
    assert venv < steps.index(build)  # --env names the virtualenv's python and checks its provider pin


def go_directives() -> list[tuple[int, ...]]:
    """The `go 1.x[.y]` lines of the go.mod files live-tools.sh writes: the least Go it builds with."""
    return [
        tuple(int(n) for n in v.split("."))
        for v in re.findall(r"^go (\d+\.\d+(?:\.\d+)?)$", LIVE_TOOLS.read_text(), re.M)
    ]


def test_setup_go_is_a_pinned_go_that_builds_the_tools() -> None:
    """The script builds with GOTOOLCHAIN=local: the workflow's Go must be at least every go.mod's."""
    needed = max(go_directives())
    assert needed >= (1, 26, 6), needed
    for name, job in workflow()["jobs"].items():
        setup = [s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-go@")]
        assert len(setup) == 1, name
        version = str(setup[0]["with"]["go-version"])
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name}: go-version {version} is not an exact version"
        assert tuple(int(n) for n in version.split(".")) >= needed, f"{name}: go {version} < {needed}"
        assert setup[0]["with"].get("cache") is False, name  # no go.sum here; the script has its own caches
