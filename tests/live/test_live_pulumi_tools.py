"""`scripts/live-tools.sh --pulumi-only`, for real against the built tools (issue 23, item 7): the Pulumi
CLI the kind workflow uses is the one built from Go modules, at the pinned version, with the
kubernetes plugin installed, and the workflow's hand-over step gives later steps exactly that.

Skips in one line when the tools are not built (`sh scripts/live-tools.sh --pulumi-only`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "live-tools.sh"
WORKFLOW = ROOT / ".github" / "workflows" / "kind.yml"


def _pin(name: str) -> str:
    """A pinned version as the script sets it (`PULUMI_VERSION=v3.274.0`)."""
    found = re.search(rf"^{name}=(\S+)$", SCRIPT.read_text(), re.MULTILINE)
    assert found, name
    return found.group(1)


def _tools(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(SCRIPT), "--pulumi-only", *args], capture_output=True, text=True, timeout=120)


CHECK = _tools("--check")
if CHECK.returncode != 0:
    why = (CHECK.stdout + CHECK.stderr).strip().splitlines() or ["no output"]
    pytest.skip(f"live tier skipped: {why[-1].removeprefix('live-tools: ')}", allow_module_level=True)


def _env_lines() -> dict[str, str]:
    """`--pulumi-only --env` as name -> value, `$PATH` left as written."""
    done = _tools("--env")
    assert done.returncode == 0, done
    found = {}
    for line in done.stdout.splitlines():
        m = re.fullmatch(r'export (\w+)="?(.*?)"?', line.strip())
        assert m, line
        found[m[1]] = m[2]
    return found


def _environ(values: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **values, "PATH": values["PATH"].replace("$PATH", os.environ["PATH"])}


def test_the_env_puts_the_pinned_pulumi_first_on_path() -> None:
    values = _env_lines()
    bindir = CHECK.stdout.strip()
    assert values["PATH"] == f"{bindir}:$PATH"  # the Pulumi side only: no CNI folder
    assert values["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] == "true"
    env = _environ(values)
    pulumi = shutil.which("pulumi", path=env["PATH"])
    assert pulumi == f"{bindir}/pulumi"
    done = subprocess.run([pulumi, "version"], env=env, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, _pin("PULUMI_VERSION")), done
    for name in ("pulumi-language-python", "pulumi-language-python-exec", "pulumi-resource-pulumi-python"):
        assert shutil.which(name, path=env["PATH"]) == f"{bindir}/{name}"


def test_the_plugin_folder_holds_the_kubernetes_plugin() -> None:
    values = _env_lines()
    version = _pin("PROVIDER_VERSION")
    plugin = Path(values["PULUMI_HOME"]) / "plugins" / f"resource-kubernetes-v{version}" / "pulumi-resource-kubernetes"
    assert plugin.is_file() and os.access(plugin, os.X_OK), plugin
    env = _environ(values)
    done = subprocess.run(["pulumi", "plugin", "ls", "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done
    plugins = {(p["kind"], p["name"], p["version"]) for p in json.loads(done.stdout)}
    assert ("resource", "kubernetes", version) in plugins, plugins


def _handover_step() -> dict[str, Any]:
    doc = yaml.safe_load(WORKFLOW.read_text())
    steps = doc["jobs"]["kind-local"]["steps"]
    return next(s for s in steps if 'eval "$(sh scripts/live-tools.sh --pulumi-only --env)"' in s.get("run", ""))


def test_the_workflows_handover_step_gives_later_steps_the_built_tools(tmp_path: Path) -> None:
    """The kind jobs' step, run here as GitHub runs it (bash -e, its files for later steps), the cache
    the default one: $GITHUB_PATH gets the bin folder, $GITHUB_ENV every other variable of --env."""
    step = _handover_step()
    github_env, github_path = tmp_path / "github_env", tmp_path / "github_path"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    env.update(GITHUB_ENV=str(github_env), GITHUB_PATH=str(github_path))
    done = subprocess.run(
        ["bash", "-e", "-c", step["run"]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert _pin("PULUMI_VERSION") in done.stdout.splitlines()  # the step's `pulumi version`
    assert github_path.read_text() == CHECK.stdout
    exported = dict(line.split("=", 1) for line in github_env.read_text().splitlines())
    wanted = {name: value for name, value in _env_lines().items() if name != "PATH"}
    assert exported == wanted
    assert exported["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] == "true"
