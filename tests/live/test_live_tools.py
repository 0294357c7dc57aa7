"""scripts/live-tools.sh --check/--env: the interface the live tier and the local cluster use to find
the tools (issue 20, item 1), and its --pulumi-only form the kind workflow uses (issue 23, item 7), run
for real against a temporary cache folder.

The complete case lays files where a build leaves them (every binary, the plugin under PULUMI_HOME,
the stamp); the layout is read from the script's own "missing" line, not repeated here.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "live-tools.sh"
PULUMI_BINARIES = [
    "pulumi",
    "pulumi-language-python",
    "pulumi-language-python-exec",
    "pulumi-resource-pulumi-python",
]
BINARIES = [
    *PULUMI_BINARIES,
    "etcd",
    "kube-router",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "kubectl",
]
APT_PACKAGES = ["containerd", "runc", "containernetworking-plugins", "buildah", "catatonit", "conntrack", "ipset"]


def _run(cache: Path, *args: str, python: str = "/nonexistent/python") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MESHPERF_CACHE": str(cache), "MESHPERF_PYTHON": python}
    return subprocess.run(["sh", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60)


def _layout(cache: Path) -> tuple[Path, Path]:
    """The bin folder and the plugin file, as the script names them when nothing is built."""
    line = _run(cache, "--check").stdout.strip()
    found = re.search(r"missing in (\S+): .* plugin:(resource-kubernetes-v\S+);", line)
    assert found, line
    bindir = Path(found.group(1))
    return bindir, bindir.parent / "pulumi-home" / "plugins" / found.group(2) / "pulumi-resource-kubernetes"


def _executable(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)


def _complete(cache: Path, names: list[str] = BINARIES, stamp: str = "complete") -> Path:
    bindir, plugin = _layout(cache)
    for name in names:
        _executable(bindir / name)
    _executable(plugin)
    (bindir.parent / stamp).write_text("stamp\n")
    return bindir


def _apt_missing() -> list[str]:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${Status}\n", *APT_PACKAGES], capture_output=True, text=True, timeout=30
    )
    ok = {line.split()[0] for line in out.stdout.splitlines() if line.endswith("install ok installed")}
    return [p for p in APT_PACKAGES if p not in ok]


def test_empty_cache_names_every_missing_tool_in_one_line(tmp_path: Path) -> None:
    result = _run(tmp_path, "--check")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    for name in BINARIES:
        assert re.search(rf"\s{re.escape(name)}(\s|;)", lines[0]), (name, lines[0])
    assert "sh scripts/live-tools.sh" in lines[0]
    assert str(tmp_path) in lines[0]


def test_one_missing_binary_is_named_alone(tmp_path: Path) -> None:
    bindir = _complete(tmp_path)
    (bindir / "kubelet").unlink()
    result = _run(tmp_path, "--check")
    assert result.returncode == 1
    assert result.stdout.count("\n") == 1
    missing = result.stdout.split(":", 2)[-1].split(";")[0].split()
    assert missing == ["kubelet"], result.stdout


def test_a_build_without_its_stamp_is_not_complete(tmp_path: Path) -> None:
    bindir = _complete(tmp_path)
    (bindir.parent / "complete").unlink()
    result = _run(tmp_path, "--check")
    assert result.returncode == 1
    assert "not finished" in result.stdout and "sh scripts/live-tools.sh" in result.stdout


def test_complete_cache_prints_the_bin_folder_and_the_env(tmp_path: Path) -> None:
    if missing := _apt_missing():
        pytest.skip(f"Debian packages not installed here: {missing}")
    bindir = _complete(tmp_path)
    check = _run(tmp_path, "--check")
    assert (check.returncode, check.stdout) == (0, f"{bindir}\n"), check
    env = _run(tmp_path, "--env")
    assert env.returncode == 0, env
    assert f'export PATH="{bindir}:' in env.stdout
    assert f'export PULUMI_HOME="{bindir.parent / "pulumi-home"}"' in env.stdout
    assert "export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true" in env.stdout
    assert "export PULUMI_SKIP_UPDATE_CHECK=true" in env.stdout
    assert 'export PULUMI_PYTHON_CMD="/nonexistent/python"' in env.stdout


def test_a_python_asking_for_another_provider_is_named(tmp_path: Path) -> None:
    """A real Python whose pulumi-kubernetes is a package on disk asking for another version."""
    if missing := _apt_missing():
        pytest.skip(f"Debian packages not installed here: {missing}")
    _complete(tmp_path)
    pkg = tmp_path / "site" / "pulumi_kubernetes"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "pulumi-plugin.json").write_text('{"resource": true, "name": "kubernetes", "version": "9.9.9"}')
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\nPYTHONPATH="{pkg.parent}" exec python3 "$@"\n')
    python.chmod(0o755)
    result = _run(tmp_path, "--check", python=str(python))
    assert result.returncode == 1
    assert "asks for the kubernetes plugin 9.9.9" in result.stdout and "pin pulumi-kubernetes==" in result.stdout


def test_unknown_argument_is_one_clear_line(tmp_path: Path) -> None:
    result = _run(tmp_path, "--chek")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "live-tools: error: unknown argument '--chek'"
        " (use no argument, --check or --env, each optionally with --pulumi-only)"
    )
    both = _run(tmp_path, "--check", "--env")
    assert (both.returncode, both.stderr.strip()) == (
        1,
        "live-tools: error: '--check' and '--env' given: use one of them",
    )


def test_pulumi_only_on_an_empty_cache_names_only_the_pulumi_side(tmp_path: Path) -> None:
    result = _run(tmp_path, "--pulumi-only", "--check")
    assert result.returncode == 1
    line = result.stdout.strip()
    assert result.stdout.count("\n") == 1, result.stdout
    missing = line.split(":", 2)[-1].split(";")[0].split()
    assert missing == [*PULUMI_BINARIES, "plugin:resource-kubernetes-v4.25.0"], line
    assert "build them: sh scripts/live-tools.sh --pulumi-only" in line


def test_pulumi_only_is_complete_with_its_own_stamp_and_no_kubernetes(tmp_path: Path) -> None:
    """The Pulumi side with its stamp, no Kubernetes, no Debian packages asked: complete for
    --pulumi-only (in either order), not for the full check; its PATH has no CNI folder."""
    bindir = _complete(tmp_path, PULUMI_BINARIES, "complete-pulumi")
    for args in (["--pulumi-only", "--check"], ["--check", "--pulumi-only"]):
        check = _run(tmp_path, *args)
        assert (check.returncode, check.stdout) == (0, f"{bindir}\n"), check
    env = _run(tmp_path, "--pulumi-only", "--env")
    assert env.returncode == 0, env
    assert env.stdout.splitlines()[0] == f'export PATH="{bindir}:$PATH"'
    assert "export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true" in env.stdout
    assert f'export PULUMI_HOME="{bindir.parent / "pulumi-home"}"' in env.stdout
    full = _run(tmp_path, "--check")
    assert full.returncode == 1 and " etcd " in full.stdout and "pulumi " not in full.stdout.split(":", 2)[-1]


def test_pulumi_only_without_a_stamp_is_not_complete(tmp_path: Path) -> None:
    bindir = _complete(tmp_path, PULUMI_BINARIES, "complete-pulumi")
    (bindir.parent / "complete-pulumi").unlink()
    result = _run(tmp_path, "--pulumi-only", "--check")
    assert result.returncode == 1
    assert "not finished" in result.stdout and "sh scripts/live-tools.sh --pulumi-only" in result.stdout


def test_a_full_build_satisfies_pulumi_only(tmp_path: Path) -> None:
    """A cache a full build left (its stamp `complete` only, as before --pulumi-only existed)."""
    bindir = _complete(tmp_path)
    assert not (bindir.parent / "complete-pulumi").exists()
    check = _run(tmp_path, "--pulumi-only", "--check")
    assert (check.returncode, check.stdout) == (0, f"{bindir}\n"), check


def test_the_script_downloads_no_release() -> None:
    """Tools come from Go modules and Debian packages only: no curl/wget, no release URL."""
    text = SCRIPT.read_text()
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    for word in ("curl", "wget", "releases/download", "get.pulumi.com", "dl.k8s.io", "https://", "http://"):
        assert word not in code, word
