"""A bad stack stops before any resource is registered, with one line naming the key."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest
from conftest import ROOT, Run, run_program
from pulumi_cli import PulumiCli

from components.config import settings_from_config
from components.stackconfig import check_key_names
from spec.load import StackError


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("pulumi config set --path meshperf:workloads.w1.cluster nope", "workloads.w1.cluster"),
        ("pulumi config set --path meshperf:suites.netperf.paths[5] 6", "path 6 needs workload 'w4'"),
        ("pulumi config set meshperf:colour blue", "meshperf:colour: unknown key"),
        ("pulumi config set --path meshperf:kubernetes.image.nmae x", "meshperf:kubernetes.image.nmae: unknown key"),
        (
            "pulumi config set --path meshperf:kubernetes.clusters.other.kind kind",
            "meshperf:kubernetes.clusters.other: no cluster",
        ),
        ("pulumi config set meshperf:run_id 'two words'", "meshperf:run_id"),
    ],
)
def test_a_bad_stack_registers_nothing(command: str, expected: str, tmp_path: Path) -> None:
    cli = PulumiCli.from_files(ROOT, "kind-local")
    cli.run(command)
    stack_file = cli.write(tmp_path)
    run = Run()
    with pytest.raises(pulumi.RunError) as caught:
        run_program("kind-local", cli.program_config(), run, project_dir=tmp_path)
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message
    if "unknown key" in expected and "colour" in expected:
        assert str(stack_file) in message  # names the file the CLI wrote the key into
    assert run.resources == []


def test_settings_refuse_what_cannot_work() -> None:
    base = {
        "clusters": [
            {"name": "a", "kubeconfig_context": "ctx-a", "nodes": [{"name": "w", "labels": {"node": "worker1"}}]}
        ],
        "workloads": {
            "w1": {"cluster": "a", "node_selector": {"node": "worker1"}},
            "w2": {"cluster": "a", "node_selector": {"node": "worker1"}},
        },
        "suites": {"netperf": {"paths": [1, 2]}},
    }
    settings = settings_from_config(base)
    assert not settings.is_kind("a") and not settings.builds_image()
    assert settings.pull_policy() == "IfNotPresent"
    with pytest.raises(StackError, match=r"image.build: an image can only be loaded into kind clusters"):
        settings_from_config({**base, "kubernetes": {"image": {"build": True}}})
    with pytest.raises(StackError, match=r"clusters.a: host, node_image"):
        settings_from_config({**base, "kubernetes": {"clusters": {"a": {"node_image": "kindest/node:v1.31.0"}}}})
    kind = {**base, "clusters": [{**base["clusters"][0], "kubeconfig_context": None, "kubernetes_version": "1.20"}]}
    with pytest.raises(StackError, match=r"kubernetes_version: kind v0.24.0 has no node image for Kubernetes 1.20"):
        settings_from_config(kind)


def test_a_key_given_twice_in_the_stack_file_is_refused_naming_its_line(tmp_path: Path) -> None:
    """The program's key check reads the stack file as the lab does: the second `meshperf:run_id`
    is an error naming the file and line, not a value that silently wins."""
    (tmp_path / "Pulumi.yaml").write_text("name: meshperf\n")
    stack = tmp_path / "Pulumi.twice.yaml"
    stack.write_text("config:\n  meshperf:run_id: one\n  meshperf:run_id: two\n")
    with pytest.raises(StackError) as caught:
        check_key_names("twice", tmp_path)
    assert str(caught.value).startswith(f"{stack}:3:")
    assert "'meshperf:run_id' is given twice (first on line 2)" in str(caught.value)
