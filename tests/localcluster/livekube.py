"""Helpers of the live cluster tests: a started cluster, kubectl against it, pods of the tool image."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from localcluster import down, tools
from localcluster.config import ClusterSpec, all_from_stack, from_stack
from localcluster.shell import run
from localcluster.up import up
from spec.image import tool_image

IMAGE = tool_image()


@dataclass(frozen=True)
class Live:
    spec: ClusterSpec
    bin_dir: Path
    namespace: str

    def kubectl(self, *args: str, input_text: str | None = None, timeout_s: float = 60) -> str:
        argv = [
            str(self.bin_dir / "kubectl"),
            "--kubeconfig",
            str(self.spec.kubeconfig),
            "--context",
            self.spec.context,
        ]
        return run([*argv, *args], input_text=input_text, timeout_s=timeout_s)

    def apply(self, *objects: dict[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", input_text=yaml.safe_dump_all(objects))

    def pod(self, name: str, command: list[str], node: str = "worker1", **spec: Any) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": self.namespace, "labels": {"app": name}},
            "spec": {
                "nodeSelector": {"node": node},
                "restartPolicy": "Never",
                "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "main", "image": IMAGE, "imagePullPolicy": "Never", "command": command}],
                **spec,
            },
        }

    def wait_phase(self, name: str, phase: str, timeout_s: int = 90) -> None:
        try:
            self.kubectl(
                "-n",
                self.namespace,
                "wait",
                f"--for=jsonpath={{.status.phase}}={phase}",
                f"pod/{name}",
                f"--timeout={timeout_s}s",
                timeout_s=timeout_s + 10,
            )
        except Exception:
            print(self.kubectl("-n", self.namespace, "describe", "pod", name))
            raise

    def server(self) -> tuple[str, str]:
        """An iperf3 server pod on worker1 and its ClusterIP Service: (pod IP, cluster IP)."""
        self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace}})
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "server-vip", "namespace": self.namespace},
            "spec": {"selector": {"app": "server"}, "ports": [{"port": 5201, "targetPort": 5201}]},
        }
        self.apply(self.pod("server", ["iperf3", "-s", "-p", "5201"]), service)
        self.wait_phase("server", "Running")
        pod = json.loads(self.kubectl("-n", self.namespace, "get", "pod", "server", "-o", "json"))
        vip = self.kubectl("-n", self.namespace, "get", "service", "server-vip", "-o", "jsonpath={.spec.clusterIP}")
        return pod["status"]["podIP"], vip

    def iperf3_bits(self, name: str, target: str, node: str = "worker1") -> float:
        """One 2 s iperf3 client pod on `node` against `target`: the receiver's bits/s."""
        self.apply(self.pod(name, ["iperf3", "-c", target, "-t", "2", "-J"], node=node))
        self.wait_phase(name, "Succeeded")
        report = json.loads(self.kubectl("-n", self.namespace, "logs", name))
        return float(report["end"]["sum_received"]["bits_per_second"])


def bin_or_skip() -> Path:
    """The built tools' folder; the test skips (one line) when scripts/live-tools.sh --check fails."""
    if os.geteuid() != 0:
        pytest.skip("the local cluster needs root")
    try:
        return tools.bin_dir()
    except tools.ToolsMissingError as exc:
        pytest.skip(str(exc))


def spec_for_test(stack: str, name: str) -> ClusterSpec:
    """The stack's cluster under a test's own name (its own run folder, context and kubeconfig)."""
    live = from_stack(stack)
    return live.renamed({live.name: name})


def mesh_specs_for_test(stack: str, names: dict[str, str]) -> list[ClusterSpec]:
    """Every local cluster of a mesh stack under a test's own names (`names`: stack name -> test name)."""
    return [spec.renamed(names) for spec in all_from_stack(stack)]


def started(stack: str, name: str) -> Iterator[Live]:
    """A module fixture's body: the cluster up (its start time printed), then down whatever happened."""
    bin_dir = bin_or_skip()
    spec = spec_for_test(stack, name)
    try:
        took = up(spec, bin_dir=bin_dir)
        print(f"cluster start ({len(spec.nodes)} node(s)): {took:.0f} s")
        yield Live(spec, bin_dir, name)
    finally:
        down.teardown(spec.run_dir, spec.name)
