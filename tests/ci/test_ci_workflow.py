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
    # Both jobs run the same commands, stack name aside.
    per_job: dict[str, set[str]] = {}
    for job, _, script in run_steps(workflow()):
        per_job.setdefault(job, set()).update(f for c in commands(script) if (f := pulumi_form(c)))
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
